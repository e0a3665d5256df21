/* An actor's side of evaluation (TASK_EVAL): score the global model on the
 * validation windows of io/eval_windows.h with the actor's own device, so
 * a GPU run evaluates on a GPU and the supervisor never runs a large
 * forward pass on its CPU.  The windows, the batch and the order of the
 * sums are the supervisor's own (same plan, same code), so on the CPU
 * backend the figures are bitwise those the supervisor would compute. */
#ifndef PHOTON_EVAL_TASK_H
#define PHOTON_EVAL_TASK_H
#include "io/config.h"
#include "gpu/model.h"
#include "proto/protocol.h"
#include "actors/train.h"

typedef struct eval_task eval_task;

/* Nothing is opened until the first task. */
eval_task *eval_task_new(const photon_config *cfg, const gpt2_config *gc, int slot);
void eval_task_free(eval_task *e);
/* Scores `global` (the model blob of task t); borrows the trainer's model
 * instance when its batch and length are the plan's, else keeps one of its
 * own.  Fills r.  -1 with err when the validation data cannot be used. */
int eval_task_run(eval_task *e, trainer *tr, const float *global, const msg_task *t, msg_eval_result *r,
                  photon_err *err);
#endif
