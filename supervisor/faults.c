/* Seeded fault decisions and their execution; the semantics are in
 * faults.h.  Each kind draws from its own rng_derive stream so adding one
 * kind of fault to a study does not change where the others fall. */
#include "supervisor/faults.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Stream tags: (kind, purpose). */
enum { TAG_TARGET = 1, TAG_RANDOM = 2, TAG_STEP = 3, TAG_CORRUPT = 4 };
#define FAULT_STREAM(kind, purpose) (0x4641554c54000000ULL | ((uint64_t)(kind) << 8) | (uint64_t)(purpose))

struct fault_plan {
    uint64_t seed;
    bool resumed;
    int kill_round, kill_client, kill_step, kill_signal;
    double kill_prob;
    int stall_round, stall_client;
    double stall_prob;
    int corrupt;
    int corrupt_round, corrupt_client;
    double corrupt_prob;
    int64_t ckpt_fail_write, kill_supervisor_round;
};

static int parse_signal(const char *s)
{
    if (!strcmp(s, "SEGV")) return SIGSEGV;
    if (!strcmp(s, "ABRT")) return SIGABRT;
    if (!strcmp(s, "exit")) return 0;
    return SIGKILL;
}

static int parse_corruption(const char *s)
{
    if (!strcmp(s, "nan")) return CORRUPT_NAN;
    if (!strcmp(s, "scale")) return CORRUPT_SCALE;
    if (!strcmp(s, "bitflip")) return CORRUPT_BITFLIP;
    return CORRUPT_NONE;
}

fault_plan *faults_create(const photon_config *cfg, bool resumed)
{
    fault_plan *p = xcalloc(1, sizeof *p);
    p->seed = cfg->faults.seed ? cfg->faults.seed : cfg->run.seed;
    p->resumed = resumed;
    p->kill_round = cfg->faults.kill_round;
    p->kill_client = cfg->faults.kill_client;
    p->kill_step = cfg->faults.kill_step;
    p->kill_signal = parse_signal(cfg->faults.kill_signal);
    p->kill_prob = cfg->faults.kill_prob;
    p->stall_round = cfg->faults.stall_round;
    p->stall_client = cfg->faults.stall_client;
    p->stall_prob = cfg->faults.stall_prob;
    p->corrupt = parse_corruption(cfg->faults.corrupt);
    p->corrupt_round = cfg->faults.corrupt_round;
    p->corrupt_client = cfg->faults.corrupt_client;
    p->corrupt_prob = cfg->faults.corrupt_prob;
    p->ckpt_fail_write = cfg->faults.ckpt_fail_write;
    p->kill_supervisor_round = cfg->faults.kill_supervisor_round;
    return p;
}

void faults_free(fault_plan *p) { free(p); }

bool faults_active(const fault_plan *p)
{
    return p->kill_round >= 0 || p->kill_prob > 0 || p->stall_round >= 0 || p->stall_prob > 0 ||
           p->corrupt != CORRUPT_NONE || p->ckpt_fail_write > 0 || p->kill_supervisor_round > 0;
}

static uint64_t where_code(const fault_where *w)
{
    return ((uint64_t)(uint32_t)w->client << 32) | ((uint64_t)(w->attempt & 0xffff) << 16) |
           (uint64_t)(w->try_ & 0xffff);
}

static bool in_sample(const fault_where *w, int client)
{
    for (int i = 0; i < w->k; i++)
        if (w->sample[i] == client) return true;
    return false;
}

/* Targeted hit: the round matches (round_cfg -1 = every round when
 * any_round), first attempt and try, and this client is the target. */
static bool targeted_hit(const fault_plan *p, int kind, int round_cfg, bool any_round,
                         int client_cfg, const fault_where *w)
{
    if (w->attempt != 0 || w->try_ != 0 || w->k < 1) return false;
    if (!(round_cfg == w->round || (any_round && round_cfg < 0))) return false;
    int target;
    if (client_cfg >= 0) {
        if (!in_sample(w, client_cfg)) return false;
        target = client_cfg;
    } else {
        photon_rng g;
        rng_derive(&g, p->seed, FAULT_STREAM(kind, TAG_TARGET), (uint64_t)w->round, 0);
        target = w->sample[rng_below(&g, (uint64_t)w->k)];
    }
    return w->client == target;
}

static bool random_hit(const fault_plan *p, int kind, double prob, const fault_where *w)
{
    if (!(prob > 0)) return false;
    photon_rng g;
    rng_derive(&g, p->seed, FAULT_STREAM(kind, TAG_RANDOM), (uint64_t)w->round, where_code(w));
    return rng_uniform(&g) < prob;
}

