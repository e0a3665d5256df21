/* The CUDA backend against the CPU backend through gpu/model.h, on a tiny
 * GPT-2 (2 layers, d 64, padded vocabulary): one training step's loss and
 * every gradient tensor, per-token losses, gradient accumulation, the clipped norm, logits_at,
 * 10 AdamW steps within 1% loss of the CPU, parameter/optimizer-state round
 * trips, bitwise-reproducible steps, and a clear error when the model does
 * not fit in GPU memory.  fp32, bf16, and bf16 with flash attention (head
 * size 64, sequence 96: a full and a partial 64-row tile).  Skips (77)
 * without a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"
#include "io/common.h"
#include "gpu/model.h"
#ifdef PHOTON_HAVE_CUDA
#include "gpu/cuda/cuda_api.h"

#define B 4
#define T 96

static gpt2_config cfg;
static gpt2_layout lay;
static float *params0;
static uint32_t tokens[B * (T + 1)];

static photon_model *make(int cuda, int bf16)
{
    photon_err err;
    backend_opts o = { cuda ? PHOTON_BACKEND_CUDA : PHOTON_BACKEND_CPU, 1, 0, bf16 };
    photon_model *m = model_create(&cfg, B, T, &o, &err);
    CHECK_MSG(m != NULL, "create %s: %s", cuda ? "cuda" : "cpu", m ? "ok" : err.msg);
    if (m) m->ops->set_params(m, params0);
    return m;
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= num)) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}

static void one_step(int bf16)
{
    photon_model *cpu = make(0, 0), *gpu = make(1, bf16);
    if (!cpu || !gpu) { model_destroy(cpu); model_destroy(gpu); return; }
    size_t P = lay.total;
    float *gc = malloc(P * sizeof(float)), *gg = malloc(P * sizeof(float));
    cpu->ops->zero_grad(cpu);
    gpu->ops->zero_grad(gpu);
    float lc = cpu->ops->forward_backward(cpu, tokens, 1.0f);
    float lg = gpu->ops->forward_backward(gpu, tokens, 1.0f);
    CHECK_CLOSE(lg, lc, bf16 ? 1e-2 : 1e-5);
    cpu->ops->get_grads(cpu, gc);
    gpu->ops->get_grads(gpu, gg);
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        double e = rel_err(gg + lay.offset[t], gc + lay.offset[t], lay.size[t]);
        CHECK_MSG(e <= (bf16 ? 8e-2 : 1e-4), "grad %s rel err %.3g (%s)", gpt2_tensor_name((gpt2_tensor)t), e,
                  bf16 ? "bf16" : "fp32");
    }
    /* forward_loss is the same loss without touching the gradients */
    float lf = gpu->ops->forward_loss(gpu, tokens);
    CHECK_CLOSE(lf, lg, 1e-6);
    /* per-token losses (evaluation sums them): the CPU's, and their mean is the loss */
    float *tc = malloc(sizeof(float) * B * T), *tg = malloc(sizeof(float) * B * T);
    cpu->ops->forward_token_losses(cpu, tokens, tc);
    gpu->ops->forward_token_losses(gpu, tokens, tg);
    double mean = 0;
    for (int i = 0; i < B * T; i++) mean += tg[i];
    CHECK_CLOSE(mean / (B * T), lf, 1e-5);
    CHECK_MSG(rel_err(tg, tc, (size_t)B * T) <= (bf16 ? 3e-2 : 1e-5), "per-token losses rel err %.3g (%s)",
              rel_err(tg, tc, (size_t)B * T), bf16 ? "bf16" : "fp32");
    free(tc);
    free(tg);
    /* accumulation: a second half-scaled pass adds half the gradient */
    gpu->ops->forward_backward(gpu, tokens, 0.5f);
    float *g2 = malloc(P * sizeof(float));
    gpu->ops->get_grads(gpu, g2);
    for (size_t i = 0; i < P; i++) g2[i] /= 1.5f;
    CHECK_MSG(rel_err(g2, gg, P) <= (bf16 ? 1e-2 : 1e-5), "gradients accumulate with grad_scale");
    /* norm and clipping against the CPU */
    gpu->ops->zero_grad(gpu);
    gpu->ops->forward_backward(gpu, tokens, 1.0f);
    float nc = cpu->ops->clip_grad(cpu, 0.0f), ng = gpu->ops->clip_grad(gpu, 0.0f);
    CHECK_CLOSE(ng / nc, 1.0, bf16 ? 3e-2 : 1e-4);
    float ng2 = gpu->ops->clip_grad(gpu, ng * 0.5f);   /* returns the norm before clipping */
    CHECK_CLOSE(ng2 / ng, 1.0, 1e-6);
    double clipped = 0.5 * ng * ng / (ng + 1e-6);   /* torch's coefficient max / (norm + 1e-6) */
    CHECK_CLOSE(gpu->ops->clip_grad(gpu, 0.0f) / clipped, 1.0, 1e-5);
    /* logits at a position (0: a one-token sequence, another attention path), padded entries -inf */
    float *oc = malloc(cfg.padded_vocab * sizeof(float)), *og = malloc(cfg.padded_vocab * sizeof(float));
    for (int pos = 0; pos <= 77; pos += 77) {
        cpu->ops->logits_at(cpu, tokens, pos, oc);
        gpu->ops->logits_at(gpu, tokens, pos, og);
        double e = rel_err(og, oc, cfg.vocab_size);
        CHECK_MSG(e <= (bf16 ? 3e-2 : 1e-5), "logits_at %d rel err %.3g", pos, e);
        CHECK(isinf(og[cfg.padded_vocab - 1]) && og[cfg.padded_vocab - 1] < 0);
    }
    free(oc);
    free(og);
    free(gc); free(gg); free(g2);
    model_destroy(cpu);
    model_destroy(gpu);
}

