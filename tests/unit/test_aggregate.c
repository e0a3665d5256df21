/* Aggregation against values worked out by hand: sample weighting, the
 * rescale when a client fails, non-finite and norm rejection with the
 * documented reference median, the fixed order, and bitwise independence of
 * thread count and of the caller's client order. */
#include "harness.h"
#include "io/common.h"
#include "supervisor/aggregate.h"
#include "gpu/vecops.h"
#include <stdlib.h>

/* clients 0,1,2 with samples 1,1,2 -> weights 1/4, 1/4, 1/2.
 * updates [4,8], [8,0], [2,4]:  Δ = [1+2+1, 2+0+2] = [4, 4].
 * norms sqrt(80), 8, sqrt(20). */
static void test_weighted_mean(void)
{
    photon_err e;
    agg *a = agg_create(2, 1);
    int cl[3] = {2, 0, 1};                 /* caller order does not matter */
    double sm[3] = {2, 1, 1};
    float u0[2] = {4, 8}, u1[2] = {8, 0}, u2[2] = {2, 4};
    CHECK(agg_begin(a, 3, cl, sm, 0, &e) == 0);
    CHECK_EQ_INT(agg_next(a), 0);
    agg_record r;
    CHECK(agg_add(a, 0, u0, &r, &e) == 0);
    CHECK(r.verdict == AGG_ACCEPTED);
    CHECK(r.weight == 0.25);
    CHECK_CLOSE(r.norm, sqrt(80.0), 1e-12);
    CHECK(agg_add(a, 2, u2, NULL, &e) == -1);     /* out of order */
    CHECK_CONTAINS(e.msg, "expected client 1");
    CHECK(agg_add(a, 5, u2, NULL, &e) == -1);
    CHECK_CONTAINS(e.msg, "not in this round");
    CHECK(agg_add(a, 1, u1, &r, &e) == 0);
    CHECK(r.norm == 8.0);
    CHECK(agg_add(a, 2, u2, &r, &e) == 0);
    CHECK(r.weight == 0.5);
    CHECK_EQ_INT(agg_next(a), -1);
    agg_summary s;
    const float *d = agg_finish(a, &s);
    CHECK(d && d[0] == 4.0f && d[1] == 4.0f);
    CHECK_EQ_INT(s.accepted, 3);
    CHECK_EQ_INT(s.failed, 0);
    CHECK(s.samples_accepted == 4);
    CHECK(s.median_norm == 8.0);          /* median of sqrt20, 8, sqrt80 */
    CHECK(agg_reference(a) == 8.0);
    agg_free(a);
}

/* Client 2 (weight 1/2) fails: mean of clients 0 and 1 with equal samples:
 * ([4,8] + [8,0]) / 2 = [6, 4].  Marked failed before its turn, out of order. */
static void test_failure_rescale(void)
{
    photon_err e;
    agg *a = agg_create(2, 1);
    int cl[3] = {0, 1, 2};
    double sm[3] = {1, 1, 2};
    float u0[2] = {4, 8}, u1[2] = {8, 0};
    CHECK(agg_begin(a, 3, cl, sm, 0, &e) == 0);
    CHECK(agg_fail(a, 2, &e) == 0);
    CHECK(agg_fail(a, 2, &e) == -1);
    CHECK(agg_add(a, 0, u0, NULL, &e) == 0);
    CHECK(agg_add(a, 1, u1, NULL, &e) == 0);
    agg_summary s;
    const float *d = agg_finish(a, &s);
    CHECK(d && d[0] == 6.0f && d[1] == 4.0f);
    CHECK_EQ_INT(s.failed, 1);
    CHECK_EQ_INT(s.accepted, 2);
    CHECK(agg_reference(a) == 0.5 * (8.0 + sqrt(80.0)));   /* median of 8, sqrt80 */
    /* failing the first one makes the next expected skip it */
    CHECK(agg_begin(a, 3, cl, sm, 0, &e) == 0);
    CHECK(agg_fail(a, 0, &e) == 0);
    CHECK_EQ_INT(agg_next(a), 1);
    /* a pending client at finish counts as failed; nothing accepted -> NULL */
    CHECK(agg_finish(a, &s) == NULL);
    CHECK_EQ_INT(s.failed, 3);
    CHECK(agg_reference(a) == 0.5 * (8.0 + sqrt(80.0)));   /* unchanged by an empty round */
    agg_free(a);
}

