/* Kernel-level entry points for the C tests in tests/gpu/: each takes host
 * fp32 arrays, runs one kernel group of gpu/cuda/ on GPU 0 in fp32 (bf16 = 0)
 * or bf16 (bf16 = 1: inputs rounded to bf16 on upload, outputs widened on
 * download), waits, and copies the results back.  Shapes and semantics are
 * those of gpu/cuda/kernels.h; "accumulates" means the array is read as the
 * starting value.  Each returns 0, or -1 when no GPU is usable. */
#ifndef PHOTON_CUDA_TEST_API_H
#define PHOTON_CUDA_TEST_API_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/* x rounded to the nearest bf16 (round-to-nearest-even), as a float. */
float cudatest_round_bf16(float x);
void cudatest_round_bf16_array(float *x, size_t n);

int cudatest_encoder_forward(int bf16, float *out, const int *tok, const float *wte, const float *wpe,
                             int B, int T, int C, int V);
/* dwte (V, C), dwpe (T, C) accumulate. */
int cudatest_encoder_backward(int bf16, float *dwte, float *dwpe, const float *dout, const int *tok,
                              int B, int T, int C, int V);
int cudatest_layernorm_forward(int bf16, float *out, float *mean, float *rstd, const float *inp,
                               const float *w, const float *b, int N, int C);
int cudatest_fused_residual_layernorm_forward(int bf16, float *res, float *out, float *mean, float *rstd,
                                              const float *a, const float *b, const float *w, const float *bias,
                                              int N, int C);
/* dinp, dw, db accumulate. */
int cudatest_layernorm_backward(int bf16, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                const float *w, const float *mean, const float *rstd, int N, int C);
/* out = inp @ w^T + bias (bias may be NULL); with pre_gelu: pre_gelu = that, out = gelu(it).
 * epilogues 0 forces the plain-GEMM path, 1 tries the cuBLASLt epilogues. */
int cudatest_matmul_forward(int bf16, int epilogues, float *out, float *pre_gelu, const float *inp, const float *w,
                            const float *bias, int N, int IC, int OC);
/* dinp overwritten; dw, db (may be NULL) accumulate. */
int cudatest_matmul_backward(int bf16, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, int N, int IC, int OC);
/* dinp = (dout @ w) * gelu'(pre_gelu) (the DGELU epilogue when epilogues = 1); dw, db accumulate. */
int cudatest_matmul_backward_gelu(int bf16, int epilogues, float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *pre_gelu, int N, int IC, int OC);
/* att (B, NH, T, T) may be NULL. */
int cudatest_attention_forward(int bf16, float *out, float *att, const float *qkv, int B, int T, int C, int NH);
int cudatest_attention_backward(int bf16, float *dqkv, const float *dout, const float *qkv, int B, int T, int C,
                                int NH);
int cudatest_gelu_forward(int bf16, float *out, const float *inp, size_t n);
/* d *= gelu'(inp), in place. */
int cudatest_gelu_backward(int bf16, float *d, const float *inp, size_t n);
int cudatest_residual_forward(int bf16, float *out, const float *a, const float *b, size_t n);
/* logits (N, Vp) in; with backward, the gradient (softmax - onehot) * dloss out. */
int cudatest_classifier(int bf16, float *losses, float *logits, const int *targets, int N, int V, int Vp,
                        int backward, float dloss);
/* One AdamW step (bias correction for step t >= 1) on n elements; params,
 * m, v updated; params_c (may be NULL) gets the bf16 compute copy. */
int cudatest_adamw(float *params, float *params_c, const float *grad, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float wd, int t);
/* *norm = ||g||; g clipped to max_norm when max_norm > 0. */
int cudatest_global_norm(float *g, size_t n, float max_norm, float *norm);
/* Mean of x (the loss reduction). */
int cudatest_mean(float *out, const float *x, int n);
#ifdef __cplusplus
}
#endif
#endif
