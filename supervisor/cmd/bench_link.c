/* Link and dispatch bench (see supervisor/cmd/bench_link.h).  Every figure is
 * the best of --reps, measured back to back with memcpy on buffers of the
 * same size, so the ratios compare like with like on one machine.  GB/s
 * counts the model-sized bytes each step touches once. */
#include "supervisor/cmd/bench_link.h"
#include "supervisor/cmd/bench_tcp.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "proto/protocol.h"
#include "io/config.h"
#include "io/link.h"
#include "io/proc.h"
#include "supervisor/aggregate.h"
#include "gpu/vecops.h"
#include "supervisor/outer_opt.h"

typedef struct { const char *name; int L, C, V, T; } size_preset;
static const size_preset SIZES[] = {
    { "tiny", 2, 64, 512, 128 }, { "small", 4, 256, 50257, 256 },
    { "medium", 6, 512, 50257, 512 }, { "125m", 12, 768, 50257, 1024 },
};

static size_t params_of(const size_preset *s)
{
    size_t C = (size_t)s->C;
    return (size_t)s->V * C + (size_t)s->T * C + (size_t)s->L * (12 * C * C + 13 * C) + 2 * C;
}

/* ---- dispatch round trip ------------------------------------------------- */

typedef struct { proc_loop *loop; int got; } rtt_state;

static void echo_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)arg; (void)len;
    if (type != MSG_TASK) return;
    msg_result r = { .task_id = ((const msg_task *)payload)->task_id };
    proc_peer_send(p, MSG_RESULT, &r, sizeof r);
}

static void echo_close(proc_peer *p, const char *reason, void *arg) { (void)p; (void)reason; proc_loop_exit(arg); }

static void rtt_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)p; (void)type; (void)payload; (void)len;
    rtt_state *s = arg;
    s->got = 1;
    proc_loop_exit(s->loop);
}

static void rtt_close(proc_peer *p, const char *reason, void *arg) { (void)p; (void)reason; proc_loop_exit(((rtt_state *)arg)->loop); }

/* Microseconds per task/result round trip (median-free: best of batches). */
static double dispatch_rtt(int n)
{
    photon_err err;
    int fd;
    pid_t pid = proc_fork(&fd, &err);
    if (pid < 0) return -1;
    if (pid == 0) {
        proc_loop *l = proc_loop_new(&err);
        proc_peer *p = proc_peer_new(l, fd, "bench", echo_msg, echo_close, l);
        proc_loop_run(l);
        proc_peer_free(p);
        _exit(0);
    }
    proc_loop *l = proc_loop_new(&err);
    rtt_state s = { .loop = l };
    proc_peer *p = proc_peer_new(l, fd, "echo", rtt_msg, rtt_close, &s);
    msg_task t;
    memset(&t, 0, sizeof t);
    double best = 1e30;
    for (int batch = 0; batch < 3; batch++) {
        double t0 = time_mono();
        for (int i = 0; i < n; i++) {
            t.task_id = (uint64_t)i;
            s.got = 0;
            proc_peer_send(p, MSG_TASK, &t, sizeof t);
            while (!s.got && !proc_peer_closed(p)) proc_loop_run(l);
        }
        double us = (time_mono() - t0) / n * 1e6;
        if (us < best) best = us;
    }
    proc_peer_free(p);
    proc_loop_free(l);
    int st;
    waitpid(pid, &st, 0);
    return best;
}

/* ---- link ---------------------------------------------------------------- */

typedef struct {
    double memcpy_s, publish_s, read_s, write_s, consume_s, outer_s;
} link_times;

static double min_d(double a, double b) { return a < b ? a : b; }

