/* The runtime's simulated clock (netclock.h): per round attempt, the
 * figures of the sampled clients (links, compute measured or modelled,
 * aggregator times), the simulated round (netsim.c) and its all-reduce
 * counterpart, and the totals that summary.json and checkpoints carry. */
#include "supervisor/netclock.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "supervisor/netmodel.h"
#include "gpu/fragment.h"
#include "gpu/quant.h"

struct netclock {
    const photon_config *cfg;
    int centralized, per_round, model;   /* model: compute = model */
    double timeout;                      /* round_timeout on this clock; 0 = none */
    net_bytes bytes;
    double task_compute;                 /* compute = model: seconds of one task at scale 1 */
    double model_add, model_outer;       /* compute = model: aggregator seconds */
    /* the attempt in progress */
    int k, n_late;
    int *ids;
    netsim_client *c;
    netsim_result *res;
    double *compute;                     /* per client, for all-reduce; NAN = unknown */
    double outer;
    netsim_summary sum;
    double sim, allreduce;               /* this attempt */
    double ar_compute, ar_comm;          /* its all-reduce step: compute, communication */
    double total_sim, total_allreduce;
    /* Streaming rounds (fragments > 1 or overlap): F phases per round
     * (netsim_stream).  Per attempt, [i*F + j] for client i's phase j. */
    int phased, F, overlap, n_clients;
    double part_down[FRAGMENT_MAX], part_up[FRAGMENT_MAX], whole_down;
    double share[FRAGMENT_MAX], steps[FRAGMENT_MAX];   /* fragment's share of the model; phase's of the steps */
    double *pcompute, *padd, pouter[FRAGMENT_MAX];
    int *prestart, *out;
    double *carry_in, *carry_out;        /* [k] */
    double *carry;                       /* [clients.count]: carry_out of each client's last attempt, NaN none */
};

netclock *netclock_new(const photon_config *cfg, const gpt2_config *g, size_t n_params, int centralized,
                       int per_round)
{
    if (!cfg->network.present) return NULL;
    netclock *nc = xcalloc(1, sizeof *nc);
    nc->cfg = cfg;
    nc->centralized = centralized;
    nc->per_round = per_round;
    nc->model = cfg->network.compute == COMPUTE_MODEL;
    nc->timeout = centralized ? 0 : cfg->aggregator.round_timeout;
    net_transfer_bytes(cfg, n_params, &nc->bytes);
    double tokens = net_task_tokens(cfg) * (centralized ? per_round : 1);
    nc->task_compute = tokens / net_tokens_per_s(cfg, g, NULL);
    double model_bytes = (double)n_params * sizeof(float);
    nc->model_add = 3.0 * model_bytes / NET_SERVER_BYTES_PER_S;
    nc->model_outer = 5.0 * model_bytes / NET_SERVER_BYTES_PER_S;
    int cap = per_round > 1 ? per_round : 1;
    nc->ids = xcalloc((size_t)cap, sizeof(int));
    nc->c = xcalloc((size_t)cap, sizeof *nc->c);
    nc->res = xcalloc((size_t)cap, sizeof *nc->res);
    nc->compute = xcalloc((size_t)cap, sizeof(double));
    int F = cfg->aggregator.fragments;
    photon_err err;
    fragment_plan *fp = centralized ? NULL : fragment_plan_new(g, F, &err);
    if (fp && (F > 1 || cfg->aggregator.overlap)) {
        nc->phased = 1;
        nc->F = F;
        nc->overlap = cfg->aggregator.overlap;
        nc->n_clients = cfg->clients.count;
        /* each fragment is encoded on its own (its own last partial block);
         * n_params may differ from the plan's total only in tests */
        for (int f = 0; f < F; f++) {
            nc->share[f] = (double)fragment_elems(fp, f) / (double)fragment_total(fp);
            size_t m = (size_t)llround(nc->share[f] * (double)n_params);
            nc->part_down[f] = (double)quant_bytes(cfg->aggregator.broadcast_compression, m);
            nc->part_up[f] = (double)quant_bytes(cfg->aggregator.compression, m);
            nc->whole_down += nc->part_down[f];
            nc->steps[f] = (double)fragment_phase_steps(cfg->clients.local_steps, F, f) / cfg->clients.local_steps;
        }
        nc->pcompute = xcalloc((size_t)cap * F, sizeof(double));
        nc->padd = xcalloc((size_t)cap * F, sizeof(double));
        nc->prestart = xcalloc((size_t)cap * F, sizeof(int));
        nc->out = xcalloc((size_t)cap, sizeof(int));
        nc->carry_in = xcalloc((size_t)cap, sizeof(double));
        nc->carry_out = xcalloc((size_t)cap, sizeof(double));
        nc->carry = xcalloc((size_t)nc->n_clients, sizeof(double));
        for (int i = 0; i < nc->n_clients; i++) nc->carry[i] = NAN;
    }
    fragment_plan_free(fp);
    return nc;
}

