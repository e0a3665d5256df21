/* Lossy encodings of fp32 vectors for the link (DESIGN §8): what a client
 * sends as its pseudo-gradient ([aggregator] compression) and what the
 * supervisor sends as the model (broadcast_compression).  The numerics are
 * shared by actors (encode) and supervisor (decode), so both ends agree on
 * every bit.
 *
 * Formats (little-endian; n elements):
 *   none  n × fp32, as is.                                 4 bytes/element
 *   bf16  n × the upper 16 bits of the fp32, rounded to nearest, ties to
 *         even (IEEE).  NaN stays NaN (made quiet), ±Inf stays ±Inf; a
 *         finite value beyond bf16's largest rounds to ±Inf, as IEEE
 *         rounding does (such an update is then rejected as non-finite, as
 *         its norm would be anyway).                       2 bytes/element
 *   int8  blocks of 256 elements (the last block may be shorter), each
 *         [scale: fp32][q: int8 × block]; x ≈ q · scale.   1.0156 bytes/element
 *   fp4   blocks of 32 elements, each [scale: fp32][codes: ceil(block/2)
 *         bytes], two 4-bit E2M1 codes a byte, element 2i in the low
 *         nibble (a last odd element leaves the high nibble 0).  E2M1:
 *         sign bit 3, magnitude code 0..7 = 0, 0.5, 1, 1.5, 2, 3, 4, 6;
 *         x ≈ value(code) · scale.                         0.625 bytes/element
 *
 * Block scales (int8, fp4): scale = amax / qmax in fp32 (amax = the largest
 * |x| of the block, qmax = 127 or 6), but never below FLT_MIN (2^-126), so
 * its reciprocal is finite and a block of zeros or of subnormals is still
 * well defined (subnormal inputs then quantise to 0 or to ±2^-126 steps:
 * absolute error ≤ 2^-127); if qmax · scale would overflow (amax near
 * FLT_MAX) the scale steps down one ulp, so every decoded value is finite.
 * Quantisation is y = x · (1/scale), then round to nearest with ties to
 * even (int8: to an integer, clamped to ±127; fp4: to the nearest E2M1
 * value, ties to the even code, clamped to 6).  Round-to-nearest-even
 * rather than stochastic rounding: deterministic without an RNG stream to
 * seed and checkpoint, and error feedback (quant_encode_ef) removes the
 * bias it has for values below half a step.
 *
 * Non-finite input is never laundered into finite numbers: a block (int8,
 * fp4) holding any NaN or ±Inf is sent with scale = NaN and all codes 0, so
 * each of its elements decodes to NaN; bf16 keeps NaN and Inf per element.
 * The supervisor's finiteness check then rejects the update.
 *
 * Every function works block by block, each block's arithmetic independent
 * of the others and of the thread that does it: the bytes are the same for
 * any thread count.  threads: 0 = all cores. */
#ifndef PHOTON_QUANT_H
#define PHOTON_QUANT_H
#include <stddef.h>
#include <stdint.h>

typedef enum { QUANT_NONE = 0, QUANT_BF16 = 1, QUANT_INT8 = 2, QUANT_FP4 = 3, QUANT_COUNT } quant_kind;

#define QUANT_INT8_BLOCK 256
#define QUANT_FP4_BLOCK 32

/* "none", "bf16", "int8", "fp4" (the config values); "?" otherwise. */
const char *quant_name(int kind);
/* Encoded size of n elements; 0 for an unknown kind. */
size_t quant_bytes(int kind, size_t n);

/* out (quant_bytes(kind, n) bytes) = the encoding of x[0..n). */
void quant_encode(int kind, const float *x, size_t n, void *out, int threads);
/* Error feedback: e = x + resid; out = encode(e); resid = e − decode(out).
 * x and resid are n floats (they must not overlap).  Kind none sends e and
 * leaves resid 0. */
void quant_encode_ef(int kind, const float *x, float *resid, size_t n, void *out, int threads);
/* out[0..n) = the values in (quant_bytes(kind, n) bytes).  Any bytes are a
 * valid encoding (they decode to some floats, NaN included): the caller
 * checks the size against what it expects, never the content. */
void quant_decode(int kind, const void *in, size_t n, float *out, int threads);

/* Test and bench seam: 1 = use the portable C kernels even where the AVX2
 * ones are built (the bits are the same; only the speed differs). */
void quant_portable_kernels(int on);
/* Whether this build has the AVX2 kernels (gpu/quant_avx2.c). */
#ifdef __AVX2__
#define QUANT_HAVE_AVX2 1
#else
#define QUANT_HAVE_AVX2 0
#endif
#endif
