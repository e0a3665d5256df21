/* Local training of one task (see actors/train.h).
 *
 * A step of batch_size sequences is grad_accum micro-batches of
 * batch_size/grad_accum.  Data positions are counted in micro-batches.  A federated task of client c
 * reads micro-batches client_pos, client_pos+1, ... of c's shard.  A
 * centralized step reads M micro-batches (train_recipe.c; by default
 * per_round*grad_accum of the clients' micro-batch size): flat index
 * i = global_step*M + m over all clients round-robin (client i mod N,
 * position i div N), so with one client both modes read the same batches. */
#include "actors/train.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/loader.h"
#include "io/prepare.h"
#include "actors/fault_exec.h"

struct trainer {
    const photon_config *cfg;
    gpt2_config gc;
    photon_model *model;
    size_t n;
    int B, T, threads;
    uint32_t *tokens;
    loader **loaders;   /* per client, opened on first use */
    int nloaders;
    float *mom1, *mom2; /* staging for kept optimizer state */
};

size_t train_state_bytes(size_t nparams)
{
    return client_state_bytes(CLIENT_STATE_ADAM, nparams);
}

void train_backend_opts(const photon_config *cfg, int slot, backend_opts *o)
{
    memset(o, 0, sizeof *o);
    int cuda = cfg->run.backend == BACKEND_CUDA || (cfg->run.backend == BACKEND_AUTO && backend_cuda_available());
    o->kind = cuda ? PHOTON_BACKEND_CUDA : PHOTON_BACKEND_CPU;
    int per_actor = cpu_threads(0) / (cfg->clients.actors > 0 ? cfg->clients.actors : 1);
    o->threads = cfg->run.threads > 0 ? cfg->run.threads : (per_actor > 0 ? per_actor : 1);
    o->device = slot;
    o->bf16 = cuda && cfg->run.precision == PREC_BF16;
}

trainer *trainer_new(const photon_config *cfg, const gpt2_config *gc, int slot, photon_err *err)
{
    trainer *t = xcalloc(1, sizeof *t);
    t->cfg = cfg;
    t->gc = *gc;
    t->B = train_micro_batch(cfg);
    t->T = cfg->model.seq_len;
    backend_opts o;
    train_backend_opts(cfg, slot, &o);
    t->threads = o.threads;
    t->model = model_create(gc, t->B, t->T, &o, err);
    if (!t->model) { free(t); return NULL; }
    t->n = t->model->layout.total;
    t->tokens = xmalloc((size_t)t->B * (size_t)(t->T + 1) * sizeof(uint32_t));
    t->nloaders = cfg->clients.count;
    t->loaders = xcalloc((size_t)t->nloaders, sizeof *t->loaders);
    return t;
}

int trainer_threads(const trainer *t) { return t->threads; }
photon_model *trainer_model(trainer *t) { return t->model; }

void trainer_free(trainer *t)
{
    if (!t) return;
    for (int i = 0; i < t->nloaders; i++) loader_close(t->loaders[i]);
    free(t->loaders);
    free(t->tokens);
    free(t->mom1);
    free(t->mom2);
    model_destroy(t->model);
    free(t);
}

static loader *client_loader(trainer *t, int c, photon_err *err)
{
    if (c < 0 || c >= t->nloaders) { err_set(err, "client %d out of range (count %d)", c, t->nloaders); return NULL; }
    if (!t->loaders[c]) {
        char path[1024];
        prepare_client_shard(t->cfg, c, path, sizeof path);
        t->loaders[c] = loader_open(path, t->B, t->T, t->cfg->run.seed, c, t->gc.vocab_size, err);
        if (!t->loaders[c]) { err_prefix(err, "client %d", c); return NULL; }
    }
    return t->loaders[c];
}

/* An injected kill or stall at this local step (supervisor/faults.h). */
static void maybe_inject_fault(const msg_task *task, int step)
{
    if (task->fault.step != step) return;
    if (task->fault.kind == FAULT_KILL) { fflush(NULL); faults_fire_kill(&task->fault); }
    if (task->fault.kind == FAULT_STALL) faults_stall();
}

