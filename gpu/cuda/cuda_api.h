/* C interface of the CUDA backend beyond backend_ops: device discovery,
 * actor placement and the figures `photon-sim bench` reports.  Callable
 * from C; only defined when the backend is built (PHOTON_HAVE_CUDA).
 *
 * Placement: actor i runs on GPU (i mod G), G = cuda_device_count(); several
 * actors may share a GPU (each has its own context and stream; memory is
 * checked per model at create).  The runtime passes the actor slot in
 * backend_opts.device and create takes it modulo G (cuda_device_for_actor).
 *
 * Fork rule: CUDA does not survive fork().  Every call here initialises the
 * CUDA runtime in the calling process, so the supervisor must not call any
 * of them (nor backend_cuda_available) before it forks its actors; actors
 * call them after the fork (actors/train.c does). */
#ifndef PHOTON_CUDA_API_H
#define PHOTON_CUDA_API_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {   /* gpu/model.h has no C++ guards of its own */
#endif
#include "gpu/model.h"

/* Number of usable GPUs; 0 when there is no driver, no device, or the
 * runtime fails to initialise (never an error: CPU fallback decides). */
int cuda_device_count(void);
/* Why cuda_device_count() is what it is, for skip messages: "N GPU(s)", or
 * the runtime's error (no driver, driver older than the runtime, ...). */
const char *cuda_device_status(void);
/* GPU for actor i: i mod G (0 when G <= 0). */
int cuda_device_for_actor(int actor, int num_gpus);
/* Name of GPU dev into buf; -1 if it cannot be queried. */
int cuda_device_name(int dev, char *buf, size_t n);
/* Free and total memory of GPU dev in bytes; -1 on failure. */
int cuda_mem_info(int dev, size_t *free_bytes, size_t *total_bytes);

/* Bytes of GPU memory a model of config c with micro-batch (B, T) needs
 * (parameters, gradients, AdamW state, activations, scratch, workspaces). */
size_t cuda_model_bytes(const gpt2_config *c, int B, int T, int bf16);
/* Bytes this model instance holds on its GPU. */
size_t cuda_model_allocated(photon_model *m);
/* Highest device-wide used memory (total - free) seen by this instance: sampled
 * after create and at the end of every forward_backward. */
size_t cuda_model_peak_used(photon_model *m);

/* Measured dense bf16 matmul rate (TFLOP/s) of GPU dev with cuBLASLt,
 * fp32 accumulate, on an n x n x n product (n = 8192 when 0): the MFU
 * denominator of `bench`.  Returns < 0 on failure. */
double cuda_measure_bf16_tflops(int dev, int n);
/* Waits for the model's stream (for timing from the host). */
void cuda_model_sync(photon_model *m);

/* The GPU figures `photon-sim bench` prints next to tokens/s. */
typedef struct {
    char gpu[256];        /* device name */
    double bf16_tflops;   /* measured cuBLAS bf16 rate (cuda_measure_bf16_tflops) */
    double mfu;           /* achieved model FLOP/s / that rate */
    size_t peak_used;     /* cuda_model_peak_used: device-wide bytes in use at the peak */
    size_t allocated;     /* bytes this model holds */
} cuda_bench_figures;
/* Waits for m's stream, measures the matmul rate on m's GPU and fills f;
 * flops_per_s is the model's achieved training FLOP/s.  -1 on failure. */
int cuda_bench_figures_get(photon_model *m, double flops_per_s, cuda_bench_figures *f);
#ifdef __cplusplus
}
#endif
#endif
