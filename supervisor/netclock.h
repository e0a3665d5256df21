/* The simulated clock of a run with [network] (DESIGN §8, docs/NETWORK.md):
 * for each round attempt, the time it would take over the configured
 * links (supervisor/netmodel.h) next to the measured one, and the same work
 * as per-step ring all-reduce; with round_timeout, which clients miss the
 * round on that clock.
 *
 * Which clients are late needs every client's compute time, because the
 * aggregator's link is shared: one client's upload slows another's.
 *   compute = model: all are known when the round starts; late clients are
 *     not dispatched at all (their update would be thrown away), so the
 *     run is bitwise reproducible and resumes exactly.
 *   compute = measured: they are known once every task has reported; the
 *     round holds every update (in its actor's slot, so each sampled client
 *     needs an actor: config check) until then, then drops the late ones.
 * In both cases a late client's update is never aggregated and its data
 * position does not move, exactly like a failed task; the task event says
 * "late".  A run without [network] has no clock (netclock_new gives NULL)
 * and no hook below is reached.
 *
 * Streaming rounds (fragments > 1 or overlap) are timed phase by phase
 * (netmodel.h, netsim_stream): each phase's exchange moves its fragment
 * at its own offset in the round, and with overlap a client's compute runs
 * on while a fragment is in flight, across rounds too (the clock keeps each
 * client's timeline: netclock_carry). */
#ifndef PHOTON_NETCLOCK_H
#define PHOTON_NETCLOCK_H
#include <stddef.h>
#include "io/config.h"
#include "io/metrics.h"
#include "gpu/model.h"

typedef struct netclock netclock;

/* NULL when cfg has no [network] section.  per_round: clients per round
 * (the runtime's, 0 < per_round <= count). */
netclock *netclock_new(const photon_config *cfg, const gpt2_config *g, size_t n_params, int centralized,
                       int per_round);
void netclock_free(netclock *nc);

/* A round attempt starts with the k sampled clients ids (ascending).  With
 * compute = model and a round_timeout the verdicts are known now: late[i]
 * (k entries) is set for each client that will miss it; returns how many. */
int netclock_round_begin(netclock *nc, int k, const int *ids, int *late);
/* 1 when the round must hold every update until netclock_decide
 * (compute = measured with a round_timeout). */
int netclock_holds(const netclock *nc);
/* A task of phase `phase` (0 without streaming) reported (seconds: its
 * measured time), or failed (no upload), or its update was rejected (a
 * streaming client then starts the next phase afresh). */
void netclock_task_done(netclock *nc, int client, int phase, double seconds);
void netclock_task_failed(netclock *nc, int client, int phase);
void netclock_task_rejected(netclock *nc, int client, int phase);
/* compute = measured: every task has reported or failed; late[i] as for
 * netclock_round_begin.  Returns how many are late. */
int netclock_decide(netclock *nc, int *late);
/* Why client is late, for its task event. */
void netclock_late_cause(const netclock *nc, int client, char *out, size_t n);
/* Measured aggregator time: adding client's update, and the outer step
 * (of phase `phase`'s fragment with streaming; 0 without). */
void netclock_add_time(netclock *nc, int client, int phase, double seconds);
void netclock_outer_time(netclock *nc, int phase, double seconds);
/* The attempt ended: simulates it and adds it to the totals. */
void netclock_round_end(netclock *nc);
/* The sim_* fields of the attempt's round event (between metrics_begin and
 * metrics_end), and of an eval event (the totals so far). */
void netclock_log_round(const netclock *nc, metrics *mx);
void netclock_log_totals(const netclock *nc, metrics *mx);

/* Real seconds after which client's task is given up (0 = never).  With
 * compute = measured a task that ran that long is late on the simulated
 * clock anyway: round_timeout x max(1, compute_scale). */
double netclock_task_timeout(const netclock *nc, int client);

/* The last attempt as simulated (after netclock_round_end), for plan:
 * its k clients' figures and results, the summary, and the attempt's
 * simulated and all-reduce seconds.  Pointers valid until the next call. */
struct netsim_client;
struct netsim_result;
typedef struct {
    int k;
    const int *ids;
    const struct netsim_client *clients;
    const struct netsim_result *results;
    const struct netsim_summary *summary;
    double sim, allreduce;
    double allreduce_step_compute;   /* the slowest worker's compute per step */
    double allreduce_step_comm;      /* one step's all-reduce alone (no compute) */
} netclock_report;
void netclock_last(const netclock *nc, netclock_report *out);

/* Totals over every attempt so far (summary.json, checkpoints). */
void netclock_totals(const netclock *nc, double *sim, double *allreduce);
void netclock_set_totals(netclock *nc, double sim, double allreduce);
/* Streaming with overlap: where each client's timeline stands (per
 * client, when its last task ended before the last attempt's end; NaN: it
 * does not continue), for checkpoints: n = clients.count, NULL and 0 when
 * the run is not streaming.  set: from a checkpoint; -1 with err on
 * another count. */
const double *netclock_carry(const netclock *nc, int *n);
int netclock_set_carry(netclock *nc, const double *carry, int n, photon_err *err);
#endif
