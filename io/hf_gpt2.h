/* Hugging Face GPT-2 names and shapes of the tensors in the flat parameter
 * vector (gpu/model.h layout).  Checkpoints (/model, /outer_optimizer,
 * client optimizer state) and export-hf both store tensors this way, so the
 * mapping lives in one place: names as in GPT2LMHeadModel's state dict,
 * weights in HF's Conv1D layout (input dim first), i.e. transposed from the
 * internal (OC, IC), and layers split out of the per-type stacks. */
#ifndef PHOTON_HF_GPT2_H
#define PHOTON_HF_GPT2_H
#include <stddef.h>
#include "gpu/model.h"

typedef struct {
    char name[64];      /* "transformer.h.3.attn.c_attn.weight" */
    int rank;           /* 1 or 2 */
    size_t dims[2];     /* HF shape (dims[1] = 1 for rank 1) */
    gpt2_tensor t;      /* internal tensor it comes from */
    int layer;          /* block index, -1 for wte/wpe/ln_f */
    int transpose;      /* HF (IC, OC) is the transpose of internal (OC, IC) */
} hf_tensor;

/* Number of HF tensors for c: wte, wpe, 12 per block, ln_f weight+bias. */
int hf_gpt2_count(const gpt2_config *c);
/* The k-th tensor in state-dict order (0 <= k < hf_gpt2_count). */
void hf_gpt2_tensor(const gpt2_config *c, int k, hf_tensor *out);
size_t hf_tensor_numel(const hf_tensor *t);
/* Largest numel over all tensors of c (scratch size for gather/scatter). */
size_t hf_gpt2_max_numel(const gpt2_config *c);
/* Largest numel over the transposed tensors (scratch size when the others
 * are used in place through hf_gpt2_flat_offset). */
size_t hf_gpt2_max_transposed(const gpt2_config *c);
/* Element offset of tensor t's data in the flat vector; when !t->transpose
 * its HF layout is exactly those numel elements (no copy needed). */
size_t hf_gpt2_flat_offset(const gpt2_config *c, const gpt2_layout *l, const hf_tensor *t);
/* Copies tensor t out of the flat vector into HF layout (numel floats). */
void hf_gpt2_gather(const gpt2_config *c, const gpt2_layout *l, const hf_tensor *t,
                    const float *flat, float *out);
/* The inverse: writes HF-layout data into the flat vector. */
void hf_gpt2_scatter(const gpt2_config *c, const gpt2_layout *l, const hf_tensor *t,
                     const float *in, float *flat);
#endif
