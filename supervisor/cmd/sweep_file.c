/* A sweep's points and its manifest sweep.json (see sweep_file.h). */
#include "supervisor/cmd/sweep_file.h"
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/metrics.h"

static const char *const state_names[] = { "pending", "running", "completed", "failed", "interrupted" };

const char *point_state_name(point_state s) { return state_names[s]; }

static int state_from(const char *s)
{
    for (int i = 0; i < 5; i++) if (strcmp(s, state_names[i]) == 0) return i;
    return -1;
}

static void axis_free(sweep_axis *ax)
{
    for (int i = 0; i < ax->n; i++) free(ax->values[i]);
    free(ax->values);
    memset(ax, 0, sizeof *ax);
}

int sweep_axis_parse(const char *arg, sweep_axis *ax, photon_err *err)
{
    const char *eq = strchr(arg, '=');
    const char *dot = strchr(arg, '.');
    if (!eq || !dot || dot > eq || dot == arg || dot + 1 == eq) {
        err_set(err, "--grid '%s': expected section.key=value1,value2,...", arg);
        return -1;
    }
    if ((size_t)(eq - arg) >= sizeof ax->key) { err_set(err, "--grid '%s': key too long", arg); return -1; }
    memset(ax, 0, sizeof *ax);
    snprintf(ax->key, sizeof ax->key, "%.*s", (int)(eq - arg), arg);
    const char *p = eq + 1;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n == 0) { err_set(err, "--grid %s: empty value in '%s'", ax->key, eq + 1); axis_free(ax); return -1; }
        if (n >= 250) { err_set(err, "--grid %s: value too long", ax->key); axis_free(ax); return -1; }
        for (int i = 0; i < ax->n; i++)
            if (strlen(ax->values[i]) == n && strncmp(ax->values[i], p, n) == 0) {
                err_set(err, "--grid %s: value '%.*s' given twice", ax->key, (int)n, p);
                axis_free(ax);
                return -1;
            }
        ax->values = xrealloc(ax->values, (size_t)(ax->n + 1) * sizeof *ax->values);
        ax->values[ax->n] = xmalloc(n + 1);
        memcpy(ax->values[ax->n], p, n);
        ax->values[ax->n++][n] = '\0';
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

void sweep_plan_free(sweep_plan *p)
{
    for (int a = 0; a < p->n_axes; a++) axis_free(&p->axes[a]);
    free(p->points);
    p->points = NULL;
}

/* A readable, filesystem-safe value: [A-Za-z0-9._+-] kept, the rest '_'. */
static void safe_value(char *out, size_t n, const char *v)
{
    size_t j = 0;
    for (size_t i = 0; v[i] && j + 1 < n; i++) {
        char c = v[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '+' || c == '-';
        out[j++] = ok ? c : '_';
    }
    out[j] = '\0';
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) out[0] = '_';
}

/* The label of an axis in point names: its key, without the section unless
 * another axis has the same key in another section. */
static const char *axis_label(const sweep_plan *p, int a)
{
    const char *k = strchr(p->axes[a].key, '.') + 1;
    for (int b = 0; b < p->n_axes; b++)
        if (b != a && strcmp(strchr(p->axes[b].key, '.') + 1, k) == 0) return p->axes[a].key;
    return k;
}

static int seed_in_grid(const sweep_plan *p)
{
    for (int a = 0; a < p->n_axes; a++) if (strcmp(p->axes[a].key, "run.seed") == 0) return 1;
    return 0;
}

