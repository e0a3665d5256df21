/* The supervisor: runtime_main sets up a run (run directory, resolved
 * config, prepared data, the global model, the shared-memory link, the actor
 * pool), wires the libevent loop (SIGINT/SIGTERM/SIGCHLD, actor messages),
 * drives rounds until the last one, evaluates and checkpoints between
 * rounds, and tears everything down on every exit path: actors stopped and
 * reaped, shm segments unlinked, summary.json written. */
#include "supervisor/runtime.h"
#include "supervisor/run.h"
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "actors/train.h"
#include "io/hf_import.h"
#include "io/prepare.h"
#include "io/tcp_link.h"
#include "io/link_tls.h"
#include <openssl/crypto.h>
#include "supervisor/tcp_server.h"
#include "supervisor/stream.h"
#include "actors/client_state.h"
#include "supervisor/round_stats.h"
#include "supervisor/tb_log.h"
#include "supervisor/netclock.h"
#include "supervisor/history.h"

/* ---- pool and loop callbacks -------------------------------------------- */

static void start_round(run *r);

/* With remote actors the first round may wait until min_actors have joined,
 * so every actor a user starts takes part (the result is the same either
 * way: aggregation order does not depend on who runs which task). */
static void cb_idle(void *arg, int slot)
{
    run *r = arg;
    if (r->phase != RUN_ROUNDS) return;
    if (eval_pending(r)) { eval_on_idle(r, slot); return; }
    if (r->waiting_actors) {
        int need = r->cfg->aggregator.min_actors < r->n_actors ? r->cfg->aggregator.min_actors : r->n_actors;
        if (pool_connected(r->pool) < need) return;
        r->waiting_actors = 0;
        start_round(r);   /* dispatches to every ready actor, this one included */
        return;
    }
    round_on_idle(r->rd, slot);
}

static void cb_result(void *arg, int slot, const msg_result *res)
{
    run *r = arg;
    if (r->phase == RUN_ROUNDS) round_on_result(r->rd, slot, res);
}

static void cb_eval_result(void *arg, int slot, const msg_eval_result *res)
{
    run *r = arg;
    if (r->phase == RUN_ROUNDS) eval_on_result(r, slot, res);
}

static void cb_task_lost(void *arg, int slot, const msg_task *t, const char *cause)
{
    run *r = arg;
    if (r->phase != RUN_ROUNDS) return;
    if (t->kind == TASK_EVAL) eval_on_task_lost(r, slot, t, cause);
    else round_on_task_lost(r->rd, slot, t, cause);
}

static void cb_exit(void *arg, int slot, pid_t pid, const char *cause, int restarting)
{
    run *r = arg;
    metrics_begin(r->mx, "actor_exit");
    metrics_int(r->mx, "actor", slot);
    metrics_int(r->mx, "pid", pid);
    metrics_int(r->mx, "round", r->round + 1);
    metrics_str(r->mx, "cause", cause);
    metrics_bool(r->mx, "restarting", restarting);
    metrics_end(r->mx);
}

static void cb_connect(void *arg, int slot, const char *who)
{
    run *r = arg;
    metrics_begin(r->mx, "actor_connect");
    metrics_int(r->mx, "actor", slot);
    metrics_str(r->mx, "remote", who);
    metrics_int(r->mx, "round", r->round + 1);
    metrics_end(r->mx);
}

static void stop_actors(run *r)
{
    if (r->phase == RUN_STOPPING || r->phase == RUN_DONE) return;
    r->phase = RUN_STOPPING;
    pool_stop(r->pool);
}

void run_fail(run *r, const char *fmt, ...)
{
    if (r->exit_code == 0 || !r->fail_reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->fail_reason, sizeof r->fail_reason, fmt, ap);
        va_end(ap);
        r->exit_code = PHOTON_EXIT_FAIL;
    }
    stop_actors(r);
}

static void cb_fatal(void *arg, const char *reason)
{
    run_fail(arg, "%s", reason);
}

static void cb_stopped(void *arg)
{
    run *r = arg;
    r->phase = RUN_DONE;
    proc_loop_exit(r->loop);
}

