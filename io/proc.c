/* The process layer (see io/proc.h): libevent loop, signals through the
 * loop, framed messages over bufferevents, and a clean fork. */
#include "io/proc.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define PROC_MAX_SIGNALS 8

struct proc_loop {
    struct event_base *base;
    struct event *sig_ev[PROC_MAX_SIGNALS];
    int nsig;
    struct event *chld_ev;
    proc_child_cb child_cb;
    void *child_arg;
    struct { proc_signal_cb cb; void *arg; int sig; } sig[PROC_MAX_SIGNALS];
    int running;   /* inside proc_loop_run (a TLS flush cannot run the loop then) */
};

struct proc_peer {
    proc_loop *loop;
    struct bufferevent *bev;
    char name[64];
    proc_msg_cb on_msg;
    proc_close_cb on_close;
    void *arg;
    int closed;
    uint8_t *buf;   /* reassembled payload of the current frame (cap bytes, grown on demand) */
    uint32_t cap;
    uint32_t limit; /* largest payload accepted */
    /* TLS peers: the session (owned by the bufferevent), the callback for
     * a completed handshake, and whether the connection failed (no
     * close_notify is sent on a failed session). */
    SSL *ssl;
    proc_open_cb on_open;
    int open, failed, tls_error;
    unsigned long tls_code;
    /* A frame that has started must be complete within frame_deadline
     * seconds (0: no deadline). */
    double frame_deadline;
    struct event *stall;
    int in_frame;
};

struct proc_timer {
    struct event *ev;
    void (*cb)(void *arg);
    void *arg;
};

typedef struct {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t length;
} __attribute__((packed)) proc_frame;
_Static_assert(sizeof(proc_frame) == PROC_FRAME_BYTES, "frame header size");

proc_loop *proc_loop_new(photon_err *err)
{
    proc_loop *l = xcalloc(1, sizeof *l);
    l->base = event_base_new();
    if (!l->base) { err_set(err, "cannot create the event loop (libevent)"); free(l); return NULL; }
    /* A peer that died mid-write must not kill the writer. */
    signal(SIGPIPE, SIG_IGN);
    return l;
}

void proc_loop_free(proc_loop *l)
{
    if (!l) return;
    for (int i = 0; i < l->nsig; i++) event_free(l->sig_ev[i]);
    if (l->chld_ev) event_free(l->chld_ev);
    event_base_free(l->base);
    free(l);
}

struct event_base *proc_loop_base(proc_loop *l) { return l->base; }
int proc_loop_run(proc_loop *l)
{
    l->running++;
    int rc = event_base_dispatch(l->base);
    l->running--;
    return rc;
}
void proc_loop_exit(proc_loop *l) { event_base_loopbreak(l->base); }

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    proc_loop *l = arg;
    for (int i = 0; i < l->nsig; i++)
        if (l->sig[i].sig == (int)sig) l->sig[i].cb((int)sig, l->sig[i].arg);
}

int proc_loop_on_signal(proc_loop *l, int sig, proc_signal_cb cb, void *arg)
{
    if (l->nsig == PROC_MAX_SIGNALS) return -1;
    struct event *ev = evsignal_new(l->base, sig, on_signal, l);
    if (!ev || evsignal_add(ev, NULL) < 0) { if (ev) event_free(ev); return -1; }
    l->sig_ev[l->nsig] = ev;
    l->sig[l->nsig].cb = cb;
    l->sig[l->nsig].arg = arg;
    l->sig[l->nsig].sig = sig;
    l->nsig++;
    return 0;
}

void proc_loop_reap(proc_loop *l)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;   /* 0: none exited now; -1: no children (ECHILD) */
        if (l->child_cb) l->child_cb(pid, status, l->child_arg);
    }
}

/* SIGCHLD only wakes the loop: several exits may share one signal. */
static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    (void)sig; (void)what;
    proc_loop_reap(arg);
}

int proc_loop_on_child(proc_loop *l, proc_child_cb cb, void *arg)
{
    l->child_cb = cb;
    l->child_arg = arg;
    if (!l->chld_ev) {
        l->chld_ev = evsignal_new(l->base, SIGCHLD, on_sigchld, l);
        if (!l->chld_ev || evsignal_add(l->chld_ev, NULL) < 0) return -1;
    }
    return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    proc_timer *t = arg;
    void (*cb)(void *) = t->cb;
    void *cbarg = t->arg;
    event_free(t->ev);
    free(t);
    cb(cbarg);
}

proc_timer *proc_timer_add(proc_loop *l, double seconds, void (*cb)(void *arg), void *arg)
{
    proc_timer *t = xcalloc(1, sizeof *t);
    t->cb = cb;
    t->arg = arg;
    t->ev = evtimer_new(l->base, on_timer, t);
    if (seconds < 0) seconds = 0;
    struct timeval tv = { (time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6) };
    evtimer_add(t->ev, &tv);
    return t;
}

