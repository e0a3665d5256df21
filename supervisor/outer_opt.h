/* The outer (server) optimizer applied to the aggregated pseudo-gradient Δ
 * (DESIGN §1):
 *   fedavg    θ ← θ − η_s·Δ
 *   fedmom    m ← μ·m + Δ;  θ ← θ − η_s·m
 *   nesterov  m ← μ·m + Δ;  θ ← θ − η_s·(Δ + μ·m)
 * m starts at zero.  Arithmetic is fp32, elementwise, over OpenMP static
 * chunks, so the result is bitwise the same for any thread count; with
 * fedavg and η_s = 1 the step is exactly θ − Δ.  The momentum buffer is the
 * optimizer's whole state (the /outer_optimizer checkpoint group); fedavg has
 * none. */
#ifndef PHOTON_OUTER_OPT_H
#define PHOTON_OUTER_OPT_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef struct outer_opt outer_opt;

/* strategy: enum cfg_strategy (io/config.h).  threads: 0 = all cores.
 * Returns NULL with err for an unknown strategy or a non-finite/negative
 * server_lr or momentum outside [0, 1). */
outer_opt *outer_opt_create(int strategy, double server_lr, double momentum,
                            size_t n_params, int threads, photon_err *err);
void outer_opt_free(outer_opt *o);

/* One outer step: theta updated in place from delta. */
void outer_opt_step(outer_opt *o, float *theta, const float *delta);
/* The same step on part of the model (a fragment, supervisor/stream.h):
 * the elements [off[i], off[i] + len[i]) of theta and the momentum, with
 * delta compact (the ranges' values one after another).  Elementwise, so
 * it is bitwise the whole step restricted to those elements. */
void outer_opt_step_ranges(outer_opt *o, float *theta, const float *delta, const size_t *off, const size_t *len,
                           int nranges);

/* The momentum buffer (n_params floats), NULL for fedavg; callers may read
 * it for a checkpoint.  set_state copies n floats in (n must match). */
const float *outer_opt_state(const outer_opt *o, size_t *n);
int outer_opt_set_state(outer_opt *o, const float *m, size_t n, photon_err *err);
/* Steps taken (saved with the state, for the record). */
int64_t outer_opt_steps(const outer_opt *o);
void outer_opt_set_steps(outer_opt *o, int64_t steps);

const char *outer_opt_name(int strategy);
#endif
