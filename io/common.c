/* Common helpers: errors, logging, allocation, RNG, hashing, time, files,
 * atomic replace and the fault seams tests use to fail the Nth call. */
#include "io/common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors and logging ------------------------------------------------ */

/* An error is one line whatever it quotes (a value with a newline, a name
 * from a damaged file): control characters become '?'. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

void err_set(photon_err *e, const char *fmt, ...)
{
    if (!e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    one_line(e->msg);
}

void err_prefix(photon_err *e, const char *fmt, ...)
{
    if (!e) return;
    char pre[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre - 2, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t plen = strlen(pre);
    pre[plen++] = ':'; pre[plen++] = ' ';
    size_t old = strnlen(e->msg, sizeof e->msg - 1);
    if (plen + old >= sizeof e->msg) old = sizeof e->msg - 1 - plen;
    memmove(e->msg + plen, e->msg, old);   /* shift the old message right, keep its head */
    memcpy(e->msg, pre, plen);
    e->msg[plen + old] = 0;
    one_line(e->msg);
}

static const char *log_tag = "photon-sim";
static bool log_quiet;
static void (*log_pre_hook)(void *);
static void *log_pre_ud;

void log_set_tag(const char *tag) { log_tag = tag; }
void log_set_quiet(bool quiet) { log_quiet = quiet; }
void log_set_pre_hook(void (*fn)(void *ud), void *ud) { log_pre_hook = fn; log_pre_ud = ud; }

static void log_v(const char *level, const char *fmt, va_list ap)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "%s: %s", log_tag, level);
    if (n < 0) return;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    /* one write per line so lines from actors and supervisor never interleave */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) { line[len++] = '\n'; line[len] = 0; }
    if (log_pre_hook) log_pre_hook(log_pre_ud);
    if (write(STDERR_FILENO, line, len) < 0) { /* nothing sensible to do */ }
}

void log_info(const char *fmt, ...)
{
    if (log_quiet) return;
    va_list ap; va_start(ap, fmt); log_v("", fmt, ap); va_end(ap);
}
void log_warn(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); log_v("warning: ", fmt, ap); va_end(ap);
}
void log_error(const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); log_v("error: ", fmt, ap); va_end(ap);
}
void die(int code, const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); log_v("error: ", fmt, ap); va_end(ap);
    exit(code);
}

/* ---- fault seams ---------------------------------------------------------- */

static long seam_nth[SEAM_COUNT], seam_calls[SEAM_COUNT];
static bool seam_env_read;
static const char *seam_env[SEAM_COUNT] = { "PHOTON_FAULT_ALLOC", "PHOTON_FAULT_WRITE", "PHOTON_FAULT_FSYNC" };

void seam_arm(photon_seam s, long nth)
{
    seam_env_read = true;
    seam_nth[s] = nth;
    seam_calls[s] = 0;
}

bool seam_hit(photon_seam s)
{
    if (!seam_env_read) {
        seam_env_read = true;
        for (int i = 0; i < SEAM_COUNT; i++) {
            const char *v = getenv(seam_env[i]);
            if (v) seam_nth[i] = atol(v);
        }
    }
    if (seam_nth[s] <= 0) return false;
    if (++seam_calls[s] != seam_nth[s]) return false;
    /* PHOTON_FAULT_KILL set: the process dies there instead of seeing an
     * error, as in a power cut or `kill -9` in the middle of a write (the
     * resume tests use it to stop a checkpoint write at an exact point). */
    if (getenv("PHOTON_FAULT_KILL")) raise(SIGKILL);
    return true;
}

/* ---- allocation --------------------------------------------------------- */

static int oom_status = PHOTON_EXIT_FAIL;

void xalloc_set_fail_status(int status) { oom_status = status; }

static void *oom(size_t n)
{
    die(oom_status, "out of memory allocating %zu bytes", n);
}