static void on_signal(int sig, void *arg)
{
    run *r = arg;
    progress_clear(r->pg);
    if (r->phase == RUN_STOPPING) {
        log_warn("second %s: killing the actors now", proc_signal_name(sig));
        pool_kill_all(r->pool);
        r->phase = RUN_DONE;
        proc_loop_exit(r->loop);
        return;
    }
    log_warn("SIG%s: stopping the actors (again to kill them)", proc_signal_name(sig));
    r->interrupted = sig;
    if (!r->fail_reason[0]) snprintf(r->fail_reason, sizeof r->fail_reason, "interrupted by SIG%s", proc_signal_name(sig));
    r->exit_code = PHOTON_EXIT_FAIL;
    stop_actors(r);
}

static void on_child(pid_t pid, int status, void *arg)
{
    run *r = arg;
    pool_child_exited(r->pool, pid, status);
}

/* ---- rounds ------------------------------------------------------------- */

int run_publish(run *r, photon_err *err)
{
    if (!r->parts_dirty) return 0;   /* nothing changed (a phase that did not commit) */
    uint64_t gen = ++r->model_gen;
    const link_plan *plan = &r->link->plan;
    for (int f = 0; f < link_model_parts(plan); f++) {
        if (!(r->parts_dirty >> f & 1)) continue;
        size_t bytes = link_model_part_bytes(plan, f);   /* as sent: fp32 or broadcast_compression */
        void *dst = link_write_begin(r->link, LINK_MODEL, f, bytes, err);
        if (!dst) return -1;
        uint32_t enc = stream_encode_part(r->st, r->theta, f, dst);
        if (link_write_end_enc(r->link, LINK_MODEL, f, gen, bytes, enc, err) < 0) return -1;
        r->part_gen[f] = gen;
    }
    r->parts_dirty = 0;
    return 0;
}

void run_task_model(const run *r, msg_task *t)
{
    t->model_generation = r->model_gen;
    memcpy(t->part_generation, r->part_gen, sizeof t->part_generation);
}

/* A periodic checkpoint that fails is logged and the run goes on (the
 * previous one stays valid); the final one must succeed.  The checkpoint
 * event is written first, so the metrics offset saved in the checkpoint
 * includes it and a resumed run's metrics.jsonl matches an uninterrupted
 * run's. */
static int do_checkpoint(run *r, int final)
{
    photon_err err;
    r->ckpt_writes++;
    int inject = faults_ckpt_write_fails(r->faults, r->ckpt_writes);
    if (inject) faults_log_event(r->mx, "ckpt_write", r->round, "injected I/O error");
    metrics_begin(r->mx, "checkpoint");
    metrics_int(r->mx, "round", r->round);
    metrics_str(r->mx, "dir", r->ckpt_dir);
    metrics_end(r->mx);
    char path[1024];
    if (checkpoint_write(r, inject, path, sizeof path, &err) < 0) {
        metrics_begin(r->mx, "checkpoint_failed");
        metrics_int(r->mx, "round", r->round);
        metrics_str(r->mx, "error", err.msg);
        metrics_end(r->mx);
        if (final) { run_fail(r, "checkpoint after round %lld: %s", (long long)r->round, err.msg); return -1; }
        log_warn("checkpoint after round %lld failed (the previous one stays): %s", (long long)r->round, err.msg);
        return 0;
    }
    snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
    r->ckpts++;
    return 0;
}

/* Starts the next round, unless the [faults] study kills the supervisor here. */
static void start_round(run *r)
{
    if (faults_kill_supervisor(r->faults, r->round + 1)) {
        faults_log_event(r->mx, "kill_supervisor", r->round + 1, "SIGKILL");
        progress_clear(r->pg);
        log_warn("fault injection: killing the supervisor at the start of round %lld", (long long)r->round + 1);
        raise(SIGKILL);
    }
    round_start(r->rd);
}

