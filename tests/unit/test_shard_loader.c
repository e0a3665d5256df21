/* Token shards and the data loader: write/read round trips in both llm.c
 * formats, clear errors for wrong magic, truncation and out-of-vocabulary
 * ids, the keyed permutation being a bijection, loader determinism from
 * (seed, client, step), exact epoch coverage, and eval windows. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "io/common.h"
#include "io/keyperm.h"
#include "io/loader.h"
#include "io/shard.h"

static char dir[2048];

static const char *tmp(const char *name)
{
    static char p[8][4096];
    static int slot;
    char *s = p[slot++ & 7];
    snprintf(s, 4096, "%s/%s", dir, name);
    return s;
}

static void write_raw(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_roundtrip(void)
{
    photon_err err;
    uint32_t toks[1000];
    for (int i = 0; i < 1000; i++) toks[i] = (uint32_t)(i * 37 % 50257);
    CHECK(shard_write(tmp("a16.bin"), toks, 1000, 0, &err) == 0);
    shard *s = shard_open(tmp("a16.bin"), 50257, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(shard_ntokens(s), 1000);
        uint32_t back[1000];
        shard_read(s, 0, 1000, back);
        CHECK(memcmp(back, toks, sizeof toks) == 0);
        CHECK_EQ_INT(shard_token(s, 999), toks[999]);
        shard_close(s);
    }
    /* file layout is exactly llm.c's */
    size_t n;
    char *raw = file_read_all(tmp("a16.bin"), &n, &err);
    CHECK_EQ_INT(n, 1024 + 2000);
    if (raw) {
        int32_t h[3];
        memcpy(h, raw, sizeof h);
        CHECK_EQ_INT(h[0], 20240520); CHECK_EQ_INT(h[1], 1); CHECK_EQ_INT(h[2], 1000);
        uint16_t t5;
        memcpy(&t5, raw + 1024 + 10, 2);
        CHECK_EQ_INT(t5, toks[5]);
        free(raw);
    }
    toks[3] = 100000;
    CHECK(shard_write(tmp("a32.bin"), toks, 1000, 1, &err) == 0);
    s = shard_open(tmp("a32.bin"), 0, &err);
    CHECK(s && shard_token(s, 3) == 100000);
    shard_close(s);
    /* a uint16 shard cannot hold it, and nothing is left behind */
    CHECK(shard_write(tmp("bad16.bin"), toks, 1000, 0, &err) != 0);
    CHECK_CONTAINS(err.msg, "does not fit a uint16 shard");
    CHECK(!file_exists(tmp("bad16.bin")));
    /* an empty shard is valid */
    CHECK(shard_write(tmp("empty.bin"), toks, 0, 0, &err) == 0);
    s = shard_open(tmp("empty.bin"), 10, &err);
    CHECK(s && shard_ntokens(s) == 0);
    shard_close(s);
}

