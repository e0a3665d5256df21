/* What a task's injected fault is (supervisor/faults.h decides it, the
 * actor carries it out: actors/fault_exec.h).  Plain data: it travels
 * inside the task message. */
#ifndef PHOTON_FAULT_TASK_H
#define PHOTON_FAULT_TASK_H
#include <stdbool.h>
#include <stdint.h>
#include "proto/exit_codes.h"

#define FAULT_SCALE 1000.0f

typedef enum { FAULT_NONE = 0, FAULT_KILL, FAULT_STALL, FAULT_CORRUPT } fault_kind;
typedef enum { CORRUPT_NONE = 0, CORRUPT_NAN, CORRUPT_SCALE, CORRUPT_BITFLIP } fault_corruption;

/* What happens to one task.  Plain data: it travels in the task message. */
typedef struct {
    int kind;              /* fault_kind */
    int step;              /* kill / stall: local step at which it happens */
    int signal;            /* kill: signal number, or 0 for an abnormal exit */
    int corruption;        /* fault_corruption */
    uint64_t seed;         /* corrupt: the element draw */
    bool targeted;         /* from the targeted settings (else random) */
} fault_task;
#endif
