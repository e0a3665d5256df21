/* What a resumed run knows of its past: the figures summary.json reports
 * that come from before the checkpoint (the first and the last evaluation,
 * the last committed round's training loss), read back from metrics.jsonl,
 * which a resume has just cut to the checkpoint's offset.  Without them a
 * resumed run's summary would say NaN where the uninterrupted run's has
 * numbers (and a --resume of a finished run "perplexity nan"). */
#ifndef PHOTON_HISTORY_H
#define PHOTON_HISTORY_H
#include "io/common.h"

typedef struct {
    double first_ppl;            /* NAN when there was no evaluation */
    double last_ppl, last_eval_loss;
    double last_train_loss;      /* NAN when no round was committed */
    char *ppl_by_source;         /* the last evaluation's, as JSON objects; NULL if none (free) */
    char *loss_by_source;
    int evals, rounds;           /* events read */
} run_history;

/* Reads path (our own metrics.jsonl; lines that do not parse are skipped).
 * 0, or -1 with err when it cannot be read. */
int history_read(const char *path, run_history *h, photon_err *err);
void history_free(run_history *h);
#endif
