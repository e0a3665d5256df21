/* The CPU backend against PyTorch: tests/fixtures/gpt2_tiny.bin (written by
 * tests/gen_model_fixture.py, float64 PyTorch) holds weights, a batch, the
 * logits, loss, every gradient and 10 AdamW steps of the same tiny GPT-2
 * with a padded vocabulary.  Also: determinism across runs, gradient
 * accumulation, and no allocation inside steps after the first. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "gpu/model.h"
#include "io/config.h"

typedef struct {
    int L, NH, C, maxT, V, Vp, B, T, steps;
    float lr, min_ratio, warmup, total, beta1, beta2, eps, wd, clip;
    uint32_t *tokens;
    float *params, *logits, loss, *grads, *step_losses, *final;
    size_t P;
} fixture;

static int rd(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

static int load_fixture(fixture *x)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/gpt2_tiny.bin", th_source_dir());
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return -1; }
    char magic[8];
    int32_t h[10];
    float hp[9];
    int bad = rd(f, magic, 8) || memcmp(magic, "GPT2FIX1", 8) != 0 || rd(f, h, sizeof h) || h[0] != 1 ||
              rd(f, hp, sizeof hp);
    if (bad) { fclose(f); fprintf(stderr, "%s: bad header\n", path); return -1; }
    x->L = h[1]; x->NH = h[2]; x->C = h[3]; x->maxT = h[4]; x->V = h[5]; x->Vp = h[6];
    x->B = h[7]; x->T = h[8]; x->steps = h[9];
    x->lr = hp[0]; x->min_ratio = hp[1]; x->warmup = hp[2]; x->total = hp[3];
    x->beta1 = hp[4]; x->beta2 = hp[5]; x->eps = hp[6]; x->wd = hp[7]; x->clip = hp[8];
    gpt2_config c = { x->L, x->NH, x->C, x->maxT, x->V, x->Vp };
    x->P = gpt2_num_params(&c);
    size_t ntok = (size_t)x->B * (x->T + 1), nlog = (size_t)x->B * x->T * x->V;
    x->tokens = malloc(ntok * 4);
    x->params = malloc(x->P * 4);
    x->logits = malloc(nlog * 4);
    x->grads = malloc(x->P * 4);
    x->step_losses = malloc((size_t)x->steps * 4);
    x->final = malloc(x->P * 4);
    bad = rd(f, x->tokens, ntok * 4) || rd(f, x->params, x->P * 4) || rd(f, x->logits, nlog * 4) ||
          rd(f, &x->loss, 4) || rd(f, x->grads, x->P * 4) || rd(f, x->step_losses, (size_t)x->steps * 4) ||
          rd(f, x->final, x->P * 4) || fgetc(f) != EOF;
    fclose(f);
    if (bad) { fprintf(stderr, "%s: truncated or wrong size\n", path); return -1; }
    return 0;
}

static fixture fx;
static int have_fx;

static photon_model *make_model(int threads)
{
    gpt2_config c = { fx.L, fx.NH, fx.C, fx.maxT, fx.V, fx.Vp };
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = threads };
    photon_err err;
    photon_model *m = model_create(&c, fx.B, fx.T, &o, &err);
    if (!m) fprintf(stderr, "model_create: %s\n", err.msg);
    return m;
}

/* max |a-b| over one tensor, relative to the largest |b| of that tensor */
static double tensor_rel_err(const float *a, const float *b, size_t n)
{
    double maxd = 0, maxb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > maxd) maxd = d;
        if (fabs(b[i]) > maxb) maxb = fabs(b[i]);
    }
    return maxb > 0 ? maxd / maxb : maxd;
}

