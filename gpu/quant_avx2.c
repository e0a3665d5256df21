/* AVX2 kernels of the link encodings (gpu/quant_impl.h): bf16, int8 and
 * fp4 blocks with explicit intrinsics, where the compiler's vectorisation
 * of the portable kernels leaves time on the table (the int32 -> int8 and
 * nibble narrowing, the E2M1 value table).  Every operation is the IEEE
 * one the portable kernels do, in the same order and without fused
 * multiply-adds, so the bits are the same on any AVX2 machine and equal
 * to the portable kernels' (tests/unit/test_quant.c checks both against a
 * scalar reference).  Built only when the compiler targets AVX2; else the
 * entry points decline and the portable kernels run. */
#include "gpu/quant_impl.h"
#include "gpu/quant.h"

#ifdef __AVX2__
#include <immintrin.h>

/* The largest bit pattern of |x| over nv vectors of 8 (nv even). */
static inline uint32_t top_of(const float *x, int nv)
{
    const __m256i abs = _mm256_set1_epi32(0x7fffffff);
    __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
    for (int v = 0; v < nv; v += 2) {
        m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 8 * v)), abs));
        m1 = _mm256_max_epu32(m1, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 8 * v + 8)), abs));
    }
    m0 = _mm256_max_epu32(m0, m1);
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(m0), _mm256_extracti128_si256(m0, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(m);
}

/* e = x + r for a block (error feedback), into buf. */
static inline const float *with_resid(const float *x, const float *r, int nv, float *buf)
{
    if (!r) return x;
    for (int v = 0; v < nv; v++)
        _mm256_storeu_ps(buf + 8 * v, _mm256_add_ps(_mm256_loadu_ps(x + 8 * v), _mm256_loadu_ps(r + 8 * v)));
    return buf;
}

/* A non-finite block: scale NaN, codes 0, residual NaN. */
static void bad_block(uint8_t *codes, size_t code_bytes, float *r, int nv)
{
    memset(codes, 0, code_bytes);
    if (r) for (int v = 0; v < nv; v++) _mm256_storeu_ps(r + 8 * v, _mm256_set1_ps(NAN));
}

/* ---- int8: blocks of 256 ------------------------------------------------ */

static void int8_block(const float *x, float *r, uint8_t *o)
{
    enum { NV = QUANT_INT8_BLOCK / 8 };
    float buf[QUANT_INT8_BLOCK];
    const float *e = with_resid(x, r, NV, buf);
    float scale, inv;
    int bad = quant_block_scale(top_of(e, NV), QUANT_INT8_QMAX, &scale, &inv);
    memcpy(o, &scale, 4);
    if (bad) { bad_block(o + 4, QUANT_INT8_BLOCK, r, NV); return; }
    const __m256 vinv = _mm256_set1_ps(inv), vs = _mm256_set1_ps(scale);
    const __m256 hi = _mm256_set1_ps(QUANT_INT8_QMAX), lo = _mm256_set1_ps(-QUANT_INT8_QMAX);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int v = 0; v < NV; v += 4) {
        __m256i q[4];
        for (int u = 0; u < 4; u++) {
            __m256 xv = _mm256_loadu_ps(e + 8 * (v + u));
            __m256 y = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(xv, vinv), lo), hi);
            q[u] = _mm256_cvtps_epi32(y);   /* the default rounding: to nearest, ties to even */
            if (r) _mm256_storeu_ps(r + 8 * (v + u), _mm256_sub_ps(xv, _mm256_mul_ps(_mm256_cvtepi32_ps(q[u]), vs)));
        }
        /* int32 -> int16 -> int8 packs work per 128-bit lane: restore the order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)(o + 4 + 8 * v), _mm256_permutevar8x32_epi32(p, order));
    }
}

/* Stores of decoded values: streaming (past the caches, no read for
 * ownership, as memcpy does for large copies) when out is 32-byte aligned
 * and the whole vector large (quant.c decides). */
static inline void put8(float *out, __m256 v, int nt)
{
    if (nt) _mm256_stream_ps(out, v);
    else _mm256_storeu_ps(out, v);
}

static void int8_values(const uint8_t *p, float *out, int nt)
{
    float scale;
    memcpy(&scale, p, 4);
    const __m256 vs = _mm256_set1_ps(scale);
    for (int i = 0; i < QUANT_INT8_BLOCK; i += 8) {
        __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 4 + i)));
        put8(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(q), vs), nt);
    }
}

/* ---- fp4 (E2M1): blocks of 32, low nibbles the first half --------------- */

static inline __m256 fp4_table(void) { return _mm256_setr_ps(0, 0.5f, 1, 1.5f, 2, 3, 4, 6); }

/* Signed values of 4-bit codes (one per int32 lane). */
static inline __m256 fp4_values8(__m256i c, __m256 table)
{
    __m256 mag = _mm256_permutevar8x32_ps(table, c);   /* uses the low 3 bits */
    __m256i sign = _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(8)), 28);
    return _mm256_or_ps(mag, _mm256_castsi256_ps(sign));
}

