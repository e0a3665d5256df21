/* The actor's main loop: attach to the run's link, say hello, then for each
 * task map the global model, train, write the update (and the kept
 * optimizer state) into the link and reply with a result message.  A
 * remote actor first answers the supervisor's challenge and uses the TCP
 * link (blobs arrive as MSG_BLOB frames before the task that needs them). */
#include "actors/actor.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proto/protocol.h"
#include "actors/train.h"
#include "io/proc.h"
#include "gpu/vecops.h"
#include "actors/fault_exec.h"
#include "actors/client_sync.h"
#include "actors/eval_task.h"

typedef struct {
    actor_setup *setup;   /* NULL until MSG_SETUP */
    proc_loop *loop;
    proc_peer *peer;
    photon_link *link;
    trainer *tr;
    client_sync *cs;      /* compressed / streaming exchanges (actors/client_sync.h) */
    eval_task *ev;
    int status;
    const actor_remote *remote;   /* NULL: a local actor on a socketpair */
    int authed;
} actor;

static int send_blob(void *ctx, const void *payload, uint32_t len)
{
    return proc_peer_send(ctx, MSG_BLOB, payload, len);
}

static void send_fail(actor *a, uint64_t task_id, int config_error, const char *reason)
{
    msg_fail f = { .task_id = task_id, .config_error = config_error };
    snprintf(f.reason, sizeof f.reason, "%.*s", (int)sizeof f.reason - 1, reason);
    proc_peer_send(a->peer, MSG_FAIL, &f, sizeof f);
}

static void run_task(actor *a, const msg_task *t)
{
    photon_err err;
    size_t nparams = gpt2_num_params(&a->setup->model);
    size_t bytes;
    uint32_t enc;
    const void *blob = link_read_enc(a->link, LINK_MODEL, 0, t->model_generation, &bytes, &enc, &err);
    const float *global = blob ? client_sync_model(a->cs, blob, bytes, enc, t->model_generation, trainer_threads(a->tr), &err)
                               : NULL;
    if (!global) { send_fail(a, t->task_id, 0, err.msg); return; }
    const void *state_in = NULL;
    void *state_out = NULL;
    size_t state_bytes = client_state_bytes(t->state_flags, nparams);
    if (t->keep_state) {
        if (t->state_generation != 0) {
            client_state_view v;
            state_in = link_read(a->link, LINK_STATE, t->state_in, t->state_generation, &bytes, NULL, &err);
            if (!state_in || client_state_open(state_in, bytes, t->state_flags, nparams, &v, &err) < 0) {
                send_fail(a, t->task_id, 0, err.msg); return;
            }
        }
        state_out = link_write_begin(a->link, LINK_STATE, t->state_out, state_bytes, &err);
        if (!state_out) { send_fail(a, t->task_id, 0, err.msg); return; }
    }
    void *upd = link_write_begin(a->link, LINK_UPDATE, a->setup->slot, a->setup->plan.update_bytes, &err);
    if (!upd) { send_fail(a, t->task_id, 0, err.msg); return; }
    msg_result r;
    size_t upd_bytes = nparams * sizeof(float);
    uint32_t upd_enc = LINK_ENC_RAW;
    if (client_sync_plain(a->cs)) {
        float *delta = upd;
        if (trainer_run(a->tr, t, global, delta, state_in, state_out, &r, &err) < 0) {
            send_fail(a, t->task_id, 1, err.msg);
            return;
        }
        /* The norm of the update as trained (NAN if not finite), for the
         * record: the supervisor measures what it receives itself and never
         * trusts this figure.  An injected corruption comes after it, as it
         * would from a faulty or lying actor. */
        int64_t first_bad;
        r.update_norm = vec_norm(delta, nparams, trainer_threads(a->tr), &first_bad);
        if (t->fault.kind == FAULT_CORRUPT) faults_corrupt(&t->fault, delta, nparams);
    } else if (client_sync_run(a->cs, a->tr, t, global, state_in, state_out, upd, &upd_bytes, &upd_enc, &r, &err) < 0) {
        send_fail(a, t->task_id, 1, err.msg);
        return;
    }
    client_sync_test_seam(t, &upd_bytes, &upd_enc);
    if (t->keep_state) {
        if (link_write_end(a->link, LINK_STATE, t->state_out, t->task_id, state_bytes, &err) < 0) {
            send_fail(a, t->task_id, 0, err.msg); return;
        }
        r.state_generation = t->task_id;
    }
    if (link_write_end_enc(a->link, LINK_UPDATE, a->setup->slot, t->task_id, upd_bytes, upd_enc, &err) < 0) {
        send_fail(a, t->task_id, 0, err.msg); return;
    }
    proc_peer_send(a->peer, MSG_RESULT, &r, sizeof r);
    /* Kept states came for this task only; the supervisor holds them. */
    if (a->remote) link_tcp_drop(a->link, LINK_STATE);
}

