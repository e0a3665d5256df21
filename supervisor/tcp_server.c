/* The TCP listener and the authentication handshake (see
 * supervisor/tcp_server.h).  A connection is "pending" until its TLS
 * handshake proves the run key; pending state is bounded three ways so
 * that no flood of silent or slow connections can keep a real actor out:
 *   - a deadline: the handshake must complete within AUTH_DEADLINE;
 *   - at most PENDING_PER_SOURCE pending connections per source address:
 *     one more evicts that address's oldest;
 *   - at most MAX_PENDING in all: one more evicts the oldest connection of
 *     the address that has the most pending.
 * A real actor completes its handshake in a few round trips, so it is
 * never the oldest for long.  Nothing is read before the handshake, and
 * after it only through the pool.  Rejections are logged with the peer's
 * address, at most LOG_BURST lines per LOG_WINDOW seconds (then a count). */
#include "supervisor/tcp_server.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/listener.h>
#include "proto/protocol.h"
#include "io/link_tls.h"
#include "io/tcp_link.h"

#define MAX_PENDING 64
#define PENDING_PER_SOURCE 8
#define AUTH_DEADLINE 10.0
#define LOG_BURST 10
#define LOG_WINDOW 10.0

typedef struct pending {
    tcp_server *srv;
    proc_peer *peer;
    proc_timer *deadline;
    char who[64];          /* address:port */
    char source[INET6_ADDRSTRLEN];
    uint64_t seq;          /* accept order: the oldest is evicted first */
    int done;              /* rejected or adopted: freed by the sweep */
} pending;

struct tcp_server {
    proc_loop *loop;
    struct evconnlistener *lis;
    link_tls *tls;
    actor_pool *pool;
    char addr_file[2048];
    pending *pend[MAX_PENDING];
    uint64_t seq;
    proc_timer *sweep;
    double log_t0;         /* rate limit of rejection lines */
    int log_n, log_dropped;
};

static void format_addr(const struct sockaddr *sa, char *out, size_t n, char *host_out, size_t hn)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, n, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
        port = ntohs(in->sin6_port);
        snprintf(out, n, "[%s]:%d", host, port);
    } else {
        snprintf(out, n, "?");
    }
    if (host_out) snprintf(host_out, hn, "%s", host);
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

/* One rejection line, rate limited: a flood must not fill the log. */
static void note(tcp_server *s, const char *fmt, ...)
{
    double now = time_mono();
    if (now - s->log_t0 > LOG_WINDOW) {
        if (s->log_dropped)
            log_warn("tcp: %d more connections rejected in %gs (not logged one by one)", s->log_dropped, LOG_WINDOW);
        s->log_t0 = now;
        s->log_n = s->log_dropped = 0;
    }
    if (s->log_n >= LOG_BURST) { s->log_dropped++; return; }
    s->log_n++;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_warn("%s", line);
}

static void pending_free(pending *p)
{
    proc_timer_cancel(p->deadline);
    if (p->peer) proc_peer_free(p->peer);
    free(p);
}

/* Frees finished pending connections; never runs inside one's own
 * callback (a timer, or the accept callback). */
static void sweep_now(tcp_server *s)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        pending *p = s->pend[i];
        if (!p || !p->done) continue;
        pending_free(p);
        s->pend[i] = NULL;
    }
}

static void sweep(void *arg)
{
    tcp_server *s = arg;
    s->sweep = NULL;
    sweep_now(s);
}

static void finish(pending *p)
{
    p->done = 1;
    proc_timer_cancel(p->deadline);
    p->deadline = NULL;
    if (!p->srv->sweep) p->srv->sweep = proc_timer_add(p->srv->loop, 0, sweep, p->srv);
}

static void reject(pending *p, const char *why)
{
    if (p->done) return;
    note(p->srv, "tcp: rejected actor connection from %s: %s", p->who, why);
    finish(p);
}

static void on_deadline(void *arg)
{
    pending *p = arg;
    p->deadline = NULL;
    char why[80];
    snprintf(why, sizeof why, "no authentication within %gs", AUTH_DEADLINE);
    reject(p, why);
}

/* The handshake completed: the peer holds the run key (or a certificate
 * from our CA). */
static void on_open(proc_peer *peer, void *arg)
{
    pending *p = arg;
    if (p->done) return;
    photon_err err;
    if (link_tls_verify(proc_peer_ssl(peer), &err) < 0) { reject(p, err.msg); return; }
    if (pool_adopt(p->srv->pool, peer, p->who) < 0) {
        reject(p, "every actor slot is taken ([clients] actors)");
        return;
    }
    p->peer = NULL;   /* the pool owns it now */
    finish(p);
}

