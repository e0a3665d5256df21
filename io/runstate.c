/* Run-state checkpoints: save with retention, verified load, newest-valid
 * resume with fallback, cleanup of interrupted writes.  See runstate.h. */
#include "io/runstate.h"
#include "io/checkpoint.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
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

/* Round of a name exactly as ckpt_name writes it ("ckpt-%08lld.h5"), or -1:
 * another spelling of the same round ("ckpt-5.h5") would be listed as that
 * round and then looked for under the canonical name. */
static int64_t parse_name(const char *name)
{
    if (strncmp(name, "ckpt-", 5) != 0) return -1;
    const char *p = name + 5, *q = p;
    while (*q >= '0' && *q <= '9') q++;
    if (q == p || q - p > 18 || strcmp(q, ".h5") != 0) return -1;
    int64_t r = strtoll(p, NULL, 10);
    char canon[64];
    snprintf(canon, sizeof canon, "ckpt-%08lld.h5", (long long)r);
    return strcmp(canon, name) == 0 ? r : -1;
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
    /* All of them, then the newest max: readdir's order is arbitrary, so
     * stopping at max entries could leave the newest checkpoint out. */
    size_t n = 0, cap = 64;
    int64_t *all = xmalloc(cap * sizeof *all);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t r = parse_name(e->d_name);
        if (r < 0) continue;
        if (n == cap) all = xrealloc(all, (cap *= 2) * sizeof *all);
        all[n++] = r;
    }
    closedir(d);
    qsort(all, n, sizeof *all, cmp_desc);
    int k = n < (size_t)max ? (int)n : max;
    memcpy(rounds, all, (size_t)k * sizeof *rounds);
    free(all);
    return k;
}

