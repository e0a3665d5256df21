/* The prepared-data manifest (<prepared>/manifest.json): what went in
 * (sources with sizes and content hashes, tokenizer, partition parameters,
 * folded into one inputs_hash) and what came out (documents and tokens per
 * client, per source, and for the validation shard).  A later run compares
 * inputs_hash to decide whether the prepared data is current. */
#ifndef PHOTON_MANIFEST_H
#define PHOTON_MANIFEST_H
#include <stdint.h>
#include "io/config.h"

typedef struct {
    char name[CFG_STR], path[CFG_STR];
    uint64_t bytes, hash;
    int64_t docs, tokens;
} man_source;

typedef struct {
    uint64_t inputs_hash;
    const char *tokenizer_spec;     /* data.tokenizer as configured */
    const char *tokenizer_dir;
    int vocab_size, trained;
    uint64_t tokenizer_hash;
    int nsources, nval;
    const man_source *sources, *val;
    const photon_config *cfg;       /* partition parameters */
    int nclients;
    const int64_t *client_docs, *client_tokens;
    const int64_t *client_source_docs;  /* nclients x nsources */
    int64_t val_docs, val_tokens;
    double seconds;
} manifest;

int manifest_write(const char *path, const manifest *m, photon_err *err);
/* Reads inputs_hash back; 0, or -1 when the manifest is missing or unreadable. */
int manifest_inputs_hash(const char *path, uint64_t *h);
#endif
