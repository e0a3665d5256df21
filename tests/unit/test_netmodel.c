/* Unit tests of the network model (supervisor/netmodel.h, netsim.c,
 * netclock.c) against worked examples done by hand: one client, clients
 * sharing the aggregator's link (max-min fair, with caps), a straggler past
 * round_timeout, ring all-reduce; the per-client draws (deterministic,
 * independent of order, the right distribution); the FLOP-based compute
 * rate against the formula written out; and, over random rounds, that no
 * transfer beats its bytes over its bandwidth. */
#include <stdlib.h>
#include "harness.h"
#include "io/config.h"
#include "io/config_schema.h"
#include "supervisor/netmodel.h"
#include "supervisor/netclock.h"

#define W (1500.0 / 1448.0)        /* wire bytes per payload byte */
#define PAY(wire) ((wire) / W)     /* payload that puts `wire` bytes on the wire */

static netsim_client client(double bw, double lat, double down_wire, double up_wire, double compute, double add)
{
    return (netsim_client){ .link = { .bw = bw, .lat = lat, .scale = 1 }, .down_bytes = PAY(down_wire),
                            .up_bytes = PAY(up_wire), .compute = compute, .add = add };
}

/* One client: download 1 s + 0.05, compute 2, upload 0.05 + 1 s, add 0.1, outer 0.2. */
static void test_one_client(void)
{
    netsim_client c = client(1.5e6, 0.05, 1.5e6, 1.5e6, 2.0, 0.1);
    netsim_result r;
    netsim_summary s;
    netsim_round(1, &c, 0, 0, 0.2, &r, &s);
    CHECK_CLOSE(r.down_done, 1.05, 1e-12);
    CHECK_CLOSE(r.compute_done, 3.05, 1e-12);
    CHECK_CLOSE(r.up_done, 4.1, 1e-12);
    CHECK_CLOSE(s.agg_done, 4.2, 1e-12);
    CHECK_CLOSE(s.seconds, 4.4, 1e-12);
    CHECK_EQ_INT(s.late, 0);
    /* a server link as fast as the client's changes nothing for one flow */
    netsim_round(1, &c, 1.5e6, 0, 0.2, &r, &s);
    CHECK_CLOSE(s.seconds, 4.4, 1e-12);
    /* a slower one is the bottleneck: 3 s each way */
    netsim_round(1, &c, 0.5e6, 0, 0.2, &r, &s);
    CHECK_CLOSE(r.down_done, 3.05, 1e-12);
    CHECK_CLOSE(s.seconds, 3.05 + 2 + 0.05 + 3 + 0.1 + 0.2, 1e-12);
}

/* Two clients through a server link as fast as one client's: downloads
 * share it (0.75 MB/s each, both done at 2 s); uploads overlap for part of
 * the time: client 0 alone from 3.0 s, client 1 joins at 3.5 s, they
 * share until client 0 ends at 4.5 s, client 1 ends alone at 5.0 s. */
static void test_shared_server(void)
{
    netsim_client c[2] = { client(1.5e6, 0, 1.5e6, 1.5e6, 1.0, 0), client(1.5e6, 0, 1.5e6, 1.5e6, 1.5, 0) };
    netsim_result r[2];
    netsim_summary s;
    netsim_round(2, c, 1.5e6, 0, 0, r, &s);
    CHECK_CLOSE(r[0].down_done, 2.0, 1e-12);
    CHECK_CLOSE(r[1].down_done, 2.0, 1e-12);
    CHECK_CLOSE(r[0].up_done, 4.5, 1e-12);
    CHECK_CLOSE(r[1].up_done, 5.0, 1e-12);
    CHECK_CLOSE(s.seconds, 5.0, 1e-12);
    /* the aggregator adds them as they come: 0.7 s each, the second waits */
    c[0].add = c[1].add = 0.7;
    netsim_round(2, c, 1.5e6, 0, 0.1, r, &s);
    CHECK_CLOSE(s.agg_done, 5.9, 1e-12);   /* 4.5 -> 5.2, then 5.2 (> 5.0) -> 5.9 */
    CHECK_CLOSE(s.seconds, 6.0, 1e-12);
    /* a failed client uploads nothing: the other has the link to itself */
    c[0].add = c[1].add = 0;
    c[1].compute = -1;
    netsim_round(2, c, 1.5e6, 0, 0, r, &s);
    CHECK_CLOSE(r[0].up_done, 4.0, 1e-12);
    CHECK(isnan(r[1].up_done));
    CHECK_EQ_INT(s.on_time, 1);
}

