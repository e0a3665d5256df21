/* The actor pool (see supervisor/actor_pool.h): spawning, the per-actor
 * state machine, supervision (restarts with backoff and limits, timeouts)
 * and the shutdown sequence.  With the TCP link the slots are filled by
 * remote actors that connect (pool_adopt) instead of forked processes: a
 * lost connection is that actor's death (its task is lost); the remote
 * process reconnects on its own, and any free slot takes it back.  A
 * remote actor that breaks the protocol is dropped the same way, so a
 * hostile one costs at most a log line per connection. */
#include "supervisor/actor_pool.h"
#include "supervisor/restart_policy.h"
#include "io/tcp_link.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BACKOFF 30.0

typedef struct {
    actor_pool *pool;
    int slot;
    actor_state state;
    pid_t pid;
    proc_peer *peer;
    int held;              /* a result's update waits in the slot for the round */
    int has_task;
    msg_task task;
    proc_timer *timeout, *backoff, *lost;
    char lost_reason[200];
    char cause[256];       /* why we killed it (timeout, lost channel), or its last FAIL */
    int config_error;      /* it reported a configuration error: do not restart */
    int timed_out, lost_channel;
    double timeout_s;      /* the task's timeout, for the log line */
    /* Remote (TCP) actors: no pid; who connected, which generation of
     * each model part it already holds, and a closed connection waiting to
     * be freed (never inside its own callback). */
    char who[64];
    uint64_t part_sent[LINK_MODEL_PARTS];
    int state_idx;         /* the kept state it wrote last (it keeps that one): slot, generation */
    uint64_t state_gen;
    int blob_started, blob_done;   /* per task: bit kind (update, state) */
    proc_peer *zombie;
    proc_timer *reap;
    /* Reaped, but its channel has not reached its end yet: what it sent
     * before dying (a result) is read before its task is given up. */
    int dying;
    pid_t dead_pid;
    int dead_status;
    proc_timer *drain;
} actor_slot;

struct actor_pool {
    proc_loop *loop;
    const photon_config *cfg;
    actor_setup setup;
    pool_callbacks cb;
    int n;
    actor_slot *a;
    char exe[PATH_MAX];
    int stopping, stopped;
    proc_timer *grace, *soon;
    restart_policy *rp;
    int restarts_total;
    photon_link *tcp;      /* non-NULL: slots are remote actors over this link */
    proc_timer *lonely;    /* remote: armed while no actor is connected */
};

const char *actor_state_name(actor_state s)
{
    static const char *names[] = { "starting", "idle", "busy", "stopping", "dead", "backoff" };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void on_msg(proc_peer *peer, uint16_t type, const void *payload, uint32_t len, void *arg);
static void on_close(proc_peer *peer, const char *reason, void *arg);
static void died(actor_slot *a);
static void lose_task(actor_slot *a, const char *cause);
static void all_stopped_check(actor_pool *p);

actor_pool *pool_new(proc_loop *loop, const actor_setup *setup, int n, const photon_config *cfg,
                     const pool_callbacks *cb)
{
    actor_pool *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->cfg = cfg;
    p->setup = *setup;
    p->cb = *cb;
    p->n = n;
    p->a = xcalloc((size_t)n, sizeof *p->a);
    for (int i = 0; i < n; i++) {
        p->a[i].pool = p;
        p->a[i].slot = i;
        p->a[i].state = ACTOR_DEAD;
    }
    p->rp = rp_create(n, cfg->supervision.restarts, cfg->supervision.window, cfg->supervision.run_restarts,
                      cfg->supervision.backoff, MAX_BACKOFF);
    /* The actor binary: ourselves, unless a test runs the pool from another program. */
    const char *env = getenv("PHOTON_ACTOR_EXE");
    if (env && *env) snprintf(p->exe, sizeof p->exe, "%s", env);
    else {
        ssize_t k = readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
        p->exe[k > 0 ? k : 0] = 0;
    }
    return p;
}

void pool_free(actor_pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        actor_slot *a = &p->a[i];
        proc_timer_cancel(a->timeout);
        proc_timer_cancel(a->backoff);
        proc_timer_cancel(a->lost);
        proc_timer_cancel(a->reap);
        proc_timer_cancel(a->drain);
        proc_peer_free(a->peer);
        proc_peer_free(a->zombie);
    }
    proc_timer_cancel(p->grace);
    proc_timer_cancel(p->soon);
    proc_timer_cancel(p->lonely);
    rp_free(p->rp);
    free(p->a);
    free(p);
}

