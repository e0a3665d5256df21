/* Launchers of the CUDA backend's kernels (C++ only).  Each group lives in
 * its own .cu file, templated on the compute type T (float or bf16) and
 * explicitly instantiated there for both.  Conventions (llm.c):
 *   B batch, T sequence, C channels, NH heads, HS = C/NH, N = B*T rows,
 *   activations row-major (N, C); weights (OC, IC) row-major as in gpu/model.h;
 *   weight and bias gradients are always fp32 and are accumulated (+=);
 *   activation gradients are type T and overwritten unless noted;
 *   every launcher is asynchronous on stream s (no host synchronisation). */
#ifndef PHOTON_CUDA_KERNELS_H
#define PHOTON_CUDA_KERNELS_H
#include "gpu/cuda/cuda_common.h"

/* ---- cast.cu: fp32 <-> T copies ------------------------------------------ */
template <typename T> void cast_from_f32(T *out, const float *in, size_t n, cudaStream_t s);
template <typename T> void cast_to_f32(float *out, const T *in, size_t n, cudaStream_t s);

/* ---- encoder.cu: token + position embedding ------------------------------
 * out (B,T,C) = wte[tok[b,t]] + wpe[t]. */
template <typename T> void encoder_forward(T *out, const int *tok, const T *wte, const T *wpe, int B, int Tn, int C, cudaStream_t s);
/* Tokens grouped by value so the wte gradient is a deterministic gather
 * instead of atomics: built on the host (it has the tokens anyway) and
 * uploaded with them.  uniq[n_uniq] token ids, offsets[n_uniq+1] into
 * positions[N] (row indices b*T+t, ascending within a token). */
void encoder_buckets_build(const int *tok, int N, int V, int *count_scratch /* V */,
                           int *uniq, int *offsets, int *positions, int *n_uniq);
/* dwte[v] += sum over rows with token v of dout[row]; dwpe[t] += sum_b dout[b,t]. */
template <typename T> void encoder_backward(float *dwte, float *dwpe, const T *dout, const int *uniq,
                                            const int *offsets, const int *positions, int n_uniq,
                                            int B, int Tn, int C, cudaStream_t s);

/* ---- layernorm.cu (eps 1e-5) ---------------------------------------------- */
/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) fp32 kept for backward. */
template <typename T> void layernorm_forward(T *out, float *mean, float *rstd, const T *inp, const T *w,
                                             const T *b, int N, int C, cudaStream_t s);
/* res = a + b, out = layernorm(res): the residual add fused into the next
 * LayerNorm so the sum is read once from registers instead of memory. */
template <typename T> void fused_residual_layernorm_forward(T *res, T *out, float *mean, float *rstd, const T *a,
                                                            const T *b, const T *w, const T *bias, int N, int C,
                                                            cudaStream_t s);
/* dinp += d/dinp; dw += sum_rows dout*norm; db += sum_rows dout.
 * scratch: colsum_scratch_floats(N, C) * 2 floats. */
template <typename T> void layernorm_backward(T *dinp, float *dw, float *db, float *scratch, const T *dout,
                                              const T *inp, const T *w, const float *mean, const float *rstd,
                                              int N, int C, cudaStream_t s);
/* Floats of per-chunk partial sums that one column reduction over (N, C) needs. */
size_t colsum_scratch_floats(int N, int C);
/* db (C) += sum over rows of dout (N, C); deterministic two-pass reduction. */
template <typename T> void bias_backward(float *db, float *scratch, const T *dout, int N, int C, cudaStream_t s);

/* ---- gelu.cu (tanh form) and residual.cu ---------------------------------- */
template <typename T> void gelu_forward(T *out, const T *inp, size_t n, cudaStream_t s);
/* d *= gelu'(inp), in place. */
template <typename T> void gelu_backward_inplace(T *d, const T *inp, size_t n, cudaStream_t s);
template <typename T> void residual_forward(T *out, const T *a, const T *b, size_t n, cudaStream_t s);
/* out (N, OC) += bias (OC) broadcast over rows (when no cuBLASLt epilogue). */
template <typename T> void add_bias(T *out, const T *bias, int N, int OC, cudaStream_t s);