static void test_bad_shards(void)
{
    photon_err err;
    uint32_t toks[100];
    for (int i = 0; i < 100; i++) toks[i] = (uint32_t)i;
    shard_write(tmp("good.bin"), toks, 100, 0, &err);
    size_t n;
    char *raw = file_read_all(tmp("good.bin"), &n, &err);
    if (!raw) { CHECK(0); return; }

    int32_t bad = 12345;
    char *copy = xmalloc(n);
    memcpy(copy, raw, n);
    memcpy(copy, &bad, 4);
    write_raw(tmp("magic.bin"), copy, n);
    CHECK(shard_open(tmp("magic.bin"), 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "magic.bin: byte offset 0: wrong magic 12345");

    write_raw(tmp("trunc.bin"), raw, n - 3);
    CHECK(shard_open(tmp("trunc.bin"), 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "trunc.bin: truncated token shard: header says 100 tokens");

    write_raw(tmp("short.bin"), raw, 500);
    CHECK(shard_open(tmp("short.bin"), 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "shorter than the 1024-byte header");

    memcpy(copy, raw, n);
    uint16_t big = 60000;
    memcpy(copy + 1024 + 2 * 42, &big, 2);
    write_raw(tmp("vocab.bin"), copy, n);
    CHECK(shard_open(tmp("vocab.bin"), 50257, &err) == NULL);
    CHECK_CONTAINS(err.msg, "vocab.bin: byte offset 1108: token id 60000 is outside the vocabulary (size 50257)");
    shard *s = shard_open(tmp("vocab.bin"), 0, &err);   /* vocab 0: no id check */
    CHECK(s != NULL);
    shard_close(s);

    CHECK(shard_open(tmp("missing.bin"), 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "missing.bin: cannot open");
    free(copy);
    free(raw);
}

static void test_keyperm(void)
{
    uint64_t sizes[] = { 1, 2, 3, 5, 17, 64, 100, 1000, 4097 };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uint64_t n = sizes[k];
        keyperm p;
        keyperm_init(&p, n, 42, 1, 2, 3);
        char *seen = xcalloc(n, 1);
        int ok = 1;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t y = keyperm_apply(&p, i);
            if (y >= n || seen[y]) ok = 0;
            else seen[y] = 1;
        }
        CHECK_MSG(ok, "keyperm is a bijection of [0, %llu)", (unsigned long long)n);
        free(seen);
    }
    /* different keys give different orders; not the identity */
    keyperm a, b;
    keyperm_init(&a, 1000, 1, 0, 0, 0);
    keyperm_init(&b, 1000, 1, 0, 0, 1);
    int same = 0, fixed = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        same += keyperm_apply(&a, i) == keyperm_apply(&b, i);
        fixed += keyperm_apply(&a, i) == i;
    }
    CHECK_MSG(same < 20 && fixed < 20, "orders look random (%d equal, %d fixed points)", same, fixed);
}

static void test_loader(void)
{
    photon_err err;
    /* token i = i, so a window's first token names the window */
    enum { T = 8, NW = 37, B = 4 };
    size_t n = NW * T + 1 + 5;   /* a few spare tokens that never make a full window */
    uint32_t *toks = xmalloc(n * sizeof *toks);
    for (size_t i = 0; i < n; i++) toks[i] = (uint32_t)i;
    CHECK(shard_write(tmp("seq.bin"), toks, n, 1, &err) == 0);
    loader *l = loader_open(tmp("seq.bin"), B, T, 99, 3, 0, &err);
    CHECK(l != NULL);
    if (!l) { free(toks); return; }
    CHECK_EQ_INT(loader_windows(l), NW);
    uint32_t out[B * (T + 1)];
    /* every window exactly once in each of three epochs, windows intact */
    int count[3][NW];
    memset(count, 0, sizeof count);
    int intact = 1;
    for (int64_t g = 0; g < 3 * NW; g += B) {
        loader_batch(l, g / B, out);
        for (int b = 0; b < B && g + b < 3 * NW; b++) {
            uint32_t w = out[b * (T + 1)] / T;
            for (int j = 0; j <= T; j++) intact &= out[b * (T + 1) + j] == w * T + (uint32_t)j;
            if (w < NW) count[(g + b) / NW][w]++;
        }
    }
    CHECK(intact);
    int once = 1;
    for (int e = 0; e < 3; e++) for (int w = 0; w < NW; w++) once &= count[e][w] == 1;
    CHECK_MSG(once, "each window exactly once per epoch");
    /* deterministic and resumable: a new loader at step 17 reads the same */
    uint32_t a[B * (T + 1)], b2[B * (T + 1)], c[B * (T + 1)];
    loader_batch(l, 17, a);
    loader *l2 = loader_open(tmp("seq.bin"), B, T, 99, 3, 0, &err);
    loader_batch(l2, 17, b2);
    CHECK(memcmp(a, b2, sizeof a) == 0);
    loader_batch(l2, 0, c);
    loader_batch(l2, 17, c);   /* going back and forth changes nothing */
    CHECK(memcmp(a, c, sizeof a) == 0);
    loader_close(l2);
    /* another client or seed sees another order */
    loader *l3 = loader_open(tmp("seq.bin"), B, T, 99, 4, 0, &err);
    loader_batch(l3, 17, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    loader_close(l3);
    /* epochs differ in order */
    uint32_t e0[B * (T + 1)], e1[B * (T + 1)];
    loader *l4 = loader_open(tmp("seq.bin"), 1, T, 5, 0, 0, &err);
    int diff = 0;
    for (int s = 0; s < NW; s++) {
        loader_batch(l4, s, e0);
        loader_batch(l4, s + NW, e1);
        diff += e0[0] != e1[0];
    }
    CHECK(diff > NW / 2);
    loader_close(l4);
    loader_close(l);

    /* eval windows are sequential */
    shard *s = shard_open(tmp("seq.bin"), 0, &err);
    CHECK_EQ_INT(loader_eval_batch(s, 0, B, T, out), B);
    CHECK(out[0] == 0 && out[T] == T && out[T + 1] == T && out[3 * (T + 1)] == 3 * T);
    CHECK_EQ_INT(loader_eval_batch(s, NW - 2, B, T, out), 2);
    CHECK_EQ_INT(out[T + 1], (NW - 1) * T);
    shard_close(s);

    /* a shard too small for one window */
    CHECK(shard_write(tmp("tiny.bin"), toks, T, 1, &err) == 0);
    CHECK(loader_open(tmp("tiny.bin"), B, T, 1, 0, 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "too few for one window");
    free(toks);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", th_tmpdir());
    RUN(test_roundtrip);
    RUN(test_bad_shards);
    RUN(test_keyperm);
    RUN(test_loader);
    return th_finish();
}
