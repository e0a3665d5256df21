/* metrics.jsonl lines (one append per line, resumable by byte offset),
 * summary.json (atomic) and the communication accounting; see metrics.h. */
#include "io/metrics.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A JSON object under construction in memory. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
    int fields;
    const char *sep;      /* between fields: "," or ",\n  " */
} jobj;

static void jobj_open(jobj *j, const char *first, const char *sep)
{
    j->buf = NULL;
    j->len = 0;
    j->f = open_memstream(&j->buf, &j->len);
    if (!j->f) die(PHOTON_EXIT_FAIL, "out of memory building a JSON line");
    fputs(first, j->f);
    j->fields = 0;
    j->sep = sep;
}

static void jobj_key(jobj *j, const char *key)
{
    if (!j->f) return;
    if (j->fields++) fputs(j->sep, j->f);
    json_write_string(j->f, key);
    fputc(':', j->f);
}

void json_format_number(char *buf, size_t n, double v)
{
    if (!isfinite(v)) { snprintf(buf, n, "null"); return; }
    snprintf(buf, n, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, n, "%.17g", v);
}

static void jobj_num(jobj *j, const char *key, double v)
{
    char b[40];
    json_format_number(b, sizeof b, v);
    jobj_key(j, key);
    if (j->f) fputs(b, j->f);
}

static void jobj_int(jobj *j, const char *key, int64_t v)
{
    jobj_key(j, key);
    if (j->f) fprintf(j->f, "%lld", (long long)v);
}

static void jobj_str(jobj *j, const char *key, const char *v)
{
    jobj_key(j, key);
    if (j->f) json_write_string(j->f, v ? v : "");
}

static void jobj_raw(jobj *j, const char *key, const char *json)
{
    jobj_key(j, key);
    if (j->f) fputs(json && *json ? json : "null", j->f);
}

/* Closes the object; returns the malloc'd text (length in *len). */
static char *jobj_close(jobj *j, const char *last, size_t *len)
{
    if (!j->f) return NULL;
    fputs(last, j->f);
    fclose(j->f);
    j->f = NULL;
    *len = j->len;
    return j->buf;
}

/* ---- metrics.jsonl ------------------------------------------------------- */

struct metrics {
    int fd;
    char path[1024];
    int64_t offset;
    jobj line;
    bool warned;
};

