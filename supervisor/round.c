/* The round state machine.  A round samples K clients (sorted by id), puts
 * one task per client on a queue, and hands tasks to idle actors in that
 * order.  Updates are consumed strictly in client-id order (the aggregator's
 * order, supervisor/aggregate.h): an update that arrives early stays in its
 * actor's link slot ("held", the actor takes no new task) until every
 * lower-id client has been added or has failed.  Since tasks are handed out
 * in the same order, the update awaited next is the oldest in flight, so at
 * most P updates are ever held and the sum is bitwise the same for any P.
 *
 *   per client:  QUEUED -> RUNNING -> ARRIVED -> DONE
 *                              \-> (lost) -> QUEUED again (requeue) | FAILED
 *   the round:   RUNNING until every client is DONE or FAILED, then
 *                COMMITTED (>= min_clients accepted: outer step) or FAILED.
 *
 * With streaming fragments or overlap (supervisor/stream.h) a round is F
 * phases, each of them the above over the same sampled clients for one
 * fragment; the round commits when any phase did (docs/ROUNDS.md). */
#include "supervisor/run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "actors/train.h"
#include "supervisor/round_stats.h"
#include "supervisor/netclock.h"
#include "supervisor/stream.h"
#include "actors/client_state.h"
#include "gpu/vecops.h"

typedef enum { CS_QUEUED, CS_RUNNING, CS_ARRIVED, CS_DONE, CS_FAILED } client_status;

typedef struct {
    int client;
    client_status st;
    int slot;
    uint64_t task_id;
    int requeued;
    int accepted;       /* its update is in this attempt's sum */
    double down;        /* bytes sent to it for its task */
    msg_result res;
} round_client;

struct round_fsm {
    run *r;
    int active;
    int k;
    int *ids;
    round_client *c;
    double t0, overhead;
    double loss_sum, loss_w;
    int64_t task_samples;   /* sequences one task (of this phase) trains on */
    int phase, phases, phases_committed;   /* streaming: phase j of the round runs fragment j */
    agg_summary total;                     /* streaming: summed over the phases */
    int64_t tasks, tokens;                 /* streaming: accepted over the phases */
    double bytes, peak;                    /* bytes moved; one task's largest exchange */
    double bytes_up;                       /* of them, the updates */
    round_stats *stats;   /* informational figures of the attempt */
    int *late;          /* [network]: per sampled client, late on the simulated clock */
    int decided;        /* [network]: which clients are late is known */
};

round_fsm *round_new(run *r)
{
    round_fsm *rd = xcalloc(1, sizeof *rd);
    rd->r = r;
    rd->ids = xcalloc((size_t)r->n_clients, sizeof(int));
    rd->c = xcalloc((size_t)r->n_clients, sizeof(round_client));
    rd->stats = round_stats_new(r->n_actors);
    rd->late = xcalloc((size_t)r->n_clients, sizeof(int));
    return rd;
}

void round_free(round_fsm *rd)
{
    if (!rd) return;
    free(rd->ids);
    free(rd->c);
    round_stats_free(rd->stats);
    free(rd->late);
    free(rd);
}

int round_active(const round_fsm *rd) { return rd->active; }

const round_stats *round_stats_of(const round_fsm *rd) { return rd->stats; }

static round_client *find(round_fsm *rd, int client)
{
    for (int i = 0; i < rd->k; i++) if (rd->c[i].client == client) return &rd->c[i];
    return NULL;
}