void netclock_free(netclock *nc)
{
    if (!nc) return;
    free(nc->ids);
    free(nc->c);
    free(nc->res);
    free(nc->compute);
    free(nc->pcompute);
    free(nc->padd);
    free(nc->prestart);
    free(nc->out);
    free(nc->carry_in);
    free(nc->carry_out);
    free(nc->carry);
    free(nc);
}

static int index_of(const netclock *nc, int client)
{
    for (int i = 0; i < nc->k; i++) if (nc->ids[i] == client) return i;
    return -1;
}

/* A streaming attempt as it stands (pcompute ..., out: the late ones). */
static double simulate_stream(netclock *nc, double *carry_out)
{
    netsim_stream_in in = { .k = nc->k, .F = nc->F, .overlap = nc->overlap,
                            .server_bw = nc->cfg->network.server_bandwidth_mbps * 1e6 / 8.0,
                            .part_down = nc->part_down, .part_up = nc->part_up, .whole_down = nc->whole_down,
                            .compute = nc->pcompute, .add = nc->padd, .outer = nc->pouter, .carry = nc->carry_in,
                            .out = nc->out, .restart = nc->prestart };
    net_client *links = xcalloc((size_t)(nc->k > 0 ? nc->k : 1), sizeof *links);
    for (int i = 0; i < nc->k; i++) links[i] = nc->c[i].link;
    in.link = links;
    double t = netsim_stream(&in, nc->res, &nc->sum, carry_out);
    free(links);
    return t;
}

/* compute = model with a round_timeout, streaming: who is late is decided
 * now and they are left out of every phase (as the runtime does), so the
 * others' phases do not wait for them.  One at a time, the client whose
 * last update arrives latest past the deadline (a straggler also delays
 * the phases of everyone after it), until every update is in time. */
static int decide_stream(netclock *nc, int *late)
{
    memset(nc->out, 0, (size_t)nc->k * sizeof(int));
    int n = 0;
    for (;;) {
        simulate_stream(nc, NULL);
        int worst = -1;
        for (int i = 0; i < nc->k; i++)
            if (!nc->out[i] && nc->res[i].up_done > nc->timeout &&
                (worst < 0 || nc->res[i].up_done > nc->res[worst].up_done)) worst = i;
        if (worst < 0) break;
        nc->out[worst] = 1;
        n++;
    }
    for (int i = 0; i < nc->k; i++) {
        nc->res[i].late = nc->out[i];
        if (late) late[i] = nc->out[i];
    }
    nc->sum.late = n;
    return n;
}

static int simulate(netclock *nc, int *late)
{
    netsim_round(nc->k, nc->c, nc->cfg->network.server_bandwidth_mbps * 1e6 / 8.0, nc->timeout, nc->outer,
                 nc->res, &nc->sum);
    for (int i = 0; late && i < nc->k; i++) late[i] = nc->res[i].late;
    return nc->sum.late;
}

int netclock_round_begin(netclock *nc, int k, const int *ids, int *late)
{
    if (k > nc->per_round) k = nc->per_round;   /* centralized: one task */
    nc->k = k;
    nc->n_late = 0;
    nc->outer = nc->model ? nc->model_outer : 0;
    memcpy(nc->ids, ids, (size_t)k * sizeof(int));
    for (int i = 0; i < k; i++) {
        netsim_client *c = &nc->c[i];
        net_client_of(nc->cfg, ids[i], &c->link);
        c->down_bytes = nc->bytes.download;
        c->up_bytes = nc->bytes.upload;
        c->compute = nc->model ? nc->task_compute / c->link.scale : NAN;
        c->add = nc->model ? nc->model_add : 0;
        nc->compute[i] = c->compute;
        if (late) late[i] = 0;
        for (int j = 0; nc->phased && j < nc->F; j++) {
            size_t x = (size_t)i * nc->F + j;
            nc->pcompute[x] = nc->model ? nc->task_compute * nc->steps[j] / c->link.scale : NAN;
            nc->padd[x] = nc->model ? nc->model_add * nc->share[j] : 0;
            nc->prestart[x] = 0;
        }
        if (nc->phased) {
            nc->out[i] = 0;
            nc->carry_in[i] = ids[i] >= 0 && ids[i] < nc->n_clients ? nc->carry[ids[i]] : NAN;
        }
    }
    for (int j = 0; nc->phased && j < nc->F; j++) nc->pouter[j] = nc->model ? nc->model_outer * nc->share[j] : 0;
    if (!nc->model || nc->timeout <= 0) return 0;
    nc->n_late = nc->phased ? decide_stream(nc, late) : simulate(nc, late);
    return nc->n_late;
}

