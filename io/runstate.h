/* The run-state checkpoint (issue 6 §4, DESIGN §5): everything a resumed run
 * needs to continue bitwise as if it had never stopped, on top of the HDF5
 * checkpoint writer (io/checkpoint.h).
 *
 * File: <dir>/ckpt-<round>.h5 (round zero-padded to 8 digits), where round
 * is the number of completed rounds, i.e. the next round to run.  Layout:
 *   root attributes      round, global_step, tokens_seen, seed, config
 *   /model               the global model (HF GPT-2 names)
 *   /outer_optimizer     momentum (same names), when the strategy has one
 *   /run/outer_steps     i64[1]
 *   /run/metrics_offset  i64[1]  bytes of metrics.jsonl at this point
 *   /run/agg_reference   u64[1]  bit pattern of the aggregator's norm
 *                                reference (a double, stored exactly)
 *   /run/sim_clock       u64[2]  runs with [network]: bit patterns of the
 *                                simulated clock's totals (sim_wall_seconds,
 *                                sim_allreduce_wall_seconds); absent = 0
 *   /run/sim_carry       u64[clients]  [network] with streaming: bit patterns
 *                                of each client's timeline (netclock_carry);
 *                                absent = NaN (every client afresh)
 *   /sampler/state       u64[3]  { seed, clients, per_round }: the sampler is
 *                                stateless (supervisor/sampler.h), the round
 *                                number is all it needs
 *   /clients/<id>/data_pos  i64[pos_words]   for every client
 *   /clients/<id>/rng       u64[rng_words]   when rng_words > 0
 *   /clients/<id>/adam_m, /adam_v (HF names), /adam_step i64[1]
 *                                only for clients with kept optimizer state
 *   /clients/<id>/local_model (HF names), /sync i64[1]
 *                                streaming fragments / overlap: the client's
 *                                local model and the phase that wrote it
 *   /clients/<id>/residual (HF names)  error feedback: what quantisation
 *                                has not sent yet
 *   /run/phase_counter   i64[1]  streaming: phases run so far
 *   /run/fragment_reference u64[F]  streaming: bit patterns of the
 *                                per-fragment norm references
 * Every dataset carries Fletcher-32 checksums; the file is written to a
 * temporary name, fsynced, renamed and the directory fsynced (ckpt_commit),
 * so a kill at any moment leaves the previous checkpoints intact plus at
 * most a "ckpt-*.h5.tmp.<pid>" file, which runstate_clean removes.
 *
 * Resume: runstate_resume tries the checkpoints newest first; one that is
 * not usable — it crashes or fails to read in a child first (ckpt_probe:
 * every chunk's checksum, every value finite), its round is not its name's,
 * runstate_check rejects it, it is another run's, or its metrics offset is
 * beyond metrics.jsonl — is logged with the reason and skipped for the
 * previous one. */
#ifndef PHOTON_RUNSTATE_H
#define PHOTON_RUNSTATE_H
#include <stdint.h>
#include <stdbool.h>
#include "io/common.h"
#include "gpu/model.h"
#include "io/checkpoint.h"

/* One client's saved state (buffers owned by whoever fills it). */
typedef struct {
    int64_t *data_pos;       /* pos_words values */
    uint64_t *rng;           /* rng_words values (may be NULL when 0) */
    bool has_adam;           /* kept optimizer state present */
    float *adam_m, *adam_v;  /* n_params each, when has_adam */
    int64_t adam_step;
    bool has_local;          /* streaming: the client's local model */
    float *local_model;      /* n_params, when has_local */
    int64_t sync;            /* the phase counter that wrote it */
    bool has_residual;       /* error feedback */
    float *residual;         /* n_params, when has_residual */
} runstate_client;

/* Client state exchange.  save: fill *c (pointers may point into the
 * runtime's own memory; they are only read during the call).  load: the
 * state of client id, with buffers valid only during the call; called for
 * every client 0..n_clients-1 (has_adam false for those without kept state).
 * Return 0, or -1 with err to abort. */
