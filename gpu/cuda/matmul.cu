/* Matrix products through cuBLASLt (bias and GELU epilogues fused into the
 * GEMM) with a cublasGemmEx fallback for shapes or alignments Lt rejects.
 * Row-major (N, IC) activations and (OC, IC) weights are handed to the
 * column-major libraries as their transposes:
 *   forward   out^T (OC,N)   = W^T' (OC,IC) x inp^T (IC,N)      op(A)=T
 *   dinp      dinp^T (IC,N)  = W (IC,OC)    x dout^T (OC,N)
 *   dW        dW^T (IC,OC)  += inp^T (IC,N) x dout (N,OC)       op(B)=T, fp32 D
 * Compute is always fp32 (CUBLAS_COMPUTE_32F: no TF32 in fp32 mode, so the
 * fp32 backend matches the CPU reference to ~1e-6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu/cuda/kernels.h"

#define WORKSPACE_BYTES (32u << 20)
#define CACHE_SLOTS 64   /* distinct GEMMs of one model: ~20 shapes x epilogues */

/* One cached heuristic answer: the key is everything the heuristic sees. */
struct lt_key {
    int ta, tb, M, N, K, lda, ldb, ldd, at, bt, dt, ep, has_bias, has_aux, ldaux;
    uint32_t al_a, al_b, al_d;
};
struct lt_entry {
    lt_key key;
    int found;                        /* 0: Lt has no algorithm (use the fallback) */
    cublasLtMatmulAlgo_t algo;
};
struct lt_cache {
    int n;
    lt_entry e[CACHE_SLOTS];
};

bool matmul_ctx_init(matmul_ctx *m, cudaStream_t s, char *err, size_t n)
{
    memset(m, 0, sizeof *m);
    if (!CUBLAS_OK(cublasCreate(&m->blas), err, n)) return false;
    if (!CUBLAS_OK(cublasSetStream(m->blas, s), err, n)) return false;
    if (!CUBLAS_OK(cublasSetMathMode(m->blas, CUBLAS_DEFAULT_MATH), err, n)) return false;
    if (!CUBLAS_OK(cublasLtCreate(&m->lt), err, n)) return false;
    m->workspace_size = WORKSPACE_BYTES;
    if (!CUDA_OK(cudaMalloc(&m->workspace, m->workspace_size), err, n)) return false;
    /* cuBLAS picks its own workspace otherwise, which would allocate lazily. */
    if (!CUBLAS_OK(cublasSetWorkspace(m->blas, m->workspace, m->workspace_size), err, n)) return false;
    m->cache = (lt_cache *)calloc(1, sizeof(lt_cache));
    if (!m->cache) { snprintf(err, n, "CUDA backend: out of host memory"); return false; }
    const char *e = getenv("PHOTON_CUDA_EPILOGUES");
    m->epilogues = !(e && strcmp(e, "0") == 0);
    const char *a = getenv("PHOTON_CUDA_ATTENTION");
    m->flash = a && strcmp(a, "flash") == 0;
    return true;
}

void matmul_ctx_free(matmul_ctx *m)
{
    free(m->cache);
    if (m->workspace) cudaFree(m->workspace);
    if (m->lt) cublasLtDestroy(m->lt);
    if (m->blas) cublasDestroy(m->blas);
    memset(m, 0, sizeof *m);
}

static uint32_t alignment(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t r = 256;
    while (r > 1 && a % r) r >>= 1;
    return r;
}

/* D = alpha op(A) op(B) + beta C (C == D) with an optional epilogue.
 * Returns false when cuBLASLt has no algorithm for it (the caller falls back). */
