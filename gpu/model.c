/* GPT-2 model description shared by every backend: the flat parameter
 * layout, initialisation, FLOP count, shape checks and the learning-rate
 * schedule.  Nothing here touches a device; backends live in gpu/cpu/ and
 * gpu/cuda/. */
#include <math.h>
#include <string.h>
#include "gpu/model.h"
#include "io/config.h"

int gpt2_padded_vocab(int vocab, int pad)
{
    if (pad <= 1) return vocab;
    return (int)(((long)vocab + pad - 1) / pad * pad);
}

void gpt2_layout_init(gpt2_layout *l, const gpt2_config *c)
{
    size_t L = (size_t)c->n_layer, C = (size_t)c->d_model;
    size_t Vp = (size_t)c->padded_vocab, maxT = (size_t)c->seq_len;
    size_t s[GPT2_NUM_TENSORS] = {
        [T_WTE] = Vp * C,       [T_WPE] = maxT * C,
        [T_LN1W] = L * C,       [T_LN1B] = L * C,
        [T_QKVW] = L * 3 * C * C, [T_QKVB] = L * 3 * C,
        [T_ATTPROJW] = L * C * C, [T_ATTPROJB] = L * C,
        [T_LN2W] = L * C,       [T_LN2B] = L * C,
        [T_FCW] = L * 4 * C * C, [T_FCB] = L * 4 * C,
        [T_FCPROJW] = L * C * 4 * C, [T_FCPROJB] = L * C,
        [T_LNFW] = C,           [T_LNFB] = C,
    };
    size_t off = 0;
    for (int i = 0; i < GPT2_NUM_TENSORS; i++) {
        l->size[i] = s[i];
        l->offset[i] = off;
        off += s[i];
    }
    l->total = off;
}

size_t gpt2_num_params(const gpt2_config *c)
{
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    return l.total;
}

int gpt2_tensor_decays(gpt2_tensor t)
{
    switch (t) {
    case T_WTE: case T_WPE: case T_QKVW: case T_ATTPROJW: case T_FCW: case T_FCPROJW:
        return 1;
    default:
        return 0;
    }
}

const char *gpt2_tensor_name(gpt2_tensor t)
{
    static const char *names[GPT2_NUM_TENSORS] = {
        "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
        "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
    };
    return (unsigned)t < GPT2_NUM_TENSORS ? names[t] : "?";
}

/* One RNG stream per (tensor, layer) slice, so the values do not depend on
 * how many threads fill them or on the order they are filled in. */
static void fill_normal(float *p, size_t n, uint64_t seed, int t, int layer, double std)
{
    photon_rng r;
    rng_derive(&r, seed, 0x6770743269ULL /* "gpt2i" */, (uint64_t)t, (uint64_t)layer);
    for (size_t i = 0; i < n; i++) p[i] = (float)(std * rng_normal(&r));
}

void gpt2_init_params(const gpt2_config *c, float *params, uint64_t seed, double std)
{
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    int L = c->n_layer;
    size_t C = (size_t)c->d_model;
    double resid_std = std / sqrt(2.0 * L);
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        float *p = params + l.offset[t];
        switch ((gpt2_tensor)t) {
        case T_WTE:
            /* padded rows stay zero: they never receive a gradient */
            fill_normal(p, (size_t)c->vocab_size * C, seed, t, 0, std);
            memset(p + (size_t)c->vocab_size * C, 0,
                   (size_t)(c->padded_vocab - c->vocab_size) * C * sizeof(float));
            break;
        case T_WPE:
            fill_normal(p, l.size[t], seed, t, 0, std);
            break;
        case T_QKVW: case T_FCW: case T_ATTPROJW: case T_FCPROJW: {
            size_t per = l.size[t] / (size_t)L;
            double s = (t == T_ATTPROJW || t == T_FCPROJW) ? resid_std : std;
            for (int i = 0; i < L; i++) fill_normal(p + per * (size_t)i, per, seed, t, i, s);
            break;
        }
        case T_LN1W: case T_LN2W: case T_LNFW:
            for (size_t i = 0; i < l.size[t]; i++) p[i] = 1.0f;
            break;
        default: /* biases */
            memset(p, 0, l.size[t] * sizeof(float));
            break;
        }
    }
}

/* Matrix-multiply FLOPs of forward + backward (3x forward): the weight
 * matrices and the LM head over the true vocabulary (the CPU backend never
 * multiplies padded rows), plus causal-agnostic attention (QK^T and AV over
 * the full T x T, the usual convention of the PaLM / llm.c MFU formulas). */
double gpt2_train_flops(const gpt2_config *c, int B, int T)
{
    double L = c->n_layer, C = c->d_model, V = c->vocab_size;
    double tokens = (double)B * T;
    double fwd_per_token = 2.0 * (L * 12.0 * C * C + C * V) + 2.0 * 2.0 * L * T * C;
    return 3.0 * fwd_per_token * tokens;
}

int gpt2_config_check(const gpt2_config *c, photon_err *err)
{
    if (c->n_layer < 1 || c->n_layer > 1024) { err_set(err, "model: n_layer must be in 1..1024 (got %d)", c->n_layer); return -1; }
    if (c->n_head < 1) { err_set(err, "model: n_head must be >= 1 (got %d)", c->n_head); return -1; }
    if (c->d_model < 1 || c->d_model > 65536) { err_set(err, "model: d_model must be in 1..65536 (got %d)", c->d_model); return -1; }
    if (c->d_model % c->n_head != 0) {
        err_set(err, "model: d_model (%d) must be a multiple of n_head (%d)", c->d_model, c->n_head);
        return -1;
    }
    if (c->seq_len < 1 || c->seq_len > 1 << 20) { err_set(err, "model: seq_len must be in 1..1048576 (got %d)", c->seq_len); return -1; }
    if (c->vocab_size < 2) { err_set(err, "model: vocab_size must be >= 2 (got %d)", c->vocab_size); return -1; }
    if (c->padded_vocab < c->vocab_size) {
        err_set(err, "model: padded vocabulary (%d) is smaller than the vocabulary (%d)", c->padded_vocab, c->vocab_size);
        return -1;
    }
    return 0;
}

double lr_at(const lr_schedule *s, long step)
{
    if (step < 0) step = 0;
    if (s->warmup > 0 && step < s->warmup)
        return s->lr * (double)(step + 1) / (double)s->warmup;
    if (s->kind == SCHED_CONSTANT || s->total_steps <= s->warmup) return s->lr;
    double ratio = (double)(step - s->warmup) / (double)(s->total_steps - s->warmup);
    if (ratio > 1.0) ratio = 1.0;
    double lo = s->min_ratio * s->lr;
    if (s->kind == SCHED_LINEAR) return s->lr - ratio * (s->lr - lo);
    return lo + 0.5 * (1.0 + cos(M_PI * ratio)) * (s->lr - lo);
}
