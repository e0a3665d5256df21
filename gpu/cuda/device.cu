/* GPU discovery and the figures `bench` needs: device count (0, never an
 * error, when there is no driver or device), actor placement, names, free
 * memory, and the measured bf16 matmul rate that MFU is quoted against. */
#include <stdio.h>
#include <string.h>
#include "gpu/cuda/cuda_api.h"
#include "gpu/cuda/kernels.h"

extern "C" int cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();   /* clear the sticky "no driver" error */
        return 0;
    }
    return n;
}

extern "C" const char *cuda_device_status(void)
{
    static char buf[256];
    int n = 0, rt = 0, drv = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(buf, sizeof buf, "no usable GPU: cudaGetDeviceCount: %s (runtime %d, driver %d)", cudaGetErrorString(e),
                 rt, drv);
    } else {
        snprintf(buf, sizeof buf, "%d GPU(s) (runtime %d, driver %d)", n, rt, drv);
    }
    return buf;
}

extern "C" int cuda_device_for_actor(int actor, int num_gpus)
{
    if (num_gpus <= 0 || actor < 0) return 0;
    return actor % num_gpus;
}

extern "C" int cuda_device_name(int dev, char *buf, size_t n)
{
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) return -1;
    snprintf(buf, n, "%s", p.name);
    return 0;
}

extern "C" int cuda_mem_info(int dev, size_t *free_bytes, size_t *total_bytes)
{
    if (cudaSetDevice(dev) != cudaSuccess) return -1;
    return cudaMemGetInfo(free_bytes, total_bytes) == cudaSuccess ? 0 : -1;
}

/* Deterministic pseudo-random fill: zeros would let the tensor cores idle at
 * lower power and overstate the rate. */
__global__ static void fill_kernel(bf16 *x, size_t n, uint32_t seed)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t h = (uint32_t)i * 2654435761u ^ seed;
    h ^= h >> 15; h *= 2246822519u; h ^= h >> 13;
    x[i] = __float2bfloat16_rn(((float)(h & 0xffff) / 65535.0f - 0.5f));
}

extern "C" double cuda_measure_bf16_tflops(int dev, int n)
{
    if (n <= 0) n = 8192;
    size_t e = (size_t)n * n;
    bf16 *a = nullptr, *b = nullptr, *c = nullptr;
    cublasHandle_t h = nullptr;
    cudaEvent_t t0 = nullptr, t1 = nullptr;
    double tflops = -1.0;
    float ms = 0.0f, alpha = 1.0f, beta = 0.0f;
    const int iters = 20;
    if (cudaSetDevice(dev) != cudaSuccess) return -1.0;
    if (cudaMalloc(&a, e * 2) != cudaSuccess || cudaMalloc(&b, e * 2) != cudaSuccess ||
        cudaMalloc(&c, e * 2) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS ||
        cudaEventCreate(&t0) != cudaSuccess || cudaEventCreate(&t1) != cudaSuccess)
        goto out;
    fill_kernel<<<ceil_div((long)e, 256), 256>>>(a, e, 1u);
    fill_kernel<<<ceil_div((long)e, 256), 256>>>(b, e, 2u);
    for (int i = 0; i < iters + 3; i++) {
        if (i == 3) cudaEventRecord(t0);
        if (cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, a, CUDA_R_16BF, n, b, CUDA_R_16BF, n, &beta, c,
                         CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
            goto out;
    }
    cudaEventRecord(t1);
    if (cudaEventSynchronize(t1) != cudaSuccess || cudaEventElapsedTime(&ms, t0, t1) != cudaSuccess) goto out;
    tflops = 2.0 * n * (double)n * n * iters / (ms * 1e-3) / 1e12;
out:
    if (t0) cudaEventDestroy(t0);
    if (t1) cudaEventDestroy(t1);
    if (h) cublasDestroy(h);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return tflops;
}
