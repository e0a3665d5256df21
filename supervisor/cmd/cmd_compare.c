/* `photon-sim compare RUN_DIR... [--target PPL] [--json]`: one row per run
 * (or, for a sweep directory, per grid point over its seeds: mean ± sample
 * standard deviation) with the final validation perplexity, overall and per
 * validation source, the tokens, rounds and training time to reach a target
 * perplexity (first evaluation at or below it), the bytes moved and the
 * communication reduction against per-step ring all-reduce.  The default
 * target is the worst final perplexity among the runs, so every run reaches
 * it and the columns say which got there first.  Training time is the sum
 * of the round events' seconds (evaluation, checkpoints and the time a run
 * was stopped do not count). */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/metrics.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"
#include "supervisor/cmd/runread.h"

#define MAX_SRC 32

typedef struct { double sum, sum2; int n; } acc;

static void acc_add(acc *a, double v) { if (isfinite(v)) { a->sum += v; a->sum2 += v * v; a->n++; } }
static double acc_mean(const acc *a) { return a->n ? a->sum / a->n : NAN; }
static double acc_std(const acc *a)
{
    if (a->n < 2) return NAN;
    double m = a->sum / a->n, v = (a->sum2 - a->n * m * m) / (a->n - 1);
    return v > 0 ? sqrt(v) : 0;
}

typedef struct {
    char label[400];
    char mode[32], status[32];
    int n, reached, sweep;
    acc final, src[MAX_SRC], rounds, tokens, tok_to, rounds_to, secs_to, bytes, reduction;
    int first, count;   /* its runs in the run array */
} row;

typedef struct {
    int n_runs, n_rows;
    run_result *runs;
    int *row_of;
    row *rows;
    int n_src;
    char src[MAX_SRC][64];
} table;

static int gsrc(table *t, const char *name)
{
    for (int i = 0; i < t->n_src; i++) if (strcmp(t->src[i], name) == 0) return i;
    if (t->n_src == MAX_SRC) return -1;
    snprintf(t->src[t->n_src], sizeof t->src[0], "%s", name);
    return t->n_src++;
}

static row *new_row(table *t, const char *label)
{
    t->rows = xrealloc(t->rows, (size_t)(t->n_rows + 1) * sizeof *t->rows);
    row *r = &t->rows[t->n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label);
    r->first = t->n_runs;
    return r;
}

static int add_run(table *t, const char *dir)
{
    t->runs = xrealloc(t->runs, (size_t)(t->n_runs + 1) * sizeof *t->runs);
    t->row_of = xrealloc(t->row_of, (size_t)(t->n_runs + 1) * sizeof *t->row_of);
    if (runread_load(dir, &t->runs[t->n_runs]) < 0) return -1;
    t->row_of[t->n_runs] = t->n_rows - 1;
    t->rows[t->n_rows - 1].count++;
    t->n_runs++;
    return 0;
}

/* A point's group: its overrides without run.seed, as "key=value,..." (key without section). */
static void group_of(const cJSON *pt, char *out, size_t n)
{
    out[0] = '\0';
    size_t len = 0;
    const cJSON *o, *ovr = cJSON_GetObjectItemCaseSensitive(pt, "overrides");
    cJSON_ArrayForEach(o, ovr) {
        if (!cJSON_IsString(o) || strncmp(o->valuestring, "run.seed=", 9) == 0) continue;
        const char *k = strchr(o->valuestring, '.');
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", len ? "," : "", k ? k + 1 : o->valuestring);
        if (len >= n) break;
    }
    if (!out[0]) snprintf(out, n, "(seeds)");
}

