/* `photon-sim actor`: an actor process.  `--fd N` is how the supervisor
 * starts its local actors (the control socket is fd N; everything else
 * arrives in the setup message).  `--connect HOST:PORT --key-file FILE`
 * is a remote actor: it connects to a supervisor running with
 * [aggregator] link = tcp, runs TLS keyed by the run key (both ends prove
 * they hold it), and serves tasks until the supervisor stops it; with
 * `--tls-ca --tls-cert --tls-key` instead of the key file, both ends show
 * X.509 certificates (the supervisor's must name HOST and chain to the CA
 * file; io/link_tls.h).  A lost
 * connection is retried with exponential backoff, up to --retries failed
 * attempts in a row (docs/RUNTIME.md, "Remote actors"). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "supervisor/cmd/cli.h"
#include "actors/actor.h"
#include "io/common.h"
#include "io/tcp_link.h"
#include "io/link_tls.h"
#include "proto/protocol.h"

#define ACTOR_USAGE "actor --connect HOST:PORT (--key-file FILE | --tls-ca CA --tls-cert CERT --tls-key KEY) " \
                    "[--retries N] [--threads N] [--backend cpu|cuda] [--data-dir DIR]"
/* Reconnecting: the first retry after BACKOFF_MIN seconds, doubling up to
 * BACKOFF_MAX; a connection attempt gives up after CONNECT_TIMEOUT. */
#define DEFAULT_RETRIES 10
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0
#define CONNECT_TIMEOUT 10.0

static int usage(const char *what)
{
    fprintf(stderr, "photon-sim: error: %s (usage: photon-sim " ACTOR_USAGE ")\n", what);
    return PHOTON_EXIT_USAGE;
}

/* connect() within CONNECT_TIMEOUT: 0, or -1 with errno. */
static int connect_timed(int fd, const struct sockaddr *sa, socklen_t len)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = connect(fd, sa, len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int n;
        while ((n = poll(&pfd, 1, (int)(CONNECT_TIMEOUT * 1000))) < 0 && errno == EINTR) {}
        if (n == 0) { errno = ETIMEDOUT; return -1; }
        int e = 0;
        socklen_t el = sizeof e;
        if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) return -1;
        if (e) { errno = e; return -1; }
        rc = 0;
    }
    fcntl(fd, F_SETFL, fl);
    return rc;
}

/* HOST:PORT or [V6HOST]:PORT: the host into host[256] (brackets off) and
 * the port; -1 if addr is not of that form. */
static int split_addr(const char *addr, char host[256], const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1] || (size_t)(colon - addr) >= 256) return -1;
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl > 2 && addr[hl - 1] == ']') {
        memcpy(host, addr + 1, hl - 2);
        host[hl - 2] = 0;
    } else {
        memcpy(host, addr, hl);
        host[hl] = 0;
    }
    *port = colon + 1;
    return 0;
}