void proc_timer_cancel(proc_timer *t)
{
    if (!t) return;
    event_free(t->ev);
    free(t);
}

/* ---- peers ---------------------------------------------------------------- */

static void peer_close(proc_peer *p, const char *reason)
{
    if (p->closed) return;
    p->closed = 1;
    bufferevent_disable(p->bev, EV_READ | EV_WRITE);
    if (p->on_close) p->on_close(p, reason, p->arg);
}

int proc_frame_check(const void *hdr, uint32_t limit, uint16_t *type, uint32_t *len, char *why, size_t n)
{
    proc_frame h;
    memcpy(&h, hdr, sizeof h);
    if (h.magic != PROC_MAGIC) {
        snprintf(why, n, "magic 0x%08x, expected 0x%08x", h.magic, PROC_MAGIC);
        return -1;
    }
    if (h.version != PROC_VERSION) {
        snprintf(why, n, "protocol version %u, expected %u", h.version, PROC_VERSION);
        return -1;
    }
    if (h.length > limit) {
        snprintf(why, n, "length %u over the limit %u", h.length, limit);
        return -1;
    }
    *type = h.type;
    *len = h.length;
    return 0;
}

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    proc_peer *p = arg;
    char why[160];
    snprintf(why, sizeof why, "bad frame from %s: not complete within %gs of its start", p->name, p->frame_deadline);
    log_warn("%s", why);
    peer_close(p, why);
}

/* Arms the frame deadline when a frame has started and none is pending;
 * disarms it when the input is empty. */
static void watch_stall(proc_peer *p, size_t pending)
{
    if (p->frame_deadline <= 0 || p->closed) return;
    if (pending == 0) {
        if (p->in_frame) evtimer_del(p->stall);
        p->in_frame = 0;
        return;
    }
    if (p->in_frame) return;
    if (!p->stall) p->stall = evtimer_new(p->loop->base, on_stall, p);
    struct timeval tv = { (time_t)p->frame_deadline,
                          (suseconds_t)((p->frame_deadline - (double)(time_t)p->frame_deadline) * 1e6) };
    evtimer_add(p->stall, &tv);
    p->in_frame = 1;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    proc_peer *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!p->closed) {
        proc_frame h;
        if (evbuffer_get_length(in) < sizeof h) break;
        evbuffer_copyout(in, &h, sizeof h);
        uint16_t type;
        uint32_t len;
        char why[120], bad[240];
        if (proc_frame_check(&h, p->limit, &type, &len, why, sizeof why) < 0) {
            snprintf(bad, sizeof bad, "bad frame from %s: %s", p->name, why);
            log_warn("%s", bad);
            peer_close(p, bad);
            return;
        }
        if (evbuffer_get_length(in) < sizeof h + len) break;
        if (!p->buf || len > p->cap) {   /* grown to the largest frame seen, never above the limit */
            free(p->buf);
            p->cap = len > 64 ? len : 64;
            p->buf = xmalloc(p->cap);
        }
        evbuffer_drain(in, sizeof h);
        evbuffer_remove(in, p->buf, len);
        if (p->in_frame) { evtimer_del(p->stall); p->in_frame = 0; }   /* a frame completed */
        p->on_msg(p, type, p->buf, len, p->arg);
    }
    watch_stall(p, evbuffer_get_length(in));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    proc_peer *p = arg;
    char why[240];
    if (what & BEV_EVENT_CONNECTED) {   /* TLS: the handshake completed */
        p->open = 1;
        if (p->on_open) p->on_open(p, p->arg);
        return;
    }
    if (p->ssl) {
        /* The most telling OpenSSL error (an alert, a bad record MAC). */
        /* libevent keeps them newest first, with SSL_get_error's code
         * (no library part) among them: the newest real one. */
        unsigned long e, last = 0;
        while ((e = bufferevent_get_openssl_error(bev)) != 0)
            if (!last && ERR_GET_LIB(e) != 0) last = e;
        ERR_clear_error();
        if (last) {
            const char *r = ERR_reason_error_string(last);
            char buf[120];
            if (!r) { ERR_error_string_n(last, buf, sizeof buf); r = buf; }
            p->failed = p->tls_error = 1;
            p->tls_code = last;
            snprintf(why, sizeof why, "%s to %s failed: TLS: %s", p->open ? "connection" : "TLS handshake", p->name, r);
            peer_close(p, why);
            return;
        }
    }
    if (what & BEV_EVENT_EOF)
        snprintf(why, sizeof why, "%s closed the connection%s", p->name, p->ssl && !p->open ? " during the TLS handshake" : "");
    else
        snprintf(why, sizeof why, "connection to %s failed: %s", p->name, strerror(EVUTIL_SOCKET_ERROR()));
    if (p->ssl) p->failed = 1;
    peer_close(p, why);
}

