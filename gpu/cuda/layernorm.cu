/* LayerNorm forward/backward (eps 1e-5), the residual add fused into the
 * forward, and the deterministic column reductions that give the LayerNorm
 * and bias parameter gradients.
 *   forward:  x (N,C) -> out = (x - mean) * rstd * w + b, mean/rstd (N) fp32
 *   backward: dinp += rstd * (dnorm - mean(dnorm) - norm * mean(dnorm*norm)),
 *             dnorm = dout * w;  dw += sum_rows dout*norm;  db += sum_rows dout
 * One warp per row: C is at most a few thousand, so a row stays in L1. */
#include "gpu/cuda/kernels.h"

#define LN_EPS 1e-5f
#define ROWS_PER_CHUNK 256   /* rows per partial sum of the column reductions */

template <typename T>
__device__ void ln_row(T *o, float *mean, float *rstd, const T *x, const T *w, const T *b, int C, int row)
{
    int lane = threadIdx.x % 32;
    float sum = 0.0f;
    for (int c = lane; c < C; c += 32) sum += to_f(x[c]);
    float m = warp_sum(sum) / C;
    float sq = 0.0f;
    for (int c = lane; c < C; c += 32) { float d = to_f(x[c]) - m; sq += d * d; }
    float r = rsqrtf(warp_sum(sq) / C + LN_EPS);
    for (int c = lane; c < C; c += 32) o[c] = from_f<T>((to_f(x[c]) - m) * r * to_f(w[c]) + to_f(b[c]));
    if (lane == 0) { mean[row] = m; rstd[row] = r; }
}

template <typename T>
__global__ void layernorm_forward_kernel(T *out, float *mean, float *rstd, const T *inp, const T *w, const T *b,
                                         int N, int C)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    ln_row(out + (size_t)row * C, mean, rstd, inp + (size_t)row * C, w, b, C, row);
}

template <typename T>
__global__ void fused_residual_layernorm_kernel(T *res, T *out, float *mean, float *rstd, const T *a, const T *bb,
                                                const T *w, const T *bias, int N, int C)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    size_t off = (size_t)row * C;
    int lane = threadIdx.x % 32;
    /* The sum is rounded to T before normalising, exactly as if it were
     * stored and re-read: the fused and unfused paths agree bitwise. */
    for (int c = lane; c < C; c += 32) res[off + c] = from_f<T>(to_f(a[off + c]) + to_f(bb[off + c]));
    __syncwarp();
    ln_row(out + off, mean, rstd, res + off, w, bias, C, row);
}

template <typename T>
__global__ void layernorm_backward_dinp_kernel(T *dinp, const T *dout, const T *inp, const T *w, const float *mean,
                                               const float *rstd, int N, int C)
{
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    int lane = threadIdx.x % 32;
    size_t off = (size_t)row * C;
    float m = mean[row], r = rstd[row];
    float dsum = 0.0f, dnsum = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float norm = (to_f(inp[off + c]) - m) * r;
        float dn = to_f(w[c]) * to_f(dout[off + c]);
        dsum += dn;
        dnsum += dn * norm;
    }
    float dmean = warp_sum(dsum) / C, dnmean = warp_sum(dnsum) / C;
    for (int c = lane; c < C; c += 32) {
        float norm = (to_f(inp[off + c]) - m) * r;
        float dn = to_f(w[c]) * to_f(dout[off + c]);
        dinp[off + c] = from_f<T>(to_f(dinp[off + c]) + (dn - dmean - norm * dnmean) * r);
    }
}

/* Column partial sums over a chunk of rows: block (32, 8) covers 32 columns,
 * the 8 row lanes are combined in shared memory in a fixed order.
 * part_b[chunk, c] = sum dout; part_w[chunk, c] = sum dout * norm (if LN). */