/* Trains task from start; the trained parameters stay in the model. */
static int train_steps(trainer *t, const msg_task *task, const float *start, const void *state_in,
                       msg_result *r, photon_err *err)
{
    const photon_config *cfg = t->cfg;
    photon_model *m = t->model;
    const backend_ops *ops = m->ops;
    double t0 = time_mono();
    int centralized = task->kind == TASK_CENTRALIZED;
    int micro = train_micro_per_step(cfg, centralized, task->per_round);
    float scale = 1.0f / (float)micro;

    ops->set_params(m, start);
    const train_state_header *h = task->keep_state ? state_in : NULL;
    if (h && ((size_t)h->n != t->n || h->flags != task->state_flags)) {
        err_set(err, "kept client state has %lld params and sections %lld, the task %zu and %d", (long long)h->n,
                (long long)h->flags, t->n, task->state_flags);
        return -1;
    }
    /* optimizer_state = reset restarts AdamW once a round: a streaming
     * phase after the first goes on with the moments of the client's phase
     * just before (it continues: its state is from phase sync − 1), the
     * round's first phase, or a client that did not complete the phase
     * before, starts afresh */
    int keep = cfg->clients.optimizer_state == OPTSTATE_KEEP || centralized ||
               (task->fragment > 0 && h && h->sync == task->sync - 1);
    if (h && h->flags & CLIENT_STATE_ADAM && keep) {
        client_state_view v = client_state_at((void *)state_in, task->state_flags, t->n);
        ops->set_opt_state(m, v.adam_m, v.adam_v, h->step);
    } else {
        ops->reset_opt_state(m);
    }

    lr_schedule sched;
    train_schedule(cfg, centralized, &sched);
    adamw_params ap = {
        .lr = 0, .beta1 = (float)cfg->clients.beta1, .beta2 = (float)cfg->clients.beta2,
        .eps = (float)cfg->clients.eps, .weight_decay = (float)cfg->clients.weight_decay,
    };
    double loss_sum = 0, last = 0, gn_sum = 0, gn_max = 0, lr_first = 0, lr_last = 0;
    for (int s = 0; s < task->local_steps; s++) {
        maybe_inject_fault(task, s);
        ops->zero_grad(m);
        double step_loss = 0;
        for (int a = 0; a < micro; a++) {
            loader *ld;
            int64_t pos;
            if (centralized) {
                int64_t i = (task->global_step + s) * (int64_t)micro + a;
                ld = client_loader(t, (int)(i % task->n_clients), err);
                pos = i / task->n_clients;
            } else {
                ld = client_loader(t, task->client, err);
                pos = task->client_pos + (int64_t)s * micro + a;
            }
            if (!ld) return -1;
            loader_batch(ld, pos, t->tokens);
            step_loss += ops->forward_backward(m, t->tokens, scale);
        }
        step_loss /= micro;
        /* Always measured (max_norm 0 only measures): the norm is reported. */
        double gn = ops->clip_grad(m, cfg->clients.grad_clip > 0 ? (float)cfg->clients.grad_clip : 0.0f);
        gn_sum += gn;
        if (isnan(gn) || gn > gn_max) gn_max = gn;   /* a NaN stays */
        ap.lr = (float)lr_at(&sched, task->global_step + s);
        if (s == 0) lr_first = ap.lr;
        lr_last = ap.lr;
        ops->adamw_step(m, &ap);
        loss_sum += step_loss;
        last = step_loss;
    }

    memset(r, 0, sizeof *r);
    r->task_id = task->task_id;
    r->round = task->round;
    r->client = task->client;
    r->samples = (int64_t)task->local_steps * micro * t->B;
    r->tokens = r->samples * t->T;
    r->loss = task->local_steps ? loss_sum / task->local_steps : 0;
    r->last_loss = last;
    r->update_norm = NAN;   /* the caller measures the update as sent */
    r->seconds = time_mono() - t0;
    r->lr_first = lr_first;
    r->lr_last = lr_last;
    r->grad_norm = task->local_steps ? gn_sum / task->local_steps : 0;
    r->grad_norm_max = gn_max;
    return 0;
}

/* The new state's header and AdamW moments. */
static void save_state(trainer *t, const msg_task *task, void *state_out)
{
    if (!task->keep_state || !state_out) return;
    client_state_view v = client_state_init(state_out, task->state_flags, t->n);
    if (!v.adam_m) return;
    int64_t step = 0;
    t->model->ops->get_opt_state(t->model, v.adam_m, v.adam_v, &step);
    v.h->step = step;
}

int trainer_run(trainer *t, const msg_task *task, const float *global, float *delta,
                const void *state_in, void *state_out, msg_result *r, photon_err *err)
{
    double t0 = time_mono();
    if (train_steps(t, task, global, state_in, r, err) < 0) return -1;
    /* Δ = θ_global − θ_local, written straight into the link's buffer. */
    t->model->ops->get_params(t->model, delta);
    for (size_t i = 0; i < t->n; i++) delta[i] = global[i] - delta[i];
    save_state(t, task, state_out);
    r->seconds = time_mono() - t0;
    return 0;
}

int trainer_train(trainer *t, const msg_task *task, const float *start, float *local,
                  const void *state_in, void *state_out, msg_result *r, photon_err *err)
{
    double t0 = time_mono();
    if (train_steps(t, task, start, state_in, r, err) < 0) return -1;
    t->model->ops->get_params(t->model, local);
    save_state(t, task, state_out);
    r->seconds = time_mono() - t0;
    return 0;
}
