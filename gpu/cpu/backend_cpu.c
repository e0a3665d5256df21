/* The CPU reference backend: fp32 GPT-2 training with OpenBLAS (single
 * threaded, partitioned by us) and OpenMP.  create allocates parameters,
 * gradients, AdamW moments, every activation and all scratch once, so a
 * training step never allocates.  The layer kernels are in the other gpu/cpu files;
 * this file wires them into the forward and backward passes (llm.c order). */
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <cblas.h>
#include "gpu/model.h"
#include "gpu/cpu/kernels.h"

/* Rows of logits per thread at a time (chunk x V floats each): big enough
 * that re-packing wte for every chunk's sgemm stays cheap (measured: 256
 * rows beat 64 by ~10% of the step on the small CPU preset). */
#define CE_CHUNK 256

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *lse, *res2;
    float *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *res3;
} layer_acts;

typedef struct {
    photon_model base;          /* first: the public handle */
    int nthr, ce_chunk;
    float *params, *grads, *m1, *m2;
    int64_t step;
    float *encoded, *lnf, *lnf_mean, *lnf_rstd, *losses;
    layer_acts *layer;
    float *dres, *dtmp, *dbig, *datty;   /* backward scratch */
    float *att_scratch, *ce_scratch;
    double *partials;
    void **allocs;                       /* everything create allocated */
    int n_allocs;
} cpu_model;

static float *cm_alloc(cpu_model *m, size_t nfloats)
{
    size_t bytes = (nfloats ? nfloats : 1) * sizeof(float);
    float *p = xmalloc_aligned(bytes);
    memset(p, 0, bytes);   /* touch the pages now, not in the first step */
    m->allocs[m->n_allocs++] = p;
    return p;
}

/* pointer to layer l's slice of tensor t in a flat vector */
static float *tp(const cpu_model *m, float *base, gpt2_tensor t, int l)
{
    const gpt2_layout *L = &m->base.layout;
    return base + L->offset[t] + (size_t)l * (L->size[t] / (size_t)m->base.cfg.n_layer);
}

static void cpu_destroy(photon_model *pm)
{
    cpu_model *m = (cpu_model *)pm;
    for (int i = 0; i < m->n_allocs; i++) free(m->allocs[i]);
    free(m->allocs);
    free(m->layer);
    free(m);
}

static photon_model *cpu_create(const gpt2_config *c, int B, int T, const backend_opts *o, photon_err *err)
{
    if (gpt2_config_check(c, err) != 0) return NULL;
    if (B < 1 || T < 1 || T > c->seq_len) {
        err_set(err, "model: batch %d x sequence %d is not valid for seq_len %d", B, T, c->seq_len);
        return NULL;
    }
    cpu_model *m = xcalloc(1, sizeof *m);
    m->base.ops = backend_cpu_ops();
    m->base.cfg = *c;
    gpt2_layout_init(&m->base.layout, c);
    m->base.B = B;
    m->base.T = T;
    m->nthr = cpu_threads(o ? o->threads : 0);
    /* our OpenMP partitions call sgemm from several threads: keep BLAS serial */
    cpu_blas_setup();
    openblas_set_num_threads(1);

    int L = c->n_layer, NH = c->n_head;
    size_t C = (size_t)c->d_model, N = (size_t)B * T, P = m->base.layout.total;
    m->allocs = xcalloc((size_t)L * 13 + 32, sizeof(void *));
    m->layer = xcalloc((size_t)L, sizeof(layer_acts));
    m->params = cm_alloc(m, P);
    m->grads = cm_alloc(m, P);
    m->m1 = cm_alloc(m, P);
    m->m2 = cm_alloc(m, P);
    m->encoded = cm_alloc(m, N * C);
    for (int l = 0; l < L; l++) {
        layer_acts *a = &m->layer[l];
        a->ln1 = cm_alloc(m, N * C);
        a->ln1_mean = cm_alloc(m, N);
        a->ln1_rstd = cm_alloc(m, N);
        a->qkv = cm_alloc(m, N * 3 * C);
        a->atty = cm_alloc(m, N * C);
        a->lse = cm_alloc(m, (size_t)B * NH * T);
        a->res2 = cm_alloc(m, N * C);
        a->ln2 = cm_alloc(m, N * C);
        a->ln2_mean = cm_alloc(m, N);
        a->ln2_rstd = cm_alloc(m, N);
        a->fch = cm_alloc(m, N * 4 * C);
        a->fch_gelu = cm_alloc(m, N * 4 * C);
        a->res3 = cm_alloc(m, N * C);
    }
    m->lnf = cm_alloc(m, N * C);
    m->lnf_mean = cm_alloc(m, N);
    m->lnf_rstd = cm_alloc(m, N);
    m->losses = cm_alloc(m, N);
    m->dres = cm_alloc(m, N * C);
    m->dtmp = cm_alloc(m, N * C);
    m->dbig = cm_alloc(m, N * 4 * C);
    m->datty = cm_alloc(m, N * C);
    m->att_scratch = cm_alloc(m, attention_scratch_floats(T) * (size_t)m->nthr);
    m->ce_chunk = (int)((N + (size_t)m->nthr - 1) / (size_t)m->nthr);
    if (m->ce_chunk > CE_CHUNK) m->ce_chunk = CE_CHUNK;
    m->ce_scratch = cm_alloc(m, (size_t)m->ce_chunk * c->vocab_size * m->nthr);
    m->partials = (double *)cm_alloc(m, 2 * optim_partials(P));
    return &m->base;
}