int netclock_holds(const netclock *nc) { return !nc->model && nc->timeout > 0; }

void netclock_task_done(netclock *nc, int client, int phase, double seconds)
{
    int i = index_of(nc, client);
    if (i < 0 || nc->model) return;
    double s = seconds > 0 && isfinite(seconds) ? seconds : 0;
    if (!nc->phased) { nc->c[i].compute = nc->compute[i] = s / nc->c[i].link.scale; return; }
    if (phase < 0 || phase >= nc->F) return;
    nc->pcompute[(size_t)i * nc->F + phase] = s / nc->c[i].link.scale;
    /* a client's compute is its phases' together (for the all-reduce twin) */
    nc->compute[i] = isnan(nc->compute[i]) ? s / nc->c[i].link.scale : nc->compute[i] + s / nc->c[i].link.scale;
}

void netclock_task_failed(netclock *nc, int client, int phase)
{
    int i = index_of(nc, client);
    if (i < 0) return;
    if (!nc->phased) nc->c[i].compute = -1;   /* no upload; the all-reduce figure keeps its compute */
    else if (phase >= 0 && phase < nc->F) nc->pcompute[(size_t)i * nc->F + phase] = -1;
}

void netclock_task_rejected(netclock *nc, int client, int phase)
{
    int i = index_of(nc, client);
    if (i >= 0 && nc->phased && phase >= 0 && phase < nc->F) nc->prestart[(size_t)i * nc->F + phase] = 1;
}

int netclock_decide(netclock *nc, int *late)
{
    if (nc->phased) {   /* (config: streaming runs with a round_timeout have compute = model) */
        for (int i = 0; i < nc->k; i++) if (late) late[i] = 0;
        return 0;
    }
    /* a task still without a figure is one that failed */
    for (int i = 0; i < nc->k; i++) if (isnan(nc->c[i].compute)) nc->c[i].compute = -1;
    nc->n_late = simulate(nc, late);
    return nc->n_late;
}

void netclock_late_cause(const netclock *nc, int client, char *out, size_t n)
{
    int i = index_of(nc, client);
    if (i < 0) { snprintf(out, n, "late"); return; }
    const netsim_result *r = &nc->res[i];
    snprintf(out, n, "its update would reach the aggregator at %.3f s on the simulated clock "
             "(download %.3f s, compute %.3f s), after round_timeout = %g s",
             r->up_done, r->down_done, nc->c[i].compute, nc->timeout);
}

void netclock_add_time(netclock *nc, int client, int phase, double seconds)
{
    int i = index_of(nc, client);
    if (i < 0 || nc->model) return;
    if (!nc->phased) nc->c[i].add = seconds;
    else if (phase >= 0 && phase < nc->F) nc->padd[(size_t)i * nc->F + phase] = seconds;
}

void netclock_outer_time(netclock *nc, int phase, double seconds)
{
    if (nc->model) return;
    if (!nc->phased) nc->outer = seconds;
    else if (phase >= 0 && phase < nc->F) nc->pouter[phase] = seconds;
}

/* The same work as per-step data parallelism over the same links: n
 * workers (the round's clients) each doing 1/n of every step at its own
 * speed, then a ring all-reduce of the gradient (netsim_allreduce). */
static double allreduce_round(netclock *nc)
{
    const photon_config *cfg = nc->cfg;
    int steps = cfg->clients.local_steps;
    int n = nc->centralized ? nc->per_round : nc->k;
    if (n < 1) n = 1;
    net_client *w = xcalloc((size_t)n, sizeof *w);
    double *per_step = xcalloc((size_t)n, sizeof(double)), *zero = xcalloc((size_t)n, sizeof(double));
    double known = 0;
    for (int i = 0; i < n; i++) {
        if (nc->centralized) {
            /* one task did the whole global batch at scale 1; worker i does 1/n at its speed */
            net_client_of(cfg, i, &w[i]);
            double task = nc->model ? nc->task_compute : nc->compute[0] * nc->c[0].link.scale;
            per_step[i] = isnan(task) ? NAN : task / n / steps / w[i].scale;
        } else {
            w[i] = nc->c[i].link;
            per_step[i] = nc->compute[i] / steps;
        }
        if (!isnan(per_step[i]) && per_step[i] > known) known = per_step[i];
    }
    /* a worker without a figure (its task failed) is taken as the slowest known */
    for (int i = 0; i < n; i++) if (isnan(per_step[i])) per_step[i] = known;
    nc->ar_compute = known;
    netsim_allreduce(n, w, zero, nc->bytes.allreduce, 8, &nc->ar_comm);   /* steady state */
    double total = netsim_allreduce(n, w, per_step, nc->bytes.allreduce, steps, NULL);
    free(w);
    free(per_step);
    free(zero);
    return total;
}

