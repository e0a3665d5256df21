/* Loading experiment files: inih parses each file, a per-file pass checks
 * every section and key against the schema (unknown names get the closest
 * known one suggested; a key twice in one file is an error), then the file's
 * includes are applied first and its own keys on top, so a file always
 * overrides its presets whatever the order of its lines.  --set overrides
 * come last.  Every error is one line "file:line: [section] key: ...". */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/config_schema.h"

#define MAX_DEPTH 32
/* An experiment file and its presets are a few kilobytes.  The limits keep
 * a hostile one (include = /dev/zero, a file including the same preset
 * twice at every level: 2^32 loads) bounded in memory and time. */
#define MAX_FILE_BYTES ((uint64_t)1 << 20)
#define MAX_FILES 256

/* key -1 = include; key <= -2: optional section -2 - key appears. */
typedef struct { int key; int line; char *value; } entry;

/* State of one file being parsed. */
typedef struct {
    const char *path;        /* as shown in messages */
    FILE *fp;
    char *line;              /* getline buffer */
    size_t cap;
    int lineno;
    bool indented;           /* the current line starts with white space */
    bool have_prev_key;      /* inih would treat an indented line as a continuation */
    entry *ents;
    int nents, capents;
    int *seen;               /* per key: line where this file set it, 0 = not set */
    char prev_section[128], prev_name[128];
    photon_err *err;
    bool failed;
} file_ctx;

/* State of one config_load. */
typedef struct {
    photon_config *c;
    char *stack[MAX_DEPTH];  /* real paths of the files being loaded */
    const char *shown[MAX_DEPTH];
    int depth;
    int loaded;              /* files parsed so far, includes counted */
    char **origin;           /* per key: "file:line" or "--set ..." */
} load_ctx;

static int fail(file_ctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_entry(file_ctx *f, int key, const char *value);
static int fail(file_ctx *f, const char *fmt, ...)
{
    if (f->failed) return 0;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(f->err, "%s:%d: %s", f->path, f->lineno, msg);
    f->failed = true;
    return 0;
}

static void section_hint(const char *name, char *out, size_t n)
{
    const char *s = cfg_suggest(name, &cfg_sections[0].name, sizeof(cfg_section), cfg_nsections);
    if (s) { snprintf(out, n, " (did you mean [%s]?)", s); return; }
    size_t len = (size_t)snprintf(out, n, " (sections:");
    for (int i = 0; i < cfg_nsections && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s %s", i ? "," : "", cfg_sections[i].name);
    if (len < n) snprintf(out + len, n - len, ")");
}

void cfg_set_present(photon_config *c, int s)
{
    size_t off = cfg_present_off(s);
    if (off) *(bool *)((char *)c + off) = true;
}

/* "did you mean" for an unknown key: the closest key of the same section, or
 * the same key in another section. */
static void key_hint(const char *section, const char *key, char *out, size_t n)
{
    const char *names[128] = { 0 };
    int m = 0;
    for (int i = 0; i < cfg_nkeys && m < 128; i++)
        if (strcmp(cfg_keys[i].section, section) == 0) names[m++] = cfg_keys[i].key;
    const char *s = cfg_suggest(key, names, sizeof names[0], m);
    out[0] = 0;
    if (s) { snprintf(out, n, " (did you mean '%s'?)", s); return; }
    for (int i = 0; i < cfg_nkeys; i++)
        if (strcmp(cfg_keys[i].key, key) == 0) {
            snprintf(out, n, " (did you mean [%s] %s?)", cfg_keys[i].section, key);
            return;
        }
}

static void trim_copy(char *out, size_t n, const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s)) { s++; len--; }
    while (len && isspace((unsigned char)s[len - 1])) len--;
    snprintf(out, n, "%.*s", (int)len, s);
}

/* inih reader: one physical line per call, so inih's line numbers and ours
 * agree; lines longer than inih's buffer are an error instead of being split.
 * Section headers are checked here because inih does not report a section
 * that has no keys. */
