/* The run's TensorBoard log (see supervisor/tb_log.h). */
#include "supervisor/tb_log.h"
#include <stdio.h>
#include <stdlib.h>
#include "io/tfevents.h"
#include "supervisor/round_stats.h"

struct tblog {
    tfevents *ev;
};

tblog *tblog_open(const run *r)
{
    char dir[1100];
    photon_err err;
    path_join(dir, sizeof dir, r->dir, "tb");
    tfevents *ev = tfevents_open(dir, &err);
    if (!ev) {
        log_warn("TensorBoard log disabled: %s", err.msg);
        return NULL;
    }
    if (r->resumed) tfevents_session_start(ev, r->tokens_seen + 1);
    tblog *t = xcalloc(1, sizeof *t);
    t->ev = ev;
    return t;
}

void tblog_close(tblog *t)
{
    if (!t) return;
    tfevents_close(t->ev);
    free(t);
}

void tblog_eval(tblog *t, const run *r, double loss, double ppl, int n_src, const char *const *src,
                const double *src_ppl)
{
    if (!t) return;
    tfevents_begin(t->ev, r->tokens_seen);
    tfevents_scalar(t->ev, "eval/perplexity", ppl);
    tfevents_scalar(t->ev, "eval/loss", loss);
    for (int i = 0; i < n_src; i++) {
        char tag[300];
        snprintf(tag, sizeof tag, "eval/perplexity/%.250s", src[i]);
        tfevents_scalar(t->ev, tag, src_ppl[i]);
    }
    tfevents_end(t->ev);
}

void tblog_round(tblog *t, const run *r, double train_loss, double seconds)
{
    if (!t) return;
    round_stats_brief b = round_stats_get(round_stats_of(r->rd));
    tfevents_begin(t->ev, r->tokens_seen);
    tfevents_scalar(t->ev, "train/loss", train_loss);
    tfevents_scalar(t->ev, "train/lr", b.lr);
    tfevents_scalar(t->ev, "train/grad_norm", b.grad_norm);
    tfevents_scalar(t->ev, "train/update_norm", b.update_norm);
    tfevents_scalar(t->ev, "train/tokens_per_s", b.tokens_per_s);
    tfevents_scalar(t->ev, "round/round", (double)r->round);
    tfevents_scalar(t->ev, "round/seconds", seconds);
    tfevents_scalar(t->ev, "comm/bytes_moved", r->bytes_moved);
    tfevents_end(t->ev);
}
