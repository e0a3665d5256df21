/* The cost of the link encodings (gpu/quant.h) next to memcpy of the same
 * fp32 buffer, and what they save on a link of a given speed (see
 * bench_quant.h).  Every figure is the best of --reps; memcpy runs in the
 * same rep, back to back, so the ratios are side by side on one machine. */
#include "supervisor/cmd/bench_quant.h"
#include "supervisor/cmd/bench_runtime.h"
#include "gpu/quant.h"
#include "io/common.h"
#include "io/config.h"
#include <math.h>
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

/* GB/s of the fp32 side: what an encode reads, what a decode writes, what memcpy copies. */
static double gbps(size_t bytes, double secs) { return secs > 0 ? (double)bytes / secs / 1e9 : 0; }

static void bench_one(const char *name, size_t n, int threads, int reps, double mbps, int kernels, int json)
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
        for (int portable = kernels == 1; portable <= (kernels != 0); portable++) {
            quant_portable_kernels(portable);
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
            const char *kn = portable ? "portable" : QUANT_HAVE_AVX2 ? "avx2" : "portable";
            if (json)
                printf("{\"size\":\"%s\",\"params\":%zu,\"encoding\":\"%s\",\"kernels\":\"%s\",\"threads\":%d,"
                       "\"bytes\":%zu,\"ratio\":%.4f,\"memcpy_ms\":%.3f,\"memcpy_par_ms\":%.3f,\"encode_ms\":%.3f,"
                       "\"encode_ef_ms\":%.3f,\"decode_ms\":%.3f,\"memcpy_gbps\":%.3f,\"encode_gbps\":%.3f,"
                       "\"encode_ef_gbps\":%.3f,\"decode_gbps\":%.3f,\"encode_over_memcpy\":%.3f,"
                       "\"encode_ef_over_memcpy\":%.3f,\"decode_over_memcpy\":%.3f,\"link_mbps\":%g,"
                       "\"link_saved_s\":%.6g,\"cost_s\":%.6g}\n",
                       name, n, quant_name(k), kn, threads, eb, (double)bytes / (double)eb, mc1 * 1e3, mcN * 1e3,
                       te * 1e3, tf * 1e3, td * 1e3, gbps(bytes, mc), gbps(bytes, te), gbps(bytes, tf), gbps(bytes, td),
                       te / mc, tf / mc, td / mc, mbps, saved, cost);
            else
                printf("%-7s %11zu %-5s %-8s %6.2fx %7.2f %7.2f %7.2f %7.2f %6.2fx %6.2fx %6.2fx %8.3f %8.3f\n", name, n,
                       quant_name(k), kn, (double)bytes / (double)eb, gbps(bytes, mc), gbps(bytes, te), gbps(bytes, tf),
                       gbps(bytes, td), te / mc, tf / mc, td / mc, saved, cost);
            fflush(stdout);
        }
    }
    quant_portable_kernels(0);
    free(x);
    free(y);
    free(r);
    free(enc);
}

/* --digest: a hash of every encoding's bytes, decoded values and
 * error-feedback residuals over a fixed input (random values with zeros,
 * ±Inf, NaNs, subnormals, FLT_MAX; a partial last block), from both kernel
 * sets, which must agree.  Two builds print the same lines iff they encode
 * alike (tests/integration/portable_build.sh compares the portable build's
 * with the default one's). */
