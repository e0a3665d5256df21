/* Per-file token caches (see tokcache.h).  Written through afile (temp file,
 * fsync, rename), so a cache either is complete or does not exist; its
 * index is checked in full at open (sizes, lengths that add up, label ids
 * in range), so a damaged one is rebuilt rather than trusted. */
#include "io/tokcache.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/shard.h"

#define MAGIC "PHTOKCAC"
#define VERSION 1
#define HEADER 64

typedef struct {
    char magic[8];
    uint32_t version, width;
    uint64_t ntokens, ndocs;
    uint32_t nlabels, pad;
    uint64_t labels_bytes, key;
    uint8_t reserved[8];
} header;
_Static_assert(sizeof(header) == HEADER, "cache header is 64 bytes");

typedef struct { char *s; size_t n; } label;

struct tokcache_writer {
    atomic_file *a;
    FILE *f;
    uint64_t key, ntokens, ndocs, dcap;
    uint32_t *len, *lab;
    int wide;
    label *labels;
    uint32_t nlabels;
    uint16_t *buf16;
    size_t cap16;
};

tokcache_writer *tokcache_create(const char *path, uint64_t key, int wide, photon_err *err)
{
    atomic_file *a = afile_open(path, err);
    if (!a) return NULL;
    tokcache_writer *w = xcalloc(1, sizeof *w);
    w->a = a;
    w->f = afile_stream(a);
    w->key = key;
    w->wide = wide;
    header h;
    memset(&h, 0, sizeof h);
    fwrite(&h, sizeof h, 1, w->f);   /* filled in at commit */
    return w;
}

int tokcache_add(tokcache_writer *w, const uint32_t *ids, size_t n, const char *lab, size_t ln, photon_err *err)
{
    if (n > UINT32_MAX) { err_set(err, "a document of %zu tokens is too long", n); return -1; }
    uint32_t id = 0;
    if (lab) {
        while (id < w->nlabels && !(w->labels[id].n == ln && memcmp(w->labels[id].s, lab, ln) == 0)) id++;
        if (id == w->nlabels) {
            if (w->nlabels == TOKCACHE_MAX_LABELS) {
                err_set(err, "more than %d distinct source_field values in one file: that field does not name sources",
                        TOKCACHE_MAX_LABELS);
                return -1;
            }
            w->labels = xrealloc(w->labels, (w->nlabels + 1) * sizeof *w->labels);
            w->labels[id].s = xmalloc(ln + 1);
            memcpy(w->labels[id].s, lab, ln);
            w->labels[id].s[ln] = 0;
            w->labels[id].n = ln;
            w->nlabels++;
        }
    }
    if (w->ndocs == w->dcap) {
        w->dcap = w->dcap ? 2 * w->dcap : 4096;
        w->len = xrealloc(w->len, w->dcap * sizeof *w->len);
        w->lab = xrealloc(w->lab, w->dcap * sizeof *w->lab);
    }
    w->len[w->ndocs] = (uint32_t)n;
    w->lab[w->ndocs++] = id;
    w->ntokens += n;
    if (w->wide) { fwrite(ids, sizeof *ids, n, w->f); return 0; }
    if (n > w->cap16) { w->cap16 = n; free(w->buf16); w->buf16 = xmalloc(n * sizeof *w->buf16); }
    for (size_t i = 0; i < n; i++) w->buf16[i] = (uint16_t)ids[i];
    fwrite(w->buf16, sizeof *w->buf16, n, w->f);
    return 0;
}

uint64_t tokcache_writer_docs(const tokcache_writer *w) { return w->ndocs; }

static void writer_free(tokcache_writer *w)
{
    for (uint32_t i = 0; i < w->nlabels; i++) free(w->labels[i].s);
    free(w->labels);
    free(w->len);
    free(w->lab);
    free(w->buf16);
    free(w);
}

int tokcache_commit(tokcache_writer *w, photon_err *err)
{
    uint64_t lbytes = 0;
    for (uint64_t d = 0; d < w->ndocs; d++) {
        fwrite(&w->len[d], 4, 1, w->f);
        fwrite(&w->lab[d], 4, 1, w->f);
    }
    for (uint32_t i = 0; i < w->nlabels; i++) {
        uint32_t n = (uint32_t)w->labels[i].n;
        fwrite(&n, 4, 1, w->f);
        fwrite(w->labels[i].s, 1, n, w->f);
        lbytes += 4 + n;
    }
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = VERSION;
    h.width = w->wide ? 4 : 2;
    h.ntokens = w->ntokens;
    h.ndocs = w->ndocs;
    h.nlabels = w->nlabels;
    h.labels_bytes = lbytes;
    h.key = w->key;
    int rc;
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof h, 1, w->f) != 1) {
        err_set(err, "%s: cannot write the cache header: %s", afile_tmp_path(w->a), strerror(errno));
        afile_abort(w->a);
        rc = -1;
    } else {
        rc = afile_commit(w->a, err);
    }
    writer_free(w);
    return rc;
}

