/* The actor's main loop: attach to the run's link, say hello, then for each
 * task map the global model, train, write the update (and the kept
 * optimizer state) into the link and reply with a result message.  A
 * remote actor first completes a TLS handshake keyed by the run key (each
 * end proves it holds the key; io/link_tls.h) and uses the TCP link (blobs
 * arrive as MSG_BLOB frames before the task that needs them). */
#include "actors/actor.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proto/protocol.h"
#include "actors/train.h"
#include "io/proc.h"
#include "io/link_tls.h"
#include "gpu/vecops.h"
#include "actors/fault_exec.h"
#include "actors/client_sync.h"
#include "actors/eval_task.h"
#include "actors/actor_check.h"

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
    actor_session *sess;          /* remote: how the session ends */
    proc_timer *setup_deadline;   /* remote: handshake and setup must come in time */
} actor;

/* Seconds a remote actor waits for the handshake and the setup. */
#define SETUP_DEADLINE 30.0

static void session_end(actor *a, int status, const char *fmt, const char *why)
{
    if (a->sess && !a->sess->why[0]) snprintf(a->sess->why, sizeof a->sess->why, fmt, why);
    a->status = status;
    proc_loop_exit(a->loop);
}

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

/* The global model task t reads: each model part at the generation the
 * task names, read (and decoded) only when this actor does not hold it. */
static const float *task_model(actor *a, const msg_task *t, photon_err *err)
{
    for (int f = 0; f < client_sync_parts(a->cs); f++) {
        uint64_t gen = t->part_generation[f];
        if (client_sync_has_part(a->cs, f, gen)) continue;
        size_t bytes;
        uint32_t enc;
        const void *blob = link_read_enc(a->link, LINK_MODEL, f, gen, &bytes, &enc, err);
        if (!blob || client_sync_part(a->cs, f, blob, bytes, enc, gen, trainer_threads(a->tr), err) < 0) return NULL;
    }
    return client_sync_global(a->cs);
}

static void run_task(actor *a, const msg_task *t)
{
    photon_err err;
    size_t nparams = gpt2_num_params(&a->setup->model);
    size_t bytes;
    const float *global = task_model(a, t, &err);
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
    if (!a->remote) faults_result_exit_seam(t->client, t->round, a->peer);
    if (a->sess) a->sess->tasks++;
    /* Kept states came for this task only; the supervisor holds them.  The
     * one written stays: when this actor runs the client's next task, the
     * supervisor does not send it back (supervisor/actor_pool.c). */
    if (a->remote) link_tcp_drop(a->link, LINK_STATE, t->keep_state ? t->state_out : -1);
}

/* TASK_EVAL: the figures go back in one bounded message, nothing in the link. */
static void run_eval(actor *a, const msg_task *t)
{
    photon_err err;
    const float *global = task_model(a, t, &err);
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
    cfg_wire_sanitize(&a->setup->cfg);   /* lists are pointers of the supervisor's */
    const actor_setup *s = a->setup;
    char bad[200];
    if (a->remote && actor_setup_check(s, bad, sizeof bad) < 0) {
        log_error("setup message from the supervisor refused: %s (another photon-sim build?)", bad);
        return ACTOR_EXIT_CONFIG;
    }
    static char tag[48];   /* log_set_tag keeps the pointer */
    snprintf(tag, sizeof tag, "photon-sim actor %d", s->slot);
    log_set_tag(tag);
    if (a->remote) {
        photon_config *c = &a->setup->cfg;
        if (a->remote->threads > 0) c->run.threads = a->remote->threads;
        if (a->remote->backend >= 0) c->run.backend = a->remote->backend;
        if (a->remote->data_dir) snprintf(c->data.prepared_dir, sizeof c->data.prepared_dir, "%s", a->remote->data_dir);
        a->link = link_tcp_create(&s->plan, send_blob, a->peer);
        proc_timer_cancel(a->setup_deadline);
        a->setup_deadline = NULL;
        a->sess->served = 1;
        log_info("connected to the supervisor at %s as actor %d (run %s)", a->remote->addr, s->slot, s->run_id);
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
        char bad[200];
        if (a->remote && actor_task_check(a->setup, &t, bad, sizeof bad) < 0) {
            log_error("task message from the supervisor refused: %s (another photon-sim build?)", bad);
            a->status = ACTOR_EXIT_TRANSIENT;
            proc_loop_exit(a->loop);
            return;
        }
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
        if (a->sess) {
            a->sess->stopped = 1;
            log_info("stopped by the supervisor after %d task%s in this session", a->sess->tasks,
                     a->sess->tasks == 1 ? "" : "s");
        }
        a->status = ACTOR_EXIT_OK;
        proc_loop_exit(a->loop);
        break;
    default:
        log_warn("unknown message type %u ignored", type);
    }
}