/* Water-filling with caps: 3 MB/s shared by flows capped at 0.5, 2 and 2
 * MB/s, 1.5 MB each: the small one gets its 0.5, the others 1.25 each and
 * end at 1.2 s; the small one has 0.9 MB left then, at its cap: 3.0 s. */
static void test_max_min_fair(void)
{
    double enter[3] = { 0, 0, 0 }, bytes[3] = { 1.5e6, 1.5e6, 1.5e6 }, rate[3] = { 0.5e6, 2e6, 2e6 }, leave[3];
    netsim_share(3e6, 3, enter, bytes, rate, leave);
    CHECK_CLOSE(leave[0], 3.0, 1e-12);
    CHECK_CLOSE(leave[1], 1.2, 1e-12);
    CHECK_CLOSE(leave[2], 1.2, 1e-12);
    /* unlimited: each at its cap */
    netsim_share(0, 3, enter, bytes, rate, leave);
    CHECK_CLOSE(leave[0], 3.0, 1e-12);
    CHECK_CLOSE(leave[1], 0.75, 1e-12);
    /* a flow entering later, and one with nothing to send */
    double e2[3] = { 0, 1, 5 }, b2[3] = { 2e6, 1e6, 0 }, r2[3] = { 9e9, 9e9, 9e9 };
    netsim_share(1e6, 3, e2, b2, r2, leave);
    /* 0..1: flow 0 alone (1 MB); then both at 0.5: flow 1 ends at 3, flow 0 at 3 too */
    CHECK_CLOSE(leave[0], 3.0, 1e-12);
    CHECK_CLOSE(leave[1], 3.0, 1e-12);
    CHECK_CLOSE(leave[2], 5.0, 1e-12);
}

/* A straggler past round_timeout: late, not added; the aggregator waits for
 * the deadline before its outer step. */
static void test_straggler(void)
{
    netsim_client c[2] = { client(1.5e6, 0.05, 1.5e6, 1.5e6, 1.0, 0.1), client(1.5e6, 0.05, 1.5e6, 1.5e6, 10.0, 0.1) };
    netsim_result r[2];
    netsim_summary s;
    netsim_round(2, c, 0, 8.0, 0.2, r, &s);
    CHECK_EQ_INT(r[0].late, 0);
    CHECK_EQ_INT(r[1].late, 1);
    CHECK_CLOSE(r[1].up_done, 1.05 + 10 + 1.05, 1e-12);
    CHECK_EQ_INT(s.late, 1);
    CHECK_EQ_INT(s.on_time, 1);
    CHECK_CLOSE(s.agg_done, 3.1 + 0.1, 1e-12);
    CHECK_CLOSE(s.seconds, 8.0 + 0.2, 1e-12);
    /* a deadline after it: both in, the round ends after the straggler */
    netsim_round(2, c, 0, 20.0, 0.2, r, &s);
    CHECK_EQ_INT(s.late, 0);
    CHECK_CLOSE(s.seconds, 12.1 + 0.1 + 0.2, 1e-12);
}

/* Ring all-reduce of 3 workers: chunks of a third, 4 phases per step.
 * Alike links: each phase takes the hop's latencies + its chunk over the
 * link.  Unlike links (worked by hand below): ranks forward a chunk as soon
 * as they have it, so a slow hop delays only the chunks that cross it. */
static void test_allreduce(void)
{
    net_client w[3] = { { 1.5e6, 0.01, 1 }, { 1.5e6, 0.01, 1 }, { 1.5e6, 0.01, 1 } };
    double zero[3] = { 0, 0, 0 }, half[3] = { 0.5, 0.5, 0.5 }, period;
    CHECK_CLOSE(netsim_allreduce(3, w, zero, PAY(4.5e6), 1, &period), 4 * (1.0 + 0.02), 1e-12);
    CHECK_CLOSE(period, 4 * 1.02, 1e-12);
    CHECK_CLOSE(netsim_allreduce(3, w, half, PAY(4.5e6), 3, &period), 3 * (0.5 + 4 * 1.02), 1e-12);
    CHECK_CLOSE(period, 0.5 + 4 * 1.02, 1e-12);
    CHECK_CLOSE(netsim_allreduce(3, w, half, PAY(4.5e6), 20, NULL), 20 * (0.5 + 4 * 1.02), 1e-12);   /* extrapolated */
    /* hops 0->1: 1 s of data + 0 latency; 1->2 and 2->0: 1 s + 1 s.  By
     * hand, phase by phase (receipt times at ranks 0, 1, 2):
     *   step 1: (2,1,2) (4,3,3) (5,5,5) (7,6,7): 7 s (a lockstep ring: 8)
     *   step 2: (9,8,8) (10,10,10) (12,11,12) (14,13,13): 14 s */
    net_client u[3] = { { 1.5e6, 0, 1 }, { 1.5e6, 0, 1 }, { 1.5e6, 1, 1 } };
    CHECK_CLOSE(netsim_allreduce(3, u, zero, PAY(4.5e6), 1, &period), 7, 1e-12);
    CHECK_CLOSE(netsim_allreduce(3, u, zero, PAY(4.5e6), 2, &period), 14, 1e-12);
    CHECK_CLOSE(period, 7, 1e-12);
    /* a slow worker (3 s of compute): by hand, receipts (4.02,1.02,1.02)
     * (5.02,5.04,2.04) (6.02,6.04,6.06) (7.08,7.04,7.06): the others wait
     * for its chunks, as slow as a lockstep ring after it */
    double slow[3] = { 0, 0, 3 };
    CHECK_CLOSE(netsim_allreduce(3, w, slow, PAY(4.5e6), 1, NULL), 3 + 4 * 1.02, 1e-12);
    CHECK_CLOSE(netsim_allreduce(1, w, half, 1e9, 4, &period), 2.0, 0);   /* alone: compute only */
}

