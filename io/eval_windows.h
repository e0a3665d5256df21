/* Which validation windows an evaluation scores, and scoring them: the one
 * piece of code the supervisor, the actors' eval tasks and `photon-sim eval
 * --tokens` share, so that all three score the same windows in the same
 * batches and add the losses in the same order (on the CPU backend an
 * actor's figure is then bitwise the supervisor's).
 *
 * The windows are a function of the validation data and (seq_len, batch,
 * token budget) only:
 *   - a window is seq_len + 1 tokens inside one source (val_index.h); source
 *     s holds W_s = (tokens_s - 1) / seq_len of them, window j starting at
 *     the source's first token + j*seq_len;
 *   - the budget buys N = budget / seq_len windows.  N >= sum W_s: every
 *     window.  Otherwise each source first gets min(W_s, m) windows,
 *     m = min(batch, N / sources) but at least 1, and the rest of N is dealt
 *     in proportion to what each source has left (largest remainder, ties to
 *     the earlier source), so the total is exactly N (more only when N is
 *     below one window per source);
 *   - source s's n_s windows are spread over all of it: the middle window of
 *     each of n_s equal strata, j_i = floor((2i+1) W_s / (2 n_s)).
 * Batches take B consecutive windows of that list (sources in order; a
 * batch may span two sources), the last one padded with copies of the last
 * window whose losses are ignored.  A window's loss is the mean of its
 * seq_len per-token losses; a source's figure is the sum of its windows'
 * losses and their count, added in window order in double precision. */
#ifndef PHOTON_EVAL_WINDOWS_H
#define PHOTON_EVAL_WINDOWS_H
#include <stdint.h>
#include "io/config.h"
#include "io/val_index.h"
#include "gpu/model.h"

typedef struct {
    int64_t budget_tokens;   /* target tokens to score per evaluation (>= 1) */
    int T;                   /* seq_len */
    int B;                   /* sequences per batch (capped at the windows chosen) */
} eval_spec;

/* Per source: windows scored and the sum of their mean losses. */
typedef struct {
    int n;
    int64_t windows[VAL_MAX_SOURCES];
    double loss_sum[VAL_MAX_SOURCES];
} eval_sums;

typedef struct eval_set eval_set;

/* Opens a validation shard (every token checked against vocab) and plans
 * its windows.  manifest_path names a prepared-data manifest describing the
 * shard's sources (val_index_load); NULL treats the whole shard as one
 * source called single_name.  -1 / NULL with err if no window fits. */
eval_set *eval_set_open(const char *shard_path, const char *manifest_path, const char *single_name, int vocab,
                        const eval_spec *spec, photon_err *err);
void eval_set_free(eval_set *e);
int eval_set_batch(const eval_set *e);         /* B actually used */
int eval_set_sources(const eval_set *e);
const char *eval_set_source_name(const eval_set *e, int s);
/* Windows chosen in source s; s < 0: all sources. */
int64_t eval_set_windows(const eval_set *e, int s);
/* Windows source s holds in all (W_s). */
int64_t eval_set_source_capacity(const eval_set *e, int s);
/* Token offset in the shard of the i-th window of the plan (source order). */
int64_t eval_set_window_start(const eval_set *e, int64_t i);
int eval_set_window_source(const eval_set *e, int64_t i);
/* Fingerprint of the plan: (T, B, sources, every window's place and its
 * tokens).  Two ends with the same fingerprint score the same data. */
uint64_t eval_set_hash(const eval_set *e);

/* Scores model m (its parameters set; created for (eval_set_batch, T))
 * over the plan into out.  A diverged model gives non-finite sums: judging
 * them is the caller's business. */
void eval_set_score(eval_set *e, photon_model *m, eval_sums *out);

/* Mean loss of source s (s < 0: over every window scored); NAN without windows. */
double eval_sums_loss(const eval_sums *s, int src);

/* The budget a configuration asks for: [eval] tokens, or when 0
 * batches x batch x seq_len (the evaluation's cost before tokens existed). */
int64_t eval_budget_tokens(int64_t tokens, int batches, int B, int T);
/* A run's spec: T = model.seq_len, B = eval.batch_size, or when 0 the
 * training micro-batch (micro_batch: what an actor's model instance holds,
 * so it can score with that instance and evaluation fits wherever training
 * does), the budget from [eval] tokens / batches. */
void eval_spec_from_config(const photon_config *c, int micro_batch, eval_spec *out);
/* A run's validation set: its prepared val.bin and manifest.json (what
 * the supervisor and every actor open, each in its own prepared dir). */
eval_set *eval_set_for_run(const photon_config *c, int micro_batch, int vocab, photon_err *err);
#endif
