/* Token shards in the llm.c format (DESIGN §5): 256 int32 header
 * ([0] magic 20240520, [1] version 1, [2] token count) then uint16 tokens;
 * magic 20240801 / version 7 with uint32 tokens for vocabularies > 65535.
 * Readers memory-map and validate; writers go through a temp file + rename. */
#ifndef PHOTON_SHARD_H
#define PHOTON_SHARD_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

#define SHARD_MAGIC16 20240520
#define SHARD_MAGIC32 20240801
#define SHARD_HEADER_INTS 256

typedef struct shard shard;
/* Opens and validates (magic, version, size == header count); if vocab > 0,
 * checks every token id < vocab (error names the byte offset). */
shard *shard_open(const char *path, int vocab, photon_err *err);
void shard_close(shard *s);
size_t shard_ntokens(const shard *s);
uint32_t shard_token(const shard *s, size_t i);
/* Copies tokens [start, start+n) into out. */
void shard_read(const shard *s, size_t start, size_t n, uint32_t *out);

/* The tokens as stored (uint16 when *width is 2, uint32 when 4). */
const void *shard_data(const shard *s, int *width);

/* Writes tokens (uint16 when wide == 0, uint32 otherwise) atomically. */
int shard_write(const char *path, const uint32_t *tokens, size_t n, int wide, photon_err *err);
/* The same in pieces, for shards larger than memory: the count is declared
 * first (it goes in the header) and checked at commit. */
typedef struct shard_writer shard_writer;
shard_writer *shard_writer_open(const char *path, size_t n, int wide, photon_err *err);
int shard_writer_put(shard_writer *w, const uint32_t *tokens, size_t n, photon_err *err);
int shard_writer_commit(shard_writer *w, photon_err *err);   /* frees w */
void shard_writer_abort(shard_writer *w);                    /* frees w, removes the temp file */
#endif
