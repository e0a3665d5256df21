/* A small unit-test harness: CHECK-style assertions that record failures
 * without stopping, a closing "N passed, N failed" line, and helpers for
 * temporary directories and running the real binary. */
#ifndef PHOTON_TEST_HARNESS_H
#define PHOTON_TEST_HARNESS_H
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

extern int th_pass, th_fail;
void th_report(const char *file, int line, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CHECK(cond) th_report(__FILE__, __LINE__, !!(cond), "%s", #cond)
#define CHECK_MSG(cond, ...) th_report(__FILE__, __LINE__, !!(cond), __VA_ARGS__)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    th_report(__FILE__, __LINE__, _a == _b, "%s == %s (%lld vs %lld)", #a, #b, _a, _b); } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
    th_report(__FILE__, __LINE__, _a && _b && strcmp(_a, _b) == 0, "%s == \"%s\" (got \"%s\")", #a, _b ? _b : "(null)", _a ? _a : "(null)"); } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    th_report(__FILE__, __LINE__, _h && strstr(_h, _n) != NULL, "\"%s\" contains \"%s\"", _h ? _h : "(null)", _n); } while (0)
/* relative-or-absolute closeness: |a-b| <= tol * max(1, |b|) */
#define CHECK_CLOSE(a, b, tol) do { double _a = (a), _b = (b); \
    th_report(__FILE__, __LINE__, fabs(_a - _b) <= (tol) * fmax(1.0, fabs(_b)), "%s ~ %s (%.9g vs %.9g, tol %g)", #a, #b, _a, _b, (double)(tol)); } while (0)

/* Runs a test function and prints its name. */
#define RUN(fn) do { printf("-- %s\n", #fn); fflush(stdout); fn(); } while (0)

/* Prints "N passed, N failed" and returns the exit status for main. */
int th_finish(void);

/* Makes a fresh temporary directory (removed by th_cleanup_dirs at exit). */
const char *th_tmpdir(void);
/* Writes text to dir/name and returns the full path (static storage per call slot). */
const char *th_write_file(const char *dir, const char *name, const char *text);
/* Source tree root (PHOTON_SOURCE_DIR) and the photon-sim binary (PHOTON_SIM). */
const char *th_source_dir(void);
const char *th_binary(void);
/* Runs a shell command, capturing stdout+stderr into out (size n); returns the exit status, or -1. */
int th_run(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
