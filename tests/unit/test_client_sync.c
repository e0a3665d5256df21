/* The client's side of streaming and compressed exchanges
 * (actors/client_sync.h), with a real trainer on a tiny model whose
 * learning rate is 0 (AdamW then leaves every parameter as it starts), so
 * each task's start model, merge, update and new state can be checked
 * element by element against the documented rule:
 *   reset (no state, or its local model is not from the previous phase):
 *     start = global, update = 0, state local = global;
 *   continuing without overlap: start = local with fragment f−1 replaced by
 *     the global one; update = global_f − local_f;
 *   continuing with overlap: start = local; after training fragment f−1 is
 *     mixed: α·local + (1−α)·global;
 *   error feedback: update = encode(Δ_f + r_f), r_f = what it dropped, the
 *     other fragments' residual carried over; the broadcast is one part
 *     per fragment, decoded on its own (a new part replaces its fragment
 *     only), and a part of the wrong size or encoding is refused. */
#include "harness.h"
#include "actors/client_sync.h"
#include "actors/client_state.h"
#include "gpu/quant.h"
#include "io/prepare.h"
#include "io/shard.h"
#include <stdlib.h>

static const gpt2_config gc = { .n_layer = 1, .n_head = 2, .d_model = 8, .seq_len = 8, .vocab_size = 16, .padded_vocab = 16 };
static char dir[200];

static photon_config config(int F, int overlap, float mix, int comp, int bcast, int ef)
{
    photon_config c;
    config_defaults(&c);
    snprintf(c.data.prepared_dir, sizeof c.data.prepared_dir, "%s", dir);
    c.run.threads = 1;
    c.model.seq_len = gc.seq_len;
    c.run.backend = BACKEND_CPU;
    c.clients.count = 1;
    c.clients.actors = 1;
    c.clients.batch_size = 2;
    c.clients.local_steps = 4;
    c.clients.lr = 0;              /* the trained model is the start model, bit for bit */
    c.clients.warmup = 0;
    c.aggregator.fragments = F;
    c.aggregator.overlap = overlap;
    c.aggregator.overlap_mix = mix;
    c.aggregator.compression = comp;
    c.aggregator.broadcast_compression = bcast;
    c.aggregator.error_feedback = ef;
    return c;
}

static float val(uint64_t *s) { return (float)((double)(splitmix64(s) >> 40) / 16777216.0 - 0.5); }

typedef struct {
    photon_config cfg;
    trainer *tr;
    client_sync *cs;
    fragment_plan *fp;
    size_t n;
    int flags;
    float *global, *local0, *resid0;
    void *in, *out, *upd;
} fixture;

static void setup(fixture *x, photon_config cfg)
{
    photon_err err;
    memset(x, 0, sizeof *x);
    x->cfg = cfg;
    x->tr = trainer_new(&x->cfg, &gc, 0, &err);
    x->cs = client_sync_new(&x->cfg, &gc, &err);
    x->fp = fragment_plan_new(&gc, cfg.aggregator.fragments, &err);
    CHECK_MSG(x->tr && x->cs && x->fp, "set-up: %s", x->tr && x->cs && x->fp ? "" : err.msg);
    x->n = gpt2_num_params(&gc);
    x->flags = client_state_flags(&x->cfg, 0);
    x->global = malloc(x->n * sizeof(float));
    x->local0 = malloc(x->n * sizeof(float));
    x->resid0 = malloc(x->n * sizeof(float));
    uint64_t s = 17;
    gpt2_init_params(&gc, x->global, 3, 0.02);
    for (size_t i = 0; i < x->n; i++) { x->local0[i] = x->global[i] + 0.01f * val(&s); x->resid0[i] = 1e-4f * val(&s); }
    size_t sb = client_state_bytes(x->flags, x->n);
    x->in = calloc(1, sb);
    x->out = calloc(1, sb);
    x->upd = calloc(1, quant_bytes(QUANT_NONE, x->n));
}

static void teardown(fixture *x)
{
    trainer_free(x->tr);
    client_sync_free(x->cs);
    fragment_plan_free(x->fp);
    free(x->global); free(x->local0); free(x->resid0); free(x->in); free(x->out); free(x->upd);
}

/* A kept state with local model local0 written by phase `sync`. */
static void *state(fixture *x, int64_t sync)
{
    client_state_view v = client_state_init(x->in, x->flags, x->n);
    if (v.local) memcpy(v.local, x->local0, x->n * sizeof(float));
    if (v.resid) memcpy(v.resid, x->resid0, x->n * sizeof(float));
    v.h->sync = sync;
    return x->in;
}

