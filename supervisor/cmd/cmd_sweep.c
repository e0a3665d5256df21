/* `photon-sim sweep EXPERIMENT.ini --grid section.key=v1,v2 [--grid ...]
 * [--seeds N] [--set section.key=value ...] [--verbose]`: runs every point
 * of the grid (× seeds) one after another, each as a normal run (a child
 * photon-sim process, in its own run directory <out_dir>/<point name>),
 * and keeps <out_dir>/sweep.json (sweep_file.h) up to date after every
 * change.  Run again, it skips completed points, continues interrupted
 * ones with --resume and retries failed ones (with --resume too: from
 * their last checkpoint, or from the start when they have none).
 *
 * The child runs in its own process group, so a Ctrl-C at the terminal
 * reaches the sweep alone, which passes exactly one SIGINT on (a second
 * Ctrl-C passes a second: the run then kills its actors at once), marks
 * the point interrupted and stops.  The child's output goes to
 * <point dir>/run.log (--verbose: to the terminal). */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io/config.h"
#include "io/rundir.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/sweep_file.h"

#define SWEEP_USAGE "photon-sim sweep EXPERIMENT.ini --grid section.key=v1,v2,... [--grid ...] [--seeds N] " \
                    "[--set section.key=value ...] [--verbose]"

static volatile sig_atomic_t got_signal;
static volatile pid_t child_pid;

static void on_signal(int sig)
{
    got_signal = sig;
    if (child_pid > 0) kill(child_pid, sig);   /* async-signal-safe */
}

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "photon-sim sweep: error: %s%s%s (usage: %s)\n", msg, arg ? " " : "", arg ? arg : "", SWEEP_USAGE);
    return PHOTON_EXIT_USAGE;
}

static char *config_text(const photon_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) die(PHOTON_EXIT_FAIL, "out of memory");
    config_dump(c, f);
    fclose(f);
    return buf;
}

/* The overrides of one point's run: the sweep's --set, the point's, its run directory, shared data. */
static int point_sets(const sweep_plan *p, const sweep_point *pt, const char **out, char *dirset, size_t dn,
                      char *dataset, size_t dd)
{
    int n = 0;
    for (int i = 0; i < p->n_sets; i++) out[n++] = p->sets[i];
    for (int i = 0; i < pt->n_ovr; i++) out[n++] = pt->ovr[i];
    char dir[1400];
    path_join(dir, sizeof dir, p->out_dir, pt->name);
    snprintf(dirset, dn, "run.out_dir=%s", dir);
    out[n++] = dirset;
    if (p->shared_data[0]) {
        snprintf(dataset, dd, "data.prepared_dir=%s", p->shared_data);
        out[n++] = dataset;
    }
    return n;
}

/* Reads the point's summary.json (if written since `since`): final perplexity and reason. */
static void read_summary(const char *dir, double since, sweep_point *pt, char *status, size_t sn)
{
    char path[1500];
    path_join(path, sizeof path, dir, "summary.json");
    status[0] = '\0';
    struct stat st;
    if (stat(path, &st) < 0 || (double)st.st_mtime + 1 < since) return;
    size_t len;
    photon_err err;
    char *text = file_read_all(path, &len, &err);
    cJSON *o = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!o) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "final_perplexity");
    if (cJSON_IsNumber(v)) pt->ppl = v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (cJSON_IsString(v)) snprintf(status, sn, "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(o, "reason");
    if (cJSON_IsString(v)) snprintf(pt->reason, sizeof pt->reason, "%s", v->valuestring);
    cJSON_Delete(o);
}

/* The last "error:" line of the point's run.log since offset (a run that
 * failed before writing summary.json, e.g. a configuration error). */
static void last_error_line(const char *log, long off, char *out, size_t n)
{
    FILE *f = fopen(log, "r");
    if (!f) return;
    if (off > 0) fseek(f, off, SEEK_SET);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *e = strstr(line, "error: ");
        if (!e) continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, n, "%s", e + 7);
    }
    fclose(f);
}

