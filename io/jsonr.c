/* A small JSON reader (see jsonr.h): exact string decoding with surrogate
 * pairs, value skipping with a depth limit, no allocation beyond the
 * caller's output buffer. */
#include "io/jsonr.h"
#include <stdlib.h>
#include <string.h>
#include "io/common.h"

#define JSONR_MAX_DEPTH 256

void jbuf_free(jbuf *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; }

static void jbuf_reserve(jbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void jbuf_put(jbuf *b, const void *p, size_t n)
{
    jbuf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void jbuf_put_utf8(jbuf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = 0xC0 | (cp >> 6); u[1] = 0x80 | (cp & 63); n = 2; }
    else if (cp < 0x10000) { u[0] = 0xE0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 63); u[2] = 0x80 | (cp & 63); n = 3; }
    else { u[0] = 0xF0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 63); u[2] = 0x80 | ((cp >> 6) & 63); u[3] = 0x80 | (cp & 63); n = 4; }
    jbuf_put(b, u, n);
}

void jsonr_init(jsonr *r, const char *s, size_t n) { r->start = r->p = s; r->end = s + n; r->err = NULL; }
size_t jsonr_offset(const jsonr *r) { return (size_t)(r->p - r->start); }

static int fail(jsonr *r, const char *msg) { r->err = msg; return -1; }