static void task_event(const round_fsm *rd, const round_client *rc, const char *verdict, const char *cause)
{
    run *r = rd->r;
    metrics_begin(r->mx, "task");
    metrics_int(r->mx, "round", r->round + 1);
    metrics_int(r->mx, "attempt", r->attempt);
    metrics_int(r->mx, "client", rc->client);
    metrics_int(r->mx, "actor", rc->slot);
    metrics_str(r->mx, "verdict", verdict);
    if (cause) metrics_str(r->mx, "cause", cause);
    else {
        metrics_num(r->mx, "loss", rc->res.loss);
        metrics_num(r->mx, "last_loss", rc->res.last_loss);
        metrics_num(r->mx, "update_norm", rc->res.update_norm);
        if (stream_phased(r->st)) metrics_int(r->mx, "phase", rd->phase);
        metrics_int(r->mx, "samples", rc->res.samples);
        metrics_int(r->mx, "tokens", rc->res.tokens);
        metrics_num(r->mx, "seconds", rc->res.seconds);
        metrics_num(r->mx, "lr_first", rc->res.lr_first);
        metrics_num(r->mx, "lr_last", rc->res.lr_last);
        metrics_num(r->mx, "grad_norm", rc->res.grad_norm);
    }
    metrics_end(r->mx);
}

static void dispatch(round_fsm *rd, int slot)
{
    run *r = rd->r;
    const photon_config *cfg = r->cfg;
    round_client *rc = NULL;
    for (int i = 0; i < rd->k; i++) if (rd->c[i].st == CS_QUEUED) { rc = &rd->c[i]; break; }
    if (!rc) return;
    double t0 = time_mono();
    msg_task t;
    memset(&t, 0, sizeof t);
    t.task_id = ++r->task_counter;
    run_task_model(r, &t);
    t.data_seed = cfg->run.seed;
    t.global_step = r->global_step;
    t.client_pos = r->client_pos[rc->client];
    t.kind = r->centralized ? TASK_CENTRALIZED : TASK_FEDERATED;
    t.round = (int32_t)(r->round + 1);
    t.client = rc->client;
    t.local_steps = stream_phase_steps(r->st, rd->phase);
    t.global_step += stream_phase_start(r->st, rd->phase);
    t.n_clients = cfg->clients.count;
    t.per_round = r->per_round;
    t.keep_state = r->keep_state;
    t.state_flags = stream_state_flags(r->st);
    t.fragment = stream_phased(r->st) ? rd->phase : 0;
    t.sync = r->sync_counter;
    if (r->keep_state) {
        t.state_in = r->client_state_slot[rc->client];
        t.state_generation = r->client_state_gen[rc->client];
        t.state_out = r->actor_state_slot[slot];
    }
    /* Seeded fault injection (supervisor/faults.h): decided here, carried out
     * by the actor; with phases, for the round's first (one task per client
     * and round, as without them). */
    if (faults_active(r->faults) && rd->phase == 0) {
        fault_where w = { .round = t.round, .attempt = r->attempt, .try_ = rc->requeued, .client = rc->client,
                          .local_steps = t.local_steps, .sample = rd->ids, .k = rd->k };
        faults_task(r->faults, &w, &t.fault);
        if (t.fault.kind != FAULT_NONE) faults_log_task(r->mx, &w, &t.fault);
    }
    double timeout = r->nc ? netclock_task_timeout(r->nc, rc->client) : cfg->aggregator.round_timeout;
    if (pool_dispatch_timeout(r->pool, slot, &t, timeout) < 0) return;
    rc->st = CS_RUNNING;
    rc->slot = slot;
    rc->task_id = t.task_id;
    /* the client continues from its local model (the actor decides the same
     * from the state's header): it receives the last synced fragment only */
    int continuing = (t.state_flags & CLIENT_STATE_LOCAL) && r->client_state_gen[rc->client] &&
                     r->client_sync[rc->client] == t.sync - 1;
    double up;
    stream_task_bytes(r->st, t.fragment, continuing, &rc->down, &up);
    rd->bytes += rc->down;
    rd->overhead += time_mono() - t0;
}

/* Hands queued tasks to every actor that can take one. */
static void pump(round_fsm *rd)
{
    run *r = rd->r;
    for (int s = 0; s < r->n_actors && rd->active; s++)
        if (pool_ready(r->pool, s)) dispatch(rd, s);
}

static void start_phase(round_fsm *rd);

