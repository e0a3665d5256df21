/* The link encodings (gpu/quant.h) against blocks worked out by hand (exact
 * bytes and values: ties to even, zeros, ±Inf, NaN, the last partial block,
 * subnormals, FLT_MAX), against an independent scalar reference (a
 * nearest-value search rather than gpu/quant.c's thresholds and rounding
 * trick; decoding and error feedback written out): the kernels that run
 * (AVX2 where the build targets it) and the portable ones, bit for bit, on
 * random data with zeros, ±Inf, NaNs, subnormals and partial last blocks,
 * exact ties and edge blocks; thread-count independence; and error
 * feedback: the sum of what is sent tracks the sum of the true updates
 * within half a step, however many rounds, where without it the drift
 * grows. */
#include "harness.h"
#include "gpu/quant.h"
#include "io/common.h"
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

static uint32_t bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static float from_bits(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static float scale_at(const uint8_t *p) { float s; memcpy(&s, p, 4); return s; }

static void test_sizes(void)
{
    CHECK_EQ_INT(quant_bytes(QUANT_NONE, 10), 40);
    CHECK_EQ_INT(quant_bytes(QUANT_BF16, 10), 20);
    CHECK_EQ_INT(quant_bytes(QUANT_INT8, 256), 260);
    CHECK_EQ_INT(quant_bytes(QUANT_INT8, 259), 267);   /* 260 + scale + 3 */
    CHECK_EQ_INT(quant_bytes(QUANT_FP4, 32), 20);
    CHECK_EQ_INT(quant_bytes(QUANT_FP4, 35), 26);      /* 20 + scale + 2 bytes for 3 codes */
    CHECK_EQ_INT(quant_bytes(QUANT_FP4, 33), 25);
    CHECK_EQ_INT(quant_bytes(QUANT_INT8, 0), 0);
    CHECK_EQ_INT(quant_bytes(7, 10), 0);
    CHECK_STR(quant_name(QUANT_FP4), "fp4");
    CHECK_STR(quant_name(9), "?");
}

static void test_bf16_hand(void)
{
    uint32_t in[] = { 0x3F800000u, 0x3F808000u /* tie: down to even */, 0x3F818000u /* tie: up to even */,
                      0x3F808001u, 0x7F800000u, 0xFF800000u, 0x7FC00001u, 0x7F800001u /* signalling NaN */,
                      0x7F7FFFFFu /* FLT_MAX */, 0x00000001u /* smallest subnormal */, 0x00018000u, 0x80000000u };
    uint16_t want[] = { 0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x7F80, 0xFF80, 0x7FC0, 0x7FC0, 0x7F80, 0x0000, 0x0002, 0x8000 };
    size_t n = sizeof in / sizeof in[0];
    float x[16];
    uint16_t out[16];
    float back[16];
    for (size_t i = 0; i < n; i++) x[i] = from_bits(in[i]);
    quant_encode(QUANT_BF16, x, n, out, 1);
    for (size_t i = 0; i < n; i++) CHECK_MSG(out[i] == want[i], "bf16 of %08x: %04x, want %04x", in[i], out[i], want[i]);
    quant_decode(QUANT_BF16, out, n, back, 1);
    CHECK(back[0] == 1.0f && back[2] == from_bits(0x3F820000u));
    CHECK(isinf(back[4]) && back[4] > 0 && isinf(back[5]) && back[5] < 0);
    CHECK(isnan(back[6]) && isnan(back[7]));   /* a signalling NaN does not become Inf */
    CHECK(isinf(back[8]));                     /* IEEE overflow: rejected downstream as non-finite */
    CHECK(back[9] == 0.0f && bits(back[11]) == 0x80000000u);
}

/* scale 1 (amax 127) and scale 2 (amax 254): every value exact. */
static void test_int8_hand(void)
{
    float x[9] = { 127, -127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.6f, 3.49f };
    int8_t want[9] = { 127, -127, 0, 2, 2, 0, -2, 127, 3 };
    uint8_t b[64];
    float back[9];
    quant_encode(QUANT_INT8, x, 9, b, 1);
    CHECK(scale_at(b) == 1.0f);
    for (int i = 0; i < 9; i++) CHECK_MSG((int8_t)b[4 + i] == want[i], "int8 of %g: %d, want %d", x[i], (int8_t)b[4 + i], want[i]);
    quant_decode(QUANT_INT8, b, 9, back, 1);
    for (int i = 0; i < 9; i++) CHECK(back[i] == (float)want[i]);

    float y[5] = { 254, 1, 3, 5, -3 };
    float yb[5], ywant[5] = { 254, 0, 4, 4, -4 };
    quant_encode(QUANT_INT8, y, 5, b, 1);
    CHECK(scale_at(b) == 2.0f);
    quant_decode(QUANT_INT8, b, 5, yb, 1);
    for (int i = 0; i < 5; i++) CHECK_MSG(yb[i] == ywant[i], "int8 scale 2: %g -> %g, want %g", y[i], yb[i], ywant[i]);
}

/* Two blocks, the second partial (3 elements) with scale 4. */
static void test_int8_partial_and_nonfinite(void)
{
    enum { N = 259 };
    float x[N], back[N];
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 5) - 2.0f;   /* amax 2 */
    x[256] = 508; x[257] = 2; x[258] = -6;
    uint8_t b[267 + 8];
    memset(b, 0xee, sizeof b);
    quant_encode(QUANT_INT8, x, N, b, 1);
    CHECK(b[267] == 0xee);   /* nothing written past the encoding */
    CHECK(scale_at(b + 260) == 4.0f);
    CHECK((int8_t)b[264] == 127 && (int8_t)b[265] == 0 && (int8_t)b[266] == -2);
    quant_decode(QUANT_INT8, b, N, back, 1);
    CHECK(back[256] == 508 && back[257] == 0 && back[258] == -8);
    for (int i = 0; i < 256; i++) CHECK_MSG(fabsf(back[i] - x[i]) <= 2.0f / 127 / 2 * 1.0001f, "block 0 element %d", i);

    /* An Inf in the last block: that block decodes to NaN, the first is intact. */
    x[257] = INFINITY;
    quant_encode(QUANT_INT8, x, N, b, 1);
    CHECK(isnan(scale_at(b + 260)));
    quant_decode(QUANT_INT8, b, N, back, 1);
    CHECK(isnan(back[256]) && isnan(back[257]) && isnan(back[258]));
    CHECK(isfinite(back[0]) && back[4] == x[4]);
    /* A NaN in the first block. */
    x[257] = 2;
    x[3] = NAN;
    quant_encode(QUANT_INT8, x, N, b, 1);
    quant_decode(QUANT_INT8, b, N, back, 1);
    int all_nan = 1;
    for (int i = 0; i < 256; i++) all_nan &= isnan(back[i]);
    CHECK_MSG(all_nan, "a NaN poisons its whole block");
    CHECK(back[256] == 508);
}

