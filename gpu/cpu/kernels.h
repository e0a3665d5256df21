/* The CPU backend's layer kernels (fp32, OpenBLAS + OpenMP), exposed so the
 * finite-difference tests can check each one on its own.
 *
 * Shapes use llm.c's names: B batch, T time, C channels, NH heads,
 * hs = C/NH head size, N = B*T rows, V true vocabulary.  Weights are stored
 * (OC, IC) row-major.  `nthr` is the number of OpenMP threads; every
 * reduction has a fixed order for a given nthr (static partitions, no
 * atomics), so results are bitwise reproducible.
 *
 * Gradient conventions: parameter gradients (dw, db, dwte, ...) are always
 * accumulated (+=); activation gradients are overwritten unless the name
 * says "acc". */
#ifndef PHOTON_CPU_KERNELS_H
#define PHOTON_CPU_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* ---- blas_setup.c ------------------------------------------------------- */
/* Once per process, before the first sgemm: makes OpenBLAS use kernels for
 * the CPU's real features when its model-number detection fell back to SSE3. */
void cpu_blas_setup(void);
const char *cpu_blas_kernels(void);   /* OpenBLAS's kernel name, e.g. "SkylakeX" */

/* ---- matmul.c: partitioned single-threaded sgemm calls ------------------- */
/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major, with the M rows split
 * across nthr OpenMP threads (each an independent single-threaded sgemm). */
void gemm_par(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *Bm, int ldb, float beta,
              float *Cm, int ldc, int nthr);
/* out (N,OC) = inp (N,IC) @ w^T (IC,OC) + bias; accumulate: out += ... instead. */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC, int accumulate, int nthr);
/* dinp (N,IC) = dout @ w (overwrite; skipped when dinp is NULL);
 * dw (OC,IC) += dout^T @ inp; dbias (OC) += column sums of dout. */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                     const float *inp, const float *w, int N, int IC, int OC, int nthr);
/* dbias (OC) += sum over N rows of dout (N,OC), fixed order. */
void bias_backward(float *dbias, const float *dout, int N, int OC, int nthr);

/* ---- layers.c ------------------------------------------------------------- */
/* out (B,T,C) = wte[tok[b*tok_stride+t]] + wpe[t] */
void encoder_forward(float *out, const uint32_t *tok, int tok_stride, const float *wte,
                     const float *wpe, int B, int T, int C, int nthr);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const uint32_t *tok,
                      int tok_stride, int B, int T, int C, int nthr);
/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) saved for backward. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C, int nthr);
/* dinp_acc (N,C) += d inp; dw, db (C) += ... */
void layernorm_backward(float *dinp_acc, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, int N, int C, int nthr);
/* GELU, tanh approximation; backward: dinp = gelu'(inp) * dout (may alias dout). */
void gelu_forward(float *out, const float *inp, size_t n, int nthr);
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n, int nthr);

/* ---- attention.c: causal multi-head attention ------------------------------
 * qkv (B,T,3C) holds q | k | v, head h at columns h*hs.  out (B,T,C);
 * lse (B,NH,T) the log-sum-exp of each softmax row, kept so backward can
 * recompute the probabilities instead of storing (B,NH,T,T).
 * scratch: attention_scratch_floats(T) floats per thread. */
size_t attention_scratch_floats(int T);
void attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C,
                       int NH, float *scratch, int nthr);
/* dqkv (B,T,3C) overwritten from dout (B,T,C). */
void attention_backward(float *dqkv, const float *dout, const float *out, const float *lse,
                        const float *qkv, int B, int T, int C, int NH, float *scratch, int nthr);

/* ---- crossentropy.c: tied LM head + softmax cross-entropy -------------------
 * logits (N,V) = x (N,C) @ wte[:V]^T, computed `chunk` rows at a time into
 * scratch (chunk * V floats) so the (N,V) logits never exist at once.
 * losses (N) = -log softmax(logits)[target]; padded rows of wte are never
 * read.  When dx is not NULL, also backward with dloss = grad_scale / N per
 * row: dx (N,C) overwritten, dwte (V,C) +=.  Returns the mean loss. */
float lmhead_crossentropy(float *losses, float *dx, float *dwte, const float *x,
                          const float *wte, const uint32_t *targets, int tgt_stride,
                          int B, int T, int C, int V, float grad_scale,
                          float *scratch, int chunk, int nthr);

/* ---- optim.c ---------------------------------------------------------------- */
/* Sum of squares in double over fixed 65536-element blocks (partials[] needs
 * optim_partials(n) entries), summed in block order: same result for any nthr. */
size_t optim_partials(size_t n);
double sumsq_fixed(const float *x, size_t n, double *partials, int nthr);
void scale_inplace(float *x, size_t n, float s, int nthr);
/* One AdamW update of n elements (PyTorch's formulation, decoupled decay). */
void adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                  float beta1, float beta2, float eps, float wd, float bc1, float bc2, int nthr);

/* ---- vectorisable exp (used by softmax and GELU) ---------------------------- */
static inline float fast_expf(float x)
{
    /* exp(x) = 2^k * exp(r), r = x - k ln2 in [-ln2/2, ln2/2]; degree-6
     * polynomial (Cephes), accurate to ~1 ulp; clamped so it never overflows.
     * NaN passes both clamps; it computes with x = 0 instead (converting a
     * NaN k to int32 is undefined behaviour) and comes out as NaN again, so
     * a damaged model gives a NaN loss, not garbage.  Finite inputs take
     * exactly the same operations as before: selects, no extra rounding. */
    int nan = x != x;
    if (x < -87.0f) x = -87.0f;
    if (x > 88.0f) x = 88.0f;
    float xs = nan ? 0.0f : x;
    /* round to nearest with the 1.5 * 2^23 trick: vectorises without -ffast-math */
    float k = (xs * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xs - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } u = { .f = p };
    u.i += (int32_t)k * (1 << 23);   /* k in [-126, 127]: no overflow, no shift of a negative */
    return nan ? x : u.f;
}
#endif