int runstate_clean(const char *dir, bool all_pids)
{
    return tmp_sweep(dir, all_pids);
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
    if (rs->n_sim_carry > 0) {
        uint64_t *bits = xmalloc((size_t)rs->n_sim_carry * sizeof(uint64_t));
        memcpy(bits, rs->sim_carry, (size_t)rs->n_sim_carry * sizeof(double));
        int rc = ckpt_put_u64(w, "/run/sim_carry", bits, (size_t)rs->n_sim_carry, err);
        free(bits);
        if (rc < 0) return -1;
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

/* Counters that a sane run keeps far below this: a data position or step
 * beyond it could only overflow the arithmetic that uses it. */
#define COUNT_MAX ((int64_t)1 << 40)
#define CLIENTS_MAX ((uint64_t)1 << 24)

static int same_model(const gpt2_config *a, const gpt2_config *b)
{
    return a->n_layer == b->n_layer && a->n_head == b->n_head && a->d_model == b->d_model &&
           a->seq_len == b->seq_len && a->vocab_size == b->vocab_size && a->padded_vocab == b->padded_vocab;
}

/* Reads a one-value count dataset and checks it is in [0, COUNT_MAX]. */
static int get_count(ckpt_reader *r, const char *path, const char *file, int64_t *v, photon_err *err)
{
    if (ckpt_get_i64(r, path, v, 1, err) < 0) return -1;
    if (*v < 0 || *v > COUNT_MAX) {
        err_set(err, "%s: %s = %lld is out of range [0, %lld]: the checkpoint is corrupt", file, path,
                (long long)*v, (long long)COUNT_MAX);
        return -1;
    }
    return 0;
}

int runstate_check(ckpt_reader *r, const char *file, const gpt2_config *c, uint64_t seed,
                   runstate_info *info, photon_err *err)
{
    memset(info, 0, sizeof *info);
    if (!ckpt_has(r, "/run")) return 0;
    uint64_t smp[3], ref_bits;
    if (get_count(r, "/run/outer_steps", file, &info->outer_steps, err) < 0 ||
        get_count(r, "/run/metrics_offset", file, &info->metrics_offset, err) < 0 ||
        ckpt_get_u64(r, "/run/agg_reference", &ref_bits, 1, err) < 0 ||
        ckpt_get_u64(r, "/sampler/state", smp, 3, err) < 0)
        return -1;
    double ref;
    memcpy(&ref, &ref_bits, sizeof ref);
    if (!isfinite(ref) || ref < 0) {
        err_set(err, "%s: /run/agg_reference = %g is not a norm: the checkpoint is corrupt", file, ref);
        return -1;
    }
    if (smp[0] != seed || smp[1] < 1 || smp[1] > CLIENTS_MAX || smp[2] < 1 || smp[2] > smp[1]) {
        err_set(err, "%s: /sampler/state (seed %llu, %llu clients, %llu per round) is not a sampler of seed %llu: "
                "the checkpoint is corrupt", file, (unsigned long long)smp[0], (unsigned long long)smp[1],
                (unsigned long long)smp[2], (unsigned long long)seed);
        return -1;
    }
    info->n_clients = (int64_t)smp[1];
    info->per_round = (int64_t)smp[2];
    info->has_outer = ckpt_has(r, "/outer_optimizer");
    if (info->has_outer && ckpt_check_params(r, "/outer_optimizer", c, err) < 0) return -1;
    /* Every client: a data position (counts, never negative), and kept
     * optimizer state complete or absent. */
    for (int64_t id = 0; id < info->n_clients; id++) {
        char p[128];
        snprintf(p, sizeof p, "/clients/%lld/data_pos", (long long)id);
        int64_t n = ckpt_len(r, p, err);
        if (n < 0) return -1;
        if (n < 1 || n > 64) {
            err_set(err, "%s: dataset %s has %lld elements, expected 1 to 64", file, p, (long long)n);
            return -1;
        }
        int64_t pos[64];
        if (ckpt_get_i64(r, p, pos, (size_t)n, err) < 0) return -1;
        for (int64_t k = 0; k < n; k++)
            if (pos[k] < 0 || pos[k] > COUNT_MAX) {
                err_set(err, "%s: %s[%lld] = %lld is out of range [0, %lld]: the checkpoint is corrupt", file, p,
                        (long long)k, (long long)pos[k], (long long)COUNT_MAX);
                return -1;
            }
        if (id == 0) info->pos_words = (int)n;
        else if (n != info->pos_words) {
            err_set(err, "%s: dataset %s has %lld elements, client 0's has %d", file, p, (long long)n, info->pos_words);
            return -1;
        }
        char pm[128], pv[128], ps[128];
        snprintf(pm, sizeof pm, "/clients/%lld/adam_m", (long long)id);
        snprintf(pv, sizeof pv, "/clients/%lld/adam_v", (long long)id);
        snprintf(ps, sizeof ps, "/clients/%lld/adam_step", (long long)id);
        int hm = ckpt_has(r, pm), hv = ckpt_has(r, pv), hs = ckpt_has(r, ps);
        if (hm != hv || hm != hs) {
            err_set(err, "%s: client %lld's kept optimizer state is incomplete (adam_m %s, adam_v %s, adam_step %s)",
                    file, (long long)id, hm ? "present" : "missing", hv ? "present" : "missing",
                    hs ? "present" : "missing");
            return -1;
        }
        if (hm) {
            int64_t step;
            if (ckpt_check_params(r, pm, c, err) < 0 || ckpt_check_params(r, pv, c, err) < 0 ||
                get_count(r, ps, file, &step, err) < 0)
                return -1;
            info->kept_states++;
        }
    }
    return 1;
}

/* The round a canonical checkpoint name stands for, or -1. */
static int64_t round_of_path(const char *path)
{
    const char *base = strrchr(path, '/');
    return parse_name(base ? base + 1 : path);
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
    /* Everything is read (checksums verified) in a child first: a file
     * that crashes or hangs the HDF5 library is skipped like any other. */
    if (ckpt_check_untrusted(path, err) < 0) return -1;
    ckpt_meta meta;
    ckpt_reader *r = ckpt_open(path, &meta, err);
    if (!r) return -1;
    int rc = -1;
    gpt2_config fc;
    runstate_info info;
    uint64_t ref_bits;
    int64_t name_round = round_of_path(path);
    if (name_round >= 0 && name_round != meta.round) {
        err_set(err, "%s: the file says round %lld, its name round %lld: the checkpoint is corrupt or misnamed",
                path, (long long)meta.round, (long long)name_round);
        goto out;
    }
    if (ckpt_model_config(r, &fc, err) < 0) goto out;
    if (!same_model(&fc, &rs->model_cfg)) {
        err_set(err, "%s: model shape L%d H%d C%d T%d V%d differs from the run's L%d H%d C%d T%d V%d",
                path, fc.n_layer, fc.n_head, fc.d_model, fc.seq_len, fc.vocab_size,
                rs->model_cfg.n_layer, rs->model_cfg.n_head, rs->model_cfg.d_model,
                rs->model_cfg.seq_len, rs->model_cfg.vocab_size);
        goto out;
    }
    int st = runstate_check(r, path, &fc, meta.seed, &info, err);
    if (st == 0) err_set(err, "%s: no run state (/run): a model-only checkpoint cannot be resumed", path);
    if (st <= 0) goto out;
    if (meta.seed != rs->sampler[0] || (uint64_t)info.n_clients != rs->sampler[1] ||
        (uint64_t)info.per_round != rs->sampler[2]) {
        err_set(err, "%s: sampler (seed %llu, %lld clients, %lld per round) differs from the run's "
                "(seed %llu, %llu clients, %llu per round)", path,
                (unsigned long long)meta.seed, (long long)info.n_clients, (long long)info.per_round,
                (unsigned long long)rs->sampler[0], (unsigned long long)rs->sampler[1],
                (unsigned long long)rs->sampler[2]);
        goto out;
    }
    if (rs->n_clients != info.n_clients || (rs->pos_words > 0 && rs->pos_words != info.pos_words)) {
        err_set(err, "%s: %lld clients with %d-word data positions, the run has %d with %d", path,
                (long long)info.n_clients, info.pos_words, rs->n_clients, rs->pos_words);
        goto out;
    }
    if (rs->outer_m && !info.has_outer) {
        err_set(err, "%s: no /outer_optimizer momentum, but the run's strategy keeps one", path);
        goto out;
    }
    /* The offset cuts metrics.jsonl back to this checkpoint: one beyond the
     * file's end cannot be (a later checkpoint of a run keeps more, never
     * less). */
    if (rs->check_metrics && info.metrics_offset > rs->metrics_size) {
        err_set(err, "%s: /run/metrics_offset %lld is beyond the end of metrics.jsonl (%lld bytes): "
                "the checkpoint does not belong to this run's metrics", path, (long long)info.metrics_offset,
                (long long)rs->metrics_size);
        goto out;
    }
    if (ckpt_get_params(r, "/model", &rs->model_cfg, rs->model, err) < 0) goto out;
    if (rs->outer_m && ckpt_get_params(r, "/outer_optimizer", &rs->model_cfg, rs->outer_m, err) < 0) goto out;
    if (ckpt_get_u64(r, "/run/agg_reference", &ref_bits, 1, err) < 0) goto out;
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
    if (rs->n_sim_carry > 0) {
        for (int c = 0; c < rs->n_sim_carry; c++) rs->sim_carry[c] = NAN;
        if (ckpt_has(r, "/run/sim_carry")) {
            uint64_t *bits = xmalloc((size_t)rs->n_sim_carry * sizeof(uint64_t));
            int bad = ckpt_get_u64(r, "/run/sim_carry", bits, (size_t)rs->n_sim_carry, err) < 0;
            if (!bad) memcpy(rs->sim_carry, bits, (size_t)rs->n_sim_carry * sizeof(double));
            free(bits);
            if (bad) goto out;
        }
    }
    rs->outer_steps = info.outer_steps;
    rs->metrics_offset = info.metrics_offset;
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

/* Files that look like checkpoints but are not named as photon-sim names
 * them are not resumed from: say so, never silently. */
static void warn_misnamed(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && n > 8 && strcmp(e->d_name + n - 3, ".h5") == 0 &&
            parse_name(e->d_name) < 0)
            log_warn("--resume: ignoring %s/%s: not a checkpoint name photon-sim writes (ckpt-<8-digit round>.h5)",
                     dir, e->d_name);
    }
    closedir(d);
}

int runstate_resume(const char *dir, runstate *rs, char *out_path, size_t out_n, photon_err *err)
{
    warn_misnamed(dir);
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
        /* Never silently: a skipped checkpoint is progress the run loses. */
        char next[1100] = "no older checkpoint is left";
        if (i + 1 < n) {
            char older[1024];
            ckpt_name(older, sizeof older, dir, r[i + 1]);
            snprintf(next, sizeof next, "trying the older %s", older);
        }
        log_warn("--resume: skipping checkpoint of round %lld, it is unusable: %s; %s", (long long)r[i], e.msg, next);
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", e.msg);
    }
    if (rc < 0) err_set(err, "%s: none of %d checkpoints is usable (newest: %s)", dir, n, first_err);
    free(r);
    return rc;
}
