/* Which K of the N virtual clients train in a round (DESIGN §1-2).
 *
 * The sample is a pure function of (seed, round, attempt): the sampler has no
 * hidden state, so a resumed run only needs the round number (and the retry
 * attempt) to draw exactly the clients an uninterrupted run would have drawn,
 * and the run-state checkpoint's /sampler group records (seed, N, K) only to
 * check that the resumed configuration still matches.
 *
 * The sample comes back sorted by client id.  That one order is both the
 * task-queue order (tasks go to idle actors first-come in this order) and the
 * order in which the aggregator adds updates (supervisor/aggregate.h), so the
 * update that the aggregator waits for next is usually the first to finish
 * and few out-of-order arrivals have to be held. */
#ifndef PHOTON_SAMPLER_H
#define PHOTON_SAMPLER_H
#include <stdint.h>

typedef struct sampler sampler;

/* n_clients >= 1; per_round is clamped to [1, n_clients]. */
sampler *sampler_create(uint64_t seed, int n_clients, int per_round);
void sampler_free(sampler *s);
int sampler_per_round(const sampler *s);
int sampler_clients(const sampler *s);

/* Fills out[0..K) with the round's clients, ascending, and returns K.
 * attempt = 0 for a round's first try; a retried round (too few updates
 * arrived) passes 1, 2, ... and draws a fresh sample, so one unlucky client
 * cannot fail every retry.  With K == N every client is picked. */
int sampler_pick(sampler *s, int64_t round, int attempt, int *out);

/* The same draw without an object (scratch: n_clients ints, caller-owned). */
void sample_clients(uint64_t seed, int64_t round, int attempt, int n_clients,
                    int per_round, int *out, int *scratch);

/* What the checkpoint records: { seed, n_clients, per_round }. */
void sampler_state(const sampler *s, uint64_t out[3]);
#endif
