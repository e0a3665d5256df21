/* The TCP link's TLS layer (io/link_tls.h over io/proc.h peers): the key
 * derivations against known answers computed with Python's hmac module (an
 * independent implementation of HKDF-SHA256); a handshake between holders
 * of the same key carries frames; a wrong key or another protocol version
 * fails the handshake on both sides with the reason on the server's; and a
 * relay between the two that flips one bit of a record after the handshake
 * makes the receiver drop the connection without delivering the message. */
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tests/harness.h"
#include "io/link_tls.h"
#include "io/proc.h"

static const unsigned char KEY[] = "0123456789abcdef";
static const unsigned char KEY2[] = "0123456789abcdeF";

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void test_derivations(void)
{
    unsigned char psk[32];
    char h[65];
    CHECK_EQ_INT(link_tls_derive(KEY, 16, "photon-sim tls13 psk", psk, sizeof psk), 0);
    hex(psk, 32, h);
    CHECK_STR(h, "25f479941eba4e48131d1f1eb37cab4d02b2b11897bd328c16ea76ff7877fcb0");
    char id[LINK_TLS_KEY_ID_HEX + 1];
    link_tls_key_id(KEY, 16, id);
    CHECK_STR(id, "c21184d844577b67");
}

/* One end of a test connection. */
typedef struct {
    proc_loop *loop;
    int opened, closed, tls_error, got;
    uint16_t type;
    char reason[300];
} end;

static void e_open(proc_peer *p, void *arg) { (void)p; ((end *)arg)->opened = 1; }
static void e_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)p; (void)payload; (void)len;
    end *e = arg;
    e->got++;
    e->type = type;
}
static void e_close(proc_peer *p, const char *reason, void *arg)
{
    end *e = arg;
    e->closed = 1;
    e->tls_error = proc_peer_tls_error(p);
    snprintf(e->reason, sizeof e->reason, "%s", reason);
}

static void give_up(void *arg) { proc_loop_exit(arg); }

/* Runs the loop until cond holds (polled every 10 ms) or 5 s pass. */
static void run_until(proc_loop *l, int (*cond)(void *), void *arg)
{
    for (int i = 0; i < 500 && !cond(arg); i++) {
        proc_timer_add(l, 0.01, give_up, l);   /* freed when it fires */
        proc_loop_run(l);
    }
}

static int both_open_or_closed(void *arg)
{
    end **e = arg;
    return (e[0]->opened || e[0]->closed) && (e[1]->opened || e[1]->closed);
}
static int got_or_closed(void *arg) { end *e = arg; return e->got || e->closed; }

/* A relay between two socketpairs, flipping bit 0 of the byte at offset
 * flip_at of the client-to-server stream (counted from when armed). */
typedef struct {
    int c, s;              /* our ends: towards the client, towards the server */
    struct event *ec, *es;
    long flip_at, seen;
    int armed;
} relay;

static void relay_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    relay *r = arg;
    unsigned char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) { shutdown(fd == r->c ? r->s : r->c, SHUT_WR); event_del(fd == r->c ? r->ec : r->es); return; }
    if (fd == r->c && r->armed) {
        if (r->flip_at >= r->seen && r->flip_at < r->seen + n) buf[r->flip_at - r->seen] ^= 1;
        r->seen += n;
    }
    if (write(fd == r->c ? r->s : r->c, buf, (size_t)n) != n) abort();
}

static void session(const unsigned char *ckey, uint32_t cversion, int flip, end *cli, end *srv, proc_loop *l)
{
    photon_err err;
    link_tls *ts = link_tls_server(KEY, 16, 0x10002, &err), *tc = link_tls_client(ckey, 16, cversion, &err);
    CHECK(ts && tc);
    int a[2], b[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    relay r = { .c = a[1], .s = b[1], .flip_at = 10 };
    evutil_make_socket_nonblocking(a[1]);
    evutil_make_socket_nonblocking(b[1]);
    r.ec = event_new(proc_loop_base(l), a[1], EV_READ | EV_PERSIST, relay_cb, &r);
    r.es = event_new(proc_loop_base(l), b[1], EV_READ | EV_PERSIST, relay_cb, &r);
    event_add(r.ec, NULL);
    event_add(r.es, NULL);
    cli->loop = srv->loop = l;
    proc_peer *pc = proc_peer_new_tls(l, a[0], link_tls_ssl(tc), 0, "server", e_open, e_msg, e_close, cli);
    proc_peer *ps = proc_peer_new_tls(l, b[0], link_tls_ssl(ts), 1, "client", e_open, e_msg, e_close, srv);
    end *both[2] = { cli, srv };
    run_until(l, both_open_or_closed, both);
    if (cli->opened && srv->opened) {
        CHECK_EQ_INT(link_tls_verify(proc_peer_ssl(pc), &err), 0);
        CHECK_EQ_INT(link_tls_verify(proc_peer_ssl(ps), &err), 0);
        CHECK(link_tls_refusal(proc_peer_ssl(ps)) && link_tls_refusal(proc_peer_ssl(ps))[0] == 0);
        r.armed = flip;
        char msg[100] = "an update";
        CHECK_EQ_INT(proc_peer_send(pc, 42, msg, sizeof msg), 0);
        run_until(l, got_or_closed, srv);
    } else {
        run_until(l, got_or_closed, srv);
        run_until(l, got_or_closed, cli);
        const char *why = link_tls_refusal(proc_peer_ssl(ps));
        snprintf(srv->reason, sizeof srv->reason, "%s", why ? why : "(none)");
    }
    proc_peer_free(pc);
    proc_peer_free(ps);
    event_free(r.ec);
    event_free(r.es);
    close(a[1]);
    close(b[1]);
    link_tls_free(ts);
    link_tls_free(tc);
}

static void test_handshake(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    end c = { 0 }, s = { 0 };
    session(KEY, 0x10002, 0, &c, &s, l);
    CHECK(c.opened && s.opened);
    CHECK_EQ_INT(s.got, 1);
    CHECK_EQ_INT(s.type, 42);
    proc_loop_free(l);
}

static void test_wrong_key_and_version(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    end c = { 0 }, s = { 0 };
    session(KEY2, 0x10002, 0, &c, &s, l);
    CHECK(!c.opened && !s.opened);
    CHECK(c.closed && c.tls_error);        /* the actor sees an alert: no retry */
    CHECK_CONTAINS(c.reason, "TLS: ");
    CHECK_CONTAINS(s.reason, "wrong key");
    end c2 = { 0 }, s2 = { 0 };
    session(KEY, 0x10001, 0, &c2, &s2, l);
    CHECK(!c2.opened && !s2.opened && c2.tls_error);
    CHECK_CONTAINS(s2.reason, "another photon-sim protocol version");
    proc_loop_free(l);
}

static void test_tamper(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    end c = { 0 }, s = { 0 };
    session(KEY, 0x10002, 1, &c, &s, l);
    CHECK(c.opened && s.opened);
    CHECK_EQ_INT(s.got, 0);                /* never delivered */
    CHECK(s.closed && s.tls_error);
    CHECK_CONTAINS(s.reason, "bad record mac");
    proc_loop_free(l);
}

int main(void)
{
    RUN(test_derivations);
    RUN(test_handshake);
    RUN(test_wrong_key_and_version);
    RUN(test_tamper);
    return th_finish();
}
