/* The supervisor's side of compressed and streaming exchanges
 * (supervisor/stream.h) and the kept client state layout
 * (actors/client_state.h): blob sizes from the plan; an update whose
 * encoding or size is not the plan's is refused whatever its content; a
 * compressed one is decoded exactly as gpu/quant.c decodes; the outer step
 * on a fragment is bitwise the whole step restricted to its elements (and
 * leaves the rest alone, momentum included); the bytes of each transfer;
 * per-fragment norm references; state blobs checked before use. */
#include "harness.h"
#include "supervisor/stream.h"
#include "actors/client_state.h"
#include "gpu/fragment.h"
#include "gpu/quant.h"
#include "io/link.h"
#include <stdlib.h>

static photon_config config(int comp, int bcast, int F, int overlap, int ef)
{
    photon_config c;
    config_defaults(&c);
    c.aggregator.compression = comp;
    c.aggregator.broadcast_compression = bcast;
    c.aggregator.fragments = F;
    c.aggregator.overlap = overlap;
    c.aggregator.error_feedback = ef;
    c.clients.local_steps = 7;
    return c;
}

static const gpt2_config gc = { .n_layer = 3, .n_head = 2, .d_model = 16, .seq_len = 8, .vocab_size = 50, .padded_vocab = 50 };

static void test_plain(void)
{
    photon_err err;
    photon_config c = config(QUANT_NONE, QUANT_NONE, 1, 0, 1);
    stream *s = stream_new(&c, &gc, 0, 1, &err);
    size_t n = gpt2_num_params(&gc);
    CHECK(s && !stream_phased(s) && stream_phases(s) == 1);
    CHECK(stream_model_blob_bytes(s) == 4 * n && stream_update_blob_bytes(s) == 4 * n);
    CHECK(stream_phase_steps(s, 0) == 7 && stream_phase_start(s, 0) == 0);
    CHECK_EQ_INT(stream_state_flags(s), CLIENT_STATE_ADAM);   /* keep is the default; EF without compression: no residual */
    float *u = calloc(n, sizeof(float));
    CHECK(stream_decode_update(s, 0, u, 4 * n, LINK_ENC_RAW, &err) == u);
    CHECK(stream_decode_update(s, 0, u, 4 * n - 4, LINK_ENC_RAW, &err) == NULL);
    CHECK_CONTAINS(err.msg, "expected");
    double down, up;
    stream_task_bytes(s, 0, 0, &down, &up);
    CHECK(down == 4.0 * (double)n && up == 4.0 * (double)n);
    /* one part: the model as it is */
    link_plan lp = { 0 };
    stream_link_plan(s, &lp);
    CHECK(link_model_parts(&lp) == 1 && link_model_part_bytes(&lp, 0) == 4 * n);
    float *theta = malloc(n * sizeof(float)), *part = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) theta[i] = (float)i - 7.5f;
    CHECK(stream_encode_part(s, theta, 0, part) == LINK_ENC_RAW && memcmp(part, theta, 4 * n) == 0);
    stream_free(s);
    /* fp32 in 3 fragments: each part is its fragment's compact form */
    c = config(QUANT_NONE, QUANT_NONE, 3, 0, 1);
    s = stream_new(&c, &gc, 0, 1, &err);
    fragment_plan *p = fragment_plan_new(&gc, 3, &err);
    stream_link_plan(s, &lp);
    CHECK(link_model_parts(&lp) == 3);
    for (int f = 0; f < 3; f++) {
        size_t m = fragment_elems(p, f);
        CHECK(link_model_part_bytes(&lp, f) == 4 * m);
        CHECK(stream_encode_part(s, theta, f, part) == LINK_ENC_RAW);
        fragment_gather(p, f, theta, u);
        CHECK_MSG(memcmp(part, u, 4 * m) == 0, "fp32 part %d is fragment_gather of theta", f);
    }
    fragment_plan_free(p);
    free(u); free(theta); free(part);
    stream_free(s);
}