static void test_int8_zeros_subnormals_max(void)
{
    float z[4] = { 0, -0.0f, 0, 0 }, back[4];
    uint8_t b[16];
    quant_encode(QUANT_INT8, z, 4, b, 1);
    CHECK(scale_at(b) == FLT_MIN);
    quant_decode(QUANT_INT8, b, 4, back, 1);
    CHECK(back[0] == 0 && back[1] == 0);

    /* amax 3·2^-126: the scale floors at 2^-126, so y = x · 2^126 exactly. */
    float s[4] = { 3 * FLT_MIN, 0.4f * FLT_MIN, -0.6f * FLT_MIN, 1e-45f };
    quant_encode(QUANT_INT8, s, 4, b, 1);
    CHECK(scale_at(b) == FLT_MIN);
    CHECK((int8_t)b[4] == 3 && (int8_t)b[5] == 0 && (int8_t)b[6] == -1 && (int8_t)b[7] == 0);
    quant_decode(QUANT_INT8, b, 4, back, 1);
    CHECK(back[0] == 3 * FLT_MIN && back[1] == 0 && back[2] == -FLT_MIN && back[3] == 0);

    float m[3] = { FLT_MAX, -FLT_MAX, 1 };
    quant_encode(QUANT_INT8, m, 3, b, 1);
    quant_decode(QUANT_INT8, b, 3, back, 1);
    CHECK_MSG(isfinite(back[0]) && isfinite(back[1]), "FLT_MAX decodes finite (%g)", back[0]);
    CHECK(back[0] >= FLT_MAX * 0.99999f && back[1] == -back[0] && back[2] == 0);
    CHECK(isfinite(127.0f * scale_at(b)));
}

