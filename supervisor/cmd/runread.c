/* Reading a run's results (see runread.h). */
#include "supervisor/cmd/runread.h"
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void str(const cJSON *o, const char *k, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v)) snprintf(out, n, "%s", v->valuestring);
}

static int src_index(run_result *r, const char *name)
{
    for (int i = 0; i < r->n_src; i++) if (strcmp(r->src[i], name) == 0) return i;
    if (r->n_src == RUNREAD_MAX_SRC) return -1;
    snprintf(r->src[r->n_src], sizeof r->src[0], "%s", name);
    return r->n_src++;
}

static void bad_line(run_result *r, const char *path, int line, const char *why)
{
    if (++r->bad_lines <= 3)
        log_warn("%s:%d: %s: line skipped", path, line, why);
}

static void on_event(run_result *r, const cJSON *o, const char *path, int line)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    if (!cJSON_IsString(ev)) { bad_line(r, path, line, "no \"event\" field"); return; }
    if (strcmp(ev->valuestring, "round") == 0) {
        double s = num(o, "seconds"), b = num(o, "bytes_moved"), a = num(o, "allreduce_bytes");
        if (isfinite(s)) r->train_seconds += s;
        if (isfinite(b)) r->bytes_moved += b;
        if (isfinite(a)) r->allreduce_bytes += a;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "committed");
        if (cJSON_IsTrue(c) || !c) {
            double rd = num(o, "round"), tk = num(o, "tokens");
            if (isfinite(rd)) r->rounds = (int64_t)rd;
            if (isfinite(tk)) r->tokens = (int64_t)tk;
        }
    } else if (strcmp(ev->valuestring, "eval") == 0) {
        double ppl = num(o, "perplexity");
        if (!isfinite(ppl)) { bad_line(r, path, line, "eval event without a perplexity"); return; }
        r->evals = xrealloc(r->evals, (size_t)(r->n_evals + 1) * sizeof *r->evals);
        run_eval *e = &r->evals[r->n_evals++];
        memset(e, 0, sizeof *e);
        e->round = (int64_t)(isfinite(num(o, "round")) ? num(o, "round") : 0);
        e->tokens = (int64_t)(isfinite(num(o, "tokens")) ? num(o, "tokens") : 0);
        e->ppl = ppl;
        e->seconds = r->train_seconds;
        for (int i = 0; i < RUNREAD_MAX_SRC; i++) e->src_ppl[i] = NAN;
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(o, "perplexity_by_source"), *s;
        if (cJSON_IsObject(by))
            cJSON_ArrayForEach(s, by) {
                int k = s->string ? src_index(r, s->string) : -1;
                if (k >= 0 && cJSON_IsNumber(s)) e->src_ppl[k] = s->valuedouble;
            }
        e->n_src = r->n_src;
        if (e->tokens > r->tokens) r->tokens = e->tokens;
        if (e->round > r->rounds) r->rounds = e->round;
    }
}

int runread_load(const char *dir, run_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->final_ppl = NAN;
    for (int i = 0; i < RUNREAD_MAX_SRC; i++) r->final_src_ppl[i] = NAN;
    char mpath[1100], spath[1100];
    path_join(mpath, sizeof mpath, dir, "metrics.jsonl");
    path_join(spath, sizeof spath, dir, "summary.json");
    photon_err err;
    size_t len;
    char *text = file_exists(mpath) ? file_read_all(mpath, &len, &err) : NULL;
    if (text) {
        int line = 0;
        for (char *p = text; p < text + len;) {
            char *nl = memchr(p, '\n', (size_t)(text + len - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
            line++;
            if (n > 0) {
                cJSON *o = cJSON_ParseWithLength(p, n);
                if (!o || !cJSON_IsObject(o)) bad_line(r, mpath, line, nl ? "not a JSON object" : "truncated last line");
                else on_event(r, o, mpath, line);
                cJSON_Delete(o);
            }
            p += n + 1;
        }
        free(text);
        if (r->bad_lines > 3) log_warn("%s: %d more unreadable line(s) skipped", mpath, r->bad_lines - 3);
    }
    char *stext = file_exists(spath) ? file_read_all(spath, &len, &err) : NULL;
    cJSON *s = stext ? cJSON_ParseWithLength(stext, len) : NULL;
    free(stext);
    if (!text && !s) {
        fprintf(stderr, "photon-sim compare: error: %s: no readable metrics.jsonl or summary.json (not a run directory?)\n", dir);
        return -1;
    }
    if (stext && !s) log_warn("%s: unreadable (truncated?): using metrics.jsonl alone", spath);
    snprintf(r->status, sizeof r->status, "%s", s ? "?" : "running?");
    if (s) {
        str(s, "name", r->name, sizeof r->name);
        str(s, "mode", r->mode, sizeof r->mode);
        str(s, "status", r->status, sizeof r->status);
        if (!text) {   /* no curve: the summary's figures alone */
            double v = num(s, "rounds");
            if (isfinite(v)) r->rounds = (int64_t)v;
            v = num(s, "tokens");
            if (isfinite(v)) r->tokens = (int64_t)v;
            r->bytes_moved = num(s, "bytes_moved");
            r->allreduce_bytes = num(s, "allreduce_bytes");
            r->train_seconds = num(s, "training_seconds");
            r->final_ppl = num(s, "final_perplexity");
            const cJSON *by = cJSON_GetObjectItemCaseSensitive(s, "perplexity_by_source"), *e;
            if (cJSON_IsObject(by))
                cJSON_ArrayForEach(e, by) {
                    int k = e->string ? src_index(r, e->string) : -1;
                    if (k >= 0 && cJSON_IsNumber(e)) r->final_src_ppl[k] = e->valuedouble;
                }
        }
        if (text && r->n_evals == 0) r->final_ppl = num(s, "final_perplexity");   /* evaluation off */
        cJSON_Delete(s);
    }
    if (r->n_evals > 0) {
        const run_eval *last = &r->evals[r->n_evals - 1];
        r->final_ppl = last->ppl;
        for (int i = 0; i < RUNREAD_MAX_SRC; i++) r->final_src_ppl[i] = last->src_ppl[i];
    }
    if (!r->name[0]) {
        const char *b = strrchr(dir, '/');
        snprintf(r->name, sizeof r->name, "%s", b && b[1] ? b + 1 : dir);
    }
    return 0;
}

void runread_free(run_result *r)
{
    free(r->evals);
    r->evals = NULL;
}

int runread_reach(const run_result *r, double target)
{
    for (int i = 0; i < r->n_evals; i++) if (r->evals[i].ppl <= target) return i;
    return -1;
}