/* Over random rounds: every client's completion is at least its bytes
 * over its link plus its compute and latencies, and the last upload is at
 * least all upload bytes over the server link after the first one could
 * start. */
static void test_lower_bounds(void)
{
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        int k = 1 + rand() % 12;
        netsim_client c[12];
        netsim_result r[12];
        netsim_summary s;
        double server = rand() % 3 ? 1e5 + rand() % 10000000 : 0, first_up = 1e30, up_total = 0;
        for (int i = 0; i < k; i++) {
            c[i] = client(1e5 + rand() % 5000000, (rand() % 100) / 1e3, 1e4 + rand() % 3000000, 1e4 + rand() % 3000000,
                          (rand() % 1000) / 100.0, 0);
            up_total += c[i].up_bytes * W;
        }
        netsim_round(k, c, server, 0, 0, r, &s);
        double last = 0;
        for (int i = 0; i < k; i++) {
            double own = c[i].down_bytes * W / c[i].link.bw + c[i].up_bytes * W / c[i].link.bw + c[i].compute +
                         2 * c[i].link.lat;
            CHECK_MSG(r[i].up_done >= own * (1 - 1e-12), "trial %d client %d: %g < %g", trial, i, r[i].up_done, own);
            double start = r[i].compute_done + c[i].link.lat;
            if (start < first_up) first_up = start;
            if (r[i].up_done > last) last = r[i].up_done;
        }
        if (server > 0) CHECK_MSG(last >= first_up + up_total / server * (1 - 1e-12), "trial %d", trial);
        CHECK(s.seconds >= last);
    }
}

static void test_perclient_draws(void)
{
    cfg_perclient p = { .kind = DIST_LOGNORMAL, .a = 100, .b = 0.5 };
    double v1 = net_perclient(&p, 42, 1, 17, 0.001, 1e6), v2 = net_perclient(&p, 42, 1, 17, 0.001, 1e6);
    CHECK(v1 == v2);
    CHECK(net_perclient(&p, 43, 1, 17, 0.001, 1e6) != v1);     /* the seed matters */
    CHECK(net_perclient(&p, 42, 2, 17, 0.001, 1e6) != v1);     /* and which key */
    enum { N = 20001 };
    double *v = malloc(N * sizeof *v);
    double mean_log = 0, var_log = 0;
    for (int i = 0; i < N; i++) {
        v[i] = net_perclient(&p, 42, 1, i, 0.001, 1e6);
        mean_log += log(v[i]) / N;
    }
    for (int i = 0; i < N; i++) var_log += (log(v[i]) - mean_log) * (log(v[i]) - mean_log) / (N - 1);
    CHECK_CLOSE(mean_log, log(100), 0.01);   /* the median */
    CHECK_CLOSE(sqrt(var_log), 0.5, 0.02);   /* sigma */
    /* independent of the order clients are asked in */
    CHECK(net_perclient(&p, 42, 1, 5000, 0.001, 1e6) == v[5000]);
    cfg_perclient u = { .kind = DIST_UNIFORM, .a = 2, .b = 4 }, lu = { .kind = DIST_LOGUNIFORM, .a = 10, .b = 1000 };
    double mean = 0, lmean = 0;
    for (int i = 0; i < N; i++) {
        double x = net_perclient(&u, 1, 3, i, 0, 1e9), y = net_perclient(&lu, 1, 3, i, 0, 1e9);
        CHECK_MSG(x >= 2 && x <= 4 && y >= 10 && y <= 1000, "draw %d: %g %g", i, x, y);
        mean += x / N;
        lmean += log10(y) / N;
    }
    CHECK_CLOSE(mean, 3.0, 0.01);
    CHECK_CLOSE(lmean, 2.0, 0.01);
    /* clamped to the key's range */
    cfg_perclient wide = { .kind = DIST_LOGNORMAL, .a = 1, .b = 10 };
    for (int i = 0; i < 1000; i++) {
        double x = net_perclient(&wide, 9, 1, i, 0.5, 2);
        CHECK_MSG(x >= 0.5 && x <= 2, "clamp %g", x);
    }
    cfg_perclient l = { .kind = DIST_LIST, .n = 3, .v = { 5, 6, 7 } }, c = { .kind = DIST_CONST, .a = 9 };
    CHECK(net_perclient(&l, 1, 1, 1, 0, 100) == 6);
    CHECK(net_perclient(&c, 1, 1, 12345, 0, 100) == 9);
    free(v);
}

