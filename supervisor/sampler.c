/* Seeded, stateless client sampling: a partial Fisher-Yates shuffle driven by
 * a random stream derived from (seed, round, attempt), then sorted so every
 * consumer sees the clients in the same (id) order.  See sampler.h. */
#include "supervisor/sampler.h"
#include "io/common.h"
#include <stdlib.h>

/* Stream tag: keeps the sampler's draws apart from every other use of
 * rng_derive on the same seed (data order, faults, init). */
#define SAMPLER_STREAM 0x53414d504c455231ULL   /* "SAMPLER1" */

struct sampler {
    uint64_t seed;
    int n, k;
    int *scratch;
};

sampler *sampler_create(uint64_t seed, int n_clients, int per_round)
{
    if (n_clients < 1) n_clients = 1;
    if (per_round < 1) per_round = 1;
    if (per_round > n_clients) per_round = n_clients;
    sampler *s = xcalloc(1, sizeof *s);
    s->seed = seed;
    s->n = n_clients;
    s->k = per_round;
    s->scratch = xmalloc((size_t)n_clients * sizeof(int));
    return s;
}

void sampler_free(sampler *s)
{
    if (!s) return;
    free(s->scratch);
    free(s);
}

int sampler_per_round(const sampler *s) { return s->k; }
int sampler_clients(const sampler *s) { return s->n; }

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void sample_clients(uint64_t seed, int64_t round, int attempt, int n, int k,
                    int *out, int *scratch)
{
    if (k >= n) {   /* everyone: no randomness, and no dependence on the seed */
        for (int i = 0; i < n; i++) out[i] = i;
        return;
    }
    photon_rng r;
    rng_derive(&r, seed, SAMPLER_STREAM, (uint64_t)round, (uint64_t)attempt);
    for (int i = 0; i < n; i++) scratch[i] = i;
    /* the first k positions of a Fisher-Yates shuffle are a uniform k-subset */
    for (int i = 0; i < k; i++) {
        int j = i + (int)rng_below(&r, (uint64_t)(n - i));
        int t = scratch[i]; scratch[i] = scratch[j]; scratch[j] = t;
        out[i] = scratch[i];
    }
    qsort(out, (size_t)k, sizeof(int), cmp_int);
}

int sampler_pick(sampler *s, int64_t round, int attempt, int *out)
{
    sample_clients(s->seed, round, attempt, s->n, s->k, out, s->scratch);
    return s->k;
}

void sampler_state(const sampler *s, uint64_t out[3])
{
    out[0] = s->seed;
    out[1] = (uint64_t)s->n;
    out[2] = (uint64_t)s->k;
}
