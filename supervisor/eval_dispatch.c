/* Where an evaluation runs ([eval] on): in the supervisor, at once, or as a
 * TASK_EVAL on an idle actor while the run waits for its figures.  An
 * actor's evaluation that is lost (the actor died, timed out or failed) or
 * whose figures fail the checks (eval.c) is tried once more on another
 * actor, then done in the supervisor; each loss is logged and written as
 * an `eval_lost` event.  The figures do not depend on where they were
 * computed (same windows, batches and order of sums; bitwise on the CPU
 * backend), and training waits for the evaluation either way, so neither
 * the results nor a resumed run's metrics depend on it.
 *
 * Test seam: PHOTON_FAULT_EVAL_KILL=N makes the actors running the first N
 * evaluation tasks of the process SIGKILL themselves before scoring. */
#include "supervisor/run.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "io/eval_windows.h"

#define EVAL_ACTOR_TRIES 2

int eval_runs_on_actor(const photon_config *cfg)
{
    /* the actors hold only the compressed model: the global one is evaluated here */
    if (cfg->aggregator.broadcast_compression) return 0;
    switch (cfg->eval.on) {
    case EVAL_ON_ACTOR: return 1;
    case EVAL_ON_SUPERVISOR: return 0;
    default:
        return cfg->run.backend == BACKEND_CUDA || (cfg->run.backend == BACKEND_AUTO && backend_cuda_available());
    }
}

static void finish(run *r)
{
    r->ej.active = 0;
    r->ej.slot = -1;
    run_eval_done(r);
}

/* In the supervisor's CPU model; a failure skips this evaluation. */
static void eval_here(run *r)
{
    photon_err err;
    eval_sums s;
    double t0 = time_mono();
    if (evaluator_score(r->ev, r->theta, &s, &err) < 0) log_warn("evaluation skipped: %s", err.msg);
    else evaluator_record(r, &s, "supervisor", time_mono() - t0);
    finish(r);
}

static int kill_seam(void)
{
    static long left = -1;
    if (left < 0) {
        const char *v = getenv("PHOTON_FAULT_EVAL_KILL");
        left = v && *v ? strtol(v, NULL, 10) : 0;
        if (left < 0) left = 0;
    }
    if (left == 0) return 0;
    left--;
    return 1;
}

static int dispatch(run *r, int slot)
{
    msg_task t;
    memset(&t, 0, sizeof t);
    t.task_id = ++r->task_counter;
    run_task_model(r, &t);
    t.kind = TASK_EVAL;
    t.round = (int32_t)r->round;
    t.client = -1;
    if (kill_seam()) {
        t.fault.kind = FAULT_KILL;
        t.fault.signal = SIGKILL;
    }
    if (pool_dispatch(r->pool, slot, &t) < 0) return -1;
    r->ej.slot = slot;
    r->ej.task_id = t.task_id;
    return 0;
}

/* To a ready actor, another than `avoid` if there is one; else the next
 * actor to become idle takes it (eval_on_idle). */
static void place(run *r, int avoid)
{
    int n = pool_size(r->pool);
    for (int pass = 0; pass < 2; pass++)
        for (int s = 0; s < n; s++)
            if ((pass || s != avoid) && pool_ready(r->pool, s) && dispatch(r, s) == 0) return;
}

void eval_start(run *r)
{
    if (!r->ev) { run_eval_done(r); return; }
    r->ej.t0 = time_mono();
    r->ej.tries = 0;
    r->ej.slot = -1;
    if (!r->eval_on_actor) { eval_here(r); return; }
    r->ej.active = 1;
    place(r, -1);
}

int eval_pending(const run *r) { return r->ej.active; }

void eval_on_idle(run *r, int slot)
{
    if (r->ej.active && r->ej.slot < 0 && pool_ready(r->pool, slot)) dispatch(r, slot);
}

/* The actor attempt failed: once more elsewhere, then the supervisor. */
static void retry(run *r, int slot, const char *cause)
{
    r->ej.tries++;
    int here = r->ej.tries >= EVAL_ACTOR_TRIES;
    log_warn("evaluation after round %lld on actor %d lost (%s): %s", (long long)r->round, slot, cause,
             here ? "evaluating in the supervisor" : "trying another actor");
    metrics_begin(r->mx, "eval_lost");
    metrics_int(r->mx, "round", r->round);
    metrics_int(r->mx, "actor", slot);
    metrics_str(r->mx, "cause", cause);
    metrics_str(r->mx, "next", here ? "supervisor" : "actor");
    metrics_end(r->mx);
    r->ej.slot = -1;
    if (here) { eval_here(r); return; }
    place(r, slot);
}

void eval_on_result(run *r, int slot, const msg_eval_result *m)
{
    if (!r->ej.active || r->ej.slot != slot || m->task_id != r->ej.task_id) return;   /* a stale answer */
    photon_err err;
    eval_sums s;
    if (evaluator_accept(r->ev, m, &s, &err) < 0) {
        char cause[1100];
        snprintf(cause, sizeof cause, "figures refused: %s", err.msg);
        retry(r, slot, cause);
        return;
    }
    evaluator_record(r, &s, "actor", time_mono() - r->ej.t0);
    finish(r);
}

void eval_on_task_lost(run *r, int slot, const msg_task *t, const char *cause)
{
    if (!r->ej.active || t->task_id != r->ej.task_id) return;
    retry(r, slot, cause);
}
