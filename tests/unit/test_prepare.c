/* prepare end to end on small slices (max_docs): shards hold every
 * document once with an EOT after each, counts agree with the manifest,
 * output is byte-identical across runs, prepare_is_current follows the
 * inputs, a trained tokenizer works, a bad source fails cleanly with
 * no manifest and no temp files left behind, and a 17th validation source
 * is refused. */
#include <stdarg.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "io/common.h"
#include "io/config.h"
#include "io/prepare.h"
#include "io/shard.h"
#include "io/tokenizer.h"

/* Sets item i of list l (growing it to i + 1 items if needed). */
static void setl(cfg_list *l, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setl(cfg_list *l, int i, const char *fmt, ...)
{
    char items[32][CFG_STR];
    const char *ptr[32];
    int n = l->n > i + 1 ? l->n : i + 1;
    for (int j = 0; j < n; j++) {
        snprintf(items[j], CFG_STR, "%s", j < l->n ? l->item[j] : "");
        ptr[j] = items[j];
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(items[i], CFG_STR, fmt, ap);
    va_end(ap);
    cfg_list_set(l, n, ptr);
}

static void setup(photon_config *c, const char *out)
{
    const char *src = th_source_dir();
    config_defaults(c);
    snprintf(c->run.name, sizeof c->run.name, "t");
    snprintf(c->run.out_dir, sizeof c->run.out_dir, "%s", out);
    c->run.seed = 5;
    setl(&c->data.sources, 0, "wiki=%s/data/wikipedia/wiki-validation.json.gz", src);
    setl(&c->data.sources, 1, "c4=%s/data/c4/c4-sample-validation.json.gz", src);
    setl(&c->data.sources, 2, "%s/data/books/tinyshakespeare.txt", src);
    setl(&c->data.validation, 0, "%s/data/c4/c4-sample-validation.json.gz", src);
    snprintf(c->data.tokenizer, CFG_STR, "%s/data/tokenizer/gpt2", src);
    c->data.max_docs = 40;
    c->data.partition = PART_IID;
    c->clients.count = 3;
}

static char *slurp(const char *p, size_t *n)
{
    photon_err err;
    return file_read_all(p, n, &err);
}

static int no_temp_files(const char *d)
{
    DIR *dh = opendir(d);
    if (!dh) return 1;
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(dh))) ok &= strstr(e->d_name, ".tmp.") == NULL;
    closedir(dh);
    return ok;
}

