/* The runtime's side of run-state checkpoints (io/runstate.h): what goes
 * into one (global model, outer momentum, every client's data position and
 * kept optimizer state, sampler identity, norm reference, metrics offset)
 * and, on --resume, putting it all back: kept states go back into the
 * link's state slots, so actors find them exactly where a live run keeps
 * them; the communication totals come back from metrics.jsonl. */
#include "supervisor/run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <cJSON.h>
#include "io/runstate.h"
#include "actors/train.h"
#include "actors/client_state.h"
#include "supervisor/stream.h"
#include "supervisor/netclock.h"

static int client_get(void *ud, int c, runstate_client *out, photon_err *err)
{
    run *r = ud;
    memset(out, 0, sizeof *out);
    out->data_pos = &r->client_pos[c];
    if (!r->keep_state || r->client_state_gen[c] == 0) return 0;
    size_t bytes;
    const void *blob = link_read(r->link, LINK_STATE, r->client_state_slot[c], r->client_state_gen[c], &bytes, NULL, err);
    client_state_view v;
    if (!blob || client_state_open(blob, bytes, stream_state_flags(r->st), r->n, &v, err) < 0) return -1;
    out->has_adam = v.adam_m != NULL;
    out->adam_m = v.adam_m;
    out->adam_v = v.adam_v;
    out->adam_step = v.h->step;
    out->has_local = v.local != NULL;
    out->local_model = v.local;
    out->sync = v.h->sync;
    out->has_residual = v.resid != NULL;
    out->residual = v.resid;
    return 0;
}

static int client_put(void *ud, int c, const runstate_client *in, photon_err *err)
{
    run *r = ud;
    r->client_pos[c] = in->data_pos[0];
    r->client_state_gen[c] = 0;
    r->client_sync[c] = -1;
    if (!in->has_adam && !in->has_local && !in->has_residual) return 0;
    int flags = stream_state_flags(r->st);
    int have = (in->has_adam ? CLIENT_STATE_ADAM : 0) | (in->has_local ? CLIENT_STATE_LOCAL : 0) |
               (in->has_residual ? CLIENT_STATE_RESID : 0);
    if (have != flags) {
        err_set(err, "the checkpoint keeps client %d's %s%s%s, the run's configuration %s%s%s", c,
                in->has_adam ? "optimizer state " : "", in->has_local ? "local model " : "",
                in->has_residual ? "residual " : "", flags & CLIENT_STATE_ADAM ? "optimizer state " : "",
                flags & CLIENT_STATE_LOCAL ? "local model " : "", flags & CLIENT_STATE_RESID ? "residual" : "");
        return -1;
    }
    size_t bytes = client_state_bytes(flags, r->n);
    void *blob = link_write_begin(r->link, LINK_STATE, r->client_state_slot[c], bytes, err);
    if (!blob) return -1;
    client_state_view v = client_state_init(blob, flags, r->n);
    if (v.adam_m) {
        v.h->step = in->adam_step;
        memcpy(v.adam_m, in->adam_m, r->n * sizeof(float));
        memcpy(v.adam_v, in->adam_v, r->n * sizeof(float));
    }
    if (v.local) {
        v.h->sync = in->sync;
        memcpy(v.local, in->local_model, r->n * sizeof(float));
    }
    if (v.resid) memcpy(v.resid, in->residual, r->n * sizeof(float));
    uint64_t gen = ++r->task_counter;
    if (link_write_end(r->link, LINK_STATE, r->client_state_slot[c], gen, bytes, err) < 0) return -1;
    r->client_state_gen[c] = gen;
    r->client_sync[c] = v.local ? in->sync : -1;
    return 0;
}

static void fill(run *r, runstate *rs, char **config_text)
{
    memset(rs, 0, sizeof *rs);
    size_t len = 0;
    FILE *mem = open_memstream(config_text, &len);
    if (mem) { config_dump(r->cfg, mem); fclose(mem); }
    rs->round = r->round;
    rs->global_step = r->global_step;
    rs->tokens_seen = r->tokens_seen;
    rs->seed = r->cfg->run.seed;
    rs->config = *config_text;
    rs->model_cfg = r->gc;
    rs->model = r->theta;
    size_t nm = 0;
    rs->outer_m = (float *)outer_opt_state(r->outer, &nm);
    rs->outer_steps = outer_opt_steps(r->outer);
    rs->metrics_offset = r->mx ? metrics_offset(r->mx) : 0;
    rs->agg_reference = agg_reference(r->ag);
    rs->has_sim_clock = r->nc != NULL;
    if (r->nc) netclock_totals(r->nc, &rs->sim_clock[0], &rs->sim_clock[1]);
    rs->sim_carry = r->nc ? (double *)netclock_carry(r->nc, &rs->n_sim_carry) : NULL;   /* loads in place */
    if (!r->nc) rs->n_sim_carry = 0;
    rs->sampler[0] = r->cfg->run.seed;
    rs->sampler[1] = (uint64_t)r->n_clients;
    rs->sampler[2] = (uint64_t)r->per_round;
    if (r->smp) sampler_state(r->smp, rs->sampler);
    rs->streaming = stream_phased(r->st);
    rs->phase_counter = r->sync_counter;
    rs->frag_ref = (double *)stream_references(r->st, &rs->n_frag_ref);
    rs->n_clients = r->n_clients;
    rs->pos_words = 1;
    rs->client_get = client_get;
    rs->client_put = client_put;
    rs->ud = r;
}