static char *reader(char *buf, int num, void *user)
{
    file_ctx *f = user;
    if (f->failed) return NULL;
    ssize_t len = getline(&f->line, &f->cap, f->fp);
    if (len < 0) {
        if (ferror(f->fp)) { f->lineno++; fail(f, "read error: %s", strerror(errno)); }
        return NULL;
    }
    f->lineno++;
    size_t content = (size_t)len;
    while (content && (f->line[content - 1] == '\n' || f->line[content - 1] == '\r')) content--;
    if (content + 2 > (size_t)num) {
        fail(f, "line is %zu characters long, the limit is %d (split a list over indented continuation lines)",
             content, num - 2);
        return NULL;
    }
    if (memchr(f->line, 0, (size_t)len)) { fail(f, "NUL byte in the line: not a text file"); return NULL; }
    f->indented = f->line[0] == ' ' || f->line[0] == '\t';
    const char *s = f->line;
    while (isspace((unsigned char)*s)) s++;
    const char *close = *s == '[' ? strchr(s, ']') : NULL;
    if (close && !(f->indented && f->have_prev_key)) {
        char name[128];
        trim_copy(name, sizeof name, s + 1, (size_t)(close - s - 1));
        int sec = cfg_find_section(name);
        if (sec < 0) {
            char hint[240];
            section_hint(name, hint, sizeof hint);
            fail(f, "unknown section [%s]%s", name, hint);
            return NULL;
        }
        /* An optional section counts as present even with no keys. */
        if (cfg_present_off(sec)) add_entry(f, -2 - sec, "");
        f->have_prev_key = false;
    }
    memcpy(buf, f->line, (size_t)len + 1);
    return buf;
}

static void add_entry(file_ctx *f, int key, const char *value)
{
    if (f->nents == f->capents) {
        f->capents = f->capents ? 2 * f->capents : 32;
        f->ents = xrealloc(f->ents, (size_t)f->capents * sizeof *f->ents);
    }
    f->ents[f->nents++] = (entry){ key, f->lineno, xstrdup(value) };
}

static int handler(void *user, const char *section_raw, const char *name, const char *value)
{
    file_ctx *f = user;
    if (f->failed) return 0;
    char section[128];
    trim_copy(section, sizeof section, section_raw, strlen(section_raw));
    bool cont = f->indented && f->nents > 0 && f->ents[f->nents - 1].key > -2 && strcmp(name, f->prev_name) == 0 &&
                strcmp(section, f->prev_section) == 0;
    f->have_prev_key = true;
    if (cont) {
        /* An indented line continues the previous value (a list spread over lines). */
        entry *e = &f->ents[f->nents - 1];
        if (e->key >= 0 && cfg_keys[e->key].type != CFG_T_LIST && cfg_keys[e->key].type != CFG_T_PATHLIST &&
            cfg_keys[e->key].type != CFG_T_PERCLIENT)
            return fail(f, "[%s] %s: an indented line continues a list value, but this key is not a list (got '%s')",
                        section, name, value);
        size_t a = strlen(e->value), b = strlen(value);
        e->value = xrealloc(e->value, a + b + 2);
        e->value[a] = '\n';
        memcpy(e->value + a + 1, value, b + 1);
        return 1;
    }
    snprintf(f->prev_section, sizeof f->prev_section, "%s", section);
    snprintf(f->prev_name, sizeof f->prev_name, "%s", name);
    if (strcmp(name, "include") == 0) { add_entry(f, -1, value); return 1; }
    if (!section[0])
        return fail(f, "key '%s' is outside any section (expected a [section] line before it)", name);
    if (cfg_find_section(section) < 0) {
        char hint[240];
        section_hint(section, hint, sizeof hint);
        return fail(f, "unknown section [%s]%s", section, hint);
    }
    int k = cfg_find(section, name);
    if (k < 0) {
        char hint[160];
        key_hint(section, name, hint, sizeof hint);
        return fail(f, "[%s] %s: unknown key%s", section, name, hint);
    }
    if (f->seen[k])
        return fail(f, "[%s] %s: duplicate key (first set on line %d; set it once per file)", section, name,
                    f->seen[k]);
    f->seen[k] = f->lineno;
    add_entry(f, k, value);
    return 1;
}

static int load_file(load_ctx *L, const char *path, const char *from, photon_err *err);

