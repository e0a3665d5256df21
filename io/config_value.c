/* Per-type codecs of the config schema: parse one INI value into its field
 * (with range and choice checks), write it back as INI text that parses to
 * the same bits, and describe what a valid value looks like for error
 * messages and the reference.  Paths are resolved here, against the
 * directory of the file that set them. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/config_schema.h"

#define FIELD(c, k) ((char *)(c) + cfg_keys[k].offset)
#define CFIELD(c, k) ((const char *)(c) + cfg_keys[k].offset)

const char *cfg_type_name(cfg_type t)
{
    static const char *const names[] = { "int", "int64", "uint64", "number", "bool", "string",
                                         "choice", "enum", "list", "path", "path list", "per-client" };
    return names[t];
}

static void fmt_bound(char *out, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) snprintf(out, n, "%.0f", v);
    else snprintf(out, n, "%g", v);
}

void cfg_describe(int k, char *out, size_t n)
{
    const cfg_key *r = &cfg_keys[k];
    char lo[32], hi[32], range[96] = "";
    fmt_bound(lo, sizeof lo, r->min);
    fmt_bound(hi, sizeof hi, r->max);
    if ((r->range & CFG_MIN) && (r->range & CFG_MAX))
        snprintf(range, sizeof range, " in %c%s, %s%c", r->range & CFG_MIN_OPEN ? '(' : '[', lo, hi,
                 r->range & CFG_MAX_OPEN ? ')' : ']');
    else if (r->range & CFG_MIN)
        snprintf(range, sizeof range, " %s %s", r->range & CFG_MIN_OPEN ? ">" : ">=", lo);
    switch (r->type) {
    case CFG_T_INT: case CFG_T_I64: snprintf(out, n, "an integer%s", range); break;
    case CFG_T_U64: snprintf(out, n, "an unsigned 64-bit integer"); break;
    case CFG_T_DOUBLE: snprintf(out, n, "a number%s", range); break;
    case CFG_T_BOOL: snprintf(out, n, "true or false"); break;
    case CFG_T_STRING: snprintf(out, n, "a string of at most %d characters", CFG_STR - 1); break;
    case CFG_T_CHOICE: case CFG_T_ENUM: {
        size_t len = (size_t)snprintf(out, n, "one of ");
        for (int i = 0; r->choices[i] && len < n; i++)
            len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", r->choices[i]);
        break;
    }
    case CFG_T_LIST: snprintf(out, n, "a comma-separated list (items of at most %d characters)", CFG_STR - 1); break;
    case CFG_T_PATH:
        if (r->keep) snprintf(out, n, "a path or '%s'", r->keep);
        else snprintf(out, n, "a path");
        break;
    case CFG_T_PATHLIST: snprintf(out, n, "a comma-separated list of paths (each of at most %d characters)", CFG_STR - 1); break;
    case CFG_T_PERCLIENT:
        snprintf(out, n, "a number%s, one per client (comma-separated, at most %d), or lognormal:MEDIAN,SIGMA, "
                 "uniform:LO,HI or loguniform:LO,HI", range, CFG_PERCLIENT_MAX);
        break;
    }
}

static int bad(int k, const char *text, photon_err *err)
{
    char what[256];
    cfg_describe(k, what, sizeof what);
    err_set(err, "[%s] %s: expected %s (got '%.80s%s')", cfg_keys[k].section, cfg_keys[k].key, what,
            text, strlen(text) > 80 ? "..." : "");
    return -1;
}

bool cfg_in_range(const cfg_key *r, double v)
{
    if (r->range & CFG_MIN) {
        if (r->range & CFG_MIN_OPEN ? v <= r->min : v < r->min) return false;
    }
    if (r->range & CFG_MAX) {
        if (r->range & CFG_MAX_OPEN ? v >= r->max : v > r->max) return false;
    }
    return true;
}

/* Collapses "." and ".." and repeated slashes in an absolute path, in
 * place.  (Every segment has a character and a slash: 2 * CFG_STR of them
 * fit any path of 4 * CFG_STR.) */
static void normalize_abs(char *p)
{
    char *seg[2 * CFG_STR];
    int n = 0;
    char buf[4 * CFG_STR];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0) continue;
        if (strcmp(t, "..") == 0) { if (n) n--; continue; }
        seg[n++] = t;
    }
    char out[4 * CFG_STR];
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n && len < sizeof out; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "/%s", seg[i]);
    if (n == 0) snprintf(out, sizeof out, "/");
    snprintf(p, 4 * CFG_STR, "%s", out);
}

