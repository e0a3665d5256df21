/* Arithmetic on whole parameter vectors (models, updates), shared by the
 * supervisor's aggregation and the actors: a deterministic L2 norm and
 * axpy, multithreaded over fixed chunks. */
#include "gpu/vecops.h"
#include <math.h>
#include <stdlib.h>
#include "io/common.h"

/* Fixed chunk for the norm's partial sums: the reduction tree depends only on
 * n, never on the thread count.  64 Ki floats = 256 KiB, cache-sized.
 * Vectors under 8 chunks (2 MiB) stay on one thread: there a parallel
 * region costs more than it saves, and far more on a busy machine. */
#define VEC_CHUNK ((size_t)1 << 16)

double vec_norm(const float *x, size_t n, int threads, int64_t *first_bad)
{
    size_t nchunks = (n + VEC_CHUNK - 1) / VEC_CHUNK;
    double *part = xmalloc((nchunks ? nchunks : 1) * sizeof(double));
    threads = cpu_threads(threads);
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * VEC_CHUNK, hi = lo + VEC_CHUNK < n ? lo + VEC_CHUNK : n;
        /* four quarters summed side by side: four independent vector add
         * chains keep up with memory where one chain is latency-bound; the
         * order is fixed by the binary, so every run gives the same sum */
        size_t q = (hi - lo) / 4;
        const float *x0 = x + lo, *x1 = x0 + q, *x2 = x1 + q, *x3 = x2 + q;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        #pragma omp simd reduction(+:s0, s1, s2, s3)
        for (size_t i = 0; i < q; i++) {
            s0 += (double)x0[i] * (double)x0[i];
            s1 += (double)x1[i] * (double)x1[i];
            s2 += (double)x2[i] * (double)x2[i];
            s3 += (double)x3[i] * (double)x3[i];
        }
        for (size_t i = lo + 4 * q; i < hi; i++) s3 += (double)x[i] * (double)x[i];
        double s = (s0 + s1) + (s2 + s3);
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nchunks; c++) s += part[c];
    free(part);
    if (first_bad) *first_bad = -1;
    /* finite floats squared cannot overflow a double sum, so a non-finite
     * total means a non-finite element: find the first for the report */
    if (!isfinite(s)) {
        if (first_bad)
            for (size_t i = 0; i < n; i++)
                if (!isfinite(x[i])) { *first_bad = (int64_t)i; break; }
        return NAN;
    }
    return sqrt(s);
}

void vec_axpy(float *dst, const float *src, float w, size_t n, int init, int threads)
{
    threads = cpu_threads(threads);
    size_t nchunks = (n + VEC_CHUNK - 1) / VEC_CHUNK;
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * VEC_CHUNK, hi = lo + VEC_CHUNK < n ? lo + VEC_CHUNK : n;
        if (init)
            for (size_t i = lo; i < hi; i++) dst[i] = w * src[i];
        else
            for (size_t i = lo; i < hi; i++) dst[i] += w * src[i];
    }
}

void vec_scale(float *x, float f, size_t n, int threads)
{
    threads = cpu_threads(threads);
    size_t nchunks = (n + VEC_CHUNK - 1) / VEC_CHUNK;
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * VEC_CHUNK, hi = lo + VEC_CHUNK < n ? lo + VEC_CHUNK : n;
        for (size_t i = lo; i < hi; i++) x[i] *= f;
    }
}