static int send_blob(void *ctx, const void *payload, uint32_t len)
{
    return proc_peer_send(ctx, MSG_BLOB, payload, len);
}

static int spawn(actor_slot *a, photon_err *err)
{
    actor_pool *p = a->pool;
    char *argv[] = { "photon-sim", "actor", "--fd", "3", NULL };
    int fd;
    pid_t pid = proc_spawn(p->exe, argv, &fd, err);
    if (pid < 0) return -1;
    a->pid = pid;
    a->state = ACTOR_STARTING;
    /* a->held stays: an update the dead actor delivered is still in the
     * slot until the round consumes it (pool_release). */
    a->has_task = 0;
    a->cause[0] = 0;
    a->timed_out = a->lost_channel = 0;
    char name[32];
    snprintf(name, sizeof name, "actor %d", a->slot);
    a->peer = proc_peer_new(p->loop, fd, name, on_msg, on_close, a);
    actor_setup s = p->setup;
    s.slot = a->slot;
    proc_peer_send(a->peer, MSG_SETUP, &s, sizeof s);
    return 0;
}

void pool_set_remote(actor_pool *p, photon_link *tcp) { p->tcp = tcp; }

/* Remote: no actor connected for [aggregator] connect_timeout seconds. */
static void on_lonely(void *arg)
{
    actor_pool *p = arg;
    p->lonely = NULL;
    if (p->stopping || pool_live(p) > 0) return;
    char why[160];
    snprintf(why, sizeof why, "no remote actor connected for %gs ([aggregator] connect_timeout)",
             p->cfg->aggregator.connect_timeout);
    p->cb.on_fatal(p->cb.arg, why);
}

static void arm_lonely(actor_pool *p)
{
    if (!p->tcp || p->stopping || p->lonely || p->cfg->aggregator.connect_timeout <= 0 || pool_live(p) > 0) return;
    p->lonely = proc_timer_add(p->loop, p->cfg->aggregator.connect_timeout, on_lonely, p);
}

/* A dropped connection's frames and close go nowhere: its slot may already
 * belong to the next actor. */
static void ignore_msg(proc_peer *peer, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)peer; (void)type; (void)payload; (void)len; (void)arg;
}

static void ignore_close(proc_peer *peer, const char *reason, void *arg)
{
    (void)peer; (void)reason; (void)arg;
}

static void reap_zombie(void *arg)
{
    actor_slot *a = arg;
    a->reap = NULL;
    proc_peer_free(a->zombie);
    a->zombie = NULL;
}

/* A remote actor is gone (connection lost, timed out, or stopped by us):
 * its task is lost, its connection closed, its slot free for the next one. */
static void remote_gone(actor_slot *a, const char *cause, int quiet)
{
    actor_pool *p = a->pool;
    if (a->state == ACTOR_DEAD) return;
    if (!quiet) log_warn("actor %d (remote %s) lost: %s", a->slot, a->who, cause);
    proc_timer_cancel(a->timeout);
    a->timeout = NULL;
    if (a->has_task) {
        char lost[480];
        snprintf(lost, sizeof lost, "actor %d (remote %s) lost: %s", a->slot, a->who, cause);
        lose_task(a, lost);
    }
    if (a->zombie) proc_peer_free(a->zombie);
    a->zombie = a->peer;
    a->peer = NULL;
    if (a->zombie) proc_peer_set_callbacks(a->zombie, ignore_msg, ignore_close, NULL);
    if (!a->reap) a->reap = proc_timer_add(p->loop, 0, reap_zombie, a);
    a->state = ACTOR_DEAD;
    p->cb.on_exit(p->cb.arg, a->slot, 0, cause, 0);
    all_stopped_check(p);
    arm_lonely(p);
}

/* A message a well-behaved actor never sends: a local actor's is logged
 * and ignored (as before); a remote actor is dropped. */
static void violation(actor_slot *a, const char *what)
{
    if (!a->pool->tcp) { log_warn("actor %d: %s", a->slot, what); return; }
    snprintf(a->cause, sizeof a->cause, "protocol violation: %s", what);
    remote_gone(a, a->cause, 0);
}

