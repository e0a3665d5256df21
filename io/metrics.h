/* Run metrics (DESIGN §5): <out_dir>/metrics.jsonl, one JSON object per line,
 * each with "event" (round, task, eval, actor_exit, checkpoint, fault, ...)
 * and "time" (wall clock, seconds since the epoch) first, then typed fields
 * added through a small builder:
 *
 *     metrics_begin(m, "round");
 *     metrics_int(m, "round", r);
 *     metrics_num(m, "loss", loss);
 *     metrics_end(m);            // one write(2) of the whole line, O_APPEND
 *
 * A line is built in memory and written with one append, so a killed run
 * never leaves half a line.  Numbers use the shortest form that reads back
 * exactly (%.15g, else %.17g); NaN and Inf are written as null.
 *
 * Resume: the run-state checkpoint records metrics_offset() (after
 * metrics_sync), and a resumed run reopens with that offset, which cuts off
 * the lines an interrupted run wrote after its last checkpoint; the resumed
 * run writes them again, so its file equals an uninterrupted run's except for
 * wall-clock values ("time" and durations).
 *
 * summary.json is built with the same calls on a summary object and written
 * atomically (afile_*), pretty-printed one key per line.
 *
 * Communication accounting (the paper's comparison), for a model of M bytes:
 *   Photon, per round:   (models sent + updates received) × M
 *                        e.g. K clients that all return: 2·K·M
 *   per-step ring all-reduce among W data-parallel workers: every worker
 *   sends (and receives) 2·(W−1)/W·M per step (reduce-scatter + all-gather),
 *   so for the T_local steps of a round, all workers together:
 *                        T_local · W · 2·(W−1)/W · M = 2·T_local·(W−1)·M
 *   Both count each byte once, at its sender.  With W = K the ratio is
 *   T_local·(K−1)/K, the paper's 64×–512× for T_local = 64–512. */
#ifndef PHOTON_METRICS_H
#define PHOTON_METRICS_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "io/common.h"

typedef struct metrics metrics;

/* resume_offset < 0: create or truncate the file.  >= 0: open the existing
 * file and cut it back to that many bytes (error if it is shorter). */
metrics *metrics_open(const char *path, int64_t resume_offset, photon_err *err);
/* Starts a line: {"event":"<event>","time":<wall>. */
void metrics_begin(metrics *m, const char *event);
void metrics_int(metrics *m, const char *key, int64_t v);
void metrics_num(metrics *m, const char *key, double v);
void metrics_str(metrics *m, const char *key, const char *v);
void metrics_bool(metrics *m, const char *key, bool v);
/* A pre-formatted JSON value (array, object) under key. */
void metrics_raw(metrics *m, const char *key, const char *json);
/* Ends and writes the line.  Returns 0, or -1 (warned once on stderr) when
 * the write failed; later lines are still attempted. */
int metrics_end(metrics *m);
/* Byte length of the file so far (the position to record in a checkpoint). */
int64_t metrics_offset(const metrics *m);
/* fsync, so the recorded offset survives a machine crash as well. */
int metrics_sync(metrics *m, photon_err *err);
void metrics_close(metrics *m);

typedef struct summary summary;
summary *summary_create(void);
void summary_int(summary *s, const char *key, int64_t v);
void summary_num(summary *s, const char *key, double v);
void summary_str(summary *s, const char *key, const char *v);
void summary_bool(summary *s, const char *key, bool v);
void summary_raw(summary *s, const char *key, const char *json);
/* Writes the object atomically to path; frees nothing (call summary_free). */
int summary_write(summary *s, const char *path, photon_err *err);
void summary_free(summary *s);

/* Communication per round, in bytes (see the formulas above). */
typedef struct {
    double photon_bytes;      /* models sent + updates received, × model bytes */
    double allreduce_bytes;   /* 2·T_local·(W−1)·model bytes */
} comm_bytes;
comm_bytes comm_round_bytes(size_t n_params, size_t bytes_per_param, int models_sent,
                            int updates_received, int workers, int local_steps);
/* One worker's ring all-reduce traffic for one step: 2·(W−1)/W·model bytes. */
double comm_allreduce_step_bytes(double model_bytes, int workers);

/* Writes v as the shortest decimal that reads back exactly ("null" if not
 * finite) into buf (>= 32 bytes). */
void json_format_number(char *buf, size_t n, double v);
#endif