static bool lt_matmul(matmul_ctx *m, cudaStream_t s, bool ta, bool tb, int M, int Nn, int K, const void *A,
                      cudaDataType_t at, int lda, const void *Bm, cudaDataType_t bt, int ldb, void *D,
                      cudaDataType_t dt, int ldd, float beta, cublasLtEpilogue_t ep, const void *bias, void *aux,
                      int ldaux)
{
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulPreference_t pref;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasCheck(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    if (bias) {
        cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        cudaDataType_t bias_t = dt;
        cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_t, sizeof bias_t));
    }
    if (aux) {
        int64_t l = ldaux;
        cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
        cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &l, sizeof l));
    }
    /* Stored shapes (before op): A is (K, M) when transposed, else (M, K). */
    cublasCheck(cublasLtMatrixLayoutCreate(&la, at, ta ? K : M, ta ? M : K, lda));
    cublasCheck(cublasLtMatrixLayoutCreate(&lb, bt, tb ? Nn : K, tb ? K : Nn, ldb));
    cublasCheck(cublasLtMatrixLayoutCreate(&ld, dt, M, Nn, ldd));
    cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = m->workspace_size;
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    uint32_t al_a = alignment(A), al_b = alignment(Bm), al_d = alignment(D);
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof al_d));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof al_d));
    lt_key key;
    memset(&key, 0, sizeof key);   /* padding too: keys are compared with memcmp */
    key.ta = ta; key.tb = tb; key.M = M; key.N = Nn; key.K = K; key.lda = lda; key.ldb = ldb; key.ldd = ldd;
    key.at = at; key.bt = bt; key.dt = dt; key.ep = (int)ep; key.has_bias = bias != nullptr;
    key.has_aux = aux != nullptr; key.ldaux = ldaux; key.al_a = al_a; key.al_b = al_b; key.al_d = al_d;
    lt_entry *hit = nullptr;
    for (int i = 0; m->cache && i < m->cache->n && !hit; i++)
        if (memcmp(&m->cache->e[i].key, &key, sizeof key) == 0) hit = &m->cache->e[i];
    lt_entry fresh;
    if (!hit) {
        cublasLtMatmulHeuristicResult_t heur;
        int found = 0;
        fresh.key = key;
        fresh.found = cublasLtMatmulAlgoGetHeuristic(m->lt, desc, la, lb, ld, ld, pref, 1, &heur, &found) ==
                          CUBLAS_STATUS_SUCCESS && found > 0;
        if (fresh.found) fresh.algo = heur.algo;
        hit = &fresh;
        if (m->cache && m->cache->n < CACHE_SLOTS) m->cache->e[m->cache->n++] = fresh;
    }
    bool ok = hit->found != 0;
    if (ok) {
        float alpha = 1.0f;
        cublasStatus_t st = cublasLtMatmul(m->lt, desc, &alpha, A, la, Bm, lb, &beta, D, ld, D, ld, &hit->algo,
                                           m->workspace, m->workspace_size, s);
        /* declined configurations fall back; anything else is a real failure */
        if (st != CUBLAS_STATUS_NOT_SUPPORTED && st != CUBLAS_STATUS_INVALID_VALUE) cublasCheck(st);
        ok = st == CUBLAS_STATUS_SUCCESS;
        if (!ok) hit->found = 0;   /* remember: go straight to the fallback next time */
    }
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(ld);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatmulDescDestroy(desc);
    return ok;
}

/* Plain GEMM: Lt first (it has the better Hopper kernels), cublasGemmEx if Lt declines. */
static void gemm(matmul_ctx *m, cudaStream_t s, bool ta, bool tb, int M, int Nn, int K, const void *A,
                 cudaDataType_t at, int lda, const void *Bm, cudaDataType_t bt, int ldb, void *D, cudaDataType_t dt,
                 int ldd, float beta)
{
    if (lt_matmul(m, s, ta, tb, M, Nn, K, A, at, lda, Bm, bt, ldb, D, dt, ldd, beta, CUBLASLT_EPILOGUE_DEFAULT,
                  nullptr, nullptr, 0))
        return;
    float alpha = 1.0f;
    cublasCheck(cublasGemmEx(m->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, M, Nn, K,
                             &alpha, A, at, lda, Bm, bt, ldb, &beta, D, dt, ldd, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT));
}

