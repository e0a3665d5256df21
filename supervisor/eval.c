/* Validation of the global model, the supervisor's half: the plan of
 * windows (io/eval_windows.h: spread over every validation source, within
 * the [eval] token budget), scoring in the supervisor's own CPU model
 * instance when evaluation runs here (created on first use, so a run that
 * evaluates on its actors never allocates it), the checks an actor's
 * figures must pass before they are believed, and the `eval` event.
 * The CPU backend is used even for CUDA runs: the supervisor must not hold
 * a GPU context (actors own the devices); eval_dispatch.c decides where an
 * evaluation runs. */
#include "supervisor/run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/eval_windows.h"
#include "supervisor/tb_log.h"
#include "supervisor/netclock.h"
#include "actors/train.h"

/* A window's mean cross-entropy is >= 0 (log-sum-exp is at least the
 * target's logit; a little slack for rounding) and, for anything but a
 * corrupt report, far below this. */
#define EVAL_LOSS_MIN (-1e-3)
#define EVAL_LOSS_MAX 1e4

struct evaluator {
    eval_set *set;
    gpt2_config gc;
    int threads;
    photon_model *model;   /* the supervisor's CPU instance, on first use */
    eval_sums last;        /* the last evaluation, for summary.json */
    int have_last;
    /* A resumed run's last evaluation before the checkpoint, as JSON
     * (supervisor/history.h), until it evaluates again. */
    char *restored_ppl, *restored_loss;
};

evaluator *evaluator_new(const run *r, photon_err *err)
{
    eval_set *set = eval_set_for_run(r->cfg, train_micro_batch(r->cfg), r->gc.vocab_size, err);
    if (!set) return NULL;
    evaluator *e = xcalloc(1, sizeof *e);
    e->set = set;
    e->gc = r->gc;
    /* An actor's thread count, not all cores: the CPU kernels split work by
     * thread, and the last bits of a loss depend on it; with the same count
     * the supervisor's figures are bitwise an actor's. */
    backend_opts o;
    train_backend_opts(r->cfg, 0, &o);
    e->threads = o.threads;
    int S = eval_set_sources(set);
    for (int s = 0; s < S; s++)
        if (eval_set_windows(set, s) == 0)
            log_warn("validation source '%s' holds no window of seq_len+1 = %d tokens: it gets no perplexity",
                     eval_set_source_name(set, s), r->gc.seq_len + 1);
    return e;
}

void evaluator_free(evaluator *e)
{
    if (!e) return;
    if (e->model) model_destroy(e->model);
    eval_set_free(e->set);
    free(e->restored_ppl);
    free(e->restored_loss);
    free(e);
}

int evaluator_score(evaluator *e, const float *params, eval_sums *out, photon_err *err)
{
    if (!e->model) {
        backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = e->threads };
        e->model = model_create(&e->gc, eval_set_batch(e->set), e->gc.seq_len, &o, err);
        if (!e->model) return -1;
    }
    e->model->ops->set_params(e->model, params);
    eval_set_score(e->set, e->model, out);
    return 0;
}

int evaluator_accept(const evaluator *e, const msg_eval_result *m, eval_sums *out, photon_err *err)
{
    int S = eval_set_sources(e->set);
    if (m->plan_hash != eval_set_hash(e->set)) {
        err_set(err, "it scored other windows (plan %016llx, expected %016llx): its validation data or "
                "configuration differs", (unsigned long long)m->plan_hash, (unsigned long long)eval_set_hash(e->set));
        return -1;
    }
    if (m->nsources != S) { err_set(err, "%d sources, expected %d", m->nsources, S); return -1; }
    memset(out, 0, sizeof *out);
    out->n = S;
    for (int s = 0; s < S; s++) {
        int64_t w = eval_set_windows(e->set, s);
        double l = m->loss_sum[s];
        if (m->windows[s] != w) {
            err_set(err, "source '%s': %lld windows, expected %lld", eval_set_source_name(e->set, s),
                    (long long)m->windows[s], (long long)w);
            return -1;
        }
        if (!isfinite(l) || l < EVAL_LOSS_MIN * (double)w || l > EVAL_LOSS_MAX * (double)w) {
            err_set(err, "source '%s': loss sum %g over %lld windows is not a plausible cross-entropy",
                    eval_set_source_name(e->set, s), l, (long long)w);
            return -1;
        }
        out->windows[s] = w;
        out->loss_sum[s] = l;
    }
    return 0;
}

