/* The simulated round of the network model (netmodel.h): max-min fair
 * sharing of the aggregator's link, the federated round built on it, and
 * per-step ring all-reduce.  Plain arithmetic on seconds and bytes, no
 * state: the runtime's clock and `photon-sim plan` both call it. */
#include "supervisor/netmodel.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"

typedef struct { double key; int i; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->i - y->i;
}

/* Water-filling: the rates of the active flows act[0..m) (kept in
 * ascending order of their caps) on capacity cap: flows whose cap is under
 * the fair share get their cap, the rest share what is left equally. */
static void fill_rates(double cap, int m, const int *act, const double *rate, double *r)
{
    double left = cap;
    int j = 0;
    for (; j < m; j++) {
        double share = left / (m - j);
        if (rate[act[j]] > share) break;
        r[act[j]] = rate[act[j]];
        left -= rate[act[j]];
    }
    for (int q = j; q < m; q++) r[act[q]] = left / (m - j);
}

void netsim_share(double cap, int n, const double *enter, const double *bytes, const double *rate, double *leave)
{
    if (n <= 0) return;
    if (cap <= 0) {
        for (int i = 0; i < n; i++) leave[i] = enter[i] + (bytes[i] > 0 ? bytes[i] / rate[i] : 0);
        return;
    }
    keyed *order = xmalloc((size_t)n * sizeof *order);
    double *rem = xmalloc((size_t)n * sizeof *rem), *r = xmalloc((size_t)n * sizeof *r);
    int *act = xmalloc((size_t)n * sizeof *act);
    for (int i = 0; i < n; i++) { order[i] = (keyed){ enter[i], i }; rem[i] = bytes[i]; }
    qsort(order, (size_t)n, sizeof *order, cmp_keyed);
    int next = 0, m = 0;
    double t = order[0].key;
    while (next < n || m > 0) {
        /* flows entering now join (zero-byte ones pass at once) */
        while (next < n && order[next].key <= t) {
            int i = order[next++].i;
            if (!(rem[i] > 0)) { leave[i] = enter[i]; continue; }
            int j = m++;   /* insert keeping act sorted by cap: O(n^2) over the whole run */
            while (j > 0 && rate[act[j - 1]] > rate[i]) { act[j] = act[j - 1]; j--; }
            act[j] = i;
        }
        if (m == 0) { if (next < n) t = order[next].key; continue; }
        fill_rates(cap, m, act, rate, r);
        double dt = INFINITY;
        int first = -1;
        for (int j = 0; j < m; j++) {
            double d = rem[act[j]] / r[act[j]];
            if (d < dt) { dt = d; first = j; }
        }
        if (next < n && order[next].key - t < dt) { dt = order[next].key - t; first = -1; }
        t += dt;
        /* advance every flow; the one that set dt ends exactly, others
         * within rounding of their size end with it */
        int w = 0;
        for (int j = 0; j < m; j++) {
            int i = act[j];
            rem[i] -= r[i] * dt;
            if (j == first || rem[i] <= 1e-12 * bytes[i]) leave[i] = t;
            else act[w++] = i;
        }
        m = w;
    }
    free(order); free(rem); free(r); free(act);
}

