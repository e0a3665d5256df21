/* Raw text sources (see textsrc.h).  zlib's gz* functions read gzip and
 * plain files alike, so one reader serves both; JSON Lines go line by line
 * through jsonr's object parser, plain text is read whole and cut at the
 * <|endoftext|> separators.  UTF-8 is validated before parsing so that an
 * encoding error is reported at its own line instead of as a JSON error. */
#include "io/textsrc.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "io/jsonr.h"
#include "io/pretokenize.h"

#define EOT_TEXT "<|endoftext|>"
#define UTF8_BOM "\xEF\xBB\xBF"

struct textsrc {
    char *path;
    gzFile gz;
    int jsonl;
    char *buf;            /* JSONL: read buffer; text: the whole file */
    size_t cap, beg, end;
    int eof;
    size_t line;          /* line number of the last line returned (JSONL) */
    size_t consumed;
    jbuf doc;
};

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int gz_fail(textsrc *s, photon_err *err, const char *when)
{
    int code;
    const char *m = gzerror(s->gz, &code);
    err_set(err, "%s: corrupt or truncated gzip data near compressed byte offset %lld (%s): %s",
            s->path, (long long)gzoffset(s->gz), when, m && *m ? m : "read error");
    return -1;
}

/* Reads more input into buf[end..]; 0 ok (possibly at EOF), -1 error. */
static int fill(textsrc *s, photon_err *err, const char *when)
{
    if (s->eof) return 0;
    if (s->end == s->cap) {
        s->cap *= 2;
        s->buf = xrealloc(s->buf, s->cap + 1);
    }
    unsigned want = (unsigned)((s->cap - s->end) > (1u << 30) ? (1u << 30) : (s->cap - s->end));
    int got = gzread(s->gz, s->buf + s->end, want);
    if (got < 0) return gz_fail(s, err, when);
    if (got == 0) {
        int code;
        gzerror(s->gz, &code);
        if (code != Z_OK && code != Z_STREAM_END) return gz_fail(s, err, when);
        s->eof = 1;
    }
    s->end += (size_t)got;
    return 0;
}

static size_t line_of(const char *s, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off; i++) line += s[i] == '\n';
    return line;
}

textsrc *textsrc_open(const char *path, photon_err *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        err_set(err, "%s: cannot open text source: %s", path, strerror(errno ? errno : ENOENT));
        return NULL;
    }
    gzbuffer(gz, 1 << 18);
    textsrc *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->gz = gz;
    s->jsonl = has_suffix(path, ".json") || has_suffix(path, ".jsonl") ||
               has_suffix(path, ".json.gz") || has_suffix(path, ".jsonl.gz");
    s->cap = 1 << 20;
    s->buf = xmalloc(s->cap + 1);
    if (!s->jsonl) {
        /* plain text: read it all, check the encoding once */
        char when[64];
        while (!s->eof) {
            snprintf(when, sizeof when, "after %zu bytes", s->end);
            if (fill(s, err, when)) { textsrc_close(s); return NULL; }
        }
        /* a UTF-8 byte-order mark (editors on Windows write one) is not text */
        if (s->end >= 3 && memcmp(s->buf, UTF8_BOM, 3) == 0) s->beg = 3;
        size_t bad = utf8_first_invalid((unsigned char *)s->buf, s->end);
        if (bad < s->end) {
            err_set(err, "%s:%zu: invalid UTF-8 at byte offset %zu (text sources must be UTF-8)",
                    path, line_of(s->buf, bad), bad);
            textsrc_close(s);
            return NULL;
        }
    }
    return s;
}

static int next_text(textsrc *s, const char **text, size_t *n)
{
    size_t el = strlen(EOT_TEXT);
    while (s->beg < s->end) {
        const char *p = s->buf + s->beg;
        const char *q = memmem(p, s->end - s->beg, EOT_TEXT, el);
        size_t len = q ? (size_t)(q - p) : s->end - s->beg;
        s->beg += len + (q ? el : 0);
        s->consumed = s->beg;
        /* the newline that usually follows a separator is not part of the next document */
        if (q && s->beg < s->end && s->buf[s->beg] == '\n') s->beg++;
        int blank = 1;
        for (size_t i = 0; i < len && blank; i++)
            blank = p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
        if (blank) continue;
        *text = p;
        *n = len;
        return 1;
    }
    return 0;
}

static int next_jsonl(textsrc *s, const char **text, size_t *n, photon_err *err)
{
    for (;;) {
        char *nl = memchr(s->buf + s->beg, '\n', s->end - s->beg);
        if (!nl && !s->eof) {
            /* compact, then read more */
            memmove(s->buf, s->buf + s->beg, s->end - s->beg);
            s->end -= s->beg;
            s->beg = 0;
            char when[64];
            snprintf(when, sizeof when, "reading line %zu", s->line + 1);
            if (fill(s, err, when)) return -1;
            continue;
        }
        if (!nl && s->beg == s->end) return 0;
        size_t ls = s->beg, le = nl ? (size_t)(nl - s->buf) : s->end;
        s->beg = nl ? le + 1 : le;
        s->consumed += s->beg - ls;
        s->line++;
        const char *line = s->buf + ls;
        size_t len = le - ls;
        if (len && line[len - 1] == '\r') len--;
        if (s->line == 1 && len >= 3 && memcmp(line, UTF8_BOM, 3) == 0) { line += 3; len -= 3; }
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
        int rc = jsonr_object_string(line, len, "text", &s->doc, &msg, &off);
        if (rc < 0) {
            err_set(err, "%s:%zu: invalid JSON at column %zu: %s", s->path, s->line, off + 1, msg);
            return -1;
        }
        if (rc == 0) {
            err_set(err, "%s:%zu: JSON object has no \"text\" member (expected {\"text\": \"...\"})", s->path, s->line);
            return -1;
        }
        if (s->doc.len == 0) continue;
        *text = s->doc.data;
        *n = s->doc.len;
        return 1;
    }
}

int textsrc_next(textsrc *s, const char **text, size_t *n, photon_err *err)
{
    return s->jsonl ? next_jsonl(s, text, n, err) : next_text(s, text, n);
}

size_t textsrc_bytes(const textsrc *s) { return s->consumed; }

void textsrc_close(textsrc *s)
{
    if (!s) return;
    if (s->gz) gzclose(s->gz);
    free(s->path);
    free(s->buf);
    jbuf_free(&s->doc);
    free(s);
}