typedef int (*runstate_client_get)(void *ud, int client, runstate_client *c, photon_err *err);
typedef int (*runstate_client_put)(void *ud, int client, const runstate_client *c, photon_err *err);

typedef struct {
    /* counters (root attributes) */
    int64_t round, global_step, tokens_seen;
    uint64_t seed;
    const char *config;        /* save: resolved INI; load: malloc'd copy (free it) */
    /* model and outer optimizer (caller's buffers of n_params floats) */
    gpt2_config model_cfg;
    float *model;
    float *outer_m;            /* NULL when the strategy keeps none */
    int64_t outer_steps;
    /* the rest of the run */
    int64_t metrics_offset;
    /* load: when check_metrics, a checkpoint whose metrics_offset exceeds
     * metrics_size (bytes in metrics.jsonl now) is rejected as corrupt */
    bool check_metrics;
    int64_t metrics_size;
    double agg_reference;
    bool has_sim_clock;        /* [network]: the simulated clock's totals */
    double sim_clock[2];       /* sim_wall_seconds, sim_allreduce_wall_seconds */
    int n_sim_carry;           /* [network] and streaming: per-client timelines (0 = none) */
    double *sim_carry;         /* caller's buffer of n_sim_carry; an absent dataset loads as NaN */
    uint64_t sampler[3];
    bool streaming;            /* /run/phase_counter present (must match on load) */
    int64_t phase_counter;
    int n_frag_ref;            /* /run/fragment_reference values (0 = none; must match on load) */
    double *frag_ref;          /* caller's buffer of n_frag_ref */
    int n_clients, pos_words, rng_words;
    runstate_client_get client_get;
    runstate_client_put client_put;
    void *ud;
} runstate;

/* Writes <dir>/ckpt-<rs->round>.h5 atomically, then removes all but the
 * newest `keep` (0 = keep all).  inject_failure (faults.ckpt_fail_write)
 * builds the file and then fails as an I/O error would, leaving nothing.
 * On success the path written goes to out_path (may be NULL). */
int runstate_save(const char *dir, const runstate *rs, int keep, bool inject_failure,
                  char *out_path, size_t out_n, photon_err *err);

/* Loads the newest valid checkpoint of dir into rs (model_cfg, n_clients,
 * pos_words, rng_words, buffers and callbacks set by the caller; they must
 * match the file).  Returns 0 loaded, 1 no checkpoint at all, -1 with err
 * when checkpoints exist but none is usable.  The path used goes to
 * out_path (may be NULL). */
int runstate_resume(const char *dir, runstate *rs, char *out_path, size_t out_n, photon_err *err);

/* Loads one given checkpoint file (after ckpt_verify). */
int runstate_load(const char *path, runstate *rs, photon_err *err);

/* What runstate_check found. */
typedef struct {
    int64_t n_clients, per_round, outer_steps, metrics_offset;
    int pos_words;     /* elements of each client's data_pos */
    bool has_outer;    /* /outer_optimizer present */
    int kept_states;   /* clients with kept optimizer state */
} runstate_info;

/* Checks, without the run's configuration, that open checkpoint r (file
 * names it in messages; seed is its root attribute) holds a well-formed run
 * state for model c: /run counters in range, a sampler of that seed,
 * /outer_optimizer complete when present, and for every client a data
 * position (non-negative counts) and kept optimizer state either complete or
 * absent.  Returns 1, 0 when r has no /run group (a model-only checkpoint),
 * or -1 with err.  runstate_load and `inspect --verify` both use it. */
int runstate_check(ckpt_reader *r, const char *file, const gpt2_config *c, uint64_t seed,
                   runstate_info *info, photon_err *err);

/* Removes temporary files that interrupted writes left in dir: any
 * "<name>.tmp.<pid>" (the naming of ckpt_create and afile_open) whose
 * process is gone, or every one when all_pids.  Use it on the checkpoint
 * directory and the run directory at start-up.  Returns how many. */
int runstate_clean(const char *dir, bool all_pids);

/* Completed rounds of the checkpoints in dir, newest first (at most max). */
int runstate_list(const char *dir, int64_t *rounds, int max);
#endif
