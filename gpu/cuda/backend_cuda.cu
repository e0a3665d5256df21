/* backend_ops for CUDA: the same interface and the same function as the CPU
 * backend.  Host-side parameters, gradients and optimizer state use the flat
 * fp32 layout of gpu/model.h; on the device the fp32 master weights, fp32
 * gradients and fp32 AdamW moments use that layout too, and bf16 mode adds a
 * bf16 compute copy refreshed by the AdamW kernel.
 * Everything is allocated in create, after checking that it fits in the
 * GPU's free memory.  The only host synchronisations are where a value comes
 * back: the loss, the gradient norm, and the get_* copies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gpu/cuda/cuda_model.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

static cuda_model *CM(photon_model *m) { return (cuda_model *)m; }

static void sample_peak(cuda_model *cm)
{
    size_t fr, tot;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && tot - fr > cm->peak_used) cm->peak_used = tot - fr;
}

static void cm_destroy(photon_model *m)
{
    if (!m) return;
    cuda_model *cm = CM(m);
    cudaSetDevice(cm->dev);
    if (cm->stream) cudaStreamSynchronize(cm->stream);
    matmul_ctx_free(&cm->mm);
    if (cm->param_block) cudaFree(cm->param_block);
    if (cm->act_block) cudaFree(cm->act_block);
    if (cm->h_tok) cudaFreeHost(cm->h_tok);
    if (cm->h_scalars) cudaFreeHost(cm->h_scalars);
    if (cm->stream) cudaStreamDestroy(cm->stream);
    free(cm->h_count);
    free(cm);
}

#define TRY(call) do { if (!CUDA_OK(call, err->msg, sizeof err->msg)) goto fail; } while (0)

static photon_model *cm_create(const gpt2_config *c, int B, int T, const backend_opts *o, photon_err *err)
{
    if (gpt2_config_check(c, err) < 0) return NULL;
    if (B < 1 || T < 1 || T > c->seq_len) {
        err_set(err, "CUDA backend: batch %d x %d does not fit the model (seq_len %d)", B, T, c->seq_len);
        return NULL;
    }
    int ndev = cuda_device_count();
    int dev = o ? o->device : 0;
    if (ndev == 0) { err_set(err, "CUDA backend: no GPU is visible (no driver or no device)"); return NULL; }
    if (dev < 0) { err_set(err, "CUDA backend: GPU ordinal %d is negative", dev); return NULL; }
    /* The runtime passes the actor slot: actor i runs on GPU i mod G (cuda_api.h). */
    dev = cuda_device_for_actor(dev, ndev);
    int bf16 = o ? o->bf16 : 1;

    cuda_model *cm = (cuda_model *)calloc(1, sizeof *cm);
    if (!cm) { err_set(err, "CUDA backend: out of host memory"); return NULL; }
    cm->base.ops = backend_cuda_ops();
    cm->base.cfg = *c;
    gpt2_layout_init(&cm->base.layout, c);
    cm->base.B = B;
    cm->base.T = T;
    cm->dev = dev;
    cm->bf16 = bf16;
    cm->elt = bf16 ? 2 : 4;
    cm->P = cm->base.layout.total;
    {
        TRY(cudaSetDevice(dev));
        TRY(cudaFree(0));   /* create the context now, so free memory below is net of it */
        size_t need = cuda_model_bytes(c, B, T, bf16), fr = 0, tot = 0;
        TRY(cudaMemGetInfo(&fr, &tot));
        if (need > fr) {
            char name[256] = "?";
            cuda_device_name(dev, name, sizeof name);
            err_set(err, "CUDA backend: model (L=%d, C=%d, V=%d, %s) with batch %d x %d needs %.2f GiB on GPU %d (%s) "
                    "but only %.2f of %.2f GiB is free: lower the batch size or the sequence length",
                    c->n_layer, c->d_model, c->padded_vocab, bf16 ? "bf16" : "fp32", B, T, need / GIB, dev, name,
                    fr / GIB, tot / GIB);
            goto fail;
        }
        TRY(cudaStreamCreateWithFlags(&cm->stream, cudaStreamNonBlocking));
        if (!matmul_ctx_init(&cm->mm, cm->stream, err->msg, sizeof err->msg)) goto fail;
        bool flash = cuda_flash_enabled(c, T, bf16);
        cm->mm.flash = flash;   /* the plan below sizes att for the path actually taken */
        size_t pbytes = cuda_params_bytes(c, bf16), abytes = cuda_acts_plan(c, B, T, cm->elt, flash, nullptr, nullptr);
        TRY(cudaMalloc(&cm->param_block, pbytes));
        TRY(cudaMalloc(&cm->act_block, abytes));
        cm->allocated = pbytes + abytes + cm->mm.workspace_size;
        size_t P = cm->P;
        cm->master = (float *)cm->param_block;
        cm->grads = cm->master + P;
        cm->m = cm->grads + P;
        cm->v = cm->m + P;
        cm->params = bf16 ? (void *)(cm->v + P) : (void *)cm->master;
        cuda_acts_plan(c, B, T, cm->elt, flash, (char *)cm->act_block, &cm->a);
        TRY(cudaMemsetAsync(cm->param_block, 0, pbytes, cm->stream));
        TRY(cudaMemsetAsync(cm->act_block, 0, abytes, cm->stream));
        size_t N = (size_t)B * T;
        TRY(cudaMallocHost(&cm->h_tok, (5 * N + 1) * sizeof(int)));
        TRY(cudaMallocHost(&cm->h_scalars, 2 * sizeof(float)));
        cm->h_count = (int *)malloc(sizeof(int) * (size_t)c->padded_vocab);
        if (!cm->h_count) { err_set(err, "CUDA backend: out of host memory"); goto fail; }
        TRY(cudaStreamSynchronize(cm->stream));
        sample_peak(cm);
        return &cm->base;
    }