/* Runs one point to its end; returns its new state. */
static point_state run_point(const sweep_plan *p, sweep_point *pt, const char *self, int verbose)
{
    char dir[1400], ckpt[1500], log[1500], what[256];
    path_join(dir, sizeof dir, p->out_dir, pt->name);
    path_join(ckpt, sizeof ckpt, dir, "checkpoints");
    path_join(log, sizeof log, dir, "run.log");
    photon_err err;
    if (mkdir_p(dir, &err) < 0) { snprintf(pt->reason, sizeof pt->reason, "%.590s", err.msg); pt->exit_status = 1; return PT_FAILED; }
    int interrupted_replace = 0;
    int resume = rundir_has_results(dir, ckpt, what, sizeof what, &interrupted_replace);
    const char **sets = xcalloc((size_t)(p->n_sets + SWEEP_MAX_GRID + 4), sizeof *sets);
    char dirset[1500], dataset[1200];
    int ns = point_sets(p, pt, sets, dirset, sizeof dirset, dataset, sizeof dataset);
    char **argv = xcalloc((size_t)(2 * ns + 4), sizeof *argv);
    int ac = 0;
    argv[ac++] = (char *)self;
    argv[ac++] = (char *)p->experiment;
    for (int i = 0; i < ns; i++) { argv[ac++] = "--set"; argv[ac++] = (char *)sets[i]; }
    if (resume) argv[ac++] = "--resume";
    argv[ac] = NULL;

    int fd = -1;
    long log_off = 0;
    if (!verbose) {
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0) log_off = (long)st.st_size;
            dprintf(fd, "== photon-sim sweep: attempt %d of point %s%s\n", pt->attempts, pt->name, resume ? " (--resume)" : "");
        }
    }
    double t0 = time_mono(), since = time_wall();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);                       /* the terminal's Ctrl-C reaches the sweep only */
        prctl(PR_SET_PDEATHSIG, SIGTERM);    /* the sweep killed: its run stops cleanly */
        if (fd >= 0) { dup2(fd, STDOUT_FILENO); dup2(fd, STDERR_FILENO); }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv(self, argv);
        fprintf(stderr, "photon-sim sweep: error: cannot run %s: %s\n", self, strerror(errno));
        _exit(PHOTON_EXIT_FAIL);
    }
    if (fd >= 0) close(fd);
    free(argv);
    free(sets);
    if (pid < 0) {
        snprintf(pt->reason, sizeof pt->reason, "cannot fork: %s", strerror(errno));
        pt->exit_status = 1;
        return PT_FAILED;
    }
    child_pid = pid;
    if (got_signal) kill(pid, got_signal);   /* arrived between the check and the fork */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    child_pid = 0;
    pt->seconds = time_mono() - t0;
    pt->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pt->reason[0] = '\0';
    pt->ppl = NAN;
    char st[32];
    read_summary(dir, since, pt, st, sizeof st);
    if (got_signal || strcmp(st, "interrupted") == 0) {
        if (!pt->reason[0]) snprintf(pt->reason, sizeof pt->reason, "interrupted by SIG%s", sigabbrev_np(got_signal ? got_signal : SIGINT));
        return PT_INTERRUPTED;
    }
    if (pt->exit_status == 0) { pt->reason[0] = '\0'; return PT_COMPLETED; }
    if (!pt->reason[0] && !verbose) last_error_line(log, log_off, pt->reason, sizeof pt->reason);
    if (!pt->reason[0]) {
        if (WIFSIGNALED(status)) snprintf(pt->reason, sizeof pt->reason, "killed by SIG%s", sigabbrev_np(WTERMSIG(status)));
        else snprintf(pt->reason, sizeof pt->reason, "exit status %d", pt->exit_status);
    }
    return PT_FAILED;
}

