/* The actor's side of fault injection: carrying out the fault a task names
 * (proto/fault_task.h; decided by the supervisor, supervisor/faults.h). */
#ifndef PHOTON_FAULT_EXEC_H
#define PHOTON_FAULT_EXEC_H
#include <stddef.h>
#include <stdint.h>
#include "proto/fault_task.h"

/* Carried out by the actor: dies by the planned signal (default action,
 * even if a handler is installed) or _exit(FAULT_EXIT_CODE). */
void faults_fire_kill(const fault_task *t) __attribute__((noreturn));
/* Hangs until killed (the supervisor's round_timeout notices). */
void faults_stall(void) __attribute__((noreturn));
/* Corrupts buf as planned; returns the element index touched (-1 for all,
 * i.e. scale) for the log. */
int64_t faults_corrupt(const fault_task *t, float *buf, size_t n);

/* Test seam: PHOTON_FAULT_RESULT_EXIT=MODE,CLIENT,ROUND makes a local actor
 * die right after queueing the RESULT of CLIENT's task in ROUND (peer: its channel), the task
 * completed.  MODE exit: the frame is written, then the actor exits.
 * MODE late: the actor exits first and a helper process it leaves behind
 * writes the frame 100 ms later, so the supervisor always hears of the
 * death before the result (tests/integration/runtime_result_exit.sh).
 * Returns only when the seam is not armed for this task. */
struct proc_peer;
void faults_result_exit_seam(int client, int round, struct proc_peer *peer);
#endif
