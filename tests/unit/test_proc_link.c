/* The process layer (framed messages, bad frames, fork + SIGCHLD reaping)
 * and the shared-memory link (round trip, generation and checksum checks,
 * stale-segment removal, the /dev/shm capacity refusal). */
#include "harness.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/mman.h>
#include <fcntl.h>
#include "io/proc.h"
#include "io/link.h"

typedef struct {
    int got, closed, last_type;
    uint32_t last_len;
    char reason[200];
    char text[64];
    proc_loop *loop;
    int stop_after;
} sink;

static void on_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)p;
    sink *s = arg;
    s->got++;
    s->last_type = type;
    s->last_len = len;
    if (len < sizeof s->text) { memcpy(s->text, payload, len); s->text[len] = 0; }
    if (s->got == s->stop_after) proc_loop_exit(s->loop);
}

static void on_close(proc_peer *p, const char *reason, void *arg)
{
    (void)p;
    sink *s = arg;
    s->closed = 1;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    proc_loop_exit(s->loop);
}

static void test_messages(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sink a = { .loop = l, .stop_after = 2 }, b = { .loop = l };
    proc_peer *pa = proc_peer_new(l, sv[0], "a", on_msg, on_close, &a);
    proc_peer *pb = proc_peer_new(l, sv[1], "b", on_msg, on_close, &b);
    CHECK(proc_peer_send(pb, 7, "hello", 5) == 0);
    CHECK(proc_peer_send(pb, 9, "", 0) == 0);
    proc_loop_run(l);
    CHECK_EQ_INT(a.got, 2);
    CHECK_EQ_INT(a.last_type, 9);
    CHECK_EQ_INT(a.last_len, 0);
    /* A frame with a bad magic closes the peer with a reason. */
    uint8_t junk[12] = { 'X', 'X', 'X', 'X', 1, 0, 1, 0, 0, 0, 0, 0 };
    proc_peer_free(pb);
    proc_peer_free(pa);
    int raw[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, raw) == 0);
    sink c = { .loop = l };
    proc_peer *pc = proc_peer_new(l, raw[0], "c", on_msg, on_close, &c);
    CHECK(write(raw[1], junk, sizeof junk) == (ssize_t)sizeof junk);
    proc_loop_run(l);
    CHECK(c.closed);
    CHECK_CONTAINS(c.reason, "bad frame from c: magic");
    /* Oversized length, right magic. */
    int raw2[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, raw2) == 0);
    sink d = { .loop = l };
    proc_peer *pd = proc_peer_new(l, raw2[0], "d", on_msg, on_close, &d);
    struct __attribute__((packed)) { uint32_t m; uint16_t v, t; uint32_t len; } h = { PROC_MAGIC, PROC_VERSION, 1, PROC_MAX_PAYLOAD + 1 };
    CHECK(write(raw2[1], &h, sizeof h) == (ssize_t)sizeof h);
    proc_loop_run(l);
    CHECK(d.closed);
    CHECK_CONTAINS(d.reason, "over the limit");
    close(raw[1]);
    close(raw2[1]);
    proc_peer_free(pc);
    proc_peer_free(pd);
    proc_loop_free(l);
}

/* A frame that starts and then trickles (slow-loris) is given up on after
 * the peer's frame deadline; complete frames, however spaced, are not. */
static void test_frame_deadline(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    int raw[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, raw) == 0);
    sink s = { .loop = l, .stop_after = 1 };
    proc_peer *p = proc_peer_new(l, raw[0], "slow", on_msg, on_close, &s);
    proc_peer_set_frame_deadline(p, 0.3);
    struct __attribute__((packed)) { uint32_t m; uint16_t v, t; uint32_t len; char body[4]; } f = { PROC_MAGIC, PROC_VERSION, 5, 4, "abc" };
    CHECK(write(raw[1], &f, sizeof f) == (ssize_t)sizeof f);   /* a whole frame: delivered */
    proc_loop_run(l);
    CHECK_EQ_INT(s.got, 1);
    CHECK(!s.closed);
    double t0 = time_mono();
    CHECK(write(raw[1], &f, 6) == 6);                            /* half a header, then nothing */
    proc_loop_run(l);
    double dt = time_mono() - t0;
    CHECK(s.closed);
    CHECK_CONTAINS(s.reason, "not complete within 0.3s");
    CHECK_MSG(dt >= 0.25 && dt < 5, "closed after %.2fs", dt);
    close(raw[1]);
    proc_peer_free(p);
    proc_loop_free(l);
}

static int reaped_pid, reaped_status;
static proc_loop *reap_loop;
static void on_child(pid_t pid, int status, void *arg)
{
    (void)arg;
    reaped_pid = pid;
    reaped_status = status;
    proc_loop_exit(reap_loop);
}

/* proc_peer_flush writes the queued frames out at once, without the loop
 * (bufferevent freezes its output buffer's front: evbuffer_write alone
 * writes nothing). */
static void test_flush(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sink a = { .loop = l };
    proc_peer *pa = proc_peer_new(l, sv[0], "a", on_msg, on_close, &a);
    CHECK(proc_peer_send(pa, 7, "hello", 5) == 0);
    proc_peer_flush(pa);
    char buf[64];
    ssize_t n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
    CHECK_EQ_INT(n, 12 + 5);
    if (n == 17) CHECK(memcmp(buf + 12, "hello", 5) == 0);
    proc_peer_free(pa);
    close(sv[1]);
    proc_loop_free(l);
}