/* A sweep directory: one row per group of points; -1 on error. */
static int add_sweep(table *t, const char *dir, const char *manifest)
{
    size_t len;
    photon_err err;
    char *text = file_read_all(manifest, &len, &err);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    const cJSON *pts = root ? cJSON_GetObjectItemCaseSensitive(root, "points") : NULL;
    if (!cJSON_IsArray(pts)) {
        fprintf(stderr, "photon-sim compare: error: %s: not a readable sweep manifest\n", manifest);
        cJSON_Delete(root);
        return -1;
    }
    int n = cJSON_GetArraySize(pts);
    char (*groups)[300] = xcalloc((size_t)n + 1, sizeof *groups);
    int ng = 0, rc = 0;
    const cJSON *pt;
    cJSON_ArrayForEach(pt, pts) {
        char g[300];
        group_of(pt, g, sizeof g);
        int seen = 0;
        for (int i = 0; i < ng; i++) seen |= strcmp(groups[i], g) == 0;
        if (!seen) snprintf(groups[ng++], sizeof groups[0], "%s", g);
    }
    for (int gi = 0; gi < ng && rc == 0; gi++) {
        char label[400];
        snprintf(label, sizeof label, "%s: %s", dir, groups[gi]);
        row *r = NULL;
        cJSON_ArrayForEach(pt, pts) {
            char g[300];
            group_of(pt, g, sizeof g);
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(pt, "dir");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(pt, "state");
            if (strcmp(g, groups[gi]) != 0 || !cJSON_IsString(d)) continue;
            if (cJSON_IsString(st) && strcmp(st->valuestring, "pending") == 0) continue;
            char pdir[1400], m[1500], sm[1500];
            path_join(pdir, sizeof pdir, dir, d->valuestring);
            path_join(m, sizeof m, pdir, "metrics.jsonl");
            path_join(sm, sizeof sm, pdir, "summary.json");
            if (!file_exists(m) && !file_exists(sm)) {
                log_warn("%s: no results yet: point skipped", pdir);
                continue;
            }
            if (!r) { r = new_row(t, label); r->sweep = 1; }
            if (add_run(t, pdir) < 0) { rc = -1; break; }
        }
    }
    free(groups);
    cJSON_Delete(root);
    return rc;
}

static void fill_rows(table *t, double target)
{
    for (int i = 0; i < t->n_runs; i++) {
        run_result *u = &t->runs[i];
        row *r = &t->rows[t->row_of[i]];
        r->n++;
        if (!r->mode[0]) snprintf(r->mode, sizeof r->mode, "%s", u->mode[0] ? u->mode : "?");
        else if (strcmp(r->mode, u->mode) != 0) snprintf(r->mode, sizeof r->mode, "mixed");
        if (!r->status[0]) snprintf(r->status, sizeof r->status, "%s", u->status);
        else if (strcmp(r->status, u->status) != 0) snprintf(r->status, sizeof r->status, "mixed");
        acc_add(&r->final, u->final_ppl);
        for (int k = 0; k < u->n_src; k++) {
            int g = gsrc(t, u->src[k]);
            if (g >= 0) acc_add(&r->src[g], u->final_src_ppl[k]);
        }
        acc_add(&r->rounds, (double)u->rounds);
        acc_add(&r->tokens, (double)u->tokens);
        acc_add(&r->bytes, u->bytes_moved);
        acc_add(&r->reduction, u->bytes_moved > 0 ? u->allreduce_bytes / u->bytes_moved : NAN);
        int e = runread_reach(u, target);
        if (e >= 0) {
            r->reached++;
            acc_add(&r->tok_to, (double)u->evals[e].tokens);
            acc_add(&r->rounds_to, (double)u->evals[e].round);
            acc_add(&r->secs_to, u->evals[e].seconds);
        }
    }
}

/* "x" or "mean±std" (n > 1) with printf format f for each figure. */
static void cell(char *out, size_t n, const acc *a, const char *f, int rows_n)
{
    if (a->n == 0) { snprintf(out, n, "-"); return; }
    char m[48], s[48];
    snprintf(m, sizeof m, f, acc_mean(a));
    if (rows_n > 1 && a->n > 1) { snprintf(s, sizeof s, f, acc_std(a)); snprintf(out, n, "%s±%s", m, s); }
    else snprintf(out, n, "%s", m);
}

static void reach_cell(char *out, size_t n, const row *r, const acc *a, const char *f)
{
    if (r->reached == 0) { snprintf(out, n, "not reached"); return; }
    char c[100];
    cell(c, sizeof c, a, f, r->n);
    if (r->reached < r->n) snprintf(out, n, "%s (%d/%d)", c, r->reached, r->n);
    else snprintf(out, n, "%s", c);
}