/* scale 1 (amax 6): every midpoint, both rounding directions. */
static void test_fp4_hand(void)
{
    float x[16] = { 6, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5, -6, -0.3f, 0.1f, 4.4f, 2.9f, 1.1f, 0.6f, -0.0f };
    float want[16] = { 6, 0, 1, 1, 2, 2, 4, 4, -6, -0.5f, 0, 4, 3, 1, 0.5f, -0.0f };
    /* codes 7 0 2 2 4 4 6 6 | 15 9 0 6 5 2 1 8, packed by halves: byte i = code i | code 8+i << 4 */
    uint8_t codes[8] = { 0xF7, 0x90, 0x02, 0x62, 0x54, 0x24, 0x16, 0x86 };
    uint8_t b[32];
    float back[16];
    quant_encode(QUANT_FP4, x, 16, b, 1);
    CHECK(scale_at(b) == 1.0f);
    for (int i = 0; i < 8; i++) CHECK_MSG(b[4 + i] == codes[i], "fp4 byte %d: %02x, want %02x", i, b[4 + i], codes[i]);
    quant_decode(QUANT_FP4, b, 16, back, 1);
    for (int i = 0; i < 16; i++) CHECK_MSG(bits(back[i]) == bits(want[i]), "fp4 of %g: %g, want %g", x[i], back[i], want[i]);
}

static void test_fp4_partial_and_nonfinite(void)
{
    enum { N = 35 };
    float x[N], back[N];
    for (int i = 0; i < 32; i++) x[i] = (i & 1) ? 12 : -3;   /* scale 2: codes 7 (6·2) and 8|3 (-1.5·2) */
    x[32] = 1.5f; x[33] = -0.75f; x[34] = 0.3f;               /* scale 0.25: 6, -3, 1.2 -> 6, -3, 1 */
    uint8_t b[26 + 4];
    memset(b, 0xee, sizeof b);
    quant_encode(QUANT_FP4, x, N, b, 1);
    CHECK(b[26] == 0xee);
    CHECK(scale_at(b) == 2.0f && b[4] == 0xBB && b[5] == 0x77);   /* elements 0|16, 1|17 */
    CHECK(scale_at(b + 20) == 0.25f);
    CHECK(b[24] == 0x27 && b[25] == 0x0D);   /* h = 2: elements 0|2, then 1 with high nibble 0 */
    quant_decode(QUANT_FP4, b, N, back, 1);
    CHECK(back[0] == -3 && back[1] == 12);
    CHECK(back[32] == 1.5f && back[33] == -0.75f && back[34] == 0.25f);

    x[0] = -INFINITY;
    quant_encode(QUANT_FP4, x, N, b, 1);
    quant_decode(QUANT_FP4, b, N, back, 1);
    CHECK(isnan(back[0]) && isnan(back[31]) && back[32] == 1.5f);

    float sub[3] = { 1e-40f, -2e-41f, 0 }, sb[3];
    quant_encode(QUANT_FP4, sub, 3, b, 1);
    CHECK(scale_at(b) == FLT_MIN);
    quant_decode(QUANT_FP4, b, 3, sb, 1);
    CHECK(sb[0] == 0 && sb[1] == 0 && sb[2] == 0);
    float m[2] = { -FLT_MAX, 1 };
    quant_encode(QUANT_FP4, m, 2, b, 1);
    quant_decode(QUANT_FP4, b, 2, sb, 1);
    CHECK(isfinite(sb[0]) && sb[0] <= -FLT_MAX * 0.99999f && sb[1] == 0);
}

/* ---- an independent reference ------------------------------------------- */

static const float grid[8] = { 0, 0.5f, 1, 1.5f, 2, 3, 4, 6 };

static float ref_scale(float amax, float qmax)
{
    float s = amax / qmax;
    if (s < FLT_MIN) s = FLT_MIN;
    while (isinf(qmax * s)) s = nextafterf(s, 0);
    return s;
}

