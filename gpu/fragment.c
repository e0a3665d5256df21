/* Fragment split of the flat GPT-2 parameter vector (see gpu/fragment.h):
 * a min-max contiguous partition of the units (embeddings, blocks) and the
 * element ranges each fragment covers. */
#include "gpu/fragment.h"
#include <stdlib.h>
#include <string.h>

/* Ranges of one fragment: wte, wpe, 12 per-layer tensors, ln_f w and b. */
#define MAX_RANGES GPT2_NUM_TENSORS

typedef struct {
    frag_range r[MAX_RANGES];
    int n;
    size_t elems;
    int first, last;   /* units */
} fragment;

struct fragment_plan {
    int F;
    size_t total, max_elems;
    fragment f[FRAGMENT_MAX];
};

static void add_range(fragment *g, size_t off, size_t len)
{
    if (len == 0) return;
    if (g->n > 0 && g->r[g->n - 1].off + g->r[g->n - 1].len == off) g->r[g->n - 1].len += len;
    else g->r[g->n++] = (frag_range){ off, len };
    g->elems += len;
}

/* Units [u0, u1) of a model with L blocks as element ranges, in layout order. */
static void build(fragment *g, const gpt2_layout *l, int L, int u0, int u1)
{
    memset(g, 0, sizeof *g);
    g->first = u0;
    g->last = u1;
    if (u0 == 0) {
        add_range(g, l->offset[T_WTE], l->size[T_WTE]);
        add_range(g, l->offset[T_WPE], l->size[T_WPE]);
    }
    size_t b0 = (size_t)(u0 > 0 ? u0 - 1 : 0), b1 = (size_t)(u1 - 1);
    for (int t = T_LN1W; t <= T_FCPROJB; t++) {
        size_t per = l->size[t] / (size_t)L;
        add_range(g, l->offset[t] + b0 * per, (b1 - b0) * per);
    }
    if (u1 == L + 1) {
        add_range(g, l->offset[T_LNFW], l->size[T_LNFW]);
        add_range(g, l->offset[T_LNFB], l->size[T_LNFB]);
    }
}

fragment_plan *fragment_plan_new(const gpt2_config *c, int F, photon_err *err)
{
    int L = c->n_layer, U = L + 1;
    if (F < 1 || F > FRAGMENT_MAX || F > U) {
        err_set(err, "fragments = %d: must be between 1 and %d (the embeddings and the %d blocks are the units to split)",
                F, U < FRAGMENT_MAX ? U : FRAGMENT_MAX, L);
        return NULL;
    }
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    /* unit sizes: embeddings, then blocks (ln_f with the last) */
    double *w = xmalloc((size_t)U * sizeof(double)), *pre = xmalloc((size_t)(U + 1) * sizeof(double));
    w[0] = (double)(l.size[T_WTE] + l.size[T_WPE]);
    for (int b = 0; b < L; b++) {
        double s = 0;
        for (int t = T_LN1W; t <= T_FCPROJB; t++) s += (double)(l.size[t] / (size_t)L);
        w[1 + b] = s;
    }
    w[L] += (double)(l.size[T_LNFW] + l.size[T_LNFB]);
    pre[0] = 0;
    for (int u = 0; u < U; u++) pre[u + 1] = pre[u] + w[u];
    /* Two passes of dynamic programming over (fragments g+1, first i units):
     * first the smallest possible largest fragment M, then, among splits
     * with every fragment ≤ M, the one with the least sum of squared sizes
     * (as even as it can be).  cut[g][i] is where the last fragment starts;
     * strict < keeps the smallest such cut. */
    double *cost = xmalloc((size_t)F * (size_t)(U + 1) * sizeof(double));
    int *cut = xcalloc((size_t)F * (size_t)(U + 1), sizeof(int));
#define COST(g, i) cost[(size_t)(g) * (size_t)(U + 1) + (size_t)(i)]
#define CUT(g, i) cut[(size_t)(g) * (size_t)(U + 1) + (size_t)(i)]
    for (int i = 0; i <= U; i++) COST(0, i) = i > 0 ? pre[i] : 1e300;
    for (int g = 1; g < F; g++)
        for (int i = 0; i <= U; i++) {
            COST(g, i) = 1e300;
            for (int j = g; j < i; j++) {
                double c2 = COST(g - 1, j) > pre[i] - pre[j] ? COST(g - 1, j) : pre[i] - pre[j];
                if (c2 < COST(g, i)) COST(g, i) = c2;
            }
        }
    double M = COST(F - 1, U);
    for (int i = 0; i <= U; i++) COST(0, i) = i > 0 && pre[i] <= M ? pre[i] * pre[i] : 1e300;
    for (int g = 1; g < F; g++)
        for (int i = 0; i <= U; i++) {
            COST(g, i) = 1e300;
            for (int j = g; j < i; j++) {
                double s = pre[i] - pre[j];
                if (s > M || COST(g - 1, j) >= 1e300) continue;
                if (COST(g - 1, j) + s * s < COST(g, i)) { COST(g, i) = COST(g - 1, j) + s * s; CUT(g, i) = j; }
            }
        }
    fragment_plan *p = xcalloc(1, sizeof *p);
    p->F = F;
    p->total = l.total;
    int end = U;
    for (int g = F - 1; g >= 0; g--) {
        int start = g > 0 ? CUT(g, end) : 0;
        build(&p->f[g], &l, L, start, end);
        if (p->f[g].elems > p->max_elems) p->max_elems = p->f[g].elems;
        end = start;
    }
#undef COST
#undef CUT
    free(cost);
    free(cut);
    free(w);
    free(pre);
    return p;
}

void fragment_plan_free(fragment_plan *p) { free(p); }
int fragment_count(const fragment_plan *p) { return p->F; }
size_t fragment_elems(const fragment_plan *p, int f) { return p->f[f].elems; }
size_t fragment_max_elems(const fragment_plan *p) { return p->max_elems; }
size_t fragment_total(const fragment_plan *p) { return p->total; }

const frag_range *fragment_ranges(const fragment_plan *p, int f, int *n)
{
    *n = p->f[f].n;
    return p->f[f].r;
}

void fragment_units(const fragment_plan *p, int f, int *first, int *last)
{
    *first = p->f[f].first;
    *last = p->f[f].last;
}

void fragment_gather(const fragment_plan *p, int f, const float *full, float *compact)
{
    const fragment *g = &p->f[f];
    for (int i = 0; i < g->n; i++) {
        memcpy(compact, full + g->r[i].off, g->r[i].len * sizeof(float));
        compact += g->r[i].len;
    }
}

void fragment_scatter(const fragment_plan *p, int f, const float *compact, float *full)
{
    const fragment *g = &p->f[f];
    for (int i = 0; i < g->n; i++) {
        memcpy(full + g->r[i].off, compact, g->r[i].len * sizeof(float));
        compact += g->r[i].len;
    }
}

int fragment_phase_steps(int T, int F, int j)
{
    return T / F + (j < T % F);
}

int fragment_phase_start(int T, int F, int j)
{
    return j * (T / F) + (j < T % F ? j : T % F);
}