static int bench_size(const char *name, size_t n, int k, int threads, int reps, double rtt_us, int json)
{
    photon_err err;
    size_t bytes = n * sizeof(float);
    int slots = (double)bytes * k <= (double)(1u << 30) ? k : 2;
    link_plan plan = { .model_bytes = bytes, .update_slots = slots, .update_bytes = bytes };
    char id[48];
    link_shm_run_id(id, sizeof id);
    photon_link *sup = link_shm_create(id, &plan, &err);
    if (!sup) { fprintf(stderr, "photon-sim: error: bench --link: %s\n", err.msg); return -1; }
    photon_link *act = link_shm_attach(id, &plan, &err);
    if (!act) { fprintf(stderr, "photon-sim: error: bench --link: %s\n", err.msg); link_close(sup); return -1; }
    float *theta = xmalloc_aligned(bytes), *dst = xmalloc_aligned(bytes);
    photon_rng g;
    rng_seed(&g, 3);
    for (size_t i = 0; i < n; i++) theta[i] = (float)(rng_uniform(&g) - 0.5) * 0.04f;
    memset(dst, 0, bytes);
    for (int s = 0; s < slots; s++) {
        float *u = link_write_begin(act, LINK_UPDATE, s, bytes, &err);
        for (size_t i = 0; i < n; i++) u[i] = theta[i] * 1e-3f;
        link_write_end(act, LINK_UPDATE, s, 1, bytes, &err);
    }
    agg *ag = agg_create(n, threads);
    outer_opt *oo = outer_opt_create(STRAT_FEDAVG, 1.0, 0.0, n, threads, &err);
    int *ids = xmalloc((size_t)k * sizeof(int));
    double *samples = xmalloc((size_t)k * sizeof(double));
    for (int i = 0; i < k; i++) { ids[i] = i; samples[i] = 1.0; }
    int64_t bad;
    double norm = vec_norm(link_read(sup, LINK_UPDATE, 0, 1, NULL, NULL, &err), n, threads, &bad);
    link_times t = { 1e30, 1e30, 1e30, 1e30, 1e30, 1e30 };
    for (int rep = 0; rep < reps; rep++) {
        double t0 = time_mono();
        memcpy(dst, theta, bytes);
        t.memcpy_s = min_d(t.memcpy_s, time_mono() - t0);

        t0 = time_mono();
        float *m = link_write_begin(sup, LINK_MODEL, 0, bytes, &err);
        memcpy(m, theta, bytes);
        link_write_end(sup, LINK_MODEL, 0, (uint64_t)rep + 1, bytes, &err);
        t.publish_s = min_d(t.publish_s, time_mono() - t0);

        t0 = time_mono();
        const float *v = link_read(act, LINK_MODEL, 0, (uint64_t)rep + 1, NULL, NULL, &err);
        t.read_s = min_d(t.read_s, time_mono() - t0);
        if (!v) { fprintf(stderr, "photon-sim: error: bench --link: %s\n", err.msg); break; }

        t0 = time_mono();
        link_write_begin(act, LINK_UPDATE, 0, bytes, &err);
        link_write_end(act, LINK_UPDATE, 0, 1, bytes, &err);
        t.write_s = min_d(t.write_s, time_mono() - t0);

        t0 = time_mono();
        agg_begin(ag, k, ids, samples, 0, &err);
        for (int c = 0; c < k; c++) {
            const float *u = link_read(sup, LINK_UPDATE, c % slots, 1, NULL, NULL, &err);
            agg_add_norm(ag, c, u, norm, NULL, &err);
        }
        agg_summary sum;
        const float *mean = agg_finish(ag, &sum);
        t.consume_s = min_d(t.consume_s, time_mono() - t0);

        t0 = time_mono();
        outer_opt_step(oo, dst, mean);
        t.outer_s = min_d(t.outer_s, time_mono() - t0);
    }
    double gb = (double)bytes / 1e9;
    double round_s = t.publish_s + k * (rtt_us * 1e-6) + t.consume_s + t.outer_s;
    /* Updates are consumed as they arrive, while other clients still train;
     * after the last one only its consume, the outer step, the publish and
     * a dispatch stand between two rounds. */
    double crit_s = t.consume_s / k + t.outer_s + t.publish_s + rtt_us * 1e-6;
    if (json) {
        printf("{\"size\":\"%s\",\"params\":%zu,\"clients\":%d,\"threads\":%d,\"memcpy_gbps\":%.3f,"
               "\"publish_gbps\":%.3f,\"actor_read_gbps\":%.3f,\"actor_write_gbps\":%.3f,"
               "\"consume_gbps\":%.3f,\"outer_gbps\":%.3f,\"dispatch_rtt_us\":%.1f,\"round_overhead_s\":%.6f,\"critical_path_s\":%.6f}\n",
               name, n, k, threads, gb / t.memcpy_s, gb / t.publish_s, gb / t.read_s, gb / t.write_s,
               gb * k / t.consume_s, gb / t.outer_s, rtt_us, round_s, crit_s);
    } else {
        printf("%-7s %11zu %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %10.4f %10.4f  (consume %.2fx memcpy time per update)\n",
               name, n, gb / t.memcpy_s, gb / t.publish_s, gb / t.read_s, gb / t.write_s,
               gb * k / t.consume_s, gb / t.outer_s, round_s, crit_s, t.consume_s / k / t.memcpy_s);
    }
    free(ids); free(samples); free(theta); free(dst);
    agg_free(ag);
    outer_opt_free(oo);
    link_close(act);
    link_close(sup);
    return 0;
}