/* Applies one parsed file: includes first, then the file's own keys. */
static int apply_file(load_ctx *L, file_ctx *f, const char *base_dir, photon_err *err)
{
    char shown_dir[PATH_MAX];
    path_dirname(f->path, shown_dir, sizeof shown_dir);
    for (int i = 0; i < f->nents; i++) {
        if (f->ents[i].key >= 0) continue;
        char *copy = xstrdup(f->ents[i].value);
        for (char *save = NULL, *it = strtok_r(copy, ",\n", &save); it; it = strtok_r(NULL, ",\n", &save)) {
            char name[PATH_MAX], from[PATH_MAX + 32];
            if (strlen(it) >= sizeof name) {
                err_set(err, "%s:%d: include: a path of %zu characters is too long", f->path, f->ents[i].line,
                        strlen(it));
                free(copy);
                return -1;
            }
            trim_copy(name, sizeof name, it, strlen(it));
            if (!name[0]) continue;
            char shown[2 * PATH_MAX];
            path_join(shown, sizeof shown, shown_dir, name);
            snprintf(from, sizeof from, "%s:%d", f->path, f->ents[i].line);
            if (load_file(L, shown, from, err) < 0) { free(copy); return -1; }
        }
        free(copy);
    }
    for (int i = 0; i < f->nents; i++) {
        int k = f->ents[i].key;
        if (k <= -2) cfg_set_present(L->c, -2 - k);
        if (k < 0) continue;
        if (cfg_parse_value(L->c, k, f->ents[i].value, base_dir, err) < 0) {
            err_prefix(err, "%s:%d", f->path, f->ents[i].line);
            return -1;
        }
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", f->path, f->ents[i].line);
        free(L->origin[k]);
        L->origin[k] = xstrdup(where);
    }
    return 0;
}

/* from: "file:line" of the include that names this file, or NULL. */
static int load_file(load_ctx *L, const char *path, const char *from, photon_err *err)
{
    struct stat st;
    const char *pre = from ? from : "", *sep = from ? ": include: " : "";
    if (stat(path, &st) != 0) {
        err_set(err, "%s%s%s: cannot open: %s", pre, sep, path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        err_set(err, "%s%s%s: is a directory, expected an INI file", pre, sep, path);
        return -1;
    }
    if (++L->loaded > MAX_FILES) {
        err_set(err, "%s%s%s: more than %d files loaded for one experiment (is a preset included over and over?)",
                pre, sep, path, MAX_FILES);
        return -1;
    }
    char *real = realpath(path, NULL);
    if (!real) { err_set(err, "%s%s%s: cannot resolve: %s", pre, sep, path, strerror(errno)); return -1; }
    for (int i = 0; i < L->depth; i++)
        if (strcmp(L->stack[i], real) == 0) {
            char chain[900] = "";
            size_t len = 0;
            for (int j = i; j < L->depth && len < sizeof chain; j++)
                len += (size_t)snprintf(chain + len, sizeof chain - len, "%s -> ", L->shown[j]);
            err_set(err, "%s: include cycle: %s%s", from, chain, path);
            free(real);
            return -1;
        }
    if (L->depth == MAX_DEPTH) {
        err_set(err, "%s: includes nested deeper than %d", from, MAX_DEPTH);
        free(real);
        return -1;
    }
    int fd = file_open_regular(path, MAX_FILE_BYTES, "an INI file", NULL, err);
    FILE *fp = fd < 0 ? NULL : fdopen(fd, "r");
    if (!fp) {
        if (fd >= 0) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); close(fd); }
        if (from) err_prefix(err, "%s: include", from);
        free(real);
        return -1;
    }
    file_ctx f = { .path = path, .fp = fp, .err = err, .seen = xcalloc((size_t)cfg_nkeys, sizeof(int)) };
    L->stack[L->depth] = real;
    L->shown[L->depth] = path;
    L->depth++;
    int ret = ini_parse_stream(reader, &f, handler, &f);
    int rc = 0;
    /* inih reports the first line it could not parse; ours stop the parse,
     * so whichever came first is the one to report. */
    int my_line = f.failed ? f.lineno : INT_MAX;
    if (ret > 0 && ret < my_line) {
        err_set(err, "%s:%d: syntax error: expected '[section]', 'key = value' or a comment", path, ret);
        rc = -1;
    } else if (f.failed) rc = -1;
    else if (ret < 0) { err_set(err, "%s: out of memory while parsing", path); rc = -1; }
    if (rc == 0) {
        /* Paths are relative to the directory the file was named in (as
         * includes are), made absolute so the dump loads from anywhere. */
        char dir[PATH_MAX];
        path_dirname(path, dir, sizeof dir);
        char *base_dir = realpath(dir, NULL);
        if (!base_dir) { err_set(err, "%s: cannot resolve: %s", dir, strerror(errno)); rc = -1; }
        else rc = apply_file(L, &f, base_dir, err);
        free(base_dir);
    }
    L->depth--;
    fclose(fp);
    free(f.line);
    for (int i = 0; i < f.nents; i++) free(f.ents[i].value);
    free(f.ents);
    free(f.seen);
    free(real);
    return rc;
}

