/* Host-array wrappers around the kernels for tests/gpu/ (cuda_test_api.h).
 * Slow on purpose (allocate, copy, run, copy back, free): clarity over speed. */
#include <math.h>
#include <string.h>
#include <vector>
#include "gpu/cuda/cuda_api.h"
#include "gpu/cuda/cuda_test_api.h"
#include "gpu/cuda/kernels.h"

namespace {

/* Device copy of a host fp32 array in type T. */
template <typename T> struct dbuf {
    T *d = nullptr;
    size_t n = 0;
    explicit dbuf(size_t count, const float *host = nullptr) : n(count)
    {
        cudaCheck(cudaMalloc(&d, (n ? n : 1) * sizeof(T)));
        if (host) up(host);
        else cudaCheck(cudaMemset(d, 0, (n ? n : 1) * sizeof(T)));
    }
    ~dbuf() { cudaFree(d); }
    dbuf(const dbuf &) = delete;
    dbuf &operator=(const dbuf &) = delete;
    void up(const float *host)
    {
        float *tmp;
        cudaCheck(cudaMalloc(&tmp, (n ? n : 1) * sizeof(float)));
        cudaCheck(cudaMemcpy(tmp, host, n * sizeof(float), cudaMemcpyHostToDevice));
        cast_from_f32(d, tmp, n, 0);
        cudaCheck(cudaDeviceSynchronize());
        cudaFree(tmp);
    }
    void down(float *host) const
    {
        float *tmp;
        cudaCheck(cudaMalloc(&tmp, (n ? n : 1) * sizeof(float)));
        cast_to_f32(tmp, d, n, 0);
        cudaCheck(cudaMemcpy(host, tmp, n * sizeof(float), cudaMemcpyDeviceToHost));
        cudaFree(tmp);
    }
};

struct ibuf {
    int *d = nullptr;
    ibuf(const int *host, size_t n)
    {
        cudaCheck(cudaMalloc(&d, (n ? n : 1) * sizeof(int)));
        cudaCheck(cudaMemcpy(d, host, n * sizeof(int), cudaMemcpyHostToDevice));
    }
    ~ibuf() { cudaFree(d); }
    ibuf(const ibuf &) = delete;
    ibuf &operator=(const ibuf &) = delete;
};

bool ready() { return cuda_device_count() > 0 && cudaSetDevice(0) == cudaSuccess; }
void done() { cudaCheck(cudaDeviceSynchronize()); }

template <typename T> int enc_fwd(float *out, const int *tok, const float *wte, const float *wpe, int B, int Tn, int C, int V)
{
    dbuf<T> o((size_t)B * Tn * C), e((size_t)V * C, wte), p((size_t)Tn * C, wpe);
    ibuf tk(tok, (size_t)B * Tn);
    encoder_forward(o.d, tk.d, e.d, p.d, B, Tn, C, 0);
    done();
    o.down(out);
    return 0;
}

template <typename T> int enc_bwd(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int Tn, int C, int V)
{
    int N = B * Tn, nu = 0;
    std::vector<int> count(V), buckets(3 * (size_t)N + 1);
    encoder_buckets_build(tok, N, V, count.data(), buckets.data(), buckets.data() + N, buckets.data() + 2 * N + 1, &nu);
    dbuf<T> d((size_t)N * C, dout);
    dbuf<float> dw((size_t)V * C, dwte), dp((size_t)Tn * C, dwpe);
    ibuf bk(buckets.data(), buckets.size());
    encoder_backward(dw.d, dp.d, d.d, bk.d, bk.d + N, bk.d + 2 * N + 1, nu, B, Tn, C, 0);
    done();
    dw.down(dwte);
    dp.down(dwpe);
    return 0;
}

template <typename T> int ln_fwd(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int N, int C)
{
    dbuf<T> o((size_t)N * C), x((size_t)N * C, inp), ww(C, w), bb(C, b);
    dbuf<float> m(N), r(N);
    layernorm_forward(o.d, m.d, r.d, x.d, ww.d, bb.d, N, C, 0);
    done();
    o.down(out); m.down(mean); r.down(rstd);
    return 0;
}

template <typename T> int fused_ln(float *res, float *out, float *mean, float *rstd, const float *a, const float *b,
                                   const float *w, const float *bias, int N, int C)
{
    size_t n = (size_t)N * C;
    dbuf<T> rs(n), o(n), aa(n, a), bb(n, b), ww(C, w), bi(C, bias);
    dbuf<float> m(N), r(N);
    fused_residual_layernorm_forward(rs.d, o.d, m.d, r.d, aa.d, bb.d, ww.d, bi.d, N, C, 0);
    done();
    rs.down(res); o.down(out); m.down(mean); r.down(rstd);
    return 0;
}

template <typename T> int ln_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                                 const float *mean, const float *rstd, int N, int C)
{
    size_t n = (size_t)N * C;
    dbuf<T> di(n, dinp), d(n, dout), x(n, inp), ww(C, w);
    dbuf<float> gw(C, dw), gb(C, db), m(N, mean), r(N, rstd), scratch(2 * colsum_scratch_floats(N, C));
    layernorm_backward(di.d, gw.d, gb.d, scratch.d, d.d, x.d, ww.d, m.d, r.d, N, C, 0);
    done();
    di.down(dinp); gw.down(dw); gb.down(db);
    return 0;
}

