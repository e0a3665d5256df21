/* Outer optimizers over three steps against values worked out by hand
 * (chosen as exact binary fractions so the checks are exact), thread-count
 * independence, and checkpoint state round trips. */
#include "harness.h"
#include "io/common.h"
#include "io/config.h"
#include "supervisor/outer_opt.h"
#include <stdlib.h>

static void run3(int strat, double lr, double mu, const float d[3][2], float th[2], float want[3][2])
{
    photon_err e;
    outer_opt *o = outer_opt_create(strat, lr, mu, 2, 1, &e);
    CHECK(o != NULL);
    if (!o) return;
    for (int s = 0; s < 3; s++) {
        outer_opt_step(o, th, d[s]);
        CHECK_MSG(th[0] == want[s][0] && th[1] == want[s][1], "%s step %d: got [%g, %g] want [%g, %g]",
                  outer_opt_name(strat), s + 1, th[0], th[1], want[s][0], want[s][1]);
    }
    CHECK_EQ_INT(outer_opt_steps(o), 3);
    outer_opt_free(o);
}

/* fedavg, η 0.5:  θ=[1,2]
 *  Δ1=[0.5,-1]  -> [0.75, 2.5]
 *  Δ2=[1,1]     -> [0.25, 2.0]
 *  Δ3=[-2,0.25] -> [1.25, 1.875] */
static void test_fedavg(void)
{
    const float d[3][2] = {{0.5f, -1}, {1, 1}, {-2, 0.25f}};
    float th[2] = {1, 2}, want[3][2] = {{0.75f, 2.5f}, {0.25f, 2.0f}, {1.25f, 1.875f}};
    run3(STRAT_FEDAVG, 0.5, 0, d, th, want);
}

/* fedmom, η 1, μ 0.5:  θ=[1,0], m=0
 *  Δ1=[1,2]:  m=[1,2]        θ=[0,-2]
 *  Δ2=[1,0]:  m=[1.5,1]      θ=[-1.5,-3]
 *  Δ3=[0,-1]: m=[0.75,-0.5]  θ=[-2.25,-2.5] */
static void test_fedmom(void)
{
    const float d[3][2] = {{1, 2}, {1, 0}, {0, -1}};
    float th[2] = {1, 0}, want[3][2] = {{0, -2}, {-1.5f, -3}, {-2.25f, -2.5f}};
    run3(STRAT_FEDMOM, 1.0, 0.5, d, th, want);
}

/* nesterov, η 0.5, μ 0.5:  θ=[1,1], m=0
 *  Δ1=[1,0]:  m=[1,0];      θ -= 0.5*([1,0] + 0.5*[1,0])     = [0.75,0]   -> [0.25, 1]
 *  Δ2=[2,4]:  m=[2.5,4];    θ -= 0.5*([2,4] + 0.5*[2.5,4])   = [1.625,3]  -> [-1.375, -2]
 *  Δ3=[0,-2]: m=[1.25,0];   θ -= 0.5*([0,-2] + 0.5*[1.25,0]) = [0.3125,-1] -> [-1.6875, -1] */
static void test_nesterov(void)
{
    const float d[3][2] = {{1, 0}, {2, 4}, {0, -2}};
    float th[2] = {1, 1}, want[3][2] = {{0.25f, 1}, {-1.375f, -2}, {-1.6875f, -1}};
    run3(STRAT_NESTEROV, 0.5, 0.5, d, th, want);
}

/* Paper's DiLoCo settings (0.7 / 0.9), not exact in binary: compare with a
 * double-precision evaluation of the same formulas. */
static void test_nesterov_inexact(void)
{
    photon_err e;
    outer_opt *o = outer_opt_create(STRAT_NESTEROV, 0.7, 0.9, 1, 1, &e);
    float th = 0.3f;
    double t = 0.3, m = 0;
    const float d[3] = {0.1f, -0.05f, 0.2f};
    for (int s = 0; s < 3; s++) {
        outer_opt_step(o, &th, &d[s]);
        m = 0.9 * m + d[s];
        t -= 0.7 * (d[s] + 0.9 * m);
    }
    CHECK_CLOSE(th, t, 1e-6);
    size_t n;
    const float *ms = outer_opt_state(o, &n);
    CHECK_EQ_INT(n, 1);
    CHECK_CLOSE(ms[0], m, 1e-6);
    outer_opt_free(o);
}