/* Nothing may arrive before the handshake completes (the limit is 0). */
static void on_msg(proc_peer *peer, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)peer; (void)type; (void)payload; (void)len;
    reject(arg, "a message before the handshake completed");
}

static void on_close(proc_peer *peer, const char *reason, void *arg)
{
    pending *p = arg;
    if (p->done) return;
    char cw[400];
    if (link_tls_certs(p->srv->tls) && link_tls_cert_refused(proc_peer_tls_code(peer))) {
        snprintf(cw, sizeof cw, "the actor refused our certificate (%s): its --tls-ca did not sign "
                 "[aggregator] tls_cert, the certificate does not name the host it connected to, or it is an actor "
                 "with a run key (--key-file)", reason);
        reject(p, cw);
        return;
    }
    if (link_tls_cert_failure(p->srv->tls, proc_peer_ssl(peer), cw, sizeof cw)) { reject(p, cw); return; }
    if (link_tls_certs(p->srv->tls) && proc_peer_tls_error(peer)) {
        char why[300];
        snprintf(why, sizeof why, "TLS handshake failed (this run uses certificates): %s", reason);
        reject(p, why);
        return;
    }
    const char *refusal = link_tls_refusal(proc_peer_ssl(peer));
    if (refusal && refusal[0]) { reject(p, refusal); return; }
    if (!refusal && proc_peer_tls_error(peer)) {
        char why[300];
        snprintf(why, sizeof why, "no run key offered, not a photon-sim actor (%s)", reason);
        reject(p, why);
        return;
    }
    /* proc.c already logged a bad frame; say only that it was dropped. */
    if (strncmp(reason, "bad frame", 9) == 0) { finish(p); return; }
    reject(p, reason);
}

/* Makes room for one more pending connection from source: evicts that
 * source's oldest if it has PENDING_PER_SOURCE, else (all slots full) the
 * oldest of the source with the most pending.  Returns a free index. */
static int make_room(tcp_server *s, const char *source)
{
    int same = 0, total = 0, free_i = -1;
    pending *oldest_same = NULL;
    for (int i = 0; i < MAX_PENDING; i++) {
        pending *p = s->pend[i];
        if (!p) { if (free_i < 0) free_i = i; continue; }
        total++;
        if (strcmp(p->source, source) == 0) {
            same++;
            if (!oldest_same || p->seq < oldest_same->seq) oldest_same = p;
        }
    }
    pending *victim = NULL;
    if (same >= PENDING_PER_SOURCE) {
        victim = oldest_same;
    } else if (total >= MAX_PENDING) {
        int best = 0;
        for (int i = 0; i < MAX_PENDING; i++) {
            pending *p = s->pend[i];
            if (!p) continue;
            int n = 0;
            for (int j = 0; j < MAX_PENDING; j++) n += s->pend[j] && strcmp(s->pend[j]->source, p->source) == 0;
            if (n > best || (n == best && victim && p->seq < victim->seq)) { best = n; victim = p; }
        }
    }
    if (!victim) return free_i;
    char why[160];
    snprintf(why, sizeof why, "evicted before authenticating: %d connections from %s were waiting (at most %d per address, %d in all)",
             same >= PENDING_PER_SOURCE ? same : total, same >= PENDING_PER_SOURCE ? source : "all addresses",
             PENDING_PER_SOURCE, MAX_PENDING);
    reject(victim, why);
    for (int i = 0; i < MAX_PENDING; i++)
        if (s->pend[i] == victim) { pending_free(victim); s->pend[i] = NULL; return i; }
    return -1;
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)lis; (void)salen;
    tcp_server *s = arg;
    pending *p = xcalloc(1, sizeof *p);
    p->srv = s;
    p->seq = ++s->seq;
    format_addr(sa, p->who, sizeof p->who, p->source, sizeof p->source);
    sweep_now(s);   /* not inside any pending connection's callback here */
    int slot = make_room(s, p->source);
    if (slot < 0) { close(fd); free(p); return; }
    /* Small control messages must not wait for Nagle's timer; keepalive
     * notices a remote host that vanished without closing (about a
     * minute), and the user timeout a peer that stops acknowledging what
     * we send (instead of TCP's default of about 15 minutes). */
    int on = 1, idle = 30, intvl = 10, cnt = 3;
    unsigned user_timeout_ms = 60000;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    struct ssl_st *ssl = link_tls_ssl(s->tls);
    if (!ssl) {
        note(s, "tcp: rejected actor connection from %s: cannot create a TLS session", p->who);
        close(fd);
        free(p);
        return;
    }
    char name[80];
    snprintf(name, sizeof name, "tcp %s", p->who);
    p->peer = proc_peer_new_tls(s->loop, fd, ssl, 1, name, on_open, on_msg, on_close, p);
    if (!p->peer) {
        note(s, "tcp: rejected actor connection from %s: cannot set up TLS (libevent)", p->who);
        free(p);
        return;
    }
    proc_peer_set_limit(p->peer, 0);
    proc_peer_set_frame_deadline(p->peer, LINK_TCP_FRAME_DEADLINE);
    p->deadline = proc_timer_add(s->loop, AUTH_DEADLINE, on_deadline, p);
    s->pend[slot] = p;
}

