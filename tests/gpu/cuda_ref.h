/* Plain-C references for the CUDA kernels, written for clarity (double
 * accumulators, naive loops), used by tests/gpu/test_cuda_kernels.c and
 * checked themselves against finite differences in tests/unit/test_cuda_ref.c.
 * Shapes follow gpu/cuda/kernels.h (weights (OC, IC), activations (N, C)). */
#ifndef PHOTON_CUDA_REF_H
#define PHOTON_CUDA_REF_H
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static inline double ref_gelu(double x)
{
    const double k = 0.7978845608028654;
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}
static inline double ref_gelu_grad(double x)
{
    const double k = 0.7978845608028654;
    double th = tanh(k * (x + 0.044715 * x * x * x));
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * x * x);
}

static inline void ref_encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[((size_t)b * T + t) * C + c] = wte[(size_t)tok[b * T + t] * C + c] + wpe[(size_t)t * C + c];
}

static inline void ref_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                float d = dout[((size_t)b * T + t) * C + c];
                dwte[(size_t)tok[b * T + t] * C + c] += d;
                dwpe[(size_t)t * C + c] += d;
            }
}

static inline void ref_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                                         const float *b, int N, int C)
{
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += xr[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (xr[c] - m) * (xr[c] - m);
        double rs = 1.0 / sqrt(v / C + 1e-5);
        for (int c = 0; c < C; c++) out[(size_t)r * C + c] = (float)((xr[c] - m) * rs * w[c] + b[c]);
        if (mean) mean[r] = (float)m;
        if (rstd) rstd[r] = (float)rs;
    }
}

/* dinp, dw, db accumulate. */
static inline void ref_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *x,
                                          const float *w, const float *mean, const float *rstd, int N, int C)
{
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C, *d = dout + (size_t)r * C;
        double dm = 0, dnm = 0;
        for (int c = 0; c < C; c++) {
            double norm = (xr[c] - mean[r]) * (double)rstd[r], dn = (double)w[c] * d[c];
            dm += dn;
            dnm += dn * norm;
            dw[c] += (float)(d[c] * norm);
            db[c] += d[c];
        }
        dm /= C;
        dnm /= C;
        for (int c = 0; c < C; c++) {
            double norm = (xr[c] - mean[r]) * (double)rstd[r], dn = (double)w[c] * d[c];
            dinp[(size_t)r * C + c] += (float)((dn - dm - norm * dnm) * rstd[r]);
        }
    }
}

/* out = inp @ w^T + bias; with pre (non-NULL) pre = that and out = gelu(pre). */
static inline void ref_matmul_forward(float *out, float *pre, const float *inp, const float *w, const float *bias, int N,
                                      int IC, int OC)
{
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int i = 0; i < IC; i++) acc += (double)inp[(size_t)r * IC + i] * w[(size_t)o * IC + i];
            if (pre) { pre[(size_t)r * OC + o] = (float)acc; out[(size_t)r * OC + o] = (float)ref_gelu(acc); }
            else out[(size_t)r * OC + o] = (float)acc;
        }
}

/* dinp overwritten; dw, db (may be NULL) accumulate. */
static inline void ref_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                       const float *w, int N, int IC, int OC)
{
    for (int r = 0; r < N; r++)
        for (int i = 0; i < IC; i++) {
            double acc = 0;
            for (int o = 0; o < OC; o++) acc += (double)dout[(size_t)r * OC + o] * w[(size_t)o * IC + i];
            dinp[(size_t)r * IC + i] = (float)acc;
        }
    for (int o = 0; o < OC; o++) {
        for (int i = 0; i < IC; i++) {
            double acc = 0;
            for (int r = 0; r < N; r++) acc += (double)dout[(size_t)r * OC + o] * inp[(size_t)r * IC + i];
            dw[(size_t)o * IC + i] += (float)acc;
        }
        if (db) {
            double acc = 0;
            for (int r = 0; r < N; r++) acc += dout[(size_t)r * OC + o];
            db[o] += (float)acc;
        }
    }
}