void tokcache_abort(tokcache_writer *w)
{
    if (!w) return;
    afile_abort(w->a);
    writer_free(w);
}

/* ---- reading -------------------------------------------------------------- */

/* Documents are read with pread, not through a mapping: writing client
 * shards visits documents in a shuffled order, and a mapping would keep
 * (and fault around) every page it touched in the process's memory. */
struct tokcache {
    int fd;
    uint64_t data_off;         /* file offset of token 0 */
    int width;                 /* bytes per token in the file */
    int is_shard;
    uint64_t ntokens, ndocs;
    uint64_t *start;           /* first token of each document */
    uint32_t *len, *lab;
    int eot_added;             /* the last document's EOT is not in the file */
    uint32_t eot;
    label *labels;             /* owned */
    int nlabels;
    uint16_t *buf16;
    size_t cap16;
};

static tokcache *bad(tokcache *c, photon_err *err, const char *path, const char *what)
{
    err_set(err, "%s: damaged token cache (%s)", path, what);
    tokcache_close(c);
    return NULL;
}

tokcache *tokcache_open(const char *path, uint64_t key, photon_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { err_set(err, "%s: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < HEADER) {
        close(fd);
        err_set(err, "%s: damaged token cache (too short)", path);
        return NULL;
    }
    tokcache *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->data_off = HEADER;
    header h;
    if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return bad(c, err, path, "header");
    if (memcmp(h.magic, MAGIC, 8) != 0 || h.version != VERSION) return bad(c, err, path, "not a cache of this version");
    if (h.key != key) return bad(c, err, path, "made for other inputs");
    if ((h.width != 2 && h.width != 4) || h.nlabels > TOKCACHE_MAX_LABELS) return bad(c, err, path, "header");
    uint64_t size = (uint64_t)st.st_size - HEADER;
    if (h.ntokens > size / h.width || h.ndocs > (size - h.ntokens * h.width) / 8 ||
        h.labels_bytes != size - h.ntokens * h.width - h.ndocs * 8)
        return bad(c, err, path, "sizes");
    c->width = (int)h.width;
    c->ntokens = h.ntokens;
    c->ndocs = h.ndocs;
    /* the document index and the labels: read whole (8 bytes per document) */
    size_t tail = (size_t)(h.ndocs * 8 + h.labels_bytes);
    unsigned char *buf = xmalloc(tail ? tail : 1);
    if (tail && pread(fd, buf, tail, (off_t)(HEADER + h.ntokens * h.width)) != (ssize_t)tail) {
        free(buf);
        return bad(c, err, path, "read error");
    }
    c->len = xmalloc((h.ndocs + 1) * sizeof *c->len);
    c->lab = xmalloc((h.ndocs + 1) * sizeof *c->lab);
    c->start = xmalloc((h.ndocs + 1) * sizeof *c->start);
    uint64_t at = 0;
    const unsigned char *docs = buf, *labs = buf + h.ndocs * 8, *end = buf + tail;
    for (uint64_t d = 0; d < h.ndocs; d++) {
        memcpy(&c->len[d], docs + 8 * d, 4);
        memcpy(&c->lab[d], docs + 8 * d + 4, 4);
        if (c->len[d] == 0 || (h.nlabels ? c->lab[d] >= h.nlabels : c->lab[d] != 0)) { free(buf); return bad(c, err, path, "document index"); }
        c->start[d] = at;
        at += c->len[d];
    }
    if (at != h.ntokens) { free(buf); return bad(c, err, path, "document lengths"); }
    c->labels = xcalloc(h.nlabels + 1, sizeof *c->labels);
    for (uint32_t i = 0; i < h.nlabels; i++) {
        uint32_t n;
        if (end - labs < 4) { free(buf); return bad(c, err, path, "labels"); }
        memcpy(&n, labs, 4);
        labs += 4;
        if ((uint64_t)(end - labs) < n) { free(buf); return bad(c, err, path, "labels"); }
        c->labels[i].s = xmalloc(n + 1);
        memcpy(c->labels[i].s, labs, n);
        c->labels[i].s[n] = 0;
        c->labels[i].n = n;
        c->nlabels = (int)i + 1;
        labs += n;
    }
    free(buf);
    return c;
}

tokcache *tokcache_open_shard(const char *path, uint32_t eot, int vocab, int64_t max_docs, const char *lab,
                              photon_err *err)
{
    photon_err e;
    shard *s = shard_open(path, vocab, &e);
    if (!s) {
        if (strstr(e.msg, "outside the vocabulary"))
            err_set(err, "%s; this pre-tokenized shard was made with another tokenizer than the experiment's", e.msg);
        else
            *err = e;
        return NULL;
    }
    tokcache *c = xcalloc(1, sizeof *c);
    c->is_shard = 1;
    c->fd = -1;
    int width;
    const void *data = shard_data(s, &width);
    const uint16_t *t16 = width == 2 ? data : NULL;
    const uint32_t *t32 = width == 4 ? data : NULL;
    c->width = width;
    c->data_off = SHARD_HEADER_INTS * 4;
    c->eot = eot;
    size_t n = shard_ntokens(s), cap = 0;
    uint64_t begin = 0;
    for (size_t i = 0; i < n && (max_docs == 0 || (int64_t)c->ndocs < max_docs); i++) {
        uint32_t t = t16 ? t16[i] : t32[i];
        int last = i + 1 == n;
        if (t != eot && !last) continue;
        if (c->ndocs == cap) {
            cap = cap ? 2 * cap : 4096;
            c->len = xrealloc(c->len, cap * sizeof *c->len);
            c->start = xrealloc(c->start, cap * sizeof *c->start);
        }
        uint64_t len = i + 1 - begin + (t != eot);   /* a last document without EOT gets one */
        if (len > UINT32_MAX) {
            shard_close(s);
            tokcache_close(c);
            err_set(err, "%s: a document of %llu tokens is too long", path, (unsigned long long)len);
            return NULL;
        }
        c->start[c->ndocs] = begin;
        c->len[c->ndocs++] = (uint32_t)len;
        c->eot_added = t != eot;
        c->ntokens += len;
        begin = i + 1;
    }
    shard_close(s);   /* checked and indexed; documents are read with pread */
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        tokcache_close(c);
        return NULL;
    }
    c->lab = xcalloc(c->ndocs + 1, sizeof *c->lab);
    c->labels = xcalloc(1, sizeof *c->labels);
    c->labels[0].s = xstrdup(lab);
    c->labels[0].n = strlen(lab);
    c->nlabels = 1;
    return c;
}

