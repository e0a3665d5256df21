/* The runtime's own cost per round, next to memcpy on the same buffers:
 * aggregation of K updates (norm check + weighted add), the outer step and
 * plain memcpy, at model sizes from the test model to GPT-2 125M.
 * Meant to be reached as `photon-sim bench --runtime [options]`. */
#ifndef PHOTON_BENCH_RUNTIME_H
#define PHOTON_BENCH_RUNTIME_H
#include <stddef.h>
/* argv[0] is the command name; "--runtime" is accepted and ignored so the
 * bench command can pass its arguments straight through.  Options:
 *   --sizes LIST    comma list of tiny, small, medium, 125m (default all)
 *   --params N      one custom size instead
 *   --clients K     updates per round (default 8)
 *   --threads N     OpenMP threads (default: all cores)
 *   --reps N        repetitions; the best time counts (default 3)
 *   --json          one JSON object per size instead of the table
 *   --quant         the link encodings instead (supervisor/cmd/bench_quant.h)
 * Returns the exit status (2 on a usage error). */
int bench_runtime_main(int argc, char **argv);
/* Parameters of a named bench size (tiny, small, medium, 125m); -1 if unknown. */
int bench_runtime_size(const char *name, size_t *params);
#endif
