/* Versions of the CUDA runtime, driver, cuBLAS and NCCL for --version.
 * Works without a GPU: the driver version reads "none" when none is installed. */
#include <stdio.h>
#include <cuda_runtime_api.h>
#include <cublas_v2.h>
#include <nccl.h>

void cuda_version_string(char *buf, size_t n);

void cuda_version_string(char *buf, size_t n)
{
    int rt = 0, drv = 0, nccl = 0;
    cudaRuntimeGetVersion(&rt);
    if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
    ncclGetVersion(&nccl);
    int cb_major = 0, cb_minor = 0, cb_patch = 0;
    cublasGetProperty(MAJOR_VERSION, &cb_major);
    cublasGetProperty(MINOR_VERSION, &cb_minor);
    cublasGetProperty(PATCH_LEVEL, &cb_patch);
    char d[32];
    if (drv) snprintf(d, sizeof d, "%d.%d", drv / 1000, (drv % 1000) / 10);
    else snprintf(d, sizeof d, "none");
    snprintf(buf, n, "CUDA runtime %d.%d (driver %s), cuBLAS %d.%d.%d, NCCL %d.%d.%d",
             rt / 1000, (rt % 1000) / 10, d, cb_major, cb_minor, cb_patch,
             nccl / 10000, (nccl % 10000) / 100, nccl % 100);
}
