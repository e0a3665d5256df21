/* What one local step of a task is: its micro-batches and its learning-rate
 * schedule (see actors/train.h).  Federated tasks follow [clients]; the
 * centralized baseline has a recipe of its own ([centralized]), each key of
 * which defaults to the [clients] value, so that an experiment file without
 * the section trains exactly as before the section existed. */
#include "actors/train.h"

static int clients_accum(const photon_config *cfg) { return cfg->clients.grad_accum > 0 ? cfg->clients.grad_accum : 1; }

static int clients_micro(const photon_config *cfg)
{
    int b = cfg->clients.batch_size / clients_accum(cfg);
    return b > 0 ? b : 1;
}

/* The global batch of a centralized step; per_round <= 0: as the supervisor
 * resolves [clients] per_round (0 or more than count = all clients). */
static long central_batch(const photon_config *cfg, int per_round)
{
    if (cfg->centralized.batch_size > 0) return cfg->centralized.batch_size;
    if (per_round <= 0) {
        per_round = cfg->clients.per_round;
        if (per_round <= 0 || per_round > cfg->clients.count) per_round = cfg->clients.count;
    }
    return (long)cfg->clients.batch_size * per_round;
}

int train_micro_batch(const photon_config *cfg)
{
    if (cfg->run.mode == MODE_CENTRALIZED && cfg->centralized.grad_accum > 0) {
        long b = central_batch(cfg, 0) / cfg->centralized.grad_accum;
        return b > 0 ? (int)b : 1;
    }
    return clients_micro(cfg);
}

int train_micro_per_step(const photon_config *cfg, int centralized, int per_round)
{
    if (!centralized) return clients_accum(cfg);
    if (cfg->centralized.grad_accum > 0) return cfg->centralized.grad_accum;
    if (cfg->centralized.batch_size == 0) return clients_accum(cfg) * per_round;   /* as before [centralized] */
    long m = central_batch(cfg, per_round) / clients_micro(cfg);
    return m > 0 ? (int)m : 1;
}

void train_schedule(const photon_config *cfg, int centralized, lr_schedule *out)
{
    out->lr = cfg->clients.lr;
    out->min_ratio = cfg->clients.min_lr_ratio;
    out->warmup = cfg->clients.warmup;
    out->kind = cfg->clients.schedule;
    out->total_steps = (long)cfg->run.rounds * cfg->clients.local_steps;
    if (!centralized) return;
    if (cfg->centralized.lr > 0) out->lr = cfg->centralized.lr;
    if (cfg->centralized.min_lr_ratio >= 0) out->min_ratio = cfg->centralized.min_lr_ratio;
    if (cfg->centralized.warmup >= 0) out->warmup = cfg->centralized.warmup;
    if (cfg->centralized.schedule != CSCHED_INHERIT) out->kind = cfg->centralized.schedule - 1;
}