int sweep_plan_points(sweep_plan *p, photon_err *err)
{
    long total = p->seeds;
    for (int a = 0; a < p->n_axes; a++) total *= p->axes[a].n;
    if (total > SWEEP_MAX_POINTS) { err_set(err, "the grid has %ld points (at most %d)", total, SWEEP_MAX_POINTS); return -1; }
    int seeded = !seed_in_grid(p);
    p->points = xcalloc((size_t)total, sizeof *p->points);
    p->n_points = (int)total;
    int idx[SWEEP_MAX_GRID] = { 0 };
    for (long i = 0; i < total; i++) {
        sweep_point *pt = &p->points[i];
        long rest = i / p->seeds;
        int s = (int)(i % p->seeds);
        for (int a = p->n_axes - 1; a >= 0; a--) { idx[a] = (int)(rest % p->axes[a].n); rest /= p->axes[a].n; }
        size_t len = 0;
        for (int a = 0; a < p->n_axes; a++) {
            const char *v = p->axes[a].values[idx[a]];
            char sv[256];
            snprintf(pt->ovr[pt->n_ovr++], sizeof pt->ovr[0], "%s=%s", p->axes[a].key, v);
            safe_value(sv, sizeof sv, v);
            len += (size_t)snprintf(pt->name + len, sizeof pt->name - len, "%s%s=%s", len ? "," : "", axis_label(p, a), sv);
            if (strcmp(p->axes[a].key, "run.seed") == 0) pt->seed = strtoull(v, NULL, 0);
        }
        if (seeded) {
            pt->seed = p->base_seed + (uint64_t)s;
            snprintf(pt->ovr[pt->n_ovr++], sizeof pt->ovr[0], "run.seed=%llu", (unsigned long long)pt->seed);
            len += (size_t)snprintf(pt->name + len, sizeof pt->name - len, "%sseed=%llu", len ? "," : "",
                                    (unsigned long long)pt->seed);
        }
        if (len >= sizeof pt->name - 1) { err_set(err, "point name too long: %.60s...", pt->name); return -1; }
        pt->exit_status = -1;
        pt->ppl = pt->seconds = NAN;
        pt->in_grid = 1;
        for (long j = 0; j < i; j++)
            if (strcmp(p->points[j].name, pt->name) == 0) {
                err_set(err, "two points of the grid get the same directory name '%s' (values that differ only "
                        "in characters other than letters, digits and ._+-)", pt->name);
                return -1;
            }
    }
    return 0;
}