void run_round_done(run *r, int committed, const agg_summary *s, int64_t tasks_discarded,
                    int64_t tokens_discarded, double secs, double train_loss, double overhead)
{
    const photon_config *cfg = r->cfg;
    photon_err err;
    comm_bytes cb = comm_round_bytes(r->n, sizeof(float), s->sampled, s->accepted + s->rejected,
                                     r->centralized ? 1 : s->sampled, cfg->clients.local_steps);
    int attempt = r->attempt;   /* the attempt that just ran: the event names it */
    if (committed) {
        r->round++;
        r->global_step += cfg->clients.local_steps;
        r->attempt = 0;
        r->last_train_loss = train_loss;
        r->time_train += secs - overhead;
        r->time_overhead += overhead;
        r->bytes_allreduce += cb.allreduce_bytes;
    }
    metrics_begin(r->mx, "round");
    metrics_int(r->mx, "round", committed ? r->round : r->round + 1);
    metrics_int(r->mx, "attempt", attempt);
    metrics_bool(r->mx, "committed", committed);
    metrics_int(r->mx, "clients", s->sampled);
    metrics_int(r->mx, "accepted", s->accepted);
    metrics_int(r->mx, "rejected", s->rejected);
    metrics_int(r->mx, "failed", s->failed);
    metrics_num(r->mx, "loss", train_loss);
    metrics_int(r->mx, "global_step", r->global_step);
    metrics_int(r->mx, "tokens", r->tokens_seen);
    if (!committed) {
        /* This attempt's accepted work, thrown away with it (per attempt, not
         * cumulative, so a resumed run writes the same events). */
        metrics_int(r->mx, "tasks_discarded", tasks_discarded);
        metrics_int(r->mx, "tokens_discarded", tokens_discarded);
    }
    metrics_num(r->mx, "seconds", secs);
    metrics_num(r->mx, "overhead_seconds", overhead);
    metrics_num(r->mx, "bytes_moved", r->round_bytes);   /* as sent: compressed, fragments (supervisor/stream.h) */
    metrics_num(r->mx, "update_bytes", r->round_update_bytes);
    metrics_num(r->mx, "peak_task_bytes", r->round_peak_bytes);
    r->update_bytes += r->round_update_bytes;
    if (stream_phased(r->st)) metrics_int(r->mx, "fragments_committed", r->round_fragments_committed);
    if (r->round_peak_bytes > r->peak_bytes) r->peak_bytes = r->round_peak_bytes;
    metrics_num(r->mx, "allreduce_bytes", cb.allreduce_bytes);
    round_stats_write(round_stats_of(r->rd), r->mx);
    if (r->nc) netclock_log_round(r->nc, r->mx);
    metrics_end(r->mx);
    if (committed) tblog_round(r->tb, r, train_loss, secs);
    if (!committed) {
        r->attempt++;
        if (r->attempt > cfg->aggregator.max_retries) {
            if (stream_phased(r->st))   /* counts of every phase: say it per phase */
                run_fail(r, "round %lld failed %d times: no phase had %d accepted updates (%d of %d tasks accepted "
                         "over its %d phases)", (long long)r->round + 1, r->attempt,
                         cfg->aggregator.min_clients > 0 ? cfg->aggregator.min_clients : 1, s->accepted,
                         s->sampled * stream_phases(r->st), stream_phases(r->st));
            else run_fail(r, "round %lld failed %d times: %d of %d updates accepted, %d needed",
                     (long long)r->round + 1, r->attempt, s->accepted, s->sampled,
                     cfg->aggregator.min_clients > 0 ? cfg->aggregator.min_clients : 1);
            return;
        }
        log_warn("round %lld: %d of %d updates accepted, fewer than min_clients%s: model unchanged, retrying (attempt %d)",
                 (long long)r->round + 1, s->accepted, s->sampled * stream_phases(r->st),
                 stream_phased(r->st) ? " in every phase" : "", r->attempt);
    } else {
        double t0 = time_mono();
        if (run_publish(r, &err) < 0) { run_fail(r, "publishing the model: %s", err.msg); return; }
        r->time_overhead += time_mono() - t0;
        r->round_secs = secs;
        int last = r->round >= cfg->run.rounds;
        if ((cfg->eval.every > 0 && r->round % cfg->eval.every == 0) || last) eval_start(r);   /* then run_eval_done */
        else run_eval_done(r);
        return;
    }
    if (r->phase == RUN_ROUNDS) start_round(r);
}

