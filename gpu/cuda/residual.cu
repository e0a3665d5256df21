/* Elementwise adds: the residual connection out = a + b (the model itself
 * fuses it into the following LayerNorm, see layernorm.cu; this standalone
 * form is the reference and the fallback) and the bias broadcast
 * out (N, OC) += bias (OC) used when no cuBLASLt bias epilogue applies. */
#include "gpu/cuda/kernels.h"

template <typename T> __global__ void residual_kernel(T *out, const T *a, const T *b, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) out[i] = from_f<T>(to_f(a[i]) + to_f(b[i]));
}

template <typename T> __global__ void add_bias_kernel(T *out, const T *bias, size_t n, int OC)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) out[i] = from_f<T>(to_f(out[i]) + to_f(bias[i % OC]));
}

template <typename T> void residual_forward(T *out, const T *a, const T *b, size_t n, cudaStream_t s)
{
    if (!n) return;
    residual_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(out, a, b, n);
    cudaCheckLaunch();
}
template <typename T> void add_bias(T *out, const T *bias, int N, int OC, cudaStream_t s)
{
    size_t n = (size_t)N * OC;
    if (!n) return;
    add_bias_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(out, bias, n, OC);
    cudaCheckLaunch();
}
template void residual_forward<float>(float *, const float *, const float *, size_t, cudaStream_t);
template void residual_forward<bf16>(bf16 *, const bf16 *, const bf16 *, size_t, cudaStream_t);
template void add_bias<float>(float *, const float *, int, int, cudaStream_t);
template void add_bias<bf16>(bf16 *, const bf16 *, int, int, cudaStream_t);