/* Every accepted update is finite, but the outer step can still overflow:
 * a model that is no longer finite ends the run here, before it is
 * published, evaluated or checkpointed.  1 when it did. */
static int diverged(round_fsm *rd)
{
    run *r = rd->r;
    int64_t bad = -1;
    if (isfinite(vec_norm(r->theta, r->n, cpu_threads(r->cfg->run.threads), &bad))) return 0;
    rd->active = 0;
    run_fail(r, "round %lld: the global model is no longer finite after the outer step (parameter %lld): "
             "the run diverged; the last good checkpoint is %s", (long long)r->round + 1, (long long)bad,
             r->last_ckpt[0] ? r->last_ckpt : "none");
    return 1;
}

/* Bytes of the attempt, for its round event and the run's totals. */
static void count_bytes(round_fsm *rd)
{
    run *r = rd->r;
    r->bytes_moved += rd->bytes;
    r->round_bytes = rd->bytes;
    r->round_update_bytes = rd->bytes_up;
    r->round_peak_bytes = rd->peak;
}

/* The end of a streaming phase: the fragment's outer step if enough
 * updates came; the next phase, or the end of the round (committed when
 * any phase was).  Accepted work is never discarded here: it lives on in
 * the clients' kept states (docs/ROUNDS.md). */
static void finish_phase(round_fsm *rd, const float *mean, const agg_summary *sum, int committed)
{
    run *r = rd->r;
    photon_err err;
    if (committed) {
        double t_outer = time_mono();
        stream_outer_step(r->st, r->outer, r->theta, rd->phase, mean);
        r->parts_dirty |= (uint64_t)1 << rd->phase;   /* only this fragment's part is written and sent */
        if (r->nc) netclock_outer_time(r->nc, rd->phase, time_mono() - t_outer);
        if (diverged(rd)) return;
    }
    stream_phase_end(r->st, r->ag, rd->phase);
    r->sync_counter++;
    rd->phases_committed += committed;
    rd->total.accepted += sum->accepted;
    rd->total.rejected += sum->rejected;
    rd->total.failed += sum->failed;
    if (rd->phase + 1 < rd->phases) {
        if (committed && run_publish(r, &err) < 0) { run_fail(r, "publishing the model: %s", err.msg); return; }
        rd->phase++;
        start_phase(rd);
        return;
    }
    r->tasks_done += rd->tasks;
    r->tokens_seen += rd->tokens;
    rd->active = 0;
    rd->total.sampled = rd->k;
    double train_loss = rd->loss_w > 0 ? rd->loss_sum / rd->loss_w : NAN;
    count_bytes(rd);
    r->round_fragments_committed = rd->phases_committed;
    if (r->nc) netclock_round_end(r->nc);
    run_round_done(r, rd->phases_committed > 0, &rd->total, 0, 0, time_mono() - rd->t0, train_loss, rd->overhead);
}

static void finish(round_fsm *rd)
{
    run *r = rd->r;
    double t0 = time_mono();
    agg_summary sum;
    const float *mean = agg_finish(r->ag, &sum);
    int need = r->cfg->aggregator.min_clients > 0 ? r->cfg->aggregator.min_clients : 1;
    if (need > rd->k) need = rd->k;
    int committed = mean && sum.accepted >= need;
    if (stream_phased(r->st)) {
        rd->overhead += time_mono() - t0;
        finish_phase(rd, mean, &sum, committed);
        return;
    }
    if (committed) {
        double t_outer = time_mono();
        outer_opt_step(r->outer, r->theta, mean);
        r->parts_dirty = 1;   /* one fragment: the whole model */
        if (r->nc) netclock_outer_time(r->nc, 0, time_mono() - t_outer);
        if (diverged(rd)) return;
    }
    /* Only a committed attempt's work counts as training: its clients move
     * on in their data streams.  A failed attempt's accepted updates are
     * discarded with it, and its clients start the retry (or their next
     * round) from the same data position (kept optimizer state is not
     * reverted: docs/ROUNDS.md, "Failed attempts"). */
    int64_t micro = (int64_t)r->cfg->clients.local_steps * train_micro_per_step(r->cfg, r->centralized, r->per_round);
    int64_t tasks = 0, tokens = 0;
    for (int i = 0; i < rd->k; i++) {
        const round_client *rc = &rd->c[i];
        if (!rc->accepted) continue;
        tasks++;
        tokens += rc->res.tokens;
        if (committed) r->client_pos[rc->client] += micro;
    }
    if (committed) {
        r->tasks_done += tasks;
        r->tokens_seen += tokens;
    } else {
        r->tasks_discarded += tasks;
        r->tokens_discarded += tokens;
    }
    rd->overhead += time_mono() - t0;
    rd->active = 0;
    double train_loss = rd->loss_w > 0 ? rd->loss_sum / rd->loss_w : NAN;
    count_bytes(rd);
    if (r->nc) netclock_round_end(r->nc);
    run_round_done(r, committed, &sum, committed ? 0 : tasks, committed ? 0 : tokens,
                   time_mono() - rd->t0, train_loss, rd->overhead);
}

