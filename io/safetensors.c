/* safetensors reading (see safetensors.h).  The header is parsed with
 * jsonr's pull parser straight into the tensor table (no document tree:
 * memory stays proportional to the header, whatever its JSON holds), then
 * checked as the safetensors library's Metadata::validate does: sorted by
 * offset, the tensors tile the data area from 0 to its end. */
#include "io/safetensors.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/jsonr.h"
#include "io/pretokenize.h"

static const struct { const char *name; int dtype; unsigned bits; } dtypes[] = {
    { "F32", ST_F32, 32 }, { "F16", ST_F16, 16 }, { "BF16", ST_BF16, 16 },
    { "F64", ST_OTHER, 64 }, { "I64", ST_OTHER, 64 }, { "U64", ST_OTHER, 64 }, { "I32", ST_OTHER, 32 },
    { "U32", ST_OTHER, 32 }, { "I16", ST_OTHER, 16 }, { "U16", ST_OTHER, 16 }, { "I8", ST_OTHER, 8 },
    { "U8", ST_OTHER, 8 }, { "BOOL", ST_OTHER, 8 }, { "F8_E4M3", ST_OTHER, 8 }, { "F8_E5M2", ST_OTHER, 8 },
};

static unsigned dtype_bits(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0) return dtypes[i].bits;
    return 0;
}

void st_header_free(st_header *h)
{
    for (size_t i = 0; i < h->n; i++) free(h->t[i].name);
    free(h->t);
    h->t = NULL;
    h->n = 0;
}

static int is(const jbuf *k, const char *s) { return k->len == strlen(s) && memcmp(k->data, s, k->len) == 0; }

/* A non-negative integer below 2^53 (what a JSON number holds exactly). */
static int uint_value(jsonr *r, uint64_t *v)
{
    long long x;
    if (jsonr_int(r, &x)) return -1;
    if (x < 0 || x > (1LL << 53)) { r->err = "a negative or too large number"; return -1; }
    *v = (uint64_t)x;
    return 0;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} */