/* Display width: UTF-8 code points ("±" is two bytes, one column). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void print_table(const table *t, double target, int dflt)
{
    int ncol = 12 + t->n_src, nr = t->n_rows + 1;
    char (*cells)[128] = xcalloc((size_t)(nr * ncol), 128);
#define CELL(i, c) cells[(i) * ncol + (c)]
    const char *head[12] = { "run", "n", "mode", "status", "rounds", "tokens", "final ppl", "tokens to target",
                             "rounds to target", "time to target (s)", "bytes moved", "comm. reduction" };
    /* columns: 0-6 fixed, then one per source, then 7-11 */
    int at[12];
    for (int c = 0; c < 12; c++) at[c] = c < 7 ? c : c + t->n_src;
    for (int c = 0; c < 12; c++) snprintf(CELL(0, at[c]), 128, "%s", head[c]);
    for (int k = 0; k < t->n_src; k++) snprintf(CELL(0, 7 + k), 128, "ppl %.100s", t->src[k]);
    for (int i = 0; i < t->n_rows; i++) {
        const row *r = &t->rows[i];
        int j = i + 1;
        snprintf(CELL(j, at[0]), 128, "%.127s", r->label);
        snprintf(CELL(j, at[1]), 128, "%d", r->n);
        snprintf(CELL(j, at[2]), 128, "%s", r->mode);
        snprintf(CELL(j, at[3]), 128, "%s", r->status);
        cell(CELL(j, at[4]), 128, &r->rounds, "%.0f", r->n);
        cell(CELL(j, at[5]), 128, &r->tokens, "%.0f", r->n);
        cell(CELL(j, at[6]), 128, &r->final, "%.2f", r->n);
        for (int k = 0; k < t->n_src; k++) cell(CELL(j, 7 + k), 128, &r->src[k], "%.2f", r->n);
        reach_cell(CELL(j, at[7]), 128, r, &r->tok_to, "%.0f");
        reach_cell(CELL(j, at[8]), 128, r, &r->rounds_to, "%.0f");
        reach_cell(CELL(j, at[9]), 128, r, &r->secs_to, "%.1f");
        cell(CELL(j, at[10]), 128, &r->bytes, "%.4g", r->n);
        cell(CELL(j, at[11]), 128, &r->reduction, "%.1f", r->n);
    }
    printf("target perplexity %.2f (%s)\n", target, dflt ? "default: the worst final perplexity of the runs" : "--target");
    int *w = xcalloc((size_t)ncol, sizeof *w);
    for (int c = 0; c < ncol; c++)
        for (int i = 0; i < nr; i++) if (width(CELL(i, c)) > w[c]) w[c] = width(CELL(i, c));
    for (int i = 0; i < nr; i++) {
        for (int c = 0; c < ncol; c++) {
            int pad = w[c] - width(CELL(i, c));
            if (c == 0) printf("%s%*s", CELL(i, c), pad, "");            /* run: left-aligned */
            else printf("  %*s%s", pad, "", CELL(i, c));                 /* figures: right-aligned */
        }
        printf("\n");
    }
#undef CELL
    free(w);
    free(cells);
}

static void json_acc(cJSON *o, const char *k, const acc *a, int group)
{
    char buf[40], key[80];
    json_format_number(buf, sizeof buf, acc_mean(a));
    cJSON_AddRawToObject(o, k, buf);
    if (group) {
        snprintf(key, sizeof key, "%s_std", k);
        json_format_number(buf, sizeof buf, acc_std(a));
        cJSON_AddRawToObject(o, key, buf);
    }
}

