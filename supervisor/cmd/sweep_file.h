/* A sweep's plan and its manifest, <out_dir>/sweep.json (docs/EXPERIMENTS.md):
 *
 *   { "format": "photon-sim-sweep", "version": 1,
 *     "experiment": "experiments/x.ini",   the file as given
 *     "config_hash": "<16 hex>",           the resolved experiment (with --set, before the grid)
 *     "sets": ["section.key=value", ...],  --set of the sweep
 *     "grid": [{"key": "clients.lr", "values": ["1e-3", "3e-3"]}, ...],
 *     "seeds": N, "base_seed": S,
 *     "shared_data": "<out_dir>/data" | null,
 *     "updated": <unix time>,
 *     "points": [{ "name": "lr=1e-3,seed=7", "dir": "lr=1e-3,seed=7" (relative to out_dir),
 *                  "overrides": ["clients.lr=1e-3", "run.seed=7"], "seed": 7,
 *                  "state": "pending|running|completed|failed|interrupted",
 *                  "attempts": n, "exit_status": n | null, "reason": "..." | null,
 *                  "final_perplexity": x | null, "seconds": x | null }, ...] }
 *
 * A point is identified by its name (its overrides): a sweep run again with
 * another grid or more seeds over the same experiment reuses the points it
 * shares with the earlier one and keeps the others listed; the experiment
 * itself (config_hash) must not change. */
#ifndef PHOTON_SWEEP_FILE_H
#define PHOTON_SWEEP_FILE_H
#include <stdint.h>
#include "io/common.h"

#define SWEEP_MAX_GRID 16
#define SWEEP_MAX_POINTS 4096

typedef enum { PT_PENDING, PT_RUNNING, PT_COMPLETED, PT_FAILED, PT_INTERRUPTED } point_state;

typedef struct {
    char name[256];
    int n_ovr;
    char ovr[SWEEP_MAX_GRID + 1][300];   /* "section.key=value" */
    uint64_t seed;
    point_state state;
    int attempts;
    int exit_status;                      /* -1: none yet */
    char reason[600];
    double ppl;                           /* NAN: none */
    double seconds;                       /* NAN: none */
    int in_grid;                          /* part of this invocation's grid */
} sweep_point;

typedef struct {
    char key[128];
    int n;
    char **values;
} sweep_axis;

typedef struct {
    char experiment[1024];
    char out_dir[1024];
    char config_hash[24];
    int n_sets;
    const char **sets;
    int n_axes;
    sweep_axis axes[SWEEP_MAX_GRID];
    int seeds;
    uint64_t base_seed;
    char shared_data[1100];               /* "" = each point prepares its own */
    int n_points;
    sweep_point *points;
} sweep_plan;

const char *point_state_name(point_state s);
/* Parses "section.key=v1,v2,..." into an axis; -1 with err. */
int sweep_axis_parse(const char *arg, sweep_axis *ax, photon_err *err);
void sweep_plan_free(sweep_plan *p);
/* The points of the grid × seeds, in order (first axis slowest, seeds
 * innermost), named (see docs/EXPERIMENTS.md); -1 with err on a name clash. */
int sweep_plan_points(sweep_plan *p, photon_err *err);
/* Merges an existing <out_dir>/sweep.json into p: 0 (none there or merged),
 * -1 with err (unreadable, or made from another configuration). */
int sweep_file_merge(sweep_plan *p, photon_err *err);
/* Writes <out_dir>/sweep.json atomically; -1 with err. */
int sweep_file_write(const sweep_plan *p, photon_err *err);
#endif
