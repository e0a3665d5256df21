/* The prepared-data manifest (<prepared>/manifest.json): what went in
 * (source files with sizes and content hashes, tokenizer, partition
 * parameters, folded into one inputs_hash) and what came out (documents and
 * tokens per client, per partition source -- a [data] sources name, or a
 * source_field value -- and for the validation shard).  A later run compares
 * inputs_hash to decide whether the prepared data is current. */
#ifndef PHOTON_MANIFEST_H
#define PHOTON_MANIFEST_H
#include <stdint.h>
#include "io/config.h"

typedef struct {
    const char *name, *path;
    int pretokenized;               /* an llm.c token shard */
    uint64_t bytes, hash;
    int64_t docs, tokens;
} man_source;

typedef struct {
    uint64_t inputs_hash;
    const char *tokenizer_spec;     /* data.tokenizer as configured */
    const char *tokenizer_dir;
    int vocab_size, trained;
    uint64_t tokenizer_hash;
    int nsources, nval, nval_files;
    const man_source *sources;
    const man_source *val;          /* one per validation source name, in val.bin's order */
    const man_source *val_files;    /* the files behind them */
    const photon_config *cfg;       /* partition parameters */
    int nclients;
    const int64_t *client_docs, *client_tokens;
    int nlabels;                    /* partition sources: names and documents per client */
    const char *const *labels;
    const int64_t *client_source_docs;  /* nclients x nlabels */
    int64_t val_docs, val_tokens;
    double seconds;
} manifest;

int manifest_write(const char *path, const manifest *m, photon_err *err);
/* Reads inputs_hash back; 0, or -1 when the manifest is missing or unreadable. */
int manifest_inputs_hash(const char *path, uint64_t *h);
#endif