int pool_adopt(actor_pool *p, proc_peer *peer, const char *who)
{
    if (!p->tcp || p->stopping) return -1;
    actor_slot *a = NULL;
    for (int i = 0; i < p->n && !a; i++)
        if (p->a[i].state == ACTOR_DEAD && !p->a[i].held) a = &p->a[i];
    if (!a) return -1;
    a->peer = peer;
    a->pid = 0;
    a->state = ACTOR_STARTING;
    a->held = a->has_task = 0;
    a->cause[0] = 0;
    a->timed_out = a->lost_channel = 0;
    for (int f = 0; f < LINK_MODEL_PARTS; f++) a->part_sent[f] = LINK_ANY;
    a->state_idx = -1;
    a->state_gen = LINK_ANY;
    snprintf(a->who, sizeof a->who, "%s", who);
    proc_peer_set_callbacks(peer, on_msg, on_close, a);
    proc_peer_set_limit(peer, PROC_MAX_PAYLOAD);
    actor_setup s = p->setup;
    s.slot = a->slot;
    proc_peer_send(peer, MSG_SETUP, &s, sizeof s);
    log_info("actor %d: remote actor %s connected", a->slot, who);
    if (p->cb.on_connect) p->cb.on_connect(p->cb.arg, a->slot, who);
    proc_timer_cancel(p->lonely);
    p->lonely = NULL;
    return 0;
}

int pool_start(actor_pool *p, photon_err *err)
{
    if (p->tcp) { arm_lonely(p); return 0; }   /* remote actors connect on their own */
    if (!p->exe[0]) { err_set(err, "cannot find the photon-sim executable (/proc/self/exe)"); return -1; }
    for (int i = 0; i < p->n; i++)
        if (spawn(&p->a[i], err) < 0) return -1;
    return 0;
}

int pool_size(const actor_pool *p) { return p->n; }
actor_state pool_state(const actor_pool *p, int slot) { return p->a[slot].state; }
int pool_ready(const actor_pool *p, int slot)
{
    return p->a[slot].state == ACTOR_IDLE && !p->a[slot].held && !p->a[slot].dying && !p->stopping;
}
int pool_restarts(const actor_pool *p) { return p->restarts_total; }

int pool_connected(const actor_pool *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->a[i].state == ACTOR_IDLE || p->a[i].state == ACTOR_BUSY) n++;
    return n;
}

int pool_live(const actor_pool *p)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        if (p->a[i].state != ACTOR_DEAD && p->a[i].state != ACTOR_BACKOFF) n++;
    return n;
}

static void on_timeout(void *arg)
{
    actor_slot *a = arg;
    a->timeout = NULL;
    if (a->state != ACTOR_BUSY || a->dying) return;
    a->timed_out = 1;
    if (a->task.kind == TASK_EVAL)
        snprintf(a->cause, sizeof a->cause, "timed out after %gs (evaluation after round %d)",
                 a->timeout_s, a->task.round);
    else
        snprintf(a->cause, sizeof a->cause, "timed out after %gs (round %d, client %d)",
                 a->timeout_s, a->task.round, a->task.client);
    if (a->pool->tcp) { remote_gone(a, a->cause, 0); return; }
    log_warn("actor %d (pid %d) %s: killing it", a->slot, (int)a->pid, a->cause);
    kill(a->pid, SIGKILL);
}

int pool_dispatch(actor_pool *p, int slot, const msg_task *t)
{
    return pool_dispatch_timeout(p, slot, t, p->cfg->aggregator.round_timeout);
}

int pool_task_timed_out(const actor_pool *p, int slot) { return p->a[slot].timed_out; }

int pool_dispatch_timeout(actor_pool *p, int slot, const msg_task *t, double timeout)
{
    actor_slot *a = &p->a[slot];
    if (!pool_ready(p, slot)) return -1;
    if (p->tcp) {
        /* The blobs the task reads go first, on the same stream: the model
         * parts this actor does not hold yet (with streaming fragments,
         * mostly the one fragment synchronised last phase), the kept state. */
        photon_err err;
        int rc = 0;
        for (int f = 0; f < link_model_parts(&p->tcp->plan) && rc == 0; f++) {
            if (t->part_generation[f] == a->part_sent[f]) continue;
            rc = link_tcp_send(p->tcp, LINK_MODEL, f, send_blob, a->peer, &err);
            if (rc == 0) a->part_sent[f] = t->part_generation[f];
        }
        /* (not the state this actor wrote itself last: it still holds it) */
        if (rc == 0 && t->keep_state && t->state_generation != 0 &&
            !(t->state_in == a->state_idx && t->state_generation == a->state_gen))
            rc = link_tcp_send(p->tcp, LINK_STATE, t->state_in, send_blob, a->peer, &err);
        if (rc < 0) { log_warn("actor %d (remote %s): %s", a->slot, a->who, err.msg); return -1; }
        a->blob_started = a->blob_done = 0;
    }
    if (proc_peer_send(a->peer, MSG_TASK, t, sizeof *t) < 0) return -1;
    a->task = *t;
    a->has_task = 1;
    a->state = ACTOR_BUSY;
    a->timeout_s = timeout;
    if (timeout > 0) a->timeout = proc_timer_add(p->loop, timeout, on_timeout, a);
    return 0;
}

