/* GPT-2 model description shared by every backend: shapes, the layout of the
 * one contiguous parameter vector (so a whole model moves as one buffer
 * through shared memory), and the backend interface that the CPU reference
 * (gpu/cpu/) and the CUDA backend (gpu/cuda/) both implement.
 *
 * Parameter layout (llm.c order, weights stored (OC, IC) row-major):
 *   wte (Vp, C) | wpe (maxT, C) | ln1w (L, C) | ln1b (L, C) |
 *   qkvw (L, 3C, C) | qkvb (L, 3C) | attprojw (L, C, C) | attprojb (L, C) |
 *   ln2w (L, C) | ln2b (L, C) | fcw (L, 4C, C) | fcb (L, 4C) |
 *   fcprojw (L, C, 4C) | fcprojb (L, C) | lnfw (C) | lnfb (C)
 * Checkpoints (io/checkpoint.c) map these to Hugging Face names and transpose
 * to HF's Conv1D (IC, OC) layout. */
#ifndef PHOTON_MODEL_H
#define PHOTON_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

#define GPT2_NUM_TENSORS 16

typedef struct {
    int n_layer;      /* L */
    int n_head;       /* NH */
    int d_model;      /* C */
    int seq_len;      /* maxT: rows of wpe */
    int vocab_size;   /* V: true vocabulary */
    int padded_vocab; /* Vp >= V: rows of wte; padded rows are never predicted */
} gpt2_config;

typedef enum {
    T_WTE, T_WPE, T_LN1W, T_LN1B, T_QKVW, T_QKVB, T_ATTPROJW, T_ATTPROJB,
    T_LN2W, T_LN2B, T_FCW, T_FCB, T_FCPROJW, T_FCPROJB, T_LNFW, T_LNFB
} gpt2_tensor;

typedef struct {
    size_t size[GPT2_NUM_TENSORS];   /* elements of each tensor (all layers) */
    size_t offset[GPT2_NUM_TENSORS]; /* element offset in the flat vector */
    size_t total;                    /* elements in all */
} gpt2_layout;

/* Vp = V rounded up to a multiple of pad (pad <= 1: no padding). */
int gpt2_padded_vocab(int vocab, int pad);
void gpt2_layout_init(gpt2_layout *l, const gpt2_config *c);
size_t gpt2_num_params(const gpt2_config *c);
/* 1 if weight decay applies to tensor t (matrices and embeddings), 0 for biases and LayerNorm. */
int gpt2_tensor_decays(gpt2_tensor t);
const char *gpt2_tensor_name(gpt2_tensor t);
/* Fills params with GPT-2's initialisation (N(0, std), residual projections
 * scaled by 1/sqrt(2L), LayerNorm weights 1, biases 0), from seed. */
void gpt2_init_params(const gpt2_config *c, float *params, uint64_t seed, double std);
/* FLOPs of one training step (forward + backward) for B*T tokens. */
double gpt2_train_flops(const gpt2_config *c, int B, int T);
/* Checks c for sane shapes (C % NH == 0, ...); -1 with err if not. */
int gpt2_config_check(const gpt2_config *c, photon_err *err);

/* AdamW hyper-parameters (decoupled weight decay; none on biases and LayerNorm). */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} adamw_params;

/* Learning-rate schedule on the global step clock: linear warmup over
 * `warmup` steps, then cosine (or linear) decay to min_ratio*lr at
 * total_steps, or constant after warmup. */
typedef struct {
    double lr, min_ratio;
    long warmup, total_steps;
    int kind;   /* enum cfg_schedule */
} lr_schedule;
double lr_at(const lr_schedule *s, long step);

/* ---- Backend interface ---------------------------------------------------
 * A model instance owns parameters, gradients, AdamW state and activations
 * for micro-batches of (B, T).  All buffers are allocated in create: no
 * allocation inside a training step. */
typedef struct photon_model photon_model;

typedef enum { PHOTON_BACKEND_CPU = 1, PHOTON_BACKEND_CUDA = 2 } photon_backend_kind;

typedef struct {
    photon_backend_kind kind;
    int threads;     /* CPU: OpenMP/BLAS threads (0 = all) */
    int device;      /* CUDA: GPU ordinal */
    int bf16;        /* CUDA: bf16 compute with fp32 master weights */
} backend_opts;

typedef struct backend_ops {
    const char *name;
    photon_model *(*create)(const gpt2_config *c, int B, int T, const backend_opts *o, photon_err *err);
    void (*destroy)(photon_model *m);
    /* Host <-> model parameters (the flat fp32 vector of gpt2_layout). */
    void (*set_params)(photon_model *m, const float *host);
    void (*get_params)(photon_model *m, float *host);
    /* tokens: (B, T+1) windows; inputs are [:, :T], targets [:, 1:].
     * Accumulates gradients scaled by grad_scale (1/accum); returns the mean loss. */
    float (*forward_backward)(photon_model *m, const uint32_t *tokens, float grad_scale);
    /* Forward only: mean loss over the (B, T+1) windows. */
    float (*forward_loss)(photon_model *m, const uint32_t *tokens);
    /* Logits (Vp floats, padded entries = -inf) at position pos of one sequence tokens[0..pos]. */
    void (*logits_at)(photon_model *m, const uint32_t *tokens, int pos, float *out);
    void (*zero_grad)(photon_model *m);
    /* Global L2 norm of the gradient; scales it down to max_norm when max_norm > 0 and it exceeds it. */
    float (*clip_grad)(photon_model *m, float max_norm);
    void (*adamw_step)(photon_model *m, const adamw_params *p);
    /* Optimizer state (first and second moments, fp32, layout as params; step count). */
    void (*get_opt_state)(photon_model *m, float *mom1, float *mom2, int64_t *step);
    void (*set_opt_state)(photon_model *m, const float *mom1, const float *mom2, int64_t step);
    void (*reset_opt_state)(photon_model *m);
    /* Read-only view of gradients on the host (CPU: direct; CUDA: copied). */
    void (*get_grads)(photon_model *m, float *host);
    /* Forward only: the loss of every target position, (B, T) row-major, into
     * host memory (evaluation sums them per window and per source). */
    void (*forward_token_losses)(photon_model *m, const uint32_t *tokens, float *losses);
} backend_ops;

/* The public handle every caller uses. */
struct photon_model {
    const backend_ops *ops;
    gpt2_config cfg;
    gpt2_layout layout;
    int B, T;
};

/* Picks and creates a backend ("auto" = CUDA when built and a GPU is present). */
photon_model *model_create(const gpt2_config *c, int B, int T, const backend_opts *o, photon_err *err);
void model_destroy(photon_model *m);
/* 1 if the CUDA backend is built in and a GPU is visible. */
int backend_cuda_available(void);
const backend_ops *backend_cpu_ops(void);
const backend_ops *backend_cuda_ops(void);   /* NULL when not built */
/* First thing in main: re-executes the program with OMP_WAIT_POLICY=PASSIVE
 * when the user set no OpenMP wait policy (spinning OpenMP threads starve
 * other actors on a shared machine); returns only if nothing was done. */
void cpu_runtime_init(char **argv);
/* What decides the CPU backend's bits, for the records of a run: the build
 * ("portable" with -DPHOTON_PORTABLE=ON, "native" or "generic"), OpenBLAS's
 * kernels (after cpu_blas_setup's choice) and the CPU's name. */
const char *cpu_build_kind(void);
const char *cpu_blas_kernels(void);
void cpu_blas_setup(void);
void cpu_model_name(char *out, size_t n);
#endif