int checkpoint_write(run *r, int inject_failure, char *path, size_t n, photon_err *err)
{
    if (metrics_sync(r->mx, err) < 0) return -1;
    runstate rs;
    char *text = NULL;
    fill(r, &rs, &text);
    int rc = runstate_save(r->ckpt_dir, &rs, r->cfg->checkpoint.keep, inject_failure, path, n, err);
    free(text);
    return rc;
}

static double field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : 0;
}

/* The communication totals at the checkpoint (bytes moved, update and
 * all-reduce bytes, the largest exchange), which the TensorBoard log and
 * summary.json report as the run's, not this process's.  The checkpoint
 * does not hold them: its metrics.jsonl prefix does, one round event per
 * attempt, each number written so it reads back exactly.  Summed in the
 * order the live run added them, they equal its totals bit for bit.  A
 * line that does not parse (an edited file) is skipped with a warning. */
static void restore_totals(run *r, const char *mpath, int64_t off)
{
    FILE *f = fopen(mpath, "r");
    if (!f) { log_warn("%s: %s: the run's byte totals restart from zero", mpath, strerror(errno)); return; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t pos = 0, bad = 0, lineno = 0;
    while (pos < off && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if ((int64_t)len > off - pos) len = (ssize_t)(off - pos);   /* never past the checkpoint */
        pos += len;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *ev = o ? cJSON_GetObjectItemCaseSensitive(o, "event") : NULL;
        if (!cJSON_IsString(ev)) {
            if (bad++ == 0) log_warn("%s:%lld: not a metrics event: skipped in the run's byte totals", mpath, (long long)lineno);
        } else if (strcmp(ev->valuestring, "round") == 0) {
            /* as round.c's count_bytes and run_round_done add them */
            r->bytes_moved += field(o, "bytes_moved");
            r->update_bytes += field(o, "update_bytes");
            double peak = field(o, "peak_task_bytes");
            if (peak > r->peak_bytes) r->peak_bytes = peak;
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "committed")))
                r->bytes_allreduce += field(o, "allreduce_bytes");
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
}

int checkpoint_resume(run *r, int64_t *metrics_off, char *path, size_t n, photon_err *err)
{
    runstate rs;
    char *text = NULL;
    fill(r, &rs, &text);
    free(text);
    rs.config = NULL;
    size_t nm = 0;
    float *mom = NULL;
    if (outer_opt_state(r->outer, &nm)) rs.outer_m = mom = xmalloc_aligned(nm * sizeof(float) + 64);
    runstate_clean(r->ckpt_dir, false);
    /* A checkpoint's metrics offset must lie within metrics.jsonl. */
    char mpath[2048];
    struct stat st;
    path_join(mpath, sizeof mpath, r->dir, "metrics.jsonl");
    if (stat(mpath, &st) == 0 && S_ISREG(st.st_mode)) {   /* anything else: metrics_open says what */
        rs.check_metrics = true;
        rs.metrics_size = (int64_t)st.st_size;
    }
    int rc = runstate_resume(r->ckpt_dir, &rs, path, n, err);
    if (rc == 0) {
        r->sync_counter = rs.phase_counter;
        if (stream_set_references(r->st, rs.frag_ref, rs.n_frag_ref, err) < 0) rc = -1;
        r->round = rs.round;
        r->global_step = rs.global_step;
        r->tokens_seen = rs.tokens_seen;
        *metrics_off = rs.metrics_offset;
        if (rs.check_metrics) restore_totals(r, mpath, rs.metrics_offset);
        agg_set_reference(r->ag, rs.agg_reference);
        if (r->nc) netclock_set_totals(r->nc, rs.sim_clock[0], rs.sim_clock[1]);
        if (r->nc && rs.n_sim_carry > 0 && netclock_set_carry(r->nc, rs.sim_carry, rs.n_sim_carry, err) < 0) rc = -1;
        outer_opt_set_steps(r->outer, rs.outer_steps);
        if (mom && outer_opt_set_state(r->outer, mom, nm, err) < 0) rc = -1;
    }
    free((char *)rs.config);
    free(mom);
    return rc;
}