/* Nearest of the candidates by search, ties to the even code/integer. */
static void ref_encode(int kind, const float *x, size_t n, uint8_t *out)
{
    if (kind == QUANT_BF16) {
        for (size_t i = 0; i < n; i++) {
            uint32_t u = bits(x[i]), lo = u & 0xffff0000u;
            uint16_t h;
            if (isnan(x[i])) h = (uint16_t)((u >> 16) | 0x40);
            else if (isinf(x[i])) h = (uint16_t)(u >> 16);
            else {
                /* above bf16's largest finite, the next step is 2^128 (Inf) */
                double vhi = (lo & 0x7fffffffu) == 0x7f7f0000u ? copysign(ldexp(1, 128), x[i]) : from_bits(lo + 0x10000u);
                double dlo = fabs((double)x[i] - (double)from_bits(lo)), dhi = fabs(vhi - (double)x[i]);
                h = (uint16_t)(dlo < dhi || (dlo == dhi && !(lo & 0x10000u)) ? lo >> 16 : (lo + 0x10000u) >> 16);
            }
            memcpy(out + 2 * i, &h, 2);
        }
        return;
    }
    size_t bs = kind == QUANT_INT8 ? 256 : 32, bb = quant_bytes(kind, bs);
    for (size_t lo = 0; lo < n; lo += bs) {
        size_t m = n - lo < bs ? n - lo : bs;
        uint8_t *o = out + lo / bs * bb;
        float amax = 0;
        int finite = 1;
        for (size_t i = 0; i < m; i++) { amax = fmaxf(amax, fabsf(x[lo + i])); finite &= isfinite(x[lo + i]); }
        if (!finite) {   /* scale NaN, codes 0 */
            float nan = NAN;
            memcpy(o, &nan, 4);
            memset(o + 4, 0, kind == QUANT_INT8 ? m : (m + 1) / 2);
            continue;
        }
        float s = ref_scale(amax, kind == QUANT_INT8 ? 127 : 6), inv = 1 / s;
        memcpy(o, &s, 4);
        if (kind == QUANT_INT8) {
            for (size_t i = 0; i < m; i++) {
                double y = fmin(fmax((double)(x[lo + i] * inv), -127), 127);
                o[4 + i] = (uint8_t)(int8_t)nearbyint(y);   /* default mode: ties to even */
            }
        } else {
            memset(o + 4, 0, (m + 1) / 2);
            for (size_t i = 0; i < m; i++) {
                float y = x[lo + i] * inv;
                double a = fabs((double)y), best = 1e300;
                int c = 0;
                for (int k = 0; k < 8; k++) {
                    double d = fabs(a - grid[k]);
                    if (d < best || (d == best && !(k & 1))) { best = d; c = k; }
                }
                if (signbit(y)) c |= 8;
                size_t h = (m + 1) / 2;
                o[4 + (i < h ? i : i - h)] |= (uint8_t)(i < h ? c : c << 4);
            }
        }
    }
}

/* Decoding, written out: int8 q·scale, fp4 grid value (signed)·scale, bf16 the upper half. */
static void ref_decode(int kind, const uint8_t *in, size_t n, float *out)
{
    if (kind == QUANT_BF16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, in + 2 * i, 2);
            out[i] = from_bits((uint32_t)h << 16);
        }
        return;
    }
    size_t bs = kind == QUANT_INT8 ? 256 : 32, bb = quant_bytes(kind, bs);
    for (size_t lo = 0; lo < n; lo += bs) {
        size_t m = n - lo < bs ? n - lo : bs, h = (m + 1) / 2;
        const uint8_t *p = in + lo / bs * bb;
        float sc = scale_at(p);
        for (size_t i = 0; i < m; i++) {
            if (kind == QUANT_INT8) { out[lo + i] = (float)(int8_t)p[4 + i] * sc; continue; }
            int c = i < h ? p[4 + i] & 15 : p[4 + i - h] >> 4;
            float v = grid[c & 7];
            out[lo + i] = (c & 8 ? -v : v) * sc;
        }
    }
}

/* Error feedback, written out: e = x + r; send encode(e); r = e − decode
 * (NaN over a non-finite block, whose decode is NaN). */
static void ref_encode_ef(int kind, const float *x, float *r, size_t n, uint8_t *out)
{
    float *e = calloc(n + 1, sizeof(float)), *d = calloc(n + 1, sizeof(float));
    for (size_t i = 0; i < n; i++) e[i] = x[i] + r[i];
    ref_encode(kind, e, n, out);
    ref_decode(kind, out, n, d);
    size_t bs = kind == QUANT_INT8 ? 256 : 32;
    for (size_t i = 0; i < n; i++) {
        int bad = kind != QUANT_BF16 && isnan(scale_at(out + i / bs * quant_bytes(kind, bs)));
        r[i] = bad ? NAN : e[i] - d[i];
    }
    free(e);
    free(d);
}