/* {"source": f(source), ...} as JSON text (names escaped); free() it. */
static char *by_source(const evaluator *e, const eval_sums *s, int perplexity)
{
    char *buf = NULL, num[48];
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    fputc('{', f);
    for (int i = 0; i < s->n; i++) {
        if (i) fputc(',', f);
        json_write_string(f, eval_set_source_name(e->set, i));
        double l = eval_sums_loss(s, i);
        json_format_number(num, sizeof num, perplexity ? exp(l) : l);
        fprintf(f, ":%s", num);
    }
    fputc('}', f);
    fclose(f);
    return buf;
}

void evaluator_record(run *r, const eval_sums *s, const char *on, double seconds)
{
    evaluator *e = r->ev;
    double loss = eval_sums_loss(s, -1);
    e->last = *s;
    e->have_last = 1;
    r->last_eval_loss = loss;
    r->last_eval_ppl = exp(loss);
    if (!isfinite(r->first_eval_ppl)) r->first_eval_ppl = r->last_eval_ppl;
    char *ppl = by_source(e, s, 1), *losses = by_source(e, s, 0);
    metrics_begin(r->mx, "eval");
    metrics_int(r->mx, "round", r->round);
    metrics_int(r->mx, "global_step", r->global_step);
    metrics_int(r->mx, "tokens", r->tokens_seen);
    metrics_num(r->mx, "loss", loss);
    metrics_num(r->mx, "perplexity", r->last_eval_ppl);
    if (ppl) metrics_raw(r->mx, "perplexity_by_source", ppl);
    if (losses) metrics_raw(r->mx, "loss_by_source", losses);
    metrics_int(r->mx, "windows", eval_set_windows(e->set, -1));
    metrics_int(r->mx, "eval_tokens", eval_set_windows(e->set, -1) * r->gc.seq_len);
    metrics_str(r->mx, "on", on);
    metrics_num(r->mx, "seconds", seconds);
    if (r->nc) netclock_log_totals(r->nc, r->mx);
    metrics_end(r->mx);
    free(ppl);
    free(losses);
    /* TensorBoard: the sources with a figure (a source too short for one
     * window has none). */
    const char **names = xcalloc((size_t)s->n + 1, sizeof *names);
    double *ppls = xcalloc((size_t)s->n + 1, sizeof *ppls);
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        double l = eval_sums_loss(s, i);
        if (!isfinite(l)) continue;
        names[k] = eval_set_source_name(e->set, i);
        ppls[k++] = exp(l);
    }
    tblog_eval(r->tb, r, loss, r->last_eval_ppl, k, (const char *const *)names, ppls);
    free(names);
    free(ppls);
}

void evaluator_restore(evaluator *e, const char *ppl_by_source, const char *loss_by_source)
{
    if (!e) return;
    free(e->restored_ppl);
    free(e->restored_loss);
    e->restored_ppl = ppl_by_source ? xstrdup(ppl_by_source) : NULL;
    e->restored_loss = loss_by_source ? xstrdup(loss_by_source) : NULL;
}

void evaluator_summary(const evaluator *e, summary *s)
{
    if (e && !e->have_last && (e->restored_ppl || e->restored_loss)) {
        if (e->restored_ppl) summary_raw(s, "final_perplexity_by_source", e->restored_ppl);
        if (e->restored_loss) summary_raw(s, "final_eval_loss_by_source", e->restored_loss);
        summary_int(s, "eval_tokens", eval_set_windows(e->set, -1) * e->gc.seq_len);
        return;
    }
    if (!e || !e->have_last) return;
    char *ppl = by_source(e, &e->last, 1), *losses = by_source(e, &e->last, 0);
    if (ppl) summary_raw(s, "final_perplexity_by_source", ppl);
    if (losses) summary_raw(s, "final_eval_loss_by_source", losses);
    summary_int(s, "eval_tokens", eval_set_windows(e->set, -1) * e->gc.seq_len);
    free(ppl);
    free(losses);
}
