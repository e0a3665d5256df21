/* Flash-style causal attention for bf16 and head size 64 (FlashAttention-2
 * structure on WMMA tensor-core tiles): the (T, T) scores never reach memory.
 *   forward:  per (b, h, 64-query tile), 4 warps x 16 query rows; loop over
 *             64-key tiles up to the diagonal: S = Q K^T (fp32), online
 *             softmax (running max m, sum l), O = O * corr + P V; writes
 *             O / l and lse = m + log l (per row, fp32) for the backward.
 *   backward: D = rowsum(dO * O); one kernel per 64-key tile accumulates
 *             dK, dV over the query tiles at or below the diagonal, another
 *             per 64-query tile accumulates dQ over the key tiles: both
 *             recompute P = exp(S - lse) and dS = P (dP - D).  No atomics,
 *             so it stays bitwise deterministic (it recomputes S twice
 *             instead of FA2's atomic dQ).
 * q, k, v, o, dq, dk, dv are (B, NH, T, 64) bf16; lse, D are (B, NH, T) fp32.
 * Shared-memory rows are padded (72 bf16 / 68 fp32) against bank conflicts
 * while keeping WMMA's 32-byte fragment alignment. */
#include <mma.h>
#include "gpu/cuda/flash_attention.h"

using namespace nvcuda;

#define HD 64          /* head size */
#define TILE 64        /* query rows per block / keys per tile */
#define LDB 72         /* bf16 row stride in shared memory */
#define LDF 68         /* fp32 row stride in shared memory */
#define THREADS 128    /* 4 warps x 16 rows */

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> frag_b_row;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> frag_b_col;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_c;

static const size_t TILE_BYTES = TILE * LDB * sizeof(bf16);        /* 9216 */
static const size_t WARP_F = 16 * LDF * sizeof(float);             /* 4352 */
static const size_t WARP_B = 16 * LDB * sizeof(bf16);              /* 2304 */
static const size_t FWD_SMEM = 3 * TILE_BYTES + 4 * (2 * WARP_F + WARP_B);
static const size_t BWD_SMEM = 4 * TILE_BYTES + 2 * TILE * sizeof(float) + 4 * (2 * WARP_F + 2 * WARP_B);

/* rows row0.. of a (T, 64) matrix into shared memory, zeros past T; 16-byte vectors. */
__device__ static void load_tile(bf16 *dst, const bf16 *src, int row0, int T)
{
    for (int i = threadIdx.x; i < TILE * (HD / 8); i += THREADS) {
        int r = i / (HD / 8), c = (i % (HD / 8)) * 8;
        int4 v = make_int4(0, 0, 0, 0);
        if (row0 + r < T) v = *(const int4 *)(src + (size_t)(row0 + r) * HD + c);
        *(int4 *)(dst + r * LDB + c) = v;
    }
}

/* out (16 x 64, ld LDF) = A (16 x 64 rows of a, ld LDB) x B, B = b^T (col-major view) or b (row-major). */
template <bool B_TRANSPOSED>
__device__ static void warp_gemm_16x64(float *out, const bf16 *a, const bf16 *b)
{
    for (int n = 0; n < 4; n++) {
        frag_c acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int kk = 0; kk < 4; kk++) {
            frag_a fa;
            wmma::load_matrix_sync(fa, a + kk * 16, LDB);
            if (B_TRANSPOSED) {
                frag_b_col fb;
                wmma::load_matrix_sync(fb, b + n * 16 * LDB + kk * 16, LDB);
                wmma::mma_sync(acc, fa, fb, acc);
            } else {
                frag_b_row fb;
                wmma::load_matrix_sync(fb, b + kk * 16 * LDB + n * 16, LDB);
                wmma::mma_sync(acc, fa, fb, acc);
            }
        }
        wmma::store_matrix_sync(out + n * 16, acc, LDF, wmma::mem_row_major);
    }
}

/* acc[n] += a (16 x 64) x b (64 x 64 row-major), kept in registers across tiles. */
__device__ static void warp_accumulate(frag_c acc[4], const bf16 *a, const bf16 *b)
{
    for (int n = 0; n < 4; n++)
        for (int kk = 0; kk < 4; kk++) {
            frag_a fa;
            frag_b_row fb;
            wmma::load_matrix_sync(fa, a + kk * 16, LDB);
            wmma::load_matrix_sync(fb, b + kk * 16 * LDB + n * 16, LDB);
            wmma::mma_sync(acc[n], fa, fb, acc[n]);
        }
}

