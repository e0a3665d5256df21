/* Runtime-cost bench (see bench_runtime.h).  Every figure is the best of
 * --reps runs, and each rep measures memcpy, aggregation and the outer step
 * back to back on the same buffers, so the ratios are side by side on one
 * machine.  Bandwidths count the update bytes a step consumes (K x model
 * bytes for aggregation and memcpy, model bytes for the outer step). */
#include "supervisor/cmd/bench_runtime.h"
#include "supervisor/cmd/bench_quant.h"
#include "supervisor/aggregate.h"
#include "gpu/vecops.h"
#include "supervisor/outer_opt.h"
#include "io/common.h"
#include "io/config.h"
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; int L, C, V, T; } bench_size;

/* GPT-2 shapes; parameters = V·C + T·C + L·(12C² + 13C) + 2C. */
static const bench_size SIZES[] = {
    { "tiny",   2,  64,   512,  128 },   /* the test model's order of size */
    { "small",  4, 256, 50257,  256 },
    { "medium", 6, 512, 50257,  512 },
    { "125m",  12, 768, 50257, 1024 },   /* GPT-2 124M */
};
#define N_SIZES (sizeof SIZES / sizeof SIZES[0])

static size_t gpt2_params_of(const bench_size *s)
{
    size_t C = (size_t)s->C;
    return (size_t)s->V * C + (size_t)s->T * C + (size_t)s->L * (12 * C * C + 13 * C) + 2 * C;
}

int bench_runtime_size(const char *name, size_t *params)
{
    for (size_t i = 0; i < N_SIZES; i++)
        if (!strcmp(SIZES[i].name, name)) { *params = gpt2_params_of(&SIZES[i]); return 0; }
    return -1;
}

/* memcpy split over threads like the aggregation, for a fair bandwidth. */
static void par_memcpy(float *dst, const float *src, size_t n, int threads)
{
    size_t chunk = (size_t)1 << 16, nchunks = (n + chunk - 1) / chunk;
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
        memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
    }
}

typedef struct {
    double memcpy1, memcpyN, agg, aggpre, norm, axpy, outer;   /* best seconds */
} bench_times;

static double best(double a, double b) { return a < b ? a : b; }

static void bench_one(const char *name, size_t n, int k, int threads, int reps, int json)
{
    size_t bytes = n * sizeof(float);
    /* distinct update buffers up to 1 GiB in all, else 2 reused (at those
     * sizes they are far larger than any cache, so reuse changes nothing) */
    int nbuf = (double)bytes * k <= (double)(1u << 30) ? k : 2;
    float *upd[64], *theta = xmalloc_aligned(bytes + 64), *dst = xmalloc_aligned(bytes + 64);
    photon_rng g;
    rng_seed(&g, 1);
    for (int b = 0; b < nbuf; b++) {
        upd[b] = xmalloc_aligned(bytes + 64);
        for (size_t i = 0; i < n; i++) upd[b][i] = (float)(rng_uniform(&g) - 0.5) * 1e-3f;
    }
    for (size_t i = 0; i < n; i++) theta[i] = 0.01f;
    memset(dst, 0, bytes);
    photon_err e;
    agg *a = agg_create(n, threads);
    outer_opt *o = outer_opt_create(STRAT_NESTEROV, 0.7, 0.9, n, threads, &e);
    int *clients = xmalloc((size_t)k * sizeof(int));
    double *samples = xmalloc((size_t)k * sizeof(double));
    for (int c = 0; c < k; c++) { clients[c] = c; samples[c] = 1000 + c; }
    bench_times t = { 1e30, 1e30, 1e30, 1e30, 1e30, 1e30, 1e30 };
    double norms[64];
    for (int b = 0; b < nbuf; b++) norms[b] = vec_norm(upd[b], n, threads, NULL);
    for (int r = 0; r < reps + 1; r++) {       /* rep 0 warms up (page faults) */
        double t0 = time_mono();
        for (int c = 0; c < k; c++) memcpy(dst, upd[c % nbuf], bytes);
        double t1 = time_mono();
        for (int c = 0; c < k; c++) par_memcpy(dst, upd[c % nbuf], n, threads);
        double t2 = time_mono();
        agg_begin(a, k, clients, samples, 10.0, &e);
        for (int c = 0; c < k; c++) agg_add(a, c, upd[c % nbuf], NULL, &e);
        const float *delta = agg_finish(a, NULL);
        double t3 = time_mono();
        outer_opt_step(o, theta, delta);
        double t4 = time_mono();
        for (int c = 0; c < k; c++) (void)vec_norm(upd[c % nbuf], n, threads, NULL);
        double t5 = time_mono();
        for (int c = 0; c < k; c++) vec_axpy(dst, upd[c % nbuf], 0.125f, n, c == 0, threads);
        double t6 = time_mono();
        agg_begin(a, k, clients, samples, 10.0, &e);
        for (int c = 0; c < k; c++) agg_add_norm(a, c, upd[c % nbuf], norms[c % nbuf], NULL, &e);
        (void)agg_finish(a, NULL);
        double t7 = time_mono();
        if (r == 0) continue;
        t.aggpre = best(t.aggpre, t7 - t6);
        t.memcpy1 = best(t.memcpy1, t1 - t0);
        t.memcpyN = best(t.memcpyN, t2 - t1);
        t.agg = best(t.agg, t3 - t2);
        t.outer = best(t.outer, t4 - t3);
        t.norm = best(t.norm, t5 - t4);
        t.axpy = best(t.axpy, t6 - t5);
    }
    double gb = (double)bytes * k / 1e9;
    double mc = gb / t.memcpy1, mcN = gb / t.memcpyN, ag = gb / t.agg;
    double ref = mc > mcN ? mc : mcN;   /* compare with the faster memcpy */
    if (json) {
        printf("{\"size\":\"%s\",\"params\":%zu,\"clients\":%d,\"threads\":%d,\"buffers\":%d,"
               "\"memcpy_gbps\":%.3f,\"memcpy_par_gbps\":%.3f,\"agg_gbps\":%.3f,"
               "\"agg_prenorm_gbps\":%.3f,\"norm_gbps\":%.3f,\"axpy_gbps\":%.3f,\"memcpy_over_agg\":%.3f,"
               "\"memcpy_over_agg_prenorm\":%.3f,\"agg_ms\":%.3f,\"outer_ms\":%.3f,\"round_ms\":%.3f}\n",
               name, n, k, threads, nbuf, mc, mcN, ag, gb / t.aggpre, gb / t.norm, gb / t.axpy, ref / ag,
               ref / (gb / t.aggpre),
               t.agg * 1e3, t.outer * 1e3, (t.agg + t.outer) * 1e3);
    } else {
        printf("%-7s %11zu %3d %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %7.2fx %7.2fx %9.3f %9.3f %9.3f\n",
               name, n, nbuf, mc, mcN, ag, gb / t.aggpre, gb / t.norm, gb / t.axpy, ref / ag,
               ref / (gb / t.aggpre),
               t.agg * 1e3, t.outer * 1e3, (t.agg + t.outer) * 1e3);
    }
    fflush(stdout);
    agg_free(a);
    outer_opt_free(o);
    for (int b = 0; b < nbuf; b++) free(upd[b]);
    free(theta);
    free(dst);
    free(clients);
    free(samples);
}

