/* Elementwise and row-wise layers of the CPU backend: token + position
 * encoder, LayerNorm, GELU.  Row-wise work is split over rows; reductions
 * over rows (parameter gradients) are split over columns so that every sum
 * runs in one fixed order whatever the thread count. */
#include <math.h>
#include <omp.h>
#include "gpu/cpu/kernels.h"

#define LN_EPS 1e-5f

void encoder_forward(float *out, const uint32_t *tok, int tok_stride, const float *wte,
                     const float *wpe, int B, int T, int C, int nthr)
{
    #pragma omp parallel for schedule(static) num_threads(nthr)
    for (int bt = 0; bt < B * T; bt++) {
        int b = bt / T, t = bt % T;
        const float *we = wte + (size_t)tok[(size_t)b * tok_stride + t] * C;
        const float *pe = wpe + (size_t)t * C;
        float *o = out + (size_t)bt * C;
        for (int i = 0; i < C; i++) o[i] = we[i] + pe[i];
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const uint32_t *tok,
                      int tok_stride, int B, int T, int C, int nthr)
{
    /* tokens repeat, so rows of dwte collide: split the channels instead */
    #pragma omp parallel num_threads(nthr)
    {
        int n = omp_get_num_threads(), id = omp_get_thread_num();
        int j0 = (int)((long)C * id / n), j1 = (int)((long)C * (id + 1) / n);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                const float *d = dout + ((size_t)b * T + t) * C;
                float *dw = dwte + (size_t)tok[(size_t)b * tok_stride + t] * C;
                float *dp = dwpe + (size_t)t * C;
                for (int j = j0; j < j1; j++) { dw[j] += d[j]; dp[j] += d[j]; }
            }
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C, int nthr)
{
    #pragma omp parallel for schedule(static) num_threads(nthr)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C;
        float *o = out + (size_t)r * C;
        float m = 0.0f;
        for (int i = 0; i < C; i++) m += x[i];
        m /= (float)C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) { float d = x[i] - m; v += d * d; }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + LN_EPS);
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        mean[r] = m;
        rstd[r] = s;
    }
}

void layernorm_backward(float *dinp_acc, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, int N, int C, int nthr)
{
    #pragma omp parallel num_threads(nthr)
    {
        /* d inp, row by row */
        #pragma omp for schedule(static)
        for (int r = 0; r < N; r++) {
            const float *x = inp + (size_t)r * C, *d = dout + (size_t)r * C;
            float m = mean[r], s = rstd[r];
            float dmean = 0.0f, dnmean = 0.0f;
            for (int i = 0; i < C; i++) {
                float dn = w[i] * d[i];
                dmean += dn;
                dnmean += dn * (x[i] - m) * s;
            }
            dmean /= (float)C;
            dnmean /= (float)C;
            float *di = dinp_acc + (size_t)r * C;
            for (int i = 0; i < C; i++) {
                float norm = (x[i] - m) * s;
                di[i] += (w[i] * d[i] - dmean - norm * dnmean) * s;
            }
        }
        /* d w, d b: columns split, rows summed in order */
        int n = omp_get_num_threads(), id = omp_get_thread_num();
        int j0 = (int)((long)C * id / n), j1 = (int)((long)C * (id + 1) / n);
        for (int r = 0; r < N; r++) {
            const float *x = inp + (size_t)r * C, *d = dout + (size_t)r * C;
            float m = mean[r], s = rstd[r];
            for (int j = j0; j < j1; j++) {
                dw[j] += d[j] * (x[j] - m) * s;
                db[j] += d[j];
            }
        }
    }
}

#define GELU_S 0.7978845608028654f   /* sqrt(2/pi) */

/* tanh(u) = 1 - 2 / (exp(2u) + 1), through the vectorisable exp */
static inline float tanh_fast(float u) { return 1.0f - 2.0f / (fast_expf(2.0f * u) + 1.0f); }

void gelu_forward(float *out, const float *inp, size_t n, int nthr)
{
    #pragma omp parallel for simd schedule(static) num_threads(nthr)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_S * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanh_fast(u));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n, int nthr)
{
    #pragma omp parallel for simd schedule(static) num_threads(nthr)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_S * (x + 0.044715f * x * x * x);
        float th = tanh_fast(u);
        float sech2 = 1.0f - th * th;
        float g = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = g * dout[i];
    }
}
