/* The GPT-2 graph on the GPU: token upload, forward through the layers, the
 * fused classifier and the backward pass, in the compute type T.  The same
 * function as the CPU reference (gpu/cpu/), layer by layer:
 *   x = wte[tok] + wpe;  per layer: x += attproj(attn(ln1(x))); x += fcproj(gelu(fc(ln2(x))))
 *   logits = lnf(x) @ wte^T;  loss = mean cross-entropy over the true vocabulary.
 * Every residual add is fused into the LayerNorm that follows it.  Nothing
 * here synchronises with the host. */
#include "gpu/cuda/cuda_model.h"

namespace {

template <typename T> struct graph {
    cuda_model *cm;
    const gpt2_config *c;
    const gpt2_layout *lay;
    size_t Nmax, TTmax;   /* allocated rows, and att elements per layer (cuda_acts_plan) */

    explicit graph(cuda_model *m)
        : cm(m), c(&m->base.cfg), lay(&m->base.layout), Nmax((size_t)m->base.B * m->base.T),
          TTmax(m->a.att_layer) {}

    /* Compute-type parameter / fp32 gradient of tensor t, layer l. */
    const T *p(gpt2_tensor t, int l = 0) const
    {
        size_t per = t <= T_WPE || t >= T_LNFW ? 0 : lay->size[t] / c->n_layer;
        return (const T *)cm->params + lay->offset[t] + per * l;
    }
    float *g(gpt2_tensor t, int l = 0) const
    {
        size_t per = t <= T_WPE || t >= T_LNFW ? 0 : lay->size[t] / c->n_layer;
        return cm->grads + lay->offset[t] + per * l;
    }
    T *act(void *base, int l, size_t per_layer) const { return (T *)base + (size_t)l * per_layer; }

    void run(int B, int Tn, bool targets, bool backward, float dloss)
    {
        cudaStream_t s = cm->stream;
        cuda_acts &a = cm->a;
        matmul_ctx *mm = &cm->mm;
        const int L = c->n_layer, C = c->d_model, NH = c->n_head, V = c->vocab_size, Vp = c->padded_vocab;
        const int N = B * Tn;
        const size_t NC = Nmax * C;
        const int *inputs = a.tok, *tg = a.tok + N;

        /* ---- forward ---- */
        encoder_forward((T *)a.encoded, inputs, p(T_WTE), p(T_WPE), B, Tn, C, s);
        layernorm_forward(act(a.ln1, 0, NC), a.ln1_mean, a.ln1_rstd, (const T *)a.encoded, p(T_LN1W, 0),
                          p(T_LN1B, 0), N, C, s);
        for (int l = 0; l < L; l++) {
            const T *residual = l == 0 ? (const T *)a.encoded : act(a.residual3, l - 1, NC);
            T *ln1 = act(a.ln1, l, NC), *qkv = act(a.qkv, l, 3 * NC), *atty = act(a.atty, l, NC);
            T *att = act(a.att, l, TTmax), *res2 = act(a.residual2, l, NC), *ln2 = act(a.ln2, l, NC);
            T *fch = act(a.fch, l, 4 * NC), *fchg = act(a.fch_gelu, l, 4 * NC), *res3 = act(a.residual3, l, NC);
            matmul_forward(mm, qkv, (T *)nullptr, ln1, p(T_QKVW, l), p(T_QKVB, l), N, C, 3 * C, s);
            attention_forward(mm, atty, att, (T *)a.qkvr, (T *)a.vaccum, (T *)a.scores, qkv, B, Tn, C, NH, s);
            matmul_forward(mm, (T *)a.proj, (T *)nullptr, atty, p(T_ATTPROJW, l), p(T_ATTPROJB, l), N, C, C, s);
            fused_residual_layernorm_forward(res2, ln2, a.ln2_mean + l * Nmax, a.ln2_rstd + l * Nmax, residual,
                                             (const T *)a.proj, p(T_LN2W, l), p(T_LN2B, l), N, C, s);
            matmul_forward(mm, fchg, fch, ln2, p(T_FCW, l), p(T_FCB, l), N, C, 4 * C, s);
            matmul_forward(mm, (T *)a.proj, (T *)nullptr, fchg, p(T_FCPROJW, l), p(T_FCPROJB, l), N, 4 * C, C, s);
            if (l + 1 < L)
                fused_residual_layernorm_forward(res3, act(a.ln1, l + 1, NC), a.ln1_mean + (l + 1) * Nmax,
                                                 a.ln1_rstd + (l + 1) * Nmax, res2, (const T *)a.proj,
                                                 p(T_LN1W, l + 1), p(T_LN1B, l + 1), N, C, s);
            else
                fused_residual_layernorm_forward(res3, (T *)a.lnf, a.lnf_mean, a.lnf_rstd, res2, (const T *)a.proj,
                                                 p(T_LNFW), p(T_LNFB), N, C, s);
        }
        matmul_forward(mm, (T *)a.logits, (T *)nullptr, (const T *)a.lnf, p(T_WTE), (const T *)nullptr, N, C, Vp, s);
        if (!targets) return;
        classifier_forward_backward(a.losses, (T *)a.logits, tg, N, V, Vp, backward, dloss, s);
        mean_reduce(a.scalars, a.losses, N, s);
        if (!backward) return;

        /* ---- backward (weight gradients accumulate) ---- */
        T *dres = (T *)a.dresidual, *dbtc = (T *)a.dbtc, *dbt4c = (T *)a.dbt4c, *dqkv = (T *)a.dqkv;
        matmul_backward(mm, dbtc, g(T_WTE), (float *)nullptr, a.colsum, (const T *)a.logits, (const T *)a.lnf,
                        p(T_WTE), N, C, Vp, s);
        cudaCheck(cudaMemsetAsync(dres, 0, (size_t)N * C * sizeof(T), s));
        layernorm_backward(dres, g(T_LNFW), g(T_LNFB), a.colsum, dbtc, act(a.residual3, L - 1, NC), p(T_LNFW),
                           a.lnf_mean, a.lnf_rstd, N, C, s);
        for (int l = L - 1; l >= 0; l--) {
            const T *residual = l == 0 ? (const T *)a.encoded : act(a.residual3, l - 1, NC);
            matmul_backward_gelu(mm, dbt4c, g(T_FCPROJW, l), g(T_FCPROJB, l), a.colsum, dres,
                                 act(a.fch_gelu, l, 4 * NC), p(T_FCPROJW, l), act(a.fch, l, 4 * NC), N, 4 * C, C, s);
            matmul_backward(mm, dbtc, g(T_FCW, l), g(T_FCB, l), a.colsum, dbt4c, act(a.ln2, l, NC), p(T_FCW, l), N,
                            C, 4 * C, s);
            layernorm_backward(dres, g(T_LN2W, l), g(T_LN2B, l), a.colsum, dbtc, act(a.residual2, l, NC),
                               p(T_LN2W, l), a.ln2_mean + l * Nmax, a.ln2_rstd + l * Nmax, N, C, s);
            matmul_backward(mm, dbtc, g(T_ATTPROJW, l), g(T_ATTPROJB, l), a.colsum, dres, act(a.atty, l, NC),
                            p(T_ATTPROJW, l), N, C, C, s);
            attention_backward(mm, dqkv, (T *)a.dqkvr, (T *)a.vaccum, (T *)a.scores, (T *)a.qkvr, dbtc,
                               act(a.atty, l, NC), act(a.qkv, l, 3 * NC), act(a.att, l, TTmax), B, Tn, C, NH, s);
            matmul_backward(mm, dbtc, g(T_QKVW, l), g(T_QKVB, l), a.colsum, dqkv, act(a.ln1, l, NC), p(T_QKVW, l),
                            N, C, 3 * C, s);
            layernorm_backward(dres, g(T_LN1W, l), g(T_LN1B, l), a.colsum, dbtc, residual, p(T_LN1W, l),
                               a.ln1_mean + l * Nmax, a.ln1_rstd + l * Nmax, N, C, s);
        }
        const int *uniq = a.tok + 2 * N, *offsets = a.tok + 3 * N, *positions = a.tok + 4 * N + 1;
        encoder_backward(g(T_WTE), g(T_WPE), (const T *)dres, uniq, offsets, positions, cm->n_uniq, B, Tn, C, s);
    }
};

} // namespace