static float rnd_value(uint64_t *s)
{
    /* magnitudes over many binades, some exact grid points and ties */
    uint64_t r = splitmix64(s);
    float v = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5) * ldexpf(1, (int)(r % 40) - 20);
    if (r % 17 == 0) v = (float)((int)(r % 13) - 6) * 0.25f;
    return v;
}

static void test_against_reference(void)
{
    enum { N = 5000 };
    float *x = malloc(N * sizeof(float));
    uint8_t *a = malloc(quant_bytes(QUANT_NONE, N)), *b = malloc(quant_bytes(QUANT_NONE, N));
    uint64_t s = 99;
    for (int i = 0; i < N; i++) x[i] = rnd_value(&s);
    for (int i = 0; i < N; i += 97) x[i] *= 1e30f;   /* wild block maxima */
    for (int k = QUANT_BF16; k < QUANT_COUNT; k++) {
        size_t nb = quant_bytes(k, N);
        quant_encode(k, x, N, a, 1);
        ref_encode(k, x, N, b);
        size_t diff = 0;
        for (size_t i = 0; i < nb; i++) diff += a[i] != b[i];
        CHECK_MSG(diff == 0, "%s: %zu of %zu bytes differ from the reference", quant_name(k), diff, nb);
    }
    free(x); free(a); free(b);
}

/* The kernels that run (AVX2 where built) and the portable ones, against
 * the scalar reference, bit for bit: encode, decode and error feedback,
 * on random data with runs of zeros, ±Inf, NaNs (quiet, signalling,
 * negative), subnormals, FLT_MAX, grid ties and huge block maxima, for
 * sizes with and without a partial last block, across several spans. */
static float special(uint64_t *s)
{
    static const uint32_t sp[] = { 0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u,
                                   0x7f800001u, 0x7f7fffffu, 0xff7fffffu, 0x00800000u, 0x00000001u, 0x807fffffu };
    uint64_t r = splitmix64(s);
    return r % 3 ? rnd_value(s) * (r % 7 == 0 ? 1e30f : 1.0f) : from_bits(sp[r / 3 % (sizeof sp / sizeof sp[0])]);
}

/* Both kernel sets against the reference for kind on x[0..n) (residual r0). */
static void check_kernels(int k, const float *x, const float *r0, size_t n, const char *what)
{
    size_t nb = quant_bytes(k, n);
    /* 64-byte aligned: streaming stores (large vectors) need 32 */
    uint8_t *a = aligned_alloc(64, (nb + 64) / 64 * 64), *b = malloc(nb + 1), *efb = malloc(nb + 1);
    float *da = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64), *db = malloc(n * sizeof(float));
    float *ra = malloc(n * sizeof(float)), *rb = malloc(n * sizeof(float));
    ref_encode(k, x, n, b);
    ref_decode(k, b, n, db);
    memcpy(rb, r0, n * sizeof(float));
    ref_encode_ef(k, x, rb, n, efb);
    for (int portable = 0; portable < 2; portable++) {
        quant_portable_kernels(portable);
        const char *which = portable ? "portable" : "default";
        quant_encode(k, x, n, a, 2);
        CHECK_MSG(memcmp(a, b, nb) == 0, "%s %s, %s, n = %zu: encode differs from the reference", which, quant_name(k), what, n);
        quant_decode(k, b, n, da, 2);
        CHECK_MSG(memcmp(da, db, n * sizeof(float)) == 0, "%s %s, %s, n = %zu: decode differs", which, quant_name(k), what, n);
        memcpy(ra, r0, n * sizeof(float));
        quant_encode_ef(k, x, ra, n, a, 2);
        CHECK_MSG(memcmp(a, efb, nb) == 0, "%s %s, %s, n = %zu: feedback encode differs", which, quant_name(k), what, n);
        CHECK_MSG(memcmp(ra, rb, n * sizeof(float)) == 0, "%s %s, %s, n = %zu: residual differs", which, quant_name(k), what, n);
    }
    quant_portable_kernels(0);
    free(a); free(b); free(efb); free(da); free(db); free(ra); free(rb);
}