template <typename T> int mm_fwd(int epi, float *out, float *pre, const float *inp, const float *w, const float *bias,
                                 int N, int IC, int OC)
{
    matmul_ctx mm;
    char err[512];
    if (!matmul_ctx_init(&mm, 0, err, sizeof err)) cuda_fail("matmul", __FILE__, __LINE__, "matmul_ctx_init", err);
    mm.epilogues = epi;
    {
        dbuf<T> o((size_t)N * OC), pg(pre ? (size_t)N * OC : 1), x((size_t)N * IC, inp), ww((size_t)OC * IC, w),
            bb(bias ? OC : 1, bias);
        matmul_forward(&mm, o.d, pre ? pg.d : (T *)nullptr, x.d, ww.d, bias ? bb.d : (T *)nullptr, N, IC, OC, 0);
        done();
        o.down(out);
        if (pre) pg.down(pre);
    }
    matmul_ctx_free(&mm);
    return 0;
}

template <typename T> int mm_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                                 int N, int IC, int OC)
{
    matmul_ctx mm;
    char err[512];
    if (!matmul_ctx_init(&mm, 0, err, sizeof err)) cuda_fail("matmul", __FILE__, __LINE__, "matmul_ctx_init", err);
    {
        dbuf<T> di((size_t)N * IC), d((size_t)N * OC, dout), x((size_t)N * IC, inp), ww((size_t)OC * IC, w);
        dbuf<float> gw((size_t)OC * IC, dw), gb(db ? OC : 1, db), scratch(colsum_scratch_floats(N, OC));
        matmul_backward(&mm, di.d, gw.d, db ? gb.d : (float *)nullptr, scratch.d, d.d, x.d, ww.d, N, IC, OC, 0);
        done();
        di.down(dinp);
        gw.down(dw);
        if (db) gb.down(db);
    }
    matmul_ctx_free(&mm);
    return 0;
}

template <typename T> int mm_bwd_gelu(int epi, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                      const float *w, const float *pre, int N, int IC, int OC)
{
    matmul_ctx mm;
    char err[512];
    if (!matmul_ctx_init(&mm, 0, err, sizeof err)) cuda_fail("matmul", __FILE__, __LINE__, "matmul_ctx_init", err);
    mm.epilogues = epi;
    {
        dbuf<T> di((size_t)N * IC), d((size_t)N * OC, dout), x((size_t)N * IC, inp), ww((size_t)OC * IC, w),
            pg((size_t)N * IC, pre);
        dbuf<float> gw((size_t)OC * IC, dw), gb(OC, db), scratch(colsum_scratch_floats(N, OC));
        matmul_backward_gelu(&mm, di.d, gw.d, gb.d, scratch.d, d.d, x.d, ww.d, pg.d, N, IC, OC, 0);
        done();
        di.down(dinp);
        gw.down(dw);
        gb.down(db);
    }
    matmul_ctx_free(&mm);
    return 0;
}

