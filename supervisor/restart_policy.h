/* Supervision policy for actors (issue 6 §1, after Erlang/OTP supervisors):
 * why an actor died, whether to restart it, after what delay, and when a
 * crash loop must end the run instead.
 *
 * Exit convention for actor processes:
 *   0                 clean exit (asked to stop); unasked, it counts as a
 *                     transient death
 *   2 (PHOTON_EXIT_USAGE), 3 (ACTOR_EXIT_CONFIG)
 *                     permanent: bad configuration or an unusable device;
 *                     restarting cannot help, so the run fails at once
 *   anything else, any signal, a timeout, a lost control channel
 *                     transient: restart with backoff
 *
 * Limits: at most `restarts` restarts of one actor within `window` seconds
 * (a sliding window, like OTP's intensity/period; 0 = never restart), and at
 * most `run_restarts` restarts in this process's lifetime over all actors.
 * Past either, the decision is to fail the run with a clear reason.
 * Backoff: backoff × 2^(n−1) seconds for the n-th consecutive death of an
 * actor since it last completed a task (rp_on_healthy), capped at
 * backoff_max. */
#ifndef PHOTON_RESTART_POLICY_H
#define PHOTON_RESTART_POLICY_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "proto/exit_codes.h"

typedef enum {
    ACTOR_EXITED = 1,      /* code = exit status */
    ACTOR_SIGNALED,        /* code = signal number */
    ACTOR_TIMEOUT,         /* hung past round_timeout (then killed) */
    ACTOR_LOST             /* control channel closed or broken */
} actor_exit_kind;

typedef struct { int kind; int code; } actor_exit;

/* From a waitpid status. */
actor_exit actor_exit_from_status(int wait_status);
/* "exit status 70", "signal SIGSEGV", "timed out", "control channel lost". */
void actor_exit_describe(const actor_exit *e, char *buf, size_t n);
bool actor_exit_permanent(const actor_exit *e);
/* "SIGKILL" etc. ("SIG42" for others). */
const char *signal_name(int sig, char *buf, size_t n);

typedef enum {
    RP_RESTART = 0,        /* restart after *delay seconds */
    RP_FAIL_PERMANENT,     /* permanent exit code: do not restart, fail the run */
    RP_FAIL_ACTOR_LIMIT,   /* this actor exceeded restarts within window */
    RP_FAIL_RUN_LIMIT      /* the run exceeded run_restarts */
} rp_action;

typedef struct {
    int64_t deaths, restarts;
    int64_t exited, signaled, timeouts, lost;
    int64_t by_signal[65];        /* deaths per signal number */
    int64_t by_code[256];         /* deaths per exit status */
} rp_tally;

typedef struct restart_policy restart_policy;

restart_policy *rp_create(int n_actors, int restarts, double window, int run_restarts,
                          double backoff, double backoff_max);
void rp_free(restart_policy *p);
/* An actor died at time now (seconds, monotonic).  Records it in the tally
 * and decides; *delay gets the backoff for RP_RESTART (0 otherwise).
 * why (may be NULL) gets a one-line reason for a failure decision. */
rp_action rp_on_exit(restart_policy *p, int actor, const actor_exit *e, double now,
                     double *delay, char *why, size_t why_n);
/* The actor completed a task: its backoff starts over. */
void rp_on_healthy(restart_policy *p, int actor);
const rp_tally *rp_get_tally(const restart_policy *p);
int64_t rp_actor_deaths(const restart_policy *p, int actor);
const char *rp_action_name(rp_action a);
#endif
