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
#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/bpe_train.h"
#include "io/manifest.h"
#include "io/partition.h"
#include "io/progress.h"
#include "io/shard.h"
#include "io/textsrc.h"
#include "io/tokenizer.h"

#define PREPARE_FORMAT 1      /* bump when the output for the same inputs changes */
#define CHUNK_DOCS 512

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
        ok = file_exists(p);
    }
    if (ok && c->data.validation.n) { prepare_val_shard(c, p, sizeof p); ok = file_exists(p); }
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

/* ---- documents and tokens --------------------------------------------- */

typedef struct {
    char *text; size_t n, cap;
    int64_t *off; int64_t nd, dcap;     /* off[d] .. off[d+1] */
} docstore;

typedef struct {
    uint32_t *tok; size_t n, cap;
    int64_t *off;                        /* nd + 1 offsets, EOT included */
} tokstore;

static void docs_add(docstore *d, const char *s, size_t n)
{
    if (d->n + n > d->cap) {
        d->cap = (d->n + n) * 2 > (1u << 24) ? (d->n + n) * 2 : (1u << 24);
        d->text = xrealloc(d->text, d->cap);
    }
    memcpy(d->text + d->n, s, n);
    d->n += n;
    if (d->nd + 2 > d->dcap) {
        d->dcap = d->dcap ? d->dcap * 2 : 4096;
        d->off = xrealloc(d->off, (size_t)d->dcap * sizeof *d->off);
    }
    if (d->nd == 0) d->off[0] = 0;
    d->off[++d->nd] = (int64_t)d->n;
}

/* Reads sources into d; per-source document counts into src[i].docs. */
static int read_sources(const photon_config *c, const cfg_list *l, man_source *src, docstore *d, const char *what, photon_err *err)
{
    progress pr;
    progress_start(&pr, what, 0);
    size_t done = 0;
    for (int i = 0; i < l->n; i++) {
        textsrc *s = textsrc_open(src[i].path, err);
        if (!s) return -1;
        const char *text;
        size_t n;
        int rc = 0;
        int64_t before = d->nd;
        while ((c->data.max_docs == 0 || d->nd - before < c->data.max_docs) && (rc = textsrc_next(s, &text, &n, err)) == 1) {
            docs_add(d, text, n);
            progress_update(&pr, done + textsrc_bytes(s));
        }
        done += textsrc_bytes(s);
        textsrc_close(s);
        if (rc < 0) return -1;
        src[i].docs = d->nd - before;
        if (src[i].docs == 0) {
            err_set(err, "%s: no documents in this text source (empty file, or only blank lines/empty texts)", src[i].path);
            return -1;
        }
    }
    progress_end(&pr, done);
    return 0;
}

static void tokenize_docs(const tokenizer *t, const docstore *d, tokstore *out, int threads)
{
    uint32_t *ids[CHUNK_DOCS] = { 0 };
    size_t len[CHUNK_DOCS], cap[CHUNK_DOCS] = { 0 };
    uint32_t eot = (uint32_t)tok_eot(t);
    out->off = xmalloc((size_t)(d->nd + 1) * sizeof *out->off);
    out->off[0] = 0;
    progress pr;
    progress_start(&pr, "tokenizing", d->n);
    for (int64_t c0 = 0; c0 < d->nd; c0 += CHUNK_DOCS) {
        int64_t m = d->nd - c0 < CHUNK_DOCS ? d->nd - c0 : CHUNK_DOCS;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int64_t i = 0; i < m; i++) {
            int64_t doc = c0 + i;
            len[i] = 0;
            tok_encode(t, d->text + d->off[doc], (size_t)(d->off[doc + 1] - d->off[doc]), &ids[i], &len[i], &cap[i]);
        }
        for (int64_t i = 0; i < m; i++) {
            size_t need = out->n + len[i] + 1;
            if (need > out->cap) {
                out->cap = need * 2 > (1u << 22) ? need * 2 : (1u << 22);
                out->tok = xrealloc(out->tok, out->cap * sizeof *out->tok);
            }
            memcpy(out->tok + out->n, ids[i], len[i] * sizeof *ids[i]);
            out->n += len[i];
            out->tok[out->n++] = eot;   /* documents end with EOT */
            out->off[c0 + i + 1] = (int64_t)out->n;
        }
        progress_update(&pr, (size_t)d->off[c0 + m]);
    }
    progress_end(&pr, d->n);
    for (int i = 0; i < CHUNK_DOCS; i++) free(ids[i]);
}

static int train_tokenizer(const photon_config *c, const docstore *d, const char *dir, int threads, photon_err *err)
{
    double t0 = time_mono();
    bpe_counter **part = xcalloc((size_t)threads, sizeof *part);
    progress pr;
    progress_start(&pr, "counting words for BPE", d->n);
#pragma omp parallel num_threads(threads)
    {
        int me = omp_get_thread_num();
        part[me] = bpe_counter_new();
#pragma omp for schedule(dynamic, 64)
        for (int64_t i = 0; i < d->nd; i++)
            bpe_counter_add(part[me], d->text + d->off[i], (size_t)(d->off[i + 1] - d->off[i]));
    }
    for (int i = 1; i < threads; i++) if (part[i]) { bpe_counter_merge(part[0], part[i]); bpe_counter_free(part[i]); }
    progress_end(&pr, d->n);
    double t1 = time_mono();
    int v = bpe_train(part[0], c->data.tokenizer_vocab, dir, err);
    log_info("trained a %d-token byte-level BPE on %.1f MB (%zu distinct words) in %.1f s (counting %.1f s, merging %.1f s)",
             v, d->n / 1e6, bpe_counter_words(part[0]), time_mono() - t0, t1 - t0, time_mono() - t1);
    bpe_counter_free(part[0]);
    free(part);
    return v < 0 ? -1 : 0;
}