template <typename T, bool LN>
__global__ void colsum_partial_kernel(float *part_w, float *part_b, const T *dout, const T *inp, const float *mean,
                                      const float *rstd, int N, int C)
{
    __shared__ float sw[8][33], sb[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * ROWS_PER_CHUNK, r1 = min(N, r0 + ROWS_PER_CHUNK);
    float aw = 0.0f, ab = 0.0f;
    if (c < C)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            float d = to_f(dout[(size_t)r * C + c]);
            ab += d;
            if (LN) aw += d * (to_f(inp[(size_t)r * C + c]) - mean[r]) * rstd[r];
        }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float tw = 0.0f, tb = 0.0f;
        for (int i = 0; i < 8; i++) { tw += sw[i][threadIdx.x]; tb += sb[i][threadIdx.x]; }
        part_b[(size_t)blockIdx.y * C + c] = tb;
        if (LN) part_w[(size_t)blockIdx.y * C + c] = tw;
    }
}

__global__ void colsum_final_kernel(float *dw, float *db, const float *part_w, const float *part_b, int chunks, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float tw = 0.0f, tb = 0.0f;
    for (int k = 0; k < chunks; k++) {
        tb += part_b[(size_t)k * C + c];
        if (dw) tw += part_w[(size_t)k * C + c];
    }
    db[c] += tb;
    if (dw) dw[c] += tw;
}

size_t colsum_scratch_floats(int N, int C) { return (size_t)ceil_div(N, ROWS_PER_CHUNK) * C; }

template <typename T>
void layernorm_forward(T *out, float *mean, float *rstd, const T *inp, const T *w, const T *b, int N, int C,
                       cudaStream_t s)
{
    layernorm_forward_kernel<<<ceil_div(N, 8), 256, 0, s>>>(out, mean, rstd, inp, w, b, N, C);
    cudaCheckLaunch();
}

template <typename T>
void fused_residual_layernorm_forward(T *res, T *out, float *mean, float *rstd, const T *a, const T *b, const T *w,
                                      const T *bias, int N, int C, cudaStream_t s)
{
    fused_residual_layernorm_kernel<<<ceil_div(N, 8), 256, 0, s>>>(res, out, mean, rstd, a, b, w, bias, N, C);
    cudaCheckLaunch();
}

template <typename T>
void layernorm_backward(T *dinp, float *dw, float *db, float *scratch, const T *dout, const T *inp, const T *w,
                        const float *mean, const float *rstd, int N, int C, cudaStream_t s)
{
    layernorm_backward_dinp_kernel<<<ceil_div(N, 8), 256, 0, s>>>(dinp, dout, inp, w, mean, rstd, N, C);
    cudaCheckLaunch();
    int chunks = ceil_div(N, ROWS_PER_CHUNK);
    float *part_w = scratch, *part_b = scratch + (size_t)chunks * C;
    colsum_partial_kernel<T, true><<<dim3(ceil_div(C, 32), chunks), dim3(32, 8), 0, s>>>(part_w, part_b, dout, inp,
                                                                                       mean, rstd, N, C);
    cudaCheckLaunch();
    colsum_final_kernel<<<ceil_div(C, 256), 256, 0, s>>>(dw, db, part_w, part_b, chunks, C);
    cudaCheckLaunch();
}

template <typename T> void bias_backward(float *db, float *scratch, const T *dout, int N, int C, cudaStream_t s)
{
    int chunks = ceil_div(N, ROWS_PER_CHUNK);
    colsum_partial_kernel<T, false><<<dim3(ceil_div(C, 32), chunks), dim3(32, 8), 0, s>>>(
        nullptr, scratch, dout, nullptr, nullptr, nullptr, N, C);
    cudaCheckLaunch();
    colsum_final_kernel<<<ceil_div(C, 256), 256, 0, s>>>(nullptr, db, nullptr, scratch, chunks, C);
    cudaCheckLaunch();
}

#define INST(T) \
    template void layernorm_forward<T>(T *, float *, float *, const T *, const T *, const T *, int, int, cudaStream_t); \
    template void fused_residual_layernorm_forward<T>(T *, T *, float *, float *, const T *, const T *, const T *, \
                                                      const T *, int, int, cudaStream_t); \
    template void layernorm_backward<T>(T *, float *, float *, float *, const T *, const T *, const T *, \
                                        const float *, const float *, int, int, cudaStream_t); \
    template void bias_backward<T>(float *, float *, const T *, int, int, cudaStream_t);
INST(float)
INST(bf16)
