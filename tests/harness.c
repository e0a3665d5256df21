/* Implementation of the unit-test harness (see harness.h). */
#include "harness.h"
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

int th_pass, th_fail;
static char th_dirs[32][256];
static int th_ndirs;

void th_report(const char *file, int line, int ok, const char *fmt, ...)
{
    if (ok) { th_pass++; return; }
    th_fail++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void th_cleanup_dirs(void)
{
    if (getenv("PHOTON_KEEP_TMP")) return;
    for (int i = 0; i < th_ndirs; i++) {
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", th_dirs[i]);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", th_dirs[i]);
    }
}

const char *th_tmpdir(void)
{
    if (th_ndirs == 32) { fprintf(stderr, "too many temp dirs\n"); exit(1); }
    if (th_ndirs == 0) atexit(th_cleanup_dirs);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *d = th_dirs[th_ndirs];
    snprintf(d, 256, "%s/photon-test-XXXXXX", base);
    if (!mkdtemp(d)) { perror("mkdtemp"); exit(1); }
    th_ndirs++;
    return d;
}

const char *th_write_file(const char *dir, const char *name, const char *text)
{
    static char paths[16][512];
    static int slot;
    char *p = paths[slot++ % 16];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) { perror(p); exit(1); }
    fputs(text, f);
    fclose(f);
    return p;
}

const char *th_source_dir(void)
{
    const char *s = getenv("PHOTON_SOURCE_DIR");
    return s ? s : ".";
}

const char *th_binary(void)
{
    const char *s = getenv("PHOTON_SIM");
    return s ? s : "photon-sim";
}

int th_run(char *out, size_t n, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t len = 0;
    if (out && n) {
        size_t r;
        while (len + 1 < n && (r = fread(out + len, 1, n - 1 - len, p)) > 0) len += r;
        out[len] = 0;
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {}
    int st = pclose(p);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int th_finish(void)
{
    printf("%d passed, %d failed\n", th_pass, th_fail);
    return th_fail ? 1 : 0;
}