void pool_release(actor_pool *p, int slot)
{
    actor_slot *a = &p->a[slot];
    if (!a->held) return;
    a->held = 0;
    if (a->state == ACTOR_IDLE && !p->stopping) p->cb.on_idle(p->cb.arg, slot);
}

/* The task in flight is gone; tell the round. */
static void lose_task(actor_slot *a, const char *cause)
{
    if (!a->has_task) return;
    a->has_task = 0;
    proc_timer_cancel(a->timeout);
    a->timeout = NULL;
    msg_task t = a->task;
    a->pool->cb.on_task_lost(a->pool->cb.arg, a->slot, &t, cause);
}

/* A blob from a remote actor: only its own update slot, or the state slot
 * its task names, for the task in flight, each once, from its first chunk
 * to its last (no restarts: an actor cannot keep its task busy by
 * resending). */
static void on_blob(actor_slot *a, const void *payload, uint32_t len)
{
    actor_pool *p = a->pool;
    link_blob_hdr h;
    photon_err err;
    char why[240];
    int bit = 0, rc = -1;
    if (!p->tcp || link_tcp_peek(payload, len, &h) < 0) {
        snprintf(why, sizeof why, "malformed blob message (%u bytes)", len);
    } else if (a->state != ACTOR_BUSY || !a->has_task || a->task.kind == TASK_EVAL || h.generation != a->task.task_id ||
               !((h.kind == LINK_UPDATE && h.idx == a->slot) ||
                 (h.kind == LINK_STATE && a->task.keep_state && h.idx == a->task.state_out))) {
        snprintf(why, sizeof why, "unexpected blob (kind %u index %d generation %llu) in state %s", h.kind, h.idx,
                 (unsigned long long)h.generation, actor_state_name(a->state));
    } else if ((bit = 1 << h.kind) & a->blob_done) {
        snprintf(why, sizeof why, "a second blob of kind %u for task %llu", h.kind, (unsigned long long)h.generation);
    } else if (h.offset == 0 && (a->blob_started & bit)) {
        snprintf(why, sizeof why, "blob of kind %u restarted at offset 0", h.kind);
    } else if ((rc = link_tcp_receive(p->tcp, payload, len, &err)) < 0) {
        snprintf(why, sizeof why, "%.200s", err.msg);
    } else {
        a->blob_started |= bit;
        if (rc == 1) a->blob_done |= bit;
        return;
    }
    snprintf(a->cause, sizeof a->cause, "bad blob: %.200s", why);
    remote_gone(a, a->cause, 0);
}

/* A result (training or evaluation) this actor was not asked for: of the
 * wrong size or state, or for another task. */
static void unexpected_result(actor_slot *a, const char *what, uint32_t len)
{
    char m[160];
    snprintf(m, sizeof m, "unexpected %s (state %s, %u bytes)", what, actor_state_name(a->state), len);
    violation(a, m);
}
static void result_of_other_task(actor_slot *a, const char *what, uint64_t task_id)
{
    char m[160];
    snprintf(m, sizeof m, "%s for task %llu, expected %llu; ignored", what, (unsigned long long)task_id,
             (unsigned long long)a->task.task_id);
    violation(a, m);
}

/* The task in flight came back: the actor is idle, and healthy again for
 * the restart policy. */
static void task_done(actor_slot *a)
{
    proc_timer_cancel(a->timeout);
    a->timeout = NULL;
    a->has_task = 0;
    a->state = ACTOR_IDLE;
    rp_on_healthy(a->pool->rp, a->slot);
}

