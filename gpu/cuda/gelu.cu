/* GELU, tanh approximation (GPT-2), forward and backward.
 *   gelu(x)  = 0.5 x (1 + tanh(k (x + 0.044715 x^3))),  k = sqrt(2/pi)
 *   gelu'(x) = 0.5 (1 + th) + 0.5 x (1 - th^2) k (1 + 3*0.044715 x^2)
 * Used when the cuBLASLt GELU epilogue is off or unsupported; the backward
 * always runs here (elementwise, memory bound). */
#include "gpu/cuda/kernels.h"

#define GELU_K 0.7978845608028654f

template <typename T> __global__ void gelu_forward_kernel(T *out, const T *inp, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_f(inp[i]);
    float cube = 0.044715f * x * x * x;
    out[i] = from_f<T>(0.5f * x * (1.0f + tanhf(GELU_K * (x + cube))));
}

template <typename T> __global__ void gelu_backward_kernel(T *d, const T *inp, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_f(inp[i]);
    float th = tanhf(GELU_K * (x + 0.044715f * x * x * x));
    float sech2 = 1.0f - th * th;
    float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
    d[i] = from_f<T>(to_f(d[i]) * grad);
}

template <typename T> void gelu_forward(T *out, const T *inp, size_t n, cudaStream_t s)
{
    if (!n) return;
    gelu_forward_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(out, inp, n);
    cudaCheckLaunch();
}
template <typename T> void gelu_backward_inplace(T *d, const T *inp, size_t n, cudaStream_t s)
{
    if (!n) return;
    gelu_backward_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(d, inp, n);
    cudaCheckLaunch();
}
template void gelu_forward<float>(float *, const float *, size_t, cudaStream_t);
template void gelu_forward<bf16>(bf16 *, const bf16 *, size_t, cudaStream_t);
template void gelu_backward_inplace<float>(float *, const float *, size_t, cudaStream_t);
template void gelu_backward_inplace<bf16>(bf16 *, const bf16 *, size_t, cudaStream_t);
