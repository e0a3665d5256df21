/* An actor process: a worker that owns a device (CPU threads or a GPU) and
 * runs client tasks sent by the supervisor, one at a time.  The supervisor
 * spawns it as `photon-sim actor --fd 3` and sends an actor_setup first. */
#ifndef PHOTON_ACTOR_H
#define PHOTON_ACTOR_H
#include <stdint.h>
#include "io/config.h"
#include "io/link.h"
#include "gpu/model.h"

/* Payload of MSG_SETUP: everything an actor needs, sent as is (same binary). */
typedef struct {
    photon_config cfg;
    gpt2_config model;
    link_plan plan;
    char run_id[64];
    int32_t slot;      /* actor index: its update slot and device */
} actor_setup;

/* Runs the actor on control socket fd until MSG_STOP or the supervisor goes
 * away.  Returns the process exit status (actors/protocol.h). */
int actor_main(int fd);
#endif
