/* Global L2 norm of the gradient and clipping, deterministic: a fixed grid of
 * GLOBAL_NORM_BLOCKS blocks writes one partial sum of squares each, a single
 * block adds them in order.  Clipping reads the norm on the device, so the
 * step never waits for the host. */
#include <math.h>
#include "gpu/cuda/kernels.h"

__global__ void norm_partial_kernel(float *partials, const float *g, size_t n)
{
    __shared__ float shared[32];
    float acc = 0.0f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc += g[i] * g[i];
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

__global__ void norm_final_kernel(float *norm, const float *partials, int nparts)
{
    __shared__ float shared[32];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += partials[i];
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) *norm = sqrtf(acc);
}

__global__ void clip_kernel(float *g, size_t n, const float *norm, float max_norm)
{
    float nrm = *norm;
    if (!(nrm > max_norm)) return;
    /* torch.nn.utils.clip_grad_norm_'s coefficient, as the CPU backend */
    float scale = (float)((double)max_norm / ((double)nrm + 1e-6));
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        g[i] *= scale;
}

void global_norm(float *norm, float *partials, const float *g, size_t n, cudaStream_t s)
{
    norm_partial_kernel<<<GLOBAL_NORM_BLOCKS, 512, 0, s>>>(partials, g, n);
    cudaCheckLaunch();
    norm_final_kernel<<<1, 256, 0, s>>>(norm, partials, GLOBAL_NORM_BLOCKS);
    cudaCheckLaunch();
}

void clip_by_norm(float *g, size_t n, const float *norm, float max_norm, cudaStream_t s)
{
    clip_kernel<<<GLOBAL_NORM_BLOCKS * 4, 256, 0, s>>>(g, n, norm, max_norm);
    cudaCheckLaunch();
}