static void check_done(round_fsm *rd)
{
    if (!rd->active) return;
    for (int i = 0; i < rd->k; i++)
        if (rd->c[i].st != CS_DONE && rd->c[i].st != CS_FAILED) return;
    finish(rd);
}

/* A client that misses round_timeout on the simulated clock: left out of
 * the round like a failed task (its actor, if it holds the update, is
 * free again). */
static void drop_late(round_fsm *rd, round_client *rc, const char *why)
{
    run *r = rd->r;
    photon_err err;
    char cause[300];
    if (why) snprintf(cause, sizeof cause, "%s", why);
    else netclock_late_cause(r->nc, rc->client, cause, sizeof cause);
    log_warn("round %lld: client %d is late: %s", (long long)r->round + 1, rc->client, cause);
    agg_fail(r->ag, rc->client, &err);
    int held = rc->st == CS_ARRIVED;
    rc->st = CS_FAILED;
    r->tasks_failed++;
    r->tasks_late++;
    task_event(rd, rc, "late", cause);
    if (held) pool_release(r->pool, rc->slot);
}

/* compute = measured with a round_timeout: once every task has reported,
 * the simulated clock says who is late.  0 while some are still out. */
static int decide_late(round_fsm *rd)
{
    for (int i = 0; i < rd->k; i++)
        if (rd->c[i].st == CS_QUEUED || rd->c[i].st == CS_RUNNING) return 0;
    rd->decided = 1;
    netclock_decide(rd->r->nc, rd->late);
    for (int i = 0; i < rd->k && rd->active; i++)
        if (rd->late[i] && rd->c[i].st == CS_ARRIVED) drop_late(rd, &rd->c[i], NULL);
    return 1;
}

