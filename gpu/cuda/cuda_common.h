/* Shared helpers of the CUDA backend (C++/CUDA only, never included from C):
 * error checks that name file:line and the failing call, the two compute
 * types (float and bf16) behind one template parameter, and warp/block
 * reductions.  Every kernel file includes this and nothing else of the
 * backend, so each concern stays in its own translation unit. */
#ifndef PHOTON_CUDA_COMMON_H
#define PHOTON_CUDA_COMMON_H
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cublasLt.h>
#include <nccl.h>
#include <stddef.h>
#include <stdint.h>

/* ---- error checks ---------------------------------------------------------
 * A failed call inside a training step cannot be reported through the backend
 * interface (its functions return void/float), so the check prints one line
 * "photon-sim: error: CUDA: file:line: call: message" and exits 1: the actor
 * dies and its supervisor restarts it (DESIGN §2).  Code that can fail
 * cleanly (model creation) uses the *_ok variants, which return false after
 * writing the same line into a buffer. */
[[noreturn]] void cuda_fail(const char *what, const char *file, int line, const char *call, const char *msg);
const char *cublas_status_string(cublasStatus_t s);

#define cudaCheck(call) do { cudaError_t e_ = (call); \
    if (e_ != cudaSuccess) cuda_fail("CUDA", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); } while (0)
#define cublasCheck(call) do { cublasStatus_t s_ = (call); \
    if (s_ != CUBLAS_STATUS_SUCCESS) cuda_fail("cuBLAS", __FILE__, __LINE__, #call, cublas_status_string(s_)); } while (0)
#define ncclCheck(call) do { ncclResult_t r_ = (call); \
    if (r_ != ncclSuccess) cuda_fail("NCCL", __FILE__, __LINE__, #call, ncclGetErrorString(r_)); } while (0)
/* Checks the last kernel launch (launch configuration errors only: no sync). */
#define cudaCheckLaunch() cudaCheck(cudaGetLastError())

/* Non-fatal form for create(): on failure writes "CUDA: file:line: call: msg"
 * into buf (size n) and evaluates to false. */
bool cuda_ok(cudaError_t e, const char *file, int line, const char *call, char *buf, size_t n);
bool cublas_ok(cublasStatus_t s, const char *file, int line, const char *call, char *buf, size_t n);
#define CUDA_OK(call, buf, n) cuda_ok((call), __FILE__, __LINE__, #call, buf, n)
#define CUBLAS_OK(call, buf, n) cublas_ok((call), __FILE__, __LINE__, #call, buf, n)

/* ---- compute types -------------------------------------------------------- */
typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(bf16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_f<bf16>(float x) { return __float2bfloat16_rn(x); }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr cudaDataType_t value = CUDA_R_32F; };
template <> struct dtype_of<bf16> { static constexpr cudaDataType_t value = CUDA_R_16BF; };

static inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

/* ---- reductions (fixed order: results are bitwise reproducible) ----------- */
__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
/* Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets
 * the result.  shared must hold 32 floats. */
__device__ __forceinline__ float block_sum(float v, float *shared)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads();                 /* shared may be reused by the caller */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shared[lane] : 0.0f;
    return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float *shared)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shared[lane] : -INFINITY;
    return warp_max(v);
}
#endif
