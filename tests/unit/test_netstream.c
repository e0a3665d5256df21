/* The simulated streaming round (supervisor/netmodel.h netsim_stream, and
 * the runtime's clock over it, netclock.c) against worked examples done by
 * hand, for F = 1, 2, 4 with and without overlap:
 *   no overlap: every phase waits for its download, so a continuing
 *     client's round is 2F latencies + the model down + compute + the
 *     update up + the aggregator's adds and outer steps;
 *   overlap, compute-bound: the exchanges hide behind compute (round = its
 *     compute) once the client continues from the round before;
 *   overlap, communication-bound: the compute hides instead (round = 2F
 *     latencies + down + up + adds + outer steps);
 * the first round (a client that starts afresh) waits for the whole model;
 * a failed phase makes the next one download the whole model; a straggler
 * past round_timeout is left out of every phase without holding the
 * others' phases back. */
#include <stdlib.h>
#include "harness.h"
#include "io/config.h"
#include "gpu/fragment.h"
#include "supervisor/netmodel.h"
#include "supervisor/netclock.h"

#define W (1500.0 / 1448.0)        /* wire bytes per payload byte */
#define PAY(s) ((s) * 1.5e6 / W)   /* payload that takes s seconds at 1.5 MB/s */
#define LAT 0.05

typedef struct {
    int F;
    double down[FRAGMENT_MAX], up[FRAGMENT_MAX], outer[FRAGMENT_MAX];
    double compute[FRAGMENT_MAX], add[FRAGMENT_MAX];
    netsim_stream_in in;
    net_client link;
    double carry;
} one;

/* One client at 1.5 MB/s, 50 ms, unlimited server; fragment f takes sec[f]
 * seconds each way; compute c per phase; adds 0.01 s, outer steps 0.02 s. */
static void setup(one *o, int F, const double *sec, double c, int overlap)
{
    memset(o, 0, sizeof *o);
    o->F = F;
    o->link = (net_client){ .bw = 1.5e6, .lat = LAT, .scale = 1 };
    double whole = 0;
    for (int f = 0; f < F; f++) {
        o->down[f] = o->up[f] = PAY(sec[f]);
        whole += o->down[f];
        o->compute[f] = c;
        o->add[f] = 0.01;
        o->outer[f] = 0.02;
    }
    o->carry = NAN;
    o->in = (netsim_stream_in){ .k = 1, .F = F, .overlap = overlap, .link = &o->link, .part_down = o->down,
                                .part_up = o->up, .whole_down = whole, .compute = o->compute, .add = o->add,
                                .outer = o->outer, .carry = &o->carry };
}

/* Runs a round; the next one continues from it. */
static double round_of(one *o, netsim_result *r)
{
    netsim_summary s;
    double next;
    double t = netsim_stream(&o->in, r, &s, &next);
    CHECK_CLOSE(s.seconds, t, 0);
    o->carry = next;
    return t;
}

/* F = 2, fragments of 0.4 and 0.6 s, compute 1 s a phase, no overlap.
 * Round 1 (afresh): phase 0 = 0.05 + 1.0 (whole) + 1 + 0.05 + 0.4 + 0.01 +
 * 0.02 = 2.53; phase 1 = 0.05 + 0.4 (fragment 0) + 1 + 0.05 + 0.6 + 0.03 =
 * 2.13.  Round 2: 0.05 + 0.6 + 1 + 0.05 + 0.4 + 0.03 = 2.13, then 2.13:
 * 4.26 = 4 latencies + 1 down + 2 compute + 1 up + 0.02 adds + 0.04 outer. */