/* A lone client's update passes through bit for bit (w = 1 exactly). */
static void test_single_client_exact(void)
{
    photon_err e;
    size_t n = 1000;
    float *u = malloc(n * sizeof(float));
    photon_rng g;
    rng_seed(&g, 5);
    for (size_t i = 0; i < n; i++) u[i] = rng_normal(&g) * 1e-3f;
    agg *a = agg_create(n, 2);
    int c = 3;
    double sm = 65536;
    CHECK(agg_begin(a, 1, &c, &sm, 0, &e) == 0);
    CHECK(agg_add(a, 3, u, NULL, &e) == 0);
    const float *d = agg_finish(a, NULL);
    CHECK(d && memcmp(d, u, n * sizeof(float)) == 0);
    agg_free(a);
    free(u);
}

/* NaN in client 1, Inf in client 2: rejected with the first bad index. */
static void test_nonfinite(void)
{
    photon_err e;
    agg *a = agg_create(3, 1);
    int cl[3] = {0, 1, 2};
    double sm[3] = {1, 1, 1};
    float u0[3] = {3, 0, 0}, u1[3] = {1, NAN, 2}, u2[3] = {1, 1, INFINITY};
    agg_begin(a, 3, cl, sm, 0, &e);
    agg_record r;
    agg_add(a, 0, u0, &r, &e);
    agg_add(a, 1, u1, &r, &e);
    CHECK(r.verdict == AGG_REJECT_NONFINITE);
    CHECK_EQ_INT(r.first_bad, 1);
    CHECK(isnan(r.norm));
    agg_add(a, 2, u2, &r, &e);
    CHECK(r.verdict == AGG_REJECT_NONFINITE);
    CHECK_EQ_INT(r.first_bad, 2);
    agg_summary s;
    const float *d = agg_finish(a, &s);
    CHECK(d && d[0] == 3.0f && d[1] == 0.0f && d[2] == 0.0f);   /* only client 0 */
    CHECK_EQ_INT(s.rejected, 2);
    int n;
    const agg_record *rs = agg_records(a, &n);
    CHECK_EQ_INT(n, 3);
    CHECK_STR(agg_verdict_name(rs[1].verdict), "rejected_nonfinite");
    agg_free(a);
}

/* reject_norm 3, norms 1, 1.25, 100, 0.75, 4 (1-element updates):
 *  c0: no reference (first of the run) -> accepted
 *  c1: ref median{1} = 1, 1.25 <= 3 -> accepted
 *  c2: ref median{1,1.25} = 1.125, 100 > 3.375 -> rejected
 *  c3: ref 1.125, accepted;  c4: ref median{0.75,1,1.25} = 1, 4 > 3 -> rejected.
 * Round median of accepted {0.75,1,1.25} = 1 -> next round's reference.
 * Next round: c0 norm 2.5 vs ref median{1} -> accepted; c1 norm 3.5 vs
 * median{1, 2.5} = 1.75 -> 3.5 <= 5.25 accepted. */
static void test_norm_reject(void)
{
    photon_err e;
    agg *a = agg_create(1, 1);
    int cl[5] = {0, 1, 2, 3, 4};
    double sm[5] = {1, 1, 1, 1, 1};
    float v[5] = {1, -1.25f, 100, 0.75f, 4};
    agg_begin(a, 5, cl, sm, 3.0, &e);
    agg_verdict want[5] = {AGG_ACCEPTED, AGG_ACCEPTED, AGG_REJECT_NORM, AGG_ACCEPTED, AGG_REJECT_NORM};
    double ref[5] = {0, 1, 1.125, 1.125, 1};
    for (int i = 0; i < 5; i++) {
        agg_record r;
        CHECK(agg_add(a, i, &v[i], &r, &e) == 0);
        CHECK_MSG(r.verdict == want[i], "client %d verdict %s", i, agg_verdict_name(r.verdict));
        CHECK_CLOSE(r.ref_norm, ref[i], 1e-15);
    }
    agg_summary s;
    const float *d = agg_finish(a, &s);
    /* (1 - 1.25 + 0.75) / 3 with weights 1/5 then rescale 5/3 */
    CHECK_CLOSE(d[0], 0.5 / 3, 1e-6);
    CHECK(s.median_norm == 1.0);
    float w[2] = {2.5f, 3.5f};
    agg_begin(a, 2, cl, sm, 3.0, &e);
    agg_record r;
    agg_add(a, 0, &w[0], &r, &e);
    CHECK(r.verdict == AGG_ACCEPTED && r.ref_norm == 1.0);
    agg_add(a, 1, &w[1], &r, &e);
    CHECK(r.verdict == AGG_ACCEPTED && r.ref_norm == 1.75);
    agg_set_reference(a, NAN);
    CHECK(agg_reference(a) == 0);
    agg_free(a);
}

/* Large updates: results do not depend on the thread count (1 vs 2 vs 3)
 * or on the order the caller lists the clients in. */
