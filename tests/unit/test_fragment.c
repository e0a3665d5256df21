/* Fragment schedules (gpu/fragment.h): for many model shapes and every F,
 * the fragments cover every element of every tensor exactly once, as
 * sorted merged ranges of whole units; the split is the min-max optimum
 * (checked against brute force over all cut positions); the 125M split
 * puts the embeddings alone; gather/scatter round-trip; bad F refused. */
#include "harness.h"
#include "gpu/fragment.h"
#include <stdlib.h>

static gpt2_config shape(int L, int C, int V, int T)
{
    gpt2_config c = { .n_layer = L, .n_head = 1, .d_model = C, .seq_len = T, .vocab_size = V, .padded_vocab = V };
    return c;
}

/* Largest fragment of the best split, by trying every cut (small U, F). */
static size_t brute_best(const size_t *w, int U, int F, int from, int left)
{
    if (left == 1) {
        size_t s = 0;
        for (int u = from; u < U; u++) s += w[u];
        return from < U ? s : (size_t)-1;
    }
    size_t best = (size_t)-1, s = 0;
    for (int end = from + 1; end <= U - (left - 1); end++) {
        s += w[end - 1];
        size_t rest = brute_best(w, U, F, end, left - 1);
        size_t m = s > rest ? s : rest;
        if (m < best) best = m;
    }
    return best;
}

static void check_cover(const gpt2_config *c, int F)
{
    photon_err err;
    fragment_plan *p = fragment_plan_new(c, F, &err);
    CHECK_MSG(p != NULL, "L%d F%d: %s", c->n_layer, F, p ? "" : err.msg);
    if (!p) return;
    size_t total = gpt2_num_params(c);
    unsigned char *hit = calloc(total, 1);
    size_t sum = 0, biggest = 0;
    int ok_sorted = 1, next_unit = 0, ok_units = 1;
    for (int f = 0; f < F; f++) {
        int n, u0, u1;
        const frag_range *r = fragment_ranges(p, f, &n);
        size_t e = 0;
        for (int i = 0; i < n; i++) {
            if (i > 0 && r[i].off <= r[i - 1].off + r[i - 1].len) ok_sorted = 0;   /* sorted, merged */
            for (size_t k = 0; k < r[i].len; k++) hit[r[i].off + k]++;
            e += r[i].len;
        }
        CHECK(e == fragment_elems(p, f) && e > 0);
        sum += e;
        if (e > biggest) biggest = e;
        fragment_units(p, f, &u0, &u1);
        if (u0 != next_unit || u1 <= u0) ok_units = 0;
        next_unit = u1;
    }
    size_t once = 0;
    for (size_t i = 0; i < total; i++) once += hit[i] == 1;
    CHECK_MSG(once == total && sum == total, "L%d F%d: %zu of %zu elements covered exactly once", c->n_layer, F, once, total);
    CHECK_MSG(ok_sorted && ok_units && next_unit == c->n_layer + 1, "L%d F%d: sorted ranges of contiguous units", c->n_layer, F);
    CHECK(fragment_max_elems(p) == biggest && fragment_total(p) == total);
    if (c->n_layer <= 8 && F <= 5) {
        gpt2_layout l;
        gpt2_layout_init(&l, c);
        size_t w[16];
        w[0] = l.size[T_WTE] + l.size[T_WPE];
        for (int b = 0; b < c->n_layer; b++) {
            w[1 + b] = 0;
            for (int t = T_LN1W; t <= T_FCPROJB; t++) w[1 + b] += l.size[t] / (size_t)c->n_layer;
        }
        w[c->n_layer] += l.size[T_LNFW] + l.size[T_LNFB];
        CHECK_MSG(brute_best(w, c->n_layer + 1, F, 0, F) == biggest, "L%d F%d: min-max split (%zu)", c->n_layer, F, biggest);
    }
    free(hit);
    fragment_plan_free(p);
}

static void test_cover_and_optimal(void)
{
    int Ls[] = { 1, 2, 3, 5, 8, 13 };
    int Vs[] = { 7, 512, 4096 };
    for (size_t a = 0; a < sizeof Ls / sizeof Ls[0]; a++)
        for (size_t b = 0; b < sizeof Vs / sizeof Vs[0]; b++) {
            gpt2_config c = shape(Ls[a], 8, Vs[b], 16);
            for (int F = 1; F <= Ls[a] + 1; F++) check_cover(&c, F);
        }
}

static void test_whole_model_and_125m(void)
{
    photon_err err;
    gpt2_config c = shape(2, 32, 512, 32);
    fragment_plan *p = fragment_plan_new(&c, 1, &err);
    int n;
    const frag_range *r = fragment_ranges(p, 0, &n);
    CHECK(n == 1 && r[0].off == 0 && r[0].len == gpt2_num_params(&c));
    fragment_plan_free(p);

    gpt2_config g = shape(12, 768, 50257, 1024);
    g.padded_vocab = 50304;
    p = fragment_plan_new(&g, 4, &err);
    int u0, u1;
    fragment_units(p, 0, &u0, &u1);
    CHECK_MSG(u0 == 0 && u1 == 1, "125M, F = 4: the embeddings are fragment 0 alone (units %d..%d)", u0, u1);
    double share = (double)fragment_max_elems(p) / (double)fragment_total(p);
    CHECK_MSG(share > 0.25 && share < 0.33, "125M, F = 4: largest fragment %.3f of the model", share);
    for (int f = 1; f < 4; f++) {
        fragment_units(p, f, &u0, &u1);
        CHECK_EQ_INT(u1 - u0, 4);   /* 12 blocks in 4 + 4 + 4 */
    }
    fragment_plan_free(p);
}

static void test_gather_scatter(void)
{
    photon_err err;
    gpt2_config c = shape(3, 8, 40, 8);
    size_t n = gpt2_num_params(&c);
    float *full = malloc(n * sizeof(float)), *back = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) full[i] = (float)i;
    fragment_plan *p = fragment_plan_new(&c, 3, &err);
    float *compact = malloc(fragment_max_elems(p) * sizeof(float));
    for (int f = 0; f < 3; f++) {
        fragment_gather(p, f, full, compact);
        int nr;
        const frag_range *r = fragment_ranges(p, f, &nr);
        CHECK(compact[0] == (float)r[0].off);
        fragment_scatter(p, f, compact, back);
    }
    CHECK(memcmp(full, back, n * sizeof(float)) == 0);
    free(full); free(back); free(compact);
    fragment_plan_free(p);
}

static void test_bad_count(void)
{
    photon_err err;
    gpt2_config c = shape(2, 8, 40, 8);
    CHECK(fragment_plan_new(&c, 4, &err) == NULL);
    CHECK_CONTAINS(err.msg, "between 1 and 3");
    CHECK(fragment_plan_new(&c, 0, &err) == NULL);
}

int main(void)
{
    RUN(test_cover_and_optimal);
    RUN(test_whole_model_and_125m);
    RUN(test_gather_scatter);
    RUN(test_bad_count);
    return th_finish();
}