static int tensor_info(jsonr *r, st_tensor *t, jbuf *key, jbuf *val)
{
    int have = 0;
    if (jsonr_expect(r, '{')) { r->err = "a tensor entry is not an object"; return -1; }
    if (jsonr_peek(r) == '}') { r->p++; r->err = "a tensor entry without dtype, shape and data_offsets"; return -1; }
    for (;;) {
        if (jsonr_peek(r) != '"' || jsonr_string(r, key) || jsonr_expect(r, ':')) return -1;
        if (is(key, "dtype")) {
            if (jsonr_peek(r) != '"' || jsonr_string(r, val)) { r->err = "dtype is not a string"; return -1; }
            if (val->len >= sizeof t->dtype_name || !dtype_bits(val->data)) { r->err = "unknown dtype"; return -1; }
            memcpy(t->dtype_name, val->data, val->len + 1);
            t->dtype = ST_OTHER;
            for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
                if (strcmp(dtypes[i].name, val->data) == 0) t->dtype = dtypes[i].dtype;
            have |= 1;
        } else if (is(key, "shape")) {
            if (jsonr_expect(r, '[')) { r->err = "shape is not an array"; return -1; }
            t->rank = 0;
            if (jsonr_peek(r) == ']') r->p++;
            else for (;;) {
                if (t->rank == ST_MAX_RANK) { r->err = "shape has more than 8 dimensions"; return -1; }
                if (uint_value(r, &t->shape[t->rank++])) return -1;
                int more = jsonr_next(r, ']');
                if (more < 0) return -1;
                if (more == 0) break;
            }
            have |= 2;
        } else if (is(key, "data_offsets")) {
            if (jsonr_expect(r, '[') || uint_value(r, &t->begin) || jsonr_expect(r, ',') || uint_value(r, &t->end) ||
                jsonr_expect(r, ']')) {
                if (!r->err || strcmp(r->err, "unexpected character") == 0) r->err = "data_offsets is not [begin, end]";
                return -1;
            }
            have |= 4;
        } else if (jsonr_skip(r)) return -1;
        int more = jsonr_next(r, '}');
        if (more < 0) return -1;
        if (more == 0) break;
    }
    if (have != 7) { r->err = "a tensor entry without dtype, shape and data_offsets"; return -1; }
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

int st_parse(const unsigned char *buf, size_t n, uint64_t file_size, st_header *out, photon_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 8 || file_size < 8) { err_set(err, "too short for a safetensors file (%llu bytes)", (unsigned long long)file_size); return -1; }
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | buf[i];
    if (hn > ST_MAX_HEADER) {
        err_set(err, "header length %llu is more than the %u bytes safetensors allows", (unsigned long long)hn, ST_MAX_HEADER);
        return -1;
    }
    if (hn > file_size - 8) {
        err_set(err, "header length %llu runs past the end of the file (%llu bytes)", (unsigned long long)hn,
                (unsigned long long)file_size);
        return -1;
    }
    if (n < 8 + hn) { err_set(err, "truncated header"); return -1; }
    const char *h = (const char *)buf + 8;
    if (utf8_first_invalid((const unsigned char *)h, hn) < hn) { err_set(err, "the header is not UTF-8"); return -1; }
    if (hn == 0 || h[0] != '{') { err_set(err, "the header does not start with '{'"); return -1; }
    jsonr r;
    jsonr_init(&r, h, hn);
    jbuf key = { 0 }, k2 = { 0 }, val = { 0 };
    size_t cap = 0;
    int rc = -1;
    r.p++;
    if (jsonr_peek(&r) == '}') r.p++;
    else for (;;) {
        if (jsonr_peek(&r) != '"' || jsonr_string(&r, &key) || jsonr_expect(&r, ':')) {
            if (!r.err) r.err = "expected a tensor name";
            goto bad;
        }
        if (is(&key, "__metadata__")) {
            if (jsonr_peek(&r) != '{') { r.err = "__metadata__ is not an object"; goto bad; }
            if (jsonr_skip(&r)) goto bad;
        } else {
            if (out->n == ST_MAX_TENSORS) { r.err = "more than 1000000 tensors"; goto bad; }
            if (out->n == cap) {
                cap = cap ? 2 * cap : 64;
                out->t = xrealloc(out->t, cap * sizeof *out->t);
            }
            st_tensor *t = &out->t[out->n];
            memset(t, 0, sizeof *t);
            if (memchr(key.data, 0, key.len)) { r.err = "a tensor name holds a NUL"; goto bad; }
            t->name = xmalloc(key.len + 1);
            memcpy(t->name, key.data, key.len + 1);
            out->n++;
            if (tensor_info(&r, t, &k2, &val)) goto bad;
        }
        int more = jsonr_next(&r, '}');
        if (more < 0) goto bad;
        if (more == 0) break;
    }
    if (jsonr_peek(&r) != -1) { r.err = "bytes after the header's JSON object"; goto bad; }
    /* every name once */
    if (out->n) qsort(out->t, out->n, sizeof *out->t, cmp_name);
    for (size_t i = 1; i < out->n; i++)
        if (strcmp(out->t[i].name, out->t[i - 1].name) == 0) {
            err_set(err, "tensor '%s' is listed twice", out->t[i].name);
            goto fail;
        }
    /* shapes agree with the byte ranges, and the ranges tile the data area */
    uint64_t data = file_size - 8 - hn, at = 0;
    if (out->n) qsort(out->t, out->n, sizeof *out->t, cmp_begin);
    for (size_t i = 0; i < out->n; i++) {
        st_tensor *t = &out->t[i];
        uint64_t numel = 1;
        for (int d = 0; d < t->rank; d++) {
            if (t->shape[d] && numel > UINT64_MAX / t->shape[d]) {
                err_set(err, "tensor '%s': its shape's element count overflows", t->name);
                goto fail;
            }
            numel *= t->shape[d];
        }
        unsigned bits = dtype_bits(t->dtype_name);
        if (numel > UINT64_MAX / bits) { err_set(err, "tensor '%s': its size overflows", t->name); goto fail; }
        uint64_t bytes = numel * bits / 8;
        if (t->end < t->begin || t->end - t->begin != bytes) {
            err_set(err, "tensor '%s': data_offsets [%llu, %llu] do not hold its %s shape (%llu bytes)", t->name,
                    (unsigned long long)t->begin, (unsigned long long)t->end, t->dtype_name, (unsigned long long)bytes);
            goto fail;
        }
        if (t->begin != at) {
            err_set(err, "tensor '%s': data_offsets start at %llu, expected %llu (tensors %s)", t->name,
                    (unsigned long long)t->begin, (unsigned long long)at, t->begin < at ? "overlap" : "leave a hole");
            goto fail;
        }
        if (t->end > data) {
            err_set(err, "tensor '%s': data_offsets end at %llu, past the %llu data bytes of the file", t->name,
                    (unsigned long long)t->end, (unsigned long long)data);
            goto fail;
        }
        at = t->end;
    }
    if (at != data) {
        err_set(err, "the tensors cover %llu of the %llu data bytes (the file has bytes no tensor owns)", (unsigned long long)at,
                (unsigned long long)data);
        goto fail;
    }
    rc = 0;
    goto out;
bad:
    err_set(err, "header byte offset %zu: %s", jsonr_offset(&r), r.err ? r.err : "invalid JSON");
fail:
    st_header_free(out);
out:
    jbuf_free(&key);
    jbuf_free(&k2);
    jbuf_free(&val);
    return rc;
}

