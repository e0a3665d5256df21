/* TASK_EVAL on an actor (see eval_task.h). */
#include "actors/eval_task.h"
#include <stdlib.h>
#include <string.h>
#include "io/eval_windows.h"

_Static_assert(EVAL_MAX_SOURCES == VAL_MAX_SOURCES, "msg_eval_result holds every validation source");

struct eval_task {
    const photon_config *cfg;
    gpt2_config gc;
    int slot;
    eval_set *set;
    photon_model *own;   /* when the trainer's instance has another shape */
};

eval_task *eval_task_new(const photon_config *cfg, const gpt2_config *gc, int slot)
{
    eval_task *e = xcalloc(1, sizeof *e);
    e->cfg = cfg;
    e->gc = *gc;
    e->slot = slot;
    return e;
}

void eval_task_free(eval_task *e)
{
    if (!e) return;
    eval_set_free(e->set);
    if (e->own) model_destroy(e->own);
    free(e);
}

static photon_model *model_for(eval_task *e, trainer *tr, photon_err *err)
{
    int B = eval_set_batch(e->set), T = e->cfg->model.seq_len;
    photon_model *m = tr ? trainer_model(tr) : NULL;
    if (m && m->B == B && m->T == T) return m;
    if (!e->own) {
        backend_opts o;
        train_backend_opts(e->cfg, e->slot, &o);
        e->own = model_create(&e->gc, B, T, &o, err);
        if (!e->own) err_prefix(err, "evaluation model");
    }
    return e->own;
}

int eval_task_run(eval_task *e, trainer *tr, const float *global, const msg_task *t, msg_eval_result *r,
                  photon_err *err)
{
    double t0 = time_mono();
    if (!e->set && !(e->set = eval_set_for_run(e->cfg, train_micro_batch(e->cfg), e->gc.vocab_size, err))) return -1;
    photon_model *m = model_for(e, tr, err);
    if (!m) return -1;
    m->ops->set_params(m, global);
    eval_sums s;
    eval_set_score(e->set, m, &s);
    memset(r, 0, sizeof *r);
    r->task_id = t->task_id;
    r->plan_hash = eval_set_hash(e->set);
    r->round = t->round;
    r->nsources = s.n;
    for (int i = 0; i < s.n; i++) {
        r->windows[i] = s.windows[i];
        r->loss_sum[i] = s.loss_sum[i];
    }
    r->seconds = time_mono() - t0;
    return 0;
}
