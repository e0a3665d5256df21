/* Deterministic, multithreaded aggregation of pseudo-gradients in client-id
 * order, with finiteness and norm checks.  See aggregate.h for why the order
 * is fixed and how weights and the norm reference are defined. */
#include "supervisor/aggregate.h"
#include "gpu/vecops.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct agg {
    size_t n;                     /* elements of this round's updates (≤ cap_n) */
    size_t cap_n;
    int threads;
    float *sum;
    int have_sum;                 /* sum initialised this round */
    int k;                        /* clients this round */
    int cap;
    agg_record *rec;              /* sorted by client id */
    int next;                     /* index into rec of the next client to add */
    double total_samples;         /* S: all sampled clients */
    double reject_norm;
    double reference;             /* previous completed round's median; 0 = none */
    double *norms;                /* accepted norms of this round (scratch) */
    int n_norms;
    double *sorted;               /* median scratch */
    int finished;                 /* agg_finish ran for this round */
    agg_summary last;             /* its summary, for a repeated call */
};

agg *agg_create(size_t n_params, int threads)
{
    agg *a = xcalloc(1, sizeof *a);
    a->n = a->cap_n = n_params;
    a->threads = cpu_threads(threads);
    a->sum = xmalloc_aligned(n_params * sizeof(float) + 64);
    return a;
}

void agg_free(agg *a)
{
    if (!a) return;
    free(a->sum);
    free(a->rec);
    free(a->norms);
    free(a->sorted);
    free(a);
}

size_t agg_params(const agg *a) { return a->n; }

int agg_set_length(agg *a, size_t n)
{
    if (n == 0 || n > a->cap_n) return -1;
    a->n = n;
    return 0;
}
double agg_reference(const agg *a) { return a->reference; }
void agg_set_reference(agg *a, double median) { a->reference = median > 0 && isfinite(median) ? median : 0; }

const char *agg_verdict_name(agg_verdict v)
{
    switch (v) {
    case AGG_PENDING: return "pending";
    case AGG_ACCEPTED: return "accepted";
    case AGG_REJECT_NONFINITE: return "rejected_nonfinite";
    case AGG_REJECT_NORM: return "rejected_norm";
    case AGG_FAILED: return "failed";
    }
    return "?";
}