/* Adds arrived updates in client-id order while the next one is there. */
static void consume(round_fsm *rd)
{
    run *r = rd->r;
    photon_err err;
    if (!rd->decided && !decide_late(rd)) return;
    for (;;) {
        int c = agg_next(r->ag);
        if (c < 0) break;
        round_client *rc = find(rd, c);
        if (!rc || rc->st != CS_ARRIVED) break;
        double t0 = time_mono();
        size_t bytes = 0;
        uint32_t enc = 0;
        const void *blob = link_read_enc(r->link, LINK_UPDATE, rc->slot, rc->task_id, &bytes, &enc, &err);
        if (blob) {   /* it came over the link, whatever its verdict */
            rd->bytes += (double)bytes;
            rd->bytes_up += (double)bytes;
        }
        /* encoding and size checked against the plan; compressed updates are
         * decoded here (and measured below on what was decoded) */
        const float *u = blob ? stream_decode_update(r->st, rd->phase, blob, bytes, enc, &err) : NULL;
        if (!u) {
            log_warn("round %lld: update of client %d unreadable: %s", (long long)r->round + 1, c, err.msg);
            if (r->nc) netclock_task_rejected(r->nc, c, rd->phase);
            agg_fail(r->ag, c, &err);
            rc->st = CS_FAILED;
            r->tasks_failed++;
            task_event(rd, rc, "unreadable", err.msg);
        } else {
            /* Nothing an actor says about its own update is trusted: the
             * norm and finiteness are measured here, the sample and token
             * counts are the task's. */
            agg_record rec;
            double t_add = time_mono();
            if (agg_add(r->ag, c, u, &rec, &err) < 0) {
                run_fail(r, "aggregation: %s", err.msg);
                return;
            }
            if (r->nc) netclock_add_time(r->nc, c, rd->phase, time_mono() - t_add);
            rc->res.update_norm = rec.norm;
            rc->res.samples = rd->task_samples;
            rc->res.tokens = rd->task_samples * r->cfg->model.seq_len;
            rc->st = CS_DONE;
            if (rc->down + (double)bytes > rd->peak) rd->peak = rc->down + (double)bytes;
            round_stats_add(rd->stats, rc->slot, &rc->res);
            if (rec.verdict == AGG_ACCEPTED) {
                rc->accepted = 1;   /* counted (and its data position moved) only if the attempt commits */
                if (r->keep_state && rc->res.state_generation) {
                    /* The client's new state is in the actor's out slot: swap
                     * slots, so the old one becomes the actor's next out slot. */
                    int old = r->client_state_slot[c];
                    r->client_state_slot[c] = r->actor_state_slot[rc->slot];
                    r->actor_state_slot[rc->slot] = old;
                    r->client_state_gen[c] = rc->res.state_generation;
                    r->client_sync[c] = r->sync_counter;
                }
                if (stream_phased(r->st)) {
                    /* streaming: the client's state has moved on, and its data with it */
                    r->client_pos[c] += (int64_t)stream_phase_steps(r->st, rd->phase) *
                                        train_micro_per_step(r->cfg, r->centralized, r->per_round);
                    rd->tasks++;
                    rd->tokens += rc->res.tokens;
                }
                rd->loss_sum += rc->res.loss * (double)rc->res.samples;
                rd->loss_w += (double)rc->res.samples;
            } else {
                r->updates_rejected++;
                if (r->nc) netclock_task_rejected(r->nc, c, rd->phase);
                log_warn("round %lld: update of client %d rejected: %s (norm %g)", (long long)r->round + 1, c,
                         agg_verdict_name(rec.verdict), rec.norm);
            }
            task_event(rd, rc, agg_verdict_name(rec.verdict), NULL);
        }
        rd->overhead += time_mono() - t0;
        pool_release(r->pool, rc->slot);   /* may dispatch the next task */
        if (!rd->active) return;
    }
    check_done(rd);
}

/* Queues every sampled client's task for phase rd->phase (the whole round
 * without streaming).  Clients late on the simulated clock stay out of
 * every phase of the round. */
static void start_phase(round_fsm *rd)
{
    run *r = rd->r;
    photon_err err;
    double *samples = xmalloc((size_t)rd->k * sizeof(double));
    rd->task_samples = (int64_t)stream_phase_steps(r->st, rd->phase) *
                       train_micro_per_step(r->cfg, r->centralized, r->per_round) * train_micro_batch(r->cfg);
    double per_task = (double)rd->task_samples;
    for (int i = 0; i < rd->k; i++) {
        memset(&rd->c[i], 0, sizeof rd->c[i]);
        rd->c[i].client = rd->ids[i];
        rd->c[i].st = CS_QUEUED;
        rd->c[i].slot = -1;
        samples[i] = per_task;
    }
    stream_phase_begin(r->st, r->ag, rd->phase);
    int rc = agg_begin(r->ag, rd->k, rd->ids, samples, r->cfg->aggregator.reject_norm, &err);
    free(samples);
    if (rc < 0) { run_fail(r, "aggregation: %s", err.msg); return; }
    rd->active = 1;
    if (rd->phase == 0) {
        rd->decided = !r->nc || !netclock_holds(r->nc);
        if (r->nc && netclock_round_begin(r->nc, rd->k, rd->ids, rd->late) > 0) {
            for (int i = 0; i < rd->k; i++)
                if (rd->late[i]) drop_late(rd, &rd->c[i], NULL);
            check_done(rd);
        }
    } else if (r->nc) {
        for (int i = 0; i < rd->k; i++)
            if (rd->late[i]) { agg_fail(r->ag, rd->ids[i], &err); rd->c[i].st = CS_FAILED; }
        check_done(rd);
    }
    if (rd->active) pump(rd);
}

