/* Hugging Face GPT-2 directories in: config.json (GPT2LMHeadModel or
 * GPT2Model with photon-sim's arithmetic: tanh GELU, LayerNorm eps 1e-5,
 * 4C MLP, tied LM head) and the weights as safetensors, one file or sharded
 * (model.safetensors.index.json), in F32, F16 or BF16, converted exactly to
 * float32.  Tensor names may carry the "transformer." prefix
 * (GPT2LMHeadModel) or not (GPT2Model); lm_head.weight may be absent or must
 * equal wte (tied); the attention mask buffers older checkpoints carry are
 * ignored; anything else is an error that names it. */
#ifndef PHOTON_HF_IMPORT_H
#define PHOTON_HF_IMPORT_H
#include "gpu/model.h"

/* Reads dir's model: its shape into c (no vocabulary padding) and the flat
 * parameter vector into *params (malloc'd, gpu/model.h layout). */
int hf_import(const char *dir, gpt2_config *c, float **params, photon_err *err);

/* Starting weights for a run ([run] init_from): a photon-sim checkpoint
 * (.h5) or a Hugging Face directory, fitted into want's shape: n_layer,
 * n_head, d_model and the true vocabulary must match; the source's
 * positions must cover want's seq_len (rows past it are dropped); padded
 * vocabulary rows start at zero.  theta holds gpt2_num_params(want) floats. */
int init_from_load(const char *path, const gpt2_config *want, float *theta, photon_err *err);
#endif
