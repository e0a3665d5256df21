/* Finite-difference checks of the CPU backend.  Each layer kernel (fp32) is
 * compared with a naive double-precision reference written here: forward
 * outputs must agree, and every gradient the kernel computes must agree with
 * central differences of the reference (h = 1e-6 in double, so the FD error
 * is far below the fp32 tolerance).  The loss is sum(R .* out) for a random
 * R, which the kernel receives as dout.  Then the whole model: sampled
 * entries of every parameter tensor of a tiny GPT-2 with a padded
 * vocabulary against FD of a double reference GPT-2 built from the same
 * reference layers.  Also model.c's pure functions (layout, lr schedule). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "gpu/model.h"
#include "gpu/cpu/kernels.h"
#include "io/config.h"

#define NTHR 2
static photon_rng rng;

static double *drand_vec(size_t n, double scale)
{
    double *p = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal(&rng);
    return p;
}
static float *to_f(const double *d, size_t n)
{
    float *f = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}
/* rounds d to float precision so kernel and reference see the same inputs */
static void round_f(double *d, size_t n) { for (size_t i = 0; i < n; i++) d[i] = (float)d[i]; }

/* max |got - ref| relative to max |ref| */
static void check_vec(const char *what, const float *got, const double *ref, size_t n, double tol)
{
    double md = 0, mr = 1e-12;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs(got[i] - ref[i]));
        mr = fmax(mr, fabs(ref[i]));
    }
    CHECK_MSG(md / mr <= tol, "%s: max error %.3g of max %.3g (rel %.3g, tol %g)", what, md, mr, md / mr, tol);
}

/* central differences of f over a[0..n) */
typedef double (*loss_fn)(void *ctx);
static void fd_grad(double *a, size_t n, double *g, loss_fn f, void *ctx)
{
    const double h = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double s = a[i];
        a[i] = s + h; double fp = f(ctx);
        a[i] = s - h; double fm = f(ctx);
        a[i] = s;
        g[i] = (fp - fm) / (2 * h);
    }
}
static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- double-precision reference layers ---------------------------------- */
static void ref_layernorm(double *out, const double *x, const double *w, const double *b, int N, int C)
{
    for (int r = 0; r < N; r++) {
        const double *xr = x + (size_t)r * C;
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += xr[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (xr[i] - m) * (xr[i] - m);
        v /= C;
        double s = 1.0 / sqrt(v + 1e-5);
        for (int i = 0; i < C; i++) out[(size_t)r * C + i] = (xr[i] - m) * s * w[i] + b[i];
    }
}
static void ref_matmul(double *out, const double *x, const double *w, const double *b, int N, int IC, int OC)
{
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < IC; i++) s += x[(size_t)r * IC + i] * w[(size_t)o * IC + i];
            out[(size_t)r * OC + o] = s;
        }
}
static double ref_gelu1(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static void ref_attention(double *out, const double *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    double *att = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    att[j] = dot(q, k, hs) / sqrt(hs);
                    mx = fmax(mx, att[j]);
                }
                for (int j = 0; j <= t; j++) { att[j] = exp(att[j] - mx); sum += att[j]; }
                double *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int d = 0; d < hs; d++) {
                    double s = 0;
                    for (int j = 0; j <= t; j++) s += att[j] / sum * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + d];
                    o[d] = s;
                }
            }
    free(att);
}
/* mean cross-entropy of x @ wte[:V]^T against targets */
static double ref_ce(const double *x, const double *wte, const uint32_t *tg, int N, int C, int V, double *losses)
{
    double total = 0;
    double *z = malloc((size_t)V * sizeof(double));
    for (int r = 0; r < N; r++) {
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) { z[v] = dot(x + (size_t)r * C, wte + (size_t)v * C, C); mx = fmax(mx, z[v]); }
        for (int v = 0; v < V; v++) s += exp(z[v] - mx);
        double l = mx + log(s) - z[tg[r]];
        if (losses) losses[r] = l;
        total += l;
    }
    free(z);
    return total / N;
}

/* ---- per-layer tests ------------------------------------------------------ */
typedef struct { double *x, *w, *b, *R, *out; int N, C, IC, OC, B, T, NH, V; uint32_t *tg; } lctx;

