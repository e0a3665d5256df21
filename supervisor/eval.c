/* Validation of the global model in the supervisor process: a CPU model
 * instance reads the validation shard in sequential windows (DESIGN §3:
 * window w starts at token w·seq_len) and averages the loss over the first
 * eval.batches batches.  It runs between rounds, while the actors wait, so
 * it can use every core.  The CPU backend is used even for CUDA runs: the
 * supervisor must not hold a GPU context (actors own the devices). */
#include "supervisor/run.h"
#include <stdlib.h>
#include "io/loader.h"
#include "io/prepare.h"
#include "io/shard.h"

struct evaluator {
    photon_model *model;
    shard *sh;
    int B, T, batches;
    uint32_t *tokens;
};

evaluator *evaluator_new(const run *r, photon_err *err)
{
    const photon_config *cfg = r->cfg;
    char path[1024];
    prepare_val_shard(cfg, path, sizeof path);
    shard *sh = shard_open(path, r->gc.vocab_size, err);
    if (!sh) return NULL;
    int T = r->gc.seq_len;
    int64_t windows = loader_count_windows(sh, T);
    int B = cfg->eval.batch_size > 0 ? cfg->eval.batch_size : cfg->clients.batch_size;
    if (windows < B) B = (int)windows;
    if (B <= 0) {
        err_set(err, "validation shard %s has %zu tokens: fewer than one window of %d", path, shard_ntokens(sh), T + 1);
        shard_close(sh);
        return NULL;
    }
    int batches = cfg->eval.batches > 0 ? cfg->eval.batches : 1;
    if (batches > windows / B) batches = (int)(windows / B);
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = cpu_threads(cfg->run.threads) };
    photon_model *m = model_create(&r->gc, B, T, &o, err);
    if (!m) { shard_close(sh); return NULL; }
    evaluator *e = xcalloc(1, sizeof *e);
    e->model = m;
    e->sh = sh;
    e->B = B;
    e->T = T;
    e->batches = batches;
    e->tokens = xmalloc((size_t)B * (size_t)(T + 1) * sizeof(uint32_t));
    return e;
}

void evaluator_free(evaluator *e)
{
    if (!e) return;
    model_destroy(e->model);
    shard_close(e->sh);
    free(e->tokens);
    free(e);
}

int evaluator_run(evaluator *e, const float *params, double *loss, photon_err *err)
{
    e->model->ops->set_params(e->model, params);
    double sum = 0;
    for (int b = 0; b < e->batches; b++) {
        int got = loader_eval_batch(e->sh, (int64_t)b * e->B, e->B, e->T, e->tokens);
        if (got != e->B) { err_set(err, "validation shard: batch %d has %d of %d windows", b, got, e->B); return -1; }
        sum += e->model->ops->forward_loss(e->model, e->tokens);
    }
    *loss = sum / e->batches;
    return 0;
}