static int task(fixture *x, int fragment, int64_t sync, const void *in, size_t *bytes, uint32_t *enc)
{
    photon_err err;
    msg_task t;
    memset(&t, 0, sizeof t);
    t.task_id = 1;
    t.local_steps = 2;
    t.keep_state = 1;
    t.state_flags = x->flags;
    t.fragment = fragment;
    t.sync = sync;
    t.n_clients = 1;
    t.per_round = 1;
    msg_result r;
    int rc = client_sync_run(x->cs, x->tr, &t, x->global, in, x->out, x->upd, bytes, enc, &r, &err);
    if (rc < 0) printf("%s\n", err.msg);
    return rc;
}

static int in_fragment(const fragment_plan *p, int f, size_t i)
{
    int nr;
    const frag_range *r = fragment_ranges(p, f, &nr);
    for (int k = 0; k < nr; k++) if (i >= r[k].off && i < r[k].off + r[k].len) return 1;
    return 0;
}

static void test_reset_and_continue(void)
{
    fixture x;
    setup(&x, config(2, 0, 0.5f, QUANT_NONE, QUANT_NONE, 0));
    size_t bytes;
    uint32_t enc;
    client_state_view out = client_state_at(x.out, x.flags, x.n);
    size_t m1 = fragment_elems(x.fp, 1);

    /* no state: a reset */
    CHECK(task(&x, 1, 5, NULL, &bytes, &enc) == 0);
    CHECK(bytes == 4 * m1 && enc == LINK_ENC_RAW);
    const float *u = x.upd;
    int zero = 1;
    for (size_t i = 0; i < m1; i++) zero &= u[i] == 0.0f;
    CHECK_MSG(zero, "a reset client's update is 0 (lr 0)");
    CHECK(memcmp(out.local, x.global, x.n * sizeof(float)) == 0 && out.h->sync == 5);

    /* a state from phase 3 is stale for phase 5: a reset too */
    CHECK(task(&x, 1, 5, state(&x, 3), &bytes, &enc) == 0);
    CHECK(memcmp(out.local, x.global, x.n * sizeof(float)) == 0);

    /* continuing (state from phase 4), fragment 1: fragment 0 from global */
    CHECK(task(&x, 1, 5, state(&x, 4), &bytes, &enc) == 0);
    int start_ok = 1, upd_ok = 1;
    for (size_t i = 0, k = 0; i < x.n; i++) {
        float want = in_fragment(x.fp, 0, i) ? x.global[i] : x.local0[i];
        start_ok &= out.local[i] == want;
        if (in_fragment(x.fp, 1, i)) upd_ok &= u[k++] == x.global[i] - x.local0[i];
    }
    CHECK_MSG(start_ok, "continuing: the local model with the last synced fragment from the global model");
    CHECK_MSG(upd_ok, "the update is global_f - local_f, compact in layout order");
    teardown(&x);
}

static void test_overlap_merge(void)
{
    fixture x;
    const float a = 0.25f;
    setup(&x, config(2, 1, a, QUANT_NONE, QUANT_NONE, 0));
    size_t bytes;
    uint32_t enc;
    client_state_view out = client_state_at(x.out, x.flags, x.n);
    const float *u = x.upd;
    /* fragment 0 this phase: fragment 1 was sent last phase and arrives now */
    CHECK(task(&x, 0, 8, state(&x, 7), &bytes, &enc) == 0);
    int ok = 1, upd_ok = 1;
    for (size_t i = 0, k = 0; i < x.n; i++) {
        float want = in_fragment(x.fp, 1, i) ? a * x.local0[i] + (1.0f - a) * x.global[i] : x.local0[i];
        ok &= out.local[i] == want;
        if (in_fragment(x.fp, 0, i)) upd_ok &= u[k++] == x.global[i] - x.local0[i];
    }
    CHECK_MSG(ok, "overlap: trained on the stale fragment, then mixed alpha*local + (1-alpha)*global");
    CHECK_MSG(upd_ok, "overlap: update of fragment 0 from the unmixed local model");
    /* a reset client has nothing in flight: no mixing */
    CHECK(task(&x, 0, 8, NULL, &bytes, &enc) == 0);
    CHECK(memcmp(out.local, x.global, x.n * sizeof(float)) == 0);
    teardown(&x);
}

