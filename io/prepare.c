/* `photon-sim prepare` (see prepare.h): expand the sources into files,
 * train or load the tokenizer, tokenize each file on all cores into its
 * token cache (skipped when a cache of the same inputs exists: an
 * interrupted prepare picks up where it stopped), deal documents to clients,
 * stream one llm.c shard per client plus val.bin out of the caches, and
 * write the manifest last.  Memory holds one chunk of text and a few dozen
 * bytes per document, whatever the size of the corpus.
 * Determinism: documents keep their file order through tokenization
 * (threads work on a chunk of documents, results are appended in document
 * order), the partition is a function of the seed, so the same inputs give
 * byte-identical shards on any number of threads, cached or not.
 * Safety: the old manifest is removed first and the new one written last,
 * so an interrupted prepare never looks current; every file is written
 * through a temp file + rename. */
#include "io/prepare.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/bpe_train.h"
#include "io/instream.h"
#include "io/manifest.h"
#include "io/partition.h"
#include "io/prepare_docs.h"
#include "io/prepare_text.h"
#include "io/shard.h"
#include "io/srcset.h"
#include "io/textsrc.h"
#include "io/tokcache.h"
#include "io/tokenizer.h"
#include "io/val_index.h"

#define PREPARE_FORMAT 3      /* bump when the output for the same inputs changes */
#define CACHE_FORMAT 1        /* bump when a file's cached tokens for the same inputs change */

/* ---- paths ------------------------------------------------------------ */

void prepare_dir(const photon_config *c, char *out, size_t n)
{
    if (c->data.prepared_dir[0]) { snprintf(out, n, "%s", c->data.prepared_dir); return; }
    char run[4096];
    config_run_dir(c, run, sizeof run);
    path_join(out, n, run, "data");
}

static void in_dir(const photon_config *c, const char *name, char *out, size_t n)
{
    char d[4096];
    prepare_dir(c, d, sizeof d);
    path_join(out, n, d, name);
}

void prepare_client_shard(const photon_config *c, int client, char *out, size_t n)
{
    char name[32];
    snprintf(name, sizeof name, "client_%04d.bin", client);
    in_dir(c, name, out, n);
}

void prepare_val_shard(const photon_config *c, char *out, size_t n) { in_dir(c, "val.bin", out, n); }

static int trains_tokenizer(const photon_config *c) { return strcmp(c->data.tokenizer, "train") == 0; }

void prepare_tokenizer_dir(const photon_config *c, char *out, size_t n)
{
    if (trains_tokenizer(c)) in_dir(c, "tokenizer", out, n);
    else snprintf(out, n, "%s", c->data.tokenizer);
}

/* ---- inputs fingerprint ----------------------------------------------- */

