/* Aggregation of a round's pseudo-gradients (DESIGN §1-2): the weighted mean
 * Δ = Σ_k w_k Δ_k with w_k = samples_k / Σ samples of the accepted updates,
 * plus the per-update checks (finite, L2 norm not absurd).
 *
 * Order independence.  Floating-point sums depend on the order of the terms,
 * and updates arrive in whatever order the actors finish.  So the aggregator
 * fixes one order, ascending client id (the sampler's order), and accepts
 * updates only in that order: agg_next() names the client it waits for and
 * the runtime holds any update that arrives early in its shared-memory
 * segment (a buffer that is in flight anyway) until its turn.  With one sum
 * buffer added to in a fixed order, and each element's arithmetic independent
 * of the thread that does it (OpenMP static chunks, elementwise), the result
 * is bitwise the same whatever the arrival order, P actors or thread count.
 * Memory: one model-sized sum buffer (the outer optimizer's input).
 *
 * Weights.  Which updates will be accepted is only known at the end of the
 * round, so each update is added with w_k = samples_k / S, where S is the
 * sample total of all the round's sampled clients; agg_finish rescales the
 * sum by S / S_accepted when some failed or were rejected.  With nothing
 * missing no rescale pass happens, and a lone client has w = 1 exactly, so
 * its update passes through bit for bit.
 *
 * Rejection.  An update with any non-finite element is rejected.  When
 * reject_norm > 0, an update whose L2 norm exceeds reject_norm x the median
 * reference is rejected too.  Because updates are decided one at a time in
 * client-id order, the reference is the median of the norms accepted so far
 * this round together with the previous completed round's median
 * (agg_reference; saved in the run state); with neither (the first update of
 * a run) the norm check passes.  Norms are summed in double over fixed
 * chunks, then the chunk sums in chunk order: thread-count independent. */
#ifndef PHOTON_AGGREGATE_H
#define PHOTON_AGGREGATE_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef enum {
    AGG_PENDING = 0,        /* not arrived yet */
    AGG_ACCEPTED,
    AGG_REJECT_NONFINITE,   /* NaN or Inf in the update */
    AGG_REJECT_NORM,        /* norm > reject_norm x reference median */
    AGG_FAILED              /* the task failed (actor died, timeout, ...) */
} agg_verdict;

/* One update's fate, for logging ("task" / "fault" metrics events). */
typedef struct {
    int client;
    agg_verdict verdict;
    double samples;
    double weight;        /* w_k used when adding (before the final rescale) */
    double norm;          /* L2 norm; NAN when non-finite */
    double ref_norm;      /* reference median the norm was checked against; 0 = none */
    int64_t first_bad;    /* index of the first non-finite element, or -1 */
} agg_record;

typedef struct {
    int sampled, accepted, rejected, failed;
    double samples_accepted;
    double median_norm;   /* of the accepted updates; 0 if none */
} agg_summary;

typedef struct agg agg;

/* threads: 0 = all cores (cpu_threads). */
agg *agg_create(size_t n_params, int threads);
void agg_free(agg *a);
size_t agg_params(const agg *a);
/* Updates of the following rounds have n elements (1 ≤ n ≤ n_params; a
 * fragment of the model, supervisor/stream.h); -1 if out of range. */
int agg_set_length(agg *a, size_t n);

/* Starts a round with the sampled clients (any order: sorted inside) and
 * their sample counts (tokens or sequences, > 0; same order as clients).
 * reject_norm: 0 = no norm check.  Returns -1 with err on bad input. */
int agg_begin(agg *a, int n, const int *clients, const double *samples,
              double reject_norm, photon_err *err);
/* The client whose update must be added next; -1 when none is pending. */
int agg_next(const agg *a);
/* Checks and (if accepted) adds client's update; client must be agg_next().
 * rec (may be NULL) gets the verdict.  Returns 0, or -1 with err when the
 * call breaks the order or names a client not in the round. */
int agg_add(agg *a, int client, const float *update, agg_record *rec, photon_err *err);
/* The same with the update's L2 norm already known (the actor computes it
 * with vec_norm while the update is hot in its cache; NaN or Inf = non-
 * finite; a negative norm means unknown and is computed here), so
 * the supervisor makes one pass over the update instead of two.  The norm
 * is trusted: never pass a figure that an actor reported about its own
 * update (the runtime uses agg_add). */
int agg_add_norm(agg *a, int client, const float *update, double norm,
                 agg_record *rec, photon_err *err);
/* Marks a pending client's task as failed (any time, any order). */
int agg_fail(agg *a, int client, photon_err *err);
/* Ends the round: pending clients count as failed.  Returns the weighted
 * mean of the accepted updates (owned by agg, valid until the next
 * agg_begin), or NULL when none was accepted.  The accepted median becomes
 * the next round's reference. */
const float *agg_finish(agg *a, agg_summary *sum);

/* This round's records in client-id order (valid until the next agg_begin). */
const agg_record *agg_records(const agg *a, int *n);
const char *agg_verdict_name(agg_verdict v);

/* Cross-round norm reference, for the run-state checkpoint. */
double agg_reference(const agg *a);
void agg_set_reference(agg *a, double median);

#endif