/* Nearest E2M1 code of y, ties to the even code (gpu/quant.c fp4_code):
 * the count of thresholds |y| passes, and the sign bit. */
static inline __m256i fp4_codes8(__m256 y)
{
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), y);
    /* a true compare is -1: subtracting the masks counts them */
    __m256i c = _mm256_setzero_si256();
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(0.25f), _CMP_GT_OQ)));
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(0.75f), _CMP_GE_OQ)));
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(1.25f), _CMP_GT_OQ)));
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(1.75f), _CMP_GE_OQ)));
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(2.5f), _CMP_GT_OQ)));
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(3.5f), _CMP_GE_OQ)));
    c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(5.0f), _CMP_GT_OQ)));
    __m256i sign = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(y), 28), _mm256_set1_epi32(8));
    return _mm256_or_si256(c, sign);
}

/* The scales of 8 blocks from their tops at once (quant_block_scale's
 * arithmetic, lane by lane): two vector divisions instead of sixteen
 * scalar ones in a row. */
static void scales8(const uint32_t *top, float qmax, float *scale, float *inv)
{
    const __m256i t = _mm256_loadu_si256((const __m256i *)top);
    const __m256 bad = _mm256_castsi256_ps(_mm256_cmpgt_epi32(t, _mm256_set1_epi32(0x7f7fffff)));   /* ≥ Inf */
    const __m256 q = _mm256_set1_ps(qmax);
    __m256 s = _mm256_div_ps(_mm256_andnot_ps(bad, _mm256_castsi256_ps(t)), q);
    s = _mm256_max_ps(s, _mm256_set1_ps(FLT_MIN));   /* s is never NaN: max = the comparison's choice */
    __m256 over = _mm256_cmp_ps(_mm256_mul_ps(q, s), _mm256_set1_ps(FLT_MAX), _CMP_GT_OQ);
    s = _mm256_blendv_ps(s, _mm256_castsi256_ps(_mm256_sub_epi32(_mm256_castps_si256(s), _mm256_set1_epi32(1))), over);
    __m256 i = _mm256_div_ps(_mm256_set1_ps(1.0f), s);
    _mm256_storeu_ps(scale, _mm256_blendv_ps(s, _mm256_set1_ps(NAN), bad));
    _mm256_storeu_ps(inv, _mm256_andnot_ps(bad, i));
}

/* One block of 32 whose scale is known. */
static void fp4_codes_block(const float *e, float *r, float scale, float inv, uint8_t *o)
{
    enum { NV = QUANT_FP4_BLOCK / 8 };
    memcpy(o, &scale, 4);
    if (isnan(scale)) { bad_block(o + 4, QUANT_FP4_BLOCK / 2, r, NV); return; }
    const __m256 vinv = _mm256_set1_ps(inv), vs = _mm256_set1_ps(scale), table = fp4_table();
    __m256i c[NV];
    for (int v = 0; v < NV; v++) {
        __m256 xv = _mm256_loadu_ps(e + 8 * v);
        c[v] = fp4_codes8(_mm256_mul_ps(xv, vinv));
        if (r) _mm256_storeu_ps(r + 8 * v, _mm256_sub_ps(xv, _mm256_mul_ps(fp4_values8(c[v], table), vs)));
    }
    /* byte i = code i | code 16 + i << 4 */
    __m256i lo = _mm256_or_si256(c[0], _mm256_slli_epi32(c[2], 4)), hi = _mm256_or_si256(c[1], _mm256_slli_epi32(c[3], 4));
    __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(lo, hi), _mm256_setzero_si256());
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 3, 6, 7));
    _mm_storeu_si128((__m128i *)(o + 4), _mm256_castsi256_si128(p));
}

/* 8 blocks of 32 (256 elements). */
static void fp4_group(const float *x, float *r, uint8_t *o)
{
    enum { B = QUANT_FP4_BLOCK, G = 8, BB = 4 + QUANT_FP4_BLOCK / 2 };
    float buf[B * G];
    const float *e = with_resid(x, r, B * G / 8, buf);
    uint32_t top[G];
    float scale[G], inv[G];
    for (int b = 0; b < G; b++) top[b] = top_of(e + B * b, B / 8);
    scales8(top, QUANT_FP4_QMAX, scale, inv);
    for (int b = 0; b < G; b++) fp4_codes_block(e + B * b, r ? r + B * b : NULL, scale[b], inv[b], o + BB * b);
}

static void fp4_block(const float *x, float *r, uint8_t *o)
{
    float buf[QUANT_FP4_BLOCK];
    const float *e = with_resid(x, r, QUANT_FP4_BLOCK / 8, buf);
    float scale, inv;
    quant_block_scale(top_of(e, QUANT_FP4_BLOCK / 8), QUANT_FP4_QMAX, &scale, &inv);
    fp4_codes_block(e, r, scale, inv, o);
}

static void fp4_decode_block(const uint8_t *p, float *out, int nt)
{
    float scale;
    memcpy(&scale, p, 4);
    const __m256 vs = _mm256_set1_ps(scale), table = fp4_table();
    __m128i b = _mm_loadu_si128((const __m128i *)(p + 4)), m = _mm_set1_epi8(15);
    __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
    __m256i c[4] = { _mm256_cvtepu8_epi32(lo), _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)),
                     _mm256_cvtepu8_epi32(hi), _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)) };
    for (int v = 0; v < 4; v++) put8(out + 8 * v, _mm256_mul_ps(fp4_values8(c[v], table), vs), nt);
}