/* Resolves one path against base_dir into out (CFG_STR); -1 if too long. */
static int resolve_path(const char *text, const char *keep, const char *base_dir, char *out)
{
    char buf[4 * CFG_STR];
    if (!*text || (keep && strcmp(text, keep) == 0) || (!base_dir && text[0] != '/'))
        snprintf(buf, sizeof buf, "%s", text);
    else {
        if (text[0] == '/') snprintf(buf, sizeof buf, "%s", text);
        else snprintf(buf, sizeof buf, "%s/%s", base_dir, text);
        normalize_abs(buf);
    }
    if (strlen(buf) >= CFG_STR) return -1;
    memcpy(out, buf, strlen(buf) + 1);
    return 0;
}

static void trim(char *s)
{
    size_t a = 0, b = strlen(s);
    while (isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    memmove(s, s + a, b - a);
    s[b - a] = 0;
}

/* List items are interned in blocks that live as long as the process (see
 * cfg_list in config.h); the global chain keeps them reachable, so leak
 * checkers see no leak. */
typedef struct intern_block { struct intern_block *next; size_t used, cap; char data[]; } intern_block;
static intern_block *interned;

static void *intern_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!interned || interned->cap - interned->used < n) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        intern_block *b = xmalloc(sizeof *b + cap);
        b->next = interned;
        b->used = 0;
        b->cap = cap;
        interned = b;
    }
    void *p = interned->data + interned->used;
    interned->used += n;
    return p;
}

void cfg_list_set(cfg_list *l, int n, const char *const *items)
{
    const char **v = n ? intern_alloc((size_t)n * sizeof *v) : NULL;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(items[i]) + 1;
        v[i] = memcpy(intern_alloc(len), items[i], len);
    }
    l->n = n;
    l->item = v;
}

/* Splits on commas and newlines (continuation lines) into l; empty items are
 * skipped so "a,\n  b" works.  Each item is passed through fix (paths). */
static int parse_list(int k, const char *text, const char *base_dir, cfg_list *l, photon_err *err)
{
    int n = 0, cap = 0;
    char **items = NULL;
    char *copy = xstrdup(text);
    int rc = 0;
    for (char *save = NULL, *it = strtok_r(copy, ",\n", &save); it; it = strtok_r(NULL, ",\n", &save)) {
        trim(it);
        if (!*it) continue;
        if (n == CFG_LIST_MAX) {
            err_set(err, "[%s] %s: more than %d items (use a glob pattern such as dir/*.json.gz)",
                    cfg_keys[k].section, cfg_keys[k].key, CFG_LIST_MAX);
            rc = -1;
            break;
        }
        if (strlen(it) >= CFG_STR) { rc = bad(k, it, err); break; }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            items = xrealloc(items, (size_t)cap * sizeof *items);
        }
        char *dst = items[n++] = xmalloc(CFG_STR);
        if (cfg_keys[k].type != CFG_T_PATHLIST) { memcpy(dst, it, strlen(it) + 1); continue; }
        /* "name=path": a name has no slash; resolve only the path part. */
        char *eq = strchr(it, '=');
        size_t pre = 0;
        if (eq && memchr(it, '/', (size_t)(eq - it)) == NULL) pre = (size_t)(eq - it) + 1;
        char path[CFG_STR];
        if (resolve_path(it + pre, NULL, base_dir, path) < 0 || pre + strlen(path) >= CFG_STR) {
            rc = bad(k, it, err);
            break;
        }
        memcpy(dst, it, pre);                        /* fits: checked above */
        memcpy(dst + pre, path, strlen(path) + 1);
    }
    free(copy);
    if (rc == 0) cfg_list_set(l, n, (const char *const *)items);
    for (int i = 0; i < n; i++) free(items[i]);
    free(items);
    return rc;
}

/* One number of a per-client value, within the key's range. */
static int perclient_number(const cfg_key *r, const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    return *s && !*end && !errno && isfinite(*v) && cfg_in_range(r, *v) ? 0 : -1;
}

static int perclient_error(int k, const char *text, photon_err *err, const char *what)
{
    err_set(err, "[%s] %s: %s (got '%.80s%s')", cfg_keys[k].section, cfg_keys[k].key, what, text,
            strlen(text) > 80 ? "..." : "");
    return -1;
}

