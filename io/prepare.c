/* `photon-sim prepare` (see prepare.h): read the sources, train or load the
 * tokenizer, tokenize on all cores, deal documents to clients, write one
 * llm.c shard per client plus val.bin, and the manifest last.
 * Determinism: documents keep their source order through tokenization
 * (threads work on a chunk of documents, results are appended in document
 * order), the partition is a function of the seed, so the same inputs give
 * byte-identical shards on any number of threads.
 * Safety: the old manifest is removed first and the new one written last,
 * so an interrupted prepare never looks current; every file is written
 * through a temp file + rename. */
#include "io/prepare.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/manifest.h"
#include "io/partition.h"
#include "io/prepare_text.h"
#include "io/shard.h"
#include "io/tokenizer.h"

#define PREPARE_FORMAT 2      /* bump when the output for the same inputs changes */

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

static int describe_sources(const cfg_list *l, man_source *out, photon_err *err)
{
    for (int i = 0; i < l->n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        partition_source_name(l->item[i], out[i].name, sizeof out[i].name);
        snprintf(out[i].path, sizeof out[i].path, "%s", partition_source_path(l->item[i]));
        if (hash_file(out[i].path, &out[i].bytes, &out[i].hash, err)) return -1;
    }
    return 0;
}

/* Everything the prepared data depends on, folded into one hash. */
static int fingerprint(const photon_config *c, const man_source *src, const man_source *val, uint64_t *out, photon_err *err)
{
    char line[2 * CFG_STR + 128];
    uint64_t h = HASH64_INIT;
#define FOLD(...) do { snprintf(line, sizeof line, __VA_ARGS__); h = hash64(line, strlen(line) + 1, h); } while (0)
    FOLD("format %d", PREPARE_FORMAT);
    for (int i = 0; i < c->data.sources.n; i++)
        FOLD("source %s %" PRIu64 " %016" PRIx64, src[i].name, src[i].bytes, src[i].hash);
    for (int i = 0; i < c->data.validation.n; i++)
        FOLD("validation %" PRIu64 " %016" PRIx64, val[i].bytes, val[i].hash);
    if (trains_tokenizer(c)) FOLD("tokenizer train %d", c->data.tokenizer_vocab);
    else {
        char p[4096];
        uint64_t b1, h1, b2, h2;
        path_join(p, sizeof p, c->data.tokenizer, "encoder.json");
        if (hash_file(p, &b1, &h1, err)) return -1;
        path_join(p, sizeof p, c->data.tokenizer, "vocab.bpe");
        if (hash_file(p, &b2, &h2, err)) return -1;
        FOLD("tokenizer %016" PRIx64 " %016" PRIx64, h1, h2);
    }
    FOLD("partition %d clients %d seed %" PRIu64 " alpha %.17g max_docs %" PRId64, c->data.partition, c->clients.count,
         c->run.seed, c->data.partition == PART_DIRICHLET ? c->data.alpha : 0.0, c->data.max_docs);
    for (int i = 0; c->data.partition == PART_BY_SOURCE && i < c->data.assign.n; i++) FOLD("assign %s", c->data.assign.item[i]);
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
    man_source *src = xcalloc((size_t)c->data.sources.n + 1, sizeof *src);
    man_source *val = xcalloc((size_t)c->data.validation.n + 1, sizeof *val);
    uint64_t want;
    int ok = describe_sources(&c->data.sources, src, &err) == 0 && describe_sources(&c->data.validation, val, &err) == 0 &&
             fingerprint(c, src, val, &want, &err) == 0 && want == have;
    free(src);
    free(val);
    for (int k = 0; ok && k < c->clients.count; k++) {
        prepare_client_shard(c, k, p, sizeof p);
        ok = shard_intact(p);
    }
    if (ok && c->data.validation.n) { prepare_val_shard(c, p, sizeof p); ok = shard_intact(p); }
    char td[4096], tf[4096];
    prepare_tokenizer_dir(c, td, sizeof td);
    path_join(tf, sizeof tf, td, "vocab.bpe");
    return ok && file_exists(tf);
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

static int write_clients(const photon_config *c, const tokstore *ts, const int32_t *client, const int64_t *order,
                         int64_t nused, int wide, manifest *m, photon_err *err)
{
    int n = c->clients.count;
    int64_t *docs = xcalloc((size_t)n, sizeof *docs), *toks = xcalloc((size_t)n, sizeof *toks);
    m->client_docs = docs;
    m->client_tokens = toks;
    for (int64_t i = 0; i < nused; i++) {
        int64_t d = order[i];
        docs[client[d]]++;
        toks[client[d]] += ts->off[d + 1] - ts->off[d];
    }
    uint32_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        if ((size_t)toks[k] > cap) { cap = (size_t)toks[k]; free(buf); buf = xmalloc(cap * sizeof *buf); }
        size_t at = 0;
        for (int64_t i = 0; i < nused; i++) {
            int64_t d = order[i];
            if (client[d] != k) continue;
            size_t len = (size_t)(ts->off[d + 1] - ts->off[d]);
            memcpy(buf + at, ts->tok + ts->off[d], len * sizeof *buf);
            at += len;
        }
        char p[4096];
        prepare_client_shard(c, k, p, sizeof p);
        rc = shard_write(p, buf, at, wide, err);
    }
    free(buf);
    /* shards of clients beyond count are from an earlier, larger run */
    for (int k = n;; k++) {
        char p[4096];
        prepare_client_shard(c, k, p, sizeof p);
        if (!file_exists(p) || unlink(p) != 0) break;
    }
    return rc;
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
    char dir[4096], mpath[4096], tdir[4096];
    prepare_dir(c, dir, sizeof dir);
    in_dir(c, "manifest.json", mpath, sizeof mpath);
    prepare_tokenizer_dir(c, tdir, sizeof tdir);
    /* also when the data is current: a run killed inside a write leaves these */
    remove_stale_temps(dir);
    remove_stale_temps(tdir);
    if (only_if_stale && prepare_is_current(c)) return 0;
    double t0 = time_mono();
    int threads = cpu_threads(0), ns = c->data.sources.n, nv = c->data.validation.n, rc = -1;
    if (ns < 1) { err_set(err, "[data] sources: expected at least one text source"); return -1; }
    if (mkdir_p(dir, err)) return -1;
    if (unlink(mpath) != 0 && errno != ENOENT) { err_set(err, "%s: cannot remove: %s", mpath, strerror(errno)); return -1; }

    man_source *src = xcalloc((size_t)ns, sizeof *src), *val = xcalloc((size_t)nv + 1, sizeof *val);
    tokstore toks = { 0 }, vtoks = { 0 };
    tokenizer *t = NULL;
    int32_t *client = NULL;
    int64_t *order = NULL, *csd = NULL;
    manifest m;
    memset(&m, 0, sizeof m);
    uint64_t inputs;
    if (describe_sources(&c->data.sources, src, err) || describe_sources(&c->data.validation, val, err) ||
        fingerprint(c, src, val, &inputs, err))
        goto out;
    if (trains_tokenizer(c) && prep_train(&c->data.sources, c->data.max_docs, src, c->data.tokenizer_vocab, tdir, threads, err))
        goto out;
    if (!(t = tok_load(tdir, err))) goto out;
    if (tok_eot(t) < 0) { err_set(err, "%s: the tokenizer has no <|endoftext|> token to end documents with", tdir); goto out; }
    int wide = tok_vocab_size(t) > 65535;
    double tt = time_mono();
    if (prep_tokenize(&c->data.sources, c->data.max_docs, src, t, threads, &toks, "reading and tokenizing", err)) goto out;
    log_info("read and tokenized %" PRId64 " documents from %d source%s into %zu tokens on %d thread%s in %.1f s",
             toks.nd, ns, ns == 1 ? "" : "s", toks.n, threads, threads == 1 ? "" : "s", time_mono() - tt);

    /* partition and write the client shards */
    const char **names = xmalloc((size_t)ns * sizeof *names);
    int64_t *nd = xmalloc((size_t)ns * sizeof *nd);
    for (int s = 0; s < ns; s++) { names[s] = src[s].name; nd[s] = src[s].docs; }
    client = xmalloc((size_t)toks.nd * sizeof *client);
    order = xmalloc((size_t)toks.nd * sizeof *order);
    int64_t nused;
    partition_spec ps = { c->data.partition, c->clients.count, c->run.seed, c->data.alpha, &c->data.assign };
    int64_t *dtok = xmalloc((size_t)toks.nd * sizeof *dtok);
    for (int64_t d = 0; d < toks.nd; d++) dtok[d] = toks.off[d + 1] - toks.off[d];
    int prc = partition_docs(&ps, ns, names, nd, dtok, client, order, &nused, err);
    free(dtok);
    free(names);
    free(nd);
    if (prc) goto out;
    m.nclients = c->clients.count;
    if (write_clients(c, &toks, client, order, nused, wide, &m, err)) goto out;
    csd = xcalloc((size_t)m.nclients * (size_t)ns, sizeof *csd);
    for (int64_t d = 0, s = 0, end = src[0].docs; d < toks.nd; d++) {
        while (d >= end) end += src[++s].docs;
        if (client[d] >= 0) csd[(size_t)client[d] * ns + s]++;
    }

    /* validation */
    char vpath[4096];
    prepare_val_shard(c, vpath, sizeof vpath);
    if (nv) {
        if (prep_tokenize(&c->data.validation, c->data.max_docs, val, t, threads, &vtoks, "validation", err)) goto out;
        if (shard_write(vpath, vtoks.tok, vtoks.n, wide, err)) goto out;
        m.val_docs = vtoks.nd;
        m.val_tokens = (int64_t)vtoks.n;
    } else if (file_exists(vpath)) {
        unlink(vpath);   /* a validation shard of other inputs must not be mistaken for this one's */
    }

    m.inputs_hash = inputs;
    m.tokenizer_spec = c->data.tokenizer;
    m.tokenizer_dir = tdir;
    m.trained = trains_tokenizer(c);
    m.vocab_size = tok_vocab_size(t);
    m.tokenizer_hash = tok_hash(t);
    m.nsources = ns;
    m.sources = src;
    m.nval = nv;
    m.val = val;
    m.cfg = c;
    m.client_source_docs = csd;
    m.seconds = time_mono() - t0;
    if (manifest_write(mpath, &m, err)) goto out;
    log_info("prepared %d client shard%s%s in %s (%.1f s)", m.nclients, m.nclients == 1 ? "" : "s",
             nv ? " and val.bin" : "", dir, m.seconds);
    rc = 0;
out:
    free((void *)m.client_docs);
    free((void *)m.client_tokens);
    free(csd);
    free(client);
    free(order);
    tok_free(t);
    tokstore_free(&toks);
    tokstore_free(&vtoks);
    free(src);
    free(val);
    return rc;
}
