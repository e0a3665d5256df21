/* Flash-style attention (flash_attention.cu): bf16, head size 64, causal.
 * Chosen by attention.cu when PHOTON_CUDA_ATTENTION=flash and the shapes
 * fit; q, k, v, out, dq, dk, dv are (B, NH, T, 64); lse and D (B, NH, T) fp32. */
#ifndef PHOTON_CUDA_FLASH_ATTENTION_H
#define PHOTON_CUDA_FLASH_ATTENTION_H
#include "gpu/cuda/cuda_common.h"

/* Head size 64 and T >= 2 (lse / D live in the (T, T)-sized buffers of the cuBLAS path). */
bool flash_attention_supported(int C, int NH, int T);
void flash_attention_forward(bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, int B, int NH, int T,
                             cudaStream_t s);
/* dout_perm is dO in (B,NH,T,64); dout_btc / out_btc are dO and O in (B,T,C) for D = rowsum(dO * O). */
void flash_attention_backward(bf16 *dq, bf16 *dk, bf16 *dv, float *D, const bf16 *q, const bf16 *k, const bf16 *v,
                              const bf16 *dout_perm, const bf16 *dout_btc, const bf16 *out_btc, const float *lse,
                              int B, int NH, int T, cudaStream_t s);
#endif