/* "X", "X1, X2, ..." (continuation lines allowed) or "dist:P1,P2". */
static int parse_perclient(int k, const char *text, cfg_perclient *out, photon_err *err)
{
    const cfg_key *r = &cfg_keys[k];
    static const struct { const char *name; int kind; } dists[] = {
        { "lognormal", DIST_LOGNORMAL }, { "uniform", DIST_UNIFORM }, { "loguniform", DIST_LOGUNIFORM },
    };
    cfg_perclient *tmp = xcalloc(1, sizeof *tmp);
    char *copy = xstrdup(text);
    int rc = 0;
    char *colon = strchr(copy, ':');
    if (colon) {
        *colon = 0;
        trim(copy);
        tmp->kind = -1;
        for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++)
            if (strcasecmp(copy, dists[i].name) == 0) tmp->kind = dists[i].kind;
        char *comma = strchr(colon + 1, ',');
        if (tmp->kind < 0) {
            rc = perclient_error(k, text, err, "unknown distribution (expected lognormal:MEDIAN,SIGMA, uniform:LO,HI "
                                 "or loguniform:LO,HI)");
        } else if (!comma || strchr(comma + 1, ',')) {
            rc = perclient_error(k, text, err, "a distribution takes two parameters, e.g. lognormal:100,0.5");
        } else {
            *comma = 0;
            char *p1 = colon + 1, *p2 = comma + 1;
            trim(p1);
            trim(p2);
            char *end;
            errno = 0;
            tmp->b = strtod(p2, &end);
            int b_ok = *p2 && !*end && !errno && isfinite(tmp->b);
            char what[200];
            if (perclient_number(r, p1, &tmp->a) < 0 || (tmp->kind != DIST_LOGNORMAL && !cfg_in_range(r, tmp->b))) {
                snprintf(what, sizeof what, "the distribution's %s must be in [%g, %g]",
                         tmp->kind == DIST_LOGNORMAL ? "median" : "bounds", r->min, r->max);
                rc = perclient_error(k, text, err, what);
            } else if (!b_ok) {
                rc = perclient_error(k, text, err, "the second parameter is not a number");
            } else if (tmp->kind == DIST_LOGNORMAL && (tmp->a <= 0 || tmp->b < 0 || tmp->b > 10)) {
                rc = perclient_error(k, text, err, "lognormal:MEDIAN,SIGMA needs MEDIAN > 0 and SIGMA in [0, 10]");
            } else if (tmp->kind != DIST_LOGNORMAL && tmp->a > tmp->b) {
                rc = perclient_error(k, text, err, "LO is more than HI");
            } else if (tmp->kind == DIST_LOGUNIFORM && tmp->a <= 0) {
                rc = perclient_error(k, text, err, "loguniform:LO,HI needs LO > 0");
            }
        }
    } else {
        for (char *save = NULL, *it = strtok_r(copy, ",\n", &save); it && rc == 0; it = strtok_r(NULL, ",\n", &save)) {
            trim(it);
            if (!*it) continue;
            if (tmp->n == CFG_PERCLIENT_MAX) {
                char what[160];
                snprintf(what, sizeof what, "more than %d values (use a distribution for more clients)", CFG_PERCLIENT_MAX);
                rc = perclient_error(k, text, err, what);
            } else if (perclient_number(r, it, &tmp->v[tmp->n]) < 0) {
                rc = bad(k, it, err);
            } else tmp->n++;
        }
        if (rc == 0 && tmp->n == 0) rc = bad(k, text, err);
        if (rc == 0 && tmp->n == 1) { tmp->kind = DIST_CONST; tmp->a = tmp->v[0]; }
        else if (rc == 0) tmp->kind = DIST_LIST;
    }
    if (rc == 0) memcpy(out, tmp, sizeof *tmp);
    free(copy);
    free(tmp);
    return rc;
}