/* compute = model: tokens/s = TFLOP/s over the training FLOPs per token,
 * 3 x forward (2 per weight of the blocks and the LM head, plus QK^T and AV
 * over T positions), written out here independently of gpt2_train_flops. */
static void test_compute_rate(void)
{
    photon_config c;
    config_defaults(&c);
    gpt2_config g = { .n_layer = 12, .n_head = 12, .d_model = 768, .seq_len = 1024, .vocab_size = 50257, .padded_vocab = 50304 };
    double L = 12, C = 768, T = 1024, V = 50257;
    double per_token = 6 * (12 * L * C * C + C * V) + 12 * L * T * C;
    c.network.device_tflops = 2.5;
    const char *src;
    CHECK_CLOSE(net_tokens_per_s(&c, &g, &src), 2.5e12 / per_token, 1e-12);
    CHECK_CONTAINS(src, "device_tflops");
    c.network.device_tflops = 0;
    c.run.backend = BACKEND_CPU;
    CHECK_CLOSE(net_tokens_per_s(&c, &g, NULL), NET_DEFAULT_TFLOPS_CPU * 1e12 / per_token, 1e-12);
    c.run.backend = BACKEND_AUTO;
    CHECK_CLOSE(net_tokens_per_s(&c, &g, NULL), NET_DEFAULT_TFLOPS_CUDA * 1e12 / per_token, 1e-12);
    c.network.tokens_per_s = 1234;
    CHECK_CLOSE(net_tokens_per_s(&c, &g, &src), 1234, 0);
    CHECK_CONTAINS(src, "tokens_per_s");
}

/* The runtime's clock with compute = model: the straggler is known to be
 * late when the round starts; the round, its all-reduce twin and the totals
 * match the hand figures. */
static void test_netclock_model(void)
{
    photon_config c;
    config_defaults(&c);
    c.network.present = true;
    c.network.compute = COMPUTE_MODEL;
    c.clients.count = 2;
    c.clients.local_steps = 4;
    c.clients.batch_size = 2;
    c.model.seq_len = 8;
    c.network.tokens_per_s = 64;             /* 64-token tasks: 1 s at scale 1 */
    c.network.bandwidth_mbps = (cfg_perclient){ .kind = DIST_CONST, .a = 12 };   /* 1.5 MB/s */
    c.network.latency_ms = (cfg_perclient){ .kind = DIST_CONST, .a = 50 };
    c.network.compute_scale = (cfg_perclient){ .kind = DIST_LIST, .n = 2, .v = { 1, 0.1 } };
    c.network.server_bandwidth_mbps = 0;
    c.aggregator.round_timeout = 8;
    gpt2_config g = { .n_layer = 1, .n_head = 1, .d_model = 8, .seq_len = 8, .vocab_size = 16, .padded_vocab = 16 };
    size_t n = (size_t)(PAY(1.5e6) / 4);     /* fp32 model of about 1.5 MB on the wire */
    double wire = n * 4.0 * W;
    netclock *nc = netclock_new(&c, &g, n, 0, 2);
    CHECK(nc != NULL);
    int ids[2] = { 0, 1 }, late[2];
    CHECK_EQ_INT(netclock_round_begin(nc, 2, ids, late), 1);
    CHECK_EQ_INT(late[0], 0);
    CHECK_EQ_INT(late[1], 1);            /* compute 10 s > 8 s */
    CHECK(!netclock_holds(nc));
    netclock_round_end(nc);
    netclock_report rep;
    netclock_last(nc, &rep);
    double up0 = 0.05 + wire / 1.5e6 + 1.0 + 0.05 + wire / 1.5e6;
    CHECK_CLOSE(rep.results[0].up_done, up0, 1e-9);
    CHECK_CLOSE(rep.sim, 8.0 + 5.0 * n * 4 / NET_SERVER_BYTES_PER_S, 1e-9);   /* waited for the deadline */
    /* all-reduce: 4 steps of the slowest worker's 10/4 s plus 2 phases of half the model */
    double step = 2 * (0.1 + wire / 2 / 1.5e6);
    CHECK_CLOSE(rep.allreduce, 4 * (10.0 / 4 + step), 1e-9);
    double sim, ar;
    netclock_totals(nc, &sim, &ar);
    CHECK_CLOSE(sim, rep.sim, 0);
    netclock_round_begin(nc, 2, ids, late);
    netclock_round_end(nc);
    netclock_totals(nc, &sim, &ar);
    CHECK_CLOSE(sim, 2 * rep.sim, 1e-12);
    CHECK_CLOSE(ar, 2 * rep.allreduce, 1e-12);
    /* the real-time guard: round_timeout x max(1, scale) */
    CHECK_CLOSE(netclock_task_timeout(nc, 1), 8, 0);
    netclock_free(nc);
    /* no [network], no clock */
    c.network.present = false;
    CHECK(netclock_new(&c, &g, n, 0, 2) == NULL);
}

