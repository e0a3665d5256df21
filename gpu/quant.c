/* The link encodings of gpu/quant.h: bf16, block-scaled int8 and E2M1 fp4,
 * with optional error feedback.  Each block is encoded from its own
 * elements only; OpenMP hands out fixed spans of whole blocks, so the
 * output never depends on the thread count.  The kernels here are
 * portable C written for the compiler to vectorise (no calls, no branches
 * on data); on a CPU build that targets AVX2 (x86-64-v3: the portable
 * build, and -march=native on such a CPU) the spans go to the AVX2 kernels
 * of gpu/quant_avx2.c, which compute the same bits (tests/unit/test_quant.c
 * holds both to a scalar reference).  Either way they run near memory
 * speed: photon-sim bench --runtime --quant. */
#include "gpu/quant.h"
#include "gpu/quant_impl.h"
#include <float.h>
#include <math.h>
#include <string.h>
#include "io/common.h"

/* Elements per OpenMP work item: a multiple of both block sizes; vectors of
 * fewer than 8 spans stay on one thread (as gpu/vecops.c). */
#define QCHUNK QUANT_SPAN
_Static_assert(QCHUNK % QUANT_INT8_BLOCK == 0 && QCHUNK % QUANT_FP4_BLOCK == 0, "chunks hold whole blocks");

#define INT8_QMAX QUANT_INT8_QMAX
#define FP4_QMAX QUANT_FP4_QMAX
#define SCALE_BYTES 4

static int portable_only;   /* quant_portable_kernels */

void quant_portable_kernels(int on) { portable_only = on; }

const char *quant_name(int kind)
{
    static const char *const names[QUANT_COUNT] = { "none", "bf16", "int8", "fp4" };
    return kind >= 0 && kind < QUANT_COUNT ? names[kind] : "?";
}

size_t quant_bytes(int kind, size_t n)
{
    size_t full, rem;
    switch (kind) {
    case QUANT_NONE: return 4 * n;
    case QUANT_BF16: return 2 * n;
    case QUANT_INT8:
        full = n / QUANT_INT8_BLOCK, rem = n % QUANT_INT8_BLOCK;
        return full * (SCALE_BYTES + QUANT_INT8_BLOCK) + (rem ? SCALE_BYTES + rem : 0);
    case QUANT_FP4:
        full = n / QUANT_FP4_BLOCK, rem = n % QUANT_FP4_BLOCK;
        return full * (SCALE_BYTES + QUANT_FP4_BLOCK / 2) + (rem ? SCALE_BYTES + (rem + 1) / 2 : 0);
    }
    return 0;
}

static size_t block_of(int kind)
{
    return kind == QUANT_INT8 ? QUANT_INT8_BLOCK : kind == QUANT_FP4 ? QUANT_FP4_BLOCK : 1;
}

/* Round to nearest, ties to even, for |y| < 2^22: adding 1.5·2^23 leaves no
 * fraction bits, so the FPU's default rounding does the work (and the
 * compiler vectorises it, which it does not for rintf on every target). */
static inline float rne(float y)
{
    const float magic = 0x1.8p23f;
    return (y + magic) - magic;
}

#define f2u quant_f2u
#define u2f quant_u2f

/* The largest bit pattern of |x| over a block: for non-negative floats
 * the integer order is the numeric order, and Inf and NaN lie above every
 * finite value, so one integer max reduction (which vectorises, where a
 * float one with its NaN rules does not) gives both the block's amax and
 * whether it holds a non-finite element (result ≥ 0x7f800000). */
static inline __attribute__((always_inline)) uint32_t block_top(const float *x, size_t m)
{
    uint32_t top = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t a = f2u(x[i]) & 0x7fffffffu;
        top = a > top ? a : top;
    }
    return top;
}

/* ---- bf16 ------------------------------------------------------------- */

static inline uint16_t bf16_of(float x)
{
    uint32_t u = f2u(x);
    uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)(nan ? (u >> 16) | 0x40u : rounded);
}

static inline float bf16_to(uint16_t h) { return u2f((uint32_t)h << 16); }

/* ---- block scales ----------------------------------------------------- */

