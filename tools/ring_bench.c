/* photon-ring-bench: per-step ring all-reduce data parallelism, for real,
 * over TCP: the ground truth of the network model's all-reduce figure
 * (docs/NETWORK.md).  n ranks, each in its own process (tools/wan.sh puts
 * them in their own network namespaces behind shaped links), run `steps`
 * steps of: `compute` seconds of (simulated) work, then a ring all-reduce
 * of a float32 buffer of `bytes` bytes: n-1 reduce-scatter phases, then
 * n-1 all-gather phases, each sending one n-th of the buffer to the next
 * rank while receiving one from the previous.  Every rank checks the sum.
 *
 *   photon-ring-bench --rank R --hosts IP:PORT,IP:PORT,... --bytes B
 *                     --steps S --compute SECONDS [--warmup W]
 *
 * Rank 0 prints one JSON line: {"ranks", "bytes", "steps", "compute",
 * "seconds" (the timed steps, after W >= 1 untimed warm-up steps), "ok"}. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "photon-ring-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
    char ip[64];
    int port;
    if (sscanf(s, "%63[^:]:%d", ip, &port) != 2) return -1;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

/* Sends out[0..n) to `to` while receiving in[0..n) from `from`. */
static void exchange(int to, int from, const void *out, void *in, size_t n)
{
    size_t sent = 0, got = 0;
    while (sent < n || got < n) {
        struct pollfd p[2] = { { to, sent < n ? POLLOUT : 0, 0 }, { from, got < n ? POLLIN : 0, 0 } };
        if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; die("poll"); }
        if (p[0].revents & (POLLOUT | POLLERR)) {
            ssize_t k = send(to, (const char *)out + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (k < 0 && errno != EAGAIN) die("send");
            if (k > 0) sent += (size_t)k;
        }
        if (p[1].revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t k = recv(from, (char *)in + got, n - got, MSG_DONTWAIT);
            if (k == 0) { fprintf(stderr, "photon-ring-bench: the previous rank closed\n"); exit(1); }
            if (k < 0 && errno != EAGAIN) die("recv");
            if (k > 0) got += (size_t)k;
        }
    }
}

int main(int argc, char **argv)
{
    int rank = -1, steps = 5, warmup = 1;
    double compute = 0, bytes = 0;
    char *hosts = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rank") == 0) rank = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--hosts") == 0) hosts = argv[i + 1];
        else if (strcmp(argv[i], "--bytes") == 0) bytes = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--steps") == 0) steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--compute") == 0) compute = atof(argv[i + 1]);
        else { fprintf(stderr, "photon-ring-bench: unknown option %s\n", argv[i]); return 2; }
    }
    struct sockaddr_in addr[64];
    int n = 0;
    for (char *save = NULL, *h = hosts ? strtok_r(hosts, ",", &save) : NULL; h && n < 64; h = strtok_r(NULL, ",", &save))
        if (parse_addr(h, &addr[n++]) < 0) { fprintf(stderr, "photon-ring-bench: bad address %s\n", h); return 2; }
    if (n < 2 || rank < 0 || rank >= n || bytes < 4 * n || steps < 1 || warmup < 1) {
        fprintf(stderr, "usage: photon-ring-bench --rank R --hosts IP:PORT,IP:PORT,... --bytes B --steps S "
                        "--compute SECONDS [--warmup W]\n");
        return 2;
    }
    size_t count = (size_t)(bytes / 4) / (size_t)n * (size_t)n, chunk = count / (size_t)n;
    float *buf = malloc(count * sizeof(float)), *tmp = malloc(chunk * sizeof(float));
    /* listen for the previous rank, connect to the next (retrying while it starts) */
    int lis = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in me = addr[rank];
    if (bind(lis, (struct sockaddr *)&me, sizeof me) < 0 || listen(lis, 4) < 0) die("listen");
    int next = -1;
    for (int tries = 0; next < 0 && tries < 600; tries++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&addr[(rank + 1) % n], sizeof addr[0]) == 0) next = s;
        else { close(s); usleep(50000); }
    }
    if (next < 0) die("connect to the next rank");
    int prev = accept(lis, NULL, NULL);
    if (prev < 0) die("accept");
    setsockopt(next, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(prev, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double t0 = 0;
    int ok = 1;
    for (int s = 0; s < warmup + steps; s++) {
        /* The clock runs from the end of the last warm-up step to the end of
         * the last step: the ring keeps the ranks in step with each other, so
         * this is `steps` whole steps whatever skew the ranks started with. */
        if (s == warmup) t0 = now();
        if (compute > 0) {
            struct timespec ts = { (time_t)compute, (long)((compute - (time_t)compute) * 1e9) };
            nanosleep(&ts, NULL);
        }
        for (size_t i = 0; i < count; i++) buf[i] = (float)(rank + 1);
        for (int p = 0; p < n - 1; p++) {   /* reduce-scatter */
            size_t out = (size_t)((rank - p + n) % n), in = (size_t)((rank - p - 1 + n) % n);
            exchange(next, prev, buf + out * chunk, tmp, chunk * sizeof(float));
            for (size_t i = 0; i < chunk; i++) buf[in * chunk + i] += tmp[i];
        }
        for (int p = 0; p < n - 1; p++) {   /* all-gather */
            size_t out = (size_t)((rank + 1 - p + n) % n), in = (size_t)((rank - p + n) % n);
            exchange(next, prev, buf + out * chunk, buf + in * chunk, chunk * sizeof(float));
        }
        float want = (float)(n * (n + 1) / 2);
        for (size_t i = 0; i < count; i++) if (buf[i] != want) { ok = 0; break; }
    }
    double secs = now() - t0;
    if (rank == 0)
        printf("{\"ranks\": %d, \"bytes\": %zu, \"steps\": %d, \"compute\": %g, \"seconds\": %.6f, \"ok\": %s}\n", n,
               count * sizeof(float), steps, compute, secs, ok ? "true" : "false");
    close(next);
    close(prev);
    close(lis);
    free(buf);
    free(tmp);
    return ok ? 0 : 1;
}
