/* The [faults] plan (issue 6): seeded, reproducible fault injection.
 *
 * Every decision is a pure function of the configuration, the fault seed
 * (faults.seed, or run.seed when 0) and where the task is (round, retry
 * attempt of the round, try of the task within the round, client), drawn
 * from rng_derive streams; nothing depends on timing, so a fault study
 * re-runs identically.  The supervisor decides when it dispatches a task,
 * logs the decision as a metrics "fault" event, and sends it with the task;
 * the actor then carries it out (faults_fire_kill at the chosen step,
 * faults_stall, faults_corrupt on its update before sending it).
 *
 * Semantics, per kind (kill, stall, corrupt; at most one per task, in that
 * priority):
 *  - targeted:  kill_round / stall_round >= 0, or corrupt != none with
 *    corrupt_prob = 0 (corrupt_round -1 = every round).  In a matching
 *    round exactly one task is hit: the named client if it is in the round's
 *    sample (else none), or with client -1 one client drawn from the sample.
 *    Only on the round's first attempt and the task's first try, so a
 *    retried round or a re-queued task can succeed.
 *  - random:    kill_prob / stall_prob / corrupt_prob > 0: every task is hit
 *    independently with that probability, a fresh draw per attempt and try
 *    (for corrupt, only in rounds / clients matching corrupt_round /
 *    corrupt_client when those are >= 0).
 *  - the step of a kill or stall is kill_step when >= 0 (clamped to the
 *    task's steps), else drawn uniformly from [0, local_steps).
 *  - corrupt kinds: nan (one element drawn becomes NaN), scale (the whole
 *    update x FAULT_SCALE), bitflip (bit 30, the top exponent bit, of one
 *    drawn element flips: the kind of flip that matters).
 *  - ckpt_fail_write = N: the Nth checkpoint write of the process fails with
 *    an injected I/O error.  kill_supervisor_round = R: the supervisor
 *    SIGKILLs itself when round R starts.  Both are one-shot events of a
 *    fresh run: a resumed run (--resume) does not repeat them, or a run
 *    killed at round R would be killed again after every resume. */
#ifndef PHOTON_FAULTS_H
#define PHOTON_FAULTS_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "io/config.h"
#include "io/metrics.h"

#include "proto/fault_task.h"

/* Where a task is. */
typedef struct {
    int64_t round;
    int attempt;           /* retry of the round: 0 first */
    int try_;              /* try of this task within the round: 0 first */
    int client;
    int local_steps;
    const int *sample;     /* the round's sampled clients, ascending */
    int k;
} fault_where;

typedef struct fault_plan fault_plan;

/* Copies what it needs from cfg (run.seed when faults.seed = 0).
 * resumed: this process continues a run (one-shot faults stay off). */
fault_plan *faults_create(const photon_config *cfg, bool resumed);
void faults_free(fault_plan *p);
/* True when any fault is configured (the runtime can skip the calls). */
bool faults_active(const fault_plan *p);

/* The decision for one task (out->kind == FAULT_NONE for none). */
void faults_task(const fault_plan *p, const fault_where *w, fault_task *out);
/* One-shot faults of the supervisor. */
bool faults_kill_supervisor(const fault_plan *p, int64_t round);
/* nth_write: 1 for the process's first checkpoint write. */
bool faults_ckpt_write_fails(const fault_plan *p, int64_t nth_write);

/* Names for logs: "kill", "SIGKILL"/"exit", "nan", ... */
const char *fault_kind_name(int kind);
const char *fault_corruption_name(int c);
/* Writes {"event":"fault","type":...,"round","client","attempt","try",
 * "step"/"signal"/"corruption","targeted"} for a planned task fault. */
void faults_log_task(metrics *m, const fault_where *w, const fault_task *t);
/* Writes {"event":"fault","type":type,"round":round,"detail":detail} for the
 * supervisor's own faults ("kill_supervisor", "ckpt_write"). */
void faults_log_event(metrics *m, const char *type, int64_t round, const char *detail);
#endif
