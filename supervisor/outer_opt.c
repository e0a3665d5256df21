/* FedAvg, FedMom and Nesterov outer steps over flat fp32 vectors; see
 * outer_opt.h for the update rules and the determinism argument. */
#include "supervisor/outer_opt.h"
#include "io/config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 64 Ki floats per OpenMP work item: large enough to amortise scheduling,
 * small enough to balance 2-64 threads on a 125M-parameter model. */
#define OPT_CHUNK ((size_t)1 << 16)

struct outer_opt {
    int strategy;
    float lr, mu;
    size_t n;
    int threads;
    float *m;        /* momentum; NULL for fedavg */
    int64_t steps;
};

const char *outer_opt_name(int strategy)
{
    switch (strategy) {
    case STRAT_FEDAVG: return "fedavg";
    case STRAT_FEDMOM: return "fedmom";
    case STRAT_NESTEROV: return "nesterov";
    }
    return "?";
}

outer_opt *outer_opt_create(int strategy, double server_lr, double momentum,
                            size_t n_params, int threads, photon_err *err)
{
    if (strategy != STRAT_FEDAVG && strategy != STRAT_FEDMOM && strategy != STRAT_NESTEROV) {
        err_set(err, "outer optimizer: unknown strategy %d (expected fedavg, fedmom or nesterov)", strategy);
        return NULL;
    }
    if (!isfinite(server_lr) || server_lr <= 0) {
        err_set(err, "outer optimizer: server_lr %g must be > 0", server_lr);
        return NULL;
    }
    if (!isfinite(momentum) || momentum < 0 || momentum >= 1) {
        err_set(err, "outer optimizer: momentum %g must be in [0, 1)", momentum);
        return NULL;
    }
    outer_opt *o = xcalloc(1, sizeof *o);
    o->strategy = strategy;
    o->lr = (float)server_lr;
    o->mu = (float)momentum;
    o->n = n_params;
    o->threads = cpu_threads(threads);
    if (strategy != STRAT_FEDAVG) {
        o->m = xmalloc_aligned(n_params * sizeof(float) + 64);
        memset(o->m, 0, n_params * sizeof(float));
    }
    return o;
}

void outer_opt_free(outer_opt *o)
{
    if (!o) return;
    free(o->m);
    free(o);
}

/* One step over n elements: theta, m (NULL for fedavg) and delta all start
 * at the same element. */
static void step_span(const outer_opt *o, float *theta, float *m, const float *delta, size_t n)
{
    const float lr = o->lr, mu = o->mu;
    size_t nchunks = (n + OPT_CHUNK - 1) / OPT_CHUNK;
    int strategy = o->strategy;
    #pragma omp parallel for schedule(static) num_threads(o->threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * OPT_CHUNK, hi = lo + OPT_CHUNK < n ? lo + OPT_CHUNK : n;
        if (strategy == STRAT_FEDAVG) {
            for (size_t i = lo; i < hi; i++) theta[i] -= lr * delta[i];
        } else if (strategy == STRAT_FEDMOM) {
            for (size_t i = lo; i < hi; i++) {
                float mi = mu * m[i] + delta[i];
                m[i] = mi;
                theta[i] -= lr * mi;
            }
        } else {
            for (size_t i = lo; i < hi; i++) {
                float mi = mu * m[i] + delta[i];
                m[i] = mi;
                theta[i] -= lr * (delta[i] + mu * mi);
            }
        }
    }
}

void outer_opt_step(outer_opt *o, float *theta, const float *delta)
{
    step_span(o, theta, o->m, delta, o->n);
    o->steps++;
}

void outer_opt_step_ranges(outer_opt *o, float *theta, const float *delta, const size_t *off, const size_t *len,
                           int nranges)
{
    for (int i = 0; i < nranges; i++) {
        step_span(o, theta + off[i], o->m ? o->m + off[i] : NULL, delta, len[i]);
        delta += len[i];
    }
    o->steps++;
}

const float *outer_opt_state(const outer_opt *o, size_t *n)
{
    *n = o->m ? o->n : 0;
    return o->m;
}

int outer_opt_set_state(outer_opt *o, const float *m, size_t n, photon_err *err)
{
    if (!o->m) {
        err_set(err, "outer optimizer: %s keeps no momentum state", outer_opt_name(o->strategy));
        return -1;
    }
    if (n != o->n) {
        err_set(err, "outer optimizer: momentum state has %zu values, the model %zu", n, o->n);
        return -1;
    }
    memcpy(o->m, m, n * sizeof(float));
    return 0;
}

int64_t outer_opt_steps(const outer_opt *o) { return o->steps; }
void outer_opt_set_steps(outer_opt *o, int64_t steps) { o->steps = steps; }
