/* The local training loop an actor runs for one task: start from the global
 * model, run T_local steps of AdamW on the client's batches (deterministic
 * from (seed, client, position)), with gradient clipping and the learning
 * rate read from the schedule on the global step clock, then write the
 * pseudo-gradient Δ = θ_global − θ_local. */
#ifndef PHOTON_TRAIN_H
#define PHOTON_TRAIN_H
#include <stdint.h>
#include "io/config.h"
#include "gpu/model.h"
#include "proto/protocol.h"
#include "actors/client_state.h"

typedef struct trainer trainer;

/* A kept state blob with the AdamW moments only (actors/client_state.h). */
size_t train_state_bytes(size_t nparams);

/* Model micro-batch B = clients.batch_size / grad_accum, T = model.seq_len. */
trainer *trainer_new(const photon_config *cfg, const gpt2_config *gc, int slot, photon_err *err);
void trainer_free(trainer *t);
int trainer_threads(const trainer *t);
/* Runs task t from `global` (n params).  Writes Δ into `delta`; if the task
 * keeps state, reads its AdamW moments from state_in (NULL = fresh; reset
 * when the blob has none) and writes the header and moments of state_out
 * (task->state_flags sections; others are the caller's).  Fills r.  -1
 * with err if the data cannot be read. */
int trainer_run(trainer *t, const msg_task *task, const float *global, float *delta,
                const void *state_in, void *state_out, msg_result *r, photon_err *err);
/* The same from the model `start`, leaving the trained model in local
 * (streaming and compressed exchanges: actors/client_sync.h makes the
 * update from it). */
int trainer_train(trainer *t, const msg_task *task, const float *start, float *local,
                  const void *state_in, void *state_out, msg_result *r, photon_err *err);
/* Micro-batches one local step consumes, and sequences per micro-batch.
 * Federated: clients.grad_accum micro-batches of batch_size / grad_accum.
 * Centralized (mode = centralized; train_recipe.c): the [centralized]
 * global batch, by default per_round x clients.batch_size in per_round x
 * grad_accum of the clients' micro-batches. */
int train_micro_per_step(const photon_config *cfg, int centralized, int per_round);
int train_micro_batch(const photon_config *cfg);
/* The learning-rate schedule of a task: [clients], or for a centralized
 * task the [centralized] keys that are set. */
void train_schedule(const photon_config *cfg, int centralized, lr_schedule *out);
/* Backend options of an actor's model instances (slot = its GPU, threads). */
void train_backend_opts(const photon_config *cfg, int slot, backend_opts *out);
/* The trainer's model instance (batch train_micro_batch, seq_len): an eval
 * task may borrow it between training tasks. */
photon_model *trainer_model(trainer *t);
#endif
