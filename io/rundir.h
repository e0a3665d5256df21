/* The run-directory guard (DESIGN §7: a run never deletes or replaces
 * another run's results).  A run directory "holds results" when it has a
 * non-empty metrics.jsonl, a summary.json, a checkpoint (ckpt-*.h5 in the
 * checkpoint directory, which may live elsewhere), TensorBoard event files
 * (tb/), or the trash of an interrupted --replace.  Prepared data (data/),
 * config.ini, run.key and logs are not results.
 *
 * --replace removes the results in two steps: each result is first renamed
 * into the trash directory ".replaced" of its directory (renames are
 * atomic and cheap), then the trash is deleted.  The trash exists from the
 * first rename to the last unlink, and while it exists the directory
 * counts as holding results that only --replace may touch, so a replace
 * that is interrupted (Ctrl-C, a crash) never leaves a half-deleted run
 * that a later run (or --resume) would take for a whole one: running with
 * --replace again finishes the job. */
#ifndef PHOTON_RUNDIR_H
#define PHOTON_RUNDIR_H
#include <stddef.h>
#include "io/common.h"

#define RUNDIR_TRASH ".replaced"

/* What a run directory holds.  ckpt_dir: where its checkpoints go (may be
 * inside run_dir or elsewhere).  Returns 1 when it holds results (a short
 * list of them, e.g. "metrics.jsonl, checkpoints/", goes to what), 0 when
 * not, and sets *interrupted when an interrupted --replace left its trash. */
int rundir_has_results(const char *run_dir, const char *ckpt_dir, char *what, size_t n, int *interrupted);

/* Removes every result of the run directory (see above) and leaves its
 * prepared data; 0, or -1 with err (the trash then stays, and the guard
 * keeps refusing plain runs until a --replace completes). */
int rundir_replace(const char *run_dir, const char *ckpt_dir, photon_err *err);

/* rm -r of one path (file or directory tree); 0 or -1 with err. */
int rundir_remove_tree(const char *path, photon_err *err);
#endif