static void on_msg(proc_peer *peer, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)peer;
    actor_slot *a = arg;
    actor_pool *p = a->pool;
    if (a->state == ACTOR_DEAD) return;   /* a dropped remote actor's last frames */
    if (p->tcp && a->state == ACTOR_STOPPING) return;   /* what a busy one sends before it reads STOP */
    switch (type) {
    case MSG_BLOB:
        on_blob(a, payload, len);
        break;
    case MSG_HELLO:
        if (a->state != ACTOR_STARTING) { violation(a, "a second hello"); break; }
        a->state = ACTOR_IDLE;
        if (!p->stopping) p->cb.on_idle(p->cb.arg, a->slot);
        break;
    case MSG_RESULT: {
        msg_result r;
        if (len != sizeof r || a->state != ACTOR_BUSY) { unexpected_result(a, "result message", len); break; }
        memcpy(&r, payload, sizeof r);
        if (!a->has_task || r.task_id != a->task.task_id || a->task.kind == TASK_EVAL) {
            result_of_other_task(a, "result", r.task_id);
            break;
        }
        /* A remote actor's result must name its task's round and client and
         * follow the blobs it announces (training tasks). */
        if (p->tcp && (a->task.kind == TASK_FEDERATED || a->task.kind == TASK_CENTRALIZED)) {
            const char *bad = NULL;
            if (r.round != a->task.round || r.client != a->task.client) bad = "a result for another round or client";
            else if (!(a->blob_done & (1 << LINK_UPDATE))) bad = "a result before its update";
            else if (a->task.keep_state && (r.state_generation != a->task.task_id || !(a->blob_done & (1 << LINK_STATE))))
                bad = "a result without its optimizer state";
            if (bad) { violation(a, bad); break; }
            if (a->task.keep_state) { a->state_idx = a->task.state_out; a->state_gen = r.state_generation; }
        }
        a->held = 1;
        task_done(a);
        p->cb.on_result(p->cb.arg, a->slot, &r);
        break;
    }
    case MSG_EVAL_RESULT: {
        msg_eval_result r;
        if (len != sizeof r || a->state != ACTOR_BUSY || !a->has_task || a->task.kind != TASK_EVAL) {
            unexpected_result(a, "evaluation result", len);
            break;
        }
        memcpy(&r, payload, sizeof r);
        if (r.task_id != a->task.task_id) { result_of_other_task(a, "evaluation result", r.task_id); break; }
        task_done(a);
        if (p->cb.on_eval_result) p->cb.on_eval_result(p->cb.arg, a->slot, &r);
        break;
    }
    case MSG_FAIL: {
        msg_fail f;
        if (len != sizeof f) { violation(a, "malformed failure message"); break; }
        memcpy(&f, payload, sizeof f);
        f.reason[sizeof f.reason - 1] = 0;
        /* A peer's text goes into our log: printable characters only. */
        for (char *c = f.reason; *c; c++) if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
        snprintf(a->cause, sizeof a->cause, "%s", f.reason);
        if (f.config_error) a->config_error = 1;
        log_warn("actor %d: %s", a->slot, f.reason);
        if (a->state == ACTOR_BUSY && a->has_task && f.task_id == a->task.task_id) {
            a->state = ACTOR_IDLE;
            lose_task(a, f.reason);
            if (f.config_error) p->cb.on_fatal(p->cb.arg, a->cause);
            else if (!p->stopping && !a->held) p->cb.on_idle(p->cb.arg, a->slot);
        }
        break;
    }
    default: {
        char what[80];
        snprintf(what, sizeof what, "unknown message type %u", type);
        violation(a, what);
    }
    }
}

/* The channel closed and the process has not been reaped since: it is
 * alive without a control channel, which is a failure of its own. */
static void on_lost(void *arg)
{
    actor_slot *a = arg;
    a->lost = NULL;
    if (a->state == ACTOR_DEAD || a->state == ACTOR_BACKOFF || a->state == ACTOR_STOPPING || a->dying) return;
    a->lost_channel = 1;
    if (!a->cause[0]) snprintf(a->cause, sizeof a->cause, "lost control channel: %s", a->lost_reason);
    kill(a->pid, SIGKILL);   /* SIGCHLD does the rest */
}

