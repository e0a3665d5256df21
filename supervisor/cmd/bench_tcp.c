/* `photon-sim bench --link --tcp`: what the TCP link's protection costs.
 * One blob the size of a model goes from this process to a forked receiver
 * over loopback TCP, three ways, back to back on the same machine:
 *   memcpy  the same bytes copied once in memory (the floor);
 *   clear   the link's frames over a plain socket (what version 1 sent:
 *           no encryption, no MAC);
 *   tls     the same frames inside TLS 1.3 keyed by a run key (what runs
 *           use now: AES-128-GCM or ChaCha20-Poly1305 per record).
 * Both link ways include what a real transfer does: the sender's copy into
 * the output buffer, framing, the receiver's copy into its blob and its
 * checksum check; the time runs from the send until the receiver's
 * acknowledgement.  Each figure is the best of --reps.  Next to the wall
 * time, the CPU time both processes spent (getrusage; the receiver reports
 * its own in the acknowledgement), which a machine shared with other jobs
 * does not inflate the way it does wall time. */
#include "supervisor/cmd/bench_tcp.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "proto/protocol.h"
#include "io/link_tls.h"
#include "io/proc.h"
#include "io/tcp_link.h"

typedef struct {
    proc_loop *loop;
    photon_link *link;
    int acks, failed;
    double remote_cpu;     /* the receiver's CPU seconds at its last acknowledgement */
} side;

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

static void rx_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    side *s = arg;
    photon_err err;
    if (type == MSG_BLOB) {
        int rc = link_tcp_receive(s->link, payload, len, &err);
        if (rc < 0) { fprintf(stderr, "photon-sim: error: bench --tcp: %s\n", err.msg); s->failed = 1; proc_loop_exit(s->loop); }
        double cpu = cpu_seconds();
        if (rc == 1) proc_peer_send(p, MSG_RESULT, &cpu, sizeof cpu);
    } else if (type == MSG_HELLO) {
        double cpu = cpu_seconds();
        proc_peer_send(p, MSG_HELLO, &cpu, sizeof cpu);
    } else if (type == MSG_STOP) {
        proc_loop_exit(s->loop);
    }
}

static void tx_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)p; (void)type;
    side *s = arg;
    if (len == sizeof s->remote_cpu) memcpy(&s->remote_cpu, payload, len);
    s->acks++;
    proc_loop_exit(s->loop);
}

static void on_close(proc_peer *p, const char *reason, void *arg)
{
    (void)p;
    side *s = arg;
    fprintf(stderr, "photon-sim: error: bench --tcp: %s\n", reason);
    s->failed = 1;
    proc_loop_exit(s->loop);
}

static int send_blob(void *ctx, const void *payload, uint32_t len) { return proc_peer_send(ctx, MSG_BLOB, payload, len); }

/* The receiver: for each size, two connections, clear then TLS, each
 * until STOP. */
static void receiver(int lfd, const size_t *bytes, int n, const unsigned char *key)
{
    photon_err err;
    link_tls *tls = link_tls_server(key, 32, TCP_PROTOCOL_VERSION, &err);
    for (int i = 0; i < 2 * n; i++) {
        int mode = i % 2;
        link_plan plan = { .model_bytes = bytes[i / 2], .update_slots = 1, .update_bytes = 4 };
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) _exit(1);
        side s = { .loop = proc_loop_new(&err), .link = link_tcp_create(&plan, NULL, NULL) };
        proc_peer *p = mode == 0 ? proc_peer_new(s.loop, fd, "sender", rx_msg, on_close, &s)
                                 : proc_peer_new_tls(s.loop, fd, link_tls_ssl(tls), 1, "sender", NULL, rx_msg, on_close, &s);
        proc_loop_run(s.loop);
        proc_peer_flush(p);
        proc_peer_free(p);
        link_close(s.link);
        proc_loop_free(s.loop);
        if (s.failed) _exit(1);
    }
    link_tls_free(tls);
    _exit(0);
}

/* Best seconds of reps transfers of the model blob over one connection;
 * *cpu_out the least CPU seconds (both processes) one took. */