static void test_kernels_vs_reference(void)
{
    /* the last is past QUANT_STREAM_MIN: decoded with streaming stores */
    const size_t sizes[] = { 1, 7, 8, 31, 32, 33, 255, 256, 257, 1000, 4096, 4099, (size_t)1 << 16, ((size_t)9 << 16) + 45,
                             ((size_t)4 << 20) + 77 };
    size_t nmax = sizes[sizeof sizes / sizeof sizes[0] - 1];
    float *x = malloc(nmax * sizeof(float)), *r0 = malloc(nmax * sizeof(float));
    uint64_t s = 2024;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        for (size_t i = 0; i < n; i++) {
            uint64_t r = splitmix64(&s);
            /* mostly finite blocks (so the rounding is exercised), some poisoned, some all zero */
            x[i] = r % 50 == 0 ? special(&s) : rnd_value(&s);
            r0[i] = (float)((double)(r >> 40) / 16777216.0 - 0.5) * 1e-3f;
        }
        for (size_t i = n / 2; i < n / 2 + 300 && i < n; i++) x[i] = 0.0f;   /* a block of zeros */
        for (int k = QUANT_BF16; k < QUANT_COUNT; k++) check_kernels(k, x, r0, n, "random");
    }
    /* Exact ties in whole blocks: block maxima 127 and 6 times a power of
     * two (exact scales), then every half-integer (int8) and every E2M1
     * midpoint and grid value (fp4), both signs, residual 0. */
    enum { NT = 16 * 256 };
    static const float fp4_pts[] = { 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 0.3f };
    memset(r0, 0, NT * sizeof(float));
    for (size_t i = 0; i < NT; i++) {
        float p2 = ldexpf(1, (int)(i / 256 % 5) - 2);
        x[i] = (i % 256 == 0 ? 127 : (float)((int)(i % 255) - 127) + 0.5f) * p2;
    }
    check_kernels(QUANT_INT8, x, r0, NT, "ties");
    for (size_t i = 0; i < NT; i++) {
        float p2 = ldexpf(1, (int)(i / 32 % 5) - 2), v = i % 32 == 0 ? 6 : fp4_pts[i % 16];
        x[i] = (i / 16 % 2 ? -v : v) * p2;
    }
    check_kernels(QUANT_FP4, x, r0, NT, "ties");
    for (size_t i = 0; i < NT; i++) x[i] = from_bits(0x3f800000u + (uint32_t)(i % 4) * 0x8000u + (uint32_t)(i / 4) * 0x10000u);
    check_kernels(QUANT_BF16, x, r0, NT, "ties");
    /* Whole blocks at the edges: maxima FLT_MAX (the scale steps down an
     * ulp), FLT_MIN and subnormals (the scale floors), all zeros, one Inf. */
    for (size_t i = 0; i < NT; i++) {
        size_t blk = i / 256 % 4;
        float v = (float)((int)(i % 97) - 48) / 48.0f;
        x[i] = blk == 0 ? (i % 256 == 5 ? -FLT_MAX : v * FLT_MAX) : blk == 1 ? v * FLT_MIN * 3 : blk == 2 ? 0.0f : v;
        if (blk == 3 && i % 256 == 200) x[i] = INFINITY;
    }
    for (int k = QUANT_BF16; k < QUANT_COUNT; k++) check_kernels(k, x, r0, NT, "edges");
    free(x); free(r0);
}

static void test_threads(void)
{
    size_t n = (size_t)9 << 16 | 77;   /* 9+ chunks: the parallel path, a partial block */
    float *x = malloc(n * sizeof(float)), *d1 = malloc(n * sizeof(float)), *d2 = malloc(n * sizeof(float));
    float *r1 = calloc(n, sizeof(float)), *r2 = calloc(n, sizeof(float));
    uint8_t *a = malloc(quant_bytes(QUANT_NONE, n)), *b = malloc(quant_bytes(QUANT_NONE, n));
    uint64_t s = 5;
    for (size_t i = 0; i < n; i++) x[i] = rnd_value(&s);
    for (int k = QUANT_BF16; k < QUANT_COUNT; k++) {
        size_t nb = quant_bytes(k, n);
        quant_encode(k, x, n, a, 1);
        quant_encode(k, x, n, b, 2);
        CHECK_MSG(memcmp(a, b, nb) == 0, "%s: 1 and 2 threads encode the same bytes", quant_name(k));
        quant_decode(k, a, n, d1, 1);
        quant_decode(k, a, n, d2, 2);
        CHECK_MSG(memcmp(d1, d2, n * 4) == 0, "%s: decode thread-independent", quant_name(k));
        memset(r1, 0, n * 4); memset(r2, 0, n * 4);
        quant_encode_ef(k, x, r1, n, a, 1);
        quant_encode_ef(k, x, r2, n, b, 2);
        CHECK_MSG(memcmp(a, b, nb) == 0 && memcmp(r1, r2, n * 4) == 0, "%s: error feedback thread-independent", quant_name(k));
        /* with a zero residual, the bytes are plain encode's and the residual is x − decode */
        quant_encode(k, x, n, b, 2);
        int same = memcmp(a, b, nb) == 0;
        for (size_t i = 0; i < n && same; i++) same = r1[i] == x[i] - d1[i];
        CHECK_MSG(same, "%s: residual = x - decode(encode(x))", quant_name(k));
    }
    free(x); free(d1); free(d2); free(r1); free(r2); free(a); free(b);
}

