/* Runs without a GPU: (1) the plain-C references that the CUDA kernel tests
 * compare against (tests/gpu/cuda_ref.h) are themselves checked with central
 * finite differences, so a wrong reference cannot bless a wrong kernel;
 * (2) when the CUDA backend is built, the parts of it that need no GPU:
 * actor placement, the memory plan, and a clean error (not a crash) when
 * creating a model with no GPU visible. */
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"
#include "io/common.h"
#include "../gpu/cuda_ref.h"
#ifdef PHOTON_HAVE_CUDA
#include "gpu/cuda/cuda_api.h"
#endif

static photon_rng rng;

static float *randn(size_t n, float s)
{
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(&rng) * s;
    return x;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* d/dx[i] of sum(f(x) * w) by central differences, f writing n_out floats. */
typedef void (*fwd_fn)(float *out, float *x, void *ctx);
static double fd(fwd_fn f, float *x, size_t i, const float *w, size_t n_out, void *ctx)
{
    float *out = malloc(sizeof(float) * n_out);
    float x0 = x[i], h = 1e-2f;
    x[i] = x0 + h; f(out, x, ctx); double lp = dot(out, w, n_out);
    x[i] = x0 - h; f(out, x, ctx); double lm = dot(out, w, n_out);
    x[i] = x0;
    free(out);
    return (lp - lm) / (2.0 * h);
}

enum { AB = 1, AT = 5, AC = 8, ANH = 2 };
static void att_f(float *out, float *qkv, void *ctx) { (void)ctx; ref_attention_forward(out, NULL, qkv, AB, AT, AC, ANH); }

static void test_attention_ref(void)
{
    size_t n = AB * AT * AC;
    float *qkv = randn(3 * n, 1), *w = randn(n, 1), *d = malloc(sizeof(float) * 3 * n);
    ref_attention_backward(d, w, qkv, AB, AT, AC, ANH);
    double worst = 0;
    for (size_t i = 0; i < 3 * n; i++) {
        double e = fabs(fd(att_f, qkv, i, w, n, NULL) - d[i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 2e-3, "attention backward vs finite differences (max abs err %.3g)", worst);
    /* causal: the output at t=0 is exactly v at t=0 */
    float *out = malloc(sizeof(float) * n);
    ref_attention_forward(out, NULL, qkv, AB, AT, AC, ANH);
    CHECK_CLOSE(out[0], qkv[2 * AC], 1e-6);
    free(qkv); free(w); free(d); free(out);
}

enum { LN_N = 3, LN_C = 7 };
static float ln_w[LN_C], ln_b[LN_C];
static void ln_f(float *out, float *x, void *ctx) { (void)ctx; ref_layernorm_forward(out, NULL, NULL, x, ln_w, ln_b, LN_N, LN_C); }

static void test_layernorm_ref(void)
{
    size_t n = LN_N * LN_C;
    for (int c = 0; c < LN_C; c++) { ln_w[c] = 1 + rng_normal(&rng) * 0.3f; ln_b[c] = rng_normal(&rng); }
    float *x = randn(n, 2), *w = randn(n, 1), *out = malloc(sizeof(float) * n), mean[LN_N], rstd[LN_N];
    float *dinp = calloc(n, sizeof(float)), dw[LN_C] = {0}, db[LN_C] = {0};
    ref_layernorm_forward(out, mean, rstd, x, ln_w, ln_b, LN_N, LN_C);
    ref_layernorm_backward(dinp, dw, db, w, x, ln_w, mean, rstd, LN_N, LN_C);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(fd(ln_f, x, i, w, n, NULL) - dinp[i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 2e-3, "layernorm backward vs finite differences (max abs err %.3g)", worst);
    free(x); free(w); free(out); free(dinp);
}

enum { CN = 2, CV = 11, CVP = 16 };
static int cls_tg[CN];
static void cls_f(float *out, float *logits, void *ctx) { (void)ctx; ref_classifier(out, NULL, logits, cls_tg, CN, CV, CVP, 0); }

static void test_classifier_ref(void)
{
    float *x = randn(CN * CVP, 2), w[CN] = {1, 1}, g[CN * CVP], losses[CN];
    for (int r = 0; r < CN; r++) cls_tg[r] = (int)rng_below(&rng, CV);
    ref_classifier(losses, g, x, cls_tg, CN, CV, CVP, 1.0f);
    double worst = 0;
    for (size_t i = 0; i < CN * CVP; i++) {
        double e = fabs(fd(cls_f, x, i, w, CN, NULL) - g[i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 2e-3, "classifier gradient vs finite differences (max abs err %.3g)", worst);
    CHECK(g[CVP - 1] == 0.0f);   /* padded column */
    free(x);
}

enum { MN = 3, MIC = 4, MOC = 5 };
static float mm_w[MOC * MIC], mm_b[MOC];
static void mm_f(float *out, float *x, void *ctx) { float pre[MN * MOC]; (void)ctx; ref_matmul_forward(out, pre, x, mm_w, mm_b, MN, MIC, MOC); }

static void test_matmul_gelu_ref(void)
{
    for (int i = 0; i < MOC * MIC; i++) mm_w[i] = rng_normal(&rng);
    for (int i = 0; i < MOC; i++) mm_b[i] = rng_normal(&rng);
    float *x = randn(MN * MIC, 1), *up = randn(MN * MOC, 1);
    float out[MN * MOC], pre[MN * MOC], dpre[MN * MOC], dinp[MN * MIC], dw[MOC * MIC] = {0}, db[MOC] = {0};
    ref_matmul_forward(out, pre, x, mm_w, mm_b, MN, MIC, MOC);
    for (int i = 0; i < MN * MOC; i++) dpre[i] = (float)(up[i] * ref_gelu_grad(pre[i]));   /* through the GELU */
    ref_matmul_backward(dinp, dw, db, dpre, x, mm_w, MN, MIC, MOC);
    double worst = 0;
    for (int i = 0; i < MN * MIC; i++) {
        double e = fabs(fd(mm_f, x, i, up, MN * MOC, NULL) - dinp[i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 5e-3, "matmul+gelu backward vs finite differences (max abs err %.3g)", worst);
    /* dw of the plain product: d/dw[o,i] sum(out*dpre) = sum_r dpre[r,o] x[r,i] */
    double e2 = 0;
    for (int o = 0; o < MOC; o++)
        for (int i = 0; i < MIC; i++) {
            double s = 0;
            for (int r = 0; r < MN; r++) s += (double)dpre[r * MOC + o] * x[r * MIC + i];
            if (fabs(s - dw[o * MIC + i]) > e2) e2 = fabs(s - dw[o * MIC + i]);
        }
    CHECK(e2 < 1e-5);
    free(x); free(up);
}

#ifdef PHOTON_HAVE_CUDA
static void test_cuda_host_side(void)
{
    CHECK_EQ_INT(cuda_device_for_actor(0, 4), 0);
    CHECK_EQ_INT(cuda_device_for_actor(5, 4), 1);
    CHECK_EQ_INT(cuda_device_for_actor(7, 1), 0);
    CHECK_EQ_INT(cuda_device_for_actor(3, 0), 0);
    int n = cuda_device_count();
    CHECK(n >= 0);
    printf("   %s\n", cuda_device_status());
    gpt2_config c125 = { 12, 12, 768, 1024, 50257, 50304 };
    size_t b8 = cuda_model_bytes(&c125, 8, 1024, 1), b16 = cuda_model_bytes(&c125, 16, 1024, 1);
    size_t f8 = cuda_model_bytes(&c125, 8, 1024, 0);
    printf("   125m bf16 B=8 T=1024 plans %.2f GiB, B=16 %.2f GiB, fp32 B=8 %.2f GiB\n", b8 / 1073741824.0,
           b16 / 1073741824.0, f8 / 1073741824.0);
    CHECK(b8 > (size_t)124e6 * 18 && b8 < (size_t)40 << 30);   /* at least weights+grads+AdamW; fits an H100 */
    CHECK(b16 > b8 && f8 > b8);
    const backend_ops *ops = backend_cuda_ops();
    CHECK(ops != NULL && strcmp(ops->name, "cuda") == 0);
    if (n == 0 && ops) {
        photon_err err;
        backend_opts o = { PHOTON_BACKEND_CUDA, 1, 0, 1 };
        gpt2_config tiny = { 2, 4, 64, 64, 250, 256 };
        photon_model *m = ops->create(&tiny, 2, 64, &o, &err);
        CHECK(m == NULL);
        if (!m) CHECK_CONTAINS(err.msg, "no GPU");
    }
}
#endif

int main(void)
{
    rng_seed(&rng, 4242);
    RUN(test_attention_ref);
    RUN(test_layernorm_ref);
    RUN(test_classifier_ref);
    RUN(test_matmul_gelu_ref);
#ifdef PHOTON_HAVE_CUDA
    RUN(test_cuda_host_side);
#endif
    return th_finish();
}
