/* Informational figures of one round attempt, gathered from the results
 * that arrived (msg_result: what only the actor knows) and written into the
 * round event of metrics.jsonl and the TensorBoard log.  Nothing here feeds
 * back into training.
 *
 * Round event fields (absent when no result arrived):
 *   lr_first, lr_last        client learning rate at the round's first and last
 *                            local step (the schedule on the global step clock;
 *                            the same for every client of a round)
 *   grad_norm_mean, grad_norm_max   pre-clip global gradient norm: mean over
 *                            the clients of each task's mean over its steps, and
 *                            the largest single step's
 *   update_norm_mean, update_norm_min, update_norm_max
 *                            L2 norm of the clients' updates (pseudo-gradients)
 *   actor_tokens_per_s       array by actor slot: tokens / seconds of the tasks
 *                            that actor ran in this attempt (null: none) */
#ifndef PHOTON_ROUND_STATS_H
#define PHOTON_ROUND_STATS_H
#include "io/metrics.h"
#include "proto/protocol.h"

typedef struct round_stats round_stats;

round_stats *round_stats_new(int n_actors);
void round_stats_free(round_stats *s);
void round_stats_reset(round_stats *s);
/* One task's result, run on actor slot. */
void round_stats_add(round_stats *s, int slot, const msg_result *res);
/* Appends the fields above to the metrics line being built. */
void round_stats_write(const round_stats *s, metrics *mx);

/* Summary figures (NAN when no result arrived), for the TensorBoard log. */
typedef struct {
    double lr, grad_norm, update_norm, tokens_per_s;   /* lr_last, grad_norm_mean, update_norm_mean, all actors */
} round_stats_brief;
round_stats_brief round_stats_get(const round_stats *s);
#endif