static int draw_step(const fault_plan *p, int kind, int step_cfg, const fault_where *w)
{
    int steps = w->local_steps > 0 ? w->local_steps : 1;
    if (step_cfg >= 0) return step_cfg < steps ? step_cfg : steps - 1;
    photon_rng g;
    rng_derive(&g, p->seed, FAULT_STREAM(kind, TAG_STEP), (uint64_t)w->round, where_code(w));
    return (int)rng_below(&g, (uint64_t)steps);
}

void faults_task(const fault_plan *p, const fault_where *w, fault_task *out)
{
    memset(out, 0, sizeof *out);
    bool t;
    if ((t = p->kill_round >= 0 && targeted_hit(p, FAULT_KILL, p->kill_round, false, p->kill_client, w)) ||
        random_hit(p, FAULT_KILL, p->kill_prob, w)) {
        out->kind = FAULT_KILL;
        out->targeted = t;
        out->step = draw_step(p, FAULT_KILL, p->kill_step, w);
        out->signal = p->kill_signal;
        return;
    }
    if ((t = p->stall_round >= 0 && targeted_hit(p, FAULT_STALL, p->stall_round, false, p->stall_client, w)) ||
        random_hit(p, FAULT_STALL, p->stall_prob, w)) {
        out->kind = FAULT_STALL;
        out->targeted = t;
        out->step = draw_step(p, FAULT_STALL, -1, w);
        return;
    }
    if (p->corrupt != CORRUPT_NONE) {
        bool hit;
        if (p->corrupt_prob > 0) {
            bool round_ok = p->corrupt_round < 0 || p->corrupt_round == w->round;
            bool client_ok = p->corrupt_client < 0 || p->corrupt_client == w->client;
            hit = round_ok && client_ok && random_hit(p, FAULT_CORRUPT, p->corrupt_prob, w);
            t = false;
        } else {
            hit = t = targeted_hit(p, FAULT_CORRUPT, p->corrupt_round, true, p->corrupt_client, w);
        }
        if (hit) {
            out->kind = FAULT_CORRUPT;
            out->targeted = t;
            out->corruption = p->corrupt;
            photon_rng g;
            rng_derive(&g, p->seed, FAULT_STREAM(FAULT_CORRUPT, TAG_CORRUPT), (uint64_t)w->round, where_code(w));
            out->seed = rng_u64(&g);
        }
    }
}

bool faults_kill_supervisor(const fault_plan *p, int64_t round)
{
    return !p->resumed && p->kill_supervisor_round > 0 && round == p->kill_supervisor_round;
}

bool faults_ckpt_write_fails(const fault_plan *p, int64_t nth_write)
{
    return !p->resumed && p->ckpt_fail_write > 0 && nth_write == p->ckpt_fail_write;
}

const char *fault_kind_name(int kind)
{
    switch (kind) {
    case FAULT_NONE: return "none";
    case FAULT_KILL: return "kill";
    case FAULT_STALL: return "stall";
    case FAULT_CORRUPT: return "corrupt";
    }
    return "?";
}

const char *fault_corruption_name(int c)
{
    switch (c) {
    case CORRUPT_NONE: return "none";
    case CORRUPT_NAN: return "nan";
    case CORRUPT_SCALE: return "scale";
    case CORRUPT_BITFLIP: return "bitflip";
    }
    return "?";
}

static const char *signal_label(int sig)
{
    switch (sig) {
    case 0: return "exit";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    }
    return "signal";
}

void faults_log_task(metrics *m, const fault_where *w, const fault_task *t)
{
    if (!m || t->kind == FAULT_NONE) return;
    metrics_begin(m, "fault");
    metrics_str(m, "type", fault_kind_name(t->kind));
    metrics_int(m, "round", w->round);
    metrics_int(m, "client", w->client);
    metrics_int(m, "attempt", w->attempt);
    metrics_int(m, "try", w->try_);
    if (t->kind == FAULT_KILL || t->kind == FAULT_STALL) metrics_int(m, "step", t->step);
    if (t->kind == FAULT_KILL) metrics_str(m, "signal", signal_label(t->signal));
    if (t->kind == FAULT_CORRUPT) metrics_str(m, "corruption", fault_corruption_name(t->corruption));
    metrics_bool(m, "targeted", t->targeted);
    metrics_end(m);
}

void faults_log_event(metrics *m, const char *type, int64_t round, const char *detail)
{
    if (!m) return;
    metrics_begin(m, "fault");
    metrics_str(m, "type", type);
    metrics_int(m, "round", round);
    if (detail) metrics_str(m, "detail", detail);
    metrics_end(m);
}
