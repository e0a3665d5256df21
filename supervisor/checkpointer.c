/* Checkpoints of a run (DESIGN §5) through io/checkpoint.h:
 * <checkpoint dir>/round-NNNNNN.h5 holding /model, the outer optimizer's
 * momentum (/outer_optimizer), each client's data position and kept
 * optimizer state (/clients/<id>/...), and the sampler's identity
 * (/sampler).  After a successful write only the newest `keep` remain. */
#include "supervisor/run.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/checkpoint.h"
#include "actors/train.h"

void checkpoint_path(const run *r, int64_t n, char *out, size_t len)
{
    char name[64];
    snprintf(name, sizeof name, "round-%06lld.h5", (long long)n);
    path_join(out, len, r->ckpt_dir, name);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Removes all but the newest `keep` round-*.h5 files. */
static void prune(const run *r)
{
    int keep = r->cfg->checkpoint.keep;
    if (keep <= 0) return;
    DIR *d = opendir(r->ckpt_dir);
    if (!d) return;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "round-", 6) != 0 || l < 4 || strcmp(e->d_name + l - 3, ".h5") != 0) continue;
        if (n == cap) { cap = cap ? cap * 2 : 16; names = xrealloc(names, (size_t)cap * sizeof *names); }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);   /* zero-padded: name order is round order */
    for (int i = 0; i < n; i++) {
        if (i < n - keep) {
            char p[2048];
            path_join(p, sizeof p, r->ckpt_dir, names[i]);
            unlink(p);
        }
        free(names[i]);
    }
    free(names);
}

static int put_clients(run *r, ckpt_writer *w, photon_err *err)
{
    char path[128];
    for (int c = 0; c < r->n_clients; c++) {
        snprintf(path, sizeof path, "/clients/%d/data_position", c);
        if (ckpt_put_i64(w, path, &r->client_pos[c], 1, err) < 0) return -1;
        if (!r->keep_state || r->client_state_gen[c] == 0) continue;
        const train_state_header *h = link_read(r->link, LINK_STATE, r->client_state_slot[c],
                                                r->client_state_gen[c], NULL, NULL, err);
        if (!h) return -1;
        const float *m = (const float *)(h + 1);
        snprintf(path, sizeof path, "/clients/%d/adam_m", c);
        if (ckpt_put_params(w, path, &r->gc, m, err) < 0) return -1;
        snprintf(path, sizeof path, "/clients/%d/adam_v", c);
        if (ckpt_put_params(w, path, &r->gc, m + r->n, err) < 0) return -1;
        snprintf(path, sizeof path, "/clients/%d/adam_step", c);
        if (ckpt_put_i64(w, path, &h->step, 1, err) < 0) return -1;
    }
    return 0;
}

int checkpoint_write(run *r, photon_err *err)
{
    if (mkdir_p(r->ckpt_dir, err) < 0) return -1;
    char path[2048];
    checkpoint_path(r, r->round, path, sizeof path);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) { err_set(err, "out of memory"); return -1; }
    config_dump(r->cfg, mem);
    fclose(mem);
    ckpt_meta meta = { .round = r->round, .global_step = r->global_step, .tokens_seen = r->tokens_seen,
                       .seed = r->cfg->run.seed, .config = text };
    ckpt_writer *w = ckpt_create(path, &meta, err);
    free(text);
    if (!w) return -1;
    size_t nm = 0;
    const float *mom = outer_opt_state(r->outer, &nm);
    uint64_t smp[3] = { r->cfg->run.seed, (uint64_t)r->n_clients, (uint64_t)r->per_round };
    if (r->smp) sampler_state(r->smp, smp);
    int64_t steps = outer_opt_steps(r->outer);
    if (ckpt_put_params(w, "/model", &r->gc, r->theta, err) < 0 ||
        (mom && ckpt_put_params(w, "/outer_optimizer", &r->gc, mom, err) < 0) ||
        ckpt_put_i64(w, "/outer_optimizer_steps", &steps, 1, err) < 0 ||
        ckpt_put_u64(w, "/sampler/state", smp, 3, err) < 0 ||
        put_clients(r, w, err) < 0) {
        ckpt_abort(w);
        return -1;
    }
    if (ckpt_commit(w, err) < 0) return -1;
    prune(r);
    return 0;
}