fail:
    cm_destroy(&cm->base);
    return NULL;
}

static void copy_sync(cuda_model *cm, void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    cudaCheck(cudaSetDevice(cm->dev));
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, kind, cm->stream));
    cudaCheck(cudaStreamSynchronize(cm->stream));
}

static void refresh_compute_copy(cuda_model *cm)
{
    if (cm->bf16) cast_from_f32((bf16 *)cm->params, cm->master, cm->P, cm->stream);
}

static void cm_set_params(photon_model *m, const float *host)
{
    cuda_model *cm = CM(m);
    copy_sync(cm, cm->master, host, cm->P * sizeof(float), cudaMemcpyHostToDevice);
    refresh_compute_copy(cm);
}

static void cm_get_params(photon_model *m, float *host)
{
    cuda_model *cm = CM(m);
    copy_sync(cm, host, cm->master, cm->P * sizeof(float), cudaMemcpyDeviceToHost);
}

static float finish_loss(cuda_model *cm)
{
    copy_sync(cm, cm->h_scalars, cm->a.scalars, sizeof(float), cudaMemcpyDeviceToHost);
    sample_peak(cm);
    return cm->h_scalars[0];
}

static float cm_forward_backward(photon_model *m, const uint32_t *tokens, float grad_scale)
{
    cuda_model *cm = CM(m);
    cudaCheck(cudaSetDevice(cm->dev));
    if (!cuda_model_upload_tokens(cm, tokens, m->B, m->T, true)) return NAN;
    /* d(mean loss)/d(loss_i) = 1/N, times the accumulation scale. */
    float dloss = grad_scale / (float)((size_t)m->B * m->T);
    cuda_model_run(cm, m->B, m->T, true, true, dloss);
    return finish_loss(cm);
}

static float cm_forward_loss(photon_model *m, const uint32_t *tokens)
{
    cuda_model *cm = CM(m);
    cudaCheck(cudaSetDevice(cm->dev));
    if (!cuda_model_upload_tokens(cm, tokens, m->B, m->T, true)) return NAN;
    cuda_model_run(cm, m->B, m->T, true, false, 0.0f);
    return finish_loss(cm);
}

static void cm_forward_token_losses(photon_model *m, const uint32_t *tokens, float *losses)
{
    cuda_model *cm = CM(m);
    size_t N = (size_t)m->B * m->T;
    cudaCheck(cudaSetDevice(cm->dev));
    if (!cuda_model_upload_tokens(cm, tokens, m->B, m->T, true)) {
        for (size_t i = 0; i < N; i++) losses[i] = NAN;
        return;
    }
    cuda_model_run(cm, m->B, m->T, true, false, 0.0f);
    copy_sync(cm, losses, cm->a.losses, N * sizeof(float), cudaMemcpyDeviceToHost);
    sample_peak(cm);
}

static void cm_logits_at(photon_model *m, const uint32_t *tokens, int pos, float *out)
{
    cuda_model *cm = CM(m);
    const int Vp = m->cfg.padded_vocab, V = m->cfg.vocab_size;
    if (pos < 0 || pos >= m->T) {
        log_error("model: logits_at position %d is outside the model's sequence (%d)", pos, m->T);
        for (int i = 0; i < Vp; i++) out[i] = NAN;
        return;
    }
    cudaCheck(cudaSetDevice(cm->dev));
    if (!cuda_model_upload_tokens(cm, tokens, 1, pos + 1, false)) {
        for (int i = 0; i < Vp; i++) out[i] = NAN;
        return;
    }
    cuda_model_run(cm, 1, pos + 1, false, false, 0.0f);
    size_t row = (size_t)pos * Vp;
    if (cm->bf16) cast_to_f32(cm->a.logits_f32, (const bf16 *)cm->a.logits + row, (size_t)Vp, cm->stream);
    else cudaCheck(cudaMemcpyAsync(cm->a.logits_f32, (const float *)cm->a.logits + row, (size_t)Vp * sizeof(float),
                                   cudaMemcpyDeviceToDevice, cm->stream));
    copy_sync(cm, out, cm->a.logits_f32, (size_t)Vp * sizeof(float), cudaMemcpyDeviceToHost);
    for (int i = V; i < Vp; i++) out[i] = -INFINITY;
}