static void test_two_fragments(void)
{
    double sec[2] = { 0.4, 0.6 };
    one o;
    netsim_result r;
    setup(&o, 2, sec, 1.0, 0);
    CHECK_CLOSE(round_of(&o, &r), 2.53 + 2.13, 1e-12);
    CHECK_CLOSE(r.up_done, 4.66 - 0.03, 1e-12);
    CHECK_CLOSE(r.compute_done, 2.0, 1e-12);
    CHECK_CLOSE(r.down_done, 1.05 + 0.45, 1e-12);
    CHECK_CLOSE(r.upload, 0.45 + 0.65, 1e-12);
    CHECK(!isnan(o.carry));
    CHECK_CLOSE(round_of(&o, &r), 4.26, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), 4.26, 1e-12);

    /* overlap, compute-bound (5 s a phase).  Round 1: phase 0 ends its task
     * at 1.05 + 5 = 6.05, its update is in at 6.5, P1 = 6.53; phase 1
     * computes from 6.05 to 11.05 (fragment 0 is there at 6.98), update in
     * at 11.7, P2 = 11.73; the client stopped 0.68 s before the round's
     * end.  Round 2 starts its compute at -0.68: task 0 ends at 4.32
     * (fragment 1 arrived at 0.65), P1 = 4.80; task 1 ends at 9.32
     * (fragment 0 at 5.25), P2 = 10.0: exactly its 10 s of compute. */
    setup(&o, 2, sec, 5.0, 1);
    CHECK_CLOSE(round_of(&o, &r), 11.73, 1e-12);
    CHECK_CLOSE(o.carry, -0.68, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), 10.0, 1e-12);
    CHECK_CLOSE(o.carry, -0.68, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), 10.0, 1e-12);

    /* overlap, communication-bound (0.1 s a phase).  Round 1: task 0 ends
     * 1.15, P1 = 1.63; task 1 waits for fragment 0 (2.08), P2 = 2.76, carry
     * -0.68.  Round 2: task 0 ends when fragment 1 arrives (0.65), P1 = 1.13;
     * task 1 at 1.58, P2 = 2.26 = 4 latencies + 1 down + 1 up + adds + outer:
     * the 0.2 s of compute are hidden (2.46 without overlap). */
    setup(&o, 2, sec, 0.1, 1);
    CHECK_CLOSE(round_of(&o, &r), 2.76, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), 2.26, 1e-12);
    setup(&o, 2, sec, 0.1, 0);
    round_of(&o, &r);
    CHECK_CLOSE(round_of(&o, &r), 2.46, 1e-12);
}

/* F = 1 as a streaming round (overlap = true: the one-round-delayed
 * variant): without overlap it is the plain round (0.05 + 1 + c + 0.05 + 1
 * + 0.01 + 0.02, netsim_round); with it, compute-bound (10 s), round 1 =
 * 1.05 + 10 + 1.05 + 0.03 = 12.13 and from then on 10 s; comm-bound
 * (0.1 s) every later round is 0.05 + 1 + 0.05 + 1 + 0.03 = 2.13. */
static void test_one_fragment(void)
{
    double sec[1] = { 1.0 };
    one o;
    netsim_result r;
    setup(&o, 1, sec, 10.0, 0);
    netsim_client c = { .link = o.link, .down_bytes = PAY(1.0), .up_bytes = PAY(1.0), .compute = 10.0, .add = 0.01 };
    netsim_result pr;
    netsim_summary ps;
    netsim_round(1, &c, 0, 0, 0.02, &pr, &ps);
    CHECK_CLOSE(ps.seconds, 12.13, 1e-12);
    CHECK_CLOSE(pr.upload, 1.05, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), ps.seconds, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), ps.seconds, 1e-12);
    setup(&o, 1, sec, 10.0, 1);
    CHECK_CLOSE(round_of(&o, &r), 12.13, 1e-12);
    CHECK_CLOSE(o.carry, -1.08, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), 10.0, 1e-12);
    setup(&o, 1, sec, 0.1, 1);
    round_of(&o, &r);
    CHECK_CLOSE(round_of(&o, &r), 2.13, 1e-12);
}

/* F = 4, fragments of 0.1 .. 0.4 s, compute 0.5 s a phase (2 s a round).
 * No overlap, continuing: 8 latencies + 1 + 2 + 1 + 0.04 + 0.08 = 4.52.
 * Overlap: with 5 s a phase every exchange fits in the next phase
 * (compute-bound: 20 s); with 0.01 s none does (communication-bound:
 * 0.4 + 1 + 1 + 0.12 = 2.52); 0.5 s is in between, worked phase by phase
 * below. */