static void test_compressed_fragments(void)
{
    photon_err err;
    photon_config c = config(QUANT_INT8, QUANT_BF16, 2, 1, 1);
    stream *s = stream_new(&c, &gc, 0, 1, &err);
    fragment_plan *p = fragment_plan_new(&gc, 2, &err);
    size_t n = gpt2_num_params(&gc), m0 = fragment_elems(p, 0), m1 = fragment_elems(p, 1);
    CHECK(stream_phased(s) && stream_phases(s) == 2);
    CHECK_EQ_INT(stream_state_flags(s), CLIENT_STATE_ADAM | CLIENT_STATE_LOCAL | CLIENT_STATE_RESID);
    CHECK(stream_phase_steps(s, 0) == 4 && stream_phase_steps(s, 1) == 3 && stream_phase_start(s, 1) == 4);
    CHECK(stream_model_blob_bytes(s) == quant_bytes(QUANT_BF16, m0) + quant_bytes(QUANT_BF16, m1));
    size_t big = m0 > m1 ? m0 : m1, small = m0 > m1 ? m1 : m0;
    int fs = m0 > m1 ? 1 : 0;   /* the smaller fragment */
    CHECK(stream_update_blob_bytes(s) == quant_bytes(QUANT_INT8, big));

    /* Refused: another encoding, one byte more or less (the slot has room
     * for the larger fragment), raw floats of the right count. */
    size_t want = quant_bytes(QUANT_INT8, small);
    uint8_t *blob = calloc(quant_bytes(QUANT_NONE, big), 1);
    CHECK(stream_decode_update(s, fs, blob, want, QUANT_FP4, &err) == NULL);
    CHECK_CONTAINS(err.msg, "encoded fp4");
    CHECK(stream_decode_update(s, fs, blob, want + 1, QUANT_INT8, &err) == NULL);
    CHECK(stream_decode_update(s, fs, blob, want - 1, QUANT_INT8, &err) == NULL);
    CHECK(stream_decode_update(s, fs, blob, 4 * small, LINK_ENC_RAW, &err) == NULL);
    CHECK(stream_decode_update(s, fs, blob, want, 200, &err) == NULL);
    /* Accepted: decoded as gpu/quant.c decodes, NaN scales included. */
    float *x = malloc(small * sizeof(float)), *ref = malloc(small * sizeof(float));
    for (size_t i = 0; i < small; i++) x[i] = (float)((int)(i % 13) - 6) * 0.01f;
    x[3] = NAN;
    quant_encode(QUANT_INT8, x, small, blob, 1);
    quant_decode(QUANT_INT8, blob, small, ref, 1);
    const float *got = stream_decode_update(s, fs, blob, want, QUANT_INT8, &err);
    CHECK(got && memcmp(got, ref, small * sizeof(float)) == 0 && isnan(got[0]));

    /* Transfers: a reset client gets the whole model, a continuing one the
     * fragment synchronised last phase; updates are their fragment's. */
    double down, up;
    stream_task_bytes(s, 1, 0, &down, &up);
    CHECK(down == (double)stream_model_blob_bytes(s) && up == (double)quant_bytes(QUANT_INT8, m1));
    stream_task_bytes(s, 1, 1, &down, &up);
    CHECK(down == (double)quant_bytes(QUANT_BF16, m0));
    stream_task_bytes(s, 0, 1, &down, &up);
    CHECK(down == (double)quant_bytes(QUANT_BF16, m1) && up == (double)quant_bytes(QUANT_INT8, m0));

    /* The broadcast: one part per fragment, each decodable on its own. */
    link_plan lp = { 0 };
    stream_link_plan(s, &lp);
    CHECK(stream_model_parts(s) == 2 && link_model_parts(&lp) == 2 && lp.model_bytes == stream_model_blob_bytes(s));
    CHECK(link_model_part_bytes(&lp, 0) == quant_bytes(QUANT_BF16, m0) &&
          link_model_part_bytes(&lp, 1) == quant_bytes(QUANT_BF16, m1));
    float *theta = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float)), *tmp = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) theta[i] = (float)i * 1e-3f + 1.0f;
    uint8_t *mb = malloc(stream_model_blob_bytes(s));
    CHECK(stream_encode_part(s, theta, 0, mb) == QUANT_BF16);
    CHECK(stream_encode_part(s, theta, 1, mb + quant_bytes(QUANT_BF16, m0)) == QUANT_BF16);
    quant_decode(QUANT_BF16, mb, m0, tmp, 1);
    fragment_scatter(p, 0, tmp, back);
    quant_decode(QUANT_BF16, mb + quant_bytes(QUANT_BF16, m0), m1, tmp, 1);
    fragment_scatter(p, 1, tmp, back);
    int close = 1;
    for (size_t i = 0; i < n; i++) close &= fabsf(back[i] - theta[i]) <= fabsf(theta[i]) * (1.0f / 256);
    CHECK_MSG(close, "bf16 broadcast decodes within half a bf16 ulp");

    /* Norm references per fragment, kept across phases. */
    agg *a = agg_create(n, 1);
    stream_phase_begin(s, a, 0);
    CHECK(agg_params(a) == m0);
    agg_set_reference(a, 3.5);
    stream_phase_end(s, a, 0);
    stream_phase_begin(s, a, 1);
    CHECK(agg_params(a) == m1 && agg_reference(a) == 0);
    stream_phase_end(s, a, 1);
    stream_phase_begin(s, a, 0);
    CHECK(agg_reference(a) == 3.5);
    int nr;
    const double *refs = stream_references(s, &nr);
    CHECK(nr == 2 && refs[0] == 3.5 && refs[1] == 0);
    double bad[1] = { 1 };
    CHECK(stream_set_references(s, bad, 1, &err) == -1);
    agg_free(a);
    free(x); free(ref); free(blob); free(theta); free(back); free(tmp); free(mb);
    fragment_plan_free(p);
    stream_free(s);
}

