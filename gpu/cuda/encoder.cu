/* Token + position embedding, forward and backward.
 *   forward:  out (B,T,C) = wte (Vp,C)[tok[b,t]] + wpe (maxT,C)[t]
 *   backward: dwte[v] += sum of dout rows whose token is v   (gather over
 *             host-built buckets: deterministic, no atomics)
 *             dwpe[t] += sum_b dout[b,t]                        */
#include <string.h>
#include "gpu/cuda/kernels.h"

template <typename T>
__global__ void encoder_forward_kernel(T *out, const int *tok, const T *wte, const T *wpe, int Tn, int C)
{
    int row = blockIdx.x;                 /* b*T + t */
    int t = row % Tn;
    const T *we = wte + (size_t)tok[row] * C, *pe = wpe + (size_t)t * C;
    T *o = out + (size_t)row * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = from_f<T>(to_f(we[c]) + to_f(pe[c]));
}

template <typename T>
__global__ void encoder_backward_wte_kernel(float *dwte, const T *dout, const int *uniq, const int *offsets,
                                            const int *positions, int C)
{
    int u = blockIdx.x;
    float *dw = dwte + (size_t)uniq[u] * C;
    int lo = offsets[u], hi = offsets[u + 1];
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0.0f;
        for (int i = lo; i < hi; i++) acc += to_f(dout[(size_t)positions[i] * C + c]);
        dw[c] += acc;
    }
}

template <typename T>
__global__ void encoder_backward_wpe_kernel(float *dwpe, const T *dout, int B, int Tn, int C)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;   /* t*C + c */
    if (idx >= Tn * C) return;
    float acc = 0.0f;
    for (int b = 0; b < B; b++) acc += to_f(dout[(size_t)b * Tn * C + idx]);
    dwpe[idx] += acc;
}

template <typename T>
void encoder_forward(T *out, const int *tok, const T *wte, const T *wpe, int B, int Tn, int C, cudaStream_t s)
{
    encoder_forward_kernel<<<B * Tn, 256, 0, s>>>(out, tok, wte, wpe, Tn, C);
    cudaCheckLaunch();
}

void encoder_buckets_build(const int *tok, int N, int V, int *count, int *uniq, int *offsets, int *positions,
                           int *n_uniq)
{
    /* Counting sort by token: O(N + V) on the host, once per step. */
    memset(count, 0, sizeof(int) * (size_t)V);
    for (int i = 0; i < N; i++) count[tok[i]]++;
    int nu = 0, off = 0;
    for (int v = 0; v < V; v++) {
        if (!count[v]) continue;
        uniq[nu] = v;
        offsets[nu] = off;
        off += count[v];
        count[v] = offsets[nu];     /* becomes the write cursor */
        nu++;
    }
    offsets[nu] = off;
    for (int i = 0; i < N; i++) positions[count[tok[i]]++] = i;
    *n_uniq = nu;
}

template <typename T>
void encoder_backward(float *dwte, float *dwpe, const T *dout, const int *uniq, const int *offsets,
                      const int *positions, int n_uniq, int B, int Tn, int C, cudaStream_t s)
{
    if (n_uniq > 0) {
        encoder_backward_wte_kernel<<<n_uniq, 256, 0, s>>>(dwte, dout, uniq, offsets, positions, C);
        cudaCheckLaunch();
    }
    encoder_backward_wpe_kernel<<<ceil_div((long)Tn * C, 256), 256, 0, s>>>(dwpe, dout, B, Tn, C);
    cudaCheckLaunch();
}

template void encoder_forward<float>(float *, const int *, const float *, const float *, int, int, int, cudaStream_t);
template void encoder_forward<bf16>(bf16 *, const int *, const bf16 *, const bf16 *, int, int, int, cudaStream_t);
template void encoder_backward<float>(float *, float *, const float *, const int *, const int *, const int *, int,
                                      int, int, int, cudaStream_t);
template void encoder_backward<bf16>(float *, float *, const bf16 *, const int *, const int *, const int *, int,
                                     int, int, int, cudaStream_t);
