/* `photon-sim prepare`: reads the [data] sources, trains or loads the
 * tokenizer, tokenizes on all cores, partitions documents into per-client
 * shards plus a validation shard, and writes a manifest so a later run knows
 * whether the prepared data is current. */
#ifndef PHOTON_PREPARE_H
#define PHOTON_PREPARE_H
#include "io/config.h"

/* Directory holding the prepared data for c (data.prepared_dir or <run dir>/data). */
void prepare_dir(const photon_config *c, char *out, size_t n);
/* Paths inside it. */
void prepare_client_shard(const photon_config *c, int client, char *out, size_t n);
void prepare_val_shard(const photon_config *c, char *out, size_t n);
void prepare_tokenizer_dir(const photon_config *c, char *out, size_t n);
/* 1 if the prepared data exists and its manifest matches c's sources, tokenizer and partition. */
int prepare_is_current(const photon_config *c);
/* Prepares data (always, or only when stale if only_if_stale); 0 or -1 with err. */
int prepare_run(const photon_config *c, int only_if_stale, photon_err *err);
/* Vocabulary size of the prepared tokenizer (after prepare). */
int prepare_vocab_size(const photon_config *c, photon_err *err);
#endif
