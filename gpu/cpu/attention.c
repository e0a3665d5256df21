/* Causal multi-head self-attention on the CPU.
 *
 * Per (batch, head) the products QK^T, PV and their gradients are sgemm
 * calls on strided views of qkv (no permute copies).  Causality is used to
 * skip work: rows are taken in blocks of ATT_BS and a row block only
 * multiplies the key columns up to its own end (about half the FLOPs of the
 * full T x T).  Forward keeps only the log-sum-exp of each softmax row;
 * backward recomputes the probabilities into a per-thread T x T scratch, so
 * the (B, NH, T, T) attention matrix is never stored. */
#include <math.h>
#include <omp.h>
#include <cblas.h>
#include "gpu/cpu/kernels.h"

#define ATT_BS 64

size_t attention_scratch_floats(int T)
{
    size_t n = 2 * (size_t)T * T + (size_t)T;
    return (n + 15) & ~(size_t)15;
}

/* S[r0:r0+rn, 0:cols] = scale * Q[r0:r0+rn] K[0:cols]^T, then softmax rows
 * in place (P), zero above the diagonal; lse of each row when lse != NULL,
 * otherwise P = exp(S - lse) with the given lse (backward recompute). */
static void scores_block(float *S, int T, const float *q, const float *k, int ld, int hs,
                         int r0, int rn, float scale, float *lse, int recompute)
{
    int cols = r0 + rn;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, cols, hs, scale,
                q + (size_t)r0 * ld, ld, k, ld, 0.0f, S + (size_t)r0 * T, T);
    for (int t = r0; t < r0 + rn; t++) {
        float *s = S + (size_t)t * T;
        if (recompute) {
            float l = lse[t];
            #pragma omp simd
            for (int j = 0; j <= t; j++) s[j] = fast_expf(s[j] - l);
        } else {
            float mx = -INFINITY;
            #pragma omp simd reduction(max:mx)
            for (int j = 0; j <= t; j++) mx = s[j] > mx ? s[j] : mx;
            float sum = 0.0f;
            #pragma omp simd reduction(+:sum)
            for (int j = 0; j <= t; j++) { s[j] = fast_expf(s[j] - mx); sum += s[j]; }
            float inv = 1.0f / sum;
            #pragma omp simd
            for (int j = 0; j <= t; j++) s[j] *= inv;
            lse[t] = mx + logf(sum);
        }
        for (int j = t + 1; j < cols; j++) s[j] = 0.0f;
    }
}

void attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C,
                       int NH, float *scratch, int nthr)
{
    int hs = C / NH, ld = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t per = attention_scratch_floats(T);
    #pragma omp parallel for schedule(static) num_threads(nthr)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        float *S = scratch + per * (size_t)omp_get_thread_num();
        const float *q = qkv + (size_t)b * T * ld + (size_t)h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *l = lse + (size_t)bh * T;
        float *o = out + (size_t)b * T * C + (size_t)h * hs;
        for (int r0 = 0; r0 < T; r0 += ATT_BS) {
            int rn = T - r0 < ATT_BS ? T - r0 : ATT_BS;
            scores_block(S, T, q, k, ld, hs, r0, rn, scale, l, 0);
            /* O[r0:r0+rn] = P[r0:r0+rn, 0:cols] V[0:cols] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, hs, r0 + rn, 1.0f,
                        S + (size_t)r0 * T, T, v, ld, 0.0f, o + (size_t)r0 * C, C);
        }
    }
}

void attention_backward(float *dqkv, const float *dout, const float *out, const float *lse,
                        const float *qkv, int B, int T, int C, int NH, float *scratch, int nthr)
{
    int hs = C / NH, ld = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    size_t per = attention_scratch_floats(T);
    #pragma omp parallel for schedule(static) num_threads(nthr)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        float *P = scratch + per * (size_t)omp_get_thread_num();
        float *dS = P + (size_t)T * T, *D = dS + (size_t)T * T;
        size_t base = (size_t)b * T * ld + (size_t)h * hs;
        const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
        const float *l = lse + (size_t)bh * T;
        const float *o = out + (size_t)b * T * C + (size_t)h * hs;
        const float *dO = dout + (size_t)b * T * C + (size_t)h * hs;
        /* D[t] = dO[t] . O[t]: the softmax Jacobian's row term */
        for (int t = 0; t < T; t++) {
            float s = 0.0f;
            for (int d = 0; d < hs; d++) s += dO[(size_t)t * C + d] * o[(size_t)t * C + d];
            D[t] = s;
        }
        for (int r0 = 0; r0 < T; r0 += ATT_BS) {
            int rn = T - r0 < ATT_BS ? T - r0 : ATT_BS, cols = r0 + rn;
            scores_block(P, T, q, k, ld, hs, r0, rn, scale, (float *)l, 1);
            /* dP = dO V^T, then dS = P * (dP - D) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, cols, hs, 1.0f,
                        dO + (size_t)r0 * C, C, v, ld, 0.0f, dS + (size_t)r0 * T, T);
            for (int t = r0; t < r0 + rn; t++) {
                float *ds = dS + (size_t)t * T;
                const float *p = P + (size_t)t * T;
                float dt = D[t];
                #pragma omp simd
                for (int j = 0; j < cols; j++) ds[j] = p[j] * (ds[j] - dt);
            }
            /* dQ[r0:r0+rn] = scale * dS[r0:, 0:cols] K[0:cols] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, hs, cols, scale,
                        dS + (size_t)r0 * T, T, k, ld, 0.0f, dq + (size_t)r0 * ld, ld);
        }
        for (int c0 = 0; c0 < T; c0 += ATT_BS) {
            int cn = T - c0 < ATT_BS ? T - c0 : ATT_BS;
            /* dV[c0:c0+cn] = P[c0:T, c0:c0+cn]^T dO[c0:T]; dK likewise from dS and Q */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cn, hs, T - c0, 1.0f,
                        P + (size_t)c0 * T + c0, T, dO + (size_t)c0 * C, C, 0.0f,
                        dv + (size_t)c0 * ld, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cn, hs, T - c0, scale,
                        dS + (size_t)c0 * T + c0, T, q + (size_t)c0 * ld, ld, 0.0f,
                        dk + (size_t)c0 * ld, ld);
        }
    }
}
