/* Fused softmax + cross-entropy over the vocabulary, one block per row.
 *   logits (N, Vp); only the first V columns are the vocabulary.
 *   losses[row] = logsumexp(logits[row, :V]) - logits[row, target]
 *   backward:   logits[row, i] <- (softmax_i - [i == target]) * dloss,  i < V
 *                                 0                                     V <= i < Vp
 * Pass 1 keeps a per-thread online (max, sum) pair; pass 2 writes the
 * gradient in place.  The probabilities are never stored, and padded
 * columns never receive probability mass. */
#include <math.h>
#include "gpu/cuda/kernels.h"

#define CLS_THREADS 512

template <typename T>
__global__ void classifier_kernel(float *losses, T *logits, const int *targets, int V, int Vp, bool backward,
                                  float dloss)
{
    __shared__ float shared[32];
    int row = blockIdx.x;
    T *x = logits + (size_t)row * Vp;
    float m = -INFINITY, sum = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float v = to_f(x[i]);
        if (v > m) { sum = sum * expf(m - v) + 1.0f; m = v; }
        else sum += expf(v - m);
    }
    float M = block_max(m, shared);
    float S = block_sum(m == -INFINITY ? 0.0f : sum * expf(m - M), shared);
    int tgt = targets[row];
    float lse = M + logf(S);
    if (threadIdx.x == 0) losses[row] = lse - to_f(x[tgt]);
    if (!backward) return;
    __syncthreads();   /* x[tgt] above must be read before it is overwritten */
    for (int i = threadIdx.x; i < Vp; i += blockDim.x) {
        float g = 0.0f;
        if (i < V) g = (expf(to_f(x[i]) - lse) - (i == tgt ? 1.0f : 0.0f)) * dloss;
        x[i] = from_f<T>(g);
    }
}

__global__ void mean_reduce_kernel(float *out, const float *x, int n)
{
    __shared__ float shared[32];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) acc += x[i];
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) *out = acc / n;
}

template <typename T>
void classifier_forward_backward(float *losses, T *logits, const int *targets, int N, int V, int Vp, bool backward,
                                 float dloss, cudaStream_t s)
{
    classifier_kernel<<<N, CLS_THREADS, 0, s>>>(losses, logits, targets, V, Vp, backward, dloss);
    cudaCheckLaunch();
}

void mean_reduce(float *out, const float *x, int n, cudaStream_t s)
{
    mean_reduce_kernel<<<1, 1024, 0, s>>>(out, x, n);
    cudaCheckLaunch();
}

template void classifier_forward_backward<float>(float *, float *, const int *, int, int, int, bool, float, cudaStream_t);
template void classifier_forward_backward<bf16>(float *, bf16 *, const int *, int, int, int, bool, float, cudaStream_t);