static int digest(void)
{
    const size_t n = ((size_t)15 << 16) + 37;
    float *x = xmalloc(n * sizeof(float)), *r = xmalloc(n * sizeof(float)), *d = xmalloc(n * sizeof(float));
    uint8_t *enc = xmalloc(n * sizeof(float));
    static const uint32_t special[] = { 0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                        0x7f800001u, 0x7f7fffffu, 0x00000001u, 0x00800000u, 0x3e800000u };
    uint64_t st = 42;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = splitmix64(&st);
        if (u % 4096 == 0) memcpy(&x[i], &special[u / 4096 % 10], 4);
        else x[i] = (float)(((double)(u >> 11) / 9007199254740992.0 - 0.5) * ldexp(1, (int)(u % 30) - 15));
    }
    int rc = 0;
    for (int k = QUANT_BF16; k < QUANT_COUNT; k++) {
        uint64_t h[2];
        for (int portable = 0; portable < 2; portable++) {
            quant_portable_kernels(portable);
            uint64_t v = HASH64_INIT;
            quant_encode(k, x, n, enc, 0);
            v = hash64(enc, quant_bytes(k, n), v);
            quant_decode(k, enc, n, d, 0);
            v = hash64(d, n * sizeof(float), v);
            for (size_t i = 0; i < n; i++) r[i] = x[(i * 7) % n] * 1e-3f;
            quant_encode_ef(k, x, r, n, enc, 0);
            v = hash64(enc, quant_bytes(k, n), v);
            h[portable] = hash64(r, n * sizeof(float), v);
        }
        printf("digest %-5s %016llx\n", quant_name(k), (unsigned long long)h[0]);
        if (h[0] != h[1]) {
            fprintf(stderr, "photon-sim: error: %s: the %s kernels and the portable ones differ (%016llx vs %016llx)\n",
                    quant_name(k), QUANT_HAVE_AVX2 ? "avx2" : "default", (unsigned long long)h[0], (unsigned long long)h[1]);
            rc = 1;
        }
    }
    quant_portable_kernels(0);
    free(x); free(r); free(d); free(enc);
    return rc;
}

static int usage(const char *msg)
{
    fprintf(stderr, "photon-sim: error: bench --runtime --quant: %s\n"
            "usage: photon-sim bench --runtime --quant [--sizes tiny,small,medium,125m] [--params N]\n"
            "       [--threads N] [--reps N] [--link-mbps M] [--kernels default|portable|both] [--json]\n"
            "       photon-sim bench --runtime --quant --digest\n", msg);
    return PHOTON_EXIT_USAGE;
}

int bench_quant_main(int argc, char **argv)
{
    const char *sizes = "tiny,small,medium,125m";
    long custom = 0, threads = 0, reps = 3, mbps = 1000;
    int json = 0, kernels = 0;   /* 0 default, 1 portable, 2 both */
    char m[300];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--params") ? &custom : !strcmp(a, "--threads") ? &threads
                  : !strcmp(a, "--reps") ? &reps : !strcmp(a, "--link-mbps") ? &mbps : NULL;
        if (!strcmp(a, "--runtime") || !strcmp(a, "--quant")) continue;
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--digest")) return digest();
        if (!strcmp(a, "--kernels")) {
            if (!v || (strcmp(v, "default") && strcmp(v, "portable") && strcmp(v, "both")))
                return usage("--kernels takes default, portable or both");
            kernels = !strcmp(v, "portable") ? 1 : !strcmp(v, "both") ? 2 : 0;
            i++;
            continue;
        }
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
        printf("link encodings: %d threads, best of %ld; GB/s of fp32 (what memcpy copies, an encode reads, a decode\n"
               "writes); x/mc: time of x over the faster memcpy's (under 1: faster than copying the fp32 model);\n"
               "saved_s: what the encoding saves on a %ld Mbit/s link, cost_s: encode with feedback + decode\n",
               nt, reps, mbps);
        printf("%-7s %11s %-5s %-8s %7s %7s %7s %7s %7s %7s %7s %7s %8s %8s\n", "size", "params", "enc", "kernels",
               "smaller", "memcpy", "encode", "enc_ef", "decode", "enc/mc", "ef/mc", "dec/mc", "saved_s", "cost_s");
    }
    if (custom > 0) {
        bench_one("custom", (size_t)custom, nt, (int)reps, (double)mbps, kernels, json);
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
        bench_one(tok, n, nt, (int)reps, (double)mbps, kernels, json);
    }
    return 0;
}
