/* The actor pool's supervision state machine, with this program itself as a
 * fake actor (PHOTON_ACTOR_EXE; "actor" as argv[1]): an actor that dies
 * after its RESULT still has its update "held" in its link slot until the
 * round consumes it, so the restarted actor in that slot must not be given
 * a task (it would overwrite the update the round has not read yet). */
#include "harness.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/config.h"
#include "io/proc.h"
#include "supervisor/actor_pool.h"

/* ---- the fake actor: HELLO on SETUP; RESULT on TASK, then dies --------- */

static void fake_msg(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg)
{
    (void)arg;
    if (type == MSG_SETUP) {
        msg_hello h = { .slot = 0, .pid = (int32_t)getpid() };
        proc_peer_send(p, MSG_HELLO, &h, sizeof h);
    } else if (type == MSG_TASK && len == sizeof(msg_task)) {
        msg_task t;
        memcpy(&t, payload, sizeof t);
        msg_result r;
        memset(&r, 0, sizeof r);
        r.task_id = t.task_id;
        r.round = t.round;
        r.client = t.client;
        proc_peer_send(p, MSG_RESULT, &r, sizeof r);
        proc_peer_flush(p);
        usleep(200000);                /* the supervisor reads the RESULT first */
        _exit(ACTOR_EXIT_TRANSIENT);   /* dies while its update is held */
    } else if (type == MSG_STOP) {
        _exit(ACTOR_EXIT_OK);
    }
}

static void fake_close(proc_peer *p, const char *reason, void *arg)
{
    (void)p; (void)reason; (void)arg;
    _exit(ACTOR_EXIT_OK);
}

static int fake_actor(void)
{
    photon_err err;
    proc_loop *l = proc_loop_new(&err);
    if (!l) return 1;
    proc_peer_new(l, 3, "supervisor", fake_msg, fake_close, NULL);
    proc_loop_run(l);
    return 0;
}

/* ---- the supervisor side ------------------------------------------------- */

typedef struct {
    proc_loop *loop;
    actor_pool *pool;
    int idles, results, exits, restarting, fatal, stopped;
    int ready_after_restart;   /* pool_ready when the restarted actor said HELLO */
    proc_timer *deadline;
} world;

static void on_idle(void *arg, int slot)
{
    world *w = arg;
    w->idles++;
    if (w->idles == 1) {
        msg_task t;
        memset(&t, 0, sizeof t);
        t.task_id = 1;
        t.round = 1;
        t.client = 0;
        CHECK(pool_dispatch(w->pool, slot, &t) == 0);
    } else if (w->idles == 2) {
        w->ready_after_restart = pool_ready(w->pool, slot);
        proc_loop_exit(w->loop);
    }
}

static void on_result(void *arg, int slot, const msg_result *r)
{
    (void)slot; (void)r;
    ((world *)arg)->results++;
}

static void on_task_lost(void *arg, int slot, const msg_task *t, const char *cause)
{
    (void)arg; (void)slot; (void)t; (void)cause;
}

static void on_exit_cb(void *arg, int slot, pid_t pid, const char *cause, int restarting)
{
    (void)slot; (void)pid; (void)cause;
    world *w = arg;
    w->exits++;
    w->restarting += restarting;
}

static void on_fatal(void *arg, const char *reason)
{
    world *w = arg;
    fprintf(stderr, "fatal: %s\n", reason);
    w->fatal++;
    proc_loop_exit(w->loop);
}

static void on_stopped(void *arg)
{
    world *w = arg;
    w->stopped = 1;
    proc_loop_exit(w->loop);
}

static void on_child(pid_t pid, int status, void *arg)
{
    world *w = arg;
    pool_child_exited(w->pool, pid, status);
}

static void on_deadline(void *arg)
{
    world *w = arg;
    w->deadline = NULL;
    fprintf(stderr, "deadline reached\n");
    proc_loop_exit(w->loop);
}

static void test_held_survives_restart(void)
{
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(k > 0);
    if (k <= 0) return;
    self[k] = 0;
    setenv("PHOTON_ACTOR_EXE", self, 1);

    static photon_config cfg;
    config_defaults(&cfg);
    cfg.supervision.backoff = 0.01;
    cfg.aggregator.round_timeout = 0;
    static actor_setup setup;
    memset(&setup, 0, sizeof setup);

    photon_err err;
    world w = { 0 };
    w.loop = proc_loop_new(&err);
    pool_callbacks cb = { .arg = &w, .on_idle = on_idle, .on_result = on_result, .on_task_lost = on_task_lost,
                          .on_exit = on_exit_cb, .on_fatal = on_fatal, .on_stopped = on_stopped };
    w.pool = pool_new(w.loop, &setup, 1, &cfg, &cb);
    CHECK(proc_loop_on_child(w.loop, on_child, &w) == 0);
    CHECK(pool_start(w.pool, &err) == 0);
    w.deadline = proc_timer_add(w.loop, 20.0, on_deadline, &w);
    proc_loop_run(w.loop);

    CHECK_EQ_INT(w.fatal, 0);
    CHECK_EQ_INT(w.results, 1);
    CHECK_EQ_INT(w.exits, 1);
    CHECK_EQ_INT(w.restarting, 1);
    CHECK_EQ_INT(w.idles, 2);
    /* The restarted actor is IDLE, but its slot still holds the update. */
    CHECK_EQ_INT(pool_state(w.pool, 0), ACTOR_IDLE);
    CHECK_EQ_INT(w.ready_after_restart, 0);
    CHECK_EQ_INT(pool_ready(w.pool, 0), 0);
    /* Once the round has consumed it, the slot takes work again. */
    pool_release(w.pool, 0);
    CHECK_EQ_INT(pool_ready(w.pool, 0), 1);

    pool_stop(w.pool);
    if (!w.stopped) proc_loop_run(w.loop);
    CHECK_EQ_INT(w.stopped, 1);
    proc_timer_cancel(w.deadline);
    pool_free(w.pool);
    proc_loop_free(w.loop);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "actor") == 0) return fake_actor();
    RUN(test_held_survives_restart);
    return th_finish();
}