static void loss_logits_grads(int threads)
{
    printf("   threads %d\n", threads);
    photon_model *m = make_model(threads);
    CHECK(m != NULL);
    if (!m) return;
    m->ops->set_params(m, fx.params);
    m->ops->zero_grad(m);
    float loss = m->ops->forward_backward(m, fx.tokens, 1.0f);
    CHECK_MSG(fabs(loss - fx.loss) <= 1e-5 * fabs(fx.loss), "loss %.8f vs torch %.8f", loss, fx.loss);

    float *g = malloc(fx.P * 4);
    m->ops->get_grads(m, g);
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        size_t off = m->layout.offset[t], n = m->layout.size[t];
        double e = tensor_rel_err(g + off, fx.grads + off, n);
        CHECK_MSG(e <= 1e-4, "grad %s: max error %.3g of its largest entry (tol 1e-4)", gpt2_tensor_name(t), e);
    }
    /* padded rows of wte get exactly zero gradient */
    int zero = 1;
    for (size_t i = (size_t)fx.V * fx.C; i < (size_t)fx.Vp * fx.C; i++) zero &= g[i] == 0.0f;
    CHECK_MSG(zero, "padded wte rows have zero gradient");

    /* logits at every position of sequence 1, padded entries -inf */
    float *lg = malloc((size_t)fx.Vp * 4);
    double maxe = 0;
    int padded_inf = 1;
    for (int pos = 0; pos < fx.T; pos++) {
        m->ops->logits_at(m, fx.tokens + (fx.T + 1), pos, lg);
        const float *ref = fx.logits + ((size_t)1 * fx.T + pos) * fx.V;
        for (int j = 0; j < fx.V; j++) maxe = fmax(maxe, fabs(lg[j] - ref[j]));
        for (int j = fx.V; j < fx.Vp; j++) padded_inf &= isinf(lg[j]) && lg[j] < 0;
    }
    CHECK_MSG(maxe <= 1e-4, "logits max abs error %.3g (tol 1e-4)", maxe);
    CHECK(padded_inf);

    /* forward_loss gives the same loss */
    float l2 = m->ops->forward_loss(m, fx.tokens);
    CHECK_MSG(fabs(l2 - fx.loss) <= 1e-5 * fabs(fx.loss), "forward_loss %.8f vs %.8f", l2, fx.loss);

    /* gradient accumulation: two half-scaled passes equal one full pass */
    float *g1 = malloc(fx.P * 4);
    m->ops->zero_grad(m);
    m->ops->forward_backward(m, fx.tokens, 0.5f);
    m->ops->forward_backward(m, fx.tokens, 0.5f);
    m->ops->get_grads(m, g1);
    CHECK_MSG(tensor_rel_err(g1, g, fx.P) <= 1e-6, "accumulated grads match one pass");
    free(g1);
    free(lg);
    free(g);
    model_destroy(m);
}

/* 1 and 3 threads too: uneven row, column and vocabulary partitions */
static void test_loss_logits_grads(void)
{
    loss_logits_grads(2);
    loss_logits_grads(1);
    loss_logits_grads(3);
}

/* 10 AdamW steps with clipping and warmup + cosine; returns the final params */
static void train(photon_model *m, float *losses, float *final)
{
    lr_schedule s = { fx.lr, fx.min_ratio, (long)fx.warmup, (long)fx.total, SCHED_COSINE };
    m->ops->set_params(m, fx.params);
    m->ops->reset_opt_state(m);
    for (int step = 0; step < fx.steps; step++) {
        m->ops->zero_grad(m);
        losses[step] = m->ops->forward_backward(m, fx.tokens, 1.0f);
        m->ops->clip_grad(m, fx.clip);
        adamw_params ap = { (float)lr_at(&s, step), fx.beta1, fx.beta2, fx.eps, fx.wd };
        m->ops->adamw_step(m, &ap);
    }
    m->ops->get_params(m, final);
}