/* The first round, once the remote actors it waits for are there. */
static void begin_rounds(run *r)
{
    r->t_rounds = time_mono();
    if (r->waiting_actors) {
        int need = r->cfg->aggregator.min_actors < r->n_actors ? r->cfg->aggregator.min_actors : r->n_actors;
        if (pool_connected(r->pool) < need) { log_info("waiting for %d remote actors before the first round", need); return; }
        r->waiting_actors = 0;
    }
    start_round(r);
}

void run_eval_done(run *r)
{
    const photon_config *cfg = r->cfg;
    if (r->phase != RUN_ROUNDS) return;
    if (r->eval_initial) {
        r->eval_initial = 0;
        begin_rounds(r);
        return;
    }
    /* After a committed round: checkpoint, progress, then the next round or the end. */
    int last = r->round >= cfg->run.rounds;
    if ((cfg->checkpoint.every > 0 && r->round % cfg->checkpoint.every == 0) || last)
        if (do_checkpoint(r, last) < 0) return;
    double elapsed = time_mono() - r->t_rounds;
    progress_round(r->pg, r, r->round_secs, elapsed > 0 ? (double)(r->tokens_seen - r->first_tokens) / elapsed : 0);
    if (last) { progress_clear(r->pg); stop_actors(r); return; }
    if (r->phase == RUN_ROUNDS) start_round(r);
}

/* ---- set-up and teardown ------------------------------------------------ */

static int write_config(run *r, photon_err *err)
{
    char path[2048];
    path_join(path, sizeof path, r->dir, "config.ini");
    atomic_file *f = afile_open(path, err);
    if (!f) return -1;
    config_dump(r->cfg, afile_stream(f));
    return afile_commit(f, err);
}

static int model_shape(run *r, photon_err *err)
{
    const photon_config *cfg = r->cfg;
    gpt2_config *g = &r->gc;
    g->n_layer = cfg->model.n_layer;
    g->n_head = cfg->model.n_head;
    g->d_model = cfg->model.d_model;
    g->seq_len = cfg->model.seq_len;
    g->vocab_size = cfg->model.vocab_size > 0 ? cfg->model.vocab_size : prepare_vocab_size(cfg, err);
    if (g->vocab_size <= 0) return -1;
    g->padded_vocab = gpt2_padded_vocab(g->vocab_size, cfg->model.pad_vocab);
    if (gpt2_config_check(g, err) < 0) return -1;
    r->n = gpt2_num_params(g);
    r->model_bytes = r->n * sizeof(float);
    return 0;
}

/* link = tcp: the credentials (certificates when [aggregator] tls_cert is
 * set; else the run key: [aggregator] key_file, or a new random one in
 * <run dir>/run.key) and the listener, once the pool exists. */
static int setup_tcp(run *r, photon_err *err)
{
    const photon_config *cfg = r->cfg;
    unsigned char key[LINK_KEY_MAX];
    int keylen;
    char path[2048];
    if (cfg->aggregator.tls_cert[0]) {
        link_tls *tls = link_tls_server_cert(cfg->aggregator.tls_ca, cfg->aggregator.tls_cert, cfg->aggregator.tls_key, err);
        if (!tls) return -1;
        path_join(path, sizeof path, r->dir, "listen.addr");
        r->tcp = tcp_server_start(r->loop, cfg->aggregator.listen, tls, r->pool, path, err);
        return r->tcp ? 0 : -1;
    }
    if (cfg->aggregator.key_file[0]) {
        keylen = link_key_load(cfg->aggregator.key_file, key, err);
    } else {
        path_join(path, sizeof path, r->dir, "run.key");
        keylen = link_key_generate(path, key, err);
        if (keylen > 0) log_info("no [aggregator] key_file: generated a random run key in %s (mode 0600); "
                                 "remote actors need a copy of it", path);
    }
    if (keylen < 0) return -1;
    link_tls *tls = link_tls_server(key, (size_t)keylen, TCP_PROTOCOL_VERSION, err);
    OPENSSL_cleanse(key, sizeof key);   /* a memset before the scope ends may be optimized away */
    if (!tls) return -1;
    path_join(path, sizeof path, r->dir, "listen.addr");
    r->tcp = tcp_server_start(r->loop, cfg->aggregator.listen, tls, r->pool, path, err);
    return r->tcp ? 0 : -1;
}

