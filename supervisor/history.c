/* Reading a run's past figures back from its metrics.jsonl (see
 * supervisor/history.h). */
#include "supervisor/history.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/jtree.h"
#include "io/metrics.h"

static double num(const jt *obj, const char *key)
{
    const jt *v = jt_get(obj, key);
    return v && v->type == JT_NUM ? v->v.num : NAN;
}

/* {"name": number, ...} written back as JSON (NULL unless such an object). */
static char *numbers_object(const jt *v)
{
    if (!v || v->type != JT_OBJ) return NULL;
    char *buf = NULL, n[48];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fputc('{', f);
    for (size_t i = 0; i < v->n; i++) {
        const jt *k = &v->v.kids[i];
        /* null: a source without a figure (as json_format_number writes NaN) */
        if ((k->type != JT_NUM && k->type != JT_NULL) || memchr(k->key, 0, k->keylen)) continue;
        if (ftell(f) > 1) fputc(',', f);
        char *name = xmalloc(k->keylen + 1);
        memcpy(name, k->key, k->keylen);
        name[k->keylen] = 0;
        json_write_string(f, name);
        free(name);
        json_format_number(n, sizeof n, k->type == JT_NUM ? k->v.num : NAN);
        fprintf(f, ":%s", n);
    }
    fputc('}', f);
    fclose(f);
    return buf;
}

int history_read(const char *path, run_history *h, photon_err *err)
{
    memset(h, 0, sizeof *h);
    h->first_ppl = h->last_ppl = h->last_eval_loss = h->last_train_loss = NAN;
    FILE *f = fopen(path, "r");
    if (!f) { err_set(err, "%s: cannot read it back: %s", path, strerror(errno)); return -1; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        /* only the two kinds of event wanted are parsed */
        if (!strstr(line, "\"event\":\"eval\"") && !strstr(line, "\"event\":\"round\"")) continue;
        photon_err e;
        jt_doc *d = jt_parse(line, (size_t)n, &e);
        if (!d) continue;
        const jt *o = jt_root(d);
        const char *ev = jt_get_str(o, "event");
        if (ev && strcmp(ev, "eval") == 0 && isfinite(num(o, "perplexity"))) {
            if (!h->evals++) h->first_ppl = num(o, "perplexity");
            h->last_ppl = num(o, "perplexity");
            h->last_eval_loss = num(o, "loss");
            free(h->ppl_by_source);
            free(h->loss_by_source);
            h->ppl_by_source = numbers_object(jt_get(o, "perplexity_by_source"));
            h->loss_by_source = numbers_object(jt_get(o, "loss_by_source"));
        } else if (ev && strcmp(ev, "round") == 0 && jt_get_bool(o, "committed", 0) == 1) {
            h->rounds++;
            h->last_train_loss = num(o, "loss");
        }
        jt_free(d);
    }
    free(line);
    fclose(f);
    return 0;
}

void history_free(run_history *h)
{
    free(h->ppl_by_source);
    free(h->loss_by_source);
    h->ppl_by_source = h->loss_by_source = NULL;
}