static void on_close(proc_peer *peer, const char *reason, void *arg)
{
    (void)peer;
    actor_slot *a = arg;
    if (a->pool->tcp) { remote_gone(a, reason, a->state == ACTOR_STOPPING); return; }
    /* Reaped and waiting for the channel's end: this is it. */
    if (a->dying) {
        if (a->drain) { proc_timer_cancel(a->drain); a->drain = NULL; died(a); }
        return;
    }
    /* Stopping: it closed its end on the way out; the grace timer covers a hang. */
    if (a->state == ACTOR_DEAD || a->state == ACTOR_BACKOFF || a->state == ACTOR_STOPPING) return;
    /* Usually the process just died and SIGCHLD follows at once; give it a
     * moment so the cause logged is its real exit status. */
    snprintf(a->lost_reason, sizeof a->lost_reason, "%s", reason);
    if (!a->lost) a->lost = proc_timer_add(a->pool->loop, 0.5, on_lost, a);
}

static void respawn(void *arg)
{
    actor_slot *a = arg;
    a->backoff = NULL;
    photon_err err;
    if (a->pool->stopping) { a->state = ACTOR_DEAD; return; }
    if (spawn(a, &err) < 0) a->pool->cb.on_fatal(a->pool->cb.arg, err.msg);
}

static void all_stopped_check(actor_pool *p)
{
    if (!p->stopping || p->stopped) return;
    for (int i = 0; i < p->n; i++)
        if (p->a[i].state != ACTOR_DEAD) return;
    p->stopped = 1;
    proc_timer_cancel(p->grace);
    p->grace = NULL;
    if (p->cb.on_stopped) p->cb.on_stopped(p->cb.arg);
}

/* Something other than the actor holds its channel open after its death
 * (nothing of ours does): what has not arrived by now is not coming. */
#define DRAIN_WAIT 2.0

static void on_drain_timeout(void *arg)
{
    actor_slot *a = arg;
    a->drain = NULL;
    log_warn("actor %d (pid %d): its channel stayed open %gs after it died", a->slot, (int)a->dead_pid, DRAIN_WAIT);
    died(a);
}

/* Reaped: the SIGCHLD only says it is gone.  Whatever it sent before
 * dying is read first (its RESULT may still be in the socket: the loop can
 * see the signal before the frame), so a task it completed is completed,
 * not lost.  The kernel closes a dead process's end before its parent
 * hears of it, so the channel normally ends at once; if it does not (the
 * end was handed on), the last frames get DRAIN_WAIT seconds. */
void pool_child_exited(actor_pool *p, pid_t pid, int status)
{
    actor_slot *a = NULL;
    for (int i = 0; i < p->n; i++)
        if (p->a[i].pid == pid && p->a[i].state != ACTOR_DEAD && p->a[i].state != ACTOR_BACKOFF) a = &p->a[i];
    if (!a || a->dying) return;
    a->dying = 1;
    a->dead_pid = pid;
    a->dead_status = status;
    a->pid = 0;   /* never signalled again: the pid may be reused */
    proc_timer_cancel(a->timeout);   /* it is dead: no timeout can kill it now */
    a->timeout = NULL;
    if (a->peer && !p->stopping && a->state != ACTOR_STOPPING) {
        proc_peer_drain(a->peer);
        if (!proc_peer_closed(a->peer)) {
            a->drain = proc_timer_add(p->loop, DRAIN_WAIT, on_drain_timeout, a);
            return;
        }
    }
    died(a);
}

/* The dead actor's channel has ended: its task (if still in flight) is
 * lost, and the supervision policy decides what comes next. */
static void died(actor_slot *a)
{
    actor_pool *p = a->pool;
    pid_t pid = a->dead_pid;
    int status = a->dead_status;
    a->dying = 0;
    char st[64], cause[400];
    proc_status_str(status, st, sizeof st);
    if (a->cause[0]) snprintf(cause, sizeof cause, "%s (%s)", a->cause, st);
    else snprintf(cause, sizeof cause, "%s", st);
    actor_state was = a->state;
    proc_timer_cancel(a->lost);
    a->lost = NULL;
    proc_timer_cancel(a->drain);
    a->drain = NULL;
    proc_peer_free(a->peer);
    a->peer = NULL;
    a->state = ACTOR_DEAD;
    a->pid = 0;
    proc_timer_cancel(a->timeout);
    a->timeout = NULL;
    if (a->has_task) {
        char lost[480];
        snprintf(lost, sizeof lost, "actor %d died: %s", a->slot, cause);
        lose_task(a, lost);
    }
    if (p->stopping || was == ACTOR_STOPPING) {
        p->cb.on_exit(p->cb.arg, a->slot, pid, cause, 0);
        all_stopped_check(p);
        return;
    }
    log_warn("actor %d (pid %d) exited: %s", a->slot, (int)pid, cause);
    /* The supervision policy (supervisor/restart_policy.h) decides. */
    actor_exit e = actor_exit_from_status(status);
    if (a->timed_out) e.kind = ACTOR_TIMEOUT;
    else if (a->lost_channel) e.kind = ACTOR_LOST;
    if (a->config_error) { e.kind = ACTOR_EXITED; e.code = ACTOR_EXIT_CONFIG; }
    double delay = 0;
    char why[300] = "";
    rp_action act = rp_on_exit(p->rp, a->slot, &e, time_mono(), &delay, why, sizeof why);
    p->cb.on_exit(p->cb.arg, a->slot, pid, cause, act == RP_RESTART);
    if (act != RP_RESTART) {
        char fatal[800];
        if (why[0]) snprintf(fatal, sizeof fatal, "%s (last exit: %s)", why, cause);
        else snprintf(fatal, sizeof fatal, "actor %d: %s (last exit: %s)", a->slot, rp_action_name(act), cause);
        p->cb.on_fatal(p->cb.arg, fatal);
        return;
    }
    p->restarts_total++;
    a->state = ACTOR_BACKOFF;
    a->backoff = proc_timer_add(p->loop, delay, respawn, a);
}