uint64_t tokcache_docs(const tokcache *c) { return c->ndocs; }
uint64_t tokcache_tokens(const tokcache *c) { return c->ntokens; }
uint32_t tokcache_doc_len(const tokcache *c, uint64_t d) { return c->len[d]; }
uint32_t tokcache_doc_label(const tokcache *c, uint64_t d) { return c->lab[d]; }
int tokcache_labels(const tokcache *c) { return c->nlabels; }

const char *tokcache_label(const tokcache *c, int i, size_t *n)
{
    *n = c->labels[i].n;
    return c->labels[i].s;
}

int tokcache_copy(tokcache *c, uint64_t d, uint32_t *out, photon_err *err)
{
    uint32_t n = c->len[d];
    int add = c->is_shard && c->eot_added && d + 1 == c->ndocs;
    uint32_t k = n - (uint32_t)add;
    size_t bytes = (size_t)k * (size_t)c->width;
    void *dst = out;
    if (c->width == 2) {
        if (k > c->cap16) { c->cap16 = k; free(c->buf16); c->buf16 = xmalloc(k * sizeof *c->buf16); }
        dst = c->buf16;
    }
    off_t off = (off_t)(c->data_off + c->start[d] * (uint64_t)c->width);
    for (size_t done = 0; done < bytes;) {
        ssize_t r = pread(c->fd, (char *)dst + done, bytes - done, off + (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            err_set(err, "token cache read error: %s", r < 0 ? strerror(errno) : "the file got shorter");
            return -1;
        }
        done += (size_t)r;
    }
    if (c->width == 2) for (uint32_t i = 0; i < k; i++) out[i] = c->buf16[i];
    if (add) out[k] = c->eot;
    return 0;
}

void tokcache_close(tokcache *c)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    for (int i = 0; i < c->nlabels; i++) free(c->labels[i].s);
    free(c->labels);
    free(c->start);
    free(c->len);
    free(c->lab);
    free(c->buf16);
    free(c);
}
