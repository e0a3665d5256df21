/* The client's side of compressed and streaming exchanges (see
 * actors/client_sync.h).  All arithmetic is fp32, elementwise, in a fixed
 * order: a task's bytes do not depend on which actor runs it. */
#include "actors/client_sync.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "actors/fault_exec.h"
#include "gpu/quant.h"
#include "gpu/vecops.h"

struct client_sync {
    fragment_plan *frags;
    size_t n;
    int F, overlap, plain, flags;
    float mix;
    int uenc, benc;
    float *global;           /* the model assembled from its parts */
    const float *inplace;    /* one fp32 part: the link's blob itself */
    uint64_t part_gen[FRAGMENT_MAX];   /* generation of each part in global (LINK_ANY: none) */
    float *start, *local;    /* the task's start model; trained model when not kept in the state */
    float *delta, *resid;    /* compact: the fragment's update and residual */
};

client_sync *client_sync_new(const photon_config *cfg, const gpt2_config *gc, photon_err *err)
{
    fragment_plan *p = fragment_plan_new(gc, cfg->aggregator.fragments, err);
    if (!p) return NULL;
    client_sync *cs = xcalloc(1, sizeof *cs);
    cs->frags = p;
    cs->n = fragment_total(p);
    cs->F = cfg->aggregator.fragments;
    cs->overlap = cfg->aggregator.overlap;
    cs->mix = (float)cfg->aggregator.overlap_mix;
    cs->uenc = cfg->aggregator.compression;
    cs->benc = cfg->aggregator.broadcast_compression;
    cs->flags = client_state_flags(cfg, 0);
    cs->plain = cs->F == 1 && !cs->overlap && cs->uenc == QUANT_NONE && cs->benc == QUANT_NONE;
    for (int f = 0; f < FRAGMENT_MAX; f++) cs->part_gen[f] = LINK_ANY;
    return cs;
}

void client_sync_free(client_sync *cs)
{
    if (!cs) return;
    fragment_plan_free(cs->frags);
    free(cs->global);
    free(cs->start);
    free(cs->local);
    free(cs->delta);
    free(cs->resid);
    free(cs);
}

int client_sync_plain(const client_sync *cs) { return cs->plain; }

static float *scratch(float **p, size_t n)
{
    if (!*p) *p = xmalloc_aligned(n * sizeof(float) + 64);
    return *p;
}

int client_sync_parts(const client_sync *cs) { return cs->F; }

/* One fp32 part: the whole model, read in place */
static int whole_raw(const client_sync *cs) { return cs->F == 1 && cs->benc == QUANT_NONE; }

int client_sync_has_part(const client_sync *cs, int f, uint64_t gen)
{
    return !whole_raw(cs) && f >= 0 && f < cs->F && gen != LINK_ANY && cs->part_gen[f] == gen;
}

int client_sync_part(client_sync *cs, int f, const void *blob, size_t bytes, uint32_t encoding, uint64_t gen,
                     int threads, photon_err *err)
{
    size_t m = fragment_elems(cs->frags, f), want = quant_bytes(cs->benc, m);
    if (encoding != (uint32_t)cs->benc || bytes != want) {
        err_set(err, "model part %d of %zu bytes encoded %s; the run's plan says %zu bytes of %s", f, bytes,
                quant_name((int)encoding), want, quant_name(cs->benc));
        return -1;
    }
    if (whole_raw(cs)) { cs->inplace = blob; return 0; }
    float *g = scratch(&cs->global, cs->n);
    cs->part_gen[f] = LINK_ANY;   /* until it is all there */
    /* each fragment encoded on its own, so its values never depend on another's */
    if (cs->benc == QUANT_NONE) {
        fragment_scatter(cs->frags, f, blob, g);
    } else {
        float *tmp = scratch(&cs->delta, fragment_max_elems(cs->frags));
        quant_decode(cs->benc, blob, m, tmp, threads);
        fragment_scatter(cs->frags, f, tmp, g);
    }
    cs->part_gen[f] = gen;
    return 0;
}

const float *client_sync_global(const client_sync *cs)
{
    return whole_raw(cs) ? cs->inplace : cs->global;
}

