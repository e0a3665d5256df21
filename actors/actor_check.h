/* What a remote actor checks in the supervisor's messages before acting
 * on them (the supervisor holds the run key and is trusted with the run,
 * but a message of another build or a bug must cost one error line, never
 * an allocation or an index it chose): the setup's model shape and link
 * plan, and each task's kind, indices and counts against that setup.
 * tests/fuzz/fuzz_actor_msg.c drives both with hostile bytes. */
#ifndef PHOTON_ACTOR_CHECK_H
#define PHOTON_ACTOR_CHECK_H
#include <stddef.h>
#include "actors/actor.h"
#include "proto/protocol.h"

/* 0, or -1 with why: the model's shape, the plan's sizes against it, the
 * slot, the run id, and the configuration (cfg_wire_check; call
 * cfg_wire_sanitize on it first). */
int actor_setup_check(const actor_setup *s, char *why, size_t n);
/* 0, or -1 with why: a task t for the actor set up by s. */
int actor_task_check(const actor_setup *s, const msg_task *t, char *why, size_t n);
#endif
