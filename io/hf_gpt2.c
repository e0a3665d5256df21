/* Mapping between the flat parameter vector and Hugging Face GPT-2 tensors
 * (see io/hf_gpt2.h).  Blocked transposes keep the per-layer copies cache
 * friendly for the large MLP matrices. */
#include "io/hf_gpt2.h"
#include <stdio.h>

typedef struct {
    const char *suffix;
    gpt2_tensor t;
    int mult_rows, mult_cols;   /* HF shape in units of C; cols 0 = rank 1 */
    int transpose;
} block_entry;

/* One transformer block, in GPT2LMHeadModel state-dict order. */
static const block_entry block[] = {
    { "ln_1.weight", T_LN1W, 1, 0, 0 },
    { "ln_1.bias", T_LN1B, 1, 0, 0 },
    { "attn.c_attn.weight", T_QKVW, 1, 3, 1 },
    { "attn.c_attn.bias", T_QKVB, 3, 0, 0 },
    { "attn.c_proj.weight", T_ATTPROJW, 1, 1, 1 },
    { "attn.c_proj.bias", T_ATTPROJB, 1, 0, 0 },
    { "ln_2.weight", T_LN2W, 1, 0, 0 },
    { "ln_2.bias", T_LN2B, 1, 0, 0 },
    { "mlp.c_fc.weight", T_FCW, 1, 4, 1 },
    { "mlp.c_fc.bias", T_FCB, 4, 0, 0 },
    { "mlp.c_proj.weight", T_FCPROJW, 4, 1, 1 },
    { "mlp.c_proj.bias", T_FCPROJB, 1, 0, 0 },
};
#define BLOCK_N ((int)(sizeof block / sizeof block[0]))

int hf_gpt2_count(const gpt2_config *c)
{
    return 2 + BLOCK_N * c->n_layer + 2;
}

void hf_gpt2_tensor(const gpt2_config *c, int k, hf_tensor *o)
{
    size_t C = (size_t)c->d_model;
    o->layer = -1;
    o->transpose = 0;
    o->rank = 2;
    o->dims[1] = C;
    if (k == 0) {
        snprintf(o->name, sizeof o->name, "transformer.wte.weight");
        o->t = T_WTE;
        o->dims[0] = (size_t)c->padded_vocab;
        return;
    }
    if (k == 1) {
        snprintf(o->name, sizeof o->name, "transformer.wpe.weight");
        o->t = T_WPE;
        o->dims[0] = (size_t)c->seq_len;
        return;
    }
    int nb = BLOCK_N * c->n_layer;
    if (k >= 2 + nb) {
        int w = k - 2 - nb;
        snprintf(o->name, sizeof o->name, "transformer.ln_f.%s", w == 0 ? "weight" : "bias");
        o->t = w == 0 ? T_LNFW : T_LNFB;
        o->rank = 1;
        o->dims[0] = C;
        o->dims[1] = 1;
        return;
    }
    int layer = (k - 2) / BLOCK_N;
    const block_entry *e = &block[(k - 2) % BLOCK_N];
    snprintf(o->name, sizeof o->name, "transformer.h.%d.%s", layer, e->suffix);
    o->t = e->t;
    o->layer = layer;
    o->transpose = e->transpose;
    o->dims[0] = (size_t)e->mult_rows * C;
    if (e->mult_cols) {
        o->dims[1] = (size_t)e->mult_cols * C;
    } else {
        o->rank = 1;
        o->dims[1] = 1;
    }
}

size_t hf_tensor_numel(const hf_tensor *t)
{
    return t->dims[0] * t->dims[1];
}

size_t hf_gpt2_max_numel(const gpt2_config *c)
{
    size_t m = 0;
    int n = hf_gpt2_count(c);
    /* Only wte, wpe and the first block differ in size from the rest. */
    for (int k = 0; k < n && k < 2 + BLOCK_N; k++) {
        hf_tensor t;
        hf_gpt2_tensor(c, k, &t);
        if (hf_tensor_numel(&t) > m) m = hf_tensor_numel(&t);
    }
    return m;
}

size_t hf_gpt2_max_transposed(const gpt2_config *c)
{
    return 4 * (size_t)c->d_model * (size_t)c->d_model;   /* c_fc / mlp.c_proj */
}

size_t hf_gpt2_flat_offset(const gpt2_config *c, const gpt2_layout *l, const hf_tensor *t)
{
    size_t off = l->offset[t->t];
    if (t->layer >= 0) off += (size_t)t->layer * (l->size[t->t] / (size_t)c->n_layer);
    return off;
}

/* dst (cols, rows) = transpose of src (rows, cols), in 32x32 tiles. */
static void transpose(const float *src, float *dst, size_t rows, size_t cols)
{
    const size_t TB = 32;
    for (size_t i0 = 0; i0 < rows; i0 += TB)
        for (size_t j0 = 0; j0 < cols; j0 += TB) {
            size_t i1 = i0 + TB < rows ? i0 + TB : rows;
            size_t j1 = j0 + TB < cols ? j0 + TB : cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++)
                    dst[j * rows + i] = src[i * cols + j];
        }
}

void hf_gpt2_gather(const gpt2_config *c, const gpt2_layout *l, const hf_tensor *t,
                    const float *flat, float *out)
{
    const float *src = flat + hf_gpt2_flat_offset(c, l, t);
    if (t->transpose)   /* internal (OC, IC) = (dims[1], dims[0]) */
        transpose(src, out, t->dims[1], t->dims[0]);
    else
        for (size_t i = 0, n = hf_tensor_numel(t); i < n; i++) out[i] = src[i];
}

void hf_gpt2_scatter(const gpt2_config *c, const gpt2_layout *l, const hf_tensor *t,
                     const float *in, float *flat)
{
    float *dst = flat + hf_gpt2_flat_offset(c, l, t);
    if (t->transpose)
        transpose(in, dst, t->dims[0], t->dims[1]);
    else
        for (size_t i = 0, n = hf_tensor_numel(t); i < n; i++) dst[i] = in[i];
}