/* Elements whose block scales are computed together: the per-block scalar
 * work (a reduction, two divisions) then runs as vector loops across
 * blocks instead of as a latency chain inside each block. */
#define GROUP 2048
_Static_assert(QCHUNK % GROUP == 0 && GROUP % QUANT_INT8_BLOCK == 0 && GROUP % QUANT_FP4_BLOCK == 0, "groups of whole blocks");

/* Scales of the blocks of x[0..n) (n ≤ GROUP, blocks of bs): scale[b] as
 * stored (NaN for a block with a non-finite element) and inv[b] = 1/scale
 * (0 for such a block); returns whether any block is non-finite. */
static int group_scales(const float *restrict x, size_t n, size_t bs, float qmax, float *restrict scale,
                        float *restrict inv)
{
    size_t nb = (n + bs - 1) / bs;
    uint32_t top[GROUP / QUANT_FP4_BLOCK];
    for (size_t b = 0; b < nb; b++) {
        size_t m = n - b * bs < bs ? n - b * bs : bs;
        top[b] = m == QUANT_FP4_BLOCK ? block_top(x + b * bs, QUANT_FP4_BLOCK)
                 : m == QUANT_INT8_BLOCK ? block_top(x + b * bs, QUANT_INT8_BLOCK) : block_top(x + b * bs, m);
    }
    int any_bad = 0;
    for (size_t b = 0; b < nb; b++) any_bad |= quant_block_scale(top[b], qmax, &scale[b], &inv[b]);
    return any_bad;
}

/* ---- int8 ------------------------------------------------------------- */

/* Codes of a block; with r, also the residual r = x − decode(code) (the
 * same arithmetic as int8_values, so it equals decoding the block). */
static inline void int8_codes(const float *restrict x, size_t m, float inv, float scale, int8_t *restrict q,
                              float *restrict r)
{
    for (size_t i = 0; i < m; i++) {
        float y = x[i] * inv;
        y = y > INT8_QMAX ? INT8_QMAX : y < -INT8_QMAX ? -INT8_QMAX : y;
        float l = rne(y);
        q[i] = (int8_t)(int32_t)l;
        if (r) r[i] = x[i] - l * scale;
    }
}

static inline void int8_values(const int8_t *restrict q, size_t m, float scale, float *restrict out)
{
    for (size_t i = 0; i < m; i++) out[i] = (float)q[i] * scale;
}

/* ---- fp4 (E2M1) ------------------------------------------------------- */

/* The value of a 4-bit code, built from its bits (vectorises, where a
 * table lookup does not): magnitude code m = 2e + f is f·0.5 for e = 0,
 * else 2^(e−1)·(1 + f/2); bit 3 is the sign. */
static inline float fp4_value(uint32_t c)
{
    uint32_t m = c & 7u, e = m >> 1, f = m & 1u;
    uint32_t b = e ? (e + 126u) << 23 | f << 22 : f * (126u << 23);
    return u2f(b | (c & 8u) << 28);
}

/* Nearest E2M1 magnitude of |y|, ties to the even code: the midpoints
 * 0.25 1.25 2.5 5 go down (to codes 0 2 4 6), 0.75 1.75 3.5 go up (to
 * codes 2 4 6); beyond 6 it clamps to code 7. */
static inline uint32_t fp4_code(float y)
{
    float a = fabsf(y);
    uint32_t c = (uint32_t)(a > 0.25f) + (uint32_t)(a >= 0.75f) + (uint32_t)(a > 1.25f) +
                 (uint32_t)(a >= 1.75f) + (uint32_t)(a > 2.5f) + (uint32_t)(a >= 3.5f) + (uint32_t)(a > 5.0f);
    return c | (f2u(y) >> 31 << 3);
}

/* Codes are packed by halves: with h = ceil(m/2), element i < h is the low
 * nibble of byte i and element h + i the high nibble of byte i (so both
 * halves are contiguous runs of elements). */