static void print_json(const table *t, double target, int dflt)
{
    cJSON *root = cJSON_CreateObject();
    char buf[40];
    json_format_number(buf, sizeof buf, target);
    cJSON_AddRawToObject(root, "target", buf);
    cJSON_AddBoolToObject(root, "target_is_default", dflt);
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < t->n_rows; i++) {
        const row *r = &t->rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "label", r->label);
        cJSON_AddBoolToObject(o, "sweep_group", r->sweep);
        cJSON_AddNumberToObject(o, "n", r->n);
        cJSON_AddStringToObject(o, "mode", r->mode);
        cJSON_AddStringToObject(o, "status", r->status);
        cJSON *dirs = cJSON_AddArrayToObject(o, "dirs");
        for (int k = 0; k < t->n_runs; k++)
            if (t->row_of[k] == i) cJSON_AddItemToArray(dirs, cJSON_CreateString(t->runs[k].dir));
        int g = r->sweep;
        json_acc(o, "rounds", &r->rounds, g);
        json_acc(o, "tokens", &r->tokens, g);
        json_acc(o, "final_perplexity", &r->final, g);
        cJSON *by = cJSON_AddObjectToObject(o, "perplexity_by_source");
        for (int k = 0; k < t->n_src; k++)
            if (r->src[k].n) json_acc(by, t->src[k], &r->src[k], 0);
        if (g) {
            cJSON *bys = cJSON_AddObjectToObject(o, "perplexity_by_source_std");
            for (int k = 0; k < t->n_src; k++) {
                if (!r->src[k].n) continue;
                json_format_number(buf, sizeof buf, acc_std(&r->src[k]));
                cJSON_AddRawToObject(bys, t->src[k], buf);
            }
        }
        cJSON_AddNumberToObject(o, "reached", r->reached);
        json_acc(o, "tokens_to_target", &r->tok_to, g);
        json_acc(o, "rounds_to_target", &r->rounds_to, g);
        json_acc(o, "seconds_to_target", &r->secs_to, g);
        json_acc(o, "bytes_moved", &r->bytes, g);
        json_acc(o, "communication_reduction", &r->reduction, g);
        cJSON_AddItemToArray(rows, o);
    }
    char *s = cJSON_Print(root);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(root);
}

int cmd_compare(int argc, char **argv)
{
    double target = NAN;
    int json = 0;
    const cmd_opt opts[] = { { "--target", OPT_DOUBLE, &target, 1.0, 1e300 }, { "--json", OPT_FLAG, &json, 0, 0 } };
    const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
    int npos = cmd_parse("compare", argc, argv, opts, 2, pos, 1, argc);
    if (npos < 0) { free(pos); return PHOTON_EXIT_USAGE; }
    table t;
    memset(&t, 0, sizeof t);
    int rc = PHOTON_EXIT_OK;
    for (int i = 0; i < npos && rc == 0; i++) {
        char manifest[1100];
        path_join(manifest, sizeof manifest, pos[i], "sweep.json");
        int is_sweep = file_exists(manifest);
        char mpath[1100];
        path_join(mpath, sizeof mpath, pos[i], "metrics.jsonl");
        if (is_sweep) {
            if (add_sweep(&t, pos[i], manifest) < 0) rc = PHOTON_EXIT_FAIL;
            if (file_exists(mpath)) { new_row(&t, pos[i]); if (add_run(&t, pos[i]) < 0) rc = PHOTON_EXIT_FAIL; }
        } else {
            new_row(&t, pos[i]);
            if (add_run(&t, pos[i]) < 0) rc = PHOTON_EXIT_FAIL;
        }
    }
    /* rows left without runs (an empty sweep) are dropped */
    int dflt = !isfinite(target);
    if (rc == 0 && dflt) {
        for (int i = 0; i < t.n_runs; i++)
            if (isfinite(t.runs[i].final_ppl) && !(t.runs[i].final_ppl <= target)) target = t.runs[i].final_ppl;
        if (!isfinite(target)) {
            fprintf(stderr, "photon-sim compare: error: no run has an evaluation yet: nothing to compare\n");
            rc = PHOTON_EXIT_FAIL;
        }
    }
    if (rc == 0) {
        fill_rows(&t, target);
        if (json) print_json(&t, target, dflt);
        else print_table(&t, target, dflt);
    }
    for (int i = 0; i < t.n_runs; i++) runread_free(&t.runs[i]);
    free(t.runs);
    free(t.row_of);
    free(t.rows);
    free(pos);
    return rc;
}
