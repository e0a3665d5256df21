/* The run's TensorBoard log (io/tfevents.h): <run dir>/tb/, one event file
 * per process that ran (a resumed run starts a new one).  Every scalar's
 * step is the number of training tokens seen, so runs of different batch
 * sizes, client counts or modes line up on one axis.  Tags:
 *   eval/perplexity, eval/loss, eval/perplexity/<source>   at each evaluation
 *   train/loss, train/lr, train/grad_norm, train/update_norm,
 *   train/tokens_per_s, round/round, round/seconds, comm/bytes_moved
 *                                                          at each committed round
 * comm/bytes_moved is cumulative over the whole run: a resumed run's
 * r->bytes_moved starts from the checkpoint's total (supervisor/checkpointer.c).
 * A resumed run writes a SessionLog START at (tokens at its checkpoint)+1
 * first: TensorBoard then drops what the interrupted run wrote after that
 * checkpoint, and the resumed run writes those points again, so the curves
 * equal an uninterrupted run's.  Failures only warn: the log is
 * informational (metrics.jsonl is the record). */
#ifndef PHOTON_TB_LOG_H
#define PHOTON_TB_LOG_H
#include "supervisor/run.h"

typedef struct tblog tblog;

/* NULL (after a warning) when the log cannot be created. */
tblog *tblog_open(const run *r);
void tblog_close(tblog *t);
/* An evaluation: loss and perplexity; n_src per-source perplexities (may be 0). */
void tblog_eval(tblog *t, const run *r, double loss, double ppl, int n_src, const char *const *src,
                const double *src_ppl);
/* A committed round (r->round, r->tokens_seen already advanced). */
void tblog_round(tblog *t, const run *r, double train_loss, double seconds);
#endif