void netclock_round_end(netclock *nc)
{
    for (int i = 0; i < nc->k; i++) if (isnan(nc->c[i].compute)) nc->c[i].compute = -1;
    nc->allreduce = allreduce_round(nc);
    if (nc->centralized) {
        memset(&nc->sum, 0, sizeof nc->sum);
        nc->sim = nc->allreduce;
    } else if (nc->phased) {
        /* a task still without a figure is one that failed */
        for (size_t x = 0; x < (size_t)nc->k * nc->F; x++) if (isnan(nc->pcompute[x])) nc->pcompute[x] = -1;
        nc->sim = simulate_stream(nc, nc->carry_out);
        nc->sum.late = nc->n_late;
        for (int i = 0; i < nc->k; i++) {
            nc->res[i].late = nc->out[i];
            nc->c[i].compute = nc->res[i].compute_done;   /* the phases' together, for reports */
        }
        /* who continues into the next attempt, and from when: those of this one only */
        for (int c = 0; c < nc->n_clients; c++) nc->carry[c] = NAN;
        for (int i = 0; i < nc->k; i++)
            if (nc->ids[i] >= 0 && nc->ids[i] < nc->n_clients) nc->carry[nc->ids[i]] = nc->carry_out[i];
    } else {
        int decided = nc->n_late;
        simulate(nc, NULL);
        nc->sim = nc->sum.seconds;
        /* a client dropped as late at the start stays late; the aggregator waited for it */
        if (decided > nc->sum.late && nc->timeout + nc->outer > nc->sim) nc->sim = nc->timeout + nc->outer;
        if (decided > nc->sum.late) nc->sum.late = decided;
    }
    nc->total_sim += nc->sim;
    nc->total_allreduce += nc->allreduce;
}

void netclock_log_round(const netclock *nc, metrics *mx)
{
    metrics_num(mx, "sim_seconds", nc->sim);
    metrics_num(mx, "sim_allreduce_seconds", nc->allreduce);
    if (!nc->centralized) {
        metrics_num(mx, "sim_download_seconds", nc->sum.download_max);
        metrics_num(mx, "sim_compute_seconds", nc->sum.compute_max);
        metrics_num(mx, "sim_upload_seconds", nc->sum.upload_max);
        double tail = nc->sum.on_time ? nc->sim - nc->sum.last_arrival : nc->outer;
        metrics_num(mx, "sim_aggregation_seconds", tail);
        metrics_int(mx, "sim_late", nc->sum.late);
    }
    netclock_log_totals(nc, mx);
}

void netclock_log_totals(const netclock *nc, metrics *mx)
{
    metrics_num(mx, "sim_wall_seconds", nc->total_sim);
    metrics_num(mx, "sim_allreduce_wall_seconds", nc->total_allreduce);
}

double netclock_task_timeout(const netclock *nc, int client)
{
    double t = nc->cfg->aggregator.round_timeout;
    if (t <= 0 || nc->centralized) return t;
    net_client l;
    net_client_of(nc->cfg, client, &l);
    return l.scale > 1 ? t * l.scale : t;
}

void netclock_last(const netclock *nc, netclock_report *out)
{
    *out = (netclock_report){ .k = nc->k, .ids = nc->ids, .clients = nc->c, .results = nc->res, .summary = &nc->sum,
                              .sim = nc->sim, .allreduce = nc->allreduce, .allreduce_step_compute = nc->ar_compute,
                              .allreduce_step_comm = nc->ar_comm };
}

void netclock_totals(const netclock *nc, double *sim, double *allreduce)
{
    *sim = nc->total_sim;
    *allreduce = nc->total_allreduce;
}

void netclock_set_totals(netclock *nc, double sim, double allreduce)
{
    nc->total_sim = sim;
    nc->total_allreduce = allreduce;
}

const double *netclock_carry(const netclock *nc, int *n)
{
    *n = nc->phased ? nc->n_clients : 0;
    return nc->phased ? nc->carry : NULL;
}

int netclock_set_carry(netclock *nc, const double *carry, int n, photon_err *err)
{
    if (!nc->phased || n != nc->n_clients) {
        err_set(err, "simulated clock state for %d clients; this run's streaming clock has %d", n,
                nc->phased ? nc->n_clients : 0);
        return -1;
    }
    for (int c = 0; c < n; c++) nc->carry[c] = carry[c] <= 0 && carry[c] > -1e12 ? carry[c] : NAN;
    return 0;
}