static int hash_file(const char *path, uint64_t *bytes, uint64_t *h, photon_err *err)
{
    if (file_check_regular(path, err)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    enum { BUF = 1 << 20 };
    char *buf = xmalloc(BUF);
    uint64_t x = HASH64_INIT, n = 0;
    size_t got;
    while ((got = fread(buf, 1, BUF, f)) > 0) { x = hash64(buf, got, x); n += got; }
    int bad = ferror(f);
    fclose(f);
    free(buf);
    if (bad) { err_set(err, "%s: read error", path); return -1; }
    *bytes = n;
    *h = x;
    return 0;
}

/* Validation files grouped by name (stably): val.bin holds each
 * validation source as one contiguous range. */
static void group_by_name(srcset *set)
{
    src_file *g = xmalloc((size_t)(set->n ? set->n : 1) * sizeof *g);
    int k = 0;
    for (int i = 0; i < set->n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = strcmp(set->f[j].name, set->f[i].name) == 0;
        for (int j = i; j < set->n && !seen; j++)
            if (strcmp(set->f[j].name, set->f[i].name) == 0) g[k++] = set->f[j];
    }
    if (set->n) memcpy(set->f, g, (size_t)set->n * sizeof *g);
    free(g);
}

/* Expands a sources list into files and hashes each. */
static int describe(const cfg_list *l, const char *key, srcset *set, man_source **out, photon_err *err)
{
    if (srcset_expand(l, key, set, err)) return -1;
    if (strcmp(key, "[data] validation") == 0) {
        group_by_name(set);
        /* Before anything is read (config load checks this too, io/config_validate.c). */
        for (int i = 0, names = 0; i < set->n; i++)
            if ((i == 0 || strcmp(set->f[i - 1].name, set->f[i].name) != 0) && ++names > VAL_MAX_SOURCES) {
                val_too_many(err->msg, sizeof err->msg, set->f[i].name);
                return -1;
            }
    }
    *out = xcalloc((size_t)set->n + 1, sizeof **out);
    for (int i = 0; i < set->n; i++) {
        man_source *m = &(*out)[i];
        m->name = set->f[i].name;
        m->path = set->f[i].path;
        m->pretokenized = set->f[i].tokens;
        if (hash_file(m->path, &m->bytes, &m->hash, err)) return -1;
    }
    return 0;
}

/* by_field, and dirichlet with a source_field: documents are labelled by
 * the field's value. */
static int by_value(const photon_config *c)
{
    return c->data.partition == PART_BY_FIELD || (c->data.partition == PART_DIRICHLET && c->data.source_field[0]);
}

/* Everything the prepared data depends on, folded into one hash. */
static int fingerprint(const photon_config *c, const srcset *ss, const man_source *src, const srcset *vs,
                       const man_source *val, uint64_t *out, photon_err *err)
{
    char line[2 * CFG_STR + 4200];
    uint64_t h = HASH64_INIT;
#define FOLD(...) do { snprintf(line, sizeof line, __VA_ARGS__); h = hash64(line, strlen(line) + 1, h); } while (0)
    FOLD("format %d", PREPARE_FORMAT);
    for (int i = 0; i < ss->n; i++)
        FOLD("source %s %" PRIu64 " %016" PRIx64, src[i].name, src[i].bytes, src[i].hash);
    for (int i = 0; i < vs->n; i++)
        FOLD("validation %" PRIu64 " %016" PRIx64, val[i].bytes, val[i].hash);
    if (trains_tokenizer(c)) FOLD("tokenizer train %d", c->data.tokenizer_vocab);
    else {
        uint64_t th;
        if (tok_dir_hash(c->data.tokenizer, &th, err)) return -1;
        FOLD("tokenizer %016" PRIx64, th);
    }
    FOLD("partition %d clients %d seed %" PRIu64 " alpha %.17g max_docs %" PRId64, c->data.partition, c->clients.count,
         c->run.seed, c->data.partition == PART_DIRICHLET ? c->data.alpha : 0.0, c->data.max_docs);
    FOLD("text_key %s", c->data.text_key);
    if (by_value(c)) FOLD("source_field %s", c->data.source_field);
    int assigns = c->data.partition == PART_BY_SOURCE || c->data.partition == PART_BY_FIELD;
    for (int i = 0; assigns && i < c->data.assign.n; i++) FOLD("assign %s", c->data.assign.item[i]);
#undef FOLD
    *out = h;
    return 0;
}

/* A shard that opens: header and size agree (a truncated or damaged one
 * makes the data stale, so a run rebuilds it instead of failing in round 1). */
static int shard_intact(const char *path)
{
    photon_err e;
    shard *s = shard_open(path, 0, &e);
    if (!s) {
        if (file_exists(path)) log_warn("%s; preparing the data again", e.msg);
        return 0;
    }
    shard_close(s);
    return 1;
}

int prepare_is_current(const photon_config *c)
{
    char p[4096];
    in_dir(c, "manifest.json", p, sizeof p);
    uint64_t have;
    if (manifest_inputs_hash(p, &have)) return 0;
    photon_err err;
    srcset ss, vs;
    man_source *src = NULL, *val = NULL;
    uint64_t want;
    int ok = describe(&c->data.sources, "[data] sources", &ss, &src, &err) == 0 &&
             describe(&c->data.validation, "[data] validation", &vs, &val, &err) == 0 &&
             fingerprint(c, &ss, src, &vs, val, &want, &err) == 0 && want == have;
    free(src);
    free(val);
    srcset_free(&ss);
    srcset_free(&vs);
    for (int k = 0; ok && k < c->clients.count; k++) {
        prepare_client_shard(c, k, p, sizeof p);
        ok = shard_intact(p);
    }
    if (ok && c->data.validation.n) { prepare_val_shard(c, p, sizeof p); ok = shard_intact(p); }
    char td[4096];
    uint64_t th;
    prepare_tokenizer_dir(c, td, sizeof td);
    return ok && tok_dir_hash(td, &th, &err) == 0;
}

int prepare_vocab_size(const photon_config *c, photon_err *err)
{
    char td[4096];
    prepare_tokenizer_dir(c, td, sizeof td);
    tokenizer *t = tok_load(td, err);
    if (!t) return -1;
    int v = tok_vocab_size(t);
    tok_free(t);
    return v;
}

/* ---- writing ---------------------------------------------------------- */

/* Removes NAME.tmp.PID files of processes that are gone: what a prepare
 * killed while writing (a signal skips the temp file's removal) leaves. */
static void remove_stale_temps(const char *dir)
{
    int n = tmp_sweep(dir, false);
    if (n > 0) log_info("removed %d temporary file(s) in %s, left by an interrupted prepare", n, dir);
}



/* Removes the cache files no longer used (of inputs since changed). */
static void remove_unused_caches(const char *dir, char **used, int nused)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".tok") != 0) continue;
        int keep = 0;
        for (int i = 0; i < nused && !keep; i++) keep = strcmp(used[i], e->d_name) == 0;
        if (keep) continue;
        char p[4400];
        path_join(p, sizeof p, dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

typedef struct {
    const photon_config *c;
    const tokenizer *t;
    uint64_t tok_hash;
    int wide, threads;
    char cache_dir[4096];
    char **used;          /* cache file names in use */
    int nused;
    int reused, tokenized;
} prep_ctx;

/* The token cache of one file: reused when its key matches, else made. */
static tokcache *file_tokens(prep_ctx *x, const src_file *f, const man_source *m, int64_t max_docs, int labels,
                             prep_read *r, photon_err *err)
{
    if (f->tokens)
        return tokcache_open_shard(f->path, (uint32_t)tok_eot(x->t), tok_vocab_size(x->t), max_docs, f->name, err);
    char line[2 * CFG_STR + 256];
    snprintf(line, sizeof line, "cache %d %" PRIu64 " %016" PRIx64 " tokenizer %016" PRIx64 " text_key %s label %s max_docs %" PRId64 " wide %d",
             CACHE_FORMAT, m->bytes, m->hash, x->tok_hash, x->c->data.text_key, labels ? x->c->data.source_field : "",
             max_docs, x->wide);
    uint64_t key = hash64(line, strlen(line), HASH64_INIT);
    char name[64], path[4200];
    snprintf(name, sizeof name, "%016" PRIx64 ".tok", key);
    path_join(path, sizeof path, x->cache_dir, name);
    x->used = xrealloc(x->used, (size_t)(x->nused + 1) * sizeof *x->used);
    x->used[x->nused++] = xstrdup(name);
    photon_err e;
    tokcache *c = file_exists(path) ? tokcache_open(path, key, &e) : NULL;
    if (c) { x->reused++; return c; }
    x->tokenized++;
    if (file_exists(path)) log_warn("%s; tokenizing %s again", e.msg, f->path);
    r->src.label_key = labels && textsrc_is_jsonl(f->path) ? x->c->data.source_field : NULL;
    int64_t docs;
    if (prep_tokenize_file(f->path, r, max_docs, x->t, x->wide, path, key, &docs, err)) return NULL;
    return tokcache_open(path, key, err);
}

/* Tokenizes (or finds cached) every file of set into t; src[i] gets each
 * file's documents and tokens.  max_docs counts per source name. */
static int gather(prep_ctx *x, const srcset *set, man_source *src, int labels, doctable *t, const char *what,
                  photon_err *err)
{
    const photon_config *c = x->c;
    uint64_t total = 0;
    for (int i = 0; i < set->n; i++) if (!set->f[i].tokens) total += src[i].bytes;
    progress pr;
    progress_start(&pr, what, (size_t)total);
    prep_read r = { { c->data.text_key, NULL, (size_t)c->data.max_doc_mb << 20, NULL }, x->threads, &pr, 0 };
    int rc = 0;
    for (int i = 0; i < set->n && rc == 0; i++) {
        int64_t left = 0;
        if (c->data.max_docs) {
            int64_t before = 0;
            for (int j = 0; j < i; j++) if (strcmp(set->f[j].name, set->f[i].name) == 0) before += src[j].docs;
            left = c->data.max_docs - before;
            if (left <= 0) continue;   /* the source already has its max_docs */
        }
        tokcache *tc = file_tokens(x, &set->f[i], &src[i], left, labels, &r, err);
        if (!tc) { rc = -1; break; }
        src[i].docs = (int64_t)tokcache_docs(tc);
        src[i].tokens = (int64_t)tokcache_tokens(tc);
        if (!set->f[i].tokens) r.done_before += src[i].bytes;
        progress_update(&pr, (size_t)r.done_before);
        rc = doctable_add(t, tc, labels && !set->f[i].tokens, set->f[i].name, err);
    }
    progress_end(&pr, (size_t)r.done_before);
    /* every source gives documents (max_docs may leave later files unread) */
    for (int i = 0; i < set->n && rc == 0; i++) {
        int64_t docs = 0;
        for (int j = 0; j < set->n; j++) if (strcmp(set->f[j].name, set->f[i].name) == 0) docs += src[j].docs;
        if (docs == 0) {
            err_set(err, "%s: no documents in this source (empty file, or only blank lines/empty texts)", set->f[i].path);
            rc = -1;
        }
    }
    return rc;
}

/* Trains the BPE on the text files of the sources. */
static int train_tokenizer(const photon_config *c, const srcset *set, const char *tdir, int threads, photon_err *err)
{
    for (int i = 0; i < set->n; i++)
        if (set->f[i].tokens) {
            err_set(err, "%s: a pre-tokenized shard cannot train a tokenizer ([data] tokenizer = train): give the tokenizer it was made with",
                    set->f[i].path);
            return -1;
        }
    double t0 = time_mono();
    bpe_counter **part = xcalloc((size_t)threads, sizeof *part);
    for (int i = 0; i < threads; i++) part[i] = bpe_counter_new();
    uint64_t total = 0;
    for (int i = 0; i < set->n; i++) {
        struct stat st;
        if (stat(set->f[i].path, &st) == 0) total += (uint64_t)st.st_size;
    }
    progress pr;
    progress_start(&pr, "counting words for BPE", (size_t)total);
    prep_read r = { { c->data.text_key, NULL, (size_t)c->data.max_doc_mb << 20, NULL }, threads, &pr, 0 };
    int rc = 0;
    int64_t *docs = xcalloc((size_t)set->n + 1, sizeof *docs);
    for (int i = 0; i < set->n && rc == 0; i++) {
        int64_t left = c->data.max_docs;   /* max_docs counts per source name, across its files */
        for (int j = 0; j < i && c->data.max_docs; j++) if (strcmp(set->f[j].name, set->f[i].name) == 0) left -= docs[j];
        if (c->data.max_docs && left <= 0) continue;
        rc = prep_count_file(set->f[i].path, &r, left, part, &docs[i], err);
        struct stat st;
        if (stat(set->f[i].path, &st) == 0) r.done_before += (uint64_t)st.st_size;
    }
    free(docs);
    progress_end(&pr, (size_t)r.done_before);
    /* counts are sums, so merging per-thread tables in any order gives the same table */
    for (int i = 1; i < threads; i++) { bpe_counter_merge(part[0], part[i]); bpe_counter_free(part[i]); }
    double t1 = time_mono();
    int v = rc ? -1 : bpe_train(part[0], c->data.tokenizer_vocab, tdir, err);
    if (v > 0)
        log_info("trained a %d-token byte-level BPE (%zu distinct words) in %.1f s (reading and counting %.1f s, merging %.1f s)",
                 v, bpe_counter_words(part[0]), time_mono() - t0, t1 - t0, time_mono() - t1);
    if (v > 0 && v < c->data.tokenizer_vocab)
        log_warn("[data] tokenizer_vocab = %d, but the training text only has pairs for %d tokens "
                 "(more text, or a smaller tokenizer_vocab)", c->data.tokenizer_vocab, v);
    bpe_counter_free(part[0]);
    free(part);
    return v < 0 ? -1 : 0;
}

static void client_path(const void *ud, int k, char *out, size_t n) { prepare_client_shard(ud, k, out, n); }

/* by_field: every assign item must name a value some document has. */
static int check_field_assign(const photon_config *c, const doctable *t, photon_err *err)
{
    for (int i = 0; i < c->data.assign.n; i++) {
        const char *item = c->data.assign.item[i], *eq = strchr(item, '=');
        char name[CFG_STR];
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - item) : 0, item);
        if (doctable_label(t, name) >= 0) continue;
        char known[600] = "";
        size_t len = 0;
        for (int l = 0; l < t->nlabels && len + 40 < sizeof known; l++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", l ? ", " : "", t->labels[l]);
        err_set(err, "[data] assign: no document has %s = '%s' (its values: %s%s)", c->data.source_field, name, known,
                len + 40 >= sizeof known ? ", ..." : "");
        return -1;
    }
    return 0;
}