/* Writes 16 rows of acc * factor (via the warp's fp32 scratch) to dst rows row0.. (< T). */
__device__ static void warp_store_rows(bf16 *dst, frag_c acc[4], float *scratch, int row0, int T, float factor)
{
    int lane = threadIdx.x % 32, row = lane / 2, half = lane % 2;
    for (int n = 0; n < 4; n++) wmma::store_matrix_sync(scratch + n * 16, acc[n], LDF, wmma::mem_row_major);
    __syncwarp();
    if (row0 + row < T)
        for (int c = 0; c < 32; c++)
            dst[(size_t)(row0 + row) * HD + half * 32 + c] = __float2bfloat16_rn(scratch[row * LDF + half * 32 + c] * factor);
    __syncwarp();
}

__global__ __launch_bounds__(THREADS) void flash_fwd_kernel(bf16 *out, float *lse, const bf16 *q, const bf16 *k,
                                                            const bf16 *v, int T, float scale)
{
    extern __shared__ __align__(128) unsigned char smem[];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, row = lane / 2, half = lane % 2;
    bf16 *Qs = (bf16 *)smem, *Ks = (bf16 *)(smem + TILE_BYTES), *Vs = (bf16 *)(smem + 2 * TILE_BYTES);
    unsigned char *w = smem + 3 * TILE_BYTES + warp * (2 * WARP_F + WARP_B);
    float *S = (float *)w, *O = (float *)(w + WARP_F);
    bf16 *P = (bf16 *)(w + 2 * WARP_F);
    size_t base = (size_t)blockIdx.y * T * HD;
    int q0 = blockIdx.x * TILE, qi = q0 + warp * 16 + row;
    load_tile(Qs, q + base, q0, T);
    for (int i = lane; i < 16 * HD; i += 32) O[(i / HD) * LDF + i % HD] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    int ntiles = (min(T, q0 + TILE) - 1) / TILE + 1;
    for (int j = 0; j < ntiles; j++) {
        __syncthreads();   /* everyone is done with the previous K/V tile */
        load_tile(Ks, k + base, j * TILE, T);
        load_tile(Vs, v + base, j * TILE, T);
        __syncthreads();
        warp_gemm_16x64<true>(S, Qs + warp * 16 * LDB, Ks);
        __syncwarp();
        float *Sr = S + row * LDF + half * 32;
        float mx = -INFINITY;
        for (int c = 0; c < 32; c++) {
            int key = j * TILE + half * 32 + c;
            float s = key <= qi && key < T ? Sr[c] * scale : -INFINITY;
            Sr[c] = s;
            mx = fmaxf(mx, s);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float m_new = fmaxf(m, mx);   /* finite: key 0 is in tile 0 for every row */
        float corr = expf(m - m_new), rs = 0.0f;
        bf16 *Pr = P + row * LDB + half * 32;
        for (int c = 0; c < 32; c++) {
            float p = expf(Sr[c] - m_new);
            rs += p;
            Pr[c] = __float2bfloat16_rn(p);
        }
        rs += __shfl_xor_sync(0xffffffffu, rs, 1);
        l = l * corr + rs;
        m = m_new;
        float *Or = O + row * LDF + half * 32;
        for (int c = 0; c < 32; c++) Or[c] *= corr;
        __syncwarp();
        for (int n = 0; n < 4; n++) {   /* O += P V */
            frag_c acc;
            wmma::load_matrix_sync(acc, O + n * 16, LDF, wmma::mem_row_major);
            for (int kk = 0; kk < 4; kk++) {
                frag_a fa;
                frag_b_row fb;
                wmma::load_matrix_sync(fa, P + kk * 16, LDB);
                wmma::load_matrix_sync(fb, Vs + kk * 16 * LDB + n * 16, LDB);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(O + n * 16, acc, LDF, wmma::mem_row_major);
        }
        __syncwarp();
    }
    if (qi < T) {
        float inv = 1.0f / l;
        const float *Or = O + row * LDF + half * 32;
        bf16 *dst = out + base + (size_t)qi * HD + half * 32;
        for (int c = 0; c < 32; c++) dst[c] = __float2bfloat16_rn(Or[c] * inv);
        if (half == 0) lse[(size_t)blockIdx.y * T + qi] = m + logf(l);
    }
}

/* D[b,h,t] = sum_d dout[b,t,h*64+d] * out[b,t,h*64+d] on the unpermuted (B,T,C) tensors; one warp per (b,t,h). */
__global__ void flash_dvec_kernel(float *D, const bf16 *dout, const bf16 *out, int B, int T, int NH)
{
    int idx = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (idx >= B * T * NH) return;
    int h = idx % NH, t = (idx / NH) % T, b = idx / (NH * T);
    size_t off = ((size_t)b * T + t) * NH * HD + h * HD;
    float s = 0.0f;
    for (int d = lane; d < HD; d += 32) s += __bfloat162float(dout[off + d]) * __bfloat162float(out[off + d]);
    s = warp_sum(s);
    if (lane == 0) D[((size_t)b * NH + h) * T + t] = s;
}

/* Backward scratch of a warp: S, dP (fp32), P, dS (bf16). */
struct bwd_warp {
    float *S, *dP;
    bf16 *P, *dS;
};
__device__ static bwd_warp bwd_scratch(unsigned char *smem, int warp)
{
    unsigned char *w = smem + 4 * TILE_BYTES + 2 * TILE * sizeof(float) + warp * (2 * WARP_F + 2 * WARP_B);
    return bwd_warp{ (float *)w, (float *)(w + WARP_F), (bf16 *)(w + 2 * WARP_F), (bf16 *)(w + 2 * WARP_F + WARP_B) };
}

__global__ __launch_bounds__(THREADS) void flash_bwd_dkdv_kernel(bf16 *dk, bf16 *dv, const bf16 *q, const bf16 *k,
                                                                 const bf16 *v, const bf16 *dout, const float *lse,
                                                                 const float *D, int T, float scale)
{
    extern __shared__ __align__(128) unsigned char smem[];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, row = lane / 2, half = lane % 2;
    bf16 *Ks = (bf16 *)smem, *Vs = (bf16 *)(smem + TILE_BYTES), *Qs = (bf16 *)(smem + 2 * TILE_BYTES),
         *dOs = (bf16 *)(smem + 3 * TILE_BYTES);
    float *Ls = (float *)(smem + 4 * TILE_BYTES), *Ds = Ls + TILE;
    bwd_warp sw = bwd_scratch(smem, warp);
    size_t base = (size_t)blockIdx.y * T * HD, rbase = (size_t)blockIdx.y * T;
    int k0 = blockIdx.x * TILE, key = k0 + warp * 16 + row;
    load_tile(Ks, k + base, k0, T);
    load_tile(Vs, v + base, k0, T);
    frag_c dK[4], dV[4];
    for (int n = 0; n < 4; n++) { wmma::fill_fragment(dK[n], 0.0f); wmma::fill_fragment(dV[n], 0.0f); }
    int nq = (T - 1) / TILE + 1;
    for (int i = blockIdx.x; i < nq; i++) {   /* query tiles at or below the diagonal */
        __syncthreads();
        load_tile(Qs, q + base, i * TILE, T);
        load_tile(dOs, dout + base, i * TILE, T);
        for (int r = threadIdx.x; r < TILE; r += THREADS) {
            bool in = i * TILE + r < T;
            Ls[r] = in ? lse[rbase + i * TILE + r] : 0.0f;
            Ds[r] = in ? D[rbase + i * TILE + r] : 0.0f;
        }
        __syncthreads();
        warp_gemm_16x64<true>(sw.S, Ks + warp * 16 * LDB, Qs);    /* S^T: keys x queries */
        warp_gemm_16x64<true>(sw.dP, Vs + warp * 16 * LDB, dOs);  /* dP^T = V dO^T */
        __syncwarp();
        for (int c = 0; c < 32; c++) {
            int col = half * 32 + c, qi = i * TILE + col;
            bool valid = qi >= key && qi < T && key < T;
            float p = valid ? expf(sw.S[row * LDF + col] * scale - Ls[col]) : 0.0f;
            float ds = p * (sw.dP[row * LDF + col] - Ds[col]);
            sw.P[row * LDB + col] = __float2bfloat16_rn(p);
            sw.dS[row * LDB + col] = __float2bfloat16_rn(ds);
        }
        __syncwarp();
        warp_accumulate(dV, sw.P, dOs);   /* dV += P^T dO */
        warp_accumulate(dK, sw.dS, Qs);   /* dK += dS^T Q */
    }
    warp_store_rows(dv + base, dV, sw.S, k0 + warp * 16, T, 1.0f);
    warp_store_rows(dk + base, dK, sw.S, k0 + warp * 16, T, scale);
}

__global__ __launch_bounds__(THREADS) void flash_bwd_dq_kernel(bf16 *dq, const bf16 *q, const bf16 *k, const bf16 *v,
                                                               const bf16 *dout, const float *lse, const float *D,
                                                               int T, float scale)
{
    extern __shared__ __align__(128) unsigned char smem[];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, row = lane / 2, half = lane % 2;
    bf16 *Qs = (bf16 *)smem, *dOs = (bf16 *)(smem + TILE_BYTES), *Ks = (bf16 *)(smem + 2 * TILE_BYTES),
         *Vs = (bf16 *)(smem + 3 * TILE_BYTES);
    float *Ls = (float *)(smem + 4 * TILE_BYTES), *Ds = Ls + TILE;
    bwd_warp sw = bwd_scratch(smem, warp);
    size_t base = (size_t)blockIdx.y * T * HD, rbase = (size_t)blockIdx.y * T;
    int q0 = blockIdx.x * TILE, qi = q0 + warp * 16 + row;
    load_tile(Qs, q + base, q0, T);
    load_tile(dOs, dout + base, q0, T);
    for (int r = threadIdx.x; r < TILE; r += THREADS) {
        bool in = q0 + r < T;
        Ls[r] = in ? lse[rbase + q0 + r] : 0.0f;
        Ds[r] = in ? D[rbase + q0 + r] : 0.0f;
    }
    frag_c dQ[4];
    for (int n = 0; n < 4; n++) wmma::fill_fragment(dQ[n], 0.0f);
    int ntiles = (min(T, q0 + TILE) - 1) / TILE + 1;
    float lq = 0.0f, dq_d = 0.0f;
    for (int j = 0; j < ntiles; j++) {
        __syncthreads();
        load_tile(Ks, k + base, j * TILE, T);
        load_tile(Vs, v + base, j * TILE, T);
        __syncthreads();
        if (j == 0) { lq = Ls[warp * 16 + row]; dq_d = Ds[warp * 16 + row]; }
        warp_gemm_16x64<true>(sw.S, Qs + warp * 16 * LDB, Ks);    /* S = Q K^T */
        warp_gemm_16x64<true>(sw.dP, dOs + warp * 16 * LDB, Vs);  /* dP = dO V^T */
        __syncwarp();
        for (int c = 0; c < 32; c++) {
            int col = half * 32 + c, key = j * TILE + col;
            bool valid = key <= qi && key < T && qi < T;
            float p = valid ? expf(sw.S[row * LDF + col] * scale - lq) : 0.0f;
            sw.dS[row * LDB + col] = __float2bfloat16_rn(p * (sw.dP[row * LDF + col] - dq_d));
        }
        __syncwarp();
        warp_accumulate(dQ, sw.dS, Ks);   /* dQ += dS K */
    }
    warp_store_rows(dq + base, dQ, sw.S, q0 + warp * 16, T, scale);
}

bool flash_attention_supported(int C, int NH, int T) { return NH > 0 && C % NH == 0 && C / NH == HD && T >= 2; }

void flash_attention_forward(bf16 *out, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, int B, int NH, int T,
                             cudaStream_t s)
{
    /* > 48 KiB of dynamic shared memory needs opting in (per device: cheap, so every call) */
    cudaCheck(cudaFuncSetAttribute(flash_fwd_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)FWD_SMEM));
    dim3 grid(ceil_div(T, TILE), B * NH);
    flash_fwd_kernel<<<grid, THREADS, FWD_SMEM, s>>>(out, lse, q, k, v, T, 1.0f / sqrtf((float)HD));
    cudaCheckLaunch();
}

void flash_attention_backward(bf16 *dq, bf16 *dk, bf16 *dv, float *D, const bf16 *q, const bf16 *k, const bf16 *v,
                              const bf16 *dout_perm, const bf16 *dout_btc, const bf16 *out_btc, const float *lse,
                              int B, int NH, int T, cudaStream_t s)
{
    cudaCheck(cudaFuncSetAttribute(flash_bwd_dkdv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)BWD_SMEM));
    cudaCheck(cudaFuncSetAttribute(flash_bwd_dq_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)BWD_SMEM));
    float scale = 1.0f / sqrtf((float)HD);
    flash_dvec_kernel<<<ceil_div((long)B * T * NH, 8), 256, 0, s>>>(D, dout_btc, out_btc, B, T, NH);
    cudaCheckLaunch();
    dim3 grid(ceil_div(T, TILE), B * NH);
    flash_bwd_dkdv_kernel<<<grid, THREADS, BWD_SMEM, s>>>(dk, dv, q, k, v, dout_perm, lse, D, T, scale);
    cudaCheckLaunch();
    flash_bwd_dq_kernel<<<grid, THREADS, BWD_SMEM, s>>>(dq, q, k, v, dout_perm, lse, D, T, scale);
    cudaCheckLaunch();
}
