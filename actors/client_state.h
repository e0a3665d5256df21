/* A client's kept state: the blob that lives in a LINK_STATE slot, follows
 * the client from actor to actor (docs/RUNTIME.md, "The link") and goes
 * into checkpoints under /clients/<id>/.  Layout: this 64-byte header, then
 * the sections its flags name, n floats each, in this order:
 *   CLIENT_STATE_ADAM   AdamW first and second moments (optimizer_state =
 *                       keep, and the centralized baseline; with reset and
 *                       fragments > 1, from one phase of a round to the
 *                       next: the optimizer restarts once a round)
 *   CLIENT_STATE_LOCAL  the client's local model (streaming fragments or
 *                       overlap: the model a client continues from)
 *   CLIENT_STATE_RESID  the error-feedback residual (error_feedback with a
 *                       lossy compression)
 * Both ends derive the flags from the configuration (client_state_flags);
 * a reader checks a blob's header against them before using it. */
#ifndef PHOTON_CLIENT_STATE_H
#define PHOTON_CLIENT_STATE_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"
#include "io/config.h"

enum { CLIENT_STATE_ADAM = 1, CLIENT_STATE_LOCAL = 2, CLIENT_STATE_RESID = 4 };

typedef struct {
    int64_t step;    /* AdamW steps taken (ADAM) */
    int64_t n;       /* floats per section: the model's parameters */
    int64_t flags;   /* CLIENT_STATE_* sections present */
    int64_t sync;    /* LOCAL: the run's phase counter of the task that wrote it */
    int64_t pad[4];
} train_state_header;

/* Sections of one blob, NULL where absent. */
typedef struct {
    train_state_header *h;
    float *adam_m, *adam_v, *local, *resid;
} client_state_view;

/* The sections a run keeps per client (0: no state blob at all). */
int client_state_flags(const photon_config *cfg, int centralized);
size_t client_state_bytes(int flags, size_t n);
/* Pointers into a blob laid out for flags (the header is not read). */
client_state_view client_state_at(void *blob, int flags, size_t n);
/* Writes a fresh header (flags, n; step and sync 0) and returns the view. */
client_state_view client_state_init(void *blob, int flags, size_t n);
/* The view of a blob read from the link: its header must say n and
 * exactly the expected flags, and it must fit in bytes; -1 with err. */
int client_state_open(const void *blob, size_t bytes, int flags, size_t n, client_state_view *v, photon_err *err);
#endif
