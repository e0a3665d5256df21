/* Reading a finished (or running, or interrupted) run's results for
 * `photon-sim compare`: metrics.jsonl's eval and round events and
 * summary.json.  Truncated or odd lines are skipped with a warning (at most
 * a few per file, then a count); per-source perplexities come from the eval
 * events' perplexity_by_source object when there is one (DESIGN §7; runs
 * made before it have none). */
#ifndef PHOTON_RUNREAD_H
#define PHOTON_RUNREAD_H
#include <stdint.h>

#define RUNREAD_MAX_SRC 16

typedef struct {
    int64_t round, tokens;
    double ppl;
    double seconds;                 /* training time so far: sum of the round events' seconds */
    int n_src;
    double src_ppl[RUNREAD_MAX_SRC]; /* by the run's source index (run_result.src) */
} run_eval;

typedef struct {
    char dir[1024];
    char name[256], mode[32], status[32];
    int n_evals;
    run_eval *evals;
    int n_src;
    char src[RUNREAD_MAX_SRC][64];  /* validation source names, in order of first appearance */
    int64_t rounds, tokens;
    double train_seconds;           /* sum of round seconds */
    double bytes_moved, allreduce_bytes;
    double final_ppl;               /* last eval's (NAN: none) */
    double final_src_ppl[RUNREAD_MAX_SRC];
    int bad_lines;
} run_result;

/* Reads dir; 0, or -1 (one error line printed) when dir holds neither
 * metrics.jsonl nor summary.json. */
int runread_load(const char *dir, run_result *r);
void runread_free(run_result *r);
/* First evaluation at or below target: its index, or -1. */
int runread_reach(const run_result *r, double target);
#endif