static double loss_layernorm(void *p)
{
    lctx *c = p;
    ref_layernorm(c->out, c->x, c->w, c->b, c->N, c->C);
    return dot(c->out, c->R, (size_t)c->N * c->C);
}

static void test_layernorm(void)
{
    int N = 7, C = 19;
    size_t n = (size_t)N * C;
    lctx c = { .x = drand_vec(n, 1.5), .w = drand_vec(C, 1), .b = drand_vec(C, 1), .R = drand_vec(n, 1),
               .out = malloc(n * sizeof(double)), .N = N, .C = C };
    round_f(c.x, n); round_f(c.w, C); round_f(c.b, C); round_f(c.R, n);
    for (int i = 0; i < C; i++) c.x[i] += 3.0;   /* an offset row: mean removal matters */
    float *x = to_f(c.x, n), *w = to_f(c.w, C), *b = to_f(c.b, C), *R = to_f(c.R, n);
    float *out = malloc(n * 4), mean[16], rstd[16], *dx = calloc(n, 4), *dw = calloc(C, 4), *db = calloc(C, 4);
    layernorm_forward(out, mean, rstd, x, w, b, N, C, NTHR);
    loss_layernorm(&c);
    check_vec("layernorm forward", out, c.out, n, 1e-5);
    layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C, NTHR);
    double *g = malloc(n * sizeof(double));
    fd_grad(c.x, n, g, loss_layernorm, &c); check_vec("layernorm dinp", dx, g, n, 1e-4);
    fd_grad(c.w, C, g, loss_layernorm, &c); check_vec("layernorm dw", dw, g, C, 1e-4);
    fd_grad(c.b, C, g, loss_layernorm, &c); check_vec("layernorm db", db, g, C, 1e-4);
    free(g); free(x); free(w); free(b); free(R); free(out); free(dx); free(dw); free(db);
    free(c.x); free(c.w); free(c.b); free(c.R); free(c.out);
}

static double loss_matmul(void *p)
{
    lctx *c = p;
    ref_matmul(c->out, c->x, c->w, c->b, c->N, c->IC, c->OC);
    return dot(c->out, c->R, (size_t)c->N * c->OC);
}

static void test_matmul(void)
{
    /* N above the threshold that splits rows across threads */
    int N = 70, IC = 24, OC = 40;
    size_t nx = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
    lctx c = { .x = drand_vec(nx, 1), .w = drand_vec(nw, 0.5), .b = drand_vec(OC, 1), .R = drand_vec(no, 1),
               .out = malloc(no * sizeof(double)), .N = N, .IC = IC, .OC = OC };
    round_f(c.x, nx); round_f(c.w, nw); round_f(c.b, OC); round_f(c.R, no);
    float *x = to_f(c.x, nx), *w = to_f(c.w, nw), *b = to_f(c.b, OC), *R = to_f(c.R, no);
    float *out = malloc(no * 4), *dx = malloc(nx * 4), *dw = calloc(nw, 4), *db = calloc(OC, 4);
    matmul_forward(out, x, w, b, N, IC, OC, 0, NTHR);
    loss_matmul(&c);
    check_vec("matmul forward", out, c.out, no, 1e-5);
    /* accumulate mode adds on top (the residual connection) */
    matmul_forward(out, x, w, b, N, IC, OC, 1, NTHR);
    for (size_t i = 0; i < no; i++) c.out[i] *= 2;
    check_vec("matmul forward accumulate", out, c.out, no, 1e-5);
    matmul_backward(dx, dw, db, R, x, w, N, IC, OC, NTHR);
    double *g = malloc(nw * sizeof(double) + nx * sizeof(double));
    fd_grad(c.x, nx, g, loss_matmul, &c); check_vec("matmul dinp", dx, g, nx, 1e-4);
    fd_grad(c.w, nw, g, loss_matmul, &c); check_vec("matmul dw", dw, g, nw, 1e-4);
    fd_grad(c.b, OC, g, loss_matmul, &c); check_vec("matmul dbias", db, g, OC, 1e-4);
    free(g); free(x); free(w); free(b); free(R); free(out); free(dx); free(dw); free(db);
    free(c.x); free(c.w); free(c.b); free(c.R); free(c.out);
}

