/* JSON document tree (see jtree.h).  Recursive descent over jsonr; children
 * are gathered on a scratch stack and copied into the arena when their
 * array or object closes, so each node array is contiguous. */
#include "io/jtree.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/jsonr.h"

#define MAX_DEPTH 128
#define BLOCK (1u << 20)

typedef struct block { struct block *next; size_t used, cap; char data[]; } block;

struct jt_doc {
    block *blocks;
    jt root;
};

typedef struct {
    jsonr r;
    jt_doc *d;
    jbuf str;
    jt *stack;          /* children of the open arrays/objects, innermost last */
    size_t sn, scap;
} parser;

static void *arena(jt_doc *d, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    block *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK ? n : BLOCK;
        b = xmalloc(sizeof *b + cap);
        b->next = d->blocks;
        b->used = 0;
        b->cap = cap;
        d->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static const char *arena_str(jt_doc *d, const char *s, size_t n)
{
    char *p = arena(d, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int fail(parser *p, const char *msg) { p->r.err = msg; return -1; }

static int parse_number(parser *p, jt *out)
{
    const char *s = p->r.p, *e = p->r.end, *q = s;
    if (q < e && *q == '-') q++;
    if (q >= e || *q < '0' || *q > '9') return fail(p, "invalid value");
    while (q < e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')) q++;
    char buf[64];
    if ((size_t)(q - s) >= sizeof buf) return fail(p, "number too long");
    memcpy(buf, s, (size_t)(q - s));
    buf[q - s] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v)) return fail(p, "invalid number");
    out->type = JT_NUM;
    out->v.num = v;
    p->r.p = q;
    return 0;
}

static int literal(parser *p, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(p->r.end - p->r.p) < n || memcmp(p->r.p, lit, n) != 0) return fail(p, "invalid value");
    p->r.p += n;
    return 0;
}

static void push(parser *p, const jt *v)
{
    if (p->sn == p->scap) {
        p->scap = p->scap ? 2 * p->scap : 256;
        p->stack = xrealloc(p->stack, p->scap * sizeof *p->stack);
    }
    p->stack[p->sn++] = *v;
}

static int value(parser *p, jt *out, int depth)
{
    if (depth > MAX_DEPTH) return fail(p, "nesting deeper than 128");
    memset(out, 0, sizeof *out);
    int c = jsonr_peek(&p->r);
    out->off = jsonr_offset(&p->r);
    if (c == '"') {
        if (jsonr_string(&p->r, &p->str)) return -1;
        out->type = JT_STR;
        out->n = p->str.len;
        out->v.str = arena_str(p->d, p->str.data, p->str.len);
        return 0;
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->r.p++;
        size_t base = p->sn;
        if (jsonr_peek(&p->r) == close) p->r.p++;
        else for (;;) {
            jt kid;
            const char *key = NULL;
            size_t keylen = 0;
            if (c == '{') {
                if (jsonr_peek(&p->r) != '"') return fail(p, "expected a member name");
                if (jsonr_string(&p->r, &p->str)) return -1;
                key = arena_str(p->d, p->str.data, p->str.len);
                keylen = p->str.len;
                if (jsonr_expect(&p->r, ':')) return -1;
            }
            if (value(p, &kid, depth + 1)) return -1;
            kid.key = key;
            kid.keylen = keylen;
            push(p, &kid);
            int more = jsonr_next(&p->r, close);
            if (more < 0) return -1;
            if (more == 0) break;
        }
        out->type = c == '{' ? JT_OBJ : JT_ARR;
        out->n = p->sn - base;
        out->v.kids = out->n ? arena(p->d, out->n * sizeof(jt)) : NULL;
        if (out->n) memcpy(out->v.kids, p->stack + base, out->n * sizeof(jt));
        p->sn = base;
        return 0;
    }
    if (c == 't') { out->type = JT_BOOL; out->v.b = 1; return literal(p, "true"); }
    if (c == 'f') { out->type = JT_BOOL; out->v.b = 0; return literal(p, "false"); }
    if (c == 'n') { out->type = JT_NULL; return literal(p, "null"); }
    if (c == -1) return fail(p, "unexpected end of input");
    return parse_number(p, out);
}

jt_doc *jt_parse(const char *s, size_t n, photon_err *err)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.d = xcalloc(1, sizeof *p.d);
    jsonr_init(&p.r, s, n);
    int rc = value(&p, &p.d->root, 0);
    if (rc == 0 && jsonr_peek(&p.r) != -1) rc = fail(&p, "unexpected bytes after the JSON value");
    if (rc) err_set(err, "byte offset %zu: %s", jsonr_offset(&p.r), p.r.err ? p.r.err : "invalid JSON");
    jbuf_free(&p.str);
    free(p.stack);
    if (rc) { jt_free(p.d); return NULL; }
    return p.d;
}

const jt *jt_root(const jt_doc *d) { return &d->root; }

void jt_free(jt_doc *d)
{
    if (!d) return;
    while (d->blocks) { block *b = d->blocks; d->blocks = b->next; free(b); }
    free(d);
}

const jt *jt_get(const jt *obj, const char *key)
{
    if (!obj || obj->type != JT_OBJ) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->v.kids[i].keylen == kl && memcmp(obj->v.kids[i].key, key, kl) == 0) return &obj->v.kids[i];
    return NULL;
}

const char *jt_get_str(const jt *obj, const char *key)
{
    const jt *v = jt_get(obj, key);
    return v && v->type == JT_STR ? v->v.str : NULL;
}

int jt_get_bool(const jt *obj, const char *key, int def)
{
    const jt *v = jt_get(obj, key);
    if (!v || v->type == JT_NULL) return def;
    return v->type == JT_BOOL ? v->v.b : -1;
}

int jt_int(const jt *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!v || v->type != JT_NUM || v->v.num != floor(v->v.num) || v->v.num < (double)lo || v->v.num > (double)hi) return 0;
    *out = (int64_t)v->v.num;
    return 1;
}

const char *jt_type_name(const jt *v)
{
    static const char *const names[] = { "null", "boolean", "number", "string", "array", "object" };
    return v ? names[v->type] : "missing";
}