/* TASK_EVAL: the figures go back in one bounded message, nothing in the link. */
static void run_eval(actor *a, const msg_task *t)
{
    photon_err err;
    const float *global = link_read(a->link, LINK_MODEL, 0, t->model_generation, NULL, NULL, &err);
    if (!global) { send_fail(a, t->task_id, 0, err.msg); return; }
    if (t->fault.kind == FAULT_KILL) { fflush(NULL); faults_fire_kill(&t->fault); }
    msg_eval_result r;
    if (eval_task_run(a->ev, a->tr, global, t, &r, &err) < 0) { send_fail(a, t->task_id, 0, err.msg); return; }
    proc_peer_send(a->peer, MSG_EVAL_RESULT, &r, sizeof r);
}

static int setup(actor *a, const void *payload, uint32_t len)
{
    photon_err err;
    if (len != sizeof(actor_setup)) {
        log_error("setup message of %u bytes, expected %zu (another photon-sim build?)", len, sizeof(actor_setup));
        return ACTOR_EXIT_CONFIG;
    }
    a->setup = xmalloc(sizeof *a->setup);
    memcpy(a->setup, payload, sizeof *a->setup);
    const actor_setup *s = a->setup;
    char tag[48];
    snprintf(tag, sizeof tag, "photon-sim actor %d", s->slot);
    log_set_tag(tag);
    if (a->remote) {
        photon_config *c = &a->setup->cfg;
        if (a->remote->threads > 0) c->run.threads = a->remote->threads;
        if (a->remote->backend >= 0) c->run.backend = a->remote->backend;
        if (a->remote->data_dir) snprintf(c->data.prepared_dir, sizeof c->data.prepared_dir, "%s", a->remote->data_dir);
        a->link = link_tcp_create(&s->plan, send_blob, a->peer);
        log_info("connected to the supervisor as actor %d (run %s)", s->slot, s->run_id);
    } else {
        a->link = link_shm_attach(s->run_id, &s->plan, &err);
    }
    /* logged here too: the loop exits at once, so the FAIL message may never leave */
    if (!a->link) { log_error("%s", err.msg); send_fail(a, 0, 0, err.msg); return ACTOR_EXIT_TRANSIENT; }
    a->tr = trainer_new(&s->cfg, &s->model, s->slot, &err);
    if (a->tr) a->cs = client_sync_new(&s->cfg, &s->model, &err);
    if (!a->cs) { log_error("%s", err.msg); send_fail(a, 0, 1, err.msg); return ACTOR_EXIT_CONFIG; }
    a->ev = eval_task_new(&s->cfg, &s->model, s->slot);
    msg_hello h = { .slot = s->slot, .pid = (int32_t)getpid() };
    proc_peer_send(a->peer, MSG_HELLO, &h, sizeof h);
    return 0;
}