static double loss_gelu(void *p)
{
    lctx *c = p;
    for (int i = 0; i < c->N; i++) c->out[i] = ref_gelu1(c->x[i]);
    return dot(c->out, c->R, (size_t)c->N);
}

static void test_gelu(void)
{
    int n = 301;
    lctx c = { .x = drand_vec(n, 2.5), .R = drand_vec(n, 1), .out = malloc(n * sizeof(double)), .N = n };
    c.x[0] = 0; c.x[1] = 12; c.x[2] = -12; c.x[3] = 1e-4;
    round_f(c.x, n); round_f(c.R, n);
    float *x = to_f(c.x, n), *R = to_f(c.R, n), *out = malloc(n * 4), *dx = malloc(n * 4);
    gelu_forward(out, x, n, NTHR);
    loss_gelu(&c);
    check_vec("gelu forward", out, c.out, n, 1e-6);
    gelu_backward(dx, x, R, n, NTHR);
    double *g = malloc(n * sizeof(double));
    fd_grad(c.x, n, g, loss_gelu, &c);
    check_vec("gelu dinp", dx, g, n, 1e-5);
    free(g); free(x); free(R); free(out); free(dx); free(c.x); free(c.R); free(c.out);
}

static double loss_attention(void *p)
{
    lctx *c = p;
    ref_attention(c->out, c->x, c->B, c->T, c->C, c->NH);
    return dot(c->out, c->R, (size_t)c->B * c->T * c->C);
}

static void test_attention(void)
{
    /* T = 70: one full 64-row causal block and a partial one */
    int B = 2, T = 70, C = 8, NH = 2;
    size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
    lctx c = { .x = drand_vec(nq, 1.5), .R = drand_vec(no, 1), .out = malloc(no * sizeof(double)),
               .B = B, .T = T, .C = C, .NH = NH };
    round_f(c.x, nq); round_f(c.R, no);
    float *qkv = to_f(c.x, nq), *R = to_f(c.R, no), *out = malloc(no * 4), *dqkv = malloc(nq * 4);
    float *lse = malloc((size_t)B * NH * T * 4), *scr = malloc(attention_scratch_floats(T) * NTHR * 4);
    attention_forward(out, lse, qkv, B, T, C, NH, scr, NTHR);
    loss_attention(&c);
    check_vec("attention forward", out, c.out, no, 1e-5);
    attention_backward(dqkv, R, out, lse, qkv, B, T, C, NH, scr, NTHR);
    double *g = malloc(nq * sizeof(double));
    fd_grad(c.x, nq, g, loss_attention, &c);
    check_vec("attention dqkv", dqkv, g, nq, 1e-4);
    free(g); free(qkv); free(R); free(out); free(dqkv); free(lse); free(scr); free(c.x); free(c.R); free(c.out);
}

static double loss_ce(void *p)
{
    lctx *c = p;
    return 0.7 * ref_ce(c->x, c->w, c->tg, c->N, c->C, c->V, NULL);
}

static void test_crossentropy(void)
{
    /* padded wte (Vp > V) whose padded rows hold garbage that must not matter;
     * chunk 3 with 2 threads and N = 2*7 exercises partial chunks */
    int B = 2, T = 7, N = B * T, C = 6, V = 11, Vp = 16;
    size_t nx = (size_t)N * C, nw = (size_t)Vp * C;
    uint32_t tok[2 * 8];
    for (int i = 0; i < 16; i++) tok[i] = (uint32_t)rng_below(&rng, (uint64_t)V);
    tok[3] = (uint32_t)V - 1;
    uint32_t tg[14];
    for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) tg[b * T + t] = tok[b * 8 + t + 1];
    lctx c = { .x = drand_vec(nx, 1), .w = drand_vec(nw, 1), .N = N, .C = C, .V = V, .tg = tg };
    round_f(c.x, nx); round_f(c.w, nw);
    for (size_t i = (size_t)V * C; i < nw; i++) c.w[i] = 1e30;
    float *x = to_f(c.x, nx), *w = to_f(c.w, nw), *dx = malloc(nx * 4), *dw = calloc(nw, 4);
    float losses[14], *scr = malloc((size_t)3 * V * NTHR * 4);
    double rl[14];
    float mean = lmhead_crossentropy(losses, dx, dw, x, w, tok + 1, 8, B, T, C, V, 0.7f, scr, 3, NTHR);
    double rmean = ref_ce(c.x, c.w, tg, N, C, V, rl);
    check_vec("cross-entropy losses", losses, rl, (size_t)N, 1e-5);
    CHECK_CLOSE(mean, rmean, 1e-5);
    float fl = lmhead_crossentropy(losses, NULL, NULL, x, w, tok + 1, 8, B, T, C, V, 0, scr, 3, 1);
    CHECK_CLOSE(fl, rmean, 1e-5);
    double *g = malloc(nw * sizeof(double));
    fd_grad(c.x, nx, g, loss_ce, &c); check_vec("cross-entropy dx", dx, g, nx, 1e-4);
    fd_grad(c.w, (size_t)V * C, g, loss_ce, &c); check_vec("cross-entropy dwte", dw, g, (size_t)V * C, 1e-4);
    int zero = 1;
    for (size_t i = (size_t)V * C; i < nw; i++) zero &= dw[i] == 0.0f;
    CHECK_MSG(zero, "padded rows of dwte untouched");
    free(g); free(x); free(w); free(dx); free(dw); free(scr); free(c.x); free(c.w);
}