template <typename T> int att_run(float *out, float *att, float *dqkv, const float *dout, const float *qkv, int B,
                                  int Tn, int C, int NH)
{
    matmul_ctx mm;
    char err[512];
    if (!matmul_ctx_init(&mm, 0, err, sizeof err)) cuda_fail("matmul", __FILE__, __LINE__, "matmul_ctx_init", err);
    {
        size_t n = (size_t)B * Tn * C, tt = (size_t)B * NH * Tn * Tn;
        dbuf<T> q(3 * n, qkv), o(n), a(tt), qkvr(3 * n), vacc(n), sc(tt);
        attention_forward(&mm, o.d, a.d, qkvr.d, vacc.d, sc.d, q.d, B, Tn, C, NH, 0);
        if (dqkv) {
            dbuf<T> d(n, dout), dq(3 * n), dqr(3 * n);
            attention_backward(&mm, dq.d, dqr.d, vacc.d, sc.d, qkvr.d, d.d, o.d, q.d, a.d, B, Tn, C, NH, 0);
            done();
            dq.down(dqkv);
        }
        done();
        if (out) o.down(out);
        if (att) a.down(att);
    }
    matmul_ctx_free(&mm);
    return 0;
}

template <typename T> int gelu_f(float *out, const float *inp, size_t n)
{
    dbuf<T> o(n), x(n, inp);
    gelu_forward(o.d, x.d, n, 0);
    done();
    o.down(out);
    return 0;
}

template <typename T> int gelu_b(float *d, const float *inp, size_t n)
{
    dbuf<T> dd(n, d), x(n, inp);
    gelu_backward_inplace(dd.d, x.d, n, 0);
    done();
    dd.down(d);
    return 0;
}

template <typename T> int resid(float *out, const float *a, const float *b, size_t n)
{
    dbuf<T> o(n), aa(n, a), bb(n, b);
    residual_forward(o.d, aa.d, bb.d, n, 0);
    done();
    o.down(out);
    return 0;
}

template <typename T> int cls(float *losses, float *logits, const int *targets, int N, int V, int Vp, int backward, float dloss)
{
    dbuf<T> lg((size_t)N * Vp, logits);
    dbuf<float> ls(N);
    ibuf tg(targets, N);
    classifier_forward_backward(ls.d, lg.d, tg.d, N, V, Vp, backward != 0, dloss, 0);
    done();
    ls.down(losses);
    if (backward) lg.down(logits);
    return 0;
}

} // namespace

#define DISPATCH(fn, ...) do { if (!ready()) return -1; return bf16 ? fn<__nv_bfloat16>(__VA_ARGS__) : fn<float>(__VA_ARGS__); } while (0)

