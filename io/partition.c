/* Dealing documents to clients (see partition.h).  Shuffles are
 * Fisher-Yates with photon_rng streams derived from the seed; Dirichlet
 * draws are normalised Gamma(alpha) variates (Marsaglia-Tsang). */
#include "io/partition.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAG_SHUFFLE 0x7368756666ULL   /* separate rng streams from other users of the seed */
#define TAG_DIRICHLET 0x6469726963ULL

void partition_source_name(const char *item, char *out, size_t n)
{
    const char *eq = strchr(item, '=');
    if (eq && memchr(item, '/', (size_t)(eq - item)) == NULL) {
        snprintf(out, n, "%.*s", (int)(eq - item), item);
        return;
    }
    const char *base = strrchr(item, '/');
    base = base ? base + 1 : item;
    snprintf(out, n, "%.*s", (int)strcspn(base, "."), base);
}

const char *partition_source_path(const char *item)
{
    const char *eq = strchr(item, '=');
    if (eq && memchr(item, '/', (size_t)(eq - item)) == NULL) return eq + 1;
    return item;
}

static void shuffle(int64_t *a, int64_t n, photon_rng *r)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int64_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

static double gamma_draw(photon_rng *r, double a)
{
    if (a < 1.0) {
        double u = rng_uniform(r);
        return gamma_draw(r, a + 1.0) * pow(u > 0 ? u : 1e-300, 1.0 / a);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(r), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u > 0 ? u : 1e-300) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

/* Deals docs[0..n), in their (shuffled) order, over the clients in
 * list[0..nl): each to the client with the fewest tokens so far, lowest id
 * on ties (a min-heap on (load, id)).  With documents of equal size this is
 * round robin; with real documents it evens out their lengths. */
static void deal(const int64_t *docs, int64_t n, const int *list, int nl, const int64_t *w, int32_t *client)
{
    typedef struct { int64_t load; int id; } slot;
    slot *h = xmalloc((size_t)nl * sizeof *h);
    for (int i = 0; i < nl; i++) h[i] = (slot){ 0, list[i] };   /* list is sorted: already a heap */
    for (int64_t i = 0; i < n; i++) {
        int64_t d = docs[i];
        client[d] = h[0].id;
        h[0].load += w ? w[d] : 1;
        /* sift the root down */
        slot x = h[0];
        int j = 0;
        for (;;) {
            int c = 2 * j + 1;
            if (c >= nl) break;
            if (c + 1 < nl && (h[c + 1].load < h[c].load || (h[c + 1].load == h[c].load && h[c + 1].id < h[c].id))) c++;
            if (h[c].load > x.load || (h[c].load == x.load && h[c].id > x.id)) break;
            h[j] = h[c];
            j = c;
        }
        h[j] = x;
    }
    free(h);
}

/* Parses "0-1+4" into a client mask; returns the number of clients set. */
static int parse_clients(const char *s, int nclients, char *mask)
{
    int count = 0;
    const char *p = s;
    do {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p) return -1;
        if (*end == '-') { p = end + 1; hi = strtol(p, &end, 10); if (end == p) return -1; }
        if (lo < 0 || hi < lo || hi >= nclients) return -1;
        for (long k = lo; k <= hi; k++) { count += !mask[k]; mask[k] = 1; }
        p = end;
    } while (*p == '+' && *++p);
    return *p ? -1 : count;
}

static int by_source(const partition_spec *p, int ns, const char *const *names, const int64_t *ndocs,
                     const int64_t *w, const int64_t *first, int32_t *client, int64_t *order, int64_t *nused,
                     photon_err *err)
{
    int n = p->nclients;
    char *mask = xcalloc((size_t)ns * (size_t)n, 1);
    int *list = xmalloc((size_t)n * sizeof *list);
    int rc = -1;
    if (p->assign && p->assign->n) {
        for (int i = 0; i < p->assign->n; i++) {
            const char *item = p->assign->item[i], *eq = strchr(item, '=');
            int s = 0;
            while (eq && s < ns && (strlen(names[s]) != (size_t)(eq - item) || strncmp(names[s], item, (size_t)(eq - item))))
                s++;
            if (!eq || s == ns) { err_set(err, "[data] assign: '%s' does not name a [data] sources item", item); goto out; }
            if (parse_clients(eq + 1, n, mask + (size_t)s * n) < 0) {
                err_set(err, "[data] assign: expected client ranges in [0, %d) like 0-1+4 (got '%s')", n, item);
                goto out;
            }
        }
    } else {
        /* no assign: pair sources and clients round robin */
        for (int k = 0; k < (n > ns ? n : ns); k++) mask[(size_t)(k % ns) * n + (k % n)] = 1;
    }
    *nused = 0;
    for (int s = 0; s < ns; s++) {
        int nl = 0;
        for (int k = 0; k < n; k++) if (mask[(size_t)s * n + k]) list[nl++] = k;
        if (!nl) { log_warn("[data] assign: source '%s' goes to no client; its documents are not used", names[s]); continue; }
        int64_t *docs = order + *nused;
        for (int64_t d = 0; d < ndocs[s]; d++) docs[d] = first[s] + d;
        photon_rng r;
        rng_derive(&r, p->seed, TAG_SHUFFLE, (uint64_t)s, 0);
        shuffle(docs, ndocs[s], &r);
        deal(docs, ndocs[s], list, nl, w, client);
        *nused += ndocs[s];
    }
    rc = 0;
out:
    free(list);
    free(mask);
    return rc;
}