static void cm_zero_grad(photon_model *m)
{
    cuda_model *cm = CM(m);
    cudaCheck(cudaSetDevice(cm->dev));
    cudaCheck(cudaMemsetAsync(cm->grads, 0, cm->P * sizeof(float), cm->stream));
}

static float cm_clip_grad(photon_model *m, float max_norm)
{
    cuda_model *cm = CM(m);
    cudaCheck(cudaSetDevice(cm->dev));
    global_norm(cm->a.scalars + 1, cm->a.norm_partials, cm->grads, cm->P, cm->stream);
    if (max_norm > 0.0f) clip_by_norm(cm->grads, cm->P, cm->a.scalars + 1, max_norm, cm->stream);
    copy_sync(cm, cm->h_scalars + 1, cm->a.scalars + 1, sizeof(float), cudaMemcpyDeviceToHost);
    return cm->h_scalars[1];
}

static void cm_adamw_step(photon_model *m, const adamw_params *p)
{
    cuda_model *cm = CM(m);
    cudaCheck(cudaSetDevice(cm->dev));
    cm->step++;
    float bc1 = (float)(1.0 - pow((double)p->beta1, (double)cm->step));
    float bc2 = (float)(1.0 - pow((double)p->beta2, (double)cm->step));
    const gpt2_layout *l = &m->layout;
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        size_t off = l->offset[t], n = l->size[t];
        float wd = gpt2_tensor_decays((gpt2_tensor)t) ? p->weight_decay : 0.0f;
        if (cm->bf16)
            adamw_update(cm->master + off, (bf16 *)cm->params + off, cm->grads + off, cm->m + off, cm->v + off, n,
                         p->lr, p->beta1, p->beta2, p->eps, wd, bc1, bc2, cm->stream);
        else
            adamw_update(cm->master + off, (float *)nullptr, cm->grads + off, cm->m + off, cm->v + off, n, p->lr,
                         p->beta1, p->beta2, p->eps, wd, bc1, bc2, cm->stream);
    }
}

static void cm_get_opt_state(photon_model *m, float *mom1, float *mom2, int64_t *step)
{
    cuda_model *cm = CM(m);
    if (mom1) copy_sync(cm, mom1, cm->m, cm->P * sizeof(float), cudaMemcpyDeviceToHost);
    if (mom2) copy_sync(cm, mom2, cm->v, cm->P * sizeof(float), cudaMemcpyDeviceToHost);
    if (step) *step = cm->step;
}

static void cm_set_opt_state(photon_model *m, const float *mom1, const float *mom2, int64_t step)
{
    cuda_model *cm = CM(m);
    copy_sync(cm, cm->m, mom1, cm->P * sizeof(float), cudaMemcpyHostToDevice);
    copy_sync(cm, cm->v, mom2, cm->P * sizeof(float), cudaMemcpyHostToDevice);
    cm->step = step;
}

static void cm_reset_opt_state(photon_model *m)
{
    cuda_model *cm = CM(m);
    cudaCheck(cudaSetDevice(cm->dev));
    cudaCheck(cudaMemsetAsync(cm->m, 0, cm->P * sizeof(float), cm->stream));
    cudaCheck(cudaMemsetAsync(cm->v, 0, cm->P * sizeof(float), cm->stream));
    cm->step = 0;
}

static void cm_get_grads(photon_model *m, float *host)
{
    cuda_model *cm = CM(m);
    copy_sync(cm, host, cm->grads, cm->P * sizeof(float), cudaMemcpyDeviceToHost);
}

static const backend_ops cuda_ops = {
    "cuda", cm_create, cm_destroy, cm_set_params, cm_get_params, cm_forward_backward, cm_forward_loss,
    cm_logits_at, cm_zero_grad, cm_clip_grad, cm_adamw_step, cm_get_opt_state, cm_set_opt_state,
    cm_reset_opt_state, cm_get_grads, cm_forward_token_losses,
};

extern "C" const backend_ops *backend_cuda_ops(void) { return &cuda_ops; }

extern "C" size_t cuda_model_allocated(photon_model *m) { return CM(m)->allocated; }
extern "C" size_t cuda_model_peak_used(photon_model *m) { return CM(m)->peak_used; }
extern "C" int cuda_bench_figures_get(photon_model *m, double flops_per_s, cuda_bench_figures *f)
{
    cuda_model *cm = CM(m);
    memset(f, 0, sizeof *f);
    cuda_model_sync(m);
    sample_peak(cm);
    if (cuda_device_name(cm->dev, f->gpu, sizeof f->gpu) != 0) return -1;
    f->bf16_tflops = cuda_measure_bf16_tflops(cm->dev, 0);
    f->mfu = f->bf16_tflops > 0 ? flops_per_s / (f->bf16_tflops * 1e12) : 0.0;
    f->peak_used = cm->peak_used;
    f->allocated = cm->allocated;
    return f->bf16_tflops > 0 ? 0 : -1;
}

extern "C" void cuda_model_sync(photon_model *m)
{
    cudaCheck(cudaSetDevice(CM(m)->dev));
    cudaCheck(cudaStreamSynchronize(CM(m)->stream));
}