static void ten_steps(int bf16)
{
    photon_model *cpu = make(0, 0), *gpu = make(1, bf16);
    if (!cpu || !gpu) { model_destroy(cpu); model_destroy(gpu); return; }
    adamw_params ap = { 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f };
    double worst = 0;
    float lc = 0, lg = 0;
    for (int s = 0; s < 10; s++) {
        cpu->ops->zero_grad(cpu);
        gpu->ops->zero_grad(gpu);
        lc = cpu->ops->forward_backward(cpu, tokens, 1.0f);
        lg = gpu->ops->forward_backward(gpu, tokens, 1.0f);
        cpu->ops->clip_grad(cpu, 1.0f);
        gpu->ops->clip_grad(gpu, 1.0f);
        cpu->ops->adamw_step(cpu, &ap);
        gpu->ops->adamw_step(gpu, &ap);
        double e = fabs(lg - lc) / lc;
        if (e > worst) worst = e;
    }
    printf("   %s: step 10 loss cpu %.6f gpu %.6f, worst relative gap %.3g\n", bf16 ? "bf16" : "fp32", lc, lg, worst);
    CHECK_MSG(worst <= 0.01, "10 steps within 1%% of the CPU loss (worst %.3g)", worst);
    /* the model learned something: same batch, loss went down */
    float l0 = cpu->ops->forward_loss(cpu, tokens);
    CHECK(l0 < logf((float)cfg.vocab_size));
    /* optimizer state and parameters round-trip through the host */
    size_t P = lay.total;
    float *m1 = malloc(P * 4), *m2 = malloc(P * 4), *p = malloc(P * 4), *q = malloc(P * 4);
    int64_t step = 0;
    gpu->ops->get_opt_state(gpu, m1, m2, &step);
    CHECK_EQ_INT(step, 10);
    gpu->ops->get_params(gpu, p);
    photon_model *g2 = make(1, bf16);
    if (g2) {
        g2->ops->set_params(g2, p);
        g2->ops->set_opt_state(g2, m1, m2, step);
        /* the same next step on both instances gives the same bits */
        gpu->ops->zero_grad(gpu);
        g2->ops->zero_grad(g2);
        float a = gpu->ops->forward_backward(gpu, tokens, 1.0f), b = g2->ops->forward_backward(g2, tokens, 1.0f);
        CHECK_MSG(a == b, "reproducible loss (%.9g vs %.9g)", a, b);
        gpu->ops->adamw_step(gpu, &ap);
        g2->ops->adamw_step(g2, &ap);
        gpu->ops->get_params(gpu, p);
        g2->ops->get_params(g2, q);
        CHECK_MSG(memcmp(p, q, P * 4) == 0, "reproducible parameters after a step");
        g2->ops->reset_opt_state(g2);
        g2->ops->get_opt_state(g2, m1, m2, &step);
        CHECK_EQ_INT(step, 0);
        CHECK(m1[0] == 0.0f && m2[P - 1] == 0.0f);
        model_destroy(g2);
    }
    free(m1); free(m2); free(p); free(q);
    model_destroy(cpu);
    model_destroy(gpu);
}

static void too_big(void)
{
    photon_err err;
    gpt2_config big = cfg;
    big.n_layer = 48; big.d_model = 1600; big.n_head = 25; big.seq_len = 1024;
    backend_opts o = { PHOTON_BACKEND_CUDA, 1, 0, 1 };
    photon_model *m = model_create(&big, 4096, 1024, &o, &err);
    CHECK(m == NULL);
    if (m) model_destroy(m);
    else CHECK_CONTAINS(err.msg, "GiB");
}

int main(void)
{
    if (cuda_device_count() == 0) { printf("skipped: %s\n", cuda_device_status()); return 77; }
    cfg = (gpt2_config){ 2, 2, 128, T, 250, gpt2_padded_vocab(250, 128) };
    gpt2_layout_init(&lay, &cfg);
    params0 = malloc(lay.total * sizeof(float));
    gpt2_init_params(&cfg, params0, 1234, 0.02);
    photon_rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < B * (T + 1); i++) tokens[i] = (uint32_t)rng_below(&r, cfg.vocab_size);
    for (int mode = 0; mode <= 2; mode++) {
        int bf16 = mode > 0;
        if (mode == 2) setenv("PHOTON_CUDA_ATTENTION", "flash", 1);
        printf("== %s\n", mode == 0 ? "fp32" : mode == 1 ? "bf16" : "bf16 + flash attention");
        one_step(bf16);
        ten_steps(bf16);
        unsetenv("PHOTON_CUDA_ATTENTION");
    }
    RUN(too_big);
    free(params0);
    return th_finish();
}
#else
int main(void)
{
    printf("skipped: the CUDA backend is not built in\n");
    return 77;
}
#endif