metrics *metrics_open(const char *path, int64_t resume_offset, photon_err *err)
{
    /* O_NONBLOCK: a FIFO in its place must not hang the run (checked below) */
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | (resume_offset < 0 ? O_CREAT | O_TRUNC : 0);
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        err_set(err, "%s: cannot open metrics file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat rst;
    if (fstat(fd, &rst) != 0 || !S_ISREG(rst.st_mode)) {
        err_set(err, "%s: not a regular file: cannot be the metrics file", path);
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, O_APPEND);   /* blocking again */
    int64_t off = 0;
    if (resume_offset >= 0) {
        struct stat st;
        if (fstat(fd, &st) != 0) {
            err_set(err, "%s: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        if (st.st_size < resume_offset) {
            err_set(err, "%s: metrics file is %lld bytes, shorter than the %lld bytes the checkpoint recorded",
                    path, (long long)st.st_size, (long long)resume_offset);
            close(fd);
            return NULL;
        }
        if (ftruncate(fd, (off_t)resume_offset) != 0) {
            err_set(err, "%s: cannot cut the metrics file back to byte %lld: %s",
                    path, (long long)resume_offset, strerror(errno));
            close(fd);
            return NULL;
        }
        off = resume_offset;
    }
    metrics *m = xcalloc(1, sizeof *m);
    m->fd = fd;
    m->offset = off;
    snprintf(m->path, sizeof m->path, "%s", path);
    return m;
}

void metrics_begin(metrics *m, const char *event)
{
    if (m->line.f) { fclose(m->line.f); free(m->line.buf); }   /* unfinished line: drop it */
    jobj_open(&m->line, "{", ",");
    jobj_str(&m->line, "event", event);
    jobj_num(&m->line, "time", time_wall());
}

void metrics_int(metrics *m, const char *key, int64_t v) { jobj_int(&m->line, key, v); }
void metrics_num(metrics *m, const char *key, double v) { jobj_num(&m->line, key, v); }
void metrics_str(metrics *m, const char *key, const char *v) { jobj_str(&m->line, key, v); }
void metrics_bool(metrics *m, const char *key, bool v) { jobj_raw(&m->line, key, v ? "true" : "false"); }
void metrics_raw(metrics *m, const char *key, const char *json) { jobj_raw(&m->line, key, json); }

int metrics_end(metrics *m)
{
    size_t len;
    char *text = jobj_close(&m->line, "}\n", &len);
    if (!text) return -1;
    int rc = 0;
    ssize_t w = write(m->fd, text, len);
    if (w != (ssize_t)len) {
        if (w > 0) {   /* a short write: take it back so no partial line stays */
            if (ftruncate(m->fd, (off_t)m->offset) != 0) { /* reported below */ }
        }
        if (!m->warned) log_warn("%s: cannot write metrics: %s", m->path, w < 0 ? strerror(errno) : "short write");
        m->warned = true;
        rc = -1;
    } else {
        m->offset += (int64_t)len;
    }
    free(text);
    return rc;
}

int64_t metrics_offset(const metrics *m) { return m->offset; }

int metrics_sync(metrics *m, photon_err *err)
{
    if (fsync(m->fd) != 0) {
        err_set(err, "%s: fsync: %s", m->path, strerror(errno));
        return -1;
    }
    return 0;
}

void metrics_close(metrics *m)
{
    if (!m) return;
    if (m->line.f) { fclose(m->line.f); free(m->line.buf); }
    close(m->fd);
    free(m);
}

/* ---- summary.json ---------------------------------------------------------- */

struct summary { jobj obj; };

summary *summary_create(void)
{
    summary *s = xcalloc(1, sizeof *s);
    jobj_open(&s->obj, "{\n  ", ",\n  ");
    return s;
}

void summary_int(summary *s, const char *key, int64_t v) { jobj_int(&s->obj, key, v); }
void summary_num(summary *s, const char *key, double v) { jobj_num(&s->obj, key, v); }
void summary_str(summary *s, const char *key, const char *v) { jobj_str(&s->obj, key, v); }
void summary_bool(summary *s, const char *key, bool v) { jobj_raw(&s->obj, key, v ? "true" : "false"); }
void summary_raw(summary *s, const char *key, const char *json) { jobj_raw(&s->obj, key, json); }

int summary_write(summary *s, const char *path, photon_err *err)
{
    /* close a copy of the stream's state: the object stays usable after */
    fflush(s->obj.f);
    size_t n = s->obj.len;
    char *text = xmalloc(n + 4);
    memcpy(text, s->obj.buf, n);
    memcpy(text + n, "\n}\n", 3);
    int rc = file_write_atomic(path, text, n + 3, err);
    free(text);
    return rc;
}

void summary_free(summary *s)
{
    if (!s) return;
    if (s->obj.f) fclose(s->obj.f);
    free(s->obj.buf);
    free(s);
}

/* ---- communication accounting ------------------------------------------------ */

double comm_allreduce_step_bytes(double model_bytes, int workers)
{
    if (workers < 2) return 0;
    return 2.0 * (workers - 1) / workers * model_bytes;
}

comm_bytes comm_round_bytes(size_t n_params, size_t bytes_per_param, int models_sent,
                            int updates_received, int workers, int local_steps)
{
    double mb = (double)n_params * (double)bytes_per_param;
    comm_bytes c;
    c.photon_bytes = ((double)models_sent + (double)updates_received) * mb;
    c.allreduce_bytes = (double)local_steps * (workers > 0 ? workers : 0) * comm_allreduce_step_bytes(mb, workers);
    return c;
}