void netsim_round(int k, const netsim_client *c, double server_bw, double timeout, double outer,
                  netsim_result *out, netsim_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    if (k <= 0) { sum->seconds = outer; return; }
    double *enter = xmalloc((size_t)k * sizeof(double)), *bytes = xmalloc((size_t)k * sizeof(double));
    double *rate = xmalloc((size_t)k * sizeof(double)), *leave = xmalloc((size_t)k * sizeof(double));
    /* downloads leave the aggregator at once and share its egress; the last
     * byte reaches the client one latency after it left */
    for (int i = 0; i < k; i++) {
        enter[i] = 0;
        bytes[i] = c[i].down_bytes * NET_WIRE_OVERHEAD;
        rate[i] = c[i].link.bw;
    }
    netsim_share(server_bw, k, enter, bytes, rate, leave);
    for (int i = 0; i < k; i++) {
        out[i].down_done = leave[i] + c[i].link.lat;
        double ready = c[i].ready, down = out[i].down_done;
        out[i].compute_done = c[i].compute < 0 ? NAN
                              : c[i].overlap ? fmax(ready + c[i].compute, down)   /* merges the download at the end */
                                             : fmax(ready, down) + c[i].compute;
        out[i].up_done = out[i].upload = NAN;
        out[i].late = 0;
    }
    /* uploads start when compute ends and share the aggregator's ingress
     * from when their first byte arrives (one latency later); a failed
     * task uploads nothing */
    int nu = 0;
    int *idx = xmalloc((size_t)k * sizeof(int));
    for (int i = 0; i < k; i++) {
        if (c[i].compute < 0) continue;
        enter[nu] = out[i].compute_done + c[i].link.lat;
        bytes[nu] = c[i].up_bytes * NET_WIRE_OVERHEAD;
        rate[nu] = c[i].link.bw;
        idx[nu++] = i;
    }
    netsim_share(server_bw, nu, enter, bytes, rate, leave);
    keyed *arr = xmalloc((size_t)(nu > 0 ? nu : 1) * sizeof *arr);
    int na = 0;
    for (int j = 0; j < nu; j++) {
        int i = idx[j];
        out[i].up_done = leave[j];
        out[i].upload = leave[j] - out[i].compute_done;
        out[i].late = timeout > 0 && leave[j] > timeout;
        if (out[i].late) sum->late++;
        else arr[na++] = (keyed){ leave[j], i };
    }
    sum->on_time = na;
    for (int i = 0; i < k; i++) {
        if (out[i].down_done > sum->download_max) sum->download_max = out[i].down_done;
        if (c[i].compute > sum->compute_max) sum->compute_max = c[i].compute;
        if (c[i].compute >= 0 && out[i].up_done - out[i].compute_done > sum->upload_max)
            sum->upload_max = out[i].up_done - out[i].compute_done;
    }
    /* the aggregator adds updates one at a time as they arrive */
    qsort(arr, (size_t)na, sizeof *arr, cmp_keyed);
    double busy = 0;
    for (int j = 0; j < na; j++) {
        sum->last_arrival = arr[j].key;
        busy = (busy > arr[j].key ? busy : arr[j].key) + c[arr[j].i].add;
    }
    sum->agg_done = busy;
    /* with a late client it cannot know until the deadline that no more will come */
    double end = busy;
    if (sum->late > 0 && timeout > end) end = timeout;
    sum->seconds = end + outer;
    free(enter); free(bytes); free(rate); free(leave); free(idx); free(arr);
}

double netsim_allreduce(int n, const net_client *w, const double *compute, double payload, int steps, double *period)
{
    if (period) *period = 0;
    if (n <= 0 || steps <= 0) return 0;
    if (n == 1) {
        if (period) *period = compute[0];
        return steps * compute[0];
    }
    /* Max-plus recursion over the ring: rank i forwards phase p as soon as
     * it has received phase p - 1 (phase 0: when its compute is done); hop
     * i -> i+1 carries one phase at a time (tx) and delivers it lat later.
     * After a few steps the ring settles into a period; the rest of the
     * steps are extrapolated with it (the recursion is O(n^2) per step). */
    int phases = 2 * (n - 1);
    double chunk = payload * NET_WIRE_OVERHEAD / n;
    double *tx = xmalloc((size_t)n * sizeof(double)), *lat = xmalloc((size_t)n * sizeof(double));
    double *busy = xcalloc((size_t)n, sizeof(double)), *recv = xmalloc((size_t)n * sizeof(double));
    double *start = xmalloc((size_t)n * sizeof(double)), *done = xcalloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) {
        const net_client *a = &w[i], *b = &w[(i + 1) % n];
        tx[i] = chunk / (a->bw < b->bw ? a->bw : b->bw);
        lat[i] = a->lat + b->lat;
    }
    int sim = steps < 8 ? steps : 8;
    double end = 0, prev_end = 0, prev_per = -1;
    for (int s = 0; s < sim; s++) {
        for (int i = 0; i < n; i++) start[i] = done[i] + compute[i];
        for (int p = 0; p < phases; p++) {
            for (int i = 0; i < n; i++) {
                double x = start[i] > busy[i] ? start[i] : busy[i];   /* hop i -> i+1 free */
                busy[i] = x + tx[i];
                recv[(i + 1) % n] = busy[i] + lat[i];
            }
            memcpy(start, recv, (size_t)n * sizeof(double));
        }
        prev_end = end;
        end = 0;
        for (int i = 0; i < n; i++) { done[i] = recv[i]; if (recv[i] > end) end = recv[i]; }
        /* settled: two steps of the same length (alike links do it at once) */
        double per = end - prev_end;
        if (s >= 1 && fabs(per - prev_per) <= 1e-12 * per) { sim = s + 1; break; }
        prev_per = per;
    }
    double per = end - prev_end;
    if (period) *period = per;
    free(tx); free(lat); free(busy); free(recv); free(start); free(done);
    return end + (steps - sim) * per;
}