/* qkv (B,T,3C) with q|k|v each (NH, HS) per position; out (B,T,C); att (B,NH,T,T) or NULL. */
static inline void ref_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int HS = C / NH;
    double scale = 1.0 / sqrt((double)HS);
    double *p = (double *)malloc(sizeof(double) * (size_t)T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * HS;
                double mx = -INFINITY, sum = 0;
                for (int s = 0; s <= t; s++) {
                    const float *k = qkv + ((size_t)b * T + s) * 3 * C + C + h * HS;
                    double d = 0;
                    for (int i = 0; i < HS; i++) d += (double)q[i] * k[i];
                    p[s] = d * scale;
                    if (p[s] > mx) mx = p[s];
                }
                for (int s = 0; s <= t; s++) { p[s] = exp(p[s] - mx); sum += p[s]; }
                for (int s = 0; s < T; s++) {
                    double a = s <= t ? p[s] / sum : 0.0;
                    if (att) att[(((size_t)b * NH + h) * T + t) * T + s] = (float)a;
                    p[s] = a;
                }
                for (int i = 0; i < HS; i++) {
                    double acc = 0;
                    for (int s = 0; s <= t; s++) acc += p[s] * qkv[((size_t)b * T + s) * 3 * C + 2 * C + h * HS + i];
                    out[((size_t)b * T + t) * C + h * HS + i] = (float)acc;
                }
            }
    free(p);
}

/* dqkv (B,T,3C) overwritten. */
static inline void ref_attention_backward(float *dqkv, const float *dout, const float *qkv, int B, int T, int C, int NH)
{
    int HS = C / NH;
    double scale = 1.0 / sqrt((double)HS);
    size_t tt = (size_t)B * NH * T * T;
    float *att = (float *)malloc(sizeof(float) * tt);
    float *tmp = (float *)malloc(sizeof(float) * (size_t)B * T * C);
    double *da = (double *)malloc(sizeof(double) * (size_t)T);
    ref_attention_forward(tmp, att, qkv, B, T, C, NH);
    memset(dqkv, 0, sizeof(float) * (size_t)B * T * 3 * C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                const float *dy = dout + ((size_t)b * T + t) * C + h * HS;
                double dot = 0;
                for (int s = 0; s <= t; s++) {
                    const float *v = qkv + ((size_t)b * T + s) * 3 * C + 2 * C + h * HS;
                    float *dv = dqkv + ((size_t)b * T + s) * 3 * C + 2 * C + h * HS;
                    double d = 0;
                    for (int i = 0; i < HS; i++) { d += (double)dy[i] * v[i]; dv[i] += (float)(a[s] * dy[i]); }
                    da[s] = d;
                    dot += a[s] * d;
                }
                const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * HS;
                float *dq = dqkv + ((size_t)b * T + t) * 3 * C + h * HS;
                for (int s = 0; s <= t; s++) {
                    double ds = a[s] * (da[s] - dot) * scale;
                    const float *k = qkv + ((size_t)b * T + s) * 3 * C + C + h * HS;
                    float *dk = dqkv + ((size_t)b * T + s) * 3 * C + C + h * HS;
                    for (int i = 0; i < HS; i++) { dq[i] += (float)(ds * k[i]); dk[i] += (float)(ds * q[i]); }
                }
            }
    free(att);
    free(tmp);
    free(da);
}

/* losses[r] = logsumexp(logits[r,:V]) - logits[r,target]; with grad, grad (N,Vp) = (softmax - onehot) * dloss. */
static inline void ref_classifier(float *losses, float *grad, const float *logits, const int *targets, int N, int V,
                                  int Vp, float dloss)
{
    for (int r = 0; r < N; r++) {
        const float *x = logits + (size_t)r * Vp;
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < V; i++) if (x[i] > mx) mx = x[i];
        for (int i = 0; i < V; i++) sum += exp(x[i] - mx);
        double lse = mx + log(sum);
        losses[r] = (float)(lse - x[targets[r]]);
        if (grad)
            for (int i = 0; i < Vp; i++)
                grad[(size_t)r * Vp + i] = i < V ? (float)((exp(x[i] - lse) - (i == targets[r])) * dloss) : 0.0f;
    }
}

static inline void ref_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                             float eps, float wd, int t)
{
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] = (float)(p[i] * (1.0 - (double)lr * wd) - (lr / bc1) * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps));
    }
}

/* max |a - b| / max |b|: the norm-wise relative error of a against b. */
static inline double ref_rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= num)) num = d;   /* NaN propagates */
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}
#endif