static void cpu_set_params(photon_model *pm, const float *host)
{
    cpu_model *m = (cpu_model *)pm;
    memcpy(m->params, host, pm->layout.total * sizeof(float));
}

static void cpu_get_params(photon_model *pm, float *host)
{
    cpu_model *m = (cpu_model *)pm;
    memcpy(host, m->params, pm->layout.total * sizeof(float));
}

static void cpu_get_grads(photon_model *pm, float *host)
{
    cpu_model *m = (cpu_model *)pm;
    memcpy(host, m->grads, pm->layout.total * sizeof(float));
}

/* 0 if every id in tokens[b*stride + t], t < n, is inside the vocabulary */
static int check_tokens(const cpu_model *m, const uint32_t *tok, int B, int stride, int n)
{
    int V = m->base.cfg.vocab_size;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < n; t++)
            if (tok[(size_t)b * stride + t] >= (uint32_t)V) {
                log_error("model: token id %u at batch row %d position %d is outside the vocabulary (%d)",
                          tok[(size_t)b * stride + t], b, t, V);
                return -1;
            }
    return 0;
}

/* Forward through the final LayerNorm for (B, T) inputs tok[b*stride + t]. */
static void forward_body(cpu_model *m, const uint32_t *tok, int stride, int B, int T)
{
    const gpt2_config *c = &m->base.cfg;
    int L = c->n_layer, NH = c->n_head, C = c->d_model, N = B * T, nt = m->nthr;
    float *p = m->params;
    encoder_forward(m->encoded, tok, stride, tp(m, p, T_WTE, 0), tp(m, p, T_WPE, 0), B, T, C, nt);
    for (int l = 0; l < L; l++) {
        layer_acts *a = &m->layer[l];
        const float *res = l == 0 ? m->encoded : m->layer[l - 1].res3;
        layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, res, tp(m, p, T_LN1W, l), tp(m, p, T_LN1B, l), N, C, nt);
        matmul_forward(a->qkv, a->ln1, tp(m, p, T_QKVW, l), tp(m, p, T_QKVB, l), N, C, 3 * C, 0, nt);
        attention_forward(a->atty, a->lse, a->qkv, B, T, C, NH, m->att_scratch, nt);
        memcpy(a->res2, res, (size_t)N * C * sizeof(float));
        matmul_forward(a->res2, a->atty, tp(m, p, T_ATTPROJW, l), tp(m, p, T_ATTPROJB, l), N, C, C, 1, nt);
        layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, tp(m, p, T_LN2W, l), tp(m, p, T_LN2B, l), N, C, nt);
        matmul_forward(a->fch, a->ln2, tp(m, p, T_FCW, l), tp(m, p, T_FCB, l), N, C, 4 * C, 0, nt);
        gelu_forward(a->fch_gelu, a->fch, (size_t)N * 4 * C, nt);
        memcpy(a->res3, a->res2, (size_t)N * C * sizeof(float));
        matmul_forward(a->res3, a->fch_gelu, tp(m, p, T_FCPROJW, l), tp(m, p, T_FCPROJB, l), N, 4 * C, C, 1, nt);
    }
    layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, m->layer[L - 1].res3,
                      tp(m, p, T_LNFW, 0), tp(m, p, T_LNFB, 0), N, C, nt);
}