static proc_peer *peer_alloc(proc_loop *l, const char *name, proc_msg_cb on_msg, proc_close_cb on_close, void *arg)
{
    proc_peer *p = xcalloc(1, sizeof *p);
    p->loop = l;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->on_msg = on_msg;
    p->on_close = on_close;
    p->arg = arg;
    p->limit = PROC_MAX_PAYLOAD;
    return p;
}

static void setup_bev(proc_peer *p)
{
    bufferevent_setcb(p->bev, on_read, NULL, on_event, p);
    /* libevent moves 16 KiB per callback by default; blobs are hundreds of
     * megabytes, so let one callback move more (the frame limit still
     * bounds what is buffered: complete frames are consumed at once). */
    bufferevent_set_max_single_read(p->bev, 1 << 20);
    bufferevent_set_max_single_write(p->bev, 1 << 20);
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
}

proc_peer *proc_peer_new(proc_loop *l, int fd, const char *name, proc_msg_cb on_msg,
                         proc_close_cb on_close, void *arg)
{
    proc_peer *p = peer_alloc(l, name, on_msg, on_close, arg);
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    p->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
    setup_bev(p);
    return p;
}

proc_peer *proc_peer_new_tls(proc_loop *l, int fd, struct ssl_st *ssl, int accepting, const char *name,
                             proc_open_cb on_open, proc_msg_cb on_msg, proc_close_cb on_close, void *arg)
{
    proc_peer *p = peer_alloc(l, name, on_msg, on_close, arg);
    p->ssl = ssl;
    p->on_open = on_open;
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    p->bev = bufferevent_openssl_socket_new(l->base, fd, ssl,
                                            accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!p->bev) {   /* the SSL object is ours to free then */
        SSL_free(ssl);
        close(fd);
        free(p);
        return NULL;
    }
    setup_bev(p);
    return p;
}

void proc_peer_set_frame_deadline(proc_peer *p, double seconds)
{
    p->frame_deadline = seconds;
}

void proc_peer_set_callbacks(proc_peer *p, proc_msg_cb on_msg, proc_close_cb on_close, void *arg)
{
    p->on_msg = on_msg;
    p->on_close = on_close;
    p->arg = arg;
}

void proc_peer_set_limit(proc_peer *p, uint32_t max_payload)
{
    p->limit = max_payload < PROC_MAX_PAYLOAD ? max_payload : PROC_MAX_PAYLOAD;
}

int proc_peer_send(proc_peer *p, uint16_t type, const void *payload, uint32_t len)
{
    if (p->closed || len > PROC_MAX_PAYLOAD) return -1;
    proc_frame h = { PROC_MAGIC, PROC_VERSION, type, len };
    struct evbuffer *out = bufferevent_get_output(p->bev);
    if (evbuffer_add(out, &h, sizeof h) < 0) return -1;
    if (len && evbuffer_add(out, payload, len) < 0) return -1;
    return 0;
}

static void flush_tls(proc_peer *p)
{
    /* Only the loop can drive OpenSSL's writes; nothing may be delivered
     * meanwhile, so reading is off.  Inside the loop this cannot run: the
     * caller waits for the peer to close instead. */
    if (p->loop->running) return;
    struct evbuffer *out = bufferevent_get_output(p->bev);
    bufferevent_disable(p->bev, EV_READ);
    double give_up = time_mono() + 5.0;
    while (!p->closed && evbuffer_get_length(out) > 0 && time_mono() < give_up) {
        struct timeval tv = { 0, 50000 };
        event_base_loopexit(p->loop->base, &tv);
        event_base_dispatch(p->loop->base);
    }
}

void proc_peer_flush(proc_peer *p)
{
    if (p->closed) return;
    if (p->ssl) { flush_tls(p); return; }
    struct evbuffer *out = bufferevent_get_output(p->bev);
    int fd = bufferevent_getfd(p->bev);
    /* A socket bufferevent freezes its output's front so that only it
     * drains it: evbuffer_write would fail (with a stale errno) and write
     * nothing.  Unfreeze for the flush.  A peer that does not read for
     * 5 s is given up on rather than blocking the exit forever. */
    evbuffer_unfreeze(out, 1);
    double give_up = time_mono() + 5.0;
    while (evbuffer_get_length(out) > 0) {
        errno = 0;
        int n = evbuffer_write(out, fd);
        if (n < 0 && errno != EAGAIN && errno != EINTR) break;
        if (n <= 0) {
            if (time_mono() > give_up) break;
            usleep(1000);
        }
    }
    evbuffer_freeze(out, 1);
}

