/* Reading an untrusted checkpoint once in a child process first.
 *
 * HDF5 1.10 is not robust against damaged or crafted files: fuzzing the
 * reader (tests/fuzz/fuzz_checkpoint.c) finds inputs on which the library
 * itself crashes, loops or allocates without bound, in code photon-sim
 * cannot fix.  So before a command (eval, sample, export-hf, inspect) or
 * --resume reads a checkpoint, ckpt_probe forks and the child reads
 * everything the caller will read — the attributes, the model shape, every
 * tensor's structure and data, the listing, every dataset's checksums and
 * the run state — within a time limit.  A child that dies or runs out of
 * time becomes one error line in the parent ("reading it crashed the HDF5
 * library"), and --resume falls back to the previous checkpoint, as for any
 * other damage.  The parent then reads the file itself, down the paths the
 * child has already been down.  Costs one more pass over the file.
 *
 * The child's address space is bounded too (RLIMIT_AS): what it inherited
 * plus PROBE_HEADROOM plus PROBE_PER_BYTE times the file's size.  Reading
 * a checkpoint needs about its own size (the tensors are stored
 * uncompressed; h5py's compressed ones barely shrink float weights), so
 * a file that asks for much more — datasets declared huge but never
 * written, an HDF5 structure that makes the library allocate without
 * bound — is refused with one line instead of taking the machine's memory,
 * in the child and then in the parent. */
#include "io/checkpoint.h"
#include "io/runstate.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLEAN_ERROR 86   /* the child's status for "read it, found it wrong" */
#define OUT_OF_MEMORY 87 /* the child's status for "an allocation failed under the limit" */
#define PROBE_HEADROOM ((uint64_t)256 << 20)
#define PROBE_PER_BYTE 4

/* The child's limit: its current address space + headroom + 4 x the file.
 * Not in sanitizer builds (ASan reserves terabytes of address space). */
static uint64_t probe_limit(const char *path)
{
    struct stat st;
    uint64_t file = stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) + PROBE_HEADROOM + PROBE_PER_BYTE * file;
}

static int count_cb(const char *path, int rank, const uint64_t *dims, const char *dtype, void *ud)
{
    (void)path; (void)rank; (void)dims; (void)dtype;
    (*(long *)ud)++;
    return 0;
}

/* The child's work: every step a caller may take, each tried even when an
 * earlier one failed (inspect goes on after a failure), so any step that
 * kills the library kills the child.  0, or -1 with the first error. */
static int read_everything(const char *path, photon_err *err)
{
    ckpt_meta m;
    ckpt_reader *r = ckpt_open(path, &m, err);
    if (!r) return -1;
    int rc = 0;
    photon_err e;
#define STEP(call) do { if ((call) < 0 && rc == 0) { rc = -1; *err = e; } } while (0)
    gpt2_config c;
    int model = ckpt_model_config(r, &c, &e) == 0;
    if (!model) { rc = -1; *err = e; }
    if (model && ckpt_check_params(r, "/model", &c, &e) == 0) {
        float *p = xmalloc(gpt2_num_params(&c) * sizeof *p);
        STEP(ckpt_get_params(r, "/model", &c, p, &e));
        free(p);
        runstate_info info;
        STEP(runstate_check(r, path, &c, m.seed, &info, &e));
    } else if (model && rc == 0) {
        rc = -1;
        *err = e;
    }
    long n = 0;
    STEP(ckpt_visit(r, count_cb, &n, &e));
    STEP(ckpt_verify(r, &e));
#undef STEP
    free((char *)m.config);
    ckpt_close(r);
    return rc;
}

int ckpt_probe(const char *path, double seconds, photon_err *err)
{
    int fds[2];
    if (pipe(fds) != 0) { err_set(err, "%s: cannot create a pipe: %s", path, strerror(errno)); return -1; }
    uint64_t limit = probe_limit(path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        err_set(err, "%s: cannot fork to read it: %s", path, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        /* the child's messages are the parent's to give (a sanitizer
         * build keeps its reports: a crash there may be photon-sim's) */
        log_set_quiet(true);
#ifndef PHOTON_SANITIZE
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) { dup2(devnull, STDERR_FILENO); close(devnull); }
#endif
#ifndef PHOTON_SANITIZE
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > limit)) {
            rl.rlim_cur = limit;
            setrlimit(RLIMIT_AS, &rl);
        }
#endif
        xalloc_set_fail_status(OUT_OF_MEMORY);
        photon_err e = { "" };
        int rc = read_everything(path, &e);
        ssize_t w = write(fds[1], e.msg, strlen(e.msg) + 1);
        /* 0 read, CLEAN_ERROR with the reason; any other end (a signal, a
         * sanitizer's exit) is the library dying */
        _exit(w <= 0 ? 2 : rc == 0 ? 0 : CLEAN_ERROR);
    }
    close(fds[1]);
    char msg[sizeof err->msg] = "";
    size_t got = 0;
    double deadline = time_mono() + seconds;
    int timed_out = 0;
    for (;;) {
        double left = deadline - time_mono();
        if (left <= 0) { timed_out = 1; break; }
        struct pollfd pf = { fds[0], POLLIN, 0 };
        int pr = poll(&pf, 1, left > 1e6 ? 1000000000 : (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        ssize_t n = read(fds[0], msg + got, sizeof msg - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;   /* EOF: the child is done (or dead) */
        got += (size_t)n;
        if (got == sizeof msg - 1) break;
    }
    msg[got] = '\0';
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (timed_out) {
        err_set(err, "%s: reading it did not finish in %.0f s: the file is damaged or not a checkpoint", path, seconds);
        return -2;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == CLEAN_ERROR && msg[0]) {
        err_set(err, "%s", msg);
        return -1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == OUT_OF_MEMORY) {
        struct stat fs;
        long long size = stat(path, &fs) == 0 ? (long long)fs.st_size : -1;
        err_set(err, "%s: reading it needs more memory than a checkpoint of %lld bytes can (over %llu MB): "
                "the file is damaged or crafted", path, size, (unsigned long long)(limit >> 20));
        return -2;   /* reading it here would take that memory too */
    }
    if (WIFSIGNALED(st))
        err_set(err, "%s: reading it crashed the HDF5 library (signal %d, %s): the file is damaged or crafted",
                path, WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        err_set(err, "%s: reading it crashed the HDF5 library (exit status %d): the file is damaged or crafted",
                path, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return -2;
}

double ckpt_probe_seconds(const char *path)
{
    /* generous: a minute, plus a second per 50 MB (HDF5 reads far faster) */
    struct stat st;
    double mb = stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    return 60 + mb / 50;
}

static int probe_off;

void ckpt_probe_disable(void) { probe_off = 1; }

int ckpt_check_untrusted(const char *path, photon_err *err)
{
    return probe_off ? 0 : ckpt_probe(path, ckpt_probe_seconds(path), err);
}
