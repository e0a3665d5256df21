/* Supervision policy against timelines worked out by hand: sliding-window
 * restart limit per actor, run-wide limit, exponential backoff with cap and
 * reset, permanent exit codes, the death tally, and exit descriptions from
 * real wait statuses. */
#include "harness.h"
#include "io/common.h"
#include "supervisor/restart_policy.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const actor_exit KILLED = { ACTOR_SIGNALED, SIGKILL };

/* restarts 2 in 10 s; backoff 0.5 doubling, cap 4.
 * actor 0 dies at t=0 (restart, 0.5 s), t=1 (restart, 1 s), t=2: third death
 * within 10 s of the first -> give up. */
static void test_actor_window(void)
{
    restart_policy *p = rp_create(2, 2, 10, 100, 0.5, 4);
    double d;
    char why[256];
    CHECK(rp_on_exit(p, 0, &KILLED, 0, &d, why, sizeof why) == RP_RESTART && d == 0.5);
    CHECK(rp_on_exit(p, 0, &KILLED, 1, &d, why, sizeof why) == RP_RESTART && d == 1.0);
    CHECK(rp_on_exit(p, 0, &KILLED, 2, &d, why, sizeof why) == RP_FAIL_ACTOR_LIMIT && d == 0);
    CHECK_CONTAINS(why, "actor 0 died (signal SIGKILL) more than 2 times within 10 s");
    /* actor 1: deaths at 0, 5 -> restarts; at 11 the one at 0 left the
     * window -> restart (delay 2); after a healthy task the delay is 0.5 again;
     * at 12 the ring holds {5, 11}: 12-5 < 10 -> give up */
    CHECK(rp_on_exit(p, 1, &KILLED, 0, &d, NULL, 0) == RP_RESTART && d == 0.5);
    CHECK(rp_on_exit(p, 1, &KILLED, 5, &d, NULL, 0) == RP_RESTART && d == 1.0);
    CHECK(rp_on_exit(p, 1, &KILLED, 11, &d, NULL, 0) == RP_RESTART && d == 2.0);
    rp_on_healthy(p, 1);
    CHECK(rp_on_exit(p, 1, &KILLED, 12, &d, NULL, 0) == RP_FAIL_ACTOR_LIMIT);
    CHECK_EQ_INT(rp_actor_deaths(p, 1), 4);
    rp_free(p);
}

static void test_backoff_cap_and_reset(void)
{
    restart_policy *p = rp_create(1, 100, 1, 100, 0.5, 4);
    double want[6] = {0.5, 1, 2, 4, 4, 4}, d;
    for (int i = 0; i < 6; i++) {
        CHECK(rp_on_exit(p, 0, &KILLED, 10.0 * i, &d, NULL, 0) == RP_RESTART);
        CHECK_MSG(d == want[i], "death %d: delay %g want %g", i + 1, d, want[i]);
    }
    rp_on_healthy(p, 0);
    rp_on_exit(p, 0, &KILLED, 100, &d, NULL, 0);
    CHECK(d == 0.5);
    rp_free(p);
}

/* run_restarts 3: the 4th death anywhere ends the run. */
static void test_run_limit(void)
{
    restart_policy *p = rp_create(3, 10, 60, 3, 0, 0);
    double d;
    char why[256];
    CHECK(rp_on_exit(p, 0, &KILLED, 0, &d, why, sizeof why) == RP_RESTART && d == 0);
    CHECK(rp_on_exit(p, 1, &KILLED, 0, &d, why, sizeof why) == RP_RESTART);
    CHECK(rp_on_exit(p, 2, &KILLED, 0, &d, why, sizeof why) == RP_RESTART);
    CHECK(rp_on_exit(p, 0, &KILLED, 0, &d, why, sizeof why) == RP_FAIL_RUN_LIMIT);
    CHECK_CONTAINS(why, "after 3 restarts in this run (limit 3)");
    rp_free(p);
    p = rp_create(1, 0, 60, 10, 0, 0);   /* restarts = 0: never restart */
    CHECK(rp_on_exit(p, 0, &KILLED, 0, &d, why, sizeof why) == RP_FAIL_ACTOR_LIMIT);
    rp_free(p);
}

static void test_permanent_and_tally(void)
{
    restart_policy *p = rp_create(1, 10, 60, 10, 0.1, 1);
    double d;
    char why[256];
    actor_exit cfg = { ACTOR_EXITED, ACTOR_EXIT_CONFIG }, usage = { ACTOR_EXITED, 2 },
               odd = { ACTOR_EXITED, 70 }, to = { ACTOR_TIMEOUT, 0 }, lost = { ACTOR_LOST, 0 },
               segv = { ACTOR_SIGNALED, SIGSEGV };
    CHECK(rp_on_exit(p, 0, &cfg, 0, &d, why, sizeof why) == RP_FAIL_PERMANENT);
    CHECK_CONTAINS(why, "exit status 3");
    CHECK(rp_on_exit(p, 0, &usage, 0, &d, NULL, 0) == RP_FAIL_PERMANENT);
    CHECK(rp_on_exit(p, 0, &odd, 0, &d, NULL, 0) == RP_RESTART);
    CHECK(rp_on_exit(p, 0, &to, 0, &d, NULL, 0) == RP_RESTART);
    CHECK(rp_on_exit(p, 0, &lost, 0, &d, NULL, 0) == RP_RESTART);
    CHECK(rp_on_exit(p, 0, &segv, 0, &d, NULL, 0) == RP_RESTART);
    const rp_tally *t = rp_get_tally(p);
    CHECK_EQ_INT(t->deaths, 6);
    CHECK_EQ_INT(t->restarts, 4);
    CHECK_EQ_INT(t->exited, 3);
    CHECK_EQ_INT(t->by_code[3], 1);
    CHECK_EQ_INT(t->by_code[70], 1);
    CHECK_EQ_INT(t->signaled, 1);
    CHECK_EQ_INT(t->by_signal[SIGSEGV], 1);
    CHECK_EQ_INT(t->timeouts, 1);
    CHECK_EQ_INT(t->lost, 1);
    CHECK_STR(rp_action_name(RP_FAIL_RUN_LIMIT), "fail_run_limit");
    rp_free(p);
}

static void test_describe_real_status(void)
{
    char buf[64];
    pid_t pid = fork();
    if (pid == 0) _exit(70);
    int st;
    waitpid(pid, &st, 0);
    actor_exit e = actor_exit_from_status(st);
    actor_exit_describe(&e, buf, sizeof buf);
    CHECK_STR(buf, "exit status 70");
    CHECK(!actor_exit_permanent(&e));
    pid = fork();
    if (pid == 0) { pause(); _exit(0); }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    e = actor_exit_from_status(st);
    actor_exit_describe(&e, buf, sizeof buf);
    CHECK_STR(buf, "signal SIGKILL");
    char tmp[16];
    CHECK_STR(signal_name(40, tmp, sizeof tmp), "SIG40");
    e = (actor_exit){ ACTOR_TIMEOUT, 0 };
    actor_exit_describe(&e, buf, sizeof buf);
    CHECK_STR(buf, "timed out");
}

int main(void)
{
    RUN(test_actor_window);
    RUN(test_backoff_cap_and_reset);
    RUN(test_run_limit);
    RUN(test_permanent_and_tally);
    RUN(test_describe_real_status);
    return th_finish();
}