/* Error feedback: after T rounds, Σ sent = Σ true − residual, and the
 * residual stays within half a step of each block's scale whatever T; the
 * same updates without feedback drift linearly (values under half a step
 * are never sent). */
static void test_error_feedback(void)
{
    enum { N = 64, T = 400 };
    for (int k = QUANT_INT8; k < QUANT_COUNT; k++) {
        float x[N], r[N] = { 0 }, d[N];
        uint8_t b[N * 4];
        double truth[N] = { 0 }, sent[N] = { 0 }, plain[N] = { 0 };
        double qmax = k == QUANT_INT8 ? 127 : 6;
        double worst_mid = 0, worst_end = 0, plain_drift = 0;
        uint64_t s = 3;
        for (int t = 1; t <= T; t++) {
            for (int i = 0; i < N; i++)
                x[i] = i % 8 == 0 ? 1.0f : 0.1f / (float)qmax + (float)((double)(splitmix64(&s) >> 40) / 16777216.0 - 0.5) * 1e-4f;
            for (int i = 0; i < N; i++) truth[i] += x[i];
            quant_encode(k, x, N, b, 1);
            quant_decode(k, b, N, d, 1);
            for (int i = 0; i < N; i++) plain[i] += d[i];
            quant_encode_ef(k, x, r, N, b, 1);
            quant_decode(k, b, N, d, 1);
            for (int i = 0; i < N; i++) sent[i] += d[i];
            double w = 0;
            for (int i = 0; i < N; i++) w = fmax(w, fabs(truth[i] - sent[i]));
            if (t == T / 4) worst_mid = w;
            if (t == T) worst_end = w;
        }
        for (int i = 0; i < N; i++) plain_drift = fmax(plain_drift, fabs(truth[i] - plain[i]));
        /* amax of each block is ≈ 1 + residual: half a step is ≈ 0.5/qmax */
        double bound = 0.6 / qmax * 1.5;
        CHECK_MSG(worst_end <= bound && worst_mid <= bound, "%s: EF drift %g (round %d), %g (round %d) within %g",
                  quant_name(k), worst_mid, T / 4, worst_end, T, bound);
        CHECK_MSG(plain_drift > 20 * bound, "%s: without feedback the drift grows (%g)", quant_name(k), plain_drift);
    }
    /* bf16 as well (no blocks): the residual stays within half an ulp of the running value */
    float x[4] = { 1.0f, 1e-3f, 3.3333333f, -7.77e-5f }, r[4] = { 0 }, d[4];
    uint16_t h[4];
    double truth[4] = { 0 }, sent[4] = { 0 }, worst = 0;
    for (int t = 0; t < 1000; t++) {
        quant_encode_ef(QUANT_BF16, x, r, 4, h, 1);
        quant_decode(QUANT_BF16, h, 4, d, 1);
        for (int i = 0; i < 4; i++) { truth[i] += x[i]; sent[i] += d[i]; worst = fmax(worst, fabs(truth[i] - sent[i]) / fabs(x[i])); }
    }
    CHECK_MSG(worst < 0.01, "bf16 EF relative drift %g", worst);
}

int main(void)
{
    RUN(test_sizes);
    RUN(test_bf16_hand);
    RUN(test_int8_hand);
    RUN(test_int8_partial_and_nonfinite);
    RUN(test_int8_zeros_subnormals_max);
    RUN(test_fp4_hand);
    RUN(test_fp4_partial_and_nonfinite);
    RUN(test_against_reference);
    RUN(test_kernels_vs_reference);
    RUN(test_threads);
    RUN(test_error_feedback);
    return th_finish();
}
