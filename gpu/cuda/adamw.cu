/* AdamW on fp32 master weights with fp32 first/second moments (decoupled
 * weight decay, bias-corrected), writing the bf16 compute copy in the same
 * pass so the weights are read once per step:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p = p (1 - lr wd) - (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps)
 * written exactly as the CPU backend (gpu/cpu/optim.c) and torch.optim.AdamW
 * do, so fp32 runs agree to the last few bits.
 * The backend launches it once per tensor so biases and LayerNorm get wd = 0. */
#include "gpu/cuda/kernels.h"

template <typename T>
__global__ void adamw_kernel(float *master, T *params_c, const float *grad, float *m, float *v, size_t n, float lr,
                             float b1, float b2, float eps, float wd, float bc1, float bc2)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grad[i];
    float mi = b1 * m[i] + (1.0f - b1) * g;
    float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float p = master[i] * (1.0f - lr * wd) - (lr / bc1) * mi / (sqrtf(vi) / sqrtf(bc2) + eps);
    master[i] = p;
    if (params_c) params_c[i] = from_f<T>(p);
}

template <typename T>
void adamw_update(float *master, T *params_c, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                  float beta2, float eps, float wd, float bc1, float bc2, cudaStream_t s)
{
    if (!n) return;
    adamw_kernel<<<ceil_div((long)n, 256), 256, 0, s>>>(master, params_c, grad, m, v, n, lr, beta1, beta2, eps, wd,
                                                        bc1, bc2);
    cudaCheckLaunch();
}
template void adamw_update<float>(float *, float *, const float *, float *, float *, size_t, float, float, float,
                                  float, float, float, float, cudaStream_t);
template void adamw_update<bf16>(float *, bf16 *, const float *, float *, float *, size_t, float, float, float,
                                 float, float, float, float, cudaStream_t);