static void on_close(proc_peer *p, const char *reason, void *arg)
{
    actor *a = arg;
    if (a->remote && !proc_peer_open(p)) {
        char cw[300], both[600];
        if (proc_peer_tls_error(p) && link_tls_cert_failure(a->remote->tls, proc_peer_ssl(p), cw, sizeof cw)) {
            a->sess->refused = 1;
            snprintf(both, sizeof both, "(%s): %s", reason, cw);
            session_end(a, ACTOR_EXIT_TRANSIENT, "authentication with the supervisor failed %.560s", both);
        } else if (proc_peer_tls_error(p) && link_tls_certs(a->remote->tls)) {
            /* It refused our certificate (its CA did not sign it), or it
             * wants the run key instead. */
            a->sess->refused = 1;
            session_end(a, ACTOR_EXIT_TRANSIENT, "authentication with the supervisor failed (%s): "
                        "our certificate is not signed by its [aggregator] tls_ca, or it uses the run key (--key-file)",
                        reason);
        } else if (proc_peer_tls_error(p)) {
            /* The supervisor refused our key, or it is not one that holds
             * the run key: either way nothing was sent to it. */
            a->sess->refused = 1;
            session_end(a, ACTOR_EXIT_TRANSIENT, "authentication with the supervisor failed (%s): "
                        "wrong key file, another photon-sim version, or not a photon-sim supervisor", reason);
        } else {
            session_end(a, ACTOR_EXIT_TRANSIENT, "%s", reason);
        }
        return;
    }
    if (a->remote && !a->setup && proc_peer_tls_error(p) && link_tls_cert_refused(proc_peer_tls_code(p))) {
        a->sess->refused = 1;
        session_end(a, ACTOR_EXIT_TRANSIENT, "the supervisor refused our certificate (%s): it is not signed by "
                    "the supervisor's [aggregator] tls_ca, or has expired", reason);
        return;
    }
    if (a->remote && !a->setup) {
        session_end(a, ACTOR_EXIT_TRANSIENT, "the supervisor closed the connection before the setup "
                    "(all actor slots taken?): %s", reason);
        return;
    }
    /* The supervisor went away: a local actor is done; a remote one lost
     * its connection (it may reconnect). */
    if (a->status != ACTOR_EXIT_CONFIG) a->status = a->remote ? ACTOR_EXIT_TRANSIENT : ACTOR_EXIT_OK;
    session_end(a, a->status, "connection lost: %s", reason);
}

/* Remote: the handshake completed; the supervisor must have used our
 * pre-shared key (a server that did not would have had to show a
 * certificate, which the key mode does not accept anyway) or, in the
 * certificate mode, shown a certificate from our CA naming its host. */
static void on_open(proc_peer *p, void *arg)
{
    actor *a = arg;
    photon_err err;
    if (link_tls_verify(proc_peer_ssl(p), &err) < 0) {
        a->sess->refused = 1;
        session_end(a, ACTOR_EXIT_TRANSIENT, "refusing the supervisor: %.200s", err.msg);
    }
}

static void on_setup_deadline(void *arg)
{
    actor *a = arg;
    a->setup_deadline = NULL;
    char why[80];
    snprintf(why, sizeof why, "no handshake and setup from the supervisor within %gs", SETUP_DEADLINE);
    session_end(a, ACTOR_EXIT_TRANSIENT, "%s", why);
}

static int serve(int fd, const actor_remote *opts, actor_session *sess)
{
    photon_err err;
    actor a = { .status = ACTOR_EXIT_TRANSIENT, .remote = opts, .sess = sess };
    a.loop = proc_loop_new(&err);
    if (!a.loop) { log_error("%s", err.msg); close(fd); return ACTOR_EXIT_TRANSIENT; }
    if (opts) {
        a.peer = proc_peer_new_tls(a.loop, fd, link_tls_ssl(opts->tls), 0, "the supervisor", on_open, on_msg,
                                   on_close, &a);
        if (!a.peer) {
            snprintf(sess->why, sizeof sess->why, "cannot set up TLS (OpenSSL/libevent)");
            proc_loop_free(a.loop);
            return ACTOR_EXIT_TRANSIENT;
        }
        proc_peer_set_frame_deadline(a.peer, LINK_TCP_FRAME_DEADLINE);
        a.setup_deadline = proc_timer_add(a.loop, SETUP_DEADLINE, on_setup_deadline, &a);
    } else {
        a.peer = proc_peer_new(a.loop, fd, "supervisor", on_msg, on_close, &a);
    }
    proc_loop_run(a.loop);
    proc_timer_cancel(a.setup_deadline);
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

int actor_main(int fd)
{
    return serve(fd, NULL, NULL);
}

int actor_main_remote(int fd, const actor_remote *opts, actor_session *out)
{
    memset(out, 0, sizeof *out);
    return serve(fd, opts, out);
}