int jsonr_peek(jsonr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

int jsonr_next(jsonr *r, char close)
{
    int d = jsonr_peek(r);
    if (d == ',') { r->p++; return 1; }
    if (d == close) { r->p++; return 0; }
    return fail(r, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

int jsonr_expect(jsonr *r, char c)
{
    if (jsonr_peek(r) != (unsigned char)c) {
        switch (c) {
        case '{': return fail(r, "expected '{'");
        case ':': return fail(r, "expected ':'");
        case '"': return fail(r, "expected '\"'");
        default: return fail(r, "unexpected character");
        }
    }
    r->p++;
    return 0;
}

static int hex4(jsonr *r, uint32_t *v)
{
    if (r->end - r->p < 4) return fail(r, "truncated \\u escape");
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->p[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
        else return fail(r, "bad hex digit in \\u escape");
    }
    r->p += 4;
    *v = x;
    return 0;
}

int jsonr_string(jsonr *r, jbuf *out)
{
    out->len = 0;
    jbuf_reserve(out, 0);
    out->data[0] = 0;
    if (jsonr_expect(r, '"')) return fail(r, "expected a string");
    for (;;) {
        /* copy the run of plain bytes in one go: most text has few escapes */
        const char *q = r->p;
        while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
        if (q > r->p) jbuf_put(out, r->p, (size_t)(q - r->p));
        r->p = q;
        if (q >= r->end) return fail(r, "unterminated string");
        char c = *r->p;
        if (c == '"') { r->p++; return 0; }
        if (c != '\\') return fail(r, "control character inside a string (must be escaped)");
        r->p++;
        if (r->p >= r->end) return fail(r, "unterminated escape");
        char e = *r->p++;
        char lit;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (hex4(r, &cp)) return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF) { r->p -= 6; return fail(r, "lone low surrogate in \\u escape"); }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') { r->p -= 6; return fail(r, "high surrogate \\u escape without its low half"); }
                r->p += 2;
                if (hex4(r, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) { r->p -= 12; return fail(r, "high surrogate \\u escape without its low half"); }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            jbuf_put_utf8(out, cp);
            continue;
        }
        default: r->p -= 2; return fail(r, "invalid escape in string");
        }
        jbuf_put(out, &lit, 1);
    }
}

int jsonr_int(jsonr *r, long long *v)
{
    jsonr_peek(r);
    const char *q = r->p;
    int neg = 0;
    if (q < r->end && *q == '-') { neg = 1; q++; }
    if (q >= r->end || *q < '0' || *q > '9') return fail(r, "expected an integer");
    long long x = 0;
    while (q < r->end && *q >= '0' && *q <= '9') {
        if (x > (long long)9e17) return fail(r, "integer too large");
        x = x * 10 + (*q++ - '0');
    }
    if (q < r->end && (*q == '.' || *q == 'e' || *q == 'E')) return fail(r, "expected an integer");
    r->p = q;
    *v = neg ? -x : x;
    return 0;
}

static int skip_number(jsonr *r)
{
    const char *q = r->p;
    if (q < r->end && *q == '-') q++;
    if (q >= r->end || *q < '0' || *q > '9') return fail(r, "invalid value");
    while (q < r->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')) q++;
    r->p = q;
    return 0;
}

static int skip_lit(jsonr *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) return fail(r, "invalid value");
    r->p += n;
    return 0;
}

static int skip_value(jsonr *r, int depth)
{
    if (depth > JSONR_MAX_DEPTH) return fail(r, "nesting too deep");
    int c = jsonr_peek(r);
    if (c == '"') {
        /* skip without decoding, but still validate escapes (never stepping
         * past the end: an error offset must lie inside the input) */
        r->p++;
        while (r->p < r->end && *r->p != '"') {
            if ((unsigned char)*r->p < 0x20) return fail(r, "control character inside a string (must be escaped)");
            if (*r->p == '\\') {
                if (r->end - r->p < 2) { r->p = r->end; return fail(r, "unterminated escape"); }
                char e = r->p[1];
                if (e == 'u') {
                    r->p += 2;
                    uint32_t cp;
                    if (hex4(r, &cp)) return -1;
                    continue;
                }
                if (!strchr("\"\\/bfnrt", e) || e == 0) return fail(r, "invalid escape in string");
                r->p += 2;
                continue;
            }
            r->p++;
        }
        if (r->p >= r->end) return fail(r, "unterminated string");
        r->p++;
        return 0;
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->p++;
        if (jsonr_peek(r) == close) { r->p++; return 0; }
        for (;;) {
            if (c == '{') {
                if (jsonr_peek(r) != '"') return fail(r, "expected a member name");
                if (skip_value(r, depth + 1)) return -1;
                if (jsonr_expect(r, ':')) return -1;
            }
            if (skip_value(r, depth + 1)) return -1;
            int more = jsonr_next(r, close);
            if (more <= 0) return more;
        }
    }
    if (c == 't') return skip_lit(r, "true");
    if (c == 'f') return skip_lit(r, "false");
    if (c == 'n') return skip_lit(r, "null");
    if (c == -1) return fail(r, "unexpected end of input");
    return skip_number(r);
}

int jsonr_skip(jsonr *r) { return skip_value(r, 0); }

int jsonr_object_string(const char *s, size_t n, const char *key, jbuf *out,
                        const char **err, size_t *err_off)
{
    jsonr r;
    jbuf name = {0};
    int found = 0;
    jsonr_init(&r, s, n);
    size_t klen = strlen(key);
    if (jsonr_expect(&r, '{')) { r.err = "expected a JSON object"; goto bad; }
    if (jsonr_peek(&r) == '}') { r.p++; goto end; }
    for (;;) {
        if (jsonr_peek(&r) != '"') { r.err = "expected a member name"; goto bad; }
        if (jsonr_string(&r, &name)) goto bad;
        if (jsonr_expect(&r, ':')) goto bad;
        if (!found && name.len == klen && memcmp(name.data, key, klen) == 0) {
            if (jsonr_peek(&r) != '"') {
                r.err = "member is not a string";
                goto bad;
            }
            if (jsonr_string(&r, out)) goto bad;
            found = 1;
        } else if (jsonr_skip(&r)) goto bad;
        int more = jsonr_next(&r, '}');
        if (more < 0) goto bad;
        if (more == 0) break;
    }
end:
    if (jsonr_peek(&r) != -1) { r.err = "unexpected bytes after the JSON object"; goto bad; }
    jbuf_free(&name);
    return found;
bad:
    jbuf_free(&name);
    *err = r.err;
    *err_off = jsonr_offset(&r);
    return -1;
}

/* ---- several dotted paths in one pass ---------------------------------- */

#define MAX_PATHS 4

typedef struct {
    const char *const *paths;
    int npaths;
    jbuf *outs;
    int *found;
    jbuf name;
} paths_ctx;

/* The segment of path p at depth d: *seg, *len; 1 if it is the last one. */
static int segment(const char *p, int d, const char **seg, size_t *len)
{
    for (int i = 0; i < d; i++) {
        const char *dot = strchr(p, '.');
        if (!dot) return -1;
        p = dot + 1;
    }
    const char *dot = strchr(p, '.');
    *seg = p;
    *len = dot ? (size_t)(dot - p) : strlen(p);
    return dot ? 0 : 1;
}

/* Parses an object whose members may continue the paths in active[0..na). */
static int paths_object(jsonr *r, paths_ctx *x, const int *active, int na, int depth)
{
    if (depth > JSONR_MAX_DEPTH) return fail(r, "nesting too deep");
    if (jsonr_expect(r, '{')) return fail(r, depth ? "expected an object" : "expected a JSON object");
    if (jsonr_peek(r) == '}') { r->p++; return 0; }
    for (;;) {
        if (jsonr_peek(r) != '"') return fail(r, "expected a member name");
        if (jsonr_string(r, &x->name)) return -1;
        if (jsonr_expect(r, ':')) return -1;
        int sub[MAX_PATHS], ns = 0, done = 0;
        for (int k = 0; k < na; k++) {
            int i = active[k];
            const char *seg;
            size_t len;
            int last = segment(x->paths[i], depth, &seg, &len);
            if (x->found[i] || last < 0 || len != x->name.len || memcmp(seg, x->name.data, len) != 0) continue;
            if (last && !done) {
                if (jsonr_peek(r) != '"') return fail(r, "member is not a string");
                if (jsonr_string(r, &x->outs[i])) return -1;
                x->found[i] = 1;
                done = 1;
                /* another path ending here gets the same value */
                for (int k2 = k + 1; k2 < na; k2++) {
                    int j = active[k2];
                    const char *s2;
                    size_t l2;
                    if (!x->found[j] && segment(x->paths[j], depth, &s2, &l2) == 1 && l2 == len && memcmp(s2, seg, len) == 0) {
                        x->outs[j].len = 0;
                        jbuf_put(&x->outs[j], x->outs[i].data, x->outs[i].len);
                        x->found[j] = 1;
                    }
                }
            } else if (!last) {
                sub[ns++] = i;
            }
        }
        if (!done) {
            if (ns && jsonr_peek(r) == '{') {
                if (paths_object(r, x, sub, ns, depth + 1)) return -1;
            } else if (jsonr_skip(r)) return -1;
        }
        int more = jsonr_next(r, '}');
        if (more <= 0) return more;
    }
}

int jsonr_object_paths(const char *s, size_t n, const char *const *paths, int npaths, jbuf *outs, int *found,
                       const char **err, size_t *err_off)
{
    jsonr r;
    paths_ctx x = { paths, npaths > MAX_PATHS ? MAX_PATHS : npaths, outs, found, { 0 } };
    int active[MAX_PATHS];
    for (int i = 0; i < x.npaths; i++) { found[i] = 0; active[i] = i; outs[i].len = 0; }
    jsonr_init(&r, s, n);
    int rc = paths_object(&r, &x, active, x.npaths, 0);
    if (rc == 0 && jsonr_peek(&r) != -1) rc = fail(&r, "unexpected bytes after the JSON object");
    jbuf_free(&x.name);
    if (rc == 0) return 0;
    *err = r.err;
    *err_off = jsonr_offset(&r);
    return -1;
}