static int setup_link(run *r, photon_err *err)
{
    if (r->cfg->aggregator.link != LINK_TCP) {
        int stale = link_shm_remove_stale();
        if (stale > 0) log_info("removed %d shared-memory segment(s) left by dead runs", stale);
    }
    /* blob sizes as sent (compression, fragments: supervisor/stream.h) */
    link_plan plan = { .update_slots = r->n_actors, .update_bytes = stream_update_blob_bytes(r->st) };
    stream_link_plan(r->st, &plan);
    if (r->keep_state) {
        plan.state_slots = r->n_clients + r->n_actors;
        plan.state_bytes = client_state_bytes(stream_state_flags(r->st), r->n);
    }
    char id[48];
    link_shm_run_id(id, sizeof id);
    r->link = r->cfg->aggregator.link == LINK_TCP ? link_tcp_create(&plan, NULL, NULL) : link_shm_create(id, &plan, err);
    if (!r->link) return -1;
    r->client_state_slot = xcalloc((size_t)r->n_clients, sizeof(int));
    r->client_state_gen = xcalloc((size_t)r->n_clients, sizeof(uint64_t));
    r->client_sync = xcalloc((size_t)r->n_clients, sizeof(int64_t));
    for (int c = 0; c < r->n_clients; c++) r->client_sync[c] = -1;
    r->actor_state_slot = xcalloc((size_t)r->n_actors, sizeof(int));
    for (int c = 0; c < r->n_clients; c++) r->client_state_slot[c] = c;
    for (int a = 0; a < r->n_actors; a++) r->actor_state_slot[a] = r->n_clients + a;
    snprintf(r->run_id, sizeof r->run_id, "%s", id);
    return 0;
}