void *xmalloc(size_t n)
{
    void *p = seam_hit(SEAM_ALLOC) ? NULL : malloc(n ? n : 1);
    return p ? p : oom(n);
}
void *xcalloc(size_t n, size_t sz)
{
    void *p = seam_hit(SEAM_ALLOC) ? NULL : calloc(n ? n : 1, sz ? sz : 1);
    return p ? p : oom(n * sz);
}
void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom(n);
}
char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}
void *xmalloc_aligned(size_t n)
{
    void *p = NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    if (seam_hit(SEAM_ALLOC) || posix_memalign(&p, 64, rounded ? rounded : 64) != 0) return oom(n);
    return p;
}

/* ---- random numbers ------------------------------------------------------- */

uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(photon_rng *r, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&st);
}

void rng_derive(photon_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    /* mix each coordinate through splitmix so nearby tuples give unrelated streams */
    uint64_t st = seed;
    uint64_t h = splitmix64(&st);
    st = h ^ a; h = splitmix64(&st);
    st = h ^ b; h = splitmix64(&st);
    st = h ^ c; h = splitmix64(&st);
    rng_seed(r, h);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(photon_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(photon_rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

float rng_normal(photon_rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t rng_below(photon_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;   /* rejection keeps it unbiased */
    uint64_t x;
    do x = rng_u64(r); while (x >= limit);
    return x % n;
}

/* ---- hashing ---------------------------------------------------------------- */

uint64_t hash64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}

uint64_t checksum_fast(const void *data, size_t n)
{
    /* four independent multiply-xor lanes over 8-byte words: memory-bound speed */
    const unsigned char *p = data;
    uint64_t h[4] = { 0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL };
    size_t words = n / 8, i = 0;
    for (; i + 4 <= words; i += 4)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, p + 8 * (i + k), 8);
            h[k] = (h[k] ^ w) * 0x9e3779b97f4a7c15ULL;
            h[k] ^= h[k] >> 29;
        }
    uint64_t acc = hash64(p + 8 * i, n - 8 * i, HASH64_INIT ^ n);
    for (int k = 0; k < 4; k++) { acc ^= h[k] + 0x9e3779b97f4a7c15ULL + (acc << 6) + (acc >> 2); }
    return acc;
}

/* ---- time ------------------------------------------------------------------- */

double time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double time_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- files ------------------------------------------------------------------ */

const char *file_kind(unsigned m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "a special file";
}

int file_open_regular(const char *path, uint64_t max, const char *what, struct stat *st, photon_err *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat s;
    if (fstat(fd, &s) != 0) {
        err_set(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(s.st_mode)) {
        err_set(err, "%s: is %s, expected %s", path, file_kind(s.st_mode), what);
        close(fd);
        return -1;
    }
    if (max && (uint64_t)s.st_size > max) {
        err_set(err, "%s: is %lld bytes, more than %s may hold (%llu)", path, (long long)s.st_size, what,
                (unsigned long long)max);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (st) *st = s;
    return fd;
}

char *file_read_max(const char *path, uint64_t max, const char *what, size_t *len, photon_err *err)
{
    struct stat st;
    int fd = file_open_regular(path, max, what, &st, err);
    if (fd < 0) return NULL;
    /* The size can change while we read (a file being written): read to
     * EOF, but never beyond max. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (max && n >= max) {
                err_set(err, "%s: grew beyond %llu bytes while being read, more than %s may hold", path,
                        (unsigned long long)max, what);
                free(buf);
                close(fd);
                return NULL;
            }
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            err_set(err, "%s: read error: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

char *file_read_all(const char *path, size_t *len, photon_err *err)
{
    return file_read_max(path, FILE_READ_MAX, "a regular file", len, err);
}

bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int mkdir_p(const char *path, photon_err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    if (n == 0) return 0;
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
                err_set(err, "%s: cannot create directory: %s", tmp, strerror(errno));
                return -1;
            }
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        err_set(err, "%s: exists and is not a directory", path);
        return -1;
    }
    return 0;
}

void path_dirname(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(out, n, "."); return; }
    if (slash == path) { snprintf(out, n, "/"); return; }
    snprintf(out, n, "%.*s", (int)(slash - path), path);
}

void path_join(char *out, size_t n, const char *dir, const char *name)
{
    if (name[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0) snprintf(out, n, "%s", name);
    else snprintf(out, n, "%s/%s", dir, name);
}

int fsync_dir(const char *dir, photon_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) { err_set(err, "%s: cannot open directory: %s", dir, strerror(errno)); return -1; }
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && errno != EINVAL) { err_set(err, "%s: fsync failed: %s", dir, strerror(errno)); return -1; }
    return 0;
}

/* The process's command name (/proc/PID/comm), or "" when unreadable. */
static void proc_comm(const char *pid, char *out, size_t n)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%s/comm", pid);
    out[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f) return;
    if (fgets(out, (int)n, f)) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

int tmp_sweep(const char *dir, bool all_pids)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    char self[64];
    proc_comm("self", self, sizeof self);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* "<name>.tmp.<pid>": the last ".tmp." followed by digits only */
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || t == e->d_name) continue;
        while (strstr(t + 1, ".tmp.")) t = strstr(t + 1, ".tmp.");
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || t[5] < '0' || t[5] > '9') continue;
        if (!all_pids) {
            if (pid == (long)getpid()) continue;
            /* Its writer is gone when the pid is, or when the pid now
             * belongs to another program (pids are reused); a live
             * photon-sim (or whatever wrote it, under its own name) may
             * still be writing it. */
            if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
                char comm[64];
                proc_comm(t + 5, comm, sizeof comm);
                if (!comm[0] || strcmp(comm, self) == 0) continue;
            }
        }
        char path[4400];
        path_join(path, sizeof path, dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}

struct atomic_file {
    char path[4096], tmp[4200];
    FILE *f;
};

atomic_file *afile_open(const char *path, photon_err *err)
{
    atomic_file *a = xcalloc(1, sizeof *a);
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        err_set(err, "%s: cannot create: %s", a->tmp, strerror(errno));
        free(a);
        return NULL;
    }
    return a;
}