static void on_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)p;
    actor *a = arg;
    if (a->remote && !a->authed) {
        msg_challenge c;
        if (type != MSG_CHALLENGE || len != sizeof c) {
            log_error("expected the supervisor's challenge, got message type %u of %u bytes", type, len);
            a->status = ACTOR_EXIT_TRANSIENT;
            proc_loop_exit(a->loop);
            return;
        }
        memcpy(&c, payload, sizeof c);
        if (c.version != TCP_PROTOCOL_VERSION) {
            log_error("the supervisor speaks protocol version 0x%08x, this actor 0x%08x (another photon-sim build?)",
                      c.version, TCP_PROTOCOL_VERSION);
            a->status = ACTOR_EXIT_CONFIG;
            proc_loop_exit(a->loop);
            return;
        }
        msg_auth m;
        link_auth_mac(a->remote->key, a->remote->keylen, c.nonce, c.version, m.mac);
        proc_peer_send(a->peer, MSG_AUTH, &m, sizeof m);
        a->authed = 1;
        return;
    }
    if (!a->setup && type != MSG_SETUP) {
        log_error("message type %u before setup", type);
        a->status = ACTOR_EXIT_TRANSIENT;
        proc_loop_exit(a->loop);
        return;
    }
    switch (type) {
    case MSG_SETUP: {
        if (a->setup) { log_warn("second setup message ignored"); break; }
        int rc = setup(a, payload, len);
        if (rc) { a->status = rc; proc_loop_exit(a->loop); }
        break;
    }
    case MSG_TASK:
        if (len != sizeof(msg_task)) { log_error("task message of %u bytes, expected %zu", len, sizeof(msg_task)); a->status = ACTOR_EXIT_TRANSIENT; proc_loop_exit(a->loop); return; }
        msg_task t;
        memcpy(&t, payload, sizeof t);
        if (t.kind == TASK_EVAL) run_eval(a, &t);
        else run_task(a, &t);
        break;
    case MSG_BLOB: {
        photon_err err;
        if (!a->remote || link_tcp_receive(a->link, payload, len, &err) < 0) {
            log_error("bad blob from the supervisor: %s", a->remote ? err.msg : "not a TCP actor");
            a->status = ACTOR_EXIT_TRANSIENT;
            proc_loop_exit(a->loop);
        }
        break;
    }
    case MSG_STOP:
        a->status = ACTOR_EXIT_OK;
        proc_loop_exit(a->loop);
        break;
    default:
        log_warn("unknown message type %u ignored", type);
    }
}

static void on_close(proc_peer *p, const char *reason, void *arg)
{
    (void)p;
    actor *a = arg;
    if (a->remote && !a->setup) {
        /* Closed before the setup: the key was refused, or no slot was free. */
        log_error("the supervisor closed the connection before the setup (wrong key, or all actor slots taken?): %s",
                  reason);
        if (a->status != ACTOR_EXIT_CONFIG) a->status = ACTOR_EXIT_TRANSIENT;
        proc_loop_exit(a->loop);
        return;
    }
    /* The supervisor went away: nothing left to do. */
    if (a->status != ACTOR_EXIT_CONFIG) a->status = ACTOR_EXIT_OK;
    proc_loop_exit(a->loop);
}

int actor_main(int fd)
{
    return actor_main_remote(fd, NULL);
}

int actor_main_remote(int fd, const actor_remote *opts)
{
    photon_err err;
    actor a = { .status = ACTOR_EXIT_TRANSIENT, .remote = opts };
    a.loop = proc_loop_new(&err);
    if (!a.loop) { log_error("%s", err.msg); return ACTOR_EXIT_TRANSIENT; }
    a.peer = proc_peer_new(a.loop, fd, "supervisor", on_msg, on_close, &a);
    proc_loop_run(a.loop);
    proc_peer_flush(a.peer);
    client_sync_free(a.cs);
    eval_task_free(a.ev);
    trainer_free(a.tr);
    link_close(a.link);
    proc_peer_free(a.peer);
    proc_loop_free(a.loop);
    free(a.setup);
    return a.status;
}
