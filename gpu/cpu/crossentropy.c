/* The tied LM head fused with softmax cross-entropy.
 *
 * The (N, V) logits are the biggest tensor of a small model (8 x 256 x 8192
 * floats = 64 MiB), so they are never materialised: each thread takes
 * `chunk` rows at a time, computes their logits into its own scratch
 * (chunk x V, sized to stay in L2), turns them into the loss and, in place,
 * into dlogits = (softmax - onehot) * dloss, and multiplies back to dx.  Then
 * all threads' dlogits (contiguous in scratch) update dwte in one product
 * split over vocabulary rows.  Only the true vocabulary is multiplied: padded
 * rows of wte are never read and never predicted. */
#include <math.h>
#include <omp.h>
#include <cblas.h>
#include "gpu/cpu/kernels.h"

/* loss of one row; turns logits into dlogits * dscale in place when dscale != 0 */
static float softmax_ce_row(float *z, int V, uint32_t target, float dscale, int backward)
{
    float mx = -INFINITY;
    #pragma omp simd reduction(max:mx)
    for (int j = 0; j < V; j++) mx = z[j] > mx ? z[j] : mx;
    float zt = z[target];
    float sum = 0.0f;
    if (backward) {
        #pragma omp simd reduction(+:sum)
        for (int j = 0; j < V; j++) { z[j] = fast_expf(z[j] - mx); sum += z[j]; }
        float s = dscale / sum;
        #pragma omp simd
        for (int j = 0; j < V; j++) z[j] *= s;
        z[target] -= dscale;
    } else {
        #pragma omp simd reduction(+:sum)
        for (int j = 0; j < V; j++) sum += fast_expf(z[j] - mx);
    }
    return mx + logf(sum) - zt;
}

float lmhead_crossentropy(float *losses, float *dx, float *dwte, const float *x,
                          const float *wte, const uint32_t *targets, int tgt_stride,
                          int B, int T, int C, int V, float grad_scale,
                          float *scratch, int chunk, int nthr)
{
    int N = B * T, backward = dx != NULL;
    float dscale = grad_scale / (float)N;
    #pragma omp parallel num_threads(nthr)
    {
        int n = omp_get_num_threads(), id = omp_get_thread_num();
        float *z = scratch + (size_t)id * chunk * V;
        for (int s0 = 0; s0 < N; s0 += n * chunk) {
            int r0 = s0 + id * chunk;
            int rn = r0 >= N ? 0 : (N - r0 < chunk ? N - r0 : chunk);
            if (rn > 0) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, V, C, 1.0f,
                            x + (size_t)r0 * C, C, wte, C, 0.0f, z, V);
                for (int i = 0; i < rn; i++) {
                    int r = r0 + i, b = r / T, t = r % T;
                    uint32_t tg = targets[(size_t)b * tgt_stride + t];
                    losses[r] = softmax_ce_row(z + (size_t)i * V, V, tg, dscale, backward);
                }
                if (backward)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rn, C, V, 1.0f,
                                z, V, wte, C, 0.0f, dx + (size_t)r0 * C, C);
            }
            if (backward) {
                /* dwte[v0:v1] += dlogits[s0:s0+K, v0:v1]^T x[s0:s0+K] */
                int K = N - s0 < n * chunk ? N - s0 : n * chunk;
                int v0 = (int)((long)V * id / n), v1 = (int)((long)V * (id + 1) / n);
                #pragma omp barrier
                if (v1 > v0)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, v1 - v0, C, K, 1.0f,
                                scratch + v0, V, x + (size_t)s0 * C, C, 1.0f,
                                dwte + (size_t)v0 * C, C);
                #pragma omp barrier
            }
        }
    }
    double total = 0.0;
    for (int r = 0; r < N; r++) total += losses[r];
    return (float)(total / N);
}
