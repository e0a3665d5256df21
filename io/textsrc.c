/* Raw text sources (see textsrc.h).  Bytes come from io/instream.c (plain,
 * gzip or zstd); JSON Lines go line by line through jsonr's path extractor,
 * plain text is cut at the <|endoftext|> separators as it streams by.  The
 * buffer only ever holds the current line or document plus one read, so
 * memory is bounded by the document limit, not by the file.  UTF-8 is
 * validated before parsing so that an encoding error is reported at its own
 * line instead of as a JSON error. */
#include "io/textsrc.h"
#include <stdlib.h>
#include <string.h>
#include "io/instream.h"
#include "io/jsonr.h"
#include "io/pretokenize.h"

#define EOT_TEXT "<|endoftext|>"
#define EOT_LEN 13
#define UTF8_BOM "\xEF\xBB\xBF"
#define READ (1u << 20)
#define SNIFF 4096

struct textsrc {
    char *path;
    instream *in;
    int jsonl, eof, started;
    const char *paths[2];
    int npaths;
    char *text_key, *label_key, *limit_key;
    size_t max_doc;
    char *buf;            /* unconsumed input is buf[beg..end) */
    size_t cap, beg, end, scan;
    uint64_t base;        /* file offset (uncompressed) of buf[0] */
    size_t line;          /* JSONL: line number of the last line; text: newlines before buf[beg] */
    size_t consumed;
    jbuf out[2];
    int found[2];
    int has_label;
};

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int textsrc_is_jsonl(const char *path)
{
    static const char *const ext[] = { ".json", ".jsonl" };
    static const char *const comp[] = { "", ".gz", ".zst", ".zstd" };
    char want[32];
    for (int e = 0; e < 2; e++)
        for (int c = 0; c < 4; c++) {
            snprintf(want, sizeof want, "%s%s", ext[e], comp[c]);
            if (has_suffix(path, want)) return 1;
        }
    return 0;
}

/* Reads more input after buf[end]; grows the buffer up to the document
 * limit.  0 ok (possibly at the end), -1 error. */
static int fill(textsrc *s, photon_err *err)
{
    if (s->eof) return 0;
    if (s->beg > 0 && s->beg == s->end) { s->base += s->beg; s->beg = s->end = s->scan = 0; }
    if (s->cap - s->end < READ) {
        if (s->beg > 0) {   /* compact */
            memmove(s->buf, s->buf + s->beg, s->end - s->beg);
            s->base += s->beg;
            s->end -= s->beg;
            s->scan -= s->beg;
            s->beg = 0;
        }
        if (s->cap - s->end < READ) {
            s->cap = s->end + READ > 2 * s->cap ? s->end + READ : 2 * s->cap;
            s->buf = xrealloc(s->buf, s->cap + 1);
        }
    }
    ssize_t got = instream_read(s->in, s->buf + s->end, s->cap - s->end, err);
    if (got < 0) return -1;
    if (got == 0) s->eof = 1;
    if (!s->started && got > 0) {
        s->started = 1;
        /* a UTF-8 byte-order mark (editors on Windows write one) is not text */
        if ((size_t)got >= 3 && memcmp(s->buf, UTF8_BOM, 3) == 0) s->beg = s->scan = 3;
        size_t k = (size_t)got < SNIFF ? (size_t)got : SNIFF;
        if (memchr(s->buf, 0, k)) {
            err_set(err, "%s: unsupported format: binary data (NUL bytes in the first %zu bytes%s%s), not UTF-8 text or JSON Lines",
                    s->path, k, instream_codec(s->in) == INSTREAM_PLAIN ? "" : " after ",
                    instream_codec(s->in) == INSTREAM_PLAIN ? "" : instream_codec_name(s->in));
            return -1;
        }
    }
    s->end += (size_t)got;
    return 0;
}

textsrc *textsrc_open_opts(const char *path, const textsrc_opts *o, photon_err *err)
{
    instream *in = instream_open(path, err);
    if (!in) return NULL;
    textsrc *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->in = in;
    s->jsonl = textsrc_is_jsonl(path);
    s->text_key = xstrdup(o && o->text_key && *o->text_key ? o->text_key : "text");
    s->label_key = o && o->label_key && *o->label_key ? xstrdup(o->label_key) : NULL;
    s->limit_key = xstrdup(o && o->max_doc_key ? o->max_doc_key : "[data] max_doc_mb");
    s->max_doc = o && o->max_doc ? o->max_doc : (size_t)64 << 20;
    s->paths[s->npaths++] = s->text_key;
    if (s->label_key) s->paths[s->npaths++] = s->label_key;
    s->cap = READ;
    s->buf = xmalloc(s->cap + 1);
    return s;
}

textsrc *textsrc_open(const char *path, photon_err *err) { return textsrc_open_opts(path, NULL, err); }

static size_t count_nl(const char *p, size_t n)
{
    size_t c = 0;
    for (const char *q = p, *e = p + n; (q = memchr(q, '\n', (size_t)(e - q))) != NULL; q++) c++;
    return c;
}

static int too_long(textsrc *s, const char *what, size_t line, photon_err *err)
{
    err_set(err, "%s:%zu: %s longer than %zu MB ([data] max_doc_mb; raise %s to read it)", s->path, line, what,
            s->max_doc >> 20, s->limit_key);
    return -1;
}