static void test_iid(void)
{
    photon_config *c = xmalloc(sizeof *c);
    setup(c, th_tmpdir());
    photon_err err;
    CHECK(!prepare_is_current(c));
    CHECK_MSG(prepare_run(c, 0, &err) == 0, "prepare: %s", err.msg);
    CHECK(prepare_is_current(c));
    CHECK_EQ_INT(prepare_vocab_size(c, &err), 50257);
    /* docs: 40 wiki + 40 c4 + 1 books = 81; each ends with EOT */
    int64_t docs = 0;
    size_t total = 0;
    for (int k = 0; k < 3; k++) {
        char p[4096];
        prepare_client_shard(c, k, p, sizeof p);
        shard *s = shard_open(p, 50257, &err);
        CHECK(s != NULL);
        if (!s) continue;
        size_t n = shard_ntokens(s);
        for (size_t i = 0; i < n; i++) docs += shard_token(s, i) == 50256;
        CHECK(n > 0 && shard_token(s, n - 1) == 50256);
        total += n;
        shard_close(s);
    }
    CHECK_EQ_INT(docs, 81);
    char d[4096], mp[4096];
    prepare_dir(c, d, sizeof d);
    path_join(mp, sizeof mp, d, "manifest.json");
    size_t mn;
    char *man = slurp(mp, &mn);
    CHECK(man != NULL);
    if (man) {
        CHECK_CONTAINS(man, "\"kind\": \"iid\"");
        CHECK_CONTAINS(man, "\"name\": \"tinyshakespeare\"");
        char want[64];
        snprintf(want, sizeof want, "\"docs\": 1, \"tokens\": 338026");   /* whole play (338025, as tiktoken) + EOT */
        CHECK_CONTAINS(man, want);
        free(man);
    }
    char vp[4096];
    prepare_val_shard(c, vp, sizeof vp);
    shard *v = shard_open(vp, 50257, &err);
    CHECK(v && shard_ntokens(v) > 1000);
    shard_close(v);

    /* the same inputs give the same bytes */
    char p0[4096];
    prepare_client_shard(c, 1, p0, sizeof p0);
    size_t n1, n2;
    char *a = slurp(p0, &n1);
    CHECK(prepare_run(c, 0, &err) == 0);
    char *b = slurp(p0, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
    /* staleness follows the inputs */
    c->run.seed = 6;
    CHECK(!prepare_is_current(c));
    c->run.seed = 5;
    CHECK(prepare_is_current(c));
    c->data.max_docs = 41;
    CHECK(!prepare_is_current(c));
    c->data.max_docs = 40;
    /* fewer clients: old shards beyond the count are removed */
    c->clients.count = 2;
    CHECK(prepare_run(c, 1, &err) == 0);
    char p2[4096];
    prepare_client_shard(c, 2, p2, sizeof p2);
    CHECK(!file_exists(p2));
    CHECK(no_temp_files(d));
    free(c);
}

static void test_train_and_sources(void)
{
    photon_config *c = xmalloc(sizeof *c);
    setup(c, th_tmpdir());
    snprintf(c->data.tokenizer, CFG_STR, "train");
    c->data.tokenizer_vocab = 600;
    c->data.partition = PART_BY_SOURCE;
    setl(&c->data.assign, 0, "wiki=0");
    setl(&c->data.assign, 1, "c4=1");
    setl(&c->data.assign, 2, "tinyshakespeare=2");
    photon_err err;
    CHECK_MSG(prepare_run(c, 0, &err) == 0, "prepare: %s", err.msg);
    CHECK_EQ_INT(prepare_vocab_size(c, &err), 600);
    char p[4096];
    prepare_client_shard(c, 2, p, sizeof p);
    shard *s = shard_open(p, 600, &err);
    CHECK(s != NULL);
    if (s) {
        /* client 2 holds exactly the play: decode and compare */
        char td[4096], bp[4096];
        prepare_tokenizer_dir(c, td, sizeof td);
        tokenizer *t = tok_load(td, &err);
        size_t n = shard_ntokens(s), dn, bn;
        uint32_t *ids = xmalloc(n * sizeof *ids);
        shard_read(s, 0, n, ids);
        char *text = tok_decode(t, ids, n - 1, &dn);
        snprintf(bp, sizeof bp, "%s/data/books/tinyshakespeare.txt", th_source_dir());
        char *book = slurp(bp, &bn);
        CHECK(book && dn == bn && memcmp(text, book, bn) == 0);
        CHECK_EQ_INT(ids[n - 1], 599);
        free(book);
        free(text);
        free(ids);
        tok_free(t);
        shard_close(s);
    }
    free(c);
}

static void test_bad_source(void)
{
    photon_config *c = xmalloc(sizeof *c);
    const char *out = th_tmpdir();
    setup(c, out);
    photon_err err;
    CHECK(prepare_run(c, 0, &err) == 0);
    /* now break a source: the old manifest goes, nothing half-written stays */
    const char *bad = th_write_file(out, "bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
    setl(&c->data.sources, 1, "c4=%s", bad);
    CHECK(prepare_run(c, 0, &err) < 0);
    CHECK_CONTAINS(err.msg, "bad.jsonl:2: JSON object has no \"text\" member");
    char d[4096], mp[4096];
    prepare_dir(c, d, sizeof d);
    path_join(mp, sizeof mp, d, "manifest.json");
    CHECK(!file_exists(mp));
    CHECK(!prepare_is_current(c));
    CHECK(no_temp_files(d));
    const char *empty = th_write_file(out, "empty.jsonl", "\n\n");
    setl(&c->data.sources, 1, "c4=%s", empty);
    CHECK(prepare_run(c, 0, &err) < 0);
    CHECK_CONTAINS(err.msg, "empty.jsonl: no documents");
    /* too many clients for the documents */
    setup(c, out);
    c->data.max_docs = 1;
    c->clients.count = 10;
    CHECK(prepare_run(c, 0, &err) < 0);
    CHECK_CONTAINS(err.msg, "gets no documents");
    free(c);
}

/* Validation sources beyond VAL_MAX_SOURCES (16): one unnamed pattern over
 * 17 files names 17 sources; prepare refuses it before reading anything,
 * naming the key, the limit and the source too many, and leaves no
 * manifest.  16 are prepared. */
static void test_val_limit(void)
{
    photon_config *c = xmalloc(sizeof *c);
    const char *out = th_tmpdir(), *vdir = th_tmpdir();
    setup(c, out);
    char name[32], text[64], last[600];
    for (int i = 0; i < 17; i++) {
        snprintf(name, sizeof name, "v%02d.txt", i);
        snprintf(text, sizeof text, "validation text number %d, a few words long.\n", i);
        snprintf(last, sizeof last, "%s", th_write_file(vdir, name, text));
    }
    setl(&c->data.validation, 0, "%s/v*.txt", vdir);
    photon_err err;
    CHECK(prepare_run(c, 0, &err) < 0);
    CHECK_CONTAINS(err.msg, "[data] validation: more than 16 sources (the 17th is 'v16'");
    CHECK_CONTAINS(err.msg, "name=pattern");
    CHECK(strchr(err.msg, '\n') == NULL);
    char d[4096], mp[4096];
    prepare_dir(c, d, sizeof d);
    path_join(mp, sizeof mp, d, "manifest.json");
    CHECK(!file_exists(mp));
    CHECK(unlink(last) == 0);
    CHECK(prepare_run(c, 0, &err) == 0);
    size_t n;
    char *m = slurp(mp, &n);
    CHECK(m && strstr(m, "\"v15\"") && !strstr(m, "\"v16\""));
    free(m);
    free(c);
}

int main(void)
{
    log_set_quiet(true);
    RUN(test_iid);
    RUN(test_train_and_sources);
    RUN(test_bad_source);
    RUN(test_val_limit);
    return th_finish();
}
