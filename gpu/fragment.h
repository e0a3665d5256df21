/* The fragments of streaming synchronisation ([aggregator] fragments = F,
 * docs/ROUNDS.md "Streaming fragments"): which parameters of the flat
 * GPT-2 vector (gpu/model.h layout) belong to fragment f, for actors and
 * supervisor alike.
 *
 * The split.  The model is a sequence of units: the embeddings (wte and
 * wpe together), then transformer blocks 0 .. L−1, with ln_f attached to
 * the last block.  Fragment f is a contiguous run of units, every fragment
 * holds at least one unit (so F ≤ L + 1), and the runs are chosen to
 * minimise the largest fragment in bytes, then, among those splits, the
 * sum of squared sizes (as even as the units allow; exact, by dynamic
 * programming, ties to the earliest cuts).  So for
 * GPT-2 125M and F = 4 the embeddings (31% of the model) are one
 * fragment and the 12 blocks the other three; with a small vocabulary the
 * embeddings share fragment 0 with the first blocks.  F = 1 is the whole
 * model.
 *
 * In the flat layout a block is not contiguous (each tensor kind is stored
 * for all layers together), so a fragment is a list of element ranges,
 * sorted and with adjacent ranges merged (F = 1: one range).  Its compact
 * form is the concatenation of its ranges: what a client sends and what
 * the supervisor aggregates for that fragment. */
#ifndef PHOTON_FRAGMENT_H
#define PHOTON_FRAGMENT_H
#include <stddef.h>
#include "gpu/model.h"
#include "io/common.h"

#define FRAGMENT_MAX 64

typedef struct {
    size_t off, len;   /* elements of the flat parameter vector */
} frag_range;

typedef struct fragment_plan fragment_plan;

/* -1 (NULL) with err when F is out of range (1 .. min(FRAGMENT_MAX, L+1)). */
fragment_plan *fragment_plan_new(const gpt2_config *c, int F, photon_err *err);
void fragment_plan_free(fragment_plan *p);
int fragment_count(const fragment_plan *p);
size_t fragment_elems(const fragment_plan *p, int f);
size_t fragment_max_elems(const fragment_plan *p);
size_t fragment_total(const fragment_plan *p);   /* = the model's parameters */
const frag_range *fragment_ranges(const fragment_plan *p, int f, int *n);
/* Units of fragment f: [first, last) with unit 0 = embeddings, unit 1 + b
 * = block b (for logs and docs). */
void fragment_units(const fragment_plan *p, int f, int *first, int *last);
/* A round of T local steps in F phases: phase j runs T/F steps, the first
 * T mod F phases one more; phase_start is the steps before phase j. */
int fragment_phase_steps(int T, int F, int j);
int fragment_phase_start(int T, int F, int j);
/* compact[0 .. fragment_elems) <-> the fragment's elements of full. */
void fragment_gather(const fragment_plan *p, int f, const float *full, float *compact);
void fragment_scatter(const fragment_plan *p, int f, const float *compact, float *full);
#endif
