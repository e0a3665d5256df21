/* A disk that fills up part-way through a checkpoint write (issue 12 item
 * 5), with a real mechanism: RLIMIT_FSIZE (SIGXFSZ ignored) makes every
 * write beyond a byte limit fail with EFBIG, as a full disk fails with
 * ENOSPC, at exactly the point the file reaches that size.  The limit is
 * swept over the whole size of a checkpoint, so the write fails inside
 * dataset data, in metadata, at dataset close and at the final flush.  Each
 * time, in a child process: the write fails with one line naming the file
 * and the cause, no temporary file is left, the previous checkpoint is
 * intact and verifies, a later write with room succeeds (the library is
 * still usable), and the process then exits normally through exit() — the
 * HDF5 exit cleanup once crashed on the file whose close had failed. */
#include "harness.h"
#include "io/checkpoint.h"
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const gpt2_config CFG = { .n_layer = 2, .n_head = 2, .d_model = 64, .seq_len = 16,
                                  .vocab_size = 500, .padded_vocab = 512 };

static int write_ckpt(const char *path, int64_t round, const float *p, photon_err *err)
{
    ckpt_meta m = { .round = round, .global_step = round, .tokens_seen = round, .seed = 1, .config = "[run]\n" };
    ckpt_writer *w = ckpt_create(path, &m, err);
    if (!w) return -1;
    int64_t pos = 5;
    if (ckpt_put_params(w, "/model", &CFG, p, err) < 0 || ckpt_put_params(w, "/outer_optimizer", &CFG, p, err) < 0 ||
        ckpt_put_i64(w, "/run/outer_steps", &pos, 1, err) < 0) {
        ckpt_abort(w);
        return -1;
    }
    return ckpt_commit(w, err);
}

static int64_t round_of(const char *path)
{
    photon_err err;
    ckpt_meta m;
    ckpt_reader *r = ckpt_open(path, &m, &err);
    if (!r) return -1;
    free((char *)m.config);
    int rc = ckpt_verify(r, &err);
    ckpt_close(r);
    return rc == 0 ? m.round : -1;
}

static int tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

/* Child: fail a write at `limit` bytes, then succeed without the limit.
 * Exit status: 0 all as expected, 1 the limited write succeeded (limit
 * beyond the file), 2+ something wrong. */
static int child(const char *dir, const char *path, const float *p, rlim_t limit)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, rl;
    getrlimit(RLIMIT_FSIZE, &old);
    rl = old;
    rl.rlim_cur = limit;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 9;
    photon_err err = { "" };
    int rc = write_ckpt(path, 2, p, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    if (rc == 0) return round_of(path) == 2 ? 1 : 3;
    if (!strstr(err.msg, path) || strchr(err.msg, '\n') || !strstr(err.msg, "File too large")) {
        fprintf(stderr, "limit %llu: unexpected message: %s\n", (unsigned long long)limit, err.msg);
        return 4;
    }
    if (tmp_files(dir) != 0) { fprintf(stderr, "limit %llu: temp file left\n", (unsigned long long)limit); return 5; }
    if (round_of(path) != 1) { fprintf(stderr, "limit %llu: previous checkpoint damaged\n", (unsigned long long)limit); return 6; }
    /* the library still works: the same write with room */
    if (write_ckpt(path, 3, p, &err) != 0 || round_of(path) != 3) {
        fprintf(stderr, "limit %llu: next write failed: %s\n", (unsigned long long)limit, err.msg);
        return 7;
    }
    return 0;
}

static void test_sweep(void)
{
    const char *dir = th_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/ckpt.h5", dir);
    size_t n = gpt2_num_params(&CFG);
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % 1000) * 1e-3f;
    photon_err err;
    CHECK_EQ_INT(write_ckpt(path, 1, p, &err), 0);
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    off_t size = st.st_size;
    int failed = 0, succeeded = 0, bad = 0;
    /* 24 limits over the file's size, plus a few small ones (superblock,
     * root attributes) */
    rlim_t limits[32];
    int nl = 0;
    const rlim_t small[] = { 1, 512, 2048, 8192, 20000, 50000 };
    for (int i = 0; i < 6; i++) limits[nl++] = small[i];
    for (int i = 1; i <= 24; i++) limits[nl++] = (rlim_t)(size * i / 24 + 1);
    limits[nl++] = (rlim_t)size + 100000;
    for (int i = 0; i < nl; i++) {
        /* each time from round 1 again */
        CHECK_EQ_INT(write_ckpt(path, 1, p, &err), 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            int rc = child(dir, path, p, limits[i]);
            setenv("PHOTON_KEEP_TMP", "1", 1);   /* the harness's own atexit: not in the child */
            exit(rc);   /* exit(), not _exit(): the library's exit handlers run */
        }
        int status = -1;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) failed++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) succeeded++;
        else {
            bad++;
            fprintf(stderr, "limit %llu of %lld: child %s %d\n", (unsigned long long)limits[i], (long long)size,
                    WIFSIGNALED(status) ? "killed by signal" : "exited with", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
    printf("   file of %lld bytes, %d limits: %d writes failed cleanly, %d fit, %d went wrong\n", (long long)size, nl,
           failed, succeeded, bad);
    CHECK_EQ_INT(bad, 0);
    CHECK(failed >= 24);
    CHECK(succeeded >= 1);
    free(p);
}

int main(void)
{
    RUN(test_sweep);
    return th_finish();
}
