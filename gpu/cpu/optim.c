/* Optimizer kernels of the CPU backend: the global gradient norm (summed in
 * a fixed block order, so the same for any thread count), scaling, and the
 * AdamW update in PyTorch's formulation. */
#include <math.h>
#include "gpu/cpu/kernels.h"

#define SUMSQ_BLOCK 65536

size_t optim_partials(size_t n) { return n / SUMSQ_BLOCK + 1; }

double sumsq_fixed(const float *x, size_t n, double *partials, int nthr)
{
    long nb = (long)optim_partials(n);
    #pragma omp parallel for schedule(static) num_threads(nthr)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * SUMSQ_BLOCK, i1 = i0 + SUMSQ_BLOCK < n ? i0 + SUMSQ_BLOCK : n;
        double s = 0.0;
        for (size_t i = i0; i < i1; i++) s += (double)x[i] * x[i];
        partials[b] = s;
    }
    double total = 0.0;
    for (long b = 0; b < nb; b++) total += partials[b];
    return total;
}

void scale_inplace(float *x, size_t n, float s, int nthr)
{
    #pragma omp parallel for simd schedule(static) num_threads(nthr)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

void adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float wd, float bc1, float bc2, int nthr)
{
    /* p <- p (1 - lr wd) - lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), as torch.optim.AdamW */
    float decay = 1.0f - lr * wd, step = lr / bc1, sbc2 = sqrtf(bc2);
    #pragma omp parallel for simd schedule(static) num_threads(nthr)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi) / sbc2 + eps);
    }
}