int proc_peer_closed(const proc_peer *p) { return p->closed; }

void proc_peer_drain(proc_peer *p)
{
    if (p->closed || p->ssl) return;
    int fd = bufferevent_getfd(p->bev);
    struct evbuffer *in = bufferevent_get_input(p->bev);
    size_t total = 0;
    int eof = 0, err = 0;
    /* A socket bufferevent freezes its input's end so that only it fills
     * it; this read stands in for the one it would do next. */
    while (!p->closed && total < 4 * (size_t)PROC_MAX_PAYLOAD) {
        evbuffer_unfreeze(in, 0);
        errno = 0;
        int n = evbuffer_read(in, fd, 1 << 16);
        int e = errno;
        evbuffer_freeze(in, 0);
        if (n > 0) { total += (size_t)n; on_read(p->bev, p); continue; }
        if (n == 0) eof = 1;
        else if (e == EINTR) continue;
        else if (e != EAGAIN && e != EWOULDBLOCK) err = e;
        break;
    }
    if (p->closed || (!eof && !err)) return;
    char why[240];
    if (eof) snprintf(why, sizeof why, "%s closed the connection", p->name);
    else snprintf(why, sizeof why, "connection to %s failed: %s", p->name, strerror(err));
    peer_close(p, why);
}
const char *proc_peer_name(const proc_peer *p) { return p->name; }

int proc_peer_open(const proc_peer *p) { return p->open; }
int proc_peer_tls_error(const proc_peer *p) { return p->tls_error; }
unsigned long proc_peer_tls_code(const proc_peer *p) { return p->tls_code; }
struct ssl_st *proc_peer_ssl(const proc_peer *p) { return p->ssl; }

void proc_peer_free(proc_peer *p)
{
    if (!p) return;
    if (p->stall) event_free(p->stall);
    /* A TLS session that ends well says so (close_notify), best effort:
     * the peer then tells a deliberate close from a cut connection. */
    if (p->ssl && p->open && !p->failed && evbuffer_get_length(bufferevent_get_output(p->bev)) == 0) {
        SSL_shutdown(p->ssl);
        ERR_clear_error();
    }
    bufferevent_free(p->bev);
    free(p->buf);
    free(p);
}

/* ---- fork ----------------------------------------------------------------- */

pid_t proc_fork(int *fd, photon_err *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err_set(err, "socketpair: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    /* Signals stay blocked until the child has reset their dispositions: a
     * SIGTERM that reached it before (pool_stop right after the spawn) would
     * run libevent's handler, which writes to the signal socket the child
     * shares with the parent, and the parent would take it for its own
     * ("second TERM: killing the actors now"). */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid != 0) sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        err_set(err, "fork: %s", strerror(errno));
        close(sv[0]); close(sv[1]);
        return -1;
    }
    if (pid > 0) {
        close(sv[1]);
        *fd = sv[0];
        return pid;
    }
    /* Child: default signals, then keep only stdio and our end. */
    static const int sigs[] = { SIGCHLD, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    signal(SIGINT, SIG_IGN);   /* a terminal ^C reaches the whole group; the supervisor stops us */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);   /* the parent died before prctl */
    int mine = sv[1];
    if (mine != 3) {
        if (dup2(mine, 3) < 0) _exit(1);
        mine = 3;
    }
    close_range(4, ~0U, 0);
    *fd = mine;
    return 0;
}

pid_t proc_spawn(const char *exe, char *const argv[], int *fd, photon_err *err)
{
    pid_t pid = proc_fork(fd, err);
    if (pid != 0) return pid;
    execv(exe, argv);
    fprintf(stderr, "photon-sim: error: cannot execute %s: %s\n", exe, strerror(errno));
    _exit(127);
}

const char *proc_signal_name(int sig)
{
    switch (sig) {
    case SIGKILL: return "KILL"; case SIGSEGV: return "SEGV"; case SIGTERM: return "TERM";
    case SIGINT: return "INT"; case SIGABRT: return "ABRT"; case SIGBUS: return "BUS";
    case SIGFPE: return "FPE"; case SIGILL: return "ILL"; case SIGHUP: return "HUP";
    case SIGPIPE: return "PIPE"; case SIGQUIT: return "QUIT"; case SIGUSR1: return "USR1";
    case SIGUSR2: return "USR2"; case SIGALRM: return "ALRM";
    default: return "?";
    }
}

void proc_status_str(int status, char *out, size_t n)
{
    if (WIFEXITED(status)) snprintf(out, n, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(out, n, "signal %s (%d)", proc_signal_name(WTERMSIG(status)), WTERMSIG(status));
    else snprintf(out, n, "status 0x%x", status);
}
