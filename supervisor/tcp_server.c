/* The TCP listener and the authentication handshake (see
 * supervisor/tcp_server.h).  A connection is "pending" until it answers
 * the challenge: it may send one small message only (the MAC), within a
 * deadline; anything else closes it with one log line naming the peer. */
#include "supervisor/tcp_server.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/listener.h>
#include "proto/protocol.h"
#include "io/tcp_link.h"

#define MAX_PENDING 16
#define AUTH_DEADLINE 10.0

typedef struct pending {
    tcp_server *srv;
    proc_peer *peer;
    proc_timer *deadline;
    char who[64];
    unsigned char nonce[LINK_NONCE_BYTES];
    int done;              /* rejected or adopted: its slot is freed by the sweep */
} pending;

struct tcp_server {
    proc_loop *loop;
    struct evconnlistener *lis;
    unsigned char key[LINK_KEY_MAX];
    size_t keylen;
    actor_pool *pool;
    char addr_file[2048];
    pending *pend[MAX_PENDING];
    proc_timer *sweep;
};

static void format_addr(const struct sockaddr *sa, char *out, size_t n)
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
}

/* Frees finished pending connections; runs from a timer, never inside the
 * peer's own callback. */
static void sweep_now(tcp_server *s)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        pending *p = s->pend[i];
        if (!p || !p->done) continue;
        proc_timer_cancel(p->deadline);
        if (p->peer) proc_peer_free(p->peer);
        free(p);
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
    if (!p->srv->sweep) p->srv->sweep = proc_timer_add(p->srv->loop, 0, sweep, p->srv);
}

static void reject(pending *p, const char *why)
{
    if (p->done) return;
    log_warn("tcp: rejected actor connection from %s: %s", p->who, why);
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

static void on_msg(proc_peer *peer, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    pending *p = arg;
    if (p->done) return;
    msg_auth m;
    if (type != MSG_AUTH || len != sizeof m) {
        char why[120];
        snprintf(why, sizeof why, "expected the authentication message, got type %u of %u bytes", type, len);
        reject(p, why);
        return;
    }
    memcpy(&m, payload, sizeof m);
    unsigned char want[LINK_MAC_BYTES];
    link_auth_mac(p->srv->key, p->srv->keylen, p->nonce, TCP_PROTOCOL_VERSION, want);
    if (!link_auth_equal(want, m.mac)) {
        reject(p, "wrong key (authentication MAC mismatch; or another photon-sim protocol version)");
        return;
    }
    if (pool_adopt(p->srv->pool, peer, p->who) < 0) {
        reject(p, "every actor slot is taken ([clients] actors)");
        return;
    }
    p->peer = NULL;   /* the pool owns it now */
    finish(p);
}

static void on_close(proc_peer *peer, const char *reason, void *arg)
{
    (void)peer;
    pending *p = arg;
    if (p->done) return;
    /* proc.c already logged a bad frame; say only that it was dropped. */
    if (strncmp(reason, "bad frame", 9) == 0) { finish(p); return; }
    reject(p, reason);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)lis; (void)salen;
    tcp_server *s = arg;
    char who[64];
    format_addr(sa, who, sizeof who);
    int slot = -1;
    for (int i = 0; i < MAX_PENDING; i++) if (!s->pend[i]) { slot = i; break; }
    if (slot < 0) {
        log_warn("tcp: rejected actor connection from %s: %d connections already waiting to authenticate", who, MAX_PENDING);
        close(fd);
        return;
    }
    /* Small control messages must not wait for Nagle's timer; keepalive
     * notices a remote host that vanished without closing (about a minute). */
    int on = 1, idle = 30, intvl = 10, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    pending *p = xcalloc(1, sizeof *p);
    p->srv = s;
    snprintf(p->who, sizeof p->who, "%s", who);
    if (link_random(p->nonce, sizeof p->nonce) < 0) {
        log_warn("tcp: rejected actor connection from %s: no random bytes for the challenge", who);
        close(fd);
        free(p);
        return;
    }
    char name[80];
    snprintf(name, sizeof name, "tcp %s", who);
    p->peer = proc_peer_new(s->loop, fd, name, on_msg, on_close, p);
    /* Before it has authenticated, a peer may send one small message only. */
    proc_peer_set_limit(p->peer, sizeof(msg_auth));
    msg_challenge c = { .version = TCP_PROTOCOL_VERSION };
    memcpy(c.nonce, p->nonce, sizeof c.nonce);
    proc_peer_send(p->peer, MSG_CHALLENGE, &c, sizeof c);
    p->deadline = proc_timer_add(s->loop, AUTH_DEADLINE, on_deadline, p);
    s->pend[slot] = p;
}

static void on_accept_error(struct evconnlistener *lis, void *arg)
{
    (void)lis; (void)arg;
    log_warn("tcp: accepting a connection failed: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

tcp_server *tcp_server_start(proc_loop *loop, const char *listen_addr, const unsigned char *key, size_t keylen,
                             actor_pool *pool, const char *addr_file, photon_err *err)
{
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    if (!colon || colon == listen_addr || !colon[1] || (size_t)(colon - listen_addr) >= sizeof host) {
        err_set(err, "[aggregator] listen: '%s' is not host:port", listen_addr);
        return NULL;
    }
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = 0;
    char *h = host;
    size_t hl = strlen(h);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { h[hl - 1] = 0; h++; }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
    int rc = getaddrinfo(h, colon + 1, &hints, &res);
    if (rc != 0) { err_set(err, "[aggregator] listen = %s: %s", listen_addr, gai_strerror(rc)); return NULL; }
    tcp_server *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->pool = pool;
    memcpy(s->key, key, keylen);
    s->keylen = keylen;
    for (struct addrinfo *ai = res; ai && !s->lis; ai = ai->ai_next)
        s->lis = evconnlistener_new_bind(proc_loop_base(loop), on_accept, s,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                         ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(res);
    if (!s->lis) {
        err_set(err, "[aggregator] listen = %s: cannot listen: %s", listen_addr, strerror(errno));
        free(s);
        return NULL;
    }
    evconnlistener_set_error_cb(s->lis, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char bound[96] = "?";
    if (getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&ss, &sl) == 0)
        format_addr((struct sockaddr *)&ss, bound, sizeof bound);
    log_info("listening for remote actors on %s (photon-sim actor --connect %s --key-file KEY)", bound, bound);
    snprintf(s->addr_file, sizeof s->addr_file, "%s", addr_file);
    atomic_file *f = afile_open(addr_file, err);
    if (!f) { tcp_server_free(s); return NULL; }
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
    free(s);
}