static void test_fork(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    reap_loop = l;
    CHECK(proc_loop_on_child(l, on_child, NULL) == 0);
    int fd;
    pid_t pid = proc_fork(&fd, &err);
    if (pid == 0) {
        /* Child: only fds 0-3 are open; say hello and die of a signal. */
        int open_above = 0;
        for (int i = 4; i < 64; i++) if (fcntl(i, F_GETFD) >= 0) open_above++;
        struct __attribute__((packed)) { uint32_t m; uint16_t v, t; uint32_t len; } h = { PROC_MAGIC, PROC_VERSION, 3, 1 };
        char b = (char)open_above;
        if (write(fd, &h, sizeof h) < 0 || write(fd, &b, 1) < 0) _exit(9);
        sleep(1);
        signal(SIGSEGV, SIG_DFL);   /* a sanitizer's handler would turn the crash into exit 1 */
        raise(SIGSEGV);
        _exit(8);
    }
    CHECK(pid > 0);
    sink s = { .loop = l, .stop_after = 1 };
    proc_peer *p = proc_peer_new(l, fd, "child", on_msg, on_close, &s);
    proc_loop_run(l);
    CHECK_EQ_INT(s.got, 1);
    CHECK_EQ_INT(s.text[0], 0);   /* no fd leaked into the child */
    while (reaped_pid == 0) proc_loop_run(l);
    CHECK_EQ_INT(reaped_pid, pid);
    char st[64];
    proc_status_str(reaped_status, st, sizeof st);
    CHECK_STR(st, "signal SEGV (11)");
    proc_peer_free(p);
    proc_loop_free(l);
}

static int shm_exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "/dev/shm/%s", name);
    return access(p, F_OK) == 0;
}

static void test_shm_link(void)
{
    photon_err err;
    char id[48];
    link_shm_run_id(id, sizeof id);
    link_plan plan = { .model_bytes = 4000, .update_slots = 2, .update_bytes = 4000, .state_slots = 1, .state_bytes = 100 };
    photon_link *s = link_shm_create(id, &plan, &err);
    CHECK(s != NULL);
    char name[96];
    snprintf(name, sizeof name, "photon-%s-update-1", id);
    CHECK(shm_exists(name));
    photon_link *a = link_shm_attach(id, &plan, &err);
    CHECK(a != NULL);
    float *m = link_write_begin(s, LINK_MODEL, 0, 4000, &err);
    for (int i = 0; i < 1000; i++) m[i] = (float)i;
    CHECK(link_write_end(s, LINK_MODEL, 0, 5, 4000, &err) == 0);
    size_t bytes = 0;
    const float *v = link_read(a, LINK_MODEL, 0, 5, &bytes, NULL, &err);
    CHECK(v && bytes == 4000 && v[999] == 999.0f);
    CHECK(link_read(a, LINK_MODEL, 0, 6, &bytes, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "generation 5, expected 6");
    /* A flipped payload byte fails the checksum. */
    ((float *)v)[3] = 42.0f;
    CHECK(link_read(a, LINK_MODEL, 0, 5, &bytes, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "checksum mismatch");
    /* Begun but never ended: not current. */
    CHECK(link_write_begin(a, LINK_UPDATE, 1, 4000, &err) != NULL);
    CHECK(link_read(s, LINK_UPDATE, 1, LINK_ANY, &bytes, NULL, &err) == NULL);
    CHECK(link_write_begin(a, LINK_UPDATE, 2, 4000, &err) == NULL);   /* no slot 2 */
    CHECK(link_write_begin(a, LINK_STATE, 0, 101, &err) == NULL);     /* over capacity */
    /* An encoded blob (a compressed update): its encoding in the header; a
     * reader that does not ask for one refuses it. */
    uint8_t *u = link_write_begin(a, LINK_UPDATE, 0, 4000, &err);
    memset(u, 7, 520);
    CHECK(link_write_end_enc(a, LINK_UPDATE, 0, 8, 520, 2, &err) == 0);
    uint32_t enc = 0;
    CHECK(link_read_enc(s, LINK_UPDATE, 0, 8, &bytes, &enc, &err) != NULL && bytes == 520 && enc == 2);
    CHECK(link_read(s, LINK_UPDATE, 0, 8, &bytes, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "encoded blob");
    link_close(a);
    CHECK(shm_exists(name));   /* the attacher never unlinks */
    link_close(s);
    CHECK(!shm_exists(name));

    /* Refused with a clear message when /dev/shm cannot hold the plan. */
    link_plan huge = { .model_bytes = (size_t)1 << 50, .update_slots = 1, .update_bytes = (size_t)1 << 50 };
    CHECK(link_shm_create(id, &huge, &err) == NULL);
    CHECK_CONTAINS(err.msg, "/dev/shm has");
}

static void test_stale(void)
{
    /* A segment whose supervisor pid is dead is removed; a live one stays. */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char n1[64], n2[64];
    snprintf(n1, sizeof n1, "/photon-%d-abc-model", (int)dead);
    snprintf(n2, sizeof n2, "/photon-%d-abc-model", (int)getpid());
    int f1 = shm_open(n1, O_CREAT | O_RDWR, 0600), f2 = shm_open(n2, O_CREAT | O_RDWR, 0600);
    CHECK(f1 >= 0 && f2 >= 0);
    close(f1); close(f2);
    CHECK(link_shm_remove_stale() >= 1);
    CHECK(!shm_exists(n1 + 1));
    CHECK(shm_exists(n2 + 1));
    shm_unlink(n2);
}

int main(void)
{
    RUN(test_messages);
    RUN(test_frame_deadline);
    RUN(test_flush);
    RUN(test_fork);
    RUN(test_shm_link);
    RUN(test_stale);
    return th_finish();
}