static void test_bitwise_threads(void)
{
    photon_err e;
    size_t n = 1000003;    /* 16 chunks, not a multiple: parallel, ragged end */
    int k = 4;
    float *u[4];
    photon_rng g;
    rng_seed(&g, 11);
    for (int c = 0; c < k; c++) {
        u[c] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) u[c][i] = rng_normal(&g) * (float)(c + 1);
    }
    float *out[3];
    double norms[3][4];
    int orders[3][4] = {{0, 1, 2, 3}, {3, 1, 0, 2}, {2, 3, 1, 0}};
    double sm_by_client[4] = {100, 300, 200, 50};
    for (int t = 0; t < 3; t++) {
        agg *a = agg_create(n, t + 1);
        double sm[4];
        for (int i = 0; i < k; i++) sm[i] = sm_by_client[orders[t][i]];
        CHECK(agg_begin(a, k, orders[t], sm, 10, &e) == 0);
        for (int c = 0; c < k; c++) {
            agg_record r;
            CHECK(agg_add(a, agg_next(a), u[c], &r, &e) == 0);
            norms[t][c] = r.norm;
        }
        const float *d = agg_finish(a, NULL);
        out[t] = malloc(n * sizeof(float));
        memcpy(out[t], d, n * sizeof(float));
        agg_free(a);
    }
    CHECK(memcmp(out[0], out[1], n * sizeof(float)) == 0);
    CHECK(memcmp(out[0], out[2], n * sizeof(float)) == 0);
    CHECK(memcmp(norms[0], norms[1], sizeof norms[0]) == 0);
    CHECK(memcmp(norms[0], norms[2], sizeof norms[0]) == 0);
    /* and against a plain double-precision reference */
    double maxerr = 0;
    for (size_t i = 0; i < n; i += 997) {
        double ref = 0;
        for (int c = 0; c < k; c++) ref += sm_by_client[c] / 650.0 * u[c][i];
        maxerr = fmax(maxerr, fabs(ref - out[0][i]));
    }
    CHECK_MSG(maxerr < 1e-5, "max error vs double reference %g", maxerr);
    double nref = 0;
    for (size_t i = 0; i < n; i++) nref += (double)u[1][i] * u[1][i];
    CHECK_CLOSE(norms[0][1], sqrt(nref), 1e-12);
    for (int c = 0; c < k; c++) free(u[c]);
    for (int t = 0; t < 3; t++) free(out[t]);
}

/* Norms supplied by the producer skip the norm pass but decide the same. */
static void test_known_norm(void)
{
    photon_err e;
    agg *a = agg_create(2, 1);
    int cl[3] = {0, 1, 2};
    double sm[3] = {1, 1, 2};
    float u0[2] = {4, 8}, u1[2] = {8, 0}, u2[2] = {2, 4};
    agg_begin(a, 3, cl, sm, 0, &e);
    agg_record r;
    CHECK(agg_add_norm(a, 0, u0, vec_norm(u0, 2, 1, NULL), &r, &e) == 0);
    CHECK(r.verdict == AGG_ACCEPTED && r.norm == sqrt(80.0));
    CHECK(agg_add_norm(a, 1, u1, NAN, &r, &e) == 0);
    CHECK(r.verdict == AGG_REJECT_NONFINITE);
    CHECK(agg_add_norm(a, 2, u2, -1, &r, &e) == 0);     /* unknown: computed */
    CHECK(r.norm == sqrt(20.0));
    agg_summary s1, s2;
    const float *d = agg_finish(a, &s1);
    /* (1/4 [4,8] + 1/2 [2,4]) * 4/3 = [2,4] * 4/3 */
    CHECK_CLOSE(d[0], 8.0 / 3, 1e-6);
    CHECK_CLOSE(d[1], 16.0 / 3, 1e-6);
    d = agg_finish(a, &s2);                               /* no second rescale */
    CHECK_CLOSE(d[0], 8.0 / 3, 1e-6);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
    agg_free(a);
}

static void test_bad_input(void)
{
    photon_err e;
    agg *a = agg_create(4, 1);
    int cl[2] = {1, 1};
    double sm[2] = {1, 1}, bad[2] = {1, 0};
    CHECK(agg_begin(a, 2, cl, sm, 0, &e) == -1);
    CHECK_CONTAINS(e.msg, "sampled twice");
    int cl2[2] = {1, 2};
    CHECK(agg_begin(a, 2, cl2, bad, 0, &e) == -1);
    CHECK_CONTAINS(e.msg, "sample count");
    CHECK(agg_begin(a, 0, cl2, sm, 0, &e) == -1);
    agg_free(a);
}

int main(void)
{
    RUN(test_weighted_mean);
    RUN(test_failure_rescale);
    RUN(test_single_client_exact);
    RUN(test_nonfinite);
    RUN(test_norm_reject);
    RUN(test_bitwise_threads);
    RUN(test_known_norm);
    RUN(test_bad_input);
    return th_finish();
}