static void on_accept_error(struct evconnlistener *lis, void *arg)
{
    (void)lis;
    note(arg, "tcp: accepting a connection failed: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

tcp_server *tcp_server_start(proc_loop *loop, const char *listen_addr, link_tls *tls, actor_pool *pool,
                             const char *addr_file, photon_err *err)
{
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    if (!colon || colon == listen_addr || !colon[1] || (size_t)(colon - listen_addr) >= sizeof host) {
        err_set(err, "[aggregator] listen: '%s' is not host:port", listen_addr);
        link_tls_free(tls);
        return NULL;
    }
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = 0;
    char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { h[hl - 1] = 0; h++; }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
    int rc = getaddrinfo(h, colon + 1, &hints, &res);
    if (rc != 0) {
        err_set(err, "[aggregator] listen = %s: %s", listen_addr, gai_strerror(rc));
        link_tls_free(tls);
        return NULL;
    }
    tcp_server *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->pool = pool;
    s->tls = tls;
    for (struct addrinfo *ai = res; ai && !s->lis; ai = ai->ai_next)
        s->lis = evconnlistener_new_bind(proc_loop_base(loop), on_accept, s,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
                                         ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(res);
    if (!s->lis) {
        err_set(err, "[aggregator] listen = %s: cannot listen: %s", listen_addr, strerror(errno));
        tcp_server_free(s);
        return NULL;
    }
    evconnlistener_set_error_cb(s->lis, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char bound[96] = "?", hint[96] = "?";
    int local = 0, port = 0;
    if (getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&ss, &sl) == 0) {
        format_addr((struct sockaddr *)&ss, bound, sizeof bound, NULL, 0);
        local = is_loopback((struct sockaddr *)&ss);
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    }
    /* A wildcard address is not one to connect to: name the host instead. */
    if (strncmp(bound, "0.0.0.0:", 8) == 0 || strncmp(bound, "[::]:", 5) == 0) snprintf(hint, sizeof hint, "THIS_HOST:%d", port);
    else snprintf(hint, sizeof hint, "%s", bound);
    if (link_tls_certs(tls))
        log_info("listening for remote actors on %s (%s; TLS 1.3 with certificates on both ends) "
                 "(photon-sim actor --connect %s --tls-ca CA --tls-cert CERT --tls-key KEY)",
                 bound, local ? "loopback: this host only" : "reachable from other hosts", hint);
    else
        log_info("listening for remote actors on %s (%s; TLS 1.3 keyed by the run key) "
                 "(photon-sim actor --connect %s --key-file KEY)",
                 bound, local ? "loopback: this host only" : "reachable from other hosts", hint);
    snprintf(s->addr_file, sizeof s->addr_file, "%s", addr_file);
    atomic_file *f = afile_open(addr_file, err);
    if (!f) { s->addr_file[0] = 0; tcp_server_free(s); return NULL; }
    fprintf(afile_stream(f), "%s\n", bound);
    if (afile_commit(f, err) < 0) { s->addr_file[0] = 0; tcp_server_free(s); return NULL; }
    return s;
}

void tcp_server_free(tcp_server *s)
{
    if (!s) return;
    if (s->lis) evconnlistener_free(s->lis);
    proc_timer_cancel(s->sweep);
    s->sweep = NULL;
    for (int i = 0; i < MAX_PENDING; i++) if (s->pend[i]) s->pend[i]->done = 1;
    sweep_now(s);
    if (s->addr_file[0]) unlink(s->addr_file);
    link_tls_free(s->tls);
    free(s);
}