static void test_adamw_steps(void)
{
    photon_model *m = make_model(2);
    if (!m) { CHECK(0); return; }
    float losses[64], *final = malloc(fx.P * 4);
    train(m, losses, final);
    for (int s = 0; s < fx.steps; s++)
        CHECK_MSG(fabs(losses[s] - fx.step_losses[s]) <= 1e-4 * fabs(fx.step_losses[s]),
                  "step %d loss %.7f vs torch %.7f", s, losses[s], fx.step_losses[s]);
    /* The key bias has a zero true gradient (softmax ignores a per-row
     * constant), so AdamW turns float rounding noise (1e-9 here vs 1e-18 in
     * float64) into small updates: compare it loosely and the rest tightly. */
    size_t C = (size_t)fx.C, kb = m->layout.offset[T_QKVB];
    double kbias_drift = 0;
    for (int l = 0; l < fx.L; l++)
        for (size_t i = 0; i < C; i++) {
            size_t j = kb + (size_t)l * 3 * C + C + i;
            kbias_drift = fmax(kbias_drift, fabs(final[j] - fx.final[j]));
            final[j] = fx.final[j];
        }
    /* an Adam step on pure noise moves a weight by about lr at most */
    lr_schedule sch = { fx.lr, fx.min_ratio, (long)fx.warmup, (long)fx.total, SCHED_COSINE };
    double lr_sum = 0;
    for (int st = 0; st < fx.steps; st++) lr_sum += lr_at(&sch, st);
    CHECK_MSG(kbias_drift < 1.5 * lr_sum, "key bias drift %.3g (zero true gradient; bound %.3g)", kbias_drift, 1.5 * lr_sum);
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        size_t off = m->layout.offset[t], n = m->layout.size[t];
        double e = tensor_rel_err(final + off, fx.final + off, n);
        CHECK_MSG(e <= 1e-4, "final %s: max error %.3g of its largest entry (tol 1e-4)", gpt2_tensor_name(t), e);
    }
    int64_t step;
    m->ops->get_opt_state(m, NULL, NULL, &step);
    CHECK_EQ_INT(step, fx.steps);
    free(final);
    model_destroy(m);
}

static void test_deterministic(void)
{
    float la[64], lb[64];
    float *fa = malloc(fx.P * 4), *fb = malloc(fx.P * 4);
    photon_model *a = make_model(2), *b = make_model(2);
    if (!a || !b) { CHECK(0); return; }
    train(a, la, fa);
    train(b, lb, fb);
    CHECK_MSG(memcmp(la, lb, (size_t)fx.steps * 4) == 0, "losses bitwise equal across runs");
    CHECK_MSG(memcmp(fa, fb, fx.P * 4) == 0, "params bitwise equal across runs");
    /* and a fresh init from the same seed is bitwise equal too */
    gpt2_config c = { fx.L, fx.NH, fx.C, fx.maxT, fx.V, fx.Vp };
    gpt2_init_params(&c, fa, 42, 0.02);
    gpt2_init_params(&c, fb, 42, 0.02);
    CHECK(memcmp(fa, fb, fx.P * 4) == 0);
    gpt2_init_params(&c, fb, 43, 0.02);
    CHECK(memcmp(fa, fb, fx.P * 4) != 0);
    free(fa);
    free(fb);
    model_destroy(a);
    model_destroy(b);
}

static void test_no_alloc_in_steps(void)
{
    photon_model *m = make_model(2);
    if (!m) { CHECK(0); return; }
    m->ops->set_params(m, fx.params);
    adamw_params ap = { 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f };
    size_t before = 0;
    for (int step = 0; step < 6; step++) {
        if (step == 1) { struct mallinfo2 mi = mallinfo2(); before = mi.uordblks + mi.hblkhd; }
        m->ops->zero_grad(m);
        m->ops->forward_backward(m, fx.tokens, 1.0f);
        m->ops->clip_grad(m, 1.0f);
        m->ops->adamw_step(m, &ap);
    }
    struct mallinfo2 mi = mallinfo2();
    size_t after = mi.uordblks + mi.hblkhd;
    CHECK_MSG(after == before, "heap in use unchanged over steps 2..6 (%zu -> %zu bytes)", before, after);
    model_destroy(m);
}

int main(void)
{
    have_fx = load_fixture(&fx) == 0;
    CHECK_MSG(have_fx, "fixture tests/fixtures/gpt2_tiny.bin loads");
    if (!have_fx) return th_finish();
    RUN(test_loss_logits_grads);
    RUN(test_adamw_steps);
    RUN(test_deterministic);
    RUN(test_no_alloc_in_steps);
    free(fx.tokens); free(fx.params); free(fx.logits); free(fx.grads); free(fx.step_losses); free(fx.final);
    return th_finish();
}