/* dst[ranges of f] = src[ranges of f] */
static void copy_fragment(const fragment_plan *p, int f, const float *src, float *dst)
{
    int nr;
    const frag_range *r = fragment_ranges(p, f, &nr);
    for (int i = 0; i < nr; i++) memcpy(dst + r[i].off, src + r[i].off, r[i].len * sizeof(float));
}

int client_sync_run(client_sync *cs, trainer *tr, const msg_task *t, const float *global, const void *state_in,
                    void *state_out, void *upd, size_t *upd_bytes, uint32_t *upd_enc, msg_result *r, photon_err *err)
{
    int threads = trainer_threads(tr);
    int f = t->fragment, prev = (f + cs->F - 1) % cs->F;
    if (f < 0 || f >= cs->F) { err_set(err, "task for fragment %d of %d", f, cs->F); return -1; }
    client_state_view in = { 0 }, out = { 0 };
    if (state_in) in = client_state_at((void *)state_in, cs->flags, cs->n);
    if (state_out) out = client_state_at(state_out, cs->flags, cs->n);
    int continuing = in.local && in.h->sync == t->sync - 1;

    const float *start = global;
    if (continuing) {
        float *s = scratch(&cs->start, cs->n);
        memcpy(s, in.local, cs->n * sizeof(float));
        if (!cs->overlap) copy_fragment(cs->frags, prev, global, s);
        start = s;
    }
    float *local = out.local ? out.local : scratch(&cs->local, cs->n);
    if (trainer_train(tr, t, start, local, state_in, state_out, r, err) < 0) return -1;

    int nr;
    const frag_range *rg;
    if (cs->overlap && continuing) {   /* the fragment sent last phase has arrived */
        const float a = cs->mix, b = 1.0f - cs->mix;
        rg = fragment_ranges(cs->frags, prev, &nr);
        for (int i = 0; i < nr; i++)
            for (size_t j = rg[i].off; j < rg[i].off + rg[i].len; j++) local[j] = a * local[j] + b * global[j];
    }
    size_t m = fragment_elems(cs->frags, f);
    float *d = scratch(&cs->delta, fragment_max_elems(cs->frags));
    rg = fragment_ranges(cs->frags, f, &nr);
    for (int i = 0, k = 0; i < nr; i++)
        for (size_t j = rg[i].off; j < rg[i].off + rg[i].len; j++) d[k++] = global[j] - local[j];
    /* the norm as trained, for the record (the supervisor measures what it
     * decodes); an injected corruption comes after it */
    int64_t first_bad;
    r->update_norm = vec_norm(d, m, threads, &first_bad);
    if (t->fault.kind == FAULT_CORRUPT) faults_corrupt(&t->fault, d, m);

    if (out.resid) {
        /* the residual of the other fragments is carried over as it is */
        if (in.resid) memcpy(out.resid, in.resid, cs->n * sizeof(float));
        else memset(out.resid, 0, cs->n * sizeof(float));
        float *rc = scratch(&cs->resid, fragment_max_elems(cs->frags));
        fragment_gather(cs->frags, f, out.resid, rc);
        quant_encode_ef(cs->uenc, d, rc, m, upd, threads);
        fragment_scatter(cs->frags, f, rc, out.resid);
    } else {
        quant_encode(cs->uenc, d, m, upd, threads);
    }
    if (out.h) out.h->sync = t->sync;
    *upd_bytes = quant_bytes(cs->uenc, m);
    *upd_enc = (uint32_t)cs->uenc;
    return 0;
}

void client_sync_test_seam(const msg_task *t, size_t *upd_bytes, uint32_t *upd_enc)
{
    const char *v = getenv("PHOTON_FAULT_UPDATE");
    const char *comma = v ? strchr(v, ',') : NULL;
    if (!comma || atoi(comma + 1) != t->client) return;
    if (strncmp(v, "short,", 6) == 0 && *upd_bytes > 0) *upd_bytes -= 1;
    else if (strncmp(v, "long,", 5) == 0) *upd_bytes += 1;
    else if (strncmp(v, "encoding,", 9) == 0) *upd_enc = (*upd_enc + 1) % QUANT_COUNT;
}
