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
 * away.  Returns the process exit status (proto/protocol.h). */
int actor_main(int fd);

/* A remote actor (`photon-sim actor --connect`): fd is a connected TCP
 * socket; the session runs TLS over it with tls (a client context keyed by
 * the run key, io/link_tls.h), then serves tasks like a local actor, with
 * the blobs carried on the stream.  The overrides replace what the
 * supervisor's configuration says for this host (0 / -1 / "" = keep). */
struct link_tls;
typedef struct {
    struct link_tls *tls;
    const char *addr;     /* HOST:PORT, for messages */
    int threads;          /* run.threads; 0 = keep */
    int backend;          /* enum cfg_backend; -1 = keep */
    const char *data_dir; /* data.prepared_dir; NULL = keep */
} actor_remote;
/* How one remote session ended, for the reconnect policy
 * (supervisor/cmd/cmd_actor.c). */
typedef struct {
    int stopped;          /* the supervisor sent STOP: the run is over */
    int served;           /* the session got its setup */
    int refused;          /* authentication failed: retrying cannot help */
    int tasks;            /* results sent */
    char why[640];        /* how it ended */
} actor_session;
/* Returns the exit status the process should end with if it does not
 * reconnect; *out says how the session ended. */
int actor_main_remote(int fd, const actor_remote *opts, actor_session *out);
#endif
