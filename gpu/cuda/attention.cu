/* Causal multi-head self-attention, forward and backward, as batched cuBLAS
 * GEMMs around a softmax kernel (llm.c's first CUDA version).  This keeps
 * the (B, NH, T, T) probabilities for the backward pass; a flash-style kernel
 * that never stores them is the speed work of issue 8 (see NOTES.md).
 *   qkv (B,T,3,NH,HS) --permute--> q,k,v (B,NH,T,HS)
 *   scores = q k^T (B,NH,T,T); att = softmax(scores / sqrt(HS), causal)
 *   y = att v (B,NH,T,HS) --unpermute--> out (B,T,C)
 * Backward: datt = dy v^T, dv = att^T dy, dscores = att (datt - rowsum(att datt)) / sqrt(HS),
 *           dq = dscores k, dk = dscores^T q. */
#include <math.h>
#include <type_traits>
#include "gpu/cuda/flash_attention.h"
#include "gpu/cuda/kernels.h"

/* qkv (B,T,3,NH,HS) -> q, k, v each (B,NH,T,HS); one thread per element of q. */
template <typename T>
__global__ void permute_kernel(T *q, T *k, T *v, const T *qkv, int B, int Tn, int NH, int HS)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * NH * Tn * HS) return;
    int b = idx / (NH * Tn * HS), r = idx % (NH * Tn * HS);
    int h = r / (Tn * HS); r %= Tn * HS;
    int t = r / HS, d = r % HS;
    size_t src = (size_t)b * Tn * 3 * NH * HS + (size_t)t * 3 * NH * HS + (size_t)h * HS + d;
    q[idx] = qkv[src];
    k[idx] = qkv[src + NH * HS];
    v[idx] = qkv[src + 2 * NH * HS];
}

template <typename T>
__global__ void permute_backward_kernel(T *dqkv, const T *dq, const T *dk, const T *dv, int B, int Tn, int NH, int HS)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * NH * Tn * HS) return;
    int b = idx / (NH * Tn * HS), r = idx % (NH * Tn * HS);
    int h = r / (Tn * HS); r %= Tn * HS;
    int t = r / HS, d = r % HS;
    size_t dst = (size_t)b * Tn * 3 * NH * HS + (size_t)t * 3 * NH * HS + (size_t)h * HS + d;
    dqkv[dst] = dq[idx];
    dqkv[dst + NH * HS] = dk[idx];
    dqkv[dst + 2 * NH * HS] = dv[idx];
}

/* y (B,NH,T,HS) <-> out (B,T,NH,HS); backward flag swaps the direction. */
template <typename T, bool BACKWARD>
__global__ void unpermute_kernel(T *y, T *out, int B, int Tn, int NH, int HS)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= B * NH * Tn * HS) return;
    int b = idx / (NH * Tn * HS), r = idx % (NH * Tn * HS);
    int h = r / (Tn * HS); r %= Tn * HS;
    int t = r / HS, d = r % HS;
    size_t o = (size_t)b * Tn * NH * HS + (size_t)t * NH * HS + (size_t)h * HS + d;
    if (BACKWARD) y[idx] = out[o];
    else out[o] = y[idx];
}

/* One warp per row (b, h, t): att[j] = exp(scale*s[j] - max) / sum for j <= t, 0 beyond. */
template <typename T>
__global__ void softmax_forward_kernel(T *att, const T *scores, int rows, int Tn, float scale)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int lane = threadIdx.x % 32, t = row % Tn;
    const T *x = scores + (size_t)row * Tn;
    T *y = att + (size_t)row * Tn;
    float mx = -INFINITY;
    for (int j = lane; j <= t; j += 32) mx = fmaxf(mx, scale * to_f(x[j]));
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j <= t; j += 32) sum += expf(scale * to_f(x[j]) - mx);
    float inv = 1.0f / warp_sum(sum);
    for (int j = lane; j < Tn; j += 32)
        y[j] = from_f<T>(j <= t ? expf(scale * to_f(x[j]) - mx) * inv : 0.0f);
}

/* In place: d (datt on entry, dscores on exit) = scale * att * (datt - sum_j att_j datt_j). */
template <typename T>
__global__ void softmax_backward_kernel(T *d, const T *att, int rows, int Tn, float scale)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int lane = threadIdx.x % 32, t = row % Tn;
    T *g = d + (size_t)row * Tn;
    const T *a = att + (size_t)row * Tn;
    float dot = 0.0f;
    for (int j = lane; j <= t; j += 32) dot += to_f(a[j]) * to_f(g[j]);
    dot = warp_sum(dot);
    for (int j = lane; j < Tn; j += 32)
        g[j] = from_f<T>(j <= t ? scale * to_f(a[j]) * (to_f(g[j]) - dot) : 0.0f);
}