/* compute = measured: verdicts wait for every figure; a failed task uploads nothing. */
static void test_netclock_measured(void)
{
    photon_config c;
    config_defaults(&c);
    c.network.present = true;
    c.clients.count = 3;
    c.network.bandwidth_mbps = (cfg_perclient){ .kind = DIST_CONST, .a = 12 };
    c.network.latency_ms = (cfg_perclient){ .kind = DIST_CONST, .a = 0 };
    c.network.compute_scale = (cfg_perclient){ .kind = DIST_LIST, .n = 3, .v = { 1, 0.5, 2 } };
    c.network.server_bandwidth_mbps = 0;
    c.aggregator.round_timeout = 5;
    gpt2_config g = { .n_layer = 1, .n_head = 1, .d_model = 8, .seq_len = 8, .vocab_size = 16, .padded_vocab = 16 };
    size_t n = (size_t)(PAY(1.5e6) / 4);
    netclock *nc = netclock_new(&c, &g, n, 0, 3);
    int ids[3] = { 0, 1, 2 }, late[3];
    CHECK_EQ_INT(netclock_round_begin(nc, 3, ids, late), 0);
    CHECK(netclock_holds(nc));
    CHECK_CLOSE(netclock_task_timeout(nc, 2), 10, 0);   /* a fast client may take longer in real time */
    netclock_task_done(nc, 0, 0, 2.0);    /* 1 + 2 + 1 = 4 s: in time */
    netclock_task_done(nc, 1, 0, 1.5);    /* 1.5 / 0.5 = 3 s: 5 s, not after the deadline */
    netclock_task_failed(nc, 2, 0);
    CHECK_EQ_INT(netclock_decide(nc, late), 0);
    netclock_add_time(nc, 0, 0, 0.25);
    netclock_add_time(nc, 1, 0, 0.25);
    netclock_outer_time(nc, 0, 0.5);
    netclock_round_end(nc);
    netclock_report rep;
    netclock_last(nc, &rep);
    CHECK_CLOSE(rep.results[1].up_done, 5.0, 1e-5);   /* the model's size rounds to whole parameters */
    CHECK_CLOSE(rep.sim, 5.0 + 0.25 + 0.5, 1e-5);
    CHECK_EQ_INT(rep.summary->on_time, 2);
    netclock_round_begin(nc, 3, ids, late);
    netclock_task_done(nc, 0, 0, 2.0);
    netclock_task_done(nc, 1, 0, 1.6);    /* 3.2 s of compute: 5.2 s > 5 */
    netclock_task_done(nc, 2, 0, 1.0);
    CHECK_EQ_INT(netclock_decide(nc, late), 1);
    CHECK_EQ_INT(late[1], 1);
    char why[300];
    netclock_late_cause(nc, 1, why, sizeof why);
    CHECK_CONTAINS(why, "5.200 s");
    netclock_free(nc);
}

int main(void)
{
    RUN(test_one_client);
    RUN(test_shared_server);
    RUN(test_max_min_fair);
    RUN(test_straggler);
    RUN(test_allreduce);
    RUN(test_lower_bounds);
    RUN(test_perclient_draws);
    RUN(test_compute_rate);
    RUN(test_netclock_model);
    RUN(test_netclock_measured);
    return th_finish();
}
