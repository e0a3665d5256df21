/* BPE training: the merges match an independent naive trainer
 * (tests/gen_bpe_fixture.py) byte for byte; training is deterministic no
 * matter how counting is split over threads; the files load as a tokenizer
 * with <|endoftext|> last, encode/decode round trips, and compress text. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "io/bpe_train.h"
#include "io/common.h"
#include "io/tokenizer.h"

static char *shakespeare(size_t *n)
{
    char path[4096];
    photon_err err;
    snprintf(path, sizeof path, "%s/data/books/tinyshakespeare.txt", th_source_dir());
    char *s = file_read_all(path, n, &err);
    if (!s) fprintf(stderr, "%s\n", err.msg);
    return s;
}

static void test_matches_reference(void)
{
    size_t n;
    char *text = shakespeare(&n);
    if (!text) { CHECK(0); return; }
    bpe_counter *c = bpe_counter_new();
    bpe_counter_add(c, text, 30000);
    const char *d = th_tmpdir();
    photon_err err;
    int v = bpe_train(c, 400, d, &err);
    CHECK_EQ_INT(v, 400);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/vocab.bpe", d);
    snprintf(p2, sizeof p2, "%s/tests/fixtures/bpe_shakespeare_400.bpe", th_source_dir());
    size_t n1 = 0, n2 = 0;
    char *got = file_read_all(p1, &n1, &err), *want = file_read_all(p2, &n2, &err);
    CHECK(got && want && n1 == n2 && memcmp(got, want, n1) == 0);
    free(got);
    free(want);
    tokenizer *t = tok_load(d, &err);
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_INT(tok_vocab_size(t), 400);
        CHECK_EQ_INT(tok_eot(t), 399);
        tok_free(t);
    }
    bpe_counter_free(c);
    free(text);
}

static void test_deterministic_roundtrip(void)
{
    size_t n;
    char *text = shakespeare(&n);
    if (!text) { CHECK(0); return; }
    if (n > 300000) n = 300000;
    while (n && text[n - 1] != '\n') n--;
    photon_err err;
    /* one counter vs. three merged counters over different splits */
    bpe_counter *one = bpe_counter_new();
    bpe_counter_add(one, text, n);
    bpe_counter *parts[3], *sum = bpe_counter_new();
    size_t cut[4] = { 0, n / 3, 2 * n / 3, n };
    for (int i = 0; i < 3; i++) {
        while (cut[i + 1] < n && text[cut[i + 1]] != '\n') cut[i + 1]++;   /* split at line ends */
    }
    for (int i = 0; i < 3; i++) {
        parts[i] = bpe_counter_new();
        bpe_counter_add(parts[i], text + cut[i], cut[i + 1] - cut[i]);
        bpe_counter_merge(sum, parts[i]);
        bpe_counter_free(parts[i]);
    }
    CHECK_EQ_INT(bpe_counter_words(one), bpe_counter_words(sum));
    char d1[2048], d2[2048];
    snprintf(d1, sizeof d1, "%s/a", th_tmpdir());
    snprintf(d2, sizeof d2, "%s/b/c", th_tmpdir());
    CHECK_EQ_INT(bpe_train(one, 2000, d1, &err), 2000);
    CHECK_EQ_INT(bpe_train(sum, 2000, d2, &err), 2000);
    const char *files[] = { "vocab.bpe", "encoder.json" };
    for (int f = 0; f < 2; f++) {
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", d1, files[f]);
        snprintf(b, sizeof b, "%s/%s", d2, files[f]);
        size_t na = 0, nb = 0;
        char *x = file_read_all(a, &na, &err), *y = file_read_all(b, &nb, &err);
        CHECK_MSG(x && y && na == nb && memcmp(x, y, na) == 0, "%s identical", files[f]);
        free(x);
        free(y);
    }
    tokenizer *t = tok_load(d1, &err);
    CHECK(t != NULL);
    if (t) {
        uint32_t *ids = NULL;
        size_t len = 0, cap = 0, dn;
        tok_encode(t, text, n, &ids, &len, &cap);
        CHECK_MSG(len < n / 2, "2000-token BPE compresses Shakespeare (%zu tokens for %zu bytes)", len, n);
        char *back = tok_decode(t, ids, len, &dn);
        CHECK(dn == n && memcmp(back, text, n) == 0);
        free(back);
        const char *odd = "Ünïcödé 🙂 \xff\xfe bytes never seen";
        len = 0;
        tok_encode(t, odd, strlen(odd), &ids, &len, &cap);
        back = tok_decode(t, ids, len, &dn);
        CHECK_STR(back, odd);
        free(back);
        free(ids);
        tok_free(t);
    }
    /* too small a vocabulary is an error, and runs out of pairs gracefully */
    CHECK(bpe_train(one, 100, d1, &err) < 0);
    CHECK_CONTAINS(err.msg, "too small");
    bpe_counter *tiny = bpe_counter_new();
    bpe_counter_add(tiny, "ab ab", 5);
    int v = bpe_train(tiny, 1000, d1, &err);
    CHECK_MSG(v > 257 && v < 270, "tiny corpus gives a small vocabulary (%d)", v);
    bpe_counter_free(tiny);
    bpe_counter_free(one);
    bpe_counter_free(sum);
    free(text);
}

int main(void)
{
    RUN(test_matches_reference);
    RUN(test_deterministic_roundtrip);
    return th_finish();
}
