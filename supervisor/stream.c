/* The supervisor's side of compressed and streaming exchanges (see
 * supervisor/stream.h): phases, blob sizes, update decoding and checks,
 * the outer step per fragment, per-fragment norm references, and the
 * bytes of each transfer. */
#include "supervisor/stream.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "actors/client_state.h"
#include "io/link.h"
#include "gpu/fragment.h"
#include "gpu/quant.h"

struct stream {
    fragment_plan *frags;
    int F, phased, flags, threads;
    int local_steps;
    int uenc, benc;
    size_t model_blob, update_blob;
    float *decoded;          /* an update decoded from its encoding (largest fragment) */
    double ref[FRAGMENT_MAX];
    /* per fragment: its ranges as offset/length arrays for the outer step */
    size_t off[FRAGMENT_MAX][GPT2_NUM_TENSORS], len[FRAGMENT_MAX][GPT2_NUM_TENSORS];
    int nr[FRAGMENT_MAX];
};

stream *stream_new(const photon_config *cfg, const gpt2_config *gc, int centralized, int threads, photon_err *err)
{
    int F = centralized ? 1 : cfg->aggregator.fragments;
    fragment_plan *p = fragment_plan_new(gc, F, err);
    if (!p) return NULL;
    stream *s = xcalloc(1, sizeof *s);
    s->frags = p;
    s->F = F;
    s->phased = !centralized && (F > 1 || cfg->aggregator.overlap);
    s->flags = client_state_flags(cfg, centralized);
    s->threads = cpu_threads(threads);
    s->local_steps = cfg->clients.local_steps;
    s->uenc = centralized ? QUANT_NONE : cfg->aggregator.compression;
    s->benc = centralized ? QUANT_NONE : cfg->aggregator.broadcast_compression;
    for (int f = 0; f < F; f++) {
        size_t m = fragment_elems(p, f);
        s->model_blob += quant_bytes(s->benc, m);
        if (quant_bytes(s->uenc, m) > s->update_blob) s->update_blob = quant_bytes(s->uenc, m);
        const frag_range *r = fragment_ranges(p, f, &s->nr[f]);
        for (int i = 0; i < s->nr[f]; i++) { s->off[f][i] = r[i].off; s->len[f][i] = r[i].len; }
    }
    return s;
}

void stream_free(stream *s)
{
    if (!s) return;
    fragment_plan_free(s->frags);
    free(s->decoded);
    free(s);
}

int stream_phases(const stream *s) { return s->phased ? s->F : 1; }
int stream_phased(const stream *s) { return s->phased; }
int stream_state_flags(const stream *s) { return s->flags; }
size_t stream_model_blob_bytes(const stream *s) { return s->model_blob; }
size_t stream_update_blob_bytes(const stream *s) { return s->update_blob; }
size_t stream_fragment_elems(const stream *s, int f) { return fragment_elems(s->frags, f); }

int stream_phase_steps(const stream *s, int j)
{
    return s->phased ? fragment_phase_steps(s->local_steps, s->F, j) : s->local_steps;
}

int stream_phase_start(const stream *s, int j)
{
    return s->phased ? fragment_phase_start(s->local_steps, s->F, j) : 0;
}

int stream_model_parts(const stream *s) { return s->F; }

void stream_link_plan(const stream *s, link_plan *plan)
{
    _Static_assert(LINK_MODEL_PARTS >= FRAGMENT_MAX, "a link part per fragment");
    plan->model_bytes = s->model_blob;
    plan->model_parts = s->F;
    for (int f = 0; f < s->F; f++) plan->model_part_bytes[f] = quant_bytes(s->benc, fragment_elems(s->frags, f));
}

uint32_t stream_encode_part(stream *s, const float *theta, int f, void *dst)
{
    size_t m = fragment_elems(s->frags, f);
    if (s->F == 1 && s->benc == QUANT_NONE) {   /* the whole model as it is: actors may read it in place */
        memcpy(dst, theta, m * sizeof(float));
        return LINK_ENC_RAW;
    }
    /* fragment by fragment, so a fragment's encoded values depend on its
     * own parameters only (a client keeps a fragment between its syncs) */
    float *tmp = s->benc == QUANT_NONE ? dst : xmalloc_aligned(fragment_max_elems(s->frags) * sizeof(float) + 64);
    fragment_gather(s->frags, f, theta, tmp);
    if (s->benc == QUANT_NONE) return LINK_ENC_RAW;
    quant_encode(s->benc, tmp, m, dst, s->threads);
    free(tmp);
    return (uint32_t)s->benc;
}

const float *stream_decode_update(stream *s, int f, const void *blob, size_t bytes, uint32_t encoding,
                                  photon_err *err)
{
    size_t m = fragment_elems(s->frags, f), want = quant_bytes(s->uenc, m);
    if (encoding != (uint32_t)s->uenc) {
        err_set(err, "update encoded %s (%u), the run sends %s", quant_name((int)encoding), encoding, quant_name(s->uenc));
        return NULL;
    }
    if (bytes != want) {
        err_set(err, "update of %zu bytes, expected %zu (%zu values as %s)", bytes, want, m, quant_name(s->uenc));
        return NULL;
    }
    if (s->uenc == QUANT_NONE) return blob;
    if (!s->decoded) s->decoded = xmalloc_aligned(fragment_max_elems(s->frags) * sizeof(float) + 64);
    quant_decode(s->uenc, blob, m, s->decoded, s->threads);
    return s->decoded;
}

void stream_outer_step(const stream *s, outer_opt *o, float *theta, int f, const float *mean)
{
    outer_opt_step_ranges(o, theta, mean, s->off[f], s->len[f], s->nr[f]);
}

void stream_phase_begin(stream *s, agg *a, int f)
{
    if (!s->phased) return;
    agg_set_length(a, fragment_elems(s->frags, f));
    agg_set_reference(a, s->ref[f]);
}

void stream_phase_end(stream *s, agg *a, int f)
{
    if (s->phased) s->ref[f] = agg_reference(a);
}

const double *stream_references(const stream *s, int *n)
{
    *n = s->phased ? s->F : 0;
    return s->phased ? s->ref : NULL;
}

int stream_set_references(stream *s, const double *ref, int n, photon_err *err)
{
    if (n != (s->phased ? s->F : 0)) {
        err_set(err, "%d fragment norm references for a run of %d phased fragments", n, s->phased ? s->F : 0);
        return -1;
    }
    for (int f = 0; f < n; f++) s->ref[f] = ref[f] > 0 && isfinite(ref[f]) ? ref[f] : 0;
    return 0;
}

void stream_task_bytes(const stream *s, int fragment, int continuing, double *down, double *up)
{
    int prev = (fragment + s->F - 1) % s->F;
    *down = continuing ? (double)quant_bytes(s->benc, fragment_elems(s->frags, prev)) : (double)s->model_blob;
    *up = (double)quant_bytes(s->uenc, fragment_elems(s->frags, fragment));
}