static void write_summary(run *r, const char *status)
{
    char path[2048];
    path_join(path, sizeof path, r->dir, "summary.json");
    double wall = time_mono() - r->t_start;
    summary *s = summary_create();
    summary_str(s, "name", r->cfg->run.name);
    summary_str(s, "mode", r->centralized ? "centralized" : "federated");
    summary_str(s, "status", status);
    if (r->fail_reason[0]) summary_str(s, "reason", r->fail_reason);
    summary_int(s, "rounds", r->round);
    summary_int(s, "rounds_planned", r->cfg->run.rounds);
    summary_int(s, "global_step", r->global_step);
    summary_int(s, "tokens", r->tokens_seen);
    summary_int(s, "parameters", (int64_t)r->n);
    summary_int(s, "clients", r->n_clients);
    summary_int(s, "clients_per_round", r->per_round);
    summary_int(s, "actors", r->n_actors);
    summary_num(s, "final_train_loss", r->last_train_loss);
    summary_num(s, "final_eval_loss", r->last_eval_loss);
    summary_num(s, "final_perplexity", r->last_eval_ppl);
    summary_num(s, "initial_perplexity", r->first_eval_ppl);
    evaluator_summary(r->ev, s);
    summary_num(s, "wall_seconds", wall);
    double train_wall = r->t_rounds > 0 ? time_mono() - r->t_rounds : 0;
    summary_num(s, "training_seconds", train_wall);
    summary_num(s, "tokens_per_s", train_wall > 0 ? (double)(r->tokens_seen - r->first_tokens) / train_wall : 0);
    summary_num(s, "bytes_moved", r->bytes_moved);
    summary_num(s, "update_bytes", r->update_bytes);
    summary_num(s, "peak_task_bytes", r->peak_bytes);
    summary_num(s, "allreduce_bytes", r->bytes_allreduce);
    if (r->link && r->cfg->aggregator.link == LINK_TCP) {
        /* what really crossed the TCP link (payload bytes): with one actor
         * per sampled client, model + update equal bytes_moved
         * (docs/ROUNDS.md, "Communication accounting") */
        uint64_t sent[3], received[3];
        link_tcp_traffic(r->link, sent, received);
        summary_num(s, "link_model_bytes", (double)sent[LINK_MODEL]);
        summary_num(s, "link_update_bytes", (double)received[LINK_UPDATE]);
        summary_num(s, "link_state_bytes", (double)(sent[LINK_STATE] + received[LINK_STATE]));
    }
    summary_num(s, "communication_reduction", r->bytes_moved > 0 ? r->bytes_allreduce / r->bytes_moved : 0);
    summary_num(s, "round_overhead_fraction", r->time_train + r->time_overhead > 0 ? r->time_overhead / (r->time_train + r->time_overhead) : 0);
    summary_int(s, "tasks_done", r->tasks_done);
    summary_int(s, "tasks_failed", r->tasks_failed);
    summary_int(s, "tasks_discarded", r->tasks_discarded);
    summary_int(s, "tokens_discarded", r->tokens_discarded);
    summary_int(s, "updates_rejected", r->updates_rejected);
    summary_int(s, "actor_restarts", r->pool ? pool_restarts(r->pool) : 0);
    if (r->nc) {
        double sim, ar;
        netclock_totals(r->nc, &sim, &ar);
        summary_num(s, "sim_wall_seconds", sim);
        summary_num(s, "sim_allreduce_wall_seconds", ar);
        summary_int(s, "tasks_late", r->tasks_late);
    }
    summary_int(s, "checkpoints", r->ckpts);
    /* Bit-exact identity of the final global model, for reproducibility checks. */
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)hash64(r->theta, r->model_bytes, HASH64_INIT));
    summary_str(s, "model_hash", hash);
    /* What decides the bits on the CPU backend (docs/MODEL.md, "Reproducible builds"). */
    char cpu[256];
    cpu_model_name(cpu, sizeof cpu);
    cpu_blas_setup();
    summary_str(s, "cpu", cpu);
    summary_str(s, "cpu_build", cpu_build_kind());
    summary_str(s, "blas_kernels", cpu_blas_kernels());
    if (r->last_ckpt[0]) summary_str(s, "checkpoint", r->last_ckpt);
    photon_err err;
    if (summary_write(s, path, &err) < 0) log_error("summary.json: %s", err.msg);
    summary_free(s);
}

static void teardown(run *r)
{
    tcp_server_free(r->tcp);   /* stops listening, removes listen.addr */
    if (r->pool) { pool_kill_all(r->pool); pool_free(r->pool); }
    if (r->loop) proc_loop_reap(r->loop);
    round_free(r->rd);
    netclock_free(r->nc);
    link_close(r->link);   /* unlinks every segment */
    evaluator_free(r->ev);
    progress_free(r->pg);
    if (r->mx) metrics_close(r->mx);
    tblog_close(r->tb);
    if (r->outer) outer_opt_free(r->outer);
    faults_free(r->faults);
    if (r->ag) agg_free(r->ag);
    if (r->smp) sampler_free(r->smp);
    proc_loop_free(r->loop);
    free(r->theta);
    free(r->client_pos);
    free(r->client_state_slot);
    free(r->client_state_gen);
    free(r->client_sync);
    free(r->actor_state_slot);
    stream_free(r->st);
}