static int usage(const char *msg)
{
    fprintf(stderr, "photon-sim: error: bench --runtime: %s\n"
            "usage: photon-sim bench --runtime [--sizes tiny,small,medium,125m] [--params N]\n"
            "       [--clients K] [--threads N] [--reps N] [--json]\n", msg);
    return PHOTON_EXIT_USAGE;
}

int bench_runtime_main(int argc, char **argv)
{
    const char *sizes = "tiny,small,medium,125m";
    long custom = 0, k = 8, threads = 0, reps = 3;
    int json = 0;
    char m[300];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quant")) return bench_quant_main(argc, argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--params") ? &custom : !strcmp(a, "--clients") ? &k
                  : !strcmp(a, "--threads") ? &threads : !strcmp(a, "--reps") ? &reps : NULL;
        if (!strcmp(a, "--runtime")) continue;
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--sizes")) {
            if (!v) return usage("--sizes needs a value");
            sizes = v;
            i++;
            continue;
        }
        if (!num) {
            snprintf(m, sizeof m, "unknown option '%s'", a);
            return usage(m);
        }
        if (!v) {
            snprintf(m, sizeof m, "%s needs a value", a);
            return usage(m);
        }
        char *end = NULL;
        *num = strtol(v, &end, 10);
        if (!*v || *end || *num < 0) {
            snprintf(m, sizeof m, "%s expects a non-negative integer, got '%s'", a, v);
            return usage(m);
        }
        i++;
    }
    if (k < 1 || k > 64) return usage("--clients must be 1..64");
    if (reps < 1) reps = 1;
    const bench_size *sel[16];
    int nsel = 0;
    char list[256];
    snprintf(list, sizeof list, "%s", sizes);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const bench_size *s = NULL;
        for (size_t i = 0; i < N_SIZES; i++)
            if (!strcmp(SIZES[i].name, tok)) s = &SIZES[i];
        if (!s || nsel == 16) {
            snprintf(m, sizeof m, "unknown size '%s' (expected tiny, small, medium, 125m)", tok);
            return usage(m);
        }
        sel[nsel++] = s;
    }
    int nt = cpu_threads((int)threads);
    if (!json) {
        printf("runtime cost per round: %ld updates, %d threads, best of %ld; GB/s of update bytes\n",
               k, nt, reps);
        printf("%-7s %11s %3s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s %9s\n", "size", "params", "buf",
               "memcpy", "memcpyN", "agg", "agg_pre", "norm", "axpy", "mc/agg", "mc/pre", "agg_ms", "outer_ms", "round_ms");
        printf("(memcpy: one thread; memcpyN: split over the threads; agg: norm check + weighted add;\n"
               " agg_pre: weighted add with producer-computed norms; mc/x: the faster memcpy over x)\n");
    }
    if (custom > 0) {
        bench_one("custom", (size_t)custom, (int)k, nt, (int)reps, json);
        return 0;
    }
    for (int i = 0; i < nsel; i++)
        bench_one(sel[i]->name, gpt2_params_of(sel[i]), (int)k, nt, (int)reps, json);
    return 0;
}