/* ---- files -------------------------------------------------------------- */

struct safetensors {
    char *path;
    int fd;
    uint64_t data_off;
    st_header h;
};

safetensors *st_open(const char *path, photon_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    unsigned char len[8];
    uint64_t size = (uint64_t)st.st_size, hn = 0;
    if (pread(fd, len, 8, 0) == 8)
        for (int i = 7; i >= 0; i--) hn = hn << 8 | len[i];
    /* read only as much as a valid header can be; st_parse says what is wrong */
    size_t want = size < 8 ? (size_t)size : hn <= ST_MAX_HEADER && hn <= size - 8 ? (size_t)(8 + hn) : 8;
    unsigned char *buf = xmalloc(want ? want : 1);
    ssize_t got = want ? pread(fd, buf, want, 0) : 0;
    safetensors *s = xcalloc(1, sizeof *s);
    s->fd = fd;
    s->path = xstrdup(path);
    if (got != (ssize_t)want) {
        err_set(err, "%s: read error", path);
        free(buf);
        st_close(s);
        return NULL;
    }
    photon_err e;
    if (st_parse(buf, want, size, &s->h, &e)) {
        err_set(err, "%s: not a valid safetensors file: %s", path, e.msg);
        free(buf);
        st_close(s);
        return NULL;
    }
    free(buf);
    s->data_off = 8 + hn;
    if (s->h.n) qsort(s->h.t, s->h.n, sizeof *s->h.t, cmp_name);
    return s;
}

const st_header *st_tensors(const safetensors *s) { return &s->h; }

const st_tensor *st_find(const safetensors *s, const char *name)
{
    st_tensor key = { .name = (char *)name };
    if (!s->h.n) return NULL;
    return bsearch(&key, s->h.t, s->h.n, sizeof *s->h.t, cmp_name);
}

size_t st_numel(const st_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= (size_t)t->shape[d];
    return n;
}

float st_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, u;
    if (exp == 31) u = sign | 0x7F800000u | man << 13;          /* inf, nan (payload kept) */
    else if (exp) u = sign | (exp + 112) << 23 | man << 13;     /* normal: rebias 15 -> 127 */
    else if (!man) u = sign;                                     /* zero */
    else {                                                       /* subnormal: normalise */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 1024));
        u = sign | (uint32_t)(112 - e) << 23 | (man & 1023) << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int st_read_f32(const safetensors *s, const st_tensor *t, float *out, photon_err *err)
{
    if (t->dtype == ST_OTHER) {
        err_set(err, "%s: tensor '%s' is %s: only F32, F16 and BF16 are read", s->path, t->name, t->dtype_name);
        return -1;
    }
    size_t n = st_numel(t), bytes = (size_t)(t->end - t->begin);
    unsigned char *raw = t->dtype == ST_F32 ? (unsigned char *)out : xmalloc(bytes ? bytes : 1);
    size_t done = 0;
    while (done < bytes) {
        ssize_t r = pread(s->fd, raw + done, bytes - done, (off_t)(s->data_off + t->begin + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            err_set(err, "%s: cannot read tensor '%s': %s", s->path, t->name, r < 0 ? strerror(errno) : "the file is shorter than its header says");
            if (raw != (unsigned char *)out) free(raw);
            return -1;
        }
        done += (size_t)r;
    }
    if (t->dtype != ST_F32) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
            out[i] = t->dtype == ST_F16 ? st_f16_to_f32(h) : st_bf16_to_f32(h);
        }
        free(raw);
    }
    return 0;
}

void st_close(safetensors *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    st_header_free(&s->h);
    free(s->path);
    free(s);
}
