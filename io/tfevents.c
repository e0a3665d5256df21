/* TensorBoard event-file writer (see io/tfevents.h). */
#include "io/tfevents.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tfevents {
    int fd;
    char path[1024];
    int warned;
    /* the event being built: Summary values (encoded), its step */
    unsigned char *vals;
    size_t vlen, vcap;
    int64_t step;
};

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
}

uint32_t crc32c_update(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static void put_u32le(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put_u64le(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }

void tfrecord_frame(const void *payload, size_t n, unsigned char *out)
{
    put_u64le(out, (uint64_t)n);
    put_u32le(out + 8, crc32c_mask(crc32c_update(0, out, 8)));
    memcpy(out + 12, payload, n);
    put_u32le(out + 12 + n, crc32c_mask(crc32c_update(0, payload, n)));
}

/* ---- protobuf encoding -------------------------------------------------- */

typedef struct { unsigned char *p; size_t len, cap; } pbuf;

static void pb_need(pbuf *b, size_t n)
{
    if (b->len + n <= b->cap) return;
    b->cap = (b->len + n) * 2 + 64;
    b->p = xrealloc(b->p, b->cap);
}
static void pb_byte(pbuf *b, unsigned char c) { pb_need(b, 1); b->p[b->len++] = c; }
static void pb_varint(pbuf *b, uint64_t v)
{
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        pb_byte(b, c | (v ? 0x80 : 0));
    } while (v);
}
/* A field's key: its number and wire type (0 varint, 1 fixed 64-bit,
 * 2 length-delimited, 5 fixed 32-bit). */
static void pb_tag(pbuf *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void pb_bytes(pbuf *b, int field, const void *data, size_t n)
{
    pb_tag(b, field, 2);
    pb_varint(b, n);
    pb_need(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}
/* A fixed-width field (double, float): the value's bits, little-endian. */
static void pb_fixed(pbuf *b, int field, uint64_t bits, size_t width)
{
    pb_tag(b, field, width == 8 ? 1 : 5);
    pb_need(b, width);
    for (size_t i = 0; i < width; i++) b->p[b->len++] = (unsigned char)(bits >> (8 * i));
}
static void pb_double(pbuf *b, int field, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    pb_fixed(b, field, u, sizeof u);
}
static void pb_float(pbuf *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    pb_fixed(b, field, u, sizeof u);
}
static void pb_int(pbuf *b, int field, int64_t v)
{
    pb_tag(b, field, 0);
    pb_varint(b, (uint64_t)v);
}

/* ---- the file ----------------------------------------------------------- */

static int write_record(tfevents *t, const pbuf *ev)
{
    unsigned char *rec = xmalloc(ev->len + 16);
    tfrecord_frame(ev->p, ev->len, rec);
    size_t n = ev->len + 16, off = 0;
    int rc = 0;
    while (off < n) {
        ssize_t w = write(t->fd, rec + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { rc = -1; break; }
        off += (size_t)w;
    }
    free(rec);
    if (rc < 0 && !t->warned) {
        t->warned = 1;
        log_warn("TensorBoard log %s: write failed (%s); metrics.jsonl has the same figures", t->path, strerror(errno));
    }
    return rc;
}

/* Event header fields: wall_time, step. */
static void event_start(pbuf *ev, int64_t step)
{
    pb_double(ev, 1, time_wall());
    pb_int(ev, 2, step);
}

/* The largest <secs> of "events.out.tfevents.<secs>.*" names in dir, or 0. */
static long long newest_stamp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    long long best = 0;
    struct dirent *e;
    const char *pre = "events.out.tfevents.";
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, pre, strlen(pre)) != 0) continue;
        long long v = strtoll(e->d_name + strlen(pre), NULL, 10);
        if (v > best) best = v;
    }
    closedir(d);
    return best;
}

tfevents *tfevents_open(const char *dir, photon_err *err)
{
    if (mkdir_p(dir, err) < 0) return NULL;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) < 0) snprintf(host, sizeof host, "localhost");
    for (char *c = host; *c; c++) if (*c == '/') *c = '_';
    long long stamp = (long long)time_wall(), prev = newest_stamp(dir);
    if (stamp <= prev) stamp = prev + 1;
    tfevents *t = xcalloc(1, sizeof *t);
    char name[400];
    snprintf(name, sizeof name, "events.out.tfevents.%010lld.%.200s", stamp, host);
    path_join(t->path, sizeof t->path, dir, name);
    t->fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (t->fd < 0) {
        err_set(err, "cannot create %s: %s", t->path, strerror(errno));
        free(t);
        return NULL;
    }
    pbuf ev = { 0 };
    event_start(&ev, 0);
    pb_bytes(&ev, 3, "brain.Event:2", 13);
    int rc = write_record(t, &ev);
    free(ev.p);
    if (rc < 0) {
        err_set(err, "cannot write %s: %s", t->path, strerror(errno));
        tfevents_close(t);
        return NULL;
    }
    return t;
}

void tfevents_close(tfevents *t)
{
    if (!t) return;
    if (t->fd >= 0) close(t->fd);
    free(t->vals);
    free(t);
}

const char *tfevents_path(const tfevents *t) { return t->path; }

void tfevents_begin(tfevents *t, int64_t step)
{
    t->vlen = 0;
    t->step = step;
}

void tfevents_scalar(tfevents *t, const char *tag, double value)
{
    if (!isfinite(value)) return;
    pbuf v = { 0 };
    pb_bytes(&v, 1, tag, strlen(tag));
    pb_float(&v, 2, (float)value);
    pbuf s = { t->vals, t->vlen, t->vcap };
    pb_bytes(&s, 1, v.p, v.len);   /* Summary.value */
    t->vals = s.p;
    t->vlen = s.len;
    t->vcap = s.cap;
    free(v.p);
}

int tfevents_end(tfevents *t)
{
    if (t->vlen == 0) return 0;
    pbuf ev = { 0 };
    event_start(&ev, t->step);
    pb_bytes(&ev, 5, t->vals, t->vlen);
    int rc = write_record(t, &ev);
    free(ev.p);
    t->vlen = 0;
    return rc;
}

int tfevents_session_start(tfevents *t, int64_t step)
{
    pbuf sl = { 0 }, ev = { 0 };
    pb_int(&sl, 1, 1);   /* status = START */
    event_start(&ev, step);
    pb_bytes(&ev, 7, sl.p, sl.len);
    int rc = write_record(t, &ev);
    free(sl.p);
    free(ev.p);
    return rc;
}
