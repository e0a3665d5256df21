/* fp32 <-> compute-type copies: master weights to the bf16 compute copy,
 * and activations back to fp32 for the host (logits_at, tests). */
#include "gpu/cuda/kernels.h"

template <typename T> __global__ void cast_from_f32_kernel(T *out, const float *in, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = from_f<T>(in[i]);
}
template <typename T> __global__ void cast_to_f32_kernel(float *out, const T *in, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = to_f(in[i]);
}

static int grid_for(size_t n) { long g = ceil_div((long)n, 256); return (int)(g < 1 ? 1 : g > 65535 ? 65535 : g); }

template <typename T> void cast_from_f32(T *out, const float *in, size_t n, cudaStream_t s)
{
    if (n == 0) return;
    cast_from_f32_kernel<<<grid_for(n), 256, 0, s>>>(out, in, n);
    cudaCheckLaunch();
}
template <typename T> void cast_to_f32(float *out, const T *in, size_t n, cudaStream_t s)
{
    if (n == 0) return;
    cast_to_f32_kernel<<<grid_for(n), 256, 0, s>>>(out, in, n);
    cudaCheckLaunch();
}
template void cast_from_f32<float>(float *, const float *, size_t, cudaStream_t);
template void cast_from_f32<bf16>(bf16 *, const float *, size_t, cudaStream_t);
template void cast_to_f32<float>(float *, const float *, size_t, cudaStream_t);
template void cast_to_f32<bf16>(float *, const bf16 *, size_t, cudaStream_t);
