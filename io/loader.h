/* The data loader the actors use: (B, T+1) token windows from a client's
 * memory-mapped shard, deterministic from (seed, client, step) so a resumed
 * run sees exactly the same batches.  Windows are visited in a seeded
 * permutation per epoch, so small shards are cycled without bias. */
#ifndef PHOTON_LOADER_H
#define PHOTON_LOADER_H
#include <stdint.h>
#include "io/shard.h"

typedef struct loader loader;
loader *loader_open(const char *shard_path, int B, int T, uint64_t seed, int client, int vocab, photon_err *err);
void loader_close(loader *l);
/* Fills out (B*(T+1) tokens) with the batch of the client's local step `step`
 * (step counts all steps this client ever ran, so it continues across rounds). */
void loader_batch(loader *l, int64_t step, uint32_t *out);
int64_t loader_windows(const loader *l);
/* Windows of T+1 tokens at stride T that fit in a shard (DESIGN §3):
 * window w covers tokens [w*T, w*T + T], so it needs w*T + T + 1 <= n. */
int64_t loader_count_windows(const shard *s, int T);
/* Sequential eval windows (DESIGN §3): window w starts at token w*T.
 * Fills up to B windows from first_window on; returns how many fit in the shard. */
int loader_eval_batch(const shard *s, int64_t first_window, int B, int T, uint32_t *out);
#endif