template <typename T>
void matmul_forward(matmul_ctx *m, T *out, T *pre_gelu, const T *inp, const T *w, const T *bias, int N, int IC,
                    int OC, cudaStream_t s)
{
    const cudaDataType_t dt = dtype_of<T>::value;
    /* Epilogue vectors need 16-byte alignment (bias of layer l sits at an
     * offset of l*OC elements in the flat parameters: true for real widths,
     * not always for test models). */
    if (m->epilogues && (!bias || alignment(bias) >= 16) && (!pre_gelu || alignment(pre_gelu) >= 16)) {
        cublasLtEpilogue_t ep = pre_gelu ? (bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX)
                                         : (bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
        if (lt_matmul(m, s, true, false, OC, N, IC, w, dt, IC, inp, dt, IC, out, dt, OC, 0.0f, ep, bias, pre_gelu,
                      OC))
            return;
    }
    T *dst = pre_gelu ? pre_gelu : out;
    gemm(m, s, true, false, OC, N, IC, w, dt, IC, inp, dt, IC, dst, dt, OC, 0.0f);
    if (bias) add_bias(dst, bias, N, OC, s);
    if (pre_gelu) gelu_forward(out, pre_gelu, (size_t)N * OC, s);
}

template <typename T>
void matmul_backward(matmul_ctx *m, T *dinp, float *dw, float *db, float *scratch, const T *dout, const T *inp,
                     const T *w, int N, int IC, int OC, cudaStream_t s)
{
    const cudaDataType_t dt = dtype_of<T>::value;
    gemm(m, s, false, false, IC, N, OC, w, dt, IC, dout, dt, OC, dinp, dt, IC, 0.0f);
    gemm(m, s, false, true, IC, OC, N, inp, dt, IC, dout, dt, OC, dw, CUDA_R_32F, IC, 1.0f);
    if (db) bias_backward(db, scratch, dout, N, OC, s);
}

template <typename T>
void matmul_backward_gelu(matmul_ctx *m, T *dinp, float *dw, float *db, float *scratch, const T *dout, const T *inp,
                          const T *w, const T *pre_gelu, int N, int IC, int OC, cudaStream_t s)
{
    const cudaDataType_t dt = dtype_of<T>::value;
    /* DGELU: D = (A B) * gelu'(aux), aux shaped like D: (IC, N) column-major = pre_gelu (N, IC) row-major */
    bool fused = m->epilogues && alignment(pre_gelu) >= 16 &&
                 lt_matmul(m, s, false, false, IC, N, OC, w, dt, IC, dout, dt, OC, dinp, dt, IC, 0.0f,
                           CUBLASLT_EPILOGUE_DGELU, nullptr, const_cast<T *>(pre_gelu), IC);
    if (!fused) {
        gemm(m, s, false, false, IC, N, OC, w, dt, IC, dout, dt, OC, dinp, dt, IC, 0.0f);
        gelu_backward_inplace(dinp, pre_gelu, (size_t)N * IC, s);
    }
    gemm(m, s, false, true, IC, OC, N, inp, dt, IC, dout, dt, OC, dw, CUDA_R_32F, IC, 1.0f);
    if (db) bias_backward(db, scratch, dout, N, OC, s);
}

#define INST(T) \
    template void matmul_forward<T>(matmul_ctx *, T *, T *, const T *, const T *, const T *, int, int, int, \
                                    cudaStream_t); \
    template void matmul_backward<T>(matmul_ctx *, T *, float *, float *, float *, const T *, const T *, const T *, \
                                     int, int, int, cudaStream_t); \
    template void matmul_backward_gelu<T>(matmul_ctx *, T *, float *, float *, float *, const T *, const T *, \
                                          const T *, const T *, int, int, int, cudaStream_t);
INST(float)
INST(bf16)
