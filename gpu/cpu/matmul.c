/* Matrix products of the CPU backend.  OpenBLAS runs single-threaded and we
 * split the output rows across OpenMP threads ourselves: one thread pool
 * instead of two competing ones (OpenMP and OpenBLAS both spin-wait, which
 * on a 2-core machine costs more than it gains), and each output element is
 * computed by exactly one thread in a fixed order (deterministic). */
#include <cblas.h>
#include <omp.h>
#include "gpu/cpu/kernels.h"

/* Rows [m0, m1) of thread `id` out of n, in multiples of 16 for the kernels. */
static void split_rows(int M, int id, int n, int *m0, int *m1)
{
    int blocks = (M + 15) / 16;
    int b0 = (int)((long)blocks * id / n), b1 = (int)((long)blocks * (id + 1) / n);
    *m0 = b0 * 16 < M ? b0 * 16 : M;
    *m1 = b1 * 16 < M ? b1 * 16 : M;
}

void gemm_par(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *Bm, int ldb, float beta,
              float *Cm, int ldc, int nthr)
{
    if (M <= 0 || N <= 0) return;
    /* small products are not worth waking the other threads for */
    if ((long)M * N * K < 32L * 1024 || M < 32) nthr = 1;
    #pragma omp parallel num_threads(nthr)
    {
        int n = omp_get_num_threads(), id = omp_get_thread_num(), m0, m1;
        split_rows(M, id, n, &m0, &m1);
        if (m1 > m0) {
            const float *a = transA ? A + m0 : A + (size_t)m0 * lda;
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                        transB ? CblasTrans : CblasNoTrans, m1 - m0, N, K, alpha,
                        a, lda, Bm, ldb, beta, Cm + (size_t)m0 * ldc, ldc);
        }
    }
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC, int accumulate, int nthr)
{
    /* fold the bias into C so the sgemm adds the product on top (beta = 1) */
    if (bias) {
        #pragma omp parallel for schedule(static) num_threads(nthr)
        for (int r = 0; r < N; r++) {
            float *o = out + (size_t)r * OC;
            if (accumulate) for (int j = 0; j < OC; j++) o[j] += bias[j];
            else for (int j = 0; j < OC; j++) o[j] = bias[j];
        }
    }
    float beta = (bias || accumulate) ? 1.0f : 0.0f;
    gemm_par(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, beta, out, OC, nthr);
}

void bias_backward(float *dbias, const float *dout, int N, int OC, int nthr)
{
    /* each thread owns a column range and sums the rows in order */
    #pragma omp parallel num_threads(nthr)
    {
        int n = omp_get_num_threads(), id = omp_get_thread_num();
        int j0 = (int)((long)OC * id / n), j1 = (int)((long)OC * (id + 1) / n);
        for (int r = 0; r < N; r++) {
            const float *d = dout + (size_t)r * OC;
            for (int j = j0; j < j1; j++) dbias[j] += d[j];
        }
    }
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                     const float *inp, const float *w, int N, int IC, int OC, int nthr)
{
    if (dinp) gemm_par(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC, nthr);
    /* dw (OC,IC) += dout^T (OC,N) @ inp (N,IC) */
    gemm_par(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC, nthr);
    if (dbias) bias_backward(dbias, dout, N, OC, nthr);
}
