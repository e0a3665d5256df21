/* libFuzzer target: what a remote actor that holds the run key can send the
 * supervisor once the TLS handshake is done.  The input is the byte stream
 * of an authenticated connection: it goes through io/proc.c's frame
 * decoding (magic, version, length against the limit, reassembly) into the
 * actor pool's message handling for a remote slot (supervisor/actor_pool.c:
 * hello, result, failure, blob frames into io/tcp_link.c).  The harness
 * says HELLO first when the first input byte is odd, so the slot is busy
 * with a task (with kept state when bit 1 is set) and blobs are expected;
 * bit 2 makes that task an evaluation (MSG_EVAL_RESULT expected).
 * The peer is a plain socketpair: TLS is below this layer.  Invariants: no
 * memory error (ASan), and once the stream ends the slot is free again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "io/config.h"
#include "io/proc.h"
#include "io/tcp_link.h"
#include "supervisor/actor_pool.h"

typedef struct { actor_pool *pool; int keep, eval; int results; } world;

static void on_idle(void *arg, int slot)
{
    world *w = arg;
    msg_task t;
    memset(&t, 0, sizeof t);
    t.task_id = 7;
    t.model_generation = 1;
    t.keep_state = w->keep;
    t.state_out = 1;
    if (w->eval) t.kind = TASK_EVAL;
    pool_dispatch(w->pool, slot, &t);
}
static void on_result(void *arg, int slot, const msg_result *r)
{
    (void)r;
    world *w = arg;
    w->results++;
    pool_release(w->pool, slot);
}
static void on_eval_result(void *arg, int slot, const msg_eval_result *r) { (void)arg; (void)slot; (void)r; }
static void on_task_lost(void *arg, int slot, const msg_task *t, const char *cause) { (void)arg; (void)slot; (void)t; (void)cause; }
static void on_exit_cb(void *arg, int slot, pid_t pid, const char *cause, int r) { (void)arg; (void)slot; (void)pid; (void)cause; (void)r; }
static void on_fatal(void *arg, const char *reason) { (void)arg; (void)reason; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static photon_config cfg;
    static actor_setup setup;
    static int init;
    if (!init) {
        config_defaults(&cfg);
        cfg.aggregator.connect_timeout = 0;   /* no timers left when the stream ends */
        cfg.aggregator.round_timeout = 0;
        setup.plan = (link_plan){ .model_bytes = 4096, .update_slots = 1, .update_bytes = 4096,
                                  .state_slots = 2, .state_bytes = 256 };
        log_set_quiet(true);
        init = 1;
    }
    if (size < 1) return 0;
    photon_err err;
    proc_loop *loop = proc_loop_new(&err);
    world w = { .keep = (data[0] >> 1) & 1, .eval = (data[0] >> 2) & 1 };
    pool_callbacks cb = { .arg = &w, .on_idle = on_idle, .on_result = on_result, .on_task_lost = on_task_lost,
                          .on_eval_result = on_eval_result, .on_exit = on_exit_cb, .on_fatal = on_fatal };
    w.pool = pool_new(loop, &setup, 1, &cfg, &cb);
    photon_link *link = link_tcp_create(&setup.plan, NULL, NULL);
    void *m = link_write_begin(link, LINK_MODEL, 0, 4096, &err);
    memset(m, 1, 4096);
    link_write_end(link, LINK_MODEL, 0, 1, 4096, &err);
    pool_set_remote(w.pool, link);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort();
    /* The input is written before the loop runs: it must fit the socket
     * (what does not is cut off; the harness never blocks). */
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    proc_peer *peer = proc_peer_new(loop, sv[0], "fuzz", NULL, NULL, NULL);
    if (pool_adopt(w.pool, peer, "fuzz") < 0) abort();
    /* What the actor sends: [HELLO], the input, then end of stream. */
    if (data[0] & 1) {
        uint8_t hello[12 + 8] = { 0x50, 0x48, 0x53, 0x4d, 1, 0, 1, 0, 8, 0, 0, 0 };
        if (write(sv[1], hello, sizeof hello) != (ssize_t)sizeof hello) abort();
    }
    size_t off = 1;
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    proc_loop_run(loop);   /* until the pool has dropped the connection and freed it */
    if (pool_state(w.pool, 0) != ACTOR_DEAD) __builtin_trap();
    close(sv[1]);
    pool_free(w.pool);
    link_close(link);
    proc_loop_free(loop);
    return 0;
}