/* Strided-batched C = op(A) op(B) over B*NH heads (column-major views). */
template <typename T>
static void bgemm(matmul_ctx *m, bool ta, bool tb, int M, int Nn, int K, const T *A, int lda, long sa, const T *Bm,
                  int ldb, long sb, T *C, int ldc, long sc, int batch)
{
    const cudaDataType_t dt = dtype_of<T>::value;
    float alpha = 1.0f, beta = 0.0f;
    cublasCheck(cublasGemmStridedBatchedEx(m->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           M, Nn, K, &alpha, A, dt, lda, sa, Bm, dt, ldb, sb, &beta, C, dt, ldc, sc,
                                           batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

template <typename T>
void attention_forward(matmul_ctx *m, T *out, T *att, T *qkvr, T *vaccum, T *scores, const T *qkv, int B, int Tn,
                       int C, int NH, cudaStream_t s)
{
    int HS = C / NH, nb = B * NH;
    size_t n = (size_t)B * Tn * C;
    T *q = qkvr, *k = qkvr + n, *v = qkvr + 2 * n;
    permute_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(q, k, v, qkv, B, Tn, NH, HS);
    cudaCheckLaunch();
    if constexpr (std::is_same<T, bf16>::value) {
        if (m->flash && flash_attention_supported(C, NH, Tn)) {
            flash_attention_forward(vaccum, (float *)att, q, k, v, B, NH, Tn, s);
            unpermute_kernel<T, false><<<ceil_div((long)n, 256), 256, 0, s>>>(vaccum, out, B, Tn, NH, HS);
            cudaCheckLaunch();
            return;
        }
    }
    long tt = (long)Tn * Tn, th = (long)Tn * HS;
    /* scores (row-major T x T) = q k^T  <=>  column-major scores^T = k q^T */
    bgemm<T>(m, true, false, Tn, Tn, HS, k, HS, th, q, HS, th, scores, Tn, tt, nb);
    softmax_forward_kernel<<<ceil_div((long)nb * Tn, 8), 256, 0, s>>>(att, scores, nb * Tn, Tn, 1.0f / sqrtf((float)HS));
    cudaCheckLaunch();
    /* y (T x HS) = att v  <=>  y^T = v^T att^T */
    bgemm<T>(m, false, false, HS, Tn, Tn, v, HS, th, att, Tn, tt, vaccum, HS, th, nb);
    unpermute_kernel<T, false><<<ceil_div((long)n, 256), 256, 0, s>>>(vaccum, out, B, Tn, NH, HS);
    cudaCheckLaunch();
}

template <typename T>
void attention_backward(matmul_ctx *m, T *dqkv, T *dqkvr, T *dvaccum, T *scores, T *qkvr, const T *dout,
                        const T *out, const T *qkv, const T *att, int B, int Tn, int C, int NH, cudaStream_t s)
{
    int HS = C / NH, nb = B * NH;
    size_t n = (size_t)B * Tn * C;
    T *q = qkvr, *k = qkvr + n, *v = qkvr + 2 * n;
    T *dq = dqkvr, *dk = dqkvr + n, *dv = dqkvr + 2 * n;
    long tt = (long)Tn * Tn, th = (long)Tn * HS;
    permute_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(q, k, v, qkv, B, Tn, NH, HS);
    cudaCheckLaunch();
    unpermute_kernel<T, true><<<ceil_div((long)n, 256), 256, 0, s>>>(dvaccum, const_cast<T *>(dout), B, Tn, NH, HS);
    cudaCheckLaunch();
    if constexpr (std::is_same<T, bf16>::value) {
        if (m->flash && flash_attention_supported(C, NH, Tn)) {
            flash_attention_backward(dq, dk, dv, (float *)scores, q, k, v, dvaccum, dout, out, (const float *)att, B,
                                     NH, Tn, s);
            permute_backward_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(dqkv, dq, dk, dv, B, Tn, NH, HS);
            cudaCheckLaunch();
            return;
        }
    } else {
        (void)out;
    }
    /* datt (T x T) = dy v^T  <=>  datt^T = v dy^T */
    bgemm<T>(m, true, false, Tn, Tn, HS, v, HS, th, dvaccum, HS, th, scores, Tn, tt, nb);
    /* dv (T x HS) = att^T dy  <=>  dv^T = dy^T att */
    bgemm<T>(m, false, true, HS, Tn, Tn, dvaccum, HS, th, att, Tn, tt, dv, HS, th, nb);
    softmax_backward_kernel<<<ceil_div((long)nb * Tn, 8), 256, 0, s>>>(scores, att, nb * Tn, Tn, 1.0f / sqrtf((float)HS));
    cudaCheckLaunch();
    /* dq (T x HS) = dscores k  <=>  dq^T = k^T dscores^T */
    bgemm<T>(m, false, false, HS, Tn, Tn, k, HS, th, scores, Tn, tt, dq, HS, th, nb);
    /* dk (T x HS) = dscores^T q  <=>  dk^T = q^T dscores */
    bgemm<T>(m, false, true, HS, Tn, Tn, q, HS, th, scores, Tn, tt, dk, HS, th, nb);
    permute_backward_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(dqkv, dq, dk, dv, B, Tn, NH, HS);
    cudaCheckLaunch();
}

#define INST(T) \
    template void attention_forward<T>(matmul_ctx *, T *, T *, T *, T *, T *, const T *, int, int, int, int, \
                                       cudaStream_t); \
    template void attention_backward<T>(matmul_ctx *, T *, T *, T *, T *, T *, const T *, const T *, const T *, \
                                        const T *, int, int, int, int, cudaStream_t);
INST(float)
INST(bf16)