static void test_four_fragments(void)
{
    double sec[4] = { 0.1, 0.2, 0.3, 0.4 };
    one o;
    netsim_result r;
    setup(&o, 4, sec, 0.5, 0);
    round_of(&o, &r);
    CHECK_CLOSE(round_of(&o, &r), 4.52, 1e-12);
    setup(&o, 4, sec, 5.0, 1);
    round_of(&o, &r);
    CHECK_CLOSE(round_of(&o, &r), 20.0, 1e-12);
    setup(&o, 4, sec, 0.01, 1);
    round_of(&o, &r);
    CHECK_CLOSE(round_of(&o, &r), 2.52, 1e-12);
    /* 0.5 s a phase with overlap, in steady state (carry c from the round
     * before; each task ends at max(its compute, the fragment's arrival)):
     *   task 0: fragment 3 arrives 0.45; ends max(c + 0.5, 0.45)
     *   then each phase: upload lat + u_j, +0.03 -> P; fragment j arrives
     *   P + 0.05 + d_j; task j + 1 ends max(end_j + 0.5, that).
     * Iterating by hand from c = -0.48 (the value it settles to):
     *   end0 = max(0.02, 0.45) = 0.45; P1 = 0.45 + 0.15 + 0.03 = 0.63
     *   end1 = max(0.95, 0.63 + 0.15) = 0.95; P2 = 0.95 + 0.25 + 0.03 = 1.23
     *   end2 = max(1.45, 1.23 + 0.25) = 1.48; P3 = 1.48 + 0.35 + 0.03 = 1.86
     *   end3 = max(1.98, 1.86 + 0.35) = 2.21; P4 = 2.21 + 0.45 + 0.03 = 2.69
     *   carry = 2.21 - 2.69 = -0.48: the round is 2.69 s (4.52 without
     *   overlap, 2.52 with no compute at all). */
    setup(&o, 4, sec, 0.5, 1);
    for (int i = 0; i < 3; i++) round_of(&o, &r);
    CHECK_CLOSE(o.carry, -0.48, 1e-12);
    CHECK_CLOSE(round_of(&o, &r), 2.69, 1e-12);
}

/* A failed phase: nothing uploaded, and the next phase starts afresh (the
 * whole model down).  F = 2 no overlap, round 2 with phase 0 failed:
 * phase 0 is its outer step alone, 0.02 (no update to wait for); phase 1 =
 * 0.05 + 1.0 (whole) + 1 + 0.05 + 0.6 + 0.03. */
static void test_failed_phase(void)
{
    double sec[2] = { 0.4, 0.6 };
    one o;
    netsim_result r;
    setup(&o, 2, sec, 1.0, 0);
    round_of(&o, &r);
    o.compute[0] = -1;
    CHECK_CLOSE(round_of(&o, &r), 0.02 + 0.05 + 1.0 + 1 + 0.05 + 0.6 + 0.03, 1e-12);
    /* a rejected update: uploaded, but the next phase starts afresh too */
    o.compute[0] = 1.0;
    int restart[2] = { 1, 0 };
    o.in.restart = restart;
    CHECK_CLOSE(round_of(&o, &r), 2.13 + 0.05 + 1.0 + 1 + 0.05 + 0.6 + 0.03, 1e-12);
}

/* The runtime's clock, compute = model, on a real fragment plan: client 0
 * alone, two rounds; round 2 (continuing) against the plain round's own
 * figure: + 2(F - 1) latencies without overlap; its compute alone with
 * overlap when compute-bound; with overlap always less than without. */
static netclock *clock_of(photon_config *c, const gpt2_config *g, int F, int overlap, double tokens_per_s)
{
    config_defaults(c);
    c->network.present = true;
    c->network.compute = COMPUTE_MODEL;
    c->clients.count = 1;
    c->clients.local_steps = 4;
    c->clients.batch_size = 2;
    c->model.seq_len = 8;
    c->network.tokens_per_s = tokens_per_s;   /* 64-token tasks */
    c->network.bandwidth_mbps = (cfg_perclient){ .kind = DIST_CONST, .a = 12 };
    c->network.latency_ms = (cfg_perclient){ .kind = DIST_CONST, .a = 1000 * LAT };
    c->network.compute_scale = (cfg_perclient){ .kind = DIST_CONST, .a = 1 };
    c->network.server_bandwidth_mbps = 0;
    c->aggregator.fragments = F;
    c->aggregator.overlap = overlap;
    return netclock_new(c, g, gpt2_num_params(g), 0, 1);
}