static void backward_body(cpu_model *m, const uint32_t *tok, int stride, int B, int T)
{
    const gpt2_config *c = &m->base.cfg;
    int L = c->n_layer, NH = c->n_head, C = c->d_model, N = B * T, nt = m->nthr;
    float *p = m->params, *g = m->grads;
    /* m->dtmp holds d lnf from the LM head */
    memset(m->dres, 0, (size_t)N * C * sizeof(float));
    layernorm_backward(m->dres, tp(m, g, T_LNFW, 0), tp(m, g, T_LNFB, 0), m->dtmp, m->layer[L - 1].res3,
                       tp(m, p, T_LNFW, 0), m->lnf_mean, m->lnf_rstd, N, C, nt);
    for (int l = L - 1; l >= 0; l--) {
        layer_acts *a = &m->layer[l];
        const float *res = l == 0 ? m->encoded : m->layer[l - 1].res3;
        /* res3 = res2 + fcproj(gelu(fc(ln2(res2)))) */
        matmul_backward(m->dbig, tp(m, g, T_FCPROJW, l), tp(m, g, T_FCPROJB, l), m->dres, a->fch_gelu,
                        tp(m, p, T_FCPROJW, l), N, 4 * C, C, nt);
        gelu_backward(m->dbig, a->fch, m->dbig, (size_t)N * 4 * C, nt);
        matmul_backward(m->dtmp, tp(m, g, T_FCW, l), tp(m, g, T_FCB, l), m->dbig, a->ln2,
                        tp(m, p, T_FCW, l), N, C, 4 * C, nt);
        layernorm_backward(m->dres, tp(m, g, T_LN2W, l), tp(m, g, T_LN2B, l), m->dtmp, a->res2,
                           tp(m, p, T_LN2W, l), a->ln2_mean, a->ln2_rstd, N, C, nt);
        /* res2 = res + attproj(attention(qkv(ln1(res)))) */
        matmul_backward(m->datty, tp(m, g, T_ATTPROJW, l), tp(m, g, T_ATTPROJB, l), m->dres, a->atty,
                        tp(m, p, T_ATTPROJW, l), N, C, C, nt);
        attention_backward(m->dbig, m->datty, a->atty, a->lse, a->qkv, B, T, C, NH, m->att_scratch, nt);
        matmul_backward(m->dtmp, tp(m, g, T_QKVW, l), tp(m, g, T_QKVB, l), m->dbig, a->ln1,
                        tp(m, p, T_QKVW, l), N, C, 3 * C, nt);
        layernorm_backward(m->dres, tp(m, g, T_LN1W, l), tp(m, g, T_LN1B, l), m->dtmp, res,
                           tp(m, p, T_LN1W, l), a->ln1_mean, a->ln1_rstd, N, C, nt);
    }
    encoder_backward(tp(m, g, T_WTE, 0), tp(m, g, T_WPE, 0), m->dres, tok, stride, B, T, C, nt);
}

static float cpu_forward_backward(photon_model *pm, const uint32_t *tokens, float grad_scale)
{
    cpu_model *m = (cpu_model *)pm;
    int B = pm->B, T = pm->T, C = pm->cfg.d_model;
    if (check_tokens(m, tokens, B, T + 1, T + 1) != 0) return NAN;
    forward_body(m, tokens, T + 1, B, T);
    float loss = lmhead_crossentropy(m->losses, m->dtmp, tp(m, m->grads, T_WTE, 0), m->lnf,
                                     tp(m, m->params, T_WTE, 0), tokens + 1, T + 1, B, T, C,
                                     pm->cfg.vocab_size, grad_scale, m->ce_scratch, m->ce_chunk, m->nthr);
    backward_body(m, tokens, T + 1, B, T);
    return loss;
}

static float cpu_forward_loss(photon_model *pm, const uint32_t *tokens)
{
    cpu_model *m = (cpu_model *)pm;
    int B = pm->B, T = pm->T, C = pm->cfg.d_model;
    if (check_tokens(m, tokens, B, T + 1, T + 1) != 0) return NAN;
    forward_body(m, tokens, T + 1, B, T);
    return lmhead_crossentropy(m->losses, NULL, NULL, m->lnf, tp(m, m->params, T_WTE, 0),
                               tokens + 1, T + 1, B, T, C, pm->cfg.vocab_size, 0.0f,
                               m->ce_scratch, m->ce_chunk, m->nthr);
}

