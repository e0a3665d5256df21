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
#endif
