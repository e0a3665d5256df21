/* The actor pool: P forked actor processes, each with an explicit state
 * machine, and the supervision policy (restart with exponential backoff,
 * at most R restarts in T seconds per actor and for the run, task timeouts,
 * SIGTERM -> grace -> SIGKILL shutdown).
 *
 *            fork                HELLO              TASK
 *   BACKOFF -------> STARTING ----------> IDLE ----------> BUSY
 *      ^                                  ^  ^  RESULT/FAIL  |
 *      |   restart allowed                |  +---------------+
 *    DEAD <----- reaped (any state) ------+     (RESULT: the update stays
 *      |                                         "held" in the actor's slot
 *      +-- limit hit / config error: the run fails    until the round
 *   STOPPING: asked to stop; DEAD when reaped, never restarted.  consumes it)
 */
#ifndef PHOTON_ACTOR_POOL_H
#define PHOTON_ACTOR_POOL_H
#include <sys/types.h>
#include "io/proc.h"
#include "actors/actor.h"
#include "proto/protocol.h"

typedef enum {
    ACTOR_STARTING, ACTOR_IDLE, ACTOR_BUSY, ACTOR_STOPPING, ACTOR_DEAD, ACTOR_BACKOFF
} actor_state;
const char *actor_state_name(actor_state s);

typedef struct {
    void *arg;
    /* The actor in slot can take a task now. */
    void (*on_idle)(void *arg, int slot);
    void (*on_result)(void *arg, int slot, const msg_result *r);
    /* A TASK_EVAL's figures (nothing is held: the actor is IDLE again). */
    void (*on_eval_result)(void *arg, int slot, const msg_eval_result *r);
    /* The task in flight on slot is lost (actor died, timed out, failed). */
    void (*on_task_lost)(void *arg, int slot, const msg_task *t, const char *cause);
    /* A remote actor took slot (who: its address), for the actor_connect
     * event; may be NULL. */
    void (*on_connect)(void *arg, int slot, const char *who);
    /* An actor process ended (for the actor_exit event). */
    void (*on_exit)(void *arg, int slot, pid_t pid, const char *cause, int restarting);
    /* The pool cannot go on (restart limit, configuration error). */
    void (*on_fatal)(void *arg, const char *reason);
    /* Every actor has exited after pool_stop. */
    void (*on_stopped)(void *arg);
} pool_callbacks;

typedef struct actor_pool actor_pool;

/* setup is copied per actor (slot filled in); nothing is forked yet. */
actor_pool *pool_new(proc_loop *loop, const actor_setup *setup, int n, const photon_config *cfg,
                     const pool_callbacks *cb);
void pool_free(actor_pool *p);
int pool_start(actor_pool *p, photon_err *err);
/* link = tcp: the slots are remote actors (call before pool_start, which
 * then forks nothing).  pool_adopt gives an authenticated connection a free
 * slot (sends it the setup); -1 when every slot is taken. */
void pool_set_remote(actor_pool *p, photon_link *tcp);
int pool_adopt(actor_pool *p, proc_peer *peer, const char *who);
int pool_size(const actor_pool *p);
actor_state pool_state(const actor_pool *p, int slot);
/* Whether slot may take a task: IDLE and its update slot not held. */
int pool_ready(const actor_pool *p, int slot);
/* IDLE -> BUSY; arms the task timeout ([aggregator] round_timeout).  -1 if
 * the slot cannot take it. */
int pool_dispatch(actor_pool *p, int slot, const msg_task *t);
/* The same with the task's own timeout in seconds (0 = none). */
int pool_dispatch_timeout(actor_pool *p, int slot, const msg_task *t, double timeout);
/* Whether slot's last task was given up for its timeout (valid in on_task_lost). */
int pool_task_timed_out(const actor_pool *p, int slot);
/* The round consumed slot's held update: the slot may take work again. */
void pool_release(actor_pool *p, int slot);
/* Routed from the loop's SIGCHLD handler. */
void pool_child_exited(actor_pool *p, pid_t pid, int status);
/* STOP to idle actors, SIGTERM to busy ones, SIGKILL after the grace
 * period; on_stopped fires when every actor is reaped. */
void pool_stop(actor_pool *p);
int pool_restarts(const actor_pool *p);
/* Actors connected, set up and not stopping (IDLE or BUSY). */
int pool_connected(const actor_pool *p);
int pool_live(const actor_pool *p);
/* Kills every actor now and reaps them (last-resort cleanup). */
void pool_kill_all(actor_pool *p);
#endif