static void cpu_forward_token_losses(photon_model *pm, const uint32_t *tokens, float *losses)
{
    cpu_model *m = (cpu_model *)pm;
    size_t N = (size_t)pm->B * (size_t)pm->T;
    if (check_tokens(m, tokens, pm->B, pm->T + 1, pm->T + 1) != 0) {
        for (size_t i = 0; i < N; i++) losses[i] = NAN;
        return;
    }
    (void)cpu_forward_loss(pm, tokens);   /* fills m->losses */
    memcpy(losses, m->losses, N * sizeof(float));
}

static void cpu_logits_at(photon_model *pm, const uint32_t *tokens, int pos, float *out)
{
    cpu_model *m = (cpu_model *)pm;
    int C = pm->cfg.d_model, V = pm->cfg.vocab_size, Vp = pm->cfg.padded_vocab;
    if (pos < 0 || pos >= pm->T || check_tokens(m, tokens, 1, pos + 1, pos + 1) != 0) {
        if (pos < 0 || pos >= pm->T)
            log_error("model: logits_at position %d is outside the model's sequence (%d)", pos, pm->T);
        for (int j = 0; j < Vp; j++) out[j] = NAN;
        return;
    }
    forward_body(m, tokens, pos + 1, 1, pos + 1);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, V, C, 1.0f, tp(m, m->params, T_WTE, 0), C,
                m->lnf + (size_t)pos * C, 1, 0.0f, out, 1);
    for (int j = V; j < Vp; j++) out[j] = -INFINITY;
}

static void cpu_zero_grad(photon_model *pm)
{
    cpu_model *m = (cpu_model *)pm;
    memset(m->grads, 0, pm->layout.total * sizeof(float));
}

static float cpu_clip_grad(photon_model *pm, float max_norm)
{
    cpu_model *m = (cpu_model *)pm;
    size_t n = pm->layout.total;
    float norm = (float)sqrt(sumsq_fixed(m->grads, n, m->partials, m->nthr));
    /* torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6) */
    if (max_norm > 0.0f && norm > max_norm)
        scale_inplace(m->grads, n, (float)((double)max_norm / ((double)norm + 1e-6)), m->nthr);
    return norm;
}

static void cpu_adamw_step(photon_model *pm, const adamw_params *ap)
{
    cpu_model *m = (cpu_model *)pm;
    m->step++;
    float bc1 = (float)(1.0 - pow(ap->beta1, (double)m->step));
    float bc2 = (float)(1.0 - pow(ap->beta2, (double)m->step));
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        size_t off = pm->layout.offset[t], n = pm->layout.size[t];
        float wd = gpt2_tensor_decays((gpt2_tensor)t) ? ap->weight_decay : 0.0f;
        adamw_update(m->params + off, m->grads + off, m->m1 + off, m->m2 + off, n,
                     ap->lr, ap->beta1, ap->beta2, ap->eps, wd, bc1, bc2, m->nthr);
    }
}

static void cpu_get_opt_state(photon_model *pm, float *mom1, float *mom2, int64_t *step)
{
    cpu_model *m = (cpu_model *)pm;
    size_t bytes = pm->layout.total * sizeof(float);
    if (mom1) memcpy(mom1, m->m1, bytes);
    if (mom2) memcpy(mom2, m->m2, bytes);
    if (step) *step = m->step;
}

static void cpu_set_opt_state(photon_model *pm, const float *mom1, const float *mom2, int64_t step)
{
    cpu_model *m = (cpu_model *)pm;
    size_t bytes = pm->layout.total * sizeof(float);
    memcpy(m->m1, mom1, bytes);
    memcpy(m->m2, mom2, bytes);
    m->step = step;
}

static void cpu_reset_opt_state(photon_model *pm)
{
    cpu_model *m = (cpu_model *)pm;
    size_t bytes = pm->layout.total * sizeof(float);
    memset(m->m1, 0, bytes);
    memset(m->m2, 0, bytes);
    m->step = 0;
}

static const backend_ops cpu_ops = {
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .set_params = cpu_set_params,
    .get_params = cpu_get_params,
    .forward_backward = cpu_forward_backward,
    .forward_loss = cpu_forward_loss,
    .logits_at = cpu_logits_at,
    .zero_grad = cpu_zero_grad,
    .clip_grad = cpu_clip_grad,
    .adamw_step = cpu_adamw_step,
    .get_opt_state = cpu_get_opt_state,
    .set_opt_state = cpu_set_opt_state,
    .reset_opt_state = cpu_reset_opt_state,
    .get_grads = cpu_get_grads,
    .forward_token_losses = cpu_forward_token_losses,
};

const backend_ops *backend_cpu_ops(void) { return &cpu_ops; }