static void on_grace(void *arg)
{
    actor_pool *p = arg;
    p->grace = NULL;
    if (p->tcp) {   /* remote actors that have not closed after STOP: close them */
        for (int i = 0; i < p->n; i++) remote_gone(&p->a[i], "did not stop within the grace period", 1);
        return;
    }
    for (int i = 0; i < p->n; i++)
        if (p->a[i].state != ACTOR_DEAD && p->a[i].pid > 0) {
            log_warn("actor %d (pid %d) did not stop within %gs: killing it", i, (int)p->a[i].pid, p->cfg->supervision.grace);
            kill(p->a[i].pid, SIGKILL);
        }
}

static void stopped_soon(void *arg)
{
    actor_pool *p = arg;
    p->soon = NULL;
    all_stopped_check(p);
}

void pool_stop(actor_pool *p)
{
    if (p->stopping) return;
    p->stopping = 1;
    for (int i = 0; i < p->n; i++) {
        actor_slot *a = &p->a[i];
        if (a->dying) continue;   /* already reaped: its channel's end (or DRAIN_WAIT) finishes it */
        switch (a->state) {
        case ACTOR_BACKOFF:
            proc_timer_cancel(a->backoff);
            a->backoff = NULL;
            a->state = ACTOR_DEAD;
            break;
        case ACTOR_IDLE:
            /* A remote actor closes its connection when it reads STOP;
             * the grace timer closes the ones that do not. */
            proc_peer_send(a->peer, MSG_STOP, NULL, 0);
            a->state = ACTOR_STOPPING;
            break;
        case ACTOR_STARTING: case ACTOR_BUSY:
            /* Remote: it reads STOP once its task is done (its task is lost). */
            if (p->tcp) { lose_task(a, "the run is stopping"); proc_peer_send(a->peer, MSG_STOP, NULL, 0); a->state = ACTOR_STOPPING; break; }
            kill(a->pid, SIGTERM);
            a->state = ACTOR_STOPPING;
            break;
        default: break;
        }
    }
    p->grace = proc_timer_add(p->loop, p->cfg->supervision.grace, on_grace, p);
    p->soon = proc_timer_add(p->loop, 0, stopped_soon, p);
}

void pool_kill_all(actor_pool *p)
{
    for (int i = 0; i < p->n; i++) {
        actor_slot *a = &p->a[i];
        if (p->tcp && a->state != ACTOR_DEAD) {
            a->state = ACTOR_DEAD;
            proc_peer_free(a->peer);   /* closes the connection: the remote actor ends */
            a->peer = NULL;
            continue;
        }
        if (a->dying) {   /* reaped already */
            proc_timer_cancel(a->drain);
            a->drain = NULL;
            a->dying = 0;
            proc_peer_free(a->peer);
            a->peer = NULL;
            a->state = ACTOR_DEAD;
            continue;
        }
        if (a->state == ACTOR_DEAD || a->state == ACTOR_BACKOFF || a->pid <= 0) continue;
        kill(a->pid, SIGKILL);
        int status;
        while (waitpid(a->pid, &status, 0) < 0 && errno == EINTR) {}
        a->state = ACTOR_DEAD;
        a->pid = 0;
    }
}