static void test_error_feedback_and_broadcast(void)
{
    photon_err err;
    fixture x;
    setup(&x, config(2, 0, 0.5f, QUANT_INT8, QUANT_BF16, 1));
    size_t bytes;
    uint32_t enc;
    client_state_view out = client_state_at(x.out, x.flags, x.n);
    size_t m1 = fragment_elems(x.fp, 1);
    CHECK(task(&x, 1, 2, state(&x, 1), &bytes, &enc) == 0);
    CHECK(bytes == quant_bytes(QUANT_INT8, m1) && enc == QUANT_INT8);
    /* expected: e = (global − local0)_1 + r_1, encoded with feedback */
    float *e = malloc(m1 * sizeof(float)), *r = malloc(m1 * sizeof(float)), *rout = malloc(m1 * sizeof(float));
    uint8_t *want = malloc(quant_bytes(QUANT_INT8, m1));
    for (size_t i = 0, k = 0; i < x.n; i++)
        if (in_fragment(x.fp, 1, i)) { e[k] = x.global[i] - x.local0[i]; r[k] = x.resid0[i]; k++; }
    quant_encode_ef(QUANT_INT8, e, r, m1, want, 1);
    CHECK_MSG(memcmp(x.upd, want, bytes) == 0, "the update is encode(delta + residual)");
    fragment_gather(x.fp, 1, out.resid, rout);
    CHECK_MSG(memcmp(rout, r, m1 * sizeof(float)) == 0, "the new residual is what the encoding dropped");
    int kept = 1;
    for (size_t i = 0; i < x.n; i++) if (in_fragment(x.fp, 0, i)) kept &= out.resid[i] == x.resid0[i];
    CHECK_MSG(kept, "the other fragment's residual is carried over");

    /* the broadcast: one bf16 part per fragment; the wrong size or encoding is refused */
    size_t mb[2] = { quant_bytes(QUANT_BF16, fragment_elems(x.fp, 0)), quant_bytes(QUANT_BF16, m1) };
    uint8_t *blob[2] = { malloc(mb[0]), malloc(mb[1]) };
    float *tmp = malloc(x.n * sizeof(float)), *dec = malloc(x.n * sizeof(float));
    CHECK(client_sync_parts(x.cs) == 2);
    for (int f = 0; f < 2; f++) {
        fragment_gather(x.fp, f, x.global, tmp);
        quant_encode(QUANT_BF16, tmp, fragment_elems(x.fp, f), blob[f], 1);
        quant_decode(QUANT_BF16, blob[f], fragment_elems(x.fp, f), tmp, 1);
        fragment_scatter(x.fp, f, tmp, dec);
        CHECK(!client_sync_has_part(x.cs, f, 9));
        CHECK(client_sync_part(x.cs, f, blob[f], mb[f], QUANT_BF16, 9, 1, &err) == 0);
        CHECK(client_sync_has_part(x.cs, f, 9) && !client_sync_has_part(x.cs, f, 10));
    }
    const float *g = client_sync_global(x.cs);
    CHECK(g && memcmp(g, dec, x.n * sizeof(float)) == 0);
    /* a new part 1 changes fragment 1 only; part 0 is held as it was */
    for (size_t i = 0; i < x.n; i++) tmp[i] = 2.0f * x.global[i];
    float *g2 = malloc(x.n * sizeof(float));
    fragment_gather(x.fp, 1, tmp, g2);
    quant_encode(QUANT_BF16, g2, m1, blob[1], 1);
    quant_decode(QUANT_BF16, blob[1], m1, g2, 1);
    fragment_scatter(x.fp, 1, g2, dec);
    CHECK(client_sync_part(x.cs, 1, blob[1], mb[1], QUANT_BF16, 10, 1, &err) == 0);
    CHECK(client_sync_has_part(x.cs, 0, 9) && client_sync_has_part(x.cs, 1, 10));
    CHECK_MSG(memcmp(client_sync_global(x.cs), dec, x.n * sizeof(float)) == 0, "part 1 replaced, part 0 kept");
    CHECK(client_sync_part(x.cs, 1, blob[1], mb[1] - 1, QUANT_BF16, 11, 1, &err) < 0);
    CHECK_CONTAINS(err.msg, "plan says");
    CHECK(client_sync_part(x.cs, 1, blob[1], mb[1], QUANT_NONE, 11, 1, &err) < 0);
    CHECK(client_sync_part(x.cs, 0, blob[1], mb[1], QUANT_BF16, 11, 1, &err) < 0 || mb[0] == mb[1]);
    free(e); free(r); free(rout); free(want); free(blob[0]); free(blob[1]); free(tmp); free(dec); free(g2);
    teardown(&x);
}

int main(void)
{
    photon_err err;
    snprintf(dir, sizeof dir, "%s", th_tmpdir());
    uint32_t tok[512];
    for (int i = 0; i < 512; i++) tok[i] = (uint32_t)(i * 7 % 16);
    photon_config c = config(1, 0, 0.5f, 0, 0, 0);
    char path[1100];
    prepare_client_shard(&c, 0, path, sizeof path);
    if (shard_write(path, tok, 512, 0, &err) < 0) { printf("%s\n", err.msg); return 1; }
    RUN(test_reset_and_continue);
    RUN(test_overlap_merge);
    RUN(test_error_feedback_and_broadcast);
    return th_finish();
}