FILE *afile_stream(atomic_file *a) { return a->f; }
const char *afile_tmp_path(atomic_file *a) { return a->tmp; }

void afile_abort(atomic_file *a)
{
    if (!a) return;
    if (a->f) fclose(a->f);
    unlink(a->tmp);
    free(a);
}

int afile_commit(atomic_file *a, photon_err *err)
{
    int bad = ferror(a->f);
    if (fflush(a->f) != 0) bad = 1;
    if (bad || seam_hit(SEAM_WRITE)) {
        err_set(err, "%s: write failed: %s", a->tmp, bad ? strerror(errno) : "injected I/O error");
        afile_abort(a);
        return -1;
    }
    if (fsync(fileno(a->f)) != 0 || seam_hit(SEAM_FSYNC)) {
        err_set(err, "%s: fsync failed", a->tmp);
        afile_abort(a);
        return -1;
    }
    if (fclose(a->f) != 0) {
        a->f = NULL;
        err_set(err, "%s: close failed: %s", a->tmp, strerror(errno));
        afile_abort(a);
        return -1;
    }
    a->f = NULL;
    if (rename(a->tmp, a->path) != 0) {
        err_set(err, "%s: cannot rename into place: %s", a->path, strerror(errno));
        afile_abort(a);
        return -1;
    }
    char dir[4096];
    path_dirname(a->path, dir, sizeof dir);
    free(a);
    return fsync_dir(dir, err);
}

int file_write_atomic(const char *path, const void *data, size_t n, photon_err *err)
{
    atomic_file *a = afile_open(path, err);
    if (!a) return -1;
    if (n && fwrite(data, 1, n, a->f) != n) {
        err_set(err, "%s: write failed: %s", a->tmp, strerror(errno));
        afile_abort(a);
        return -1;
    }
    return afile_commit(a, err);
}

/* ---- misc ------------------------------------------------------------------- */

int cpu_threads(int requested)
{
    if (requested > 0) return requested;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}