/* Codes of a block; with r, also the residual r = x − decode(code). */
static inline void fp4_codes(const float *restrict x, size_t m, float inv, float scale, uint8_t *restrict codes,
                             float *restrict r)
{
    enum { B = QUANT_FP4_BLOCK, H = QUANT_FP4_BLOCK / 2 };
    uint32_t c[B + 1];   /* 32-bit codes first: full-width vectors, then one narrowing pass */
    if (m == B) {        /* constant trip counts: straight vector bodies */
        for (size_t i = 0; i < B; i++) c[i] = fp4_code(x[i] * inv);
        for (size_t i = 0; i < H; i++) codes[i] = (uint8_t)(c[i] | c[H + i] << 4);
        if (r) for (size_t i = 0; i < B; i++) r[i] = x[i] - fp4_value(c[i]) * scale;
        return;
    }
    size_t h = (m + 1) / 2;
    for (size_t i = 0; i < m; i++) c[i] = fp4_code(x[i] * inv);
    if (r) for (size_t i = 0; i < m; i++) r[i] = x[i] - fp4_value(c[i]) * scale;
    c[m] = 0;   /* an odd block's last high nibble */
    for (size_t i = 0; i < h; i++) codes[i] = (uint8_t)(c[i] | c[h + i] << 4);   /* h + i ≤ m */
}

static inline void fp4_values(const uint8_t *restrict codes, size_t m, float scale, float *restrict out)
{
    enum { B = QUANT_FP4_BLOCK, H = QUANT_FP4_BLOCK / 2 };
    uint32_t c[B];   /* widened first, so the value loop runs on full-width vectors */
    if (m == B) {
        for (size_t i = 0; i < H; i++) { c[i] = codes[i] & 15u; c[H + i] = (uint32_t)codes[i] >> 4; }
        for (size_t i = 0; i < B; i++) out[i] = fp4_value(c[i]) * scale;
        return;
    }
    size_t h = (m + 1) / 2;
    for (size_t i = 0; i < h; i++) out[i] = fp4_value(codes[i] & 15u) * scale;
    for (size_t i = 0; i < m - h; i++) out[h + i] = fp4_value((uint32_t)codes[i] >> 4) * scale;
}

/* ---- groups of blocks ------------------------------------------------- */

/* Encodes x[0..n) (n ≤ GROUP, whole blocks but the last) into out; with
 * r, also r = x − decode(out) (a non-finite block's residual is NaN, as
 * decoding it gives). */
static void encode_group(int kind, const float *restrict x, size_t n, uint8_t *restrict out, float *restrict r)
{
    size_t bs = block_of(kind), bb = quant_bytes(kind, bs);
    float scale[GROUP / QUANT_FP4_BLOCK], inv[GROUP / QUANT_FP4_BLOCK];
    group_scales(x, n, bs, kind == QUANT_INT8 ? INT8_QMAX : FP4_QMAX, scale, inv);
    for (size_t b = 0, lo = 0; lo < n; b++, lo += bs) {
        size_t m = n - lo < bs ? n - lo : bs;
        uint8_t *o = out + b * bb;
        float *rb = r ? r + lo : NULL;
        memcpy(o, &scale[b], SCALE_BYTES);
        if (isnan(scale[b])) {
            memset(o + SCALE_BYTES, 0, kind == QUANT_INT8 ? m : (m + 1) / 2);
            if (rb) for (size_t i = 0; i < m; i++) rb[i] = NAN;
        } else if (kind == QUANT_INT8) {
            if (m == QUANT_INT8_BLOCK) int8_codes(x + lo, QUANT_INT8_BLOCK, inv[b], scale[b], (int8_t *)(o + SCALE_BYTES), rb);
            else int8_codes(x + lo, m, inv[b], scale[b], (int8_t *)(o + SCALE_BYTES), rb);
        } else {
            fp4_codes(x + lo, m, inv[b], scale[b], o + SCALE_BYTES, rb);
        }
    }
}

static void decode_group(int kind, const uint8_t *restrict in, size_t n, float *restrict out)
{
    size_t bs = block_of(kind), bb = quant_bytes(kind, bs);
    for (size_t b = 0, lo = 0; lo < n; b++, lo += bs) {
        size_t m = n - lo < bs ? n - lo : bs;
        const uint8_t *p = in + b * bb;
        float scale;
        memcpy(&scale, p, SCALE_BYTES);
        if (kind == QUANT_INT8) {
            if (m == QUANT_INT8_BLOCK) int8_values((const int8_t *)(p + SCALE_BYTES), QUANT_INT8_BLOCK, scale, out + lo);
            else int8_values((const int8_t *)(p + SCALE_BYTES), m, scale, out + lo);
        } else {
            fp4_values(p + SCALE_BYTES, m, scale, out + lo);
        }
    }
}