static double loss_encoder(void *p)
{
    lctx *c = p;   /* x = wte (V,C), w = wpe (T,C), tg = tokens (B,T+1) */
    double s = 0;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->T; t++)
            for (int i = 0; i < c->C; i++) {
                double v = c->x[(size_t)c->tg[b * (c->T + 1) + t] * c->C + i] + c->w[(size_t)t * c->C + i];
                s += v * c->R[((size_t)b * c->T + t) * c->C + i];
            }
    return s;
}

static void test_encoder(void)
{
    int B = 3, T = 5, C = 7, V = 4;   /* V small: tokens repeat */
    uint32_t tok[3 * 6];
    for (int i = 0; i < 18; i++) tok[i] = (uint32_t)rng_below(&rng, (uint64_t)V);
    size_t no = (size_t)B * T * C;
    lctx c = { .x = drand_vec((size_t)V * C, 1), .w = drand_vec((size_t)T * C, 1), .R = drand_vec(no, 1),
               .B = B, .T = T, .C = C, .tg = tok };
    round_f(c.x, (size_t)V * C); round_f(c.w, (size_t)T * C); round_f(c.R, no);
    float *wte = to_f(c.x, (size_t)V * C), *wpe = to_f(c.w, (size_t)T * C), *R = to_f(c.R, no);
    float *out = malloc(no * 4), *dwte = calloc((size_t)V * C, 4), *dwpe = calloc((size_t)T * C, 4);
    encoder_forward(out, tok, T + 1, wte, wpe, B, T, C, NTHR);
    int ok = 1;
    for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) for (int i = 0; i < C; i++)
        ok &= out[((size_t)b * T + t) * C + i] == wte[tok[b * (T + 1) + t] * C + i] + wpe[t * C + i];
    CHECK_MSG(ok, "encoder forward = wte[token] + wpe[t]");
    encoder_backward(dwte, dwpe, R, tok, T + 1, B, T, C, NTHR);
    double *g = malloc((size_t)V * C * sizeof(double) + (size_t)T * C * sizeof(double));
    fd_grad(c.x, (size_t)V * C, g, loss_encoder, &c); check_vec("encoder dwte", dwte, g, (size_t)V * C, 1e-5);
    fd_grad(c.w, (size_t)T * C, g, loss_encoder, &c); check_vec("encoder dwpe", dwpe, g, (size_t)T * C, 1e-5);
    free(g); free(wte); free(wpe); free(R); free(out); free(dwte); free(dwpe); free(c.x); free(c.w); free(c.R);
}

/* ---- whole model ------------------------------------------------------------ */
typedef struct { gpt2_config cfg; gpt2_layout lay; double *p; const uint32_t *tok; int B, T; } mctx;

