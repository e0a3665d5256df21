/* The document table and shard writing of prepare (see prepare_docs.h).
 * Client shards are written one at a time, each streamed from the token
 * caches document by document, so no shard is ever held in memory. */
#include "io/prepare_docs.h"
#include <stdlib.h>
#include <string.h>
#include "io/shard.h"

#define MAX_LABELS 100000

int doctable_label(const doctable *t, const char *name)
{
    for (int i = 0; i < t->nlabels; i++)
        if (strcmp(t->labels[i], name) == 0) return i;
    return -1;
}

static int label_id(doctable *t, const char *name, size_t n, photon_err *err)
{
    for (int i = 0; i < t->nlabels; i++)
        if (strlen(t->labels[i]) == n && memcmp(t->labels[i], name, n) == 0) return i;
    if (t->nlabels == MAX_LABELS) {
        err_set(err, "more than %d partition sources (distinct [data] source_field values)", MAX_LABELS);
        return -1;
    }
    if (memchr(name, 0, n)) { err_set(err, "a [data] source_field value contains a NUL character"); return -1; }
    t->labels = xrealloc(t->labels, (size_t)(t->nlabels + 1) * sizeof *t->labels);
    t->labels[t->nlabels] = xmalloc(n + 1);
    memcpy(t->labels[t->nlabels], name, n);
    t->labels[t->nlabels][n] = 0;
    return t->nlabels++;
}

int doctable_add(doctable *t, tokcache *c, int by_value, const char *name, photon_err *err)
{
    uint64_t nd = tokcache_docs(c);
    int nl = tokcache_labels(c);
    int *map = xmalloc((size_t)(nl + 1) * sizeof *map);
    for (int i = 0; i < nl || i == 0; i++) {
        size_t n = strlen(name);
        const char *s = name;
        if (by_value && nl) s = tokcache_label(c, i, &n);
        if ((map[i] = label_id(t, s, n, err)) < 0) { free(map); tokcache_close(c); return -1; }
    }
    t->files = xrealloc(t->files, (size_t)(t->nfiles + 1) * sizeof *t->files);
    uint32_t fi = (uint32_t)t->nfiles++;
    t->files[fi] = c;
    size_t total = (size_t)(t->ndocs + (int64_t)nd) + 1;
    t->file = xrealloc(t->file, total * sizeof *t->file);
    t->local = xrealloc(t->local, total * sizeof *t->local);
    t->tokens = xrealloc(t->tokens, total * sizeof *t->tokens);
    t->label = xrealloc(t->label, total * sizeof *t->label);
    for (uint64_t d = 0; d < nd; d++) {
        int64_t g = t->ndocs + (int64_t)d;
        t->file[g] = fi;
        t->local[g] = (uint32_t)d;
        t->tokens[g] = tokcache_doc_len(c, d);
        t->label[g] = map[by_value && nl ? tokcache_doc_label(c, d) : 0];
    }
    t->ndocs += (int64_t)nd;
    free(map);
    return 0;
}

static int put_doc(const doctable *t, int64_t d, shard_writer *w, uint32_t **buf, size_t *cap, photon_err *err)
{
    size_t n = (size_t)t->tokens[d];
    if (n > *cap) { *cap = n; free(*buf); *buf = xmalloc(n * sizeof **buf); }
    if (tokcache_copy(t->files[t->file[d]], t->local[d], *buf, err)) return -1;
    return shard_writer_put(w, *buf, n, err);
}

int doctable_write_clients(const doctable *t, const int64_t *order, int64_t n, const int32_t *client, int nclients,
                           int wide, void (*path_fn)(const void *ud, int k, char *out, size_t len), const void *ud,
                           int64_t *client_docs, int64_t *client_tokens, photon_err *err)
{
    /* bucket the documents by client, keeping their order */
    int64_t *first = xcalloc((size_t)nclients + 1, sizeof *first), *pos = xmalloc((size_t)(n ? n : 1) * sizeof *pos);
    for (int k = 0; k < nclients; k++) client_docs[k] = client_tokens[k] = 0;
    for (int64_t i = 0; i < n; i++) {
        int k = client[order[i]];
        client_docs[k]++;
        client_tokens[k] += t->tokens[order[i]];
    }
    for (int k = 0; k < nclients; k++) first[k + 1] = first[k] + client_docs[k];
    int64_t *fill = xmalloc((size_t)nclients * sizeof *fill);
    memcpy(fill, first, (size_t)nclients * sizeof *fill);
    for (int64_t i = 0; i < n; i++) pos[fill[client[order[i]]]++] = order[i];
    free(fill);
    uint32_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int k = 0; k < nclients && rc == 0; k++) {
        char p[4200];
        path_fn(ud, k, p, sizeof p);
        shard_writer *w = shard_writer_open(p, (size_t)client_tokens[k], wide, err);
        if (!w) { rc = -1; break; }
        for (int64_t i = first[k]; i < first[k + 1] && rc == 0; i++) rc = put_doc(t, pos[i], w, &buf, &cap, err);
        if (rc) shard_writer_abort(w);
        else rc = shard_writer_commit(w, err);
    }
    free(buf);
    free(pos);
    free(first);
    return rc;
}

int doctable_write_all(const doctable *t, const char *path, int wide, photon_err *err)
{
    int64_t total = 0;
    for (int64_t d = 0; d < t->ndocs; d++) total += t->tokens[d];
    shard_writer *w = shard_writer_open(path, (size_t)total, wide, err);
    if (!w) return -1;
    uint32_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (int64_t d = 0; d < t->ndocs && rc == 0; d++) rc = put_doc(t, d, w, &buf, &cap, err);
    free(buf);
    if (rc) { shard_writer_abort(w); return -1; }
    return shard_writer_commit(w, err);
}

void doctable_free(doctable *t)
{
    for (int i = 0; i < t->nfiles; i++) tokcache_close(t->files[i]);
    for (int i = 0; i < t->nlabels; i++) free(t->labels[i]);
    free(t->files);
    free(t->labels);
    free(t->file);
    free(t->local);
    free(t->tokens);
    free(t->label);
    memset(t, 0, sizeof *t);
}
