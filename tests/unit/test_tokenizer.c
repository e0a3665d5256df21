/* GPT-2 tokenizer: exact ids on the shipped reference encodings and on the
 * tiktoken-generated edge cases (tests/gen_tokenizer_fixture.py), byte-exact
 * round trips on random bytes and random UTF-8, <|endoftext|> handling,
 * concurrent encoding, and clear errors for broken tokenizer files. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "io/common.h"
#include "io/jsonr.h"
#include "io/tokenizer.h"

static tokenizer *gpt2;

/* Parses {"text": "...", "ids": [..]} lines; checks each one. Returns cases. */
static int check_file(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", th_source_dir(), rel);
    photon_err err;
    size_t n;
    char *all = file_read_all(path, &n, &err);
    CHECK_MSG(all != NULL, "read %s", path);
    if (!all) return 0;
    int cases = 0, bad = 0;
    jbuf text = {0};
    uint32_t *ids = NULL;
    size_t len = 0, cap = 0;
    for (char *line = all, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        const char *msg;
        size_t off;
        if (jsonr_object_string(line, strlen(line), "text", &text, &msg, &off) != 1) { bad++; continue; }
        const char *p = strstr(line, "\"ids\"");
        if (!p) { bad++; continue; }
        p = strchr(p, '[') + 1;
        len = 0;
        tok_encode(gpt2, text.data, text.len, &ids, &len, &cap);
        size_t k = 0;
        int same = 1;
        while (*p && *p != ']') {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p) break;
            if (k >= len || ids[k] != (uint32_t)v) same = 0;
            k++;
            p = e;
            while (*p == ',' || *p == ' ') p++;
        }
        if (k != len) same = 0;
        if (!same) {
            bad++;
            if (bad < 5) CHECK_MSG(0, "%s: ids differ for text \"%.60s\"", rel, text.data);
        }
        cases++;
    }
    CHECK_MSG(bad == 0, "%s: %d of %d cases wrong", rel, bad, cases);
    free(ids);
    jbuf_free(&text);
    free(all);
    return cases;
}

static void test_reference(void)
{
    CHECK_EQ_INT(tok_vocab_size(gpt2), 50257);
    CHECK_EQ_INT(tok_eot(gpt2), 50256);
    CHECK_EQ_INT(check_file("data/tokenizer/gpt2/reference_encodings.jsonl"), 7);
}

static void test_fixture(void)
{
    int n = check_file("tests/fixtures/tokenizer_cases.jsonl");
    CHECK_MSG(n >= 400, "fixture has %d cases", n);
}

static void roundtrip(const char *s, size_t n)
{
    uint32_t *ids = NULL;
    size_t len = 0, cap = 0, dn = 0;
    tok_encode(gpt2, s, n, &ids, &len, &cap);
    char *d = tok_decode(gpt2, ids, len, &dn);
    int ok = dn == n && memcmp(d, s, n) == 0;
    for (size_t i = 0; i < len && ok; i++) ok = ids[i] < 50256;   /* EOT never from plain text */
    if (!ok) CHECK_MSG(0, "round trip of %zu bytes", n);
    else th_pass++;
    free(d);
    free(ids);
}