static double clock_round(netclock *nc)
{
    int id = 0;
    netclock_round_begin(nc, 1, &id, NULL);
    netclock_round_end(nc);
    netclock_report rep;
    netclock_last(nc, &rep);
    return rep.sim;
}

static void test_netclock_streaming(void)
{
    gpt2_config g = { .n_layer = 3, .n_head = 2, .d_model = 64, .seq_len = 8, .vocab_size = 512, .padded_vocab = 512 };
    photon_config c;
    double tok[2] = { 6.4, 6400 };   /* 10 s of compute a round (compute-bound), 10 ms (communication-bound) */
    for (int b = 0; b < 2; b++) {
        netclock *plain = clock_of(&c, &g, 1, 0, tok[b]);
        double base = clock_round(plain);
        CHECK_CLOSE(clock_round(plain), base, 0);
        netclock_free(plain);
        for (int F = 1; F <= 4; F *= 2) {
            for (int overlap = 0; overlap < 2; overlap++) {
                if (F == 1 && !overlap) continue;   /* the plain round above */
                netclock *nc = clock_of(&c, &g, F, overlap, tok[b]);
                CHECK(nc != NULL);
                double r1 = clock_round(nc), r2 = clock_round(nc);
                int n;
                CHECK(netclock_carry(nc, &n) != NULL && n == 1);
                if (!overlap) {
                    CHECK_MSG(fabs(r1 - (base + 2 * (F - 1) * LAT)) > 1e-6, "F=%d: round 1 downloads the whole model", F);
                    CHECK_MSG(fabs(r2 - (base + 2 * (F - 1) * LAT)) < 1e-9, "F=%d: %.9f vs %.9f", F, r2,
                              base + 2 * (F - 1) * LAT);
                } else if (b == 0) {
                    CHECK_MSG(fabs(r2 - 10.0) < 1e-9, "F=%d overlap, compute-bound: %.9f", F, r2);
                    CHECK(r1 > r2);
                } else {
                    /* communication-bound: the plain round less its compute, plus the latencies */
                    CHECK_MSG(fabs(r2 - (base - 0.01 + 2 * (F - 1) * LAT)) < 1e-9, "F=%d overlap, comm-bound: %.9f vs %.9f",
                              F, r2, base - 0.01 + 2 * (F - 1) * LAT);
                }
                netclock_free(nc);
            }
        }
    }
}

/* A straggler (compute 100x slower) past round_timeout: late when the
 * round starts, out of every phase; the fast client's phases do not wait
 * for it (its round is what it is alone). */
static void test_netclock_straggler(void)
{
    gpt2_config g = { .n_layer = 3, .n_head = 2, .d_model = 64, .seq_len = 8, .vocab_size = 512, .padded_vocab = 512 };
    photon_config c;
    netclock *alone = clock_of(&c, &g, 2, 1, 64);
    double t_alone = clock_round(alone);
    netclock_free(alone);
    netclock_free(clock_of(&c, &g, 2, 1, 64));   /* (for its config) */
    c.clients.count = 2;
    c.network.compute_scale = (cfg_perclient){ .kind = DIST_LIST, .n = 2, .v = { 1, 0.01 } };
    c.aggregator.round_timeout = 20;
    netclock *nc = netclock_new(&c, &g, gpt2_num_params(&g), 0, 2);
    int ids[2] = { 0, 1 }, late[2];
    CHECK_EQ_INT(netclock_round_begin(nc, 2, ids, late), 1);
    CHECK(!late[0] && late[1]);
    netclock_round_end(nc);
    netclock_report rep;
    netclock_last(nc, &rep);
    CHECK_CLOSE(rep.sim, t_alone, 1e-9);
    CHECK_EQ_INT(rep.summary->late, 1);
    int n;
    const double *carry = netclock_carry(nc, &n);
    CHECK(n == 2 && !isnan(carry[0]) && isnan(carry[1]));   /* the late one does not continue */
    netclock_free(nc);
}

int main(void)
{
    RUN(test_two_fragments);
    RUN(test_one_fragment);
    RUN(test_four_fragments);
    RUN(test_failed_phase);
    RUN(test_netclock_streaming);
    RUN(test_netclock_straggler);
    return th_finish();
}