int bench_link_main(int argc, char **argv)
{
    const char *sizes = NULL;
    int k = 8, threads = 0, reps = 3, json = 0, tcp = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--link") == 0 || strcmp(a, "--runtime") == 0) continue;
        if (strcmp(a, "--json") == 0) { json = 1; continue; }
        if (strcmp(a, "--tcp") == 0) { tcp = 1; continue; }
        if (i + 1 >= argc) { fprintf(stderr, "photon-sim: error: bench --link: %s needs a value\n", a); return PHOTON_EXIT_USAGE; }
        const char *v = argv[++i];
        if (strcmp(a, "--sizes") == 0) sizes = v;
        else if (strcmp(a, "--clients") == 0) k = atoi(v);
        else if (strcmp(a, "--threads") == 0) threads = atoi(v);
        else if (strcmp(a, "--reps") == 0) reps = atoi(v);
        else { fprintf(stderr, "photon-sim: error: bench --link: unknown option '%s'\n", a); return PHOTON_EXIT_USAGE; }
    }
    if (k < 1 || k > 1024 || reps < 1 || threads < 0) {
        fprintf(stderr, "photon-sim: error: bench --link: --clients 1..1024, --reps >= 1, --threads >= 0\n");
        return PHOTON_EXIT_USAGE;
    }
    if (!sizes) sizes = tcp ? "125m" : "tiny,small,medium,125m";
    if (tcp) {   /* the TCP link: clear and TLS next to memcpy (bench_tcp.c) */
        if (!json) {
            printf("tcp link bench: one model-sized blob over loopback, best of %d: wall GB/s, and CPU seconds per GB\n"
                   "(sender + receiver; robust to other load on the machine)\n", reps);
            printf("%-7s %12s %9s %9s %9s   %8s %8s %8s   %7s\n", "size", "bytes", "memcpy", "clear", "tls",
                   "cpu:mcpy", "clear", "tls", "tls/clr");
        }
        char list[256];
        snprintf(list, sizeof list, "%s", sizes);
        const char *names[16];
        size_t bytes[16];
        int n = 0;
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save)) {
            const size_preset *p = NULL;
            for (size_t j = 0; j < sizeof SIZES / sizeof SIZES[0]; j++) if (strcmp(SIZES[j].name, tok) == 0) p = &SIZES[j];
            if (!p) { fprintf(stderr, "photon-sim: error: bench --link: unknown size '%s' (tiny, small, medium, 125m)\n", tok); return PHOTON_EXIT_USAGE; }
            names[n] = p->name;
            bytes[n++] = params_of(p) * sizeof(float);
        }
        return bench_tcp_run(names, bytes, n, reps, json) < 0 ? PHOTON_EXIT_FAIL : 0;
    }
    threads = cpu_threads(threads);
    double rtt = dispatch_rtt(2000);
    if (!json) {
        printf("link bench: %d clients, %d threads, best of %d; GB/s of model-sized buffers; dispatch round trip %.1f us\n",
               k, threads, reps, rtt);
        printf("(round_s: supervisor time per round; crit_s: after the last update arrives)\n");
        printf("%-7s %11s %8s %8s %8s %8s %8s %8s %10s %10s\n", "size", "params", "memcpy", "publish", "a.read",
               "a.write", "consume", "outer", "round_s", "crit_s");
    }
    char list[256];
    snprintf(list, sizeof list, "%s", sizes);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const size_preset *p = NULL;
        for (size_t j = 0; j < sizeof SIZES / sizeof SIZES[0]; j++) if (strcmp(SIZES[j].name, tok) == 0) p = &SIZES[j];
        if (!p) { fprintf(stderr, "photon-sim: error: bench --link: unknown size '%s' (tiny, small, medium, 125m)\n", tok); return PHOTON_EXIT_USAGE; }
        if (bench_size(p->name, params_of(p), k, threads, reps, rtt, json) < 0) return PHOTON_EXIT_FAIL;
    }
    return 0;
}