static void test_roundtrip(void)
{
    photon_rng r;
    rng_seed(&r, 7);
    char buf[4096];
    for (int it = 0; it < 300; it++) {            /* random bytes, invalid UTF-8 included */
        size_t n = rng_below(&r, sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (char)rng_below(&r, 256);
        roundtrip(buf, n);
    }
    static const char *pieces[] = { "a", "Z", "7", " ", "\n", "\r\n", "\t", "'s", "'T", "é", "日", "🙂",
                                    "\xc2\xa0", "\xe3\x80\x80", "...", "==", "x", "Ω", "٣" };
    for (int it = 0; it < 300; it++) {            /* random UTF-8 */
        size_t n = 0, k = rng_below(&r, 400);
        for (size_t i = 0; i < k; i++) {
            const char *p = pieces[rng_below(&r, sizeof pieces / sizeof *pieces)];
            size_t l = strlen(p);
            if (n + l > sizeof buf) break;
            memcpy(buf + n, p, l);
            n += l;
        }
        roundtrip(buf, n);
    }
    /* long runs take the heap merge path */
    char *big = xmalloc(100000);
    memset(big, '9', 100000);
    roundtrip(big, 100000);
    for (int i = 0; i < 100000; i++) big[i] = "0123456789"[i % 10];
    roundtrip(big, 100000);
    free(big);
    roundtrip("", 0);
}

static void test_eot(void)
{
    const char *s = "one<|endoftext|>two<|endoftext|>";
    uint32_t *ids = NULL;
    size_t len = 0, cap = 0, dn;
    tok_encode_with_eot(gpt2, s, strlen(s), &ids, &len, &cap);
    CHECK_EQ_INT(len, 4);
    if (len == 4) { CHECK_EQ_INT(ids[1], 50256); CHECK_EQ_INT(ids[3], 50256); CHECK_EQ_INT(ids[0], 505); }
    char *d = tok_decode(gpt2, ids, len, &dn);
    CHECK_STR(d, s);
    free(d);
    len = 0;
    tok_encode(gpt2, s, strlen(s), &ids, &len, &cap);   /* plain encode: text, not EOT */
    int has = 0;
    for (size_t i = 0; i < len; i++) has |= ids[i] == 50256;
    CHECK(!has);
    size_t pn;
    CHECK(tok_piece(gpt2, 50257, &pn) == NULL);
    const char *p = tok_piece(gpt2, 995, &pn);
    CHECK(p && pn == 6 && memcmp(p, " world", 6) == 0);
    free(ids);
}

static void test_threads(void)
{
    /* the same texts encoded on several threads give the same ids */
    enum { N = 64 };
    char *texts[N];
    uint64_t h1[N], h2[N];
    photon_rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        texts[i] = xmalloc(2001);
        for (int j = 0; j < 2000; j++) texts[i][j] = "ab cd'sxyz\n  9 é"[rng_below(&r, 16)];
        texts[i][2000] = 0;
    }
    for (int pass = 0; pass < 2; pass++) {
#pragma omp parallel for num_threads(pass ? 4 : 1) schedule(dynamic, 1)
        for (int i = 0; i < N; i++) {
            uint32_t *ids = NULL;
            size_t len = 0, cap = 0;
            tok_encode(gpt2, texts[i], 2000, &ids, &len, &cap);
            (pass ? h2 : h1)[i] = hash64(ids, len * sizeof *ids, HASH64_INIT);
            free(ids);
        }
    }
    CHECK(memcmp(h1, h2, sizeof h1) == 0);
    for (int i = 0; i < N; i++) free(texts[i]);
}

static void test_bad_files(void)
{
    const char *d = th_tmpdir();
    photon_err err;
    CHECK(tok_load(d, &err) == NULL);
    CHECK_CONTAINS(err.msg, "encoder.json");
    th_write_file(d, "encoder.json", "{\"a\": 0, \"b\" 1}");
    th_write_file(d, "vocab.bpe", "#version: 0.2\n");
    CHECK(tok_load(d, &err) == NULL);
    CHECK_CONTAINS(err.msg, "encoder.json: byte offset 13: expected");
    /* a valid byte alphabet, then a bad merge line */
    char path[4096];
    snprintf(path, sizeof path, "%s/data/tokenizer/gpt2/encoder.json", th_source_dir());
    size_t n;
    char *enc = file_read_all(path, &n, &err);
    CHECK(enc != NULL);
    if (!enc) return;
    th_write_file(d, "encoder.json", enc);
    th_write_file(d, "vocab.bpe", "#version: 0.2\n\xc4\xa0 t\nnot-a-merge\n");
    CHECK(tok_load(d, &err) == NULL);
    CHECK_CONTAINS(err.msg, "vocab.bpe:3:");
    th_write_file(d, "vocab.bpe", "#version: 0.2\nqqqqqqqq zzzzzzzzzz\n");
    CHECK(tok_load(d, &err) == NULL);
    CHECK_CONTAINS(err.msg, "vocab.bpe:2: merge uses a token that is not in encoder.json");
    free(enc);
}

int main(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/tokenizer/gpt2", th_source_dir());
    photon_err err;
    gpt2 = tok_load(dir, &err);
    if (!gpt2) { fprintf(stderr, "%s\n", err.msg); return 1; }
    RUN(test_reference);
    RUN(test_fixture);
    RUN(test_roundtrip);
    RUN(test_eot);
    RUN(test_threads);
    RUN(test_bad_files);
    tok_free(gpt2);
    return th_finish();
}