int cfg_parse_value(photon_config *c, int k, const char *text, const char *base_dir, photon_err *err)
{
    const cfg_key *r = &cfg_keys[k];
    char *end = NULL;
    void *f = FIELD(c, k);
    errno = 0;
    switch (r->type) {
    case CFG_T_INT: case CFG_T_I64: {
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno || !cfg_in_range(r, (double)v)) return bad(k, text, err);
        if (r->type == CFG_T_INT) {
            if (v < INT32_MIN || v > INT32_MAX) return bad(k, text, err);
            *(int *)f = (int)v;
        } else *(int64_t *)f = v;
        return 0;
    }
    case CFG_T_U64: {
        const char *s = text;
        while (isspace((unsigned char)*s)) s++;
        unsigned long long v = strtoull(text, &end, 10);
        if (!*text || *s == '-' || *end || errno) return bad(k, text, err);
        *(uint64_t *)f = v;
        return 0;
    }
    case CFG_T_DOUBLE: {
        double v = strtod(text, &end);
        if (!*text || *end || errno || !isfinite(v) || !cfg_in_range(r, v)) return bad(k, text, err);
        *(double *)f = v;
        return 0;
    }
    case CFG_T_BOOL: {
        static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(text, yes[i]) == 0) { *(bool *)f = true; return 0; }
            if (strcasecmp(text, no[i]) == 0) { *(bool *)f = false; return 0; }
        }
        return bad(k, text, err);
    }
    case CFG_T_STRING:
        /* " ;" would start an inline comment when the dump is read back. */
        if (strlen(text) >= r->size || strstr(text, " ;") || strstr(text, "\t;") || strchr(text, '\n'))
            return bad(k, text, err);
        memset(f, 0, r->size);
        memcpy(f, text, strlen(text));
        return 0;
    case CFG_T_CHOICE: case CFG_T_ENUM:
        for (int i = 0; r->choices[i]; i++)
            if (strcasecmp(text, r->choices[i]) == 0) {
                if (r->type == CFG_T_ENUM) *(int *)f = i;
                else { memset(f, 0, r->size); memcpy(f, r->choices[i], strlen(r->choices[i])); }
                return 0;
            }
        return bad(k, text, err);
    case CFG_T_PATH: {
        char path[CFG_STR];
        if (strchr(text, '\n') || resolve_path(text, r->keep, base_dir, path) < 0) return bad(k, text, err);
        memset(f, 0, r->size);
        memcpy(f, path, strlen(path));
        return 0;
    }
    case CFG_T_LIST: case CFG_T_PATHLIST:
        return parse_list(k, text, base_dir, (cfg_list *)f, err);
    case CFG_T_PERCLIENT:
        return parse_perclient(k, text, (cfg_perclient *)f, err);
    }
    return bad(k, text, err);
}

/* Shortest "%.Ng" that reads back as the same double. */
void cfg_format_number(double v, char *out, size_t n)
{
    if (v == floor(v) && fabs(v) < 1e15) { snprintf(out, n, "%.0f", v); return; }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

void cfg_format_value(const photon_config *c, int k, char *out, size_t n)
{
    const cfg_key *r = &cfg_keys[k];
    const void *f = CFIELD(c, k);
    switch (r->type) {
    case CFG_T_INT: snprintf(out, n, "%d", *(const int *)f); break;
    case CFG_T_I64: snprintf(out, n, "%" PRId64, *(const int64_t *)f); break;
    case CFG_T_U64: snprintf(out, n, "%" PRIu64, *(const uint64_t *)f); break;
    case CFG_T_DOUBLE: cfg_format_number(*(const double *)f, out, n); break;
    case CFG_T_BOOL: snprintf(out, n, "%s", *(const bool *)f ? "true" : "false"); break;
    case CFG_T_STRING: case CFG_T_CHOICE: case CFG_T_PATH: snprintf(out, n, "%s", (const char *)f); break;
    case CFG_T_ENUM: {
        int v = *(const int *)f, nc = 0;
        while (r->choices[nc]) nc++;
        snprintf(out, n, "%s", v >= 0 && v < nc ? r->choices[v] : "?");
        break;
    }
    case CFG_T_PERCLIENT: {
        const cfg_perclient *p = f;
        static const char *const names[] = { "", "", "lognormal", "uniform", "loguniform" };
        char a[40], b[40];
        cfg_format_number(p->a, a, sizeof a);
        cfg_format_number(p->b, b, sizeof b);
        if (p->kind == DIST_CONST) snprintf(out, n, "%s", a);
        else if (p->kind != DIST_LIST) snprintf(out, n, "%s:%s,%s", names[p->kind], a, b);
        else {
            size_t len = 0;
            out[0] = 0;
            for (int i = 0; i < p->n && len < n; i++) {
                cfg_format_number(p->v[i], a, sizeof a);
                len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", a);
            }
        }
        break;
    }
    case CFG_T_LIST: case CFG_T_PATHLIST: {
        const cfg_list *l = f;
        size_t len = 0;
        out[0] = 0;
        for (int i = 0; i < l->n && len < n; i++)
            len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", l->item[i]);
        break;
    }
    }
}