/* ---- one chunk of whole blocks ------------------------------------------ */

void quant_generic_encode_span(int kind, const float *x, float *resid, size_t n, uint8_t *out)
{
    if (kind == QUANT_NONE) {
        if (!resid) { memcpy(out, x, n * 4); return; }
        for (size_t i = 0; i < n; i++) {
            float e = x[i] + resid[i];
            memcpy(out + 4 * i, &e, 4);
            resid[i] = 0.0f;
        }
        return;
    }
    if (kind == QUANT_BF16) {
        uint16_t *h = (uint16_t *)(void *)out;   /* 2-byte aligned: spans start at even offsets */
        if (!resid) {
            for (size_t i = 0; i < n; i++) h[i] = bf16_of(x[i]);
        } else {
            for (size_t i = 0; i < n; i++) {
                float e = x[i] + resid[i];
                uint16_t b = bf16_of(e);
                h[i] = b;
                resid[i] = e - bf16_to(b);
            }
        }
        return;
    }
    float e[GROUP];
    for (size_t lo = 0; lo < n; lo += GROUP) {
        size_t m = n - lo < GROUP ? n - lo : GROUP;
        uint8_t *o = out + quant_bytes(kind, lo);
        if (!resid) { encode_group(kind, x + lo, m, o, NULL); continue; }
        float *r = resid + lo;
        for (size_t i = 0; i < m; i++) e[i] = x[lo + i] + r[i];
        encode_group(kind, e, m, o, r);   /* r = e − decode(o) */
    }
}

void quant_generic_decode_span(int kind, const uint8_t *in, size_t n, float *out)
{
    if (kind == QUANT_NONE) { memcpy(out, in, n * 4); return; }
    if (kind == QUANT_BF16) {
        const uint16_t *h = (const uint16_t *)(const void *)in;
        for (size_t i = 0; i < n; i++) out[i] = bf16_to(h[i]);
        return;
    }
    for (size_t lo = 0; lo < n; lo += GROUP)
        decode_group(kind, in + quant_bytes(kind, lo), n - lo < GROUP ? n - lo : GROUP, out + lo);
}

static void encode_all(int kind, const float *x, float *resid, size_t n, void *out, int threads)
{
    if (kind < 0 || kind >= QUANT_COUNT) return;
    size_t nchunks = (n + QCHUNK - 1) / QCHUNK;
    threads = cpu_threads(threads);
    uint8_t *o = out;
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * QCHUNK, m = lo + QCHUNK < n ? QCHUNK : n - lo;
        float *r = resid ? resid + lo : NULL;
        uint8_t *dst = o + quant_bytes(kind, lo);
        if (portable_only || quant_avx2_encode_span(kind, x + lo, r, m, dst, n >= QUANT_STREAM_MIN) < 0)
            quant_generic_encode_span(kind, x + lo, r, m, dst);
    }
}

void quant_encode(int kind, const float *x, size_t n, void *out, int threads)
{
    encode_all(kind, x, NULL, n, out, threads);
}

void quant_encode_ef(int kind, const float *x, float *resid, size_t n, void *out, int threads)
{
    encode_all(kind, x, resid, n, out, threads);
}

void quant_decode(int kind, const void *in, size_t n, float *out, int threads)
{
    if (kind < 0 || kind >= QUANT_COUNT) return;
    size_t nchunks = (n + QCHUNK - 1) / QCHUNK;
    threads = cpu_threads(threads);
    const uint8_t *b = in;
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * QCHUNK, m = lo + QCHUNK < n ? QCHUNK : n - lo;
        const uint8_t *src = b + quant_bytes(kind, lo);
        if (portable_only || quant_avx2_decode_span(kind, src, m, out + lo, n >= QUANT_STREAM_MIN) < 0)
            quant_generic_decode_span(kind, src, m, out + lo);
    }
}
