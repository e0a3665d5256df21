/* The [faults] plan: defaults inject nothing; targeted faults hit exactly
 * the task they name, once; random faults hit at their rate and reproduce;
 * corruptions change the buffer as worked out by hand; kills die by the
 * planned signal or exit code; one-shot faults stay off after a resume;
 * decisions are logged as metrics "fault" events. */
#include "harness.h"
#include "io/common.h"
#include "io/config.h"
#include "io/metrics.h"
#include "supervisor/faults.h"
#include "actors/fault_exec.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const int SAMPLE[4] = {1, 3, 5, 8};

static fault_where where(int64_t round, int client, int attempt, int try_)
{
    fault_where w = { .round = round, .attempt = attempt, .try_ = try_, .client = client,
                      .local_steps = 16, .sample = SAMPLE, .k = 4 };
    return w;
}

static void test_defaults_inject_nothing(void)
{
    photon_config c;
    config_defaults(&c);
    fault_plan *p = faults_create(&c, false);
    CHECK(!faults_active(p));
    int hits = 0;
    for (int r = 0; r < 50; r++)
        for (int i = 0; i < 4; i++) {
            fault_where w = where(r, SAMPLE[i], 0, 0);
            fault_task t;
            faults_task(p, &w, &t);
            hits += t.kind != FAULT_NONE;
        }
    CHECK_EQ_INT(hits, 0);
    CHECK(!faults_kill_supervisor(p, 1));
    CHECK(!faults_ckpt_write_fails(p, 1));
    faults_free(p);
}

static void test_targeted_kill(void)
{
    photon_config c;
    config_defaults(&c);
    c.faults.kill_round = 2;
    c.faults.kill_client = 5;
    c.faults.kill_step = 3;
    snprintf(c.faults.kill_signal, CFG_STR, "SEGV");
    fault_plan *p = faults_create(&c, false);
    CHECK(faults_active(p));
    fault_task t;
    fault_where w = where(2, 5, 0, 0);
    faults_task(p, &w, &t);
    CHECK(t.kind == FAULT_KILL && t.step == 3 && t.signal == SIGSEGV && t.targeted);
    w = where(2, 3, 0, 0); faults_task(p, &w, &t); CHECK(t.kind == FAULT_NONE);
    w = where(2, 5, 1, 0); faults_task(p, &w, &t); CHECK(t.kind == FAULT_NONE);   /* retried round */
    w = where(2, 5, 0, 1); faults_task(p, &w, &t); CHECK(t.kind == FAULT_NONE);   /* re-queued task */
    w = where(3, 5, 0, 0); faults_task(p, &w, &t); CHECK(t.kind == FAULT_NONE);
    faults_free(p);
    /* client not sampled: nobody; step past the end clamps */
    c.faults.kill_client = 4;
    p = faults_create(&c, false);
    int hits = 0;
    for (int i = 0; i < 4; i++) { w = where(2, SAMPLE[i], 0, 0); faults_task(p, &w, &t); hits += t.kind != 0; }
    CHECK_EQ_INT(hits, 0);
    faults_free(p);
    c.faults.kill_client = 8;
    c.faults.kill_step = 99;
    snprintf(c.faults.kill_signal, CFG_STR, "exit");
    p = faults_create(&c, false);
    w = where(2, 8, 0, 0);
    faults_task(p, &w, &t);
    CHECK(t.kind == FAULT_KILL && t.step == 15 && t.signal == 0);
    faults_free(p);
}

/* kill_client = -1: exactly one task of the round, the same one each time. */
static void test_targeted_any_client(void)
{
    photon_config c;
    config_defaults(&c);
    c.faults.kill_round = 7;
    fault_plan *p = faults_create(&c, false);
    int hits = 0, victim = -1;
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < 4; i++) {
            fault_where w = where(7, SAMPLE[i], 0, 0);
            fault_task t;
            faults_task(p, &w, &t);
            if (t.kind == FAULT_KILL) {
                hits++;
                CHECK(victim == -1 || victim == SAMPLE[i]);
                victim = SAMPLE[i];
                CHECK(t.step >= 0 && t.step < 16 && t.signal == SIGKILL);
            }
        }
    CHECK_EQ_INT(hits, 2);
    faults_free(p);
}

/* kill_prob 0.25 over 4000 tasks: ~1000, sd ~27; reproducible; other seed differs. */
static void test_random_rate(void)
{
    photon_config c;
    config_defaults(&c);
    c.run.seed = 11;
    c.faults.kill_prob = 0.25;
    fault_plan *p = faults_create(&c, false), *q = faults_create(&c, false);
    c.faults.seed = 12;
    fault_plan *o = faults_create(&c, false);
    int hits = 0, same = 1, diff = 0;
    for (int r = 0; r < 1000; r++)
        for (int i = 0; i < 4; i++) {
            fault_where w = where(r, SAMPLE[i], r % 3, 0);
            fault_task a, b, x;
            faults_task(p, &w, &a);
            faults_task(q, &w, &b);
            faults_task(o, &w, &x);
            hits += a.kind == FAULT_KILL;
            same &= memcmp(&a, &b, sizeof a) == 0;
            diff += a.kind != x.kind;
        }
    CHECK_MSG(abs(hits - 1000) < 140, "%d kills of 4000 at p=0.25", hits);
    CHECK(same);
    CHECK(diff > 500);
    faults_free(p);
    faults_free(q);
    faults_free(o);
}