int prepare_run(const photon_config *c, int only_if_stale, photon_err *err)
{
    /* A model smaller than its tokenizer would fail on the first batch of
     * the first round: say so first, even when the data is current (the
     * model is not part of the data's fingerprint).  A trained tokenizer's
     * size is checked against the model by the configuration. */
    if (!trains_tokenizer(c) && c->model.vocab_size > 0) {
        int v = prepare_vocab_size(c, err);
        if (v < 0) return -1;
        if (v > c->model.vocab_size) {
            char td[4096];
            prepare_tokenizer_dir(c, td, sizeof td);
            err_set(err, "[model] vocab_size = %d is less than the %d tokens of the tokenizer in %s "
                    "(set vocab_size = 0 to take it from the tokenizer)", c->model.vocab_size, v, td);
            return -1;
        }
    }
    if (c->data.partition == PART_BY_FIELD && !c->data.source_field[0]) {
        err_set(err, "[data] partition = by_field needs [data] source_field (e.g. meta.pile_set_name)");
        return -1;
    }
    char dir[4096], mpath[4096], tdir[4096];
    prepare_dir(c, dir, sizeof dir);
    in_dir(c, "manifest.json", mpath, sizeof mpath);
    prepare_tokenizer_dir(c, tdir, sizeof tdir);
    char cache_dir[4096];
    path_join(cache_dir, sizeof cache_dir, dir, "cache");
    /* also when the data is current: a run killed inside a write leaves these */
    remove_stale_temps(dir);
    remove_stale_temps(tdir);
    remove_stale_temps(cache_dir);
    if (only_if_stale && prepare_is_current(c)) return 0;
    double t0 = time_mono();
    int threads = cpu_threads(0), rc = -1;
    if (c->data.sources.n < 1) { err_set(err, "[data] sources: expected at least one text source"); return -1; }
    prep_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.threads = threads;
    snprintf(x.cache_dir, sizeof x.cache_dir, "%s", cache_dir);
    if (mkdir_p(dir, err) || mkdir_p(x.cache_dir, err)) return -1;
    if (unlink(mpath) != 0 && errno != ENOENT) { err_set(err, "%s: cannot remove: %s", mpath, strerror(errno)); return -1; }

    srcset ss = { 0 }, vs = { 0 };
    man_source *src = NULL, *val = NULL, *valsrc = NULL;
    int nval = 0;
    tokenizer *t = NULL;
    doctable docs = { 0 }, vdocs = { 0 };
    int32_t *client = NULL, *pclient = NULL;
    int64_t *order = NULL, *csd = NULL, *perm = NULL, *ptok = NULL, *nd = NULL;
    manifest m;
    memset(&m, 0, sizeof m);
    uint64_t inputs;
    if (describe(&c->data.sources, "[data] sources", &ss, &src, err) ||
        describe(&c->data.validation, "[data] validation", &vs, &val, err) ||
        fingerprint(c, &ss, src, &vs, val, &inputs, err))
        goto out;
    if (trains_tokenizer(c) && train_tokenizer(c, &ss, tdir, threads, err)) goto out;
    if (!(t = tok_load(tdir, err))) goto out;
    if (tok_eot(t) < 0) { err_set(err, "%s: the tokenizer has no <|endoftext|> (or eos) token to end documents with", tdir); goto out; }
    x.t = t;
    x.tok_hash = tok_hash(t);
    x.wide = tok_vocab_size(t) > 65535;
    double tt = time_mono();
    int labels = by_value(c);
    if (gather(&x, &ss, src, labels, &docs, "reading and tokenizing", err)) goto out;
    int64_t ntok = 0;
    for (int64_t d = 0; d < docs.ndocs; d++) ntok += docs.tokens[d];
    log_info("read and tokenized %" PRId64 " documents from %d file%s into %" PRId64 " tokens on %d thread%s in %.1f s "
             "(%d file%s tokenized, %d from the cache in %s)", docs.ndocs, ss.n, ss.n == 1 ? "" : "s", ntok, threads,
             threads == 1 ? "" : "s", time_mono() - tt, x.tokenized, x.tokenized == 1 ? "" : "s", x.reused, x.cache_dir);
    if (c->data.partition == PART_BY_FIELD && check_field_assign(c, &docs, err)) goto out;

    /* partition: documents grouped by label (stably), as partition_docs wants them */
    int ns = docs.nlabels;
    int64_t n = docs.ndocs;
    nd = xcalloc((size_t)ns + 1, sizeof *nd);
    for (int64_t d = 0; d < n; d++) nd[docs.label[d]]++;
    int64_t *at = xcalloc((size_t)ns + 1, sizeof *at);
    for (int s = 1; s < ns; s++) at[s] = at[s - 1] + nd[s - 1];
    perm = xmalloc((size_t)(n ? n : 1) * sizeof *perm);       /* partition index -> document */
    ptok = xmalloc((size_t)(n ? n : 1) * sizeof *ptok);
    for (int64_t d = 0; d < n; d++) { perm[at[docs.label[d]]] = d; ptok[at[docs.label[d]]++] = docs.tokens[d]; }
    free(at);
    pclient = xmalloc((size_t)(n ? n : 1) * sizeof *pclient);
    order = xmalloc((size_t)(n ? n : 1) * sizeof *order);
    int64_t nused;
    partition_spec ps = { c->data.partition == PART_BY_FIELD ? PART_BY_SOURCE : c->data.partition, c->clients.count,
                          c->run.seed, c->data.alpha, &c->data.assign };
    if (partition_docs(&ps, ns, (const char *const *)docs.labels, nd, ptok, pclient, order, &nused, err)) goto out;
    client = xmalloc((size_t)(n ? n : 1) * sizeof *client);
    for (int64_t i = 0; i < n; i++) client[perm[i]] = pclient[i];
    for (int64_t i = 0; i < nused; i++) order[i] = perm[order[i]];
    m.nclients = c->clients.count;
    m.client_docs = xcalloc((size_t)m.nclients, sizeof(int64_t));
    m.client_tokens = xcalloc((size_t)m.nclients, sizeof(int64_t));
    if (doctable_write_clients(&docs, order, nused, client, m.nclients, x.wide, client_path, c, (int64_t *)m.client_docs,
                               (int64_t *)m.client_tokens, err))
        goto out;
    /* shards of clients beyond count are from an earlier, larger run */
    for (int k = m.nclients;; k++) {
        char p[4096];
        prepare_client_shard(c, k, p, sizeof p);
        if (!file_exists(p) || unlink(p) != 0) break;
    }
    csd = xcalloc((size_t)m.nclients * (size_t)(ns ? ns : 1), sizeof *csd);
    for (int64_t i = 0; i < nused; i++) csd[(size_t)client[order[i]] * (size_t)ns + (size_t)docs.label[order[i]]]++;

    /* validation */
    char vpath[4096];
    prepare_val_shard(c, vpath, sizeof vpath);
    if (vs.n) {
        if (gather(&x, &vs, val, 0, &vdocs, "validation", err)) goto out;
        if (doctable_write_all(&vdocs, vpath, x.wide, err)) goto out;
        m.val_docs = vdocs.ndocs;
        for (int64_t d = 0; d < vdocs.ndocs; d++) m.val_tokens += vdocs.tokens[d];
        /* one entry per validation source (files of one name are adjacent) */
        valsrc = xcalloc((size_t)vs.n, sizeof *valsrc);
        for (int i = 0; i < vs.n; i++) {
            man_source *a = nval && strcmp(valsrc[nval - 1].name, val[i].name) == 0 ? &valsrc[nval - 1] : NULL;
            if (!a) {   /* at most VAL_MAX_SOURCES: describe() checked */
                a = &valsrc[nval++];
                *a = val[i];
                a->hash = hash64(&val[i].hash, sizeof val[i].hash, HASH64_INIT);
                continue;
            }
            a->bytes += val[i].bytes;
            a->hash = hash64(&val[i].hash, sizeof val[i].hash, a->hash);
            a->docs += val[i].docs;
            a->tokens += val[i].tokens;
            a->pretokenized &= val[i].pretokenized;
        }
    } else if (file_exists(vpath)) {
        unlink(vpath);   /* a validation shard of other inputs must not be mistaken for this one's */
    }

    m.inputs_hash = inputs;
    m.tokenizer_spec = c->data.tokenizer;
    m.tokenizer_dir = tdir;
    m.trained = trains_tokenizer(c);
    m.vocab_size = tok_vocab_size(t);
    m.tokenizer_hash = tok_hash(t);
    m.nsources = ss.n;
    m.sources = src;
    m.nval = nval;
    m.val = valsrc;
    m.nval_files = vs.n;
    m.val_files = val;
    m.cfg = c;
    m.nlabels = ns;
    m.labels = (const char *const *)docs.labels;
    m.client_source_docs = csd;
    m.seconds = time_mono() - t0;
    if (manifest_write(mpath, &m, err)) goto out;
    remove_unused_caches(x.cache_dir, x.used, x.nused);
    log_info("prepared %d client shard%s%s in %s (%.1f s)", m.nclients, m.nclients == 1 ? "" : "s",
             vs.n ? " and val.bin" : "", dir, m.seconds);
    rc = 0;
out:
    free((void *)m.client_docs);
    free((void *)m.client_tokens);
    free(csd);
    free(client);
    free(pclient);
    free(order);
    free(perm);
    free(ptok);
    free(nd);
    for (int i = 0; i < x.nused; i++) free(x.used[i]);
    free(x.used);
    doctable_free(&docs);
    doctable_free(&vdocs);
    tok_free(t);
    free(src);
    free(val);
    free(valsrc);
    srcset_free(&ss);
    srcset_free(&vs);
    return rc;
}