/* The fragment step is the whole step restricted: run nesterov on each
 * fragment in turn and on the whole vector with the same Δ; bitwise equal,
 * and a fragment step leaves the other fragment (and its momentum) alone. */
static void test_outer_step_on_fragments(void)
{
    photon_err err;
    photon_config c = config(QUANT_NONE, QUANT_NONE, 3, 0, 0);
    stream *s = stream_new(&c, &gc, 0, 1, &err);
    fragment_plan *p = fragment_plan_new(&gc, 3, &err);
    size_t n = gpt2_num_params(&gc);
    outer_opt *whole = outer_opt_create(STRAT_NESTEROV, 0.7, 0.9, n, 1, &err);
    outer_opt *parts = outer_opt_create(STRAT_NESTEROV, 0.7, 0.9, n, 1, &err);
    float *t1 = malloc(n * sizeof(float)), *t2 = malloc(n * sizeof(float)), *d = malloc(n * sizeof(float));
    float *dc = malloc(fragment_max_elems(p) * sizeof(float));
    for (size_t i = 0; i < n; i++) { t1[i] = t2[i] = (float)i * 0.01f; d[i] = (float)((i * 7919) % 101) * 1e-3f - 0.05f; }
    for (int step = 0; step < 3; step++) {
        outer_opt_step(whole, t1, d);
        for (int f = 0; f < 3; f++) {
            fragment_gather(p, f, d, dc);
            stream_outer_step(s, parts, t2, f, dc);
        }
    }
    size_t nm1, nm2;
    CHECK(memcmp(t1, t2, n * sizeof(float)) == 0);
    CHECK(memcmp(outer_opt_state(whole, &nm1), outer_opt_state(parts, &nm2), n * sizeof(float)) == 0);
    memcpy(t1, t2, n * sizeof(float));
    fragment_gather(p, 1, d, dc);
    stream_outer_step(s, parts, t2, 1, dc);
    int nr;
    const frag_range *r = fragment_ranges(p, 1, &nr);
    size_t changed = 0, outside = 0;
    for (size_t i = 0; i < n; i++) {
        int in = 0;
        for (int k = 0; k < nr; k++) in |= i >= r[k].off && i < r[k].off + r[k].len;
        if (t1[i] != t2[i]) { changed++; outside += !in; }
    }
    CHECK_MSG(changed > 0 && outside == 0, "a fragment step changes %zu elements, %zu outside it", changed, outside);
    free(t1); free(t2); free(d); free(dc);
    outer_opt_free(whole);
    outer_opt_free(parts);
    fragment_plan_free(p);
    stream_free(s);
}

static void test_client_state(void)
{
    photon_err err;
    photon_config c = config(QUANT_FP4, QUANT_NONE, 2, 0, 1);
    int flags = client_state_flags(&c, 0);
    CHECK_EQ_INT(flags, CLIENT_STATE_ADAM | CLIENT_STATE_LOCAL | CLIENT_STATE_RESID);
    CHECK_EQ_INT(client_state_flags(&c, 1), CLIENT_STATE_ADAM);   /* centralized */
    c.clients.optimizer_state = OPTSTATE_RESET;   /* the moments still go from phase to phase of a round */
    CHECK_EQ_INT(client_state_flags(&c, 0), CLIENT_STATE_ADAM | CLIENT_STATE_LOCAL | CLIENT_STATE_RESID);
    c.aggregator.fragments = 1;
    c.aggregator.overlap = 1;                     /* one phase a round: nothing to carry */
    CHECK_EQ_INT(client_state_flags(&c, 0), CLIENT_STATE_LOCAL | CLIENT_STATE_RESID);
    c.aggregator.fragments = 2;
    size_t n = 10, bytes = client_state_bytes(flags, n);
    CHECK(bytes == 64 + 4 * 10 * 4);
    void *blob = calloc(1, bytes);
    client_state_view v = client_state_init(blob, flags, n), w;
    CHECK(v.adam_m && v.adam_v == v.adam_m + n && v.local == v.adam_m + 2 * n && v.resid == v.local + n);
    CHECK(client_state_open(blob, bytes, flags, n, &w, &err) == 0 && w.resid == v.resid);
    CHECK(client_state_open(blob, bytes - 1, flags, n, &w, &err) == -1);           /* truncated */
    CHECK(client_state_open(blob, bytes, CLIENT_STATE_ADAM, n, &w, &err) == -1);   /* other sections */
    CHECK(client_state_open(blob, bytes, flags, n + 1, &w, &err) == -1);
    CHECK(client_state_open(blob, 10, flags, n, &w, &err) == -1);
    free(blob);
}

int main(void)
{
    RUN(test_plain);
    RUN(test_compressed_fragments);
    RUN(test_outer_step_on_fragments);
    RUN(test_client_state);
    return th_finish();
}