static double transfer(int port, int mode, photon_link *link, const unsigned char *key, int reps, double *cpu_out)
{
    photon_err err;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    link_tls *tls = mode ? link_tls_client(key, 32, TCP_PROTOCOL_VERSION, &err) : NULL;
    side s = { .loop = proc_loop_new(&err) };
    proc_peer *p = mode ? proc_peer_new_tls(s.loop, fd, link_tls_ssl(tls), 0, "receiver", NULL, tx_msg, on_close, &s)
                        : proc_peer_new(s.loop, fd, "receiver", tx_msg, on_close, &s);
    /* One round trip first: the handshake is not part of the figure. */
    proc_peer_send(p, MSG_HELLO, NULL, 0);
    proc_loop_run(s.loop);
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps && !s.failed; r++) {
        int want = s.acks + 1;
        double t0 = time_mono(), c0 = cpu_seconds(), r0 = s.remote_cpu;
        if (link_tcp_send(link, LINK_MODEL, 0, send_blob, p, &err) < 0) { s.failed = 1; break; }
        while (s.acks < want && !s.failed) proc_loop_run(s.loop);
        double t = time_mono() - t0, c = cpu_seconds() - c0 + s.remote_cpu - r0;
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    *cpu_out = best_cpu;
    proc_peer_send(p, MSG_STOP, NULL, 0);
    proc_peer_flush(p);
    proc_peer_free(p);
    proc_loop_free(s.loop);
    link_tls_free(tls);
    return s.failed ? -1 : best;
}

/* One size: memcpy, then the clear and the TLS transfer to the receiver. */
static int one_size(const char *name, size_t bytes, int port, const unsigned char *key, int reps, int json)
{
    photon_err err;
    link_plan plan = { .model_bytes = bytes, .update_slots = 1, .update_bytes = 4 };
    photon_link *link = link_tcp_create(&plan, NULL, NULL);
    uint8_t *m = link_write_begin(link, LINK_MODEL, 0, bytes, &err);
    uint8_t *dst = xmalloc(bytes);
    photon_rng g;
    rng_seed(&g, 5);
    for (size_t i = 0; i < bytes; i += 8) {
        uint64_t v = rng_u64(&g);
        memcpy(m + i, &v, bytes - i < 8 ? bytes - i : 8);
    }
    link_write_end(link, LINK_MODEL, 0, 1, bytes, &err);
    double mc = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = time_mono();
        memcpy(dst, m, bytes);
        double t = time_mono() - t0;
        if (t < mc) mc = t;
    }
    free(dst);
    double cpu_clear = 0, cpu_tls = 0;
    double clear = transfer(port, 0, link, key, reps, &cpu_clear);
    double tls = clear > 0 ? transfer(port, 1, link, key, reps, &cpu_tls) : -1;
    link_close(link);
    if (clear <= 0 || tls <= 0) return -1;
    double gb = (double)bytes / 1e9;
    if (json)
        printf("{\"size\":\"%s\",\"bytes\":%zu,\"memcpy_gbps\":%.3f,\"tcp_clear_gbps\":%.3f,\"tcp_tls_gbps\":%.3f,"
               "\"tcp_clear_cpu_s_per_gb\":%.3f,\"tcp_tls_cpu_s_per_gb\":%.3f,\"memcpy_cpu_s_per_gb\":%.3f}\n",
               name, bytes, gb / mc, gb / clear, gb / tls, cpu_clear / gb, cpu_tls / gb, mc / gb);
    else
        printf("%-7s %12zu %9.2f %9.3f %9.3f   %8.3f %8.3f %8.3f   %6.2fx\n", name, bytes, gb / mc, gb / clear, gb / tls,
               mc / gb, cpu_clear / gb, cpu_tls / gb, cpu_tls / cpu_clear);
    fflush(stdout);
    return 0;
}

int bench_tcp_run(const char *const *names, const size_t *bytes, int n, int reps, int json)
{
    unsigned char key[32];
    link_random(key, sizeof key);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        fprintf(stderr, "photon-sim: error: bench --tcp: cannot listen on loopback\n");
        return -1;
    }
    /* One receiver for every size, forked before this process uses OpenMP
     * (the checksum): libgomp's threads do not survive a fork. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { close(lfd); return -1; }
    if (pid == 0) receiver(lfd, bytes, n, key);
    close(lfd);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) rc = one_size(names[i], bytes[i], ntohs(a.sin_port), key, reps, json);
    if (rc < 0) kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    return rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
