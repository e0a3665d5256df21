/* Exit statuses of actor processes, shared by the actors that exit with
 * them and the supervisor's restart policy (supervisor/restart_policy.h)
 * that reads them:
 *   0                 clean exit (asked to stop)
 *   1                 transient failure: restart with backoff
 *   2 (PHOTON_EXIT_USAGE), 3 (ACTOR_EXIT_CONFIG)
 *                     permanent: bad configuration or an unusable device
 *   70                an injected abnormal exit ([faults] kill_signal = exit) */
#ifndef PHOTON_EXIT_CODES_H
#define PHOTON_EXIT_CODES_H
#define ACTOR_EXIT_OK 0
#define ACTOR_EXIT_TRANSIENT 1
#define ACTOR_EXIT_CONFIG 3
/* Transient (not 0, 2, 3), so the actor is restarted. */
#define FAULT_EXIT_CODE 70
#endif
