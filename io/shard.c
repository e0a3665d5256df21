/* llm.c-format token shards (see shard.h): memory-mapped readers that check
 * magic, version, size and (optionally) every token id up front, so that a
 * bad shard fails at open with its file name and byte offset instead of
 * producing garbage batches later; writers go through afile_* (temp + rename). */
#include "io/shard.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES (SHARD_HEADER_INTS * 4)

struct shard {
    void *map;
    size_t map_len;
    const uint16_t *t16;
    const uint32_t *t32;
    size_t n;
};

shard *shard_open(const char *path, int vocab, photon_err *err)
{
    struct stat st;
    int fd = file_open_regular(path, 0, "a token shard", &st, err);   /* a FIFO fails here, never blocks */
    if (fd < 0) return NULL;
    size_t size = (size_t)st.st_size;
    if (size < HEADER_BYTES) {
        err_set(err, "%s: truncated token shard: %zu bytes, shorter than the %d-byte header", path, size, HEADER_BYTES);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { err_set(err, "%s: cannot map: %s", path, strerror(errno)); return NULL; }
    const int32_t *h = map;
    size_t elt;
    if (h[0] == SHARD_MAGIC16 && h[1] == 1) elt = 2;
    else if (h[0] == SHARD_MAGIC32 && h[1] == 7) elt = 4;
    else {
        if (h[0] == SHARD_MAGIC16 || h[0] == SHARD_MAGIC32)
            err_set(err, "%s: byte offset 4: unsupported shard version %d for magic %d (expected %d)",
                    path, h[1], h[0], h[0] == SHARD_MAGIC16 ? 1 : 7);
        else
            err_set(err, "%s: byte offset 0: wrong magic %d (expected %d or %d: not an llm.c token shard)",
                    path, h[0], SHARD_MAGIC16, SHARD_MAGIC32);
        munmap(map, size);
        return NULL;
    }
    if (h[2] < 0) {
        err_set(err, "%s: byte offset 8: negative token count %d", path, h[2]);
        munmap(map, size);
        return NULL;
    }
    size_t n = (size_t)h[2], want = HEADER_BYTES + n * elt;
    if (size != want) {
        err_set(err, "%s: %s token shard: header says %zu tokens (%zu bytes) but the file has %zu bytes",
                path, size < want ? "truncated" : "oversized", n, want, size);
        munmap(map, size);
        return NULL;
    }
    shard *s = xcalloc(1, sizeof *s);
    s->map = map;
    s->map_len = size;
    s->n = n;
    if (elt == 2) s->t16 = (const uint16_t *)((const char *)map + HEADER_BYTES);
    else s->t32 = (const uint32_t *)((const char *)map + HEADER_BYTES);
    if (vocab > 0) {
        for (size_t i = 0; i < n; i++) {
            uint32_t t = shard_token(s, i);
            if (t >= (uint32_t)vocab) {
                err_set(err, "%s: byte offset %zu: token id %u is outside the vocabulary (size %d)",
                        path, HEADER_BYTES + i * elt, t, vocab);
                shard_close(s);
                return NULL;
            }
        }
    }
    return s;
}

void shard_close(shard *s)
{
    if (!s) return;
    munmap(s->map, s->map_len);
    free(s);
}

size_t shard_ntokens(const shard *s) { return s->n; }

uint32_t shard_token(const shard *s, size_t i) { return s->t16 ? s->t16[i] : s->t32[i]; }

void shard_read(const shard *s, size_t start, size_t n, uint32_t *out)
{
    if (s->t32) { memcpy(out, s->t32 + start, n * sizeof *out); return; }
    const uint16_t *p = s->t16 + start;
    for (size_t i = 0; i < n; i++) out[i] = p[i];
}

const void *shard_data(const shard *s, int *width)
{
    *width = s->t16 ? 2 : 4;
    return s->t16 ? (const void *)s->t16 : (const void *)s->t32;
}

struct shard_writer {
    atomic_file *a;
    FILE *f;
    char *path;
    size_t want, have;
    int wide;
};

shard_writer *shard_writer_open(const char *path, size_t n, int wide, photon_err *err)
{
    if (n > INT32_MAX) { err_set(err, "%s: %zu tokens do not fit one llm.c shard (max %d)", path, n, INT32_MAX); return NULL; }
    atomic_file *a = afile_open(path, err);
    if (!a) return NULL;
    shard_writer *w = xcalloc(1, sizeof *w);
    w->a = a;
    w->f = afile_stream(a);
    w->path = xstrdup(path);
    w->want = n;
    w->wide = wide;
    int32_t h[SHARD_HEADER_INTS] = { 0 };
    h[0] = wide ? SHARD_MAGIC32 : SHARD_MAGIC16;
    h[1] = wide ? 7 : 1;
    h[2] = (int32_t)n;
    fwrite(h, sizeof h, 1, w->f);
    return w;
}

int shard_writer_put(shard_writer *w, const uint32_t *tokens, size_t n, photon_err *err)
{
    if (w->have + n > w->want) { err_set(err, "%s: more tokens than the header's %zu", w->path, w->want); return -1; }
    w->have += n;
    if (w->wide) { fwrite(tokens, sizeof *tokens, n, w->f); return 0; }
    uint16_t buf[8192];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 8192 ? n - i : 8192;
        for (size_t j = 0; j < k; j++) {
            if (tokens[i + j] > 0xFFFF) {
                err_set(err, "%s: token %u at index %zu does not fit a uint16 shard", w->path, tokens[i + j], w->have - n + i + j);
                return -1;
            }
            buf[j] = (uint16_t)tokens[i + j];
        }
        fwrite(buf, sizeof *buf, k, w->f);
        i += k;
    }
    return 0;
}

int shard_writer_commit(shard_writer *w, photon_err *err)
{
    int rc;
    if (w->have != w->want) {
        err_set(err, "%s: %zu tokens written, the header says %zu", w->path, w->have, w->want);
        afile_abort(w->a);
        rc = -1;
    } else {
        rc = afile_commit(w->a, err);   /* checks the stream's error flag, fsyncs, renames */
    }
    free(w->path);
    free(w);
    return rc;
}

void shard_writer_abort(shard_writer *w)
{
    if (!w) return;
    afile_abort(w->a);
    free(w->path);
    free(w);
}

int shard_write(const char *path, const uint32_t *tokens, size_t n, int wide, photon_err *err)
{
    shard_writer *w = shard_writer_open(path, n, wide, err);
    if (!w) return -1;
    if (shard_writer_put(w, tokens, n, err)) { shard_writer_abort(w); return -1; }
    return shard_writer_commit(w, err);
}
