/* Run-state checkpoints: save with retention, verified load, newest-valid
 * resume with fallback, cleanup of interrupted writes.  See runstate.h. */
#include "io/runstate.h"
#include "io/checkpoint.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CKPTS 4096

static void ckpt_name(char *out, size_t n, const char *dir, int64_t round)
{
    char name[64];
    snprintf(name, sizeof name, "ckpt-%08lld.h5", (long long)round);
    path_join(out, n, dir, name);
}

/* Round of an exact "ckpt-<digits>.h5" name, or -1. */
static int64_t parse_name(const char *name)
{
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *p = name + 5, *q = p;
    while (*q >= '0' && *q <= '9') q++;
    if (q == p || q - p > 18 || strcmp(q, ".h5") != 0) return -1;
    return strtoll(p, NULL, 10);
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

int runstate_list(const char *dir, int64_t *rounds, int max)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        int64_t r = parse_name(e->d_name);
        if (r >= 0) rounds[n++] = r;
    }
    closedir(d);
    qsort(rounds, (size_t)n, sizeof *rounds, cmp_desc);
    return n;
}

int runstate_clean(const char *dir, bool all_pids)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* "<name>.tmp.<pid>": the temp-file naming of ckpt_create and afile_open */
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || t == e->d_name) continue;
        while (strstr(t + 1, ".tmp.")) t = strstr(t + 1, ".tmp.");
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || t[5] < '0' || t[5] > '9') continue;
        if (!all_pids && (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
        char path[1024];
        path_join(path, sizeof path, dir, e->d_name);
        if (unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}

/* ---- save ------------------------------------------------------------------- */

static int put_client(ckpt_writer *w, const runstate *rs, int id, photon_err *err)
{
    runstate_client c = { 0 };
    if (rs->client_get(rs->ud, id, &c, err) < 0) return -1;
    char p[128];
    if (rs->pos_words > 0) {
        snprintf(p, sizeof p, "/clients/%d/data_pos", id);
        if (ckpt_put_i64(w, p, c.data_pos, (size_t)rs->pos_words, err) < 0) return -1;
    }
    if (rs->rng_words > 0) {
        snprintf(p, sizeof p, "/clients/%d/rng", id);
        if (ckpt_put_u64(w, p, c.rng, (size_t)rs->rng_words, err) < 0) return -1;
    }
    if (c.has_adam) {
        snprintf(p, sizeof p, "/clients/%d/adam_m", id);
        if (ckpt_put_params(w, p, &rs->model_cfg, c.adam_m, err) < 0) return -1;
        snprintf(p, sizeof p, "/clients/%d/adam_v", id);
        if (ckpt_put_params(w, p, &rs->model_cfg, c.adam_v, err) < 0) return -1;
        snprintf(p, sizeof p, "/clients/%d/adam_step", id);
        if (ckpt_put_i64(w, p, &c.adam_step, 1, err) < 0) return -1;
    }
    if (c.has_local) {
        snprintf(p, sizeof p, "/clients/%d/local_model", id);
        if (ckpt_put_params(w, p, &rs->model_cfg, c.local_model, err) < 0) return -1;
        snprintf(p, sizeof p, "/clients/%d/sync", id);
        if (ckpt_put_i64(w, p, &c.sync, 1, err) < 0) return -1;
    }
    if (c.has_residual) {
        snprintf(p, sizeof p, "/clients/%d/residual", id);
        if (ckpt_put_params(w, p, &rs->model_cfg, c.residual, err) < 0) return -1;
    }
    return 0;
}

static int write_all(ckpt_writer *w, const runstate *rs, photon_err *err)
{
    if (ckpt_put_params(w, "/model", &rs->model_cfg, rs->model, err) < 0) return -1;
    if (rs->outer_m && ckpt_put_params(w, "/outer_optimizer", &rs->model_cfg, rs->outer_m, err) < 0) return -1;
    uint64_t ref_bits;
    memcpy(&ref_bits, &rs->agg_reference, sizeof ref_bits);
    if (ckpt_put_i64(w, "/run/outer_steps", &rs->outer_steps, 1, err) < 0 ||
        ckpt_put_i64(w, "/run/metrics_offset", &rs->metrics_offset, 1, err) < 0 ||
        ckpt_put_u64(w, "/run/agg_reference", &ref_bits, 1, err) < 0 ||
        ckpt_put_u64(w, "/sampler/state", rs->sampler, 3, err) < 0)
        return -1;
    if (rs->streaming && ckpt_put_i64(w, "/run/phase_counter", &rs->phase_counter, 1, err) < 0) return -1;
    if (rs->n_frag_ref > 0) {
        uint64_t bits[64];
        if (rs->n_frag_ref > 64) { err_set(err, "%d fragment references (at most 64)", rs->n_frag_ref); return -1; }
        memcpy(bits, rs->frag_ref, (size_t)rs->n_frag_ref * sizeof(double));
        if (ckpt_put_u64(w, "/run/fragment_reference", bits, (size_t)rs->n_frag_ref, err) < 0) return -1;
    }
    if (rs->has_sim_clock) {
        uint64_t bits[2];
        memcpy(bits, rs->sim_clock, sizeof bits);
        if (ckpt_put_u64(w, "/run/sim_clock", bits, 2, err) < 0) return -1;
    }
    if (rs->client_get)
        for (int id = 0; id < rs->n_clients; id++)
            if (put_client(w, rs, id, err) < 0) return -1;
    return 0;
}

/* Drops checkpoints of an abandoned future (round > the one just written,
 * left by a run that was resumed from an older one), then all but `keep`. */
static void prune(const char *dir, int64_t written, int keep)
{
    int64_t *r = xmalloc(MAX_CKPTS * sizeof *r);
    int n = runstate_list(dir, r, MAX_CKPTS), kept = 0;
    for (int i = 0; i < n; i++) {
        bool drop = r[i] > written || (keep > 0 && kept >= keep);
        if (!drop) { kept++; continue; }
        char p[1024];
        ckpt_name(p, sizeof p, dir, r[i]);
        if (unlink(p) != 0) log_warn("%s: cannot remove old checkpoint: %s", p, strerror(errno));
    }
    free(r);
}

int runstate_save(const char *dir, const runstate *rs, int keep, bool inject_failure,
                  char *out_path, size_t out_n, photon_err *err)
{
    if (mkdir_p(dir, err) < 0) return -1;
    char path[1024];
    ckpt_name(path, sizeof path, dir, rs->round);
    ckpt_meta meta = { rs->round, rs->global_step, rs->tokens_seen, rs->seed, rs->config };
    ckpt_writer *w = ckpt_create(path, &meta, err);
    if (!w) return -1;
    if (write_all(w, rs, err) < 0) {
        ckpt_abort(w);
        return -1;
    }
    if (inject_failure) {
        ckpt_abort(w);
        err_set(err, "%s: write failed: %s (injected fault: faults.ckpt_fail_write)", path, strerror(EIO));
        return -1;
    }
    if (ckpt_commit(w, err) < 0) return -1;
    prune(dir, rs->round, keep);
    if (out_path) snprintf(out_path, out_n, "%s", path);
    return 0;
}

/* ---- load ------------------------------------------------------------------- */

static int same_model(const gpt2_config *a, const gpt2_config *b)
{
    return a->n_layer == b->n_layer && a->n_head == b->n_head && a->d_model == b->d_model &&
           a->seq_len == b->seq_len && a->vocab_size == b->vocab_size && a->padded_vocab == b->padded_vocab;
}

static int load_clients(ckpt_reader *r, runstate *rs, photon_err *err)
{
    size_t np = gpt2_num_params(&rs->model_cfg);
    int64_t *pos = xcalloc((size_t)rs->pos_words + 1, sizeof *pos);
    uint64_t *rng = xcalloc((size_t)rs->rng_words + 1, sizeof *rng);
    float *m = NULL, *v = NULL, *loc = NULL, *res = NULL;
    int rc = 0;
    char p[128];
    for (int id = 0; id < rs->n_clients && rc == 0; id++) {
        runstate_client c = { .data_pos = pos, .rng = rs->rng_words ? rng : NULL };
        if (rs->pos_words > 0) {
            snprintf(p, sizeof p, "/clients/%d/data_pos", id);
            if (ckpt_get_i64(r, p, pos, (size_t)rs->pos_words, err) < 0) { rc = -1; break; }
        }
        if (rs->rng_words > 0) {
            snprintf(p, sizeof p, "/clients/%d/rng", id);
            if (ckpt_get_u64(r, p, rng, (size_t)rs->rng_words, err) < 0) { rc = -1; break; }
        }
        snprintf(p, sizeof p, "/clients/%d/adam_m", id);
        if (ckpt_has(r, p)) {
            if (!m) { m = xmalloc_aligned(np * sizeof(float) + 64); v = xmalloc_aligned(np * sizeof(float) + 64); }
            c.has_adam = true;
            c.adam_m = m;
            c.adam_v = v;
            if (ckpt_get_params(r, p, &rs->model_cfg, m, err) < 0) { rc = -1; break; }
            snprintf(p, sizeof p, "/clients/%d/adam_v", id);
            if (ckpt_get_params(r, p, &rs->model_cfg, v, err) < 0) { rc = -1; break; }
            snprintf(p, sizeof p, "/clients/%d/adam_step", id);
            if (ckpt_get_i64(r, p, &c.adam_step, 1, err) < 0) { rc = -1; break; }
        }
        snprintf(p, sizeof p, "/clients/%d/local_model", id);
        if (ckpt_has(r, p)) {
            if (!loc) loc = xmalloc_aligned(np * sizeof(float) + 64);
            c.has_local = true;
            c.local_model = loc;
            if (ckpt_get_params(r, p, &rs->model_cfg, loc, err) < 0) { rc = -1; break; }
            snprintf(p, sizeof p, "/clients/%d/sync", id);
            if (ckpt_get_i64(r, p, &c.sync, 1, err) < 0) { rc = -1; break; }
        }
        snprintf(p, sizeof p, "/clients/%d/residual", id);
        if (ckpt_has(r, p)) {
            if (!res) res = xmalloc_aligned(np * sizeof(float) + 64);
            c.has_residual = true;
            c.residual = res;
            if (ckpt_get_params(r, p, &rs->model_cfg, res, err) < 0) { rc = -1; break; }
        }
        if (rs->client_put && rs->client_put(rs->ud, id, &c, err) < 0) rc = -1;
    }
    free(pos);
    free(rng);
    free(m);
    free(v);
    free(loc);
    free(res);
    return rc;
}

int runstate_load(const char *path, runstate *rs, photon_err *err)
{
    ckpt_meta meta;
    ckpt_reader *r = ckpt_open(path, &meta, err);
    if (!r) return -1;
    int rc = -1;
    gpt2_config fc;
    uint64_t sampler[3], ref_bits;
    if (ckpt_verify(r, err) < 0) goto out;
    if (ckpt_model_config(r, &fc, err) < 0) goto out;
    if (!same_model(&fc, &rs->model_cfg)) {
        err_set(err, "%s: model shape L%d H%d C%d T%d V%d differs from the run's L%d H%d C%d T%d V%d",
                path, fc.n_layer, fc.n_head, fc.d_model, fc.seq_len, fc.vocab_size,
                rs->model_cfg.n_layer, rs->model_cfg.n_head, rs->model_cfg.d_model,
                rs->model_cfg.seq_len, rs->model_cfg.vocab_size);
        goto out;
    }
    if (ckpt_get_u64(r, "/sampler/state", sampler, 3, err) < 0) goto out;
    if (sampler[0] != rs->sampler[0] || sampler[1] != rs->sampler[1] || sampler[2] != rs->sampler[2]) {
        err_set(err, "%s: sampler (seed %llu, %llu clients, %llu per round) differs from the run's "
                "(seed %llu, %llu clients, %llu per round)", path,
                (unsigned long long)sampler[0], (unsigned long long)sampler[1], (unsigned long long)sampler[2],
                (unsigned long long)rs->sampler[0], (unsigned long long)rs->sampler[1],
                (unsigned long long)rs->sampler[2]);
        goto out;
    }
    if (rs->outer_m && !ckpt_has(r, "/outer_optimizer")) {
        err_set(err, "%s: no /outer_optimizer momentum, but the run's strategy keeps one", path);
        goto out;
    }
    if (ckpt_get_params(r, "/model", &rs->model_cfg, rs->model, err) < 0) goto out;
    if (rs->outer_m && ckpt_get_params(r, "/outer_optimizer", &rs->model_cfg, rs->outer_m, err) < 0) goto out;
    if (ckpt_get_i64(r, "/run/outer_steps", &rs->outer_steps, 1, err) < 0 ||
        ckpt_get_i64(r, "/run/metrics_offset", &rs->metrics_offset, 1, err) < 0 ||
        ckpt_get_u64(r, "/run/agg_reference", &ref_bits, 1, err) < 0)
        goto out;
    memcpy(&rs->agg_reference, &ref_bits, sizeof ref_bits);
    if (ckpt_has(r, "/run/phase_counter") != rs->streaming) {
        err_set(err, "%s: %s streaming fragments, the run %s", path,
                rs->streaming ? "written without" : "written with", rs->streaming ? "uses them" : "does not");
        goto out;
    }
    if (rs->streaming && ckpt_get_i64(r, "/run/phase_counter", &rs->phase_counter, 1, err) < 0) goto out;
    if (rs->n_frag_ref > 0) {
        uint64_t bits[64];
        if (rs->n_frag_ref > 64 || ckpt_get_u64(r, "/run/fragment_reference", bits, (size_t)rs->n_frag_ref, err) < 0) goto out;
        memcpy(rs->frag_ref, bits, (size_t)rs->n_frag_ref * sizeof(double));
    }
    rs->has_sim_clock = ckpt_has(r, "/run/sim_clock");
    memset(rs->sim_clock, 0, sizeof rs->sim_clock);
    if (rs->has_sim_clock) {
        uint64_t bits[2];
        if (ckpt_get_u64(r, "/run/sim_clock", bits, 2, err) < 0) goto out;
        memcpy(rs->sim_clock, bits, sizeof bits);
    }
    if (load_clients(r, rs, err) < 0) goto out;
    rs->round = meta.round;
    rs->global_step = meta.global_step;
    rs->tokens_seen = meta.tokens_seen;
    rs->seed = meta.seed;
    rs->config = meta.config;
    meta.config = NULL;
    rc = 0;
out:
    free((char *)meta.config);
    ckpt_close(r);
    if (rc < 0 && strncmp(err->msg, path, strlen(path)) != 0) err_prefix(err, "%s", path);
    return rc;
}

int runstate_resume(const char *dir, runstate *rs, char *out_path, size_t out_n, photon_err *err)
{
    int64_t *r = xmalloc(MAX_CKPTS * sizeof *r);
    int n = runstate_list(dir, r, MAX_CKPTS);
    char first_err[1024] = "";
    int rc = n == 0 ? 1 : -1;
    for (int i = 0; i < n; i++) {
        char path[1024];
        ckpt_name(path, sizeof path, dir, r[i]);
        photon_err e;
        if (runstate_load(path, rs, &e) == 0) {
            if (out_path) snprintf(out_path, out_n, "%s", path);
            rc = 0;
            break;
        }
        log_warn("skipping checkpoint: %s", e.msg);
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", e.msg);
    }
    if (rc < 0) err_set(err, "%s: none of %d checkpoints is usable (newest: %s)", dir, n, first_err);
    free(r);
    return rc;
}
