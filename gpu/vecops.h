/* Whole-vector arithmetic on parameter buffers (gpu/vecops.c). */
#ifndef PHOTON_VECOPS_H
#define PHOTON_VECOPS_H
#include <stddef.h>
#include <stdint.h>

/* The deterministic L2 norm (NAN and *first_bad >= 0 if non-finite; the
 * reduction tree depends on n only, never on the thread count), and
 * dst = w * src  (init) or dst += w * src, multithreaded. */
double vec_norm(const float *x, size_t n, int threads, int64_t *first_bad);
void vec_axpy(float *dst, const float *src, float w, size_t n, int init, int threads);
/* x *= f. */
void vec_scale(float *x, float f, size_t n, int threads);
#endif
