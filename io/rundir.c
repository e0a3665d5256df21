/* The run-directory guard and --replace (see io/rundir.h). */
#include "io/rundir.h"
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files and folders of a run directory that are results (moved by
 * --replace); config.ini goes with them so no stale one is left behind. */
static const char *const run_results[] = { "metrics.jsonl", "summary.json", "tb", "config.ini", "listen.addr" };

static int is_ckpt_name(const char *name)
{
    return strncmp(name, "ckpt-", 5) == 0 && strstr(name, ".h5") != NULL;
}

static int dir_nonempty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

static int count_ckpts(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (is_ckpt_name(e->d_name) && !strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void add_what(char *what, size_t n, const char *item)
{
    size_t len = strlen(what);
    if (len + 2 + strlen(item) + 1 > n) return;
    snprintf(what + len, n - len, "%s%s", len ? ", " : "", item);
}

/* 1 when ckpt_dir is the run directory's own checkpoints/ folder. */
static int ckpt_inside(const char *run_dir, const char *ckpt_dir)
{
    char own[4096];
    path_join(own, sizeof own, run_dir, "checkpoints");
    if (strcmp(own, ckpt_dir) == 0) return 1;
    struct stat a, b;
    return stat(own, &a) == 0 && stat(ckpt_dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int rundir_has_results(const char *run_dir, const char *ckpt_dir, char *what, size_t n, int *interrupted)
{
    char p[4096];
    struct stat st;
    what[0] = '\0';
    *interrupted = 0;
    path_join(p, sizeof p, run_dir, RUNDIR_TRASH);
    if (stat(p, &st) == 0) { *interrupted = 1; add_what(what, n, RUNDIR_TRASH "/"); }
    path_join(p, sizeof p, ckpt_dir, RUNDIR_TRASH);
    if (!ckpt_inside(run_dir, ckpt_dir) && stat(p, &st) == 0) { *interrupted = 1; add_what(what, n, p); }
    path_join(p, sizeof p, run_dir, "metrics.jsonl");
    if (stat(p, &st) == 0 && st.st_size > 0) add_what(what, n, "metrics.jsonl");
    path_join(p, sizeof p, run_dir, "summary.json");
    if (stat(p, &st) == 0) add_what(what, n, "summary.json");
    path_join(p, sizeof p, run_dir, "tb");
    if (dir_nonempty(p)) add_what(what, n, "tb/");
    if (count_ckpts(ckpt_dir) > 0) {
        if (ckpt_inside(run_dir, ckpt_dir)) add_what(what, n, "checkpoints/");
        else add_what(what, n, ckpt_dir);
    }
    return what[0] != '\0';
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

int rundir_remove_tree(const char *path, photon_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : (err_set(err, "%s: %s", path, strerror(errno)), -1);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT) { err_set(err, "cannot remove %s: %s", path, strerror(errno)); return -1; }
        return 0;
    }
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        err_set(err, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Renames dir/name into trash/name (absent: nothing to do). */
static int move_to(const char *dir, const char *name, const char *trash, photon_err *err)
{
    char from[4096], to[4096];
    path_join(from, sizeof from, dir, name);
    path_join(to, sizeof to, trash, name);
    if (rename(from, to) == 0 || errno == ENOENT) return 0;
    err_set(err, "cannot move %s aside: %s", from, strerror(errno));
    return -1;
}

static int make_trash(const char *dir, char *trash, size_t n, photon_err *err)
{
    path_join(trash, n, dir, RUNDIR_TRASH);
    if (mkdir(trash, 0755) < 0 && errno != EEXIST) {
        err_set(err, "cannot create %s: %s", trash, strerror(errno));
        return -1;
    }
    return fsync_dir(dir, err);
}

int rundir_replace(const char *run_dir, const char *ckpt_dir, photon_err *err)
{
    char trash[4096], ctrash[4096];
    int inside = ckpt_inside(run_dir, ckpt_dir);
    /* 1: everything into the trash (the trash itself marks the replace as begun). */
    if (make_trash(run_dir, trash, sizeof trash, err) < 0) return -1;
    for (size_t i = 0; i < sizeof run_results / sizeof run_results[0]; i++)
        if (move_to(run_dir, run_results[i], trash, err) < 0) return -1;
    if (inside) {
        if (move_to(run_dir, "checkpoints", trash, err) < 0) return -1;
    } else {
        DIR *d = opendir(ckpt_dir);
        if (d) {
            if (make_trash(ckpt_dir, ctrash, sizeof ctrash, err) < 0) { closedir(d); return -1; }
            struct dirent *e;
            int rc = 0;
            while (rc == 0 && (e = readdir(d)))
                if (is_ckpt_name(e->d_name)) rc = move_to(ckpt_dir, e->d_name, ctrash, err);
            closedir(d);
            if (rc < 0 || fsync_dir(ckpt_dir, err) < 0) return -1;
        }
    }
    if (fsync_dir(run_dir, err) < 0) return -1;
    /* 2: delete the trash; it goes last, so until here the guard still sees it. */
    if (!inside) {
        path_join(ctrash, sizeof ctrash, ckpt_dir, RUNDIR_TRASH);
        if (rundir_remove_tree(ctrash, err) < 0) return -1;
    }
    if (rundir_remove_tree(trash, err) < 0) return -1;
    return fsync_dir(run_dir, err);
}
