/* Memory plan of a CUDA model: every device buffer is sized here, once, and
 * carved out of one allocation at create, so a step never allocates and the
 * fit check before create uses exactly the bytes that will be asked for. */
#include <stdlib.h>
#include <string.h>
#include "gpu/cuda/cuda_model.h"
#include "gpu/cuda/flash_attention.h"

#define ALIGN 256   /* cuBLASLt picks its fastest kernels at 256-byte alignment */

struct carver {
    char *base;
    size_t off;
    void *take(size_t bytes)
    {
        void *p = base ? base + off : nullptr;
        off += (bytes + ALIGN - 1) / ALIGN * ALIGN;
        return p;
    }
};

bool cuda_flash_enabled(const gpt2_config *c, int T, int bf16)
{
    const char *e = getenv("PHOTON_CUDA_ATTENTION");
    return bf16 && e && strcmp(e, "flash") == 0 && flash_attention_supported(c->d_model, c->n_head, T);
}

size_t cuda_acts_plan(const gpt2_config *c, int B, int T, size_t elt, bool flash, char *base, cuda_acts *a)
{
    cuda_acts dummy;
    if (!a) a = &dummy;
    carver k{base, 0};
    size_t L = c->n_layer, C = c->d_model, NH = c->n_head, Vp = c->padded_vocab;
    size_t N = (size_t)B * T;
    /* per layer: probabilities (B,NH,T,T), or with flash the lse rows (B,NH,T) fp32 in elt-sized units */
    size_t TT = flash ? ((size_t)B * NH * T * sizeof(float) + elt - 1) / elt : (size_t)B * NH * T * T;
    a->att_layer = TT;
    int wide = 4 * (int)C;
    a->encoded = k.take(N * C * elt);
    a->ln1 = k.take(L * N * C * elt);
    a->qkv = k.take(L * N * 3 * C * elt);
    a->atty = k.take(L * N * C * elt);
    a->att = k.take(L * TT * elt);
    a->residual2 = k.take(L * N * C * elt);
    a->ln2 = k.take(L * N * C * elt);
    a->fch = k.take(L * N * 4 * C * elt);
    a->fch_gelu = k.take(L * N * 4 * C * elt);
    a->residual3 = k.take(L * N * C * elt);
    a->lnf = k.take(N * C * elt);
    a->logits = k.take(N * Vp * elt);
    a->ln1_mean = (float *)k.take(L * N * 4);
    a->ln1_rstd = (float *)k.take(L * N * 4);
    a->ln2_mean = (float *)k.take(L * N * 4);
    a->ln2_rstd = (float *)k.take(L * N * 4);
    a->lnf_mean = (float *)k.take(N * 4);
    a->lnf_rstd = (float *)k.take(N * 4);
    a->losses = (float *)k.take(N * 4);
    a->proj = k.take(N * C * elt);
    a->qkvr = k.take(3 * N * C * elt);
    a->vaccum = k.take(N * C * elt);
    a->scores = k.take(TT * elt);
    a->dresidual = k.take(N * C * elt);
    a->dbtc = k.take(N * C * elt);
    a->dbt4c = k.take(N * 4 * C * elt);
    a->dqkv = k.take(N * 3 * C * elt);
    a->dqkvr = k.take(3 * N * C * elt);
    a->colsum = (float *)k.take(2 * colsum_scratch_floats((int)N, wide) * 4);
    a->norm_partials = (float *)k.take(GLOBAL_NORM_BLOCKS * 4);
    a->scalars = (float *)k.take(2 * 4);
    a->logits_f32 = (float *)k.take(Vp * 4);
    a->tok = (int *)k.take((5 * N + 1) * sizeof(int));
    return k.off;
}

size_t cuda_params_bytes(const gpt2_config *c, int bf16)
{
    size_t P = gpt2_num_params(c);
    return P * 4 * 4 + (bf16 ? P * 2 : 0);   /* master, grads, m, v (+ bf16 copy) */
}

extern "C" size_t cuda_model_bytes(const gpt2_config *c, int B, int T, int bf16)
{
    size_t cublas = 32u << 20;   /* the matmul workspace (matmul.cu) */
    return cuda_params_bytes(c, bf16) + cuda_acts_plan(c, B, T, bf16 ? 2 : 4, cuda_flash_enabled(c, T, bf16), nullptr,
                                                       nullptr) + cublas;
}