/* ---- bf16 --------------------------------------------------------------- */

/* Round to nearest even on the upper half; a NaN keeps its upper half, made quiet. */
static inline __m256i bf16_of8(__m256i u)
{
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
    __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(rounded, quiet, nan);
}

static void bf16_span(const float *x, float *r, size_t n, uint16_t *h, int nt)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = _mm256_loadu_ps(x + i), e1 = _mm256_loadu_ps(x + i + 8);
        if (r) { e0 = _mm256_add_ps(e0, _mm256_loadu_ps(r + i)); e1 = _mm256_add_ps(e1, _mm256_loadu_ps(r + i + 8)); }
        __m256i b0 = bf16_of8(_mm256_castps_si256(e0)), b1 = bf16_of8(_mm256_castps_si256(e1));
        if (r) {
            _mm256_storeu_ps(r + i, _mm256_sub_ps(e0, _mm256_castsi256_ps(_mm256_slli_epi32(b0, 16))));
            _mm256_storeu_ps(r + i + 8, _mm256_sub_ps(e1, _mm256_castsi256_ps(_mm256_slli_epi32(b1, 16))));
        }
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(b0, b1), _MM_SHUFFLE(3, 1, 2, 0));
        if (nt) _mm256_stream_si256((__m256i *)(h + i), p);
        else _mm256_storeu_si256((__m256i *)(h + i), p);
    }
    if (i < n) quant_generic_encode_span(QUANT_BF16, x + i, r ? r + i : NULL, n - i, (uint8_t *)(h + i));
}

static void bf16_decode(const uint16_t *h, size_t n, float *out, int nt)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
        put8(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(u, 16)), nt);
    }
    if (i < n) quant_generic_decode_span(QUANT_BF16, (const uint8_t *)(h + i), n - i, out + i);
}

/* ---- spans -------------------------------------------------------------- */

int quant_avx2_encode_span(int kind, const float *x, float *resid, size_t n, uint8_t *out, int nt)
{
    if (kind == QUANT_BF16) {   /* (int8 and fp4 blocks are not 32-byte aligned: plain stores) */
        nt = nt && ((uintptr_t)out & 31) == 0;
        bf16_span(x, resid, n, (uint16_t *)(void *)out, nt);
        if (nt) _mm_sfence();
        return 0;
    }
    if (kind != QUANT_INT8 && kind != QUANT_FP4) return -1;
    size_t bs = kind == QUANT_INT8 ? QUANT_INT8_BLOCK : QUANT_FP4_BLOCK, bb = quant_bytes(kind, bs);
    size_t full = n / bs, b = 0;
    if (kind == QUANT_FP4)   /* 8 blocks at a time, then one at a time */
        for (; b + 8 <= full; b += 8) fp4_group(x + b * bs, resid ? resid + b * bs : NULL, out + b * bb);
    for (; b < full; b++) {
        float *r = resid ? resid + b * bs : NULL;
        if (kind == QUANT_INT8) int8_block(x + b * bs, r, out + b * bb);
        else fp4_block(x + b * bs, r, out + b * bb);
    }
    if (full * bs < n)   /* the last, partial block */
        quant_generic_encode_span(kind, x + full * bs, resid ? resid + full * bs : NULL, n - full * bs, out + full * bb);
    return 0;
}

int quant_avx2_decode_span(int kind, const uint8_t *in, size_t n, float *out, int nt)
{
    nt = nt && ((uintptr_t)out & 31) == 0;
    if (kind == QUANT_BF16) bf16_decode((const uint16_t *)(const void *)in, n, out, nt);
    else if (kind != QUANT_INT8 && kind != QUANT_FP4) return -1;
    else {
        size_t bs = kind == QUANT_INT8 ? QUANT_INT8_BLOCK : QUANT_FP4_BLOCK, bb = quant_bytes(kind, bs);
        size_t full = n / bs;
        for (size_t b = 0; b < full; b++) {
            if (kind == QUANT_INT8) int8_values(in + b * bb, out + b * bs, nt);
            else fp4_decode_block(in + b * bb, out + b * bs, nt);
        }
        if (full * bs < n) quant_generic_decode_span(kind, in + full * bb, n - full * bs, out + full * bs);
    }
    if (nt) _mm_sfence();   /* streaming stores are ordered before anyone reads them */
    return 0;
}

#else   /* no AVX2 in this build: the portable kernels do everything */

int quant_avx2_encode_span(int kind, const float *x, float *resid, size_t n, uint8_t *out, int nt)
{
    (void)kind; (void)x; (void)resid; (void)n; (void)out; (void)nt;
    return -1;
}

int quant_avx2_decode_span(int kind, const uint8_t *in, size_t n, float *out, int nt)
{
    (void)kind; (void)in; (void)n; (void)out; (void)nt;
    return -1;
}
#endif