/* Everything up to the first round; -1 with err. */
static int setup(run *r, int resume, int *usage, photon_err *err)
{
    const photon_config *cfg = r->cfg;
    config_run_dir(cfg, r->dir, sizeof r->dir);
    if (cfg->checkpoint.dir[0]) snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s", cfg->checkpoint.dir);
    else path_join(r->ckpt_dir, sizeof r->ckpt_dir, r->dir, "checkpoints");
    if (mkdir_p(r->dir, err) < 0) return -1;
    /* Temp files of a supervisor killed inside a write (config.ini,
     * summary.json, listen.addr, a checkpoint): gone before anything else. */
    int swept = tmp_sweep(r->dir, false) + tmp_sweep(r->ckpt_dir, false);
    if (swept > 0) log_info("removed %d temporary file(s) left by an interrupted run in %s", swept, r->dir);
    if (write_config(r, err) < 0) return -1;
    r->centralized = cfg->run.mode == MODE_CENTRALIZED;
    r->n_clients = cfg->clients.count;
    /* per_round 0 = all clients; centralized runs one task per round whose
     * global batch spans per_round clients' batches. */
    r->per_round = cfg->clients.per_round > 0 && cfg->clients.per_round < r->n_clients ? cfg->clients.per_round : r->n_clients;
    r->n_actors = r->centralized ? 1 : cfg->clients.actors;
    if (!r->centralized && r->n_actors > r->per_round) r->n_actors = r->per_round;   /* more would idle */
    if (r->n_actors < 1) r->n_actors = 1;
    /* Centralized training keeps its optimizer state across rounds, like any
     * single training run; it travels through the link as a kept state. */
    r->keep_state = client_state_flags(cfg, r->centralized) != 0;   /* optimizer state, local model, residual */
    if (prepare_run(cfg, 1, err) < 0) { err_prefix(err, "preparing data"); return -1; }
    if (model_shape(r, err) < 0) { *usage = 1; return -1; }
    if (!(r->st = stream_new(cfg, &r->gc, r->centralized, cfg->run.threads, err))) { *usage = 1; return -1; }
    r->theta = xmalloc_aligned(r->model_bytes);
    gpt2_init_params(&r->gc, r->theta, cfg->run.seed, cfg->model.init_std);
    r->client_pos = xcalloc((size_t)r->n_clients, sizeof(int64_t));
    r->nc = netclock_new(cfg, &r->gc, r->n, r->centralized, r->per_round);
    if (setup_link(r, err) < 0) return -1;

    int threads = cpu_threads(cfg->run.threads);
    if (!r->centralized) r->smp = sampler_create(cfg->run.seed, r->n_clients, r->per_round);
    r->ag = agg_create(r->n, threads);
    /* Centralized: the one update is the step itself (θ − Δ = θ_local). */
    r->outer = r->centralized ? outer_opt_create(STRAT_FEDAVG, 1.0, 0.0, r->n, threads, err)
                              : outer_opt_create(cfg->aggregator.strategy, cfg->aggregator.server_lr,
                                                 cfg->aggregator.momentum, r->n, threads, err);
    if (!r->outer) { *usage = 1; return -1; }
    int64_t moff = -1;
    if (resume) {
        char ck[1024];
        int rc = checkpoint_resume(r, &moff, ck, sizeof ck, err);
        if (rc < 0) return -1;
        if (rc == 1) log_info("no checkpoint in %s: starting from the beginning", r->ckpt_dir);
        else {
            log_info("resuming after round %lld from %s", (long long)r->round, ck);
            r->resumed = 1;
            snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", ck);
        }
    }
    /* [run] init_from: a fresh run starts from given weights, a resumed one from its own checkpoint */
    if (!r->resumed && cfg->run.init_from[0] && init_from_load(cfg->run.init_from, &r->gc, r->theta, err) < 0) {
        *usage = 1;
        return -1;
    }
    char path[2048];
    path_join(path, sizeof path, r->dir, "metrics.jsonl");
    if (!(r->mx = metrics_open(path, moff, err))) return -1;
    run_history hist = { 0 };
    int have_hist = r->resumed && history_read(path, &hist, err) == 0;
    if (r->resumed && !have_hist) return -1;
    if (have_hist) {
        r->first_eval_ppl = hist.first_ppl;
        r->last_eval_ppl = hist.last_ppl;
        r->last_eval_loss = hist.last_eval_loss;
        r->last_train_loss = hist.last_train_loss;
    }
    r->tb = tblog_open(r);
    r->faults = faults_create(cfg, r->resumed);
    if (cfg->eval.batches > 0) {
        photon_err e2;
        r->ev = evaluator_new(r, &e2);
        if (!r->ev) log_warn("evaluation disabled: %s", e2.msg);
        r->eval_on_actor = eval_runs_on_actor(cfg);
        r->ej.slot = -1;
    }
    if (have_hist) evaluator_restore(r->ev, hist.ppl_by_source, hist.loss_by_source);
    history_free(&hist);
    r->pg = progress_new(cfg->run.rounds);
    r->rd = round_new(r);

    if (!(r->loop = proc_loop_new(err))) return -1;
    if (proc_loop_on_signal(r->loop, SIGINT, on_signal, r) < 0 ||
        proc_loop_on_signal(r->loop, SIGTERM, on_signal, r) < 0 ||
        proc_loop_on_child(r->loop, on_child, r) < 0) {
        err_set(err, "cannot install signal handlers");
        return -1;
    }
    r->parts_dirty = ~(uint64_t)0 >> (64 - stream_model_parts(r->st));   /* every part, once */
    if (run_publish(r, err) < 0) return -1;
    /* A resumed run that had finished: nothing to start (runtime_main). */
    if (r->round >= cfg->run.rounds) return 0;

    actor_setup as;
    memset(&as, 0, sizeof as);
    as.cfg = *cfg;
    as.model = r->gc;
    as.plan = r->link->plan;
    snprintf(as.run_id, sizeof as.run_id, "%s", r->run_id);
    pool_callbacks cb = { .arg = r, .on_idle = cb_idle, .on_result = cb_result, .on_eval_result = cb_eval_result,
                          .on_task_lost = cb_task_lost,
                          .on_connect = cb_connect,
                          .on_exit = cb_exit, .on_fatal = cb_fatal, .on_stopped = cb_stopped };
    r->pool = pool_new(r->loop, &as, r->n_actors, cfg, &cb);
    if (cfg->aggregator.link == LINK_TCP) {
        pool_set_remote(r->pool, r->link);
        if (setup_tcp(r, err) < 0) return -1;
    }
    return pool_start(r->pool, err);
}

