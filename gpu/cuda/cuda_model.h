/* The CUDA model instance (C++ only): device buffers, their memory plan and
 * the GPT-2 forward/backward graph.  backend_cuda.cu exposes it through
 * backend_ops; model_memory.cu sizes and carves the buffers; model_graph.cu
 * runs the layers. */
#ifndef PHOTON_CUDA_MODEL_H
#define PHOTON_CUDA_MODEL_H
#include "gpu/cuda/cuda_api.h"
#include "gpu/cuda/kernels.h"

/* Activations and scratch, in the compute type (void * so one struct serves
 * both modes; model_graph.cu casts).  Per-layer tensors are L consecutive
 * slices of the allocated (B, T) size. */
struct cuda_acts {
    void *encoded;                          /* (N, C) */
    void *ln1, *qkv, *atty, *att;           /* (L,N,C) (L,N,3C) (L,N,C) (L,B,NH,T,T) */
    void *residual2, *ln2, *fch, *fch_gelu; /* (L,N,C) (L,N,C) (L,N,4C) (L,N,4C) */
    void *residual3, *lnf, *logits;         /* (L,N,C) (N,C) (N,Vp) */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lnf_mean, *lnf_rstd; /* (L,N) / (N) */
    float *losses;                          /* (N) */
    /* scratch shared by all layers */
    void *proj, *qkvr, *vaccum, *scores;    /* (N,C) (3,N,C) (N,C) (B,NH,T,T) */
    void *dresidual, *dbtc, *dbt4c, *dqkv, *dqkvr; /* (N,C) (N,C) (N,4C) (N,3C) (3,N,C) */
    float *colsum;                          /* layernorm/bias partial sums */
    float *norm_partials, *scalars;         /* GLOBAL_NORM_BLOCKS; [0] loss [1] norm */
    float *logits_f32;                      /* (Vp) for logits_at */
    int *tok;                               /* inputs N | targets N | uniq N | offsets N+1 | positions N */
    size_t att_layer;                       /* elements of att per layer: B*NH*T*T, or the lse floats with flash */
};

struct cuda_model {
    photon_model base;         /* first: the public handle */
    int dev, bf16;
    size_t elt;                /* bytes of the compute type */
    cudaStream_t stream;
    matmul_ctx mm;
    size_t P;                  /* parameters */
    float *master, *grads, *m, *v;
    void *params;              /* compute copy; == master in fp32 mode */
    int64_t step;
    cuda_acts a;
    void *param_block, *act_block;
    size_t allocated, peak_used;
    int *h_tok;                /* pinned staging of cuda_acts.tok */
    int *h_count;              /* Vp counters for the token buckets */
    float *h_scalars;          /* pinned [loss, norm] */
    int n_uniq;
};

/* Whether flash attention runs for this model: bf16, PHOTON_CUDA_ATTENTION=flash
 * and a shape flash_attention.cu supports. */
bool cuda_flash_enabled(const gpt2_config *c, int T, int bf16);
/* Bytes of the activation block for (B, T) with elements of elt bytes; when
 * a is given, carves the block at base into it.  With flash, att and scores
 * shrink to (B, NH, T) fp32 (lse and D) instead of (B, NH, T, T). */
size_t cuda_acts_plan(const gpt2_config *c, int B, int T, size_t elt, bool flash, char *base, cuda_acts *a);
/* Bytes of parameters + gradients + AdamW state (+ bf16 copy). */
size_t cuda_params_bytes(const gpt2_config *c, int bf16);

/* Uploads (B, Tn+1) token windows (inputs/targets, buckets), async; false
 * (after logging which token) when a token is outside the vocabulary. */
bool cuda_model_upload_tokens(cuda_model *cm, const uint32_t *tokens, int B, int Tn, bool targets);
/* Forward over (B, Tn) (Tn <= allocated T); with targets, fills a.losses and
 * the mean loss into a.scalars[0]; with backward also the backward pass,
 * d loss_i = dloss (gradients accumulate).  Asynchronous. */
void cuda_model_run(cuda_model *cm, int B, int Tn, bool targets, bool backward, float dloss);
#endif