void round_start(round_fsm *rd)
{
    run *r = rd->r;
    rd->t0 = time_mono();
    rd->overhead = 0;
    rd->loss_sum = rd->loss_w = 0;
    rd->phase = 0;
    rd->phases = stream_phases(r->st);
    rd->phases_committed = 0;
    memset(&rd->total, 0, sizeof rd->total);
    rd->tasks = rd->tokens = 0;
    rd->bytes = rd->peak = rd->bytes_up = 0;
    round_stats_reset(rd->stats);
    if (r->centralized) {
        rd->k = 1;
        rd->ids[0] = 0;
    } else {
        rd->k = sampler_pick(r->smp, r->round, r->attempt, rd->ids);
    }
    memset(rd->late, 0, (size_t)rd->k * sizeof(int));
    start_phase(rd);
}

void round_on_idle(round_fsm *rd, int slot)
{
    if (rd->active && pool_ready(rd->r->pool, slot)) dispatch(rd, slot);
}

void round_on_result(round_fsm *rd, int slot, const msg_result *res)
{
    run *r = rd->r;
    round_client *rc = rd->active ? find(rd, res->client) : NULL;
    if (!rc || rc->st != CS_RUNNING || rc->task_id != res->task_id) {
        /* A result of an earlier attempt: nothing waits for it. */
        pool_release(r->pool, slot);
        return;
    }
    rc->st = CS_ARRIVED;
    rc->res = *res;
    if (r->nc) netclock_task_done(r->nc, rc->client, rd->phase, res->seconds);
    consume(rd);
}

void round_on_task_lost(round_fsm *rd, int slot, const msg_task *t, const char *cause)
{
    (void)slot;
    run *r = rd->r;
    round_client *rc = rd->active ? find(rd, t->client) : NULL;
    if (!rc || rc->st != CS_RUNNING || rc->task_id != t->task_id) return;
    if (r->nc && netclock_holds(r->nc) && pool_task_timed_out(r->pool, slot)) {
        /* it ran past round_timeout x max(1, compute_scale) real seconds, so
         * its compute alone ends after the deadline on the simulated clock */
        double limit = netclock_task_timeout(r->nc, rc->client);
        char why[200];
        snprintf(why, sizeof why, "still computing after %g real seconds, so past round_timeout on the simulated clock",
                 limit);
        netclock_task_done(r->nc, rc->client, rd->phase, limit);
        drop_late(rd, rc, why);
        consume(rd);
        if (rd->active) pump(rd);
        return;
    }
    task_event(rd, rc, "lost", cause);
    if (r->cfg->aggregator.requeue && !rc->requeued) {
        log_warn("round %lld: client %d's task lost (%s): queued again", (long long)r->round + 1, rc->client, cause);
        rc->st = CS_QUEUED;
        rc->requeued = 1;
        rc->slot = -1;
        pump(rd);
        return;
    }
    log_warn("round %lld: client %d's task lost (%s): left out of the round", (long long)r->round + 1, rc->client, cause);
    photon_err err;
    agg_fail(r->ag, rc->client, &err);
    rc->st = CS_FAILED;
    r->tasks_failed++;
    if (r->nc) netclock_task_failed(r->nc, rc->client, rd->phase);
    consume(rd);
    if (rd->active) pump(rd);
}