/* One "section.key=value" override; relative paths are taken from the CWD. */
static int apply_override(load_ctx *L, const char *ov, photon_err *err)
{
    const char *eq = strchr(ov, '=');
    if (!eq) {
        err_set(err, "--set '%s': expected section.key=value", ov);
        return -1;
    }
    char name[256], section[128], value[4 * CFG_STR];
    if ((size_t)(eq - ov) >= sizeof name || strlen(eq + 1) >= sizeof value) {
        err_set(err, "--set '%.60s...': too long (a name of at most %zu characters, a value of at most %zu)", ov,
                sizeof name - 1, sizeof value - 1);
        return -1;
    }
    trim_copy(name, sizeof name, ov, (size_t)(eq - ov));
    trim_copy(value, sizeof value, eq + 1, strlen(eq + 1));
    const char *dot = strchr(name, '.');
    if (!dot) {
        err_set(err, "--set '%s': expected section.key=value (no '.' in '%s')", ov, name);
        return -1;
    }
    snprintf(section, sizeof section, "%.*s", (int)(dot - name), name);
    const char *key = dot + 1;
    char hint[240];
    if (cfg_find_section(section) < 0) {
        section_hint(section, hint, sizeof hint);
        err_set(err, "--set %s: unknown section [%s]%s", name, section, hint);
        return -1;
    }
    int k = cfg_find(section, key);
    if (k < 0) {
        key_hint(section, key, hint, sizeof hint);
        err_set(err, "--set %s: [%s] %s: unknown key%s", name, section, key, hint);
        return -1;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    if (cfg_parse_value(L->c, k, value, cwd, err) < 0) {
        err_prefix(err, "--set %s", name);
        return -1;
    }
    char where[300];
    snprintf(where, sizeof where, "--set %s", name);
    free(L->origin[k]);
    L->origin[k] = xstrdup(where);
    cfg_set_present(L->c, cfg_find_section(section));
    return 0;
}

void config_defaults(photon_config *c)
{
    memset(c, 0, sizeof *c);
    for (int k = 0; k < cfg_nkeys; k++) {
        photon_err e;
        /* The defaults are part of the schema; a bad one is a bug the unit test catches. */
        if (cfg_parse_value(c, k, cfg_keys[k].def, NULL, &e) < 0) die(PHOTON_EXIT_FAIL, "schema default: %s", e.msg);
    }
}

static int load(photon_config *c, const char *path, const char *const *overrides, int n_overrides, int need_data,
                photon_err *err)
{
    config_defaults(c);
    snprintf(c->source_path, sizeof c->source_path, "%s", path);
    load_ctx L = { .c = c, .origin = xcalloc((size_t)cfg_nkeys, sizeof(char *)) };
    int rc = load_file(&L, path, NULL, err);
    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(&L, overrides[i], err);
    if (rc == 0) rc = cfg_check_ex(c, (const char *const *)L.origin, path, need_data, err);
    if (rc == 0 && need_data) rc = cfg_check_inputs(c, (const char *const *)L.origin, path, err);
    for (int k = 0; k < cfg_nkeys; k++) free(L.origin[k]);
    free(L.origin);
    return rc;
}

int config_load(photon_config *c, const char *path, const char *const *overrides, int n_overrides,
                photon_err *err)
{
    return load(c, path, overrides, n_overrides, 1, err);
}

int config_load_model_only(photon_config *c, const char *path, const char *const *overrides, int n_overrides,
                           photon_err *err)
{
    return load(c, path, overrides, n_overrides, 0, err);
}

int config_validate(const photon_config *c, photon_err *err)
{
    return cfg_check(c, NULL, c->source_path[0] ? c->source_path : "config", err);
}
