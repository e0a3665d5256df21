/* Error reporting for the CUDA backend: the fatal checks used inside a step
 * and the non-fatal ones used while creating a model (see cuda_common.h). */
#include <stdio.h>
#include <stdlib.h>
#include "gpu/cuda/cuda_common.h"

const char *cublas_status_string(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "license error";
    default: return "unknown cuBLAS status";
    }
}

void cuda_fail(const char *what, const char *file, int line, const char *call, const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "photon-sim: error: %s: %s:%d: %s: %s\n", what, file, line, call, msg);
    exit(1);
}

bool cuda_ok(cudaError_t e, const char *file, int line, const char *call, char *buf, size_t n)
{
    if (e == cudaSuccess) return true;
    snprintf(buf, n, "CUDA: %s:%d: %s: %s", file, line, call, cudaGetErrorString(e));
    return false;
}

bool cublas_ok(cublasStatus_t s, const char *file, int line, const char *call, char *buf, size_t n)
{
    if (s == CUBLAS_STATUS_SUCCESS) return true;
    snprintf(buf, n, "cuBLAS: %s:%d: %s: %s", file, line, call, cublas_status_string(s));
    return false;
}