static double loss_model(void *vp)
{
    mctx *m = vp;
    const gpt2_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, B = m->B, T = m->T, N = B * T;
    size_t NC = (size_t)N * C;
    double *x = malloc(NC * 8), *h = malloc(NC * 8), *qkv = malloc(NC * 3 * 8), *y = malloc(NC * 8);
    double *f = malloc(NC * 4 * 8), *t2 = malloc(NC * 8);
#define P(t, l) (m->p + m->lay.offset[t] + (size_t)(l) * (m->lay.size[t] / (size_t)L))
    for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) for (int i = 0; i < C; i++)
        x[((size_t)b * T + t) * C + i] = P(T_WTE, 0)[(size_t)m->tok[b * (T + 1) + t] * C + i] + P(T_WPE, 0)[(size_t)t * C + i];
    for (int l = 0; l < L; l++) {
        ref_layernorm(h, x, P(T_LN1W, l), P(T_LN1B, l), N, C);
        ref_matmul(qkv, h, P(T_QKVW, l), P(T_QKVB, l), N, C, 3 * C);
        ref_attention(y, qkv, B, T, C, c->n_head);
        ref_matmul(t2, y, P(T_ATTPROJW, l), P(T_ATTPROJB, l), N, C, C);
        for (size_t i = 0; i < NC; i++) x[i] += t2[i];
        ref_layernorm(h, x, P(T_LN2W, l), P(T_LN2B, l), N, C);
        ref_matmul(f, h, P(T_FCW, l), P(T_FCB, l), N, C, 4 * C);
        for (size_t i = 0; i < NC * 4; i++) f[i] = ref_gelu1(f[i]);
        ref_matmul(t2, f, P(T_FCPROJW, l), P(T_FCPROJB, l), N, 4 * C, C);
        for (size_t i = 0; i < NC; i++) x[i] += t2[i];
    }
    ref_layernorm(h, x, P(T_LNFW, 0), P(T_LNFB, 0), N, C);
    uint32_t tg[64];
    for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) tg[b * T + t] = m->tok[b * (T + 1) + t + 1];
    double loss = ref_ce(h, P(T_WTE, 0), tg, N, C, c->vocab_size, NULL);
#undef P
    free(x); free(h); free(qkv); free(y); free(f); free(t2);
    return loss;
}

static void test_whole_model(void)
{
    gpt2_config c = { .n_layer = 2, .n_head = 2, .d_model = 8, .seq_len = 9, .vocab_size = 13 };
    c.padded_vocab = gpt2_padded_vocab(c.vocab_size, 8);
    CHECK_EQ_INT(c.padded_vocab, 16);
    int B = 2, T = 7;   /* T < seq_len: rows of wpe beyond T get no gradient */
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = NTHR };
    photon_err err;
    photon_model *pm = model_create(&c, B, T, &o, &err);
    CHECK_MSG(pm != NULL, "model_create: %s", pm ? "" : err.msg);
    if (!pm) return;
    size_t P = pm->layout.total;
    float *pf = malloc(P * 4), *gf = malloc(P * 4);
    gpt2_init_params(&c, pf, 7, 0.3);
    for (size_t i = 0; i < P; i++) pf[i] += 0.05f * rng_normal(&rng);  /* LN/bias off 1/0 */
    uint32_t tok[2 * 8];
    for (int i = 0; i < 16; i++) tok[i] = (uint32_t)rng_below(&rng, (uint64_t)c.vocab_size);
    pm->ops->set_params(pm, pf);
    pm->ops->zero_grad(pm);
    float loss = pm->ops->forward_backward(pm, tok, 1.0f);
    pm->ops->get_grads(pm, gf);
    mctx m = { .cfg = c, .lay = pm->layout, .p = malloc(P * 8), .tok = tok, .B = B, .T = T };
    for (size_t i = 0; i < P; i++) m.p[i] = pf[i];
    CHECK_CLOSE(loss, loss_model(&m), 1e-5);
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        size_t off = m.lay.offset[t], n = m.lay.size[t];
        double gmax = 1e-12, md = 0;
        for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(gf[off + i]));
        for (int s = 0; s < 12; s++) {
            size_t i = off + rng_below(&rng, n), one = 1;
            double g;
            fd_grad(m.p + i, one, &g, loss_model, &m);
            md = fmax(md, fabs(g - gf[i]));
        }
        CHECK_MSG(md / gmax <= 2e-4, "model grad %s: FD max error %.3g of max %.3g", gpt2_tensor_name(t), md, gmax);
    }
    int zero = 1;
    for (size_t i = m.lay.offset[T_WTE] + (size_t)c.vocab_size * 8; i < m.lay.offset[T_WTE] + m.lay.size[T_WTE]; i++)
        zero &= gf[i] == 0.0f;
    for (size_t i = m.lay.offset[T_WPE] + (size_t)T * 8; i < m.lay.offset[T_WPE] + m.lay.size[T_WPE]; i++)
        zero &= gf[i] == 0.0f;
    CHECK_MSG(zero, "padded wte rows and unused wpe rows have zero gradient");
    /* out-of-vocabulary token: NaN loss and an error, never a wild read */
    tok[5] = (uint32_t)c.vocab_size;
    CHECK(isnan(pm->ops->forward_loss(pm, tok)));
    free(m.p); free(pf); free(gf);
    model_destroy(pm);
}