bool cuda_model_upload_tokens(cuda_model *cm, const uint32_t *tokens, int B, int Tn, bool targets)
{
    const int N = B * Tn, V = cm->base.cfg.vocab_size;
    int *h = cm->h_tok;
    for (int b = 0; b < B; b++)
        for (int t = 0; t <= Tn; t++) {
            if (t == Tn && !targets) break;   /* logits_at passes only Tn tokens */
            uint32_t v = tokens[(size_t)b * (Tn + 1) + t];
            if (v >= (uint32_t)V) {   /* same message and NaN result as the CPU backend */
                log_error("model: token id %u at batch row %d position %d is outside the vocabulary (%d)", v, b, t, V);
                return false;
            }
            if (t < Tn) h[b * Tn + t] = (int)v;
            if (t > 0) h[N + b * Tn + t - 1] = (int)v;
        }
    size_t n = targets ? 2 * (size_t)N : (size_t)N;
    if (targets) {
        /* Buckets for the deterministic wte gradient (encoder.cu). */
        encoder_buckets_build(h, N, V, cm->h_count, h + 2 * N, h + 3 * N, h + 4 * N + 1, &cm->n_uniq);
        n = 5 * (size_t)N + 1;
    }
    cudaCheck(cudaMemcpyAsync(cm->a.tok, h, n * sizeof(int), cudaMemcpyHostToDevice, cm->stream));
    return true;
}

void cuda_model_run(cuda_model *cm, int B, int Tn, bool targets, bool backward, float dloss)
{
    if (cm->bf16) graph<bf16>(cm).run(B, Tn, targets, backward, dloss);
    else graph<float>(cm).run(B, Tn, targets, backward, dloss);
}
