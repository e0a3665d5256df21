/* The actors' data loader (see loader.h).  Global window g = step*B + b
 * belongs to epoch g / nwindows and visits window perm_epoch(g % nwindows),
 * where perm_epoch is a keyed bijection derived from (seed, client, epoch):
 * every window exactly once per epoch, a fresh order each epoch, nothing
 * stored, and any step computable directly, so a resumed run reads exactly
 * the batches it would have read. */
#include "io/loader.h"
#include <stdlib.h>
#include "io/keyperm.h"

#define PERM_TAG 0x6c6f61646572ULL   /* "loader": keeps these streams apart from others of the seed */

struct loader {
    shard *s;
    int B, T, client;
    uint64_t seed;
    int64_t nwin;
    int64_t epoch;        /* epoch whose permutation `perm` holds, -1 none */
    keyperm perm;
};

loader *loader_open(const char *shard_path, int B, int T, uint64_t seed, int client, int vocab, photon_err *err)
{
    if (B < 1 || T < 1) { err_set(err, "%s: loader needs batch >= 1 and seq_len >= 1 (got %d, %d)", shard_path, B, T); return NULL; }
    shard *s = shard_open(shard_path, vocab, err);
    if (!s) return NULL;
    size_t n = shard_ntokens(s);
    int64_t nwin = loader_count_windows(s, T);
    if (nwin < 1) {
        err_set(err, "%s: %zu tokens is too few for one window of seq_len+1 = %d tokens", shard_path, n, T + 1);
        shard_close(s);
        return NULL;
    }
    loader *l = xcalloc(1, sizeof *l);
    l->s = s;
    l->B = B;
    l->T = T;
    l->client = client;
    l->seed = seed;
    l->nwin = nwin;
    l->epoch = -1;
    return l;
}

void loader_close(loader *l)
{
    if (!l) return;
    shard_close(l->s);
    free(l);
}

int64_t loader_windows(const loader *l) { return l->nwin; }

void loader_batch(loader *l, int64_t step, uint32_t *out)
{
    for (int b = 0; b < l->B; b++) {
        int64_t g = step * l->B + b;
        int64_t epoch = g / l->nwin, i = g % l->nwin;
        if (epoch != l->epoch) {
            keyperm_init(&l->perm, (uint64_t)l->nwin, l->seed, PERM_TAG, (uint64_t)l->client, (uint64_t)epoch);
            l->epoch = epoch;
        }
        int64_t w = (int64_t)keyperm_apply(&l->perm, (uint64_t)i);
        shard_read(l->s, (size_t)w * (size_t)l->T, (size_t)l->T + 1, out + (size_t)b * (size_t)(l->T + 1));
    }
}

int64_t loader_count_windows(const shard *s, int T)
{
    size_t n = shard_ntokens(s);
    return n > (size_t)T ? (int64_t)((n - 1) / (size_t)T) : 0;
}

int loader_eval_batch(const shard *s, int64_t first_window, int B, int T, uint32_t *out)
{
    size_t n = shard_ntokens(s);
    int got = 0;
    for (int b = 0; b < B; b++) {
        size_t start = (size_t)(first_window + b) * (size_t)T;
        if (first_window + b < 0 || start + (size_t)T + 1 > n) break;
        shard_read(s, start, (size_t)T + 1, out + (size_t)b * (size_t)(T + 1));
        got++;
    }
    return got;
}