/* ---- model.c pure functions ------------------------------------------------- */
static void test_model_functions(void)
{
    CHECK_EQ_INT(gpt2_padded_vocab(50257, 128), 50304);
    CHECK_EQ_INT(gpt2_padded_vocab(67, 1), 67);
    gpt2_config c = { 12, 12, 768, 1024, 50257, 50304 };
    CHECK_EQ_INT(gpt2_num_params(&c), 124475904);   /* llm.c's GPT-2 124M with padded vocab */
    photon_err err;
    CHECK_EQ_INT(gpt2_config_check(&c, &err), 0);
    c.n_head = 5;
    CHECK_EQ_INT(gpt2_config_check(&c, &err), -1);
    CHECK_CONTAINS(err.msg, "multiple of n_head");
    CHECK(gpt2_tensor_decays(T_QKVW) && !gpt2_tensor_decays(T_QKVB) && !gpt2_tensor_decays(T_LN1W));
    CHECK_STR(gpt2_tensor_name(T_FCPROJW), "fcprojw");
    lr_schedule s = { 1.0, 0.1, 10, 110, SCHED_COSINE };
    CHECK_CLOSE(lr_at(&s, 0), 0.1, 1e-12);
    CHECK_CLOSE(lr_at(&s, 9), 1.0, 1e-12);
    CHECK_CLOSE(lr_at(&s, 60), 0.55, 1e-12);
    CHECK_CLOSE(lr_at(&s, 110), 0.1, 1e-12);
    CHECK_CLOSE(lr_at(&s, 500), 0.1, 1e-12);
    s.kind = SCHED_LINEAR;
    CHECK_CLOSE(lr_at(&s, 35), 0.775, 1e-12);
    s.kind = SCHED_CONSTANT;
    CHECK_CLOSE(lr_at(&s, 80), 1.0, 1e-12);
    /* init: LN weights 1, biases 0, residual projections smaller */
    gpt2_config t = { 2, 2, 16, 8, 30, 32 };
    gpt2_layout l;
    gpt2_layout_init(&l, &t);
    float *p = malloc(l.total * 4);
    gpt2_init_params(&t, p, 1, 0.02);
    CHECK(p[l.offset[T_LN1W]] == 1.0f && p[l.offset[T_LNFB]] == 0.0f && p[l.offset[T_WTE] + 30 * 16] == 0.0f);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < l.size[T_QKVW]; i++) s1 += (double)p[l.offset[T_QKVW] + i] * p[l.offset[T_QKVW] + i];
    for (size_t i = 0; i < l.size[T_ATTPROJW]; i++) s2 += (double)p[l.offset[T_ATTPROJW] + i] * p[l.offset[T_ATTPROJW] + i];
    double std1 = sqrt(s1 / l.size[T_QKVW]), std2 = sqrt(s2 / l.size[T_ATTPROJW]);
    CHECK_MSG(fabs(std1 - 0.02) < 0.002 && fabs(std2 - 0.01) < 0.0015, "init std %.4f, residual %.4f", std1, std2);
    free(p);
}

int main(void)
{
    rng_seed(&rng, 12345);
    RUN(test_model_functions);
    RUN(test_encoder);
    RUN(test_layernorm);
    RUN(test_matmul);
    RUN(test_gelu);
    RUN(test_attention);
    RUN(test_crossentropy);
    RUN(test_whole_model);
    return th_finish();
}
