/* Client sampler: determinism from (seed, round, attempt), valid sorted
 * subsets, everyone when K = N, uniform inclusion frequency, and the first
 * draws re-derived by hand from the documented Fisher-Yates construction. */
#include "harness.h"
#include "io/common.h"
#include "supervisor/sampler.h"
#include <stdlib.h>

static void test_valid_and_deterministic(void)
{
    sampler *a = sampler_create(42, 20, 5), *b = sampler_create(42, 20, 5);
    int x[5], y[5];
    for (int r = 0; r < 50; r++) {
        CHECK_EQ_INT(sampler_pick(a, r, 0, x), 5);
        sampler_pick(b, r, 0, y);
        CHECK(memcmp(x, y, sizeof x) == 0);
        for (int i = 0; i < 5; i++) {
            CHECK(x[i] >= 0 && x[i] < 20);
            if (i) CHECK_MSG(x[i - 1] < x[i], "round %d sorted, distinct", r);
        }
    }
    /* calling out of order (as a resumed run does) gives the same draw */
    sampler_pick(a, 7, 0, x);
    sampler_pick(b, 3, 0, y);
    sampler_pick(b, 7, 0, y);
    CHECK(memcmp(x, y, sizeof x) == 0);
    sampler_free(a);
    sampler_free(b);
}

static void test_rounds_attempts_seeds_differ(void)
{
    sampler *a = sampler_create(1, 100, 10), *c = sampler_create(2, 100, 10);
    int x[10], y[10], z[10], w[10];
    sampler_pick(a, 5, 0, x);
    sampler_pick(a, 6, 0, y);
    sampler_pick(a, 5, 1, z);
    sampler_pick(c, 5, 0, w);
    CHECK(memcmp(x, y, sizeof x) != 0);
    CHECK(memcmp(x, z, sizeof x) != 0);
    CHECK(memcmp(x, w, sizeof x) != 0);
    sampler_free(a);
    sampler_free(c);
}

static void test_everyone_and_clamp(void)
{
    sampler *s = sampler_create(9, 8, 8);
    int x[8];
    CHECK_EQ_INT(sampler_pick(s, 3, 2, x), 8);
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(x[i], i);
    sampler_free(s);
    s = sampler_create(9, 4, 99);   /* K > N is clamped to N */
    CHECK_EQ_INT(sampler_per_round(s), 4);
    uint64_t st[3];
    sampler_state(s, st);
    CHECK(st[0] == 9 && st[1] == 4 && st[2] == 4);
    sampler_free(s);
}

/* The construction, by hand: draw j0 in [0,5) and swap ids 0 and j0; then
 * j1 in [1,5) and swap positions 1 and j1; the sample is {pos0, pos1}. */
static void test_by_hand(void)
{
    int out[2], scratch[5];
    for (int r = 0; r < 20; r++) {
        sample_clients(77, r, 0, 5, 2, out, scratch);
        photon_rng g;
        rng_derive(&g, 77, 0x53414d504c455231ULL, (uint64_t)r, 0);
        int ids[5] = {0, 1, 2, 3, 4};
        int j0 = (int)rng_below(&g, 5);
        int t = ids[0]; ids[0] = ids[j0]; ids[j0] = t;
        int j1 = 1 + (int)rng_below(&g, 4);
        t = ids[1]; ids[1] = ids[j1]; ids[j1] = t;
        int lo = ids[0] < ids[1] ? ids[0] : ids[1], hi = ids[0] ^ ids[1] ^ lo;
        CHECK_MSG(out[0] == lo && out[1] == hi, "round %d: got {%d,%d} want {%d,%d}", r, out[0], out[1], lo, hi);
    }
}

/* Each client should be picked with probability K/N: over 4000 rounds with
 * N = 10, K = 3 the expected count is 1200, sd ~29; allow 5 sd. */
static void test_uniform(void)
{
    sampler *s = sampler_create(123, 10, 3);
    int count[10] = {0}, x[3];
    for (int r = 0; r < 4000; r++) {
        sampler_pick(s, r, 0, x);
        for (int i = 0; i < 3; i++) count[x[i]]++;
    }
    for (int c = 0; c < 10; c++)
        CHECK_MSG(abs(count[c] - 1200) < 145, "client %d picked %d times (want ~1200)", c, count[c]);
    sampler_free(s);
}

int main(void)
{
    RUN(test_valid_and_deterministic);
    RUN(test_rounds_attempts_seeds_differ);
    RUN(test_everyone_and_clamp);
    RUN(test_by_hand);
    RUN(test_uniform);
    return th_finish();
}