static void test_fedavg_lr1_exact(void)
{
    photon_err e;
    outer_opt *o = outer_opt_create(STRAT_FEDAVG, 1.0, 0, 3, 1, &e);
    float th[3] = {0.1f, 0.2f, 0.3f}, d[3] = {0.01f, -0.07f, 1e-9f};
    float want[3] = {th[0] - d[0], th[1] - d[1], th[2] - d[2]};
    outer_opt_step(o, th, d);
    CHECK(memcmp(th, want, sizeof th) == 0);
    size_t n;
    CHECK(outer_opt_state(o, &n) == NULL && n == 0);
    CHECK(outer_opt_set_state(o, th, 3, &e) == -1);
    outer_opt_free(o);
}

static void test_bad_params(void)
{
    photon_err e;
    CHECK(outer_opt_create(7, 1, 0, 4, 1, &e) == NULL);
    CHECK_CONTAINS(e.msg, "unknown strategy");
    CHECK(outer_opt_create(STRAT_FEDMOM, 0, 0.5, 4, 1, &e) == NULL);
    CHECK(outer_opt_create(STRAT_FEDMOM, 1, 1.0, 4, 1, &e) == NULL);
    CHECK_CONTAINS(e.msg, "momentum");
}

/* Bitwise the same for 1, 2, 3 threads; and save/restore of the momentum
 * after step 2 continues exactly as the uninterrupted optimizer. */
static void test_threads_and_resume(void)
{
    photon_err e;
    size_t n = 1000003;   /* enough chunks to go parallel */
    float *d[3], *th[4];
    photon_rng g;
    rng_seed(&g, 3);
    for (int s = 0; s < 3; s++) {
        d[s] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) d[s][i] = rng_normal(&g) * 0.01f;
    }
    for (int t = 0; t < 4; t++) {
        th[t] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) th[t][i] = (float)i * 1e-6f;
    }
    for (int t = 0; t < 3; t++) {
        outer_opt *o = outer_opt_create(STRAT_NESTEROV, 0.7, 0.7, n, t + 1, &e);
        for (int s = 0; s < 3; s++) outer_opt_step(o, th[t], d[s]);
        outer_opt_free(o);
    }
    CHECK(memcmp(th[0], th[1], n * sizeof(float)) == 0);
    CHECK(memcmp(th[0], th[2], n * sizeof(float)) == 0);
    outer_opt *a = outer_opt_create(STRAT_NESTEROV, 0.7, 0.7, n, 2, &e);
    outer_opt_step(a, th[3], d[0]);
    outer_opt_step(a, th[3], d[1]);
    size_t ns;
    const float *m = outer_opt_state(a, &ns);
    outer_opt *b = outer_opt_create(STRAT_NESTEROV, 0.7, 0.7, n, 1, &e);
    CHECK(outer_opt_set_state(b, m, ns, &e) == 0);
    CHECK(outer_opt_set_state(b, m, ns - 1, &e) == -1);
    outer_opt_set_steps(b, outer_opt_steps(a));
    outer_opt_step(b, th[3], d[2]);
    CHECK(memcmp(th[0], th[3], n * sizeof(float)) == 0);
    CHECK_EQ_INT(outer_opt_steps(b), 3);
    outer_opt_free(a);
    outer_opt_free(b);
    for (int s = 0; s < 3; s++) free(d[s]);
    for (int t = 0; t < 4; t++) free(th[t]);
}

int main(void)
{
    RUN(test_fedavg);
    RUN(test_fedmom);
    RUN(test_nesterov);
    RUN(test_nesterov_inexact);
    RUN(test_fedavg_lr1_exact);
    RUN(test_bad_params);
    RUN(test_threads_and_resume);
    return th_finish();
}
