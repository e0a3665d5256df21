/* `photon-sim actor`: an actor process.  `--fd N` is how the supervisor
 * starts its local actors (the control socket is fd N; everything else
 * arrives in the setup message).  `--connect HOST:PORT --key-file FILE`
 * is a remote actor: it connects to a supervisor running with
 * [aggregator] link = tcp, proves it holds the run key, and serves tasks
 * until the supervisor stops it or goes away (docs/RUNTIME.md, "Remote
 * actors"). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "supervisor/cmd/cli.h"
#include "actors/actor.h"
#include "io/common.h"
#include "io/tcp_link.h"

#define ACTOR_USAGE "actor --connect HOST:PORT --key-file FILE [--threads N] [--backend cpu|cuda] [--data-dir DIR]"

static int usage(const char *what)
{
    fprintf(stderr, "photon-sim: error: %s (usage: photon-sim " ACTOR_USAGE ")\n", what);
    return PHOTON_EXIT_USAGE;
}

/* HOST:PORT (or [V6HOST]:PORT) -> a connected socket; -1 with one error line. */
static int connect_to(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1] || (size_t)(colon - addr) >= sizeof host) return -2;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { h[hl - 1] = 0; h++; }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(h, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "photon-sim: error: actor --connect %s: %s\n", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    char why[200] = "no address";
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { snprintf(why, sizeof why, "%s", strerror(errno)); continue; }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            /* Task and result messages are small: no Nagle delay; keepalive
             * notices a supervisor host that vanished without closing. */
            int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
            break;
        }
        snprintf(why, sizeof why, "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) fprintf(stderr, "photon-sim: error: actor --connect %s: %s\n", addr, why);
    return fd;
}

static int cmd_actor_connect(int argc, char **argv)
{
    const char *addr = NULL, *key_file = NULL;
    actor_remote opts = { .backend = -1 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage("missing value after the last option");
        if (strcmp(a, "--connect") == 0) addr = v;
        else if (strcmp(a, "--key-file") == 0) key_file = v;
        else if (strcmp(a, "--data-dir") == 0) opts.data_dir = v;
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
    if (!key_file) return usage("--key-file FILE is required (the run's key: [aggregator] key_file or <run dir>/run.key)");
    unsigned char key[LINK_KEY_MAX];
    photon_err err;
    int keylen = link_key_load(key_file, key, &err);
    if (keylen < 0) { fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_USAGE; }
    opts.key = key;
    opts.keylen = (size_t)keylen;
    int fd = connect_to(addr);
    if (fd == -2) {
        fprintf(stderr, "photon-sim: error: actor --connect: '%s' is not HOST:PORT\n", addr);
        return PHOTON_EXIT_USAGE;
    }
    if (fd < 0) return PHOTON_EXIT_FAIL;
    int rc = actor_main_remote(fd, &opts);
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
    return usage("expected --connect HOST:PORT --key-file FILE");
}
