/* Where each validation source's tokens lie in val.bin.  `prepare` writes
 * the validation sources into manifest.json in val.bin's order, each with
 * its token count and (since per-source evaluation) its first token; this
 * module reads them back and checks that they tile the shard exactly, so an
 * evaluation can keep its windows inside one source and report a perplexity
 * per source.  Manifests written before first_token existed still work: the
 * offsets are the running sum of the counts, which is how val.bin is laid
 * out. */
#ifndef PHOTON_VAL_INDEX_H
#define PHOTON_VAL_INDEX_H
#include <stdint.h>
#include "io/config.h"

#define VAL_MAX_SOURCES 16   /* validation source names (= EVAL_MAX_SOURCES; prepare refuses more) */

typedef struct {
    char name[CFG_STR];   /* name= of the validation item, else its file stem */
    int64_t first;        /* first token in val.bin */
    int64_t tokens;       /* tokens of this source (documents, each ending in EOT) */
} val_source;

typedef struct {
    int n;
    val_source src[VAL_MAX_SOURCES];
} val_index;

/* The message for a validation source beyond VAL_MAX_SOURCES (name: the
 * first one too many), said by config load and by prepare alike. */
void val_too_many(char *out, size_t n, const char *name);

/* Reads the "validation" array of a prepared-data manifest and checks it
 * against val.bin's token count (names unique and non-empty, ranges
 * contiguous from 0 and summing to shard_tokens).  0, or -1 with err
 * (saying to run `photon-sim prepare` again when the manifest does not
 * describe this val.bin). */
int val_index_load(const char *manifest_path, int64_t shard_tokens, val_index *out, photon_err *err);
/* The whole shard as one source called name. */
void val_index_single(val_index *out, const char *name, int64_t shard_tokens);
#endif