extern "C" {

float cudatest_round_bf16(float x)
{
    /* Host-side round-to-nearest-even, the same rounding as __float2bfloat16_rn. */
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;   /* inf / nan unchanged */
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

void cudatest_round_bf16_array(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = cudatest_round_bf16(x[i]);
}

int cudatest_encoder_forward(int bf16, float *out, const int *tok, const float *wte, const float *wpe, int B, int T, int C, int V)
{ DISPATCH(enc_fwd, out, tok, wte, wpe, B, T, C, V); }
int cudatest_encoder_backward(int bf16, float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C, int V)
{ DISPATCH(enc_bwd, dwte, dwpe, dout, tok, B, T, C, V); }
int cudatest_layernorm_forward(int bf16, float *out, float *mean, float *rstd, const float *inp, const float *w,
                               const float *b, int N, int C)
{ DISPATCH(ln_fwd, out, mean, rstd, inp, w, b, N, C); }
int cudatest_fused_residual_layernorm_forward(int bf16, float *res, float *out, float *mean, float *rstd, const float *a,
                                              const float *b, const float *w, const float *bias, int N, int C)
{ DISPATCH(fused_ln, res, out, mean, rstd, a, b, w, bias, N, C); }
int cudatest_layernorm_backward(int bf16, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                const float *w, const float *mean, const float *rstd, int N, int C)
{ DISPATCH(ln_bwd, dinp, dw, db, dout, inp, w, mean, rstd, N, C); }
int cudatest_matmul_forward(int bf16, int epilogues, float *out, float *pre_gelu, const float *inp, const float *w,
                            const float *bias, int N, int IC, int OC)
{ DISPATCH(mm_fwd, epilogues, out, pre_gelu, inp, w, bias, N, IC, OC); }
int cudatest_matmul_backward(int bf16, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, int N, int IC, int OC)
{ DISPATCH(mm_bwd, dinp, dw, db, dout, inp, w, N, IC, OC); }
int cudatest_matmul_backward_gelu(int bf16, int epilogues, float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *pre_gelu, int N, int IC, int OC)
{ DISPATCH(mm_bwd_gelu, epilogues, dinp, dw, db, dout, inp, w, pre_gelu, N, IC, OC); }
int cudatest_attention_forward(int bf16, float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{ DISPATCH(att_run, out, att, (float *)nullptr, (const float *)nullptr, qkv, B, T, C, NH); }
int cudatest_attention_backward(int bf16, float *dqkv, const float *dout, const float *qkv, int B, int T, int C, int NH)
{ DISPATCH(att_run, (float *)nullptr, (float *)nullptr, dqkv, dout, qkv, B, T, C, NH); }
int cudatest_gelu_forward(int bf16, float *out, const float *inp, size_t n) { DISPATCH(gelu_f, out, inp, n); }
int cudatest_gelu_backward(int bf16, float *d, const float *inp, size_t n) { DISPATCH(gelu_b, d, inp, n); }
int cudatest_residual_forward(int bf16, float *out, const float *a, const float *b, size_t n) { DISPATCH(resid, out, a, b, n); }
int cudatest_classifier(int bf16, float *losses, float *logits, const int *targets, int N, int V, int Vp, int backward,
                        float dloss)
{ DISPATCH(cls, losses, logits, targets, N, V, Vp, backward, dloss); }

int cudatest_adamw(float *params, float *params_c, const float *grad, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float wd, int t)
{
    if (!ready()) return -1;
    dbuf<float> p(n, params), g(n, grad), mm(n, m), vv(n, v);
    dbuf<bf16> pc(n);
    float bc1 = (float)(1.0 - pow((double)beta1, t)), bc2 = (float)(1.0 - pow((double)beta2, t));
    adamw_update(p.d, params_c ? pc.d : (bf16 *)nullptr, g.d, mm.d, vv.d, n, lr, beta1, beta2, eps, wd, bc1, bc2, 0);
    done();
    p.down(params); mm.down(m); vv.down(v);
    if (params_c) pc.down(params_c);
    return 0;
}

int cudatest_global_norm(float *g, size_t n, float max_norm, float *norm)
{
    if (!ready()) return -1;
    dbuf<float> gg(n, g), parts(GLOBAL_NORM_BLOCKS), nr(1);
    global_norm(nr.d, parts.d, gg.d, n, 0);
    if (max_norm > 0.0f) clip_by_norm(gg.d, n, nr.d, max_norm, 0);
    done();
    gg.down(g);
    nr.down(norm);
    return 0;
}

int cudatest_mean(float *out, const float *x, int n)
{
    if (!ready()) return -1;
    dbuf<float> xx(n, x), o(1);
    mean_reduce(o.d, xx.d, n, 0);
    done();
    o.down(out);
    return 0;
}

} // extern "C"