/* ---- writing ---------------------------------------------------------- */

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

static void docstore_free(docstore *d) { free(d->text); free(d->off); memset(d, 0, sizeof *d); }
static void tokstore_free(tokstore *t) { free(t->tok); free(t->off); memset(t, 0, sizeof *t); }

int prepare_run(const photon_config *c, int only_if_stale, photon_err *err)
{
    if (only_if_stale && prepare_is_current(c)) return 0;
    double t0 = time_mono();
    int threads = cpu_threads(0), ns = c->data.sources.n, nv = c->data.validation.n, rc = -1;
    char dir[4096], mpath[4096], tdir[4096];
    prepare_dir(c, dir, sizeof dir);
    in_dir(c, "manifest.json", mpath, sizeof mpath);
    prepare_tokenizer_dir(c, tdir, sizeof tdir);
    if (ns < 1) { err_set(err, "[data] sources: expected at least one text source"); return -1; }
    if (mkdir_p(dir, err)) return -1;
    if (unlink(mpath) != 0 && errno != ENOENT) { err_set(err, "%s: cannot remove: %s", mpath, strerror(errno)); return -1; }

    man_source *src = xcalloc((size_t)ns, sizeof *src), *val = xcalloc((size_t)nv + 1, sizeof *val);
    docstore docs = { 0 }, vdocs = { 0 };
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
    if (read_sources(c, &c->data.sources, src, &docs, "reading sources", err)) goto out;
    log_info("read %" PRId64 " documents (%.1f MB) from %d source%s", docs.nd, docs.n / 1e6, ns, ns == 1 ? "" : "s");
    if (trains_tokenizer(c) && train_tokenizer(c, &docs, tdir, threads, err)) goto out;
    if (!(t = tok_load(tdir, err))) goto out;
    if (tok_eot(t) < 0) { err_set(err, "%s: the tokenizer has no <|endoftext|> token to end documents with", tdir); goto out; }
    int wide = tok_vocab_size(t) > 65535;
    double tt = time_mono();
    tokenize_docs(t, &docs, &toks, threads);
    log_info("tokenized %.1f MB into %zu tokens on %d thread%s at %.1f MB/s", docs.n / 1e6, toks.n, threads,
             threads == 1 ? "" : "s", docs.n / 1e6 / (time_mono() - tt + 1e-9));
    int64_t first = 0;
    for (int s = 0; s < ns; s++) {
        src[s].tokens = toks.off[first + src[s].docs] - toks.off[first];
        first += src[s].docs;
    }

    /* partition and write the client shards */
    const char **names = xmalloc((size_t)ns * sizeof *names);
    int64_t *nd = xmalloc((size_t)ns * sizeof *nd);
    for (int s = 0; s < ns; s++) { names[s] = src[s].name; nd[s] = src[s].docs; }
    client = xmalloc((size_t)docs.nd * sizeof *client);
    order = xmalloc((size_t)docs.nd * sizeof *order);
    int64_t nused;
    partition_spec ps = { c->data.partition, c->clients.count, c->run.seed, c->data.alpha, &c->data.assign };
    int64_t *dtok = xmalloc((size_t)docs.nd * sizeof *dtok);
    for (int64_t d = 0; d < docs.nd; d++) dtok[d] = toks.off[d + 1] - toks.off[d];
    int prc = partition_docs(&ps, ns, names, nd, dtok, client, order, &nused, err);
    free(dtok);
    free(names);
    free(nd);
    if (prc) goto out;
    m.nclients = c->clients.count;
    if (write_clients(c, &toks, client, order, nused, wide, &m, err)) goto out;
    csd = xcalloc((size_t)m.nclients * (size_t)ns, sizeof *csd);
    for (int64_t d = 0, s = 0, end = src[0].docs; d < docs.nd; d++) {
        while (d >= end) end += src[++s].docs;
        if (client[d] >= 0) csd[(size_t)client[d] * ns + s]++;
    }

    /* validation */
    char vpath[4096];
    prepare_val_shard(c, vpath, sizeof vpath);
    if (nv) {
        if (read_sources(c, &c->data.validation, val, &vdocs, "reading validation sources", err)) goto out;
        tokenize_docs(t, &vdocs, &vtoks, threads);
        for (int i = 0, f = 0; i < nv; i++) {
            partition_source_name(c->data.validation.item[i], val[i].name, sizeof val[i].name);
            val[i].tokens = vtoks.off[f + val[i].docs] - vtoks.off[f];
            f += (int)val[i].docs;
        }
        if (shard_write(vpath, vtoks.tok, vtoks.n, wide, err)) goto out;
        m.val_docs = vdocs.nd;
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
    docstore_free(&docs);
    docstore_free(&vdocs);
    tokstore_free(&toks);
    tokstore_free(&vtoks);
    free(src);
    free(val);
    return rc;
}