static void dirichlet(const partition_spec *p, int ns, const int64_t *ndocs, const int64_t *first,
                      int32_t *client, int64_t *order, int64_t *nused)
{
    int n = p->nclients;
    double *mix = xmalloc((size_t)n * (size_t)ns * sizeof *mix);
    photon_rng r;
    rng_derive(&r, p->seed, TAG_DIRICHLET, 0, 0);
    for (int k = 0; k < n; k++) {
        double sum = 0;
        for (int s = 0; s < ns; s++) sum += mix[(size_t)k * ns + s] = gamma_draw(&r, p->alpha);
        for (int s = 0; s < ns; s++) mix[(size_t)k * ns + s] = sum > 0 ? mix[(size_t)k * ns + s] / sum : 1.0 / ns;
    }
    /* each source's documents in a shuffled queue */
    int64_t total = 0, **queue = xmalloc((size_t)ns * sizeof *queue), *head = xcalloc((size_t)ns, sizeof *head);
    for (int s = 0; s < ns; s++) {
        queue[s] = xmalloc((size_t)(ndocs[s] ? ndocs[s] : 1) * sizeof **queue);
        for (int64_t d = 0; d < ndocs[s]; d++) queue[s][d] = first[s] + d;
        photon_rng rs;
        rng_derive(&rs, p->seed, TAG_SHUFFLE, (uint64_t)s, 0);
        shuffle(queue[s], ndocs[s], &rs);
        total += ndocs[s];
    }
    for (int64_t i = 0; i < total; i++) {
        int k = (int)(i % n);
        const double *m = mix + (size_t)k * ns;
        double mass = 0;
        int left = 0;
        for (int s = 0; s < ns; s++) if (head[s] < ndocs[s]) { mass += m[s]; left++; }
        double u = rng_uniform(&r);
        int pick = -1;
        if (mass > 0) {
            double x = u * mass, acc = 0;
            for (int s = 0; s < ns; s++) {
                if (head[s] >= ndocs[s]) continue;
                pick = s;   /* the last available source also catches rounding */
                acc += m[s];
                if (x < acc) break;
            }
        } else {
            int j = (int)(u * left);
            for (int s = 0; s < ns; s++) if (head[s] < ndocs[s] && j-- == 0) { pick = s; break; }
        }
        int64_t d = queue[pick][head[pick]++];
        client[d] = k;
        order[i] = d;
    }
    *nused = total;
    for (int s = 0; s < ns; s++) free(queue[s]);
    free(queue);
    free(head);
    free(mix);
}

int partition_docs(const partition_spec *p, int ns, const char *const *names, const int64_t *ndocs,
                   const int64_t *w, int32_t *client, int64_t *order, int64_t *nused, photon_err *err)
{
    int64_t total = 0, *first = xmalloc((size_t)ns * sizeof *first);
    for (int s = 0; s < ns; s++) { first[s] = total; total += ndocs[s]; }
    for (int64_t d = 0; d < total; d++) client[d] = -1;
    int rc = 0;
    if (p->kind == PART_IID) {
        for (int64_t d = 0; d < total; d++) order[d] = d;
        photon_rng r;
        rng_derive(&r, p->seed, TAG_SHUFFLE, UINT64_MAX, 0);
        shuffle(order, total, &r);
        int *all = xmalloc((size_t)p->nclients * sizeof *all);
        for (int k = 0; k < p->nclients; k++) all[k] = k;
        deal(order, total, all, p->nclients, w, client);
        free(all);
        *nused = total;
    } else if (p->kind == PART_BY_SOURCE) {
        rc = by_source(p, ns, names, ndocs, w, first, client, order, nused, err);
    } else {
        dirichlet(p, ns, ndocs, first, client, order, nused);
    }
    free(first);
    if (rc) return -1;
    /* every client needs data */
    int64_t *per = xcalloc((size_t)p->nclients, sizeof *per);
    for (int64_t i = 0; i < *nused; i++) per[client[order[i]]]++;
    for (int k = 0; k < p->nclients; k++)
        if (!per[k]) {
            err_set(err, "[data] partition: client %d gets no documents (%d clients, %lld documents%s)", k,
                    p->nclients, (long long)total,
                    p->kind == PART_BY_SOURCE ? "; check [data] assign" : "; use fewer clients or more data");
            free(per);
            return -1;
        }
    free(per);
    return 0;
}
