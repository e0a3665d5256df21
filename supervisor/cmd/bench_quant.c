/* The cost of the link encodings (gpu/quant.h) next to memcpy of the same
 * fp32 buffer, and what they save on a link of a given speed (see
 * bench_quant.h).  Every figure is the best of --reps; memcpy runs in the
 * same rep, back to back, so the ratios are side by side on one machine. */
#include "supervisor/cmd/bench_quant.h"
#include "supervisor/cmd/bench_runtime.h"
#include "gpu/quant.h"
#include "io/common.h"
#include "io/config.h"
#include <stdlib.h>
#include <string.h>

static double best(double a, double b) { return a < b ? a : b; }

/* memcpy split over threads like the encodings, for a fair bandwidth. */
static void par_memcpy(float *dst, const float *src, size_t n, int threads)
{
    size_t chunk = (size_t)1 << 16, nchunks = (n + chunk - 1) / chunk;
    #pragma omp parallel for schedule(static) num_threads(threads) if (nchunks >= 8)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
        memcpy(dst + lo, src + lo, (hi - lo) * sizeof(float));
    }
}

static void bench_one(const char *name, size_t n, int threads, int reps, double mbps, int json)
{
    size_t bytes = n * sizeof(float);
    float *x = xmalloc_aligned(bytes + 64), *y = xmalloc_aligned(bytes + 64), *r = xmalloc_aligned(bytes + 64);
    uint8_t *enc = xmalloc_aligned(bytes + 64);
    photon_rng g;
    rng_seed(&g, 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(&g) * 1e-3);   /* pseudo-gradient-like */
    memset(y, 0, bytes);
    memset(r, 0, bytes);
    memset(enc, 0, bytes);
    double link_bps = mbps * 1e6 / 8;
    for (int k = QUANT_BF16; k < QUANT_COUNT; k++) {
        double mc1 = 1e30, mcN = 1e30, te = 1e30, tf = 1e30, td = 1e30;
        for (int rep = 0; rep < reps + 1; rep++) {   /* rep 0 warms up (page faults) */
            double t0 = time_mono();
            memcpy(y, x, bytes);
            double t1 = time_mono();
            par_memcpy(y, x, n, threads);
            double t2 = time_mono();
            quant_encode(k, x, n, enc, threads);
            double t3 = time_mono();
            quant_encode_ef(k, x, r, n, enc, threads);
            double t4 = time_mono();
            quant_decode(k, enc, n, y, threads);
            double t5 = time_mono();
            if (rep == 0) continue;
            mc1 = best(mc1, t1 - t0);
            mcN = best(mcN, t2 - t1);
            te = best(te, t3 - t2);
            tf = best(tf, t4 - t3);
            td = best(td, t5 - t4);
        }
        double mc = mc1 < mcN ? mc1 : mcN;   /* the faster memcpy */
        size_t eb = quant_bytes(k, n);
        /* on the link: the fp32 bytes take bytes / rate, the encoded eb / rate;
         * compression costs an encode (with feedback, the worst) and a decode */
        double saved = (double)(bytes - eb) / link_bps, cost = tf + td;
        if (json)
            printf("{\"size\":\"%s\",\"params\":%zu,\"encoding\":\"%s\",\"threads\":%d,\"bytes\":%zu,\"ratio\":%.4f,"
                   "\"memcpy_ms\":%.3f,\"memcpy_par_ms\":%.3f,\"encode_ms\":%.3f,\"encode_ef_ms\":%.3f,"
                   "\"decode_ms\":%.3f,\"encode_over_memcpy\":%.3f,\"encode_ef_over_memcpy\":%.3f,"
                   "\"decode_over_memcpy\":%.3f,\"link_mbps\":%g,\"link_saved_s\":%.6g,\"cost_s\":%.6g}\n",
                   name, n, quant_name(k), threads, eb, (double)bytes / (double)eb, mc1 * 1e3, mcN * 1e3, te * 1e3,
                   tf * 1e3, td * 1e3, te / mc, tf / mc, td / mc, mbps, saved, cost);
        else
            printf("%-7s %11zu %-5s %6.2fx %9.2f %9.2f %9.2f %9.2f %6.2fx %6.2fx %6.2fx %9.3f %9.3f\n", name, n,
                   quant_name(k), (double)bytes / (double)eb, mc * 1e3, te * 1e3, tf * 1e3, td * 1e3, te / mc, tf / mc,
                   td / mc, saved, cost);
        fflush(stdout);
    }
    free(x);
    free(y);
    free(r);
    free(enc);
}

static int usage(const char *msg)
{
    fprintf(stderr, "photon-sim: error: bench --runtime --quant: %s\n"
            "usage: photon-sim bench --runtime --quant [--sizes tiny,small,medium,125m] [--params N]\n"
            "       [--threads N] [--reps N] [--link-mbps M] [--json]\n", msg);
    return PHOTON_EXIT_USAGE;
}

int bench_quant_main(int argc, char **argv)
{
    const char *sizes = "tiny,small,medium,125m";
    long custom = 0, threads = 0, reps = 3, mbps = 1000;
    int json = 0;
    char m[300];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--params") ? &custom : !strcmp(a, "--threads") ? &threads
                  : !strcmp(a, "--reps") ? &reps : !strcmp(a, "--link-mbps") ? &mbps : NULL;
        if (!strcmp(a, "--runtime") || !strcmp(a, "--quant")) continue;
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--sizes")) {
            if (!v) return usage("--sizes needs a value");
            sizes = v;
            i++;
            continue;
        }
        if (!num) { snprintf(m, sizeof m, "unknown option '%s'", a); return usage(m); }
        if (!v) { snprintf(m, sizeof m, "%s needs a value", a); return usage(m); }
        char *end = NULL;
        *num = strtol(v, &end, 10);
        if (!*v || *end || *num < 0) {
            snprintf(m, sizeof m, "%s expects a non-negative integer, got '%s'", a, v);
            return usage(m);
        }
        i++;
    }
    if (reps < 1) reps = 1;
    if (mbps < 1) return usage("--link-mbps must be at least 1");
    int nt = cpu_threads((int)threads);
    if (!json) {
        printf("link encodings: %d threads, best of %ld; times in ms for the whole model, ratios over the faster memcpy;\n"
               "saved_s: what the encoding saves on a %ld Mbit/s link, cost_s: encode with feedback + decode\n",
               nt, reps, mbps);
        printf("%-7s %11s %-5s %7s %9s %9s %9s %9s %7s %7s %7s %9s %9s\n", "size", "params", "enc", "smaller",
               "memcpy", "encode", "enc_ef", "decode", "enc/mc", "ef/mc", "dec/mc", "saved_s", "cost_s");
    }
    if (custom > 0) {
        bench_one("custom", (size_t)custom, nt, (int)reps, (double)mbps, json);
        return 0;
    }
    char list[256];
    snprintf(list, sizeof list, "%s", sizes);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t n;
        if (bench_runtime_size(tok, &n) < 0) {
            snprintf(m, sizeof m, "unknown size '%s' (expected tiny, small, medium, 125m)", tok);
            return usage(m);
        }
        bench_one(tok, n, nt, (int)reps, (double)mbps, json);
    }
    return 0;
}