/* HOST:PORT -> a connected socket; -1 with why. */
static int connect_to(const char *addr, char *why, size_t whyn)
{
    char h[256];
    const char *port;
    if (split_addr(addr, h, &port) < 0) { snprintf(why, whyn, "not HOST:PORT"); return -1; }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(h, port, &hints, &res);
    if (rc != 0) { snprintf(why, whyn, "%s", gai_strerror(rc)); return -1; }
    int fd = -1;
    snprintf(why, whyn, "no address");
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { snprintf(why, whyn, "%s", strerror(errno)); continue; }
        if (connect_timed(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            /* Task and result messages are small: no Nagle delay; keepalive
             * notices a supervisor host that vanished without closing, the
             * user timeout one that stops acknowledging our data. */
            int on = 1, idle = 30, intvl = 10, cnt = 3;
            unsigned user_timeout_ms = 60000;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
            setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
            break;
        }
        snprintf(why, whyn, "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Sessions until the supervisor stops us; after a lost connection (or a
 * failed attempt) wait and reconnect, until `retries` attempts in a row
 * have failed.  A session that got its setup resets the count.  Never
 * retried: an authentication failure (wrong key, or not our supervisor)
 * and a configuration error. */
static int serve_with_retries(actor_remote *opts, int retries)
{
    double backoff = BACKOFF_MIN, t0 = time_mono();
    int failed = 0;
    char why[720];
    for (;;) {
        int fd = connect_to(opts->addr, why, sizeof why);
        if (fd >= 0) {
            actor_session sess;
            int rc = actor_main_remote(fd, opts, &sess);
            if (sess.stopped) return 0;
            if (sess.refused) {
                log_error("%s; not retrying", sess.why);
                return PHOTON_EXIT_FAIL;
            }
            if (rc == ACTOR_EXIT_CONFIG) return rc;
            if (sess.served) { failed = 0; backoff = BACKOFF_MIN; t0 = time_mono(); }
            snprintf(why, sizeof why, "%s (after %d task%s)", sess.why[0] ? sess.why : "the session ended", sess.tasks,
                     sess.tasks == 1 ? "" : "s");
        }
        if (++failed > retries) {
            log_error("gave up on the supervisor at %s after %d failed attempt%s in a row over %.0fs "
                      "(--retries %d); last: %s", opts->addr, failed, failed == 1 ? "" : "s", time_mono() - t0,
                      retries, why);
            return PHOTON_EXIT_FAIL;
        }
        /* Jitter (up to a quarter) keeps actors that lost the supervisor
         * together from all reconnecting at the same instant. */
        unsigned char r = 0;
        link_random(&r, 1);
        double wait = backoff * (1.0 + r / 1024.0);
        log_warn("supervisor at %s: %s; reconnecting in %.1fs (attempt %d of %d)", opts->addr, why, wait, failed,
                 retries);
        usleep((useconds_t)(wait * 1e6));
        backoff = backoff * 2 < BACKOFF_MAX ? backoff * 2 : BACKOFF_MAX;
    }
}

static int cmd_actor_connect(int argc, char **argv)
{
    const char *addr = NULL, *key_file = NULL, *tls_ca = NULL, *tls_cert = NULL, *tls_key = NULL;
    actor_remote opts = { .backend = -1 };
    int retries = DEFAULT_RETRIES;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage("missing value after the last option");
        if (strcmp(a, "--connect") == 0) addr = v;
        else if (strcmp(a, "--key-file") == 0) key_file = v;
        else if (strcmp(a, "--tls-ca") == 0) tls_ca = v;
        else if (strcmp(a, "--tls-cert") == 0) tls_cert = v;
        else if (strcmp(a, "--tls-key") == 0) tls_key = v;
        else if (strcmp(a, "--data-dir") == 0) opts.data_dir = v;
        else if (strcmp(a, "--retries") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 1000000) {
                fprintf(stderr, "photon-sim: error: actor --retries: '%s' is not a count (0..1000000)\n", v);
                return PHOTON_EXIT_USAGE;
            }
            retries = (int)n;
        }
        else if (strcmp(a, "--threads") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 4096) {
                fprintf(stderr, "photon-sim: error: actor --threads: '%s' is not a thread count (1..4096)\n", v);
                return PHOTON_EXIT_USAGE;
            }
            opts.threads = (int)n;
        } else if (strcmp(a, "--backend") == 0) {
            if (strcmp(v, "cpu") == 0) opts.backend = BACKEND_CPU;
            else if (strcmp(v, "cuda") == 0) opts.backend = BACKEND_CUDA;
            else {
                fprintf(stderr, "photon-sim: error: actor --backend: '%s' is not cpu or cuda\n", v);
                return PHOTON_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "photon-sim: error: actor: unknown option '%s'\n", a);
            return PHOTON_EXIT_USAGE;
        }
        i++;
    }
    if (!addr) return usage("--connect HOST:PORT is required");
    char host[256];
    const char *port;
    if (split_addr(addr, host, &port) < 0) {
        fprintf(stderr, "photon-sim: error: actor --connect: '%s' is not HOST:PORT\n", addr);
        return PHOTON_EXIT_USAGE;
    }
    photon_err err;
    if (tls_ca || tls_cert || tls_key) {
        if (key_file) return usage("--key-file and --tls-* are two ways to authenticate: give one");
        if (!tls_ca || !tls_cert || !tls_key) return usage("--tls-ca, --tls-cert and --tls-key go together");
        opts.tls = link_tls_client_cert(tls_ca, tls_cert, tls_key, host, &err);
        if (!opts.tls) { fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_USAGE; }
    } else {
        if (!key_file)
            return usage("--key-file FILE is required (the run's key: [aggregator] key_file or <run dir>/run.key), "
                         "or --tls-ca/--tls-cert/--tls-key when the supervisor uses certificates");
        unsigned char key[LINK_KEY_MAX];
        int keylen = link_key_load(key_file, key, &err);
        if (keylen < 0) { OPENSSL_cleanse(key, sizeof key); fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_USAGE; }
        opts.tls = link_tls_client(key, (size_t)keylen, TCP_PROTOCOL_VERSION, &err);
        OPENSSL_cleanse(key, sizeof key);
        if (!opts.tls) { fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_FAIL; }
    }
    opts.addr = addr;
    int rc = serve_with_retries(&opts, retries);
    link_tls_free(opts.tls);
    fflush(NULL);
    _exit(rc);
}

int cmd_actor(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
            char *end;
            long fd = strtol(argv[i + 1], &end, 10);
            if (*end || fd < 0 || fd > 1024) {
                fprintf(stderr, "photon-sim: error: actor --fd: '%s' is not a file descriptor\n", argv[i + 1]);
                return PHOTON_EXIT_USAGE;
            }
            int rc = actor_main((int)fd);
            /* Everything is released; skip exit-time destructors (BLAS and
             * OpenMP thread pools), which on a loaded machine were seen to
             * outlast the supervisor's stop grace period. */
            fflush(NULL);
            _exit(rc);
        }
    }
    if (argc > 1) return cmd_actor_connect(argc, argv);
    return usage("expected --connect HOST:PORT and --key-file FILE or --tls-ca/--tls-cert/--tls-key");
}