static int save(const sweep_plan *p)
{
    photon_err err;
    if (sweep_file_write(p, &err) < 0) {
        fprintf(stderr, "photon-sim sweep: error: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void fmt_ppl(char *buf, size_t n, double v)
{
    if (isfinite(v)) snprintf(buf, n, ", perplexity %.3f", v);
    else buf[0] = '\0';
}

/* Runs the points of the grid in order; returns the exit status. */
static int run_sweep(sweep_plan *p, int verbose)
{
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) { fprintf(stderr, "photon-sim sweep: error: cannot find its own executable\n"); return PHOTON_EXIT_FAIL; }
    self[n] = '\0';
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int total = 0, done = 0, skipped = 0, failed = 0;
    for (int i = 0; i < p->n_points; i++) total += p->points[i].in_grid;
    int k = 0;
    for (int i = 0; i < p->n_points && !got_signal; i++) {
        sweep_point *pt = &p->points[i];
        if (!pt->in_grid) continue;
        k++;
        char ppl[64];
        if (pt->state == PT_COMPLETED) {
            char pdir[1400], sum[1500];
            path_join(pdir, sizeof pdir, p->out_dir, pt->name);
            path_join(sum, sizeof sum, pdir, "summary.json");
            if (file_exists(sum)) {
                fmt_ppl(ppl, sizeof ppl, pt->ppl);
                log_info("sweep [%d/%d] %s: completed earlier, skipped%s", k, total, pt->name, ppl);
                skipped++;
                done++;
                continue;
            }
            log_warn("sweep [%d/%d] %s: marked completed but its summary.json is gone: running it again", k, total, pt->name);
        }
        const char *how = pt->state == PT_PENDING ? "" : pt->state == PT_FAILED ? " (retry of a failed point)"
                        : " (continuing)";
        pt->attempts++;
        pt->state = PT_RUNNING;
        if (save(p) < 0) return PHOTON_EXIT_FAIL;
        log_info("sweep [%d/%d] %s: started%s -> %s/%s", k, total, pt->name, how, p->out_dir, pt->name);
        pt->state = run_point(p, pt, self, verbose);
        if (save(p) < 0) return PHOTON_EXIT_FAIL;
        fmt_ppl(ppl, sizeof ppl, pt->ppl);
        if (pt->state == PT_COMPLETED) {
            done++;
            log_info("sweep [%d/%d] %s: completed in %.1f s%s", k, total, pt->name, pt->seconds, ppl);
        } else if (pt->state == PT_INTERRUPTED) {
            log_warn("sweep [%d/%d] %s: interrupted after %.1f s; the sweep stops (run it again to continue)",
                     k, total, pt->name, pt->seconds);
        } else {
            failed++;
            log_warn("sweep [%d/%d] %s: failed (exit %d) after %.1f s: %s", k, total, pt->name, pt->exit_status,
                     pt->seconds, pt->reason);
        }
    }
    int left = total - done - failed;
    log_info("sweep: %d point(s): %d completed (%d skipped), %d failed, %d not run; manifest %s/sweep.json",
             total, done, skipped, failed, left, p->out_dir);
    for (int i = 0; i < p->n_points; i++)
        if (p->points[i].in_grid && p->points[i].state == PT_FAILED)
            log_warn("sweep: failed: %s (exit %d): %s", p->points[i].name, p->points[i].exit_status, p->points[i].reason);
    if (got_signal) {
        fprintf(stderr, "photon-sim sweep: error: interrupted by SIG%s\n", sigabbrev_np(got_signal));
        return PHOTON_EXIT_FAIL;
    }
    if (failed) {
        fprintf(stderr, "photon-sim sweep: error: %d of %d point(s) failed\n", failed, total);
        return PHOTON_EXIT_FAIL;
    }
    return PHOTON_EXIT_OK;
}

/* Checks every point's configuration before anything runs. */
static int check_points(const sweep_plan *p, const char *path)
{
    photon_config *c = xmalloc(sizeof *c);
    const char **sets = xcalloc((size_t)(p->n_sets + SWEEP_MAX_GRID + 4), sizeof *sets);
    int rc = 0;
    for (int i = 0; i < p->n_points && rc == 0; i++) {
        if (!p->points[i].in_grid) continue;
        char dirset[1500], dataset[1200];
        int ns = point_sets(p, &p->points[i], sets, dirset, sizeof dirset, dataset, sizeof dataset);
        photon_err err;
        if (config_load(c, path, sets, ns, &err) < 0) {
            fprintf(stderr, "photon-sim sweep: error: point %s: %s\n", p->points[i].name, err.msg);
            rc = PHOTON_EXIT_USAGE;
        }
    }
    free(sets);
    free(c);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    sweep_plan p;
    memset(&p, 0, sizeof p);
    p.sets = xcalloc((size_t)argc, sizeof *p.sets);
    const char *path = NULL;
    int seeds = 0, verbose = 0, rc = 0;
    photon_err err;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *val = NULL;
        int is_grid = strcmp(a, "--grid") == 0 || strncmp(a, "--grid=", 7) == 0;
        int is_set = strcmp(a, "--set") == 0 || strncmp(a, "--set=", 6) == 0;
        int is_seeds = strcmp(a, "--seeds") == 0 || strncmp(a, "--seeds=", 8) == 0;
        if (is_grid || is_set || is_seeds) {
            const char *eq = strchr(a, '=');
            if (eq) val = eq + 1;
            else if (i + 1 < argc) val = argv[++i];
            else { rc = usage("option needs a value:", a); break; }
        }
        if (is_grid) {
            if (p.n_axes == SWEEP_MAX_GRID) { rc = usage("too many --grid options", NULL); break; }
            if (sweep_axis_parse(val, &p.axes[p.n_axes], &err) < 0) { rc = usage(err.msg, NULL); break; }
            for (int b = 0; b < p.n_axes; b++)
                if (strcmp(p.axes[b].key, p.axes[p.n_axes].key) == 0) rc = usage("--grid given twice for", p.axes[b].key);
            p.n_axes++;
        } else if (is_set) {
            p.sets[p.n_sets++] = val;
        } else if (is_seeds) {
            char *end;
            long s = strtol(val, &end, 10);
            if (*end || end == val || s < 1 || s > 1000) rc = usage("--seeds: expected an integer in [1, 1000], got", val);
            seeds = (int)s;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            rc = usage("unknown option", a);
        } else if (path) {
            rc = usage("more than one experiment file:", a);
        } else {
            path = a;
        }
    }
    if (rc == 0 && !path) rc = usage("no experiment file given", NULL);
    if (rc == 0 && p.n_axes == 0 && seeds == 0) rc = usage("nothing to sweep: give --grid and/or --seeds", NULL);
    for (int a = 0; a < p.n_axes && rc == 0; a++) {
        const char *k = p.axes[a].key;
        if (strcmp(k, "run.out_dir") == 0 || strcmp(k, "checkpoint.dir") == 0 || strcmp(k, "data.prepared_dir") == 0)
            rc = usage("the sweep sets this key itself; it cannot be a grid axis:", k);
        if (strcmp(k, "run.seed") == 0 && seeds > 0) rc = usage("--seeds and --grid run.seed=... exclude each other", NULL);
    }
    photon_config *cfg = xmalloc(sizeof *cfg);
    if (rc == 0 && config_load(cfg, path, p.sets, p.n_sets, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        rc = PHOTON_EXIT_USAGE;
    }
    int lock = -1;
    if (rc == 0 && cfg->checkpoint.dir[0]) {
        fprintf(stderr, "photon-sim sweep: error: [checkpoint] dir = %s would be shared by every point: leave it empty "
                "(each point keeps its checkpoints in its run directory)\n", cfg->checkpoint.dir);
        rc = PHOTON_EXIT_USAGE;
    }
    if (rc == 0) {
        snprintf(p.experiment, sizeof p.experiment, "%s", path);
        config_run_dir(cfg, p.out_dir, sizeof p.out_dir);
        char *text = config_text(cfg);
        snprintf(p.config_hash, sizeof p.config_hash, "%016llx", (unsigned long long)hash64(text, strlen(text), HASH64_INIT));
        free(text);
        p.seeds = seeds > 0 ? seeds : 1;
        p.base_seed = cfg->run.seed;
        /* Points share one prepared data set unless the grid changes the data. */
        int data_axis = 0;
        for (int a = 0; a < p.n_axes; a++) data_axis |= strncmp(p.axes[a].key, "data.", 5) == 0;
        if (!cfg->data.prepared_dir[0] && !data_axis) path_join(p.shared_data, sizeof p.shared_data, p.out_dir, "data");
        if (sweep_plan_points(&p, &err) < 0) { fprintf(stderr, "photon-sim sweep: error: %s\n", err.msg); rc = PHOTON_EXIT_USAGE; }
    }
    if (rc == 0) rc = check_points(&p, path);
    if (rc == 0 && mkdir_p(p.out_dir, &err) < 0) { fprintf(stderr, "photon-sim sweep: error: %s\n", err.msg); rc = PHOTON_EXIT_FAIL; }
    if (rc == 0) {
        /* One sweep at a time per out_dir. */
        char lp[1100];
        path_join(lp, sizeof lp, p.out_dir, ".sweep.lock");
        lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
            fprintf(stderr, "photon-sim sweep: error: another sweep is running in %s (%s is locked)\n", p.out_dir, lp);
            rc = PHOTON_EXIT_FAIL;
        }
    }
    if (rc == 0 && sweep_file_merge(&p, &err) < 0) { fprintf(stderr, "photon-sim sweep: error: %s\n", err.msg); rc = PHOTON_EXIT_USAGE; }
    if (rc == 0) {
        int n = 0;
        for (int i = 0; i < p.n_points; i++) n += p.points[i].in_grid;
        log_info("sweep: %d point(s) (%d grid axis(es) x %d seed(s)) of %s -> %s", n, p.n_axes, p.seeds, path, p.out_dir);
        rc = save(&p) < 0 ? PHOTON_EXIT_FAIL : run_sweep(&p, verbose);
    }
    if (lock >= 0) close(lock);
    free(cfg);
    sweep_plan_free(&p);
    free(p.sets);
    return rc;
}
