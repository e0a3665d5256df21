/* The safetensors header parser on hand-made files: a valid one reads
 * back; every kind of hostile header (length, JSON, dtype, shape, offsets
 * that overlap, leave a hole or leave the file, duplicate names, overflow)
 * is refused with its reason; mutations of a valid file never crash (the
 * sanitizer build runs this) and never let a bad header through; F16 and
 * BF16 convert exactly (all 65536 values, against ldexp). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "io/common.h"
#include "io/safetensors.h"

static unsigned char *file_of(const char *hdr, size_t data, size_t *n)
{
    size_t h = strlen(hdr);
    *n = 8 + h + data;
    unsigned char *b = xcalloc(*n, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    return b;
}

static int parse(const char *hdr, size_t data, photon_err *err)
{
    size_t n;
    unsigned char *b = file_of(hdr, data, &n);
    st_header h;
    int rc = st_parse(b, n, n, &h, err);
    if (rc == 0) st_header_free(&h);
    free(b);
    return rc;
}

static void test_valid(void)
{
    photon_err err;
    const char *ok = "{\"__metadata__\": {\"format\": \"pt\"}, \"b\": {\"dtype\": \"F16\", \"shape\": [2, 3], \"data_offsets\": [16, 28]},"
                     " \"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, \"s\": {\"dtype\": \"BF16\", \"shape\": [], "
                     "\"data_offsets\": [28, 30]}}   ";
    size_t n;
    unsigned char *b = file_of(ok, 30, &n);
    st_header h;
    CHECK_MSG(st_parse(b, n, n, &h, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(h.n, 3);
    int found = 0;
    for (size_t i = 0; i < h.n; i++)
        if (strcmp(h.t[i].name, "b") == 0) {
            found = h.t[i].dtype == ST_F16 && h.t[i].rank == 2 && h.t[i].shape[1] == 3 && h.t[i].begin == 16 && h.t[i].end == 28;
        }
    CHECK(found);
    st_header_free(&h);
    free(b);
    CHECK_EQ_INT(parse("{}", 0, &err), 0);   /* no tensors at all is a valid file */
}

static void test_hostile(void)
{
    photon_err err;
    static const struct { const char *hdr; size_t data; const char *why; } bad[] = {
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 12, "past the 12 data bytes" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 20, "the tensors cover 16 of the 20 data bytes" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16, "overlap" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, "leave a hole" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 16]}}", 16, "do not hold its F32 shape" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [16, 0]}}", 16, "do not hold" },
        { "{\"a\": {\"dtype\": \"Q4\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 16, "unknown dtype" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], \"data_offsets\": [0, 16]}}", 16, "overflows" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [-4], \"data_offsets\": [0, 16]}}", 16, "negative" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4, "more than 8 dimensions" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, "without dtype, shape and data_offsets" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 4, "data_offsets is not [begin, end]" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, "listed twice" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}", 4, "header byte offset" },
        { "{\"a\": 5}", 0, "not an object" },
        { "[1, 2]", 0, "does not start with '{'" },
        { "{\"__metadata__\": 3}", 0, "__metadata__ is not an object" },
        { "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}} x", 4, "bytes after the header" },
        { "{\"a\xff\": {}}", 0, "not UTF-8" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i].hdr, bad[i].data, &err);
        CHECK_MSG(rc == -1 && strstr(err.msg, bad[i].why), "case %zu: rc %d, '%s' should say '%s'", i, rc, rc ? err.msg : "",
                  bad[i].why);
    }
    /* the length field itself */
    unsigned char b[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}' };
    st_header h;
    CHECK(st_parse(b, 10, 10, &h, &err) == -1 && strstr(err.msg, "more than the 100000000 bytes"));
    b[0] = 50; b[1] = b[2] = b[3] = b[4] = b[5] = b[6] = b[7] = 0;
    CHECK(st_parse(b, 10, 10, &h, &err) == -1 && strstr(err.msg, "runs past the end of the file"));
    CHECK(st_parse(b, 5, 5, &h, &err) == -1 && strstr(err.msg, "too short"));
}

/* Random byte flips of a valid file: no crash, no leak, and nothing that
 * gets through breaks the invariants the readers rely on. */
static void test_mutations(void)
{
    const char *ok = "{\"x\": {\"dtype\": \"BF16\", \"shape\": [2, 2], \"data_offsets\": [0, 8]}, "
                     "\"y\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [8, 20]}}";
    size_t n;
    unsigned char *good = file_of(ok, 20, &n), *b = xmalloc(n);
    photon_rng r;
    rng_seed(&r, 99);
    int accepted = 0, broken = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(b, good, n);
        int flips = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < flips; k++) b[rng_below(&r, n)] ^= (unsigned char)(1u << rng_below(&r, 8));
        size_t len = rng_below(&r, 8) ? n : (size_t)rng_below(&r, n + 1);
        st_header h;
        photon_err err;
        if (st_parse(b, len, len, &h, &err) != 0) continue;
        accepted++;
        uint64_t hn = 0, at = 0;
        for (int i = 7; i >= 0; i--) hn = hn << 8 | b[i];
        for (size_t i = 0; i < h.n; i++) {   /* sorted by offset, tiling the data area */
            broken += h.t[i].begin != at || h.t[i].end < h.t[i].begin;
            at = h.t[i].end;
        }
        broken += at != len - 8 - hn;
        st_header_free(&h);
    }
    CHECK(accepted > 0);
    CHECK_EQ_INT(broken, 0);
    free(good);
    free(b);
}

static void test_conversions(void)
{
    int bad16 = 0, badbf = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        int s = u >> 15, e = (u >> 10) & 31, m = u & 1023;
        double want = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
        if (s) want = -want;
        float got = st_f16_to_f32((uint16_t)u);
        if (isnan(want) ? !isnan(got) : (double)got != want || !!signbit(got) != s) bad16++;
        float bf = st_bf16_to_f32((uint16_t)u);
        uint32_t bits;
        memcpy(&bits, &bf, 4);
        badbf += bits != u << 16;
    }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(badbf, 0);
}

int main(void)
{
    RUN(test_valid);
    RUN(test_hostile);
    RUN(test_mutations);
    RUN(test_conversions);
    return th_finish();
}
