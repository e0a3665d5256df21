/* Backend selection: model_create picks the CPU reference or the CUDA
 * backend and hands back the common photon_model handle.  PHOTON_CUDA_BACKEND
 * is set by gpu/CMakeLists.txt when gpu/cuda/ provides the CUDA backend. */
#include <stddef.h>
#include "gpu/model.h"

#ifdef PHOTON_CUDA_BACKEND
int cuda_device_count(void);   /* gpu/cuda/: visible GPUs, 0 on any error */
#else
const backend_ops *backend_cuda_ops(void) { return NULL; }
#endif

int backend_cuda_available(void)
{
#ifdef PHOTON_CUDA_BACKEND
    return backend_cuda_ops() != NULL && cuda_device_count() > 0;
#else
    return 0;
#endif
}

photon_model *model_create(const gpt2_config *c, int B, int T, const backend_opts *o, photon_err *err)
{
    if (gpt2_config_check(c, err) != 0) return NULL;
    if (B < 1 || T < 1 || T > c->seq_len) {
        err_set(err, "model: batch %d x sequence %d is not valid for seq_len %d", B, T, c->seq_len);
        return NULL;
    }
    const backend_ops *ops = NULL;
    switch (o->kind) {
    case PHOTON_BACKEND_CPU:
        ops = backend_cpu_ops();
        break;
    case PHOTON_BACKEND_CUDA:
        ops = backend_cuda_ops();
        if (!ops) {
            err_set(err, "backend cuda: this photon-sim was built without CUDA (rebuild with the CUDA toolkit, or use backend = cpu)");
            return NULL;
        }
        if (!backend_cuda_available()) {
            err_set(err, "backend cuda: no GPU is visible (use backend = cpu)");
            return NULL;
        }
        break;
    default:
        err_set(err, "model: unknown backend kind %d", (int)o->kind);
        return NULL;
    }
    photon_model *m = ops->create(c, B, T, o, err);
    if (!m) return NULL;
    m->ops = ops;
    m->cfg = *c;
    gpt2_layout_init(&m->layout, c);
    m->B = B;
    m->T = T;
    return m;
}

void model_destroy(photon_model *m)
{
    if (m) m->ops->destroy(m);
}