/* ---- matmul.cu: cuBLASLt with bias / GELU epilogues ----------------------- */
struct matmul_ctx {
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_size;
    int epilogues;      /* 0: plain GEMMs + separate bias/GELU kernels (A/B switch) */
    struct lt_cache *cache;   /* heuristic results per GEMM shape (matmul.cu) */
    int flash;                /* PHOTON_CUDA_ATTENTION=flash: flash_attention.cu in bf16 where it applies */
};
bool matmul_ctx_init(matmul_ctx *m, cudaStream_t s, char *err, size_t n);
void matmul_ctx_free(matmul_ctx *m);
/* out (N, OC) = inp (N, IC) @ w (OC, IC)^T + bias; when pre_gelu is given,
 * pre_gelu = that and out = gelu(pre_gelu) (the fc layer). */
template <typename T> void matmul_forward(matmul_ctx *m, T *out, T *pre_gelu, const T *inp, const T *w,
                                          const T *bias, int N, int IC, int OC, cudaStream_t s);
/* dinp (N, IC) = dout @ w (overwritten); dw (OC, IC) += dout^T @ inp (fp32);
 * db (OC) += column sums of dout when db is given. */
template <typename T> void matmul_backward(matmul_ctx *m, T *dinp, float *dw, float *db, float *scratch,
                                           const T *dout, const T *inp, const T *w, int N, int IC, int OC,
                                           cudaStream_t s);

/* matmul_backward for the layer after a GELU: dinp = (dout @ w) * gelu'(pre_gelu),
 * through cuBLASLt's DGELU epilogue when it applies (saves a pass over the
 * (N, IC) gradient), else the GEMM and gelu_backward_inplace. */
template <typename T> void matmul_backward_gelu(matmul_ctx *m, T *dinp, float *dw, float *db, float *scratch,
                                                const T *dout, const T *inp, const T *w, const T *pre_gelu, int N,
                                                int IC, int OC, cudaStream_t s);

/* ---- attention.cu: causal self-attention via cuBLAS batched GEMMs --------
 * qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) softmax probabilities kept for
 * backward (with flash attention: the per-row log-sum-exp, (B,NH,T) fp32, in
 * the same buffer).  Scratch: qkvr (3*B*T*C), vaccum (B*T*C), scores (B*NH*T*T). */
template <typename T> void attention_forward(matmul_ctx *m, T *out, T *att, T *qkvr, T *vaccum, T *scores,
                                             const T *qkv, int B, int Tn, int C, int NH, cudaStream_t s);
/* dqkv (B,T,3C) overwritten; out is the forward's output.  Scratch: dqkvr
 * (3BTC), dvaccum (BTC), scores (B*NH*T*T), qkvr (3BTC, recomputed from qkv). */
template <typename T> void attention_backward(matmul_ctx *m, T *dqkv, T *dqkvr, T *dvaccum, T *scores, T *qkvr,
                                              const T *dout, const T *out, const T *qkv, const T *att, int B, int Tn,
                                              int C, int NH, cudaStream_t s);

/* ---- classifier.cu: fused softmax + cross-entropy ------------------------
 * For each row of logits (N, Vp): losses[row] = logsumexp(logits[:V]) -
 * logits[target].  With backward the gradient (softmax - onehot) * dloss
 * overwrites the logits in place (padded columns V..Vp get 0), so the
 * probabilities are never stored. */
template <typename T> void classifier_forward_backward(float *losses, T *logits, const int *targets, int N, int V,
                                                       int Vp, bool backward, float dloss, cudaStream_t s);
/* *out = mean of x[0..n) (single block, fixed order). */
void mean_reduce(float *out, const float *x, int n, cudaStream_t s);

/* ---- adamw.cu ------------------------------------------------------------
 * AdamW on fp32 master weights with fp32 moments; also refreshes the compute
 * copy (bf16) when params_c is given.  bc1 = 1 - beta1^t, bc2 = 1 - beta2^t. */
template <typename T> void adamw_update(float *master, T *params_c, const float *grad, float *m, float *v, size_t n,
                                        float lr, float beta1, float beta2, float eps, float wd, float bc1,
                                        float bc2, cudaStream_t s);

/* ---- global_norm.cu ------------------------------------------------------
 * *norm = ||g||_2 via per-block partials (fixed grid) and one final block.
 * partials: GLOBAL_NORM_BLOCKS floats. */
#define GLOBAL_NORM_BLOCKS 264
void global_norm(float *norm, float *partials, const float *g, size_t n, cudaStream_t s);
/* g *= max_norm / (norm + 1e-6) when norm > max_norm (read on the device: no sync). */
void clip_by_norm(float *g, size_t n, const float *norm, float max_norm, cudaStream_t s);
#endif
