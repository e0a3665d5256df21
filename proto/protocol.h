/* The control protocol between the supervisor and an actor (message types
 * carried by io/proc.h frames; bulk bytes go through io/link.h).
 *
 *   supervisor -> actor  MSG_SETUP   first: configuration, model shape, link (actor_setup)
 *   actor -> supervisor  MSG_HELLO   once, when the actor is ready
 *   supervisor -> actor  MSG_TASK    one client's local training for a round
 *   actor -> supervisor  MSG_RESULT  the update is in the link (generation = task_id)
 *   actor -> supervisor  MSG_EVAL_RESULT  a TASK_EVAL's figures (bounded: msg_eval_result)
 *   actor -> supervisor  MSG_FAIL    the task could not run (reason text)
 *   supervisor -> actor  MSG_STOP    finish and exit 0
 *
 * Over TCP the frames travel inside TLS 1.3 keyed by the run key
 * (io/link_tls.h): the handshake authenticates both ends, then the
 * conversation is the one above, with the blobs on the stream:
 *   both ways            MSG_BLOB       one chunk of a link blob (link_blob_hdr + bytes)
 *
 * Structs are fixed-width and sent as is: both ends are the same binary
 * (forked); a TCP link across architectures would serialise them. */
#ifndef PHOTON_PROTOCOL_H
#define PHOTON_PROTOCOL_H
#include <stdint.h>
#include "io/proc.h"
#include "io/tcp_link.h"
#include "proto/exit_codes.h"
#include "proto/fault_task.h"

/* 8 and 9 were version 1's challenge and answer (before TLS). */
enum { MSG_HELLO = 1, MSG_TASK = 2, MSG_RESULT = 3, MSG_FAIL = 4, MSG_STOP = 5, MSG_SETUP = 6,
       MSG_BLOB = 7, MSG_EVAL_RESULT = 10 };

/* Version of the TCP conversation (TLS layer, frames, message structs,
 * actor_setup), bound into the TLS PSK identity: an actor of another
 * version is refused during the handshake, with that reason.
 * 1: HMAC challenge-response, then clear frames.  2, 3: msg_result grew lr
 * and grad norms; TASK_EVAL + MSG_EVAL_RESULT.  4: TLS 1.3 (PSK).  5: blob
 * headers carry the encoding; msg_task grew state_flags, fragment, sync.
 * 6: the model travels in parts (one per streaming fragment), msg_task
 * names each part's generation, link_plan its part sizes.  7: actor_setup
 * grew the certificate keys ([aggregator] tls_*). */
#define TCP_PROTOCOL_VERSION ((uint32_t)PROC_VERSION << 16 | 7u)

/* TASK_EVAL: score the validation windows (io/eval_windows.h) with global
 * model generation model_generation; only task_id, model_generation, round
 * and fault are used, and the actor answers MSG_EVAL_RESULT. */
enum { TASK_FEDERATED = 0, TASK_CENTRALIZED = 1, TASK_EVAL = 2 };

typedef struct {
    int32_t slot;
    int32_t pid;
} msg_hello;

typedef struct {
    uint64_t task_id;          /* unique per dispatched task: the update's link generation */
    uint64_t model_generation; /* generation of the global model (publish counter) */
    uint64_t state_generation; /* kept optimizer state to load (0 = none yet: fresh state) */
    uint64_t data_seed;
    int64_t global_step;       /* global step clock at the task's first local step */
    int64_t client_pos;        /* micro-batches this client consumed before this task */
    int32_t kind;              /* TASK_FEDERATED, TASK_CENTRALIZED or TASK_EVAL */
    int32_t round, client, local_steps;
    int32_t keep_state;        /* 1: a kept client state is loaded and stored through the link */
    int32_t state_flags;       /* its sections (actors/client_state.h) */
    int32_t state_in;          /* LINK_STATE slot holding the client's state (if state_generation) */
    int32_t state_out;         /* LINK_STATE slot to write the new state to (the actor's own) */
    int32_t n_clients, per_round; /* centralized: the global batch spans per_round micro-batches over n_clients shards */
    int32_t fragment;          /* streaming: the fragment this task synchronises (0 when fragments = 1) */
    int64_t sync;              /* streaming: the run's phase counter; the client continues from its local
                                * model when it completed phase sync − 1 (docs/ROUNDS.md) */
    fault_task fault;          /* injected fault (supervisor/faults.h); kind FAULT_NONE mostly */
    /* generation of each LINK_MODEL part to read (link_model_parts of the
     * plan; a part keeps its generation until its fragment changes) */
    uint64_t part_generation[LINK_MODEL_PARTS];
} msg_task;

typedef struct {
    uint64_t task_id;
    uint64_t state_generation; /* kept state written (0 if none) */
    int32_t round, client;
    int64_t samples;           /* sequences trained on: the aggregation weight */
    int64_t tokens;
    double loss;               /* mean training loss over the task */
    double last_loss;          /* loss of its last step */
    double update_norm;        /* L2 norm of the update as trained (informative: the supervisor measures its own) */
    double seconds;            /* wall time of the task on the actor */
    /* Informational (supervisor/round_stats.h), never used for training: */
    double lr_first, lr_last;  /* learning rate of the task's first and last local step */
    double grad_norm;          /* global gradient norm before clipping, mean over the steps */
    double grad_norm_max;      /* and its largest */
} msg_result;

/* Per validation source, in val.bin's order: windows scored and the sum of
 * their mean losses.  The supervisor believes none of it before checking
 * (supervisor/eval.c): the plan fingerprint and window counts must be its
 * own, every sum finite and within bounds. */
#define EVAL_MAX_SOURCES 16
typedef struct {
    uint64_t task_id;
    uint64_t plan_hash;        /* eval_set_hash of the windows scored */
    int32_t round;
    int32_t nsources;
    int64_t windows[EVAL_MAX_SOURCES];
    double loss_sum[EVAL_MAX_SOURCES];
    double seconds;            /* wall time of the evaluation on the actor */
} msg_eval_result;

typedef struct {
    uint64_t task_id;
    int32_t config_error;      /* 1: retrying cannot help */
    char reason[240];
} msg_fail;
#endif
