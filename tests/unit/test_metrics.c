/* metrics.jsonl: exact line format, number round trips, escaping, append
 * and truncate-to-offset on resume (the resumed file equals an
 * uninterrupted one), write errors, summary.json atomic write, and the
 * communication formulas on numbers worked out by hand. */
#include "harness.h"
#include "io/common.h"
#include "io/metrics.h"
#include <stdlib.h>

static char *slurp(const char *path)
{
    photon_err e;
    size_t n;
    return file_read_all(path, &n, &e);
}

/* Removes the "time" values so lines can be compared across runs. */
static void strip_time(char *s)
{
    char *p;
    while ((p = strstr(s, "\"time\":")) != NULL) {
        char *q = p + 7;
        while (*q && *q != ',' && *q != '}') q++;
        memmove(p, q + (*q == ','), strlen(q + (*q == ',')) + 1);
    }
}

static void test_line_format(void)
{
    photon_err e;
    const char *d = th_tmpdir();
    char path[512];
    path_join(path, sizeof path, d, "metrics.jsonl");
    metrics *m = metrics_open(path, -1, &e);
    CHECK(m != NULL);
    double t0 = time_wall();
    metrics_begin(m, "round");
    metrics_int(m, "round", 3);
    metrics_num(m, "loss", 0.1);
    metrics_num(m, "third", 1.0 / 3);
    metrics_num(m, "bad", NAN);
    metrics_str(m, "why", "a \"quoted\"\nline");
    metrics_bool(m, "ok", true);
    metrics_raw(m, "clients", "[0,2,5]");
    CHECK(metrics_end(m) == 0);
    metrics_close(m);
    char *s = slurp(path);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(strncmp(s, "{\"event\":\"round\",\"time\":", 24) == 0);
    double t = strtod(s + 24, NULL);
    CHECK(t >= t0 - 1 && t <= t0 + 60);
    strip_time(s);
    CHECK_STR(s, "{\"event\":\"round\",\"round\":3,\"loss\":0.1,\"third\":0.33333333333333331,"
                 "\"bad\":null,\"why\":\"a \\\"quoted\\\"\\nline\",\"ok\":true,\"clients\":[0,2,5]}\n");
    free(s);
    char b[40];
    json_format_number(b, sizeof b, 6e-4);
    CHECK_STR(b, "0.0006");
    json_format_number(b, sizeof b, 1e300 * 1e10);
    CHECK_STR(b, "null");
    json_format_number(b, sizeof b, 12345678901.0);
    CHECK_STR(b, "12345678901");
}

static void write_round(metrics *m, int r)
{
    metrics_begin(m, "round");
    metrics_int(m, "round", r);
    metrics_num(m, "loss", 10.0 / (r + 1));
    metrics_end(m);
}

/* Uninterrupted: rounds 0..5.  Interrupted: rounds 0..3, checkpoint after
 * round 2 records the offset, rounds 3..4 written then "killed"; the resumed
 * run cuts back to the offset and writes 3..5.  Files equal (minus time). */
static void test_resume_truncate(void)
{
    photon_err e;
    const char *d = th_tmpdir();
    char a[512], b[512];
    path_join(a, sizeof a, d, "a.jsonl");
    path_join(b, sizeof b, d, "b.jsonl");
    metrics *m = metrics_open(a, -1, &e);
    for (int r = 0; r < 6; r++) write_round(m, r);
    metrics_close(m);

    m = metrics_open(b, -1, &e);
    int64_t pos = -1;
    for (int r = 0; r < 5; r++) {
        write_round(m, r);
        if (r == 2) { CHECK(metrics_sync(m, &e) == 0); pos = metrics_offset(m); }
    }
    metrics_close(m);
    m = metrics_open(b, pos, &e);
    CHECK(m != NULL);
    CHECK_EQ_INT(metrics_offset(m), pos);
    for (int r = 3; r < 6; r++) write_round(m, r);
    metrics_close(m);
    char *sa = slurp(a), *sb = slurp(b);
    strip_time(sa);
    strip_time(sb);
    CHECK_STR(sb, sa);
    free(sa);
    free(sb);
    /* an offset past the end is refused with a clear message */
    m = metrics_open(b, 1 << 20, &e);
    CHECK(m == NULL);
    CHECK_CONTAINS(e.msg, "shorter than");
    m = metrics_open("/nonexistent-dir/x.jsonl", -1, &e);
    CHECK(m == NULL);
    CHECK_CONTAINS(e.msg, "/nonexistent-dir/x.jsonl");
}

static void test_write_error(void)
{
    photon_err e;
    metrics *m = metrics_open("/dev/full", -1, &e);
    if (!m) { CHECK_MSG(1, "no /dev/full"); return; }
    metrics_begin(m, "x");
    CHECK(metrics_end(m) == -1);
    CHECK_EQ_INT(metrics_offset(m), 0);
    metrics_close(m);
}

static void test_summary(void)
{
    photon_err e;
    const char *d = th_tmpdir();
    char p[512];
    path_join(p, sizeof p, d, "summary.json");
    summary *s = summary_create();
    summary_str(s, "name", "quick");
    summary_int(s, "rounds", 12);
    summary_num(s, "final_perplexity", 42.5);
    summary_bool(s, "completed", false);
    summary_raw(s, "restarts", "{\"actor\":2}");
    CHECK(summary_write(s, p, &e) == 0);
    summary_free(s);
    char *t = slurp(p);
    CHECK_STR(t, "{\n  \"name\":\"quick\",\n  \"rounds\":12,\n  \"final_perplexity\":42.5,\n"
                 "  \"completed\":false,\n  \"restarts\":{\"actor\":2}\n}\n");
    free(t);
    char tmpcheck[600];
    snprintf(tmpcheck, sizeof tmpcheck, "ls %s | grep -c tmp", d);
    char out[64];
    th_run(out, sizeof out, "%s", tmpcheck);
    CHECK_STR(out, "0\n");
}

/* 125M-like: P = 124,439,808 fp32 -> M = 497,759,232 bytes.
 * 8 clients all return: Photon 16 M = 7,964,147,712.
 * Ring all-reduce, W = 8, T_local = 128: 2*128*7 M = 1792 M = 891,984,543,744.
 * Ratio 112 = T_local*(W-1)/W. */
static void test_comm(void)
{
    comm_bytes c = comm_round_bytes(124439808, 4, 8, 8, 8, 128);
    CHECK(c.photon_bytes == 7964147712.0);
    CHECK(c.allreduce_bytes == 891984543744.0);
    CHECK(c.allreduce_bytes / c.photon_bytes == 112.0);
    CHECK(comm_allreduce_step_bytes(100, 4) == 150.0);   /* 2*3/4*100 */
    CHECK(comm_allreduce_step_bytes(100, 1) == 0.0);
    c = comm_round_bytes(10, 4, 3, 2, 3, 1);              /* one update lost */
    CHECK(c.photon_bytes == 200.0);
    CHECK(c.allreduce_bytes == 160.0);                    /* 2*1*2*40 */
}

int main(void)
{
    RUN(test_line_format);
    RUN(test_resume_truncate);
    RUN(test_write_error);
    RUN(test_summary);
    RUN(test_comm);
    return th_finish();
}
