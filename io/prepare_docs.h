/* The document table of a prepare: every document of every source file
 * (from the files' token caches, io/tokcache.h), with its length and its
 * partition label -- the [data] sources name of its file, or its
 * source_field value -- and the writing of shards from it.  Per document it
 * keeps a few dozen bytes, so memory grows with the number of documents,
 * never with the size of the text. */
#ifndef PHOTON_PREPARE_DOCS_H
#define PHOTON_PREPARE_DOCS_H
#include <stdint.h>
#include "io/tokcache.h"

typedef struct {
    tokcache **files;
    int nfiles;
    int64_t ndocs;
    uint32_t *file;       /* document -> file */
    uint32_t *local;      /* document -> index in its file */
    int64_t *tokens;      /* document -> length (EOT included) */
    int32_t *label;       /* document -> label */
    char **labels;        /* label names, in order of first appearance */
    int nlabels;
} doctable;

/* Adds a file's documents: their labels are the file's own labels when
 * by_value (source_field), else name.  Takes ownership of c. */
int doctable_add(doctable *t, tokcache *c, int by_value, const char *name, photon_err *err);
int doctable_label(const doctable *t, const char *name);
/* Writes the documents order[0..n) (that have client[d] == k for some k)
 * as one llm.c shard per client: path_fn(k) gives the path. */
int doctable_write_clients(const doctable *t, const int64_t *order, int64_t n, const int32_t *client, int nclients,
                           int wide, void (*path_fn)(const void *ud, int k, char *out, size_t len), const void *ud,
                           int64_t *client_docs, int64_t *client_tokens, photon_err *err);
/* Writes every document in order as one shard. */
int doctable_write_all(const doctable *t, const char *path, int wide, photon_err *err);
void doctable_free(doctable *t);
#endif