static int next_text(textsrc *s, const char **text, size_t *n, photon_err *err)
{
    for (;;) {
        /* find the next separator, reading more as needed */
        const char *q = NULL;
        while (!(q = memmem(s->buf + s->scan, s->end - s->scan, EOT_TEXT, EOT_LEN)) && !s->eof) {
            if (s->end - s->beg > s->max_doc + EOT_LEN) return too_long(s, "a document (text between <|endoftext|> separators) is", s->line + 1, err);
            s->scan = s->end > s->beg + EOT_LEN ? s->end - EOT_LEN : s->beg;
            if (fill(s, err)) return -1;
        }
        if (!q && s->beg == s->end) return 0;
        size_t start = s->beg, len = q ? (size_t)(q - (s->buf + start)) : s->end - start;
        if (len > s->max_doc) return too_long(s, "a document (text between <|endoftext|> separators) is", s->line + 1, err);
        /* the newline that usually follows a separator is not part of the
         * next document: read on to see it (the buffer may move) */
        if (q && start + len + EOT_LEN == s->end && !s->eof) {
            if (fill(s, err)) return -1;
            start = s->beg;
        }
        size_t next = start + len + (q ? EOT_LEN : 0);
        if (q && next < s->end && s->buf[next] == '\n') next++;
        const char *p = s->buf + start;
        size_t bad = utf8_first_invalid((const unsigned char *)p, len);
        if (bad < len) {
            err_set(err, "%s:%zu: invalid UTF-8 at byte offset %llu (text sources must be UTF-8)", s->path,
                    s->line + 1 + count_nl(p, bad), (unsigned long long)(s->base + start + bad));
            return -1;
        }
        s->line += count_nl(s->buf + start, next - start);
        s->beg = s->scan = next;
        s->consumed = (size_t)(s->base + next);
        int blank = 1;
        for (size_t i = 0; i < len && blank; i++) blank = p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
        if (blank) continue;
        *text = p;
        *n = len;
        return 1;
    }
}

static int next_jsonl(textsrc *s, const char **text, size_t *n, photon_err *err)
{
    for (;;) {
        char *nl;
        while (!(nl = memchr(s->buf + s->scan, '\n', s->end - s->scan)) && !s->eof) {
            if (s->end - s->beg > s->max_doc) return too_long(s, "a line is", s->line + 1, err);
            s->scan = s->end;
            if (fill(s, err)) return -1;
        }
        if (!nl && s->beg == s->end) return 0;
        size_t ls = s->beg, le = nl ? (size_t)(nl - s->buf) : s->end;
        s->beg = s->scan = nl ? le + 1 : le;
        s->consumed = (size_t)(s->base + s->beg);
        s->line++;
        const char *line = s->buf + ls;
        size_t len = le - ls;
        if (len > s->max_doc) return too_long(s, "a line is", s->line, err);
        if (len && line[len - 1] == '\r') len--;
        int blank = 1;
        for (size_t i = 0; i < len && blank; i++) blank = line[i] == ' ' || line[i] == '\t';
        if (blank) continue;
        size_t bad = utf8_first_invalid((const unsigned char *)line, len);
        if (bad < len) {
            err_set(err, "%s:%zu: invalid UTF-8 at column %zu (JSON Lines must be UTF-8)", s->path, s->line, bad + 1);
            return -1;
        }
        const char *msg = NULL;
        size_t off = 0;
        if (jsonr_object_paths(line, len, s->paths, s->npaths, s->out, s->found, &msg, &off) < 0) {
            err_set(err, "%s:%zu: invalid JSON at column %zu: %s", s->path, s->line, off + 1, msg);
            return -1;
        }
        for (int i = 0; i < s->npaths; i++)
            if (!s->found[i]) {
                err_set(err, "%s:%zu: JSON object has no \"%s\" member (%s)", s->path, s->line, s->paths[i],
                        i == 0 ? (strcmp(s->paths[0], "text") == 0 ? "expected {\"text\": \"...\"}; [data] text_key names another"
                                                                  : "[data] text_key")
                               : "[data] source_field");
                return -1;
            }
        s->has_label = s->npaths > 1;
        if (s->out[0].len == 0) continue;
        *text = s->out[0].data;
        *n = s->out[0].len;
        return 1;
    }
}

int textsrc_next(textsrc *s, const char **text, size_t *n, photon_err *err)
{
    if (!s->started && !s->eof && fill(s, err)) return -1;
    return s->jsonl ? next_jsonl(s, text, n, err) : next_text(s, text, n, err);
}

const char *textsrc_label(const textsrc *s, size_t *n)
{
    if (!s->has_label) return NULL;
    *n = s->out[1].len;
    return s->out[1].data;
}

size_t textsrc_bytes(const textsrc *s) { return s->consumed; }
uint64_t textsrc_file_bytes(const textsrc *s) { return instream_consumed(s->in); }

void textsrc_close(textsrc *s)
{
    if (!s) return;
    instream_close(s->in);
    free(s->path);
    free(s->buf);
    free(s->text_key);
    free(s->label_key);
    free(s->limit_key);
    jbuf_free(&s->out[0]);
    jbuf_free(&s->out[1]);
    free(s);
}