static void test_stall_and_priority(void)
{
    photon_config c;
    config_defaults(&c);
    c.faults.stall_round = 1;
    c.faults.stall_client = 3;
    c.faults.kill_round = 1;
    c.faults.kill_client = 3;
    fault_plan *p = faults_create(&c, false);
    fault_where w = where(1, 3, 0, 0);
    fault_task t;
    faults_task(p, &w, &t);
    CHECK(t.kind == FAULT_KILL);            /* kill wins over stall */
    faults_free(p);
    c.faults.kill_round = -1;
    p = faults_create(&c, false);
    faults_task(p, &w, &t);
    CHECK(t.kind == FAULT_STALL && t.step >= 0 && t.step < 16);
    faults_free(p);
}

static void test_corrupt_plan(void)
{
    photon_config c;
    config_defaults(&c);
    snprintf(c.faults.corrupt, CFG_STR, "nan");
    fault_plan *p = faults_create(&c, false);   /* every round, one client */
    for (int r = 0; r < 20; r++) {
        int hits = 0;
        for (int i = 0; i < 4; i++) {
            fault_where w = where(r, SAMPLE[i], 0, 0);
            fault_task t;
            faults_task(p, &w, &t);
            hits += t.kind == FAULT_CORRUPT && t.corruption == CORRUPT_NAN;
        }
        CHECK_EQ_INT(hits, 1);
    }
    faults_free(p);
    c.faults.corrupt_round = 4;
    c.faults.corrupt_client = 1;
    p = faults_create(&c, false);
    fault_where w = where(4, 1, 0, 0);
    fault_task t;
    faults_task(p, &w, &t);
    CHECK(t.kind == FAULT_CORRUPT);
    w = where(5, 1, 0, 0);
    faults_task(p, &w, &t);
    CHECK(t.kind == FAULT_NONE);
    faults_free(p);
}

/* By hand: bit 30 of 1.0f (0x3f800000) -> 0x7f800000 = +Inf;
 * of 2.0f (0x40000000) -> 0; scale multiplies everything by 1000. */
static void test_corrupt_apply(void)
{
    float b[64];
    fault_task t = { .kind = FAULT_CORRUPT, .corruption = CORRUPT_NAN, .seed = 99 };
    for (int i = 0; i < 64; i++) b[i] = 1;
    int64_t idx = faults_corrupt(&t, b, 64);
    CHECK(idx >= 0 && idx < 64 && isnan(b[idx]));
    int nans = 0;
    for (int i = 0; i < 64; i++) nans += isnan(b[i]);
    CHECK_EQ_INT(nans, 1);
    t.corruption = CORRUPT_BITFLIP;
    for (int i = 0; i < 64; i++) b[i] = 1;
    idx = faults_corrupt(&t, b, 64);
    CHECK(isinf(b[idx]) && b[idx] > 0);
    for (int i = 0; i < 64; i++) b[i] = 2;
    idx = faults_corrupt(&t, b, 64);
    CHECK(b[idx] == 0.0f);
    t.corruption = CORRUPT_SCALE;
    for (int i = 0; i < 64; i++) b[i] = 0.5f;
    CHECK_EQ_INT(faults_corrupt(&t, b, 64), -1);
    for (int i = 0; i < 64; i++) CHECK(b[i] == 500.0f);
}

static int run_kill(int sig)
{
    pid_t pid = fork();
    if (pid == 0) {
        fault_task t = { .kind = FAULT_KILL, .signal = sig };
        signal(SIGSEGV, SIG_IGN);     /* the planned death must win over handlers */
        faults_fire_kill(&t);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void test_fire(void)
{
    int st = run_kill(SIGKILL);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    st = run_kill(SIGSEGV);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = run_kill(0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == FAULT_EXIT_CODE);
    pid_t pid = fork();
    if (pid == 0) faults_stall();
    usleep(50000);
    CHECK(waitpid(pid, &st, WNOHANG) == 0);   /* still hanging */
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st));
}

static void test_one_shot_and_log(void)
{
    photon_config c;
    config_defaults(&c);
    c.faults.ckpt_fail_write = 2;
    c.faults.kill_supervisor_round = 3;
    fault_plan *p = faults_create(&c, false), *r = faults_create(&c, true);
    CHECK(!faults_ckpt_write_fails(p, 1) && faults_ckpt_write_fails(p, 2) && !faults_ckpt_write_fails(p, 3));
    CHECK(!faults_kill_supervisor(p, 2) && faults_kill_supervisor(p, 3));
    CHECK(!faults_ckpt_write_fails(r, 2) && !faults_kill_supervisor(r, 3));
    faults_free(p);
    faults_free(r);

    photon_err e;
    char path[512];
    path_join(path, sizeof path, th_tmpdir(), "m.jsonl");
    metrics *m = metrics_open(path, -1, &e);
    fault_where w = where(4, 5, 1, 0);
    fault_task t = { .kind = FAULT_KILL, .step = 7, .signal = SIGKILL, .targeted = true };
    faults_log_task(m, &w, &t);
    faults_log_event(m, "ckpt_write", 6, "injected I/O error");
    metrics_close(m);
    size_t n;
    char *s = file_read_all(path, &n, &e);
    CHECK_CONTAINS(s, "\"event\":\"fault\"");
    CHECK_CONTAINS(s, "\"type\":\"kill\",\"round\":4,\"client\":5,\"attempt\":1,\"try\":0,\"step\":7,\"signal\":\"SIGKILL\",\"targeted\":true}");
    CHECK_CONTAINS(s, "\"type\":\"ckpt_write\",\"round\":6,\"detail\":\"injected I/O error\"}");
    free(s);
}

int main(void)
{
    RUN(test_defaults_inject_nothing);
    RUN(test_targeted_kill);
    RUN(test_targeted_any_client);
    RUN(test_random_rate);
    RUN(test_stall_and_priority);
    RUN(test_corrupt_plan);
    RUN(test_corrupt_apply);
    RUN(test_fire);
    RUN(test_one_shot_and_log);
    return th_finish();
}
