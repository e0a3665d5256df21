/* The tokens of one source file, kept on disk between the steps of prepare
 * and between prepares: <prepared>/cache/<key>.tok holds a file's documents
 * (each ending with EOT), their lengths and their labels (source_field
 * values).  The key is a hash of everything the tokens depend on (the
 * file's content, the tokenizer, text_key, ...), so an interrupted or
 * repeated prepare reuses every file already tokenized, and memory never
 * holds more than one chunk of text.  An llm.c token shard used as a source
 * opens through the same reader, its documents cut at the EOT token.
 *
 * File layout (little-endian): a 64-byte header ("PHTOKCAC", version,
 * token width, token, document and label counts, key), the tokens, then per
 * document its length (u32) and label (u32), then the labels (u32 length +
 * bytes each). */
#ifndef PHOTON_TOKCACHE_H
#define PHOTON_TOKCACHE_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

#define TOKCACHE_MAX_LABELS 10000

typedef struct tokcache_writer tokcache_writer;
tokcache_writer *tokcache_create(const char *path, uint64_t key, int wide, photon_err *err);
/* One document's ids (EOT included) and its label (NULL: none). */
int tokcache_add(tokcache_writer *w, const uint32_t *ids, size_t n, const char *label, size_t label_len, photon_err *err);
uint64_t tokcache_writer_docs(const tokcache_writer *w);
int tokcache_commit(tokcache_writer *w, photon_err *err);   /* frees w */
void tokcache_abort(tokcache_writer *w);                    /* frees w, removes the temp file */

typedef struct tokcache tokcache;
/* Opens a cache; NULL with err when it is missing, damaged or of another key. */
tokcache *tokcache_open(const char *path, uint64_t key, photon_err *err);
/* A token shard as a source: documents end at each EOT (a last one without
 * gets it appended), at most max_docs of them (0 = all), every token checked
 * against vocab.  All documents get label 0 (named label). */
tokcache *tokcache_open_shard(const char *path, uint32_t eot, int vocab, int64_t max_docs, const char *label,
                              photon_err *err);
uint64_t tokcache_docs(const tokcache *c);
uint64_t tokcache_tokens(const tokcache *c);
/* Document d's length in tokens as written (EOT included) and its label. */
uint32_t tokcache_doc_len(const tokcache *c, uint64_t d);
uint32_t tokcache_doc_label(const tokcache *c, uint64_t d);
int tokcache_labels(const tokcache *c);
const char *tokcache_label(const tokcache *c, int i, size_t *n);
/* Copies document d's tokens (tokcache_doc_len of them) into out; -1 with
 * err on a read error. */
int tokcache_copy(tokcache *c, uint64_t d, uint32_t *out, photon_err *err);
void tokcache_close(tokcache *c);
#endif