int runtime_main(const photon_config *cfg, int resume)
{
    run *r = xcalloc(1, sizeof *r);
    r->cfg = cfg;
    r->t_start = time_mono();
    r->last_eval_loss = r->last_eval_ppl = r->first_eval_ppl = r->last_train_loss = NAN;
    photon_err err;
    int usage = 0;
    int code;
    if (setup(r, resume, &usage, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        code = usage ? PHOTON_EXIT_USAGE : PHOTON_EXIT_FAIL;
        teardown(r);
        free(r);
        return code;
    }
    log_info("run %s: %s, %d clients (%d per round), %d actor(s), %zu parameters, %d rounds -> %s",
             cfg->run.name, r->centralized ? "centralized" : "federated", r->n_clients, r->per_round,
             r->n_actors, r->n, cfg->run.rounds, r->dir);
    r->phase = RUN_ROUNDS;
    r->t_rounds = time_mono();
    r->first_round = r->round;
    r->first_tokens = r->tokens_seen;
    r->waiting_actors = r->tcp != NULL && cfg->aggregator.min_actors > 1 && r->n_actors > 1;
    if (r->round >= cfg->run.rounds) {
        log_info("the run had already completed its %d rounds: nothing left to train", cfg->run.rounds);
        r->phase = RUN_DONE;
    }
    else if (!r->resumed && r->ev) { r->eval_initial = 1; eval_start(r); }   /* the starting point of the curve */
    else begin_rounds(r);
    if (r->phase != RUN_DONE) proc_loop_run(r->loop);
    progress_clear(r->pg);
    const char *status = r->interrupted ? "interrupted" : r->exit_code ? "failed" : "completed";
    write_summary(r, status);
    code = r->exit_code;
    if (code) fprintf(stderr, "photon-sim: error: %s\n", r->fail_reason);
    else log_info("done: %lld rounds, validation perplexity %.3f, summary in %s/summary.json",
                  (long long)r->round, r->last_eval_ppl, r->dir);
    teardown(r);
    free(r);
    return code;
}