static int cmp_rec(const void *x, const void *y)
{
    int a = ((const agg_record *)x)->client, b = ((const agg_record *)y)->client;
    return (a > b) - (a < b);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Sorts v in place and returns its median (0 for none). */
static double median_inplace(double *v, int n)
{
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int agg_begin(agg *a, int n, const int *clients, const double *samples,
              double reject_norm, photon_err *err)
{
    if (n < 1) { err_set(err, "aggregate: a round needs at least one client (got %d)", n); return -1; }
    if (n > a->cap) {
        free(a->rec); free(a->norms); free(a->sorted);
        a->rec = xcalloc((size_t)n, sizeof *a->rec);
        a->norms = xcalloc((size_t)n + 1, sizeof(double));
        a->sorted = xcalloc((size_t)n + 1, sizeof(double));
        a->cap = n;
    }
    double total = 0;
    for (int i = 0; i < n; i++) {
        if (!(samples[i] > 0) || !isfinite(samples[i])) {
            err_set(err, "aggregate: client %d has sample count %g (expected > 0)", clients[i], samples[i]);
            return -1;
        }
        a->rec[i] = (agg_record){ .client = clients[i], .verdict = AGG_PENDING,
                                  .samples = samples[i], .norm = 0, .first_bad = -1 };
    }
    qsort(a->rec, (size_t)n, sizeof *a->rec, cmp_rec);
    for (int i = 1; i < n; i++)
        if (a->rec[i].client == a->rec[i - 1].client) {
            err_set(err, "aggregate: client %d sampled twice in one round", a->rec[i].client);
            return -1;
        }
    /* S summed in sorted order, so it never depends on the caller's order */
    for (int i = 0; i < n; i++) total += a->rec[i].samples;
    for (int i = 0; i < n; i++) a->rec[i].weight = a->rec[i].samples / total;
    a->k = n;
    a->next = 0;
    a->total_samples = total;
    a->reject_norm = reject_norm > 0 ? reject_norm : 0;
    a->have_sum = 0;
    a->n_norms = 0;
    a->finished = 0;
    return 0;
}

static void skip_done(agg *a)
{
    while (a->next < a->k && a->rec[a->next].verdict != AGG_PENDING) a->next++;
}

int agg_next(const agg *a)
{
    for (int i = a->next; i < a->k; i++)
        if (a->rec[i].verdict == AGG_PENDING) return a->rec[i].client;
    return -1;
}

static agg_record *find(agg *a, int client)
{
    agg_record key = { .client = client };
    return bsearch(&key, a->rec, (size_t)a->k, sizeof key, cmp_rec);
}

int agg_fail(agg *a, int client, photon_err *err)
{
    agg_record *r = find(a, client);
    if (!r) { err_set(err, "aggregate: client %d is not in this round", client); return -1; }
    if (r->verdict != AGG_PENDING) {
        err_set(err, "aggregate: client %d already %s", client, agg_verdict_name(r->verdict));
        return -1;
    }
    r->verdict = AGG_FAILED;
    skip_done(a);
    return 0;
}

static int add_update(agg *a, int client, const float *update, const double *known_norm,
                      agg_record *out, photon_err *err)
{
    skip_done(a);
    if (a->next >= a->k || a->rec[a->next].client != client) {
        if (!find(a, client)) err_set(err, "aggregate: client %d is not in this round", client);
        else err_set(err, "aggregate: update of client %d added out of order (expected client %d)",
                     client, agg_next(a));
        return -1;
    }
    agg_record *r = &a->rec[a->next];
    r->first_bad = -1;
    if (known_norm && !(*known_norm < 0))   /* NaN and Inf included: non-finite */
        r->norm = isfinite(*known_norm) ? *known_norm : NAN;
    else                                     /* none given, or < 0: unknown */
        r->norm = vec_norm(update, a->n, a->threads, &r->first_bad);
    r->ref_norm = 0;
    if (isnan(r->norm)) {
        r->verdict = AGG_REJECT_NONFINITE;
    } else {
        if (a->reject_norm > 0) {
            /* reference: this round's accepted norms plus last round's median */
            int m = a->n_norms;
            memcpy(a->sorted, a->norms, (size_t)m * sizeof(double));
            if (a->reference > 0) a->sorted[m++] = a->reference;
            r->ref_norm = median_inplace(a->sorted, m);
        }
        if (r->ref_norm > 0 && r->norm > a->reject_norm * r->ref_norm) {
            r->verdict = AGG_REJECT_NORM;
        } else {
            vec_axpy(a->sum, update, (float)r->weight, a->n, !a->have_sum, a->threads);
            a->have_sum = 1;
            a->norms[a->n_norms++] = r->norm;
            r->verdict = AGG_ACCEPTED;
        }
    }
    a->next++;
    skip_done(a);
    if (out) *out = *r;
    return 0;
}

int agg_add(agg *a, int client, const float *update, agg_record *rec, photon_err *err)
{
    return add_update(a, client, update, NULL, rec, err);
}

int agg_add_norm(agg *a, int client, const float *update, double norm,
                 agg_record *rec, photon_err *err)
{
    return add_update(a, client, update, &norm, rec, err);
}

const float *agg_finish(agg *a, agg_summary *s)
{
    if (a->finished) {   /* a repeated call must not rescale again */
        if (s) *s = a->last;
        return a->have_sum ? a->sum : NULL;
    }
    a->finished = 1;
    agg_summary z = { .sampled = a->k };
    for (int i = 0; i < a->k; i++) {
        agg_record *r = &a->rec[i];
        if (r->verdict == AGG_PENDING) r->verdict = AGG_FAILED;
        if (r->verdict == AGG_ACCEPTED) { z.accepted++; z.samples_accepted += r->samples; }
        else if (r->verdict == AGG_FAILED) z.failed++;
        else z.rejected++;
    }
    a->next = a->k;
    memcpy(a->sorted, a->norms, (size_t)a->n_norms * sizeof(double));
    z.median_norm = median_inplace(a->sorted, a->n_norms);
    a->last = z;
    if (s) *s = z;
    if (!a->have_sum) return NULL;
    a->reference = z.median_norm;
    if (z.samples_accepted != a->total_samples) {
        float f = (float)(a->total_samples / z.samples_accepted);
        vec_scale(a->sum, f, a->n, a->threads);
    }
    return a->sum;
}

const agg_record *agg_records(const agg *a, int *n)
{
    *n = a->k;
    return a->rec;
}
