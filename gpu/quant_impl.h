/* Internal to gpu/quant*.c: what the portable kernels (quant.c) and the
 * AVX2 ones (quant_avx2.c) share, so both compute every bit the same way
 * (gpu/quant.h has the formats).  A span is x[0..n) with n ≤ QUANT_SPAN,
 * made of whole blocks but the last; out starts at the span's first
 * block.  resid: error feedback (x + resid is encoded, resid gets what the
 * encoding dropped), NULL without. */
#ifndef PHOTON_QUANT_IMPL_H
#define PHOTON_QUANT_IMPL_H
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QUANT_SPAN ((size_t)1 << 16)
#define QUANT_INT8_QMAX 127.0f
#define QUANT_FP4_QMAX 6.0f

static inline uint32_t quant_f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float quant_u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* A block's scale from the largest bit pattern of |x| over it (top ≥
 * 0x7f800000: it holds a NaN or ±Inf): amax / qmax, at least FLT_MIN, one
 * ulp down if qmax · scale would overflow; NaN (and inv 0) for a
 * non-finite block.  Returns whether the block is non-finite. */
static inline int quant_block_scale(uint32_t top, float qmax, float *scale, float *inv)
{
    uint32_t bad = top >= 0x7f800000u;
    float s = quant_u2f(bad ? 0 : top) / qmax;
    s = s >= FLT_MIN ? s : FLT_MIN;
    s = qmax * s <= FLT_MAX ? s : quant_u2f(quant_f2u(s) - 1u);
    *scale = bad ? NAN : s;
    *inv = bad ? 0.0f : 1.0f / s;
    return (int)bad;
}

/* The portable kernels (quant.c): any span, any kind. */
void quant_generic_encode_span(int kind, const float *x, float *resid, size_t n, uint8_t *out);
void quant_generic_decode_span(int kind, const uint8_t *in, size_t n, float *out);

/* The AVX2 kernels (quant_avx2.c, built when the compiler targets AVX2):
 * bf16, int8 and fp4; a partial last block goes to the portable kernels.
 * Returns 0 when it did the span, -1 when this build has none for kind.
 * nt: write the decoded values (and bf16's encoding) with streaming stores
 * (a vector much larger than the caches, as memcpy does; ignored where
 * out is not 32-byte aligned). */
int quant_avx2_encode_span(int kind, const float *x, float *resid, size_t n, uint8_t *out, int nt);
int quant_avx2_decode_span(int kind, const uint8_t *in, size_t n, float *out, int nt);
/* Vectors from this many elements on are decoded with streaming stores. */
#define QUANT_STREAM_MIN ((size_t)4 << 20)
#endif
