/* photon-wan-delay: the propagation delay of tools/wan.sh's emulated WAN
 * (docs/NETWORK.md, "Ground truth").  Each emulated host is a network
 * namespace with a TUN device; this process holds the other end of every
 * TUN device and forwards each IPv4 packet to the host it is addressed to,
 * after the one-way latencies of both hosts' links.  Link rates are shaped
 * by tc in the namespaces (htb on the device, and on an ifb for what it
 * receives); this program adds only what tc's netem would, for kernels
 * built without netem: latency and, optionally, random loss.
 *
 *   photon-wan-delay NETNS=IP=LATENCY_MS[=LOSS_PCT] [...]
 *
 * A packet from host a to host b waits lat(a) + lat(b) and is lost with
 * probability 1 - (1 - loss(a)) (1 - loss(b)), drawn from a generator
 * seeded by PHOTON_WAN_SEED (default 1), so a run's losses are a pure
 * function of the packet sequence.  On exit it prints to stderr how many
 * packets it forwarded and lost.
 *
 * Each namespace must have a persistent TUN device "wan0" (ip tuntap add
 * dev wan0 mode tun).  Prints "ready" once attached to all of them and
 * forwards until SIGTERM or SIGINT.  Packets wait in a heap ordered by
 * release time (at most MAX_QUEUED; more are dropped, as a full router
 * queue would), and leave in order of release time, ties in arrival order. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_HOSTS 64
#define MAX_QUEUED 200000
#define PKT_MAX 65536

typedef struct { int fd; uint32_t ip; double lat, loss; char ns[64]; } host;
typedef struct { double at; uint64_t seq; int dst; int len; unsigned char *data; } pkt;

static host hosts[MAX_HOSTS];
static int nhosts;
static pkt *heap;
static int nheap;
static uint64_t seq;
static volatile sig_atomic_t stop;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int before(const pkt *a, const pkt *b) { return a->at < b->at || (a->at == b->at && a->seq < b->seq); }

static void push(pkt p)
{
    int i = nheap++;
    while (i > 0 && before(&p, &heap[(i - 1) / 2])) { heap[i] = heap[(i - 1) / 2]; i = (i - 1) / 2; }
    heap[i] = p;
}

static pkt pop(void)
{
    pkt top = heap[0], last = heap[--nheap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= nheap) break;
        if (c + 1 < nheap && before(&heap[c + 1], &heap[c])) c++;
        if (!before(&heap[c], &last)) break;
        heap[i] = heap[c];
        i = c;
    }
    if (nheap > 0) heap[i] = last;
    return top;
}

static void on_signal(int sig) { (void)sig; stop = 1; }

/* splitmix64: the loss draws. */
static uint64_t rng_state;
static double uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* Opens the TUN device wan0 inside network namespace ns. */
static int attach(const char *ns)
{
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0) { fprintf(stderr, "photon-wan-delay: %s: %s\n", path, strerror(errno)); exit(1); }
    if (setns(target, CLONE_NEWNET) < 0) { fprintf(stderr, "photon-wan-delay: setns %s: %s\n", ns, strerror(errno)); exit(1); }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "wan0");
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "photon-wan-delay: TUN wan0 in %s: %s\n", ns, strerror(errno));
        exit(1);
    }
    if (setns(self, CLONE_NEWNET) < 0) { fprintf(stderr, "photon-wan-delay: setns back: %s\n", strerror(errno)); exit(1); }
    close(self);
    close(target);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: photon-wan-delay NETNS=IP=LATENCY_MS[=LOSS_PCT] NETNS=IP=LATENCY_MS[=LOSS_PCT] [...]\n");
        return 2;
    }
    const char *seed = getenv("PHOTON_WAN_SEED");
    rng_state = seed ? strtoull(seed, NULL, 10) : 1;
    for (int i = 1; i < argc && nhosts < MAX_HOSTS; i++) {
        char ns[64], ip[64];
        double ms, loss = 0;
        int n = sscanf(argv[i], "%63[^=]=%63[^=]=%lf=%lf", ns, ip, &ms, &loss);
        if (n < 3 || ms < 0 || !(loss >= 0 && loss < 100)) {
            fprintf(stderr, "photon-wan-delay: '%s': expected NETNS=IP=LATENCY_MS[=LOSS_PCT] (loss in [0, 100))\n", argv[i]);
            return 2;
        }
        host *h = &hosts[nhosts++];
        snprintf(h->ns, sizeof h->ns, "%s", ns);
        if (inet_pton(AF_INET, ip, &h->ip) != 1) { fprintf(stderr, "photon-wan-delay: bad IPv4 '%s'\n", ip); return 2; }
        h->lat = ms / 1e3;
        h->loss = loss / 100;
        h->fd = attach(ns);
    }
    heap = malloc(sizeof(pkt) * MAX_QUEUED);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready\n");
    fflush(stdout);
    struct pollfd pfd[MAX_HOSTS];
    for (int i = 0; i < nhosts; i++) pfd[i] = (struct pollfd){ .fd = hosts[i].fd, .events = POLLIN };
    unsigned char buf[PKT_MAX];
    long dropped = 0, lost = 0, forwarded = 0;
    while (!stop) {
        double t = now();
        while (nheap > 0 && heap[0].at <= t) {
            pkt p = pop();
            if (write(hosts[p.dst].fd, p.data, (size_t)p.len) < 0 && errno != EAGAIN) dropped++;
            free(p.data);
        }
        struct timespec to, *top = NULL;
        if (nheap > 0) {
            double wait = heap[0].at - t;
            if (wait < 0) wait = 0;
            to.tv_sec = (time_t)wait;
            to.tv_nsec = (long)((wait - to.tv_sec) * 1e9);
            top = &to;
        }
        int n = ppoll(pfd, (nfds_t)nhosts, top, NULL);
        if (n < 0) { if (errno == EINTR) continue; perror("photon-wan-delay: ppoll"); return 1; }
        t = now();
        for (int i = 0; i < nhosts; i++) {
            if (!(pfd[i].revents & POLLIN)) continue;
            for (;;) {
                ssize_t len = read(hosts[i].fd, buf, sizeof buf);
                if (len <= 0) break;
                if (len < 20 || (buf[0] >> 4) != 4) continue;   /* IPv4 only */
                uint32_t dst;
                memcpy(&dst, buf + 16, 4);
                int d = -1;
                for (int j = 0; j < nhosts; j++) if (hosts[j].ip == dst) d = j;
                if (d < 0 || nheap == MAX_QUEUED) { dropped++; continue; }
                if ((hosts[i].loss > 0 || hosts[d].loss > 0) &&
                    uniform() >= (1 - hosts[i].loss) * (1 - hosts[d].loss)) { lost++; continue; }
                forwarded++;
                pkt p = { .at = t + hosts[i].lat + hosts[d].lat, .seq = seq++, .dst = d, .len = (int)len };
                p.data = malloc((size_t)len);
                memcpy(p.data, buf, (size_t)len);
                push(p);
            }
        }
    }
    while (nheap > 0) free(pop().data);
    free(heap);
    fprintf(stderr, "photon-wan-delay: %ld packets forwarded, %ld lost at random, %ld dropped (queue full, no route, link down)\n",
            forwarded, lost, dropped);
    return 0;
}