/* ---- sweep.json --------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static int load_point(const cJSON *o, sweep_point *pt)
{
    memset(pt, 0, sizeof *pt);
    const char *name = jstr(o, "name"), *state = jstr(o, "state");
    const cJSON *ovr = cJSON_GetObjectItemCaseSensitive(o, "overrides");
    if (!name || !state || state_from(state) < 0 || !cJSON_IsArray(ovr) || strlen(name) >= sizeof pt->name) return -1;
    snprintf(pt->name, sizeof pt->name, "%s", name);
    pt->state = (point_state)state_from(state);
    const cJSON *v;
    cJSON_ArrayForEach(v, ovr) {
        if (!cJSON_IsString(v) || pt->n_ovr > SWEEP_MAX_GRID || strlen(v->valuestring) >= sizeof pt->ovr[0]) return -1;
        snprintf(pt->ovr[pt->n_ovr++], sizeof pt->ovr[0], "%s", v->valuestring);
    }
    pt->seed = (uint64_t)jnum(o, "seed", 0);
    pt->attempts = (int)jnum(o, "attempts", 0);
    pt->exit_status = (int)jnum(o, "exit_status", -1);
    const char *reason = jstr(o, "reason");
    if (reason) snprintf(pt->reason, sizeof pt->reason, "%s", reason);
    pt->ppl = jnum(o, "final_perplexity", NAN);
    pt->seconds = jnum(o, "seconds", NAN);
    return 0;
}

int sweep_file_merge(sweep_plan *p, photon_err *err)
{
    char path[1100];
    path_join(path, sizeof path, p->out_dir, "sweep.json");
    if (!file_exists(path)) return 0;
    size_t len;
    char *text = file_read_all(path, &len, err);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    int rc = -1;
    const char *fmt = root ? jstr(root, "format") : NULL, *hash = root ? jstr(root, "config_hash") : NULL;
    const cJSON *pts = root ? cJSON_GetObjectItemCaseSensitive(root, "points") : NULL;
    if (!fmt || strcmp(fmt, "photon-sim-sweep") != 0 || !hash || !cJSON_IsArray(pts)) {
        err_set(err, "%s is not a readable sweep manifest (left as it is): move it away to start the sweep afresh", path);
        goto out;
    }
    if (jnum(root, "version", 0) != 1) { err_set(err, "%s: unknown version", path); goto out; }
    if (strcmp(hash, p->config_hash) != 0) {
        err_set(err, "the sweep in %s was made from another configuration of the experiment (config hash %s, now %s): "
                "sweep into another [run] out_dir (--set run.out_dir=...), or move the old sweep away", p->out_dir,
                hash, p->config_hash);
        goto out;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, pts) {
        sweep_point old;
        if (load_point(o, &old) < 0) { err_set(err, "%s: a point is malformed (left as it is)", path); goto out; }
        int found = 0;
        for (int i = 0; i < p->n_points && !found; i++)
            if (strcmp(p->points[i].name, old.name) == 0) {
                sweep_point *pt = &p->points[i];
                pt->state = old.state;
                pt->attempts = old.attempts;
                pt->exit_status = old.exit_status;
                snprintf(pt->reason, sizeof pt->reason, "%s", old.reason);
                pt->ppl = old.ppl;
                pt->seconds = old.seconds;
                found = 1;
            }
        if (!found) {   /* a point of an earlier grid: kept in the manifest, not run */
            if (p->n_points >= SWEEP_MAX_POINTS) { err_set(err, "%s: too many points", path); goto out; }
            p->points = xrealloc(p->points, (size_t)(p->n_points + 1) * sizeof *p->points);
            old.in_grid = 0;
            p->points[p->n_points++] = old;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* Exact numbers (cJSON's own printing may drop the last digits). */
static void add_num_or_null(cJSON *o, const char *k, double v)
{
    char buf[40];
    json_format_number(buf, sizeof buf, v);   /* "null" when not finite */
    cJSON_AddRawToObject(o, k, buf);
}

int sweep_file_write(const sweep_plan *p, photon_err *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "photon-sim-sweep");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "experiment", p->experiment);
    cJSON_AddStringToObject(root, "config_hash", p->config_hash);
    cJSON *sets = cJSON_AddArrayToObject(root, "sets");
    for (int i = 0; i < p->n_sets; i++) cJSON_AddItemToArray(sets, cJSON_CreateString(p->sets[i]));
    cJSON *grid = cJSON_AddArrayToObject(root, "grid");
    for (int a = 0; a < p->n_axes; a++) {
        cJSON *ax = cJSON_CreateObject();
        cJSON_AddStringToObject(ax, "key", p->axes[a].key);
        cJSON_AddItemToObject(ax, "values", cJSON_CreateStringArray((const char *const *)p->axes[a].values, p->axes[a].n));
        cJSON_AddItemToArray(grid, ax);
    }
    cJSON_AddNumberToObject(root, "seeds", p->seeds);
    cJSON_AddNumberToObject(root, "base_seed", (double)p->base_seed);
    if (p->shared_data[0]) cJSON_AddStringToObject(root, "shared_data", p->shared_data);
    else cJSON_AddNullToObject(root, "shared_data");
    add_num_or_null(root, "updated", time_wall());
    cJSON *pts = cJSON_AddArrayToObject(root, "points");
    for (int i = 0; i < p->n_points; i++) {
        const sweep_point *pt = &p->points[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", pt->name);
        cJSON_AddStringToObject(o, "dir", pt->name);
        cJSON *ovr = cJSON_AddArrayToObject(o, "overrides");
        for (int k = 0; k < pt->n_ovr; k++) cJSON_AddItemToArray(ovr, cJSON_CreateString(pt->ovr[k]));
        cJSON_AddNumberToObject(o, "seed", (double)pt->seed);
        cJSON_AddStringToObject(o, "state", point_state_name(pt->state));
        cJSON_AddNumberToObject(o, "attempts", pt->attempts);
        if (pt->exit_status >= 0) cJSON_AddNumberToObject(o, "exit_status", pt->exit_status);
        else cJSON_AddNullToObject(o, "exit_status");
        if (pt->reason[0]) cJSON_AddStringToObject(o, "reason", pt->reason);
        else cJSON_AddNullToObject(o, "reason");
        add_num_or_null(o, "final_perplexity", pt->ppl);
        add_num_or_null(o, "seconds", pt->seconds);
        cJSON_AddBoolToObject(o, "in_grid", pt->in_grid);
        cJSON_AddItemToArray(pts, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char path[1100];
    path_join(path, sizeof path, p->out_dir, "sweep.json");
    size_t n = strlen(text);
    text[n] = '\n';   /* replaces the NUL: written with its length */
    int rc = file_write_atomic(path, text, n + 1, err);
    free(text);
    return rc;
}
