/* The supervisor's side of compressed and streaming exchanges (DESIGN §8,
 * docs/ROUNDS.md "Compression" and "Streaming fragments"): how a round is
 * cut into phases, what each blob on the link holds and how big it is,
 * decoding and checking updates, the outer step on one fragment, the
 * per-fragment norm references, and the bytes each transfer takes.
 *
 * Without fragments, overlap or compression it describes today's exchange
 * (one phase, fp32 model and updates) and every call is a cheap identity. */
#ifndef PHOTON_STREAM_H
#define PHOTON_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include "io/config.h"
#include "gpu/model.h"
#include "supervisor/aggregate.h"
#include "supervisor/outer_opt.h"
#include "io/link.h"

typedef struct stream stream;

/* threads: 0 = all cores.  NULL with err on a fragment count the model
 * cannot take. */
stream *stream_new(const photon_config *cfg, const gpt2_config *gc, int centralized, int threads, photon_err *err);
void stream_free(stream *s);

/* Phases per round: F with fragments > 1 or overlap ("phased"), else 1. */
int stream_phases(const stream *s);
int stream_phased(const stream *s);
/* Local steps of phase j, and the steps before it (the LR clock). */
int stream_phase_steps(const stream *s, int j);
int stream_phase_start(const stream *s, int j);
/* Sections of the kept client state (actors/client_state.h); 0 = none. */
int stream_state_flags(const stream *s);
/* Link blob sizes: the encoded model, the largest encoded update. */
size_t stream_model_blob_bytes(const stream *s);
size_t stream_update_blob_bytes(const stream *s);
/* The model travels in parts, one per fragment (F; 1 without fragments):
 * part f is fragment f's parameters encoded on their own, so a phase
 * rewrites and sends only the fragment its outer step changed.  Fills the
 * plan's model sizes. */
int stream_model_parts(const stream *s);
void stream_link_plan(const stream *s, link_plan *plan);
/* Elements of fragment f (its compact update). */
size_t stream_fragment_elems(const stream *s, int f);

/* Part f of the model as sent: fragment f of theta (its compact form,
 * fp32 or encoded) into dst (the plan's part size); returns the link
 * encoding of the blob.  With one fragment and no compression the part is
 * theta as it is. */
uint32_t stream_encode_part(stream *s, const float *theta, int f, void *dst);
/* An update for fragment f as it came off the link: the encoding must be
 * the run's and the size exactly the plan's (never the peer's word);
 * returns its fp32 values (fragment_elems; the blob itself when fp32, else
 * decoded into the stream's buffer, valid until the next call) or NULL
 * with err.  The caller measures them (norm, finiteness) itself. */
const float *stream_decode_update(stream *s, int f, const void *blob, size_t bytes, uint32_t encoding,
                                  photon_err *err);
/* The outer step on fragment f of theta from its aggregated compact mean. */
void stream_outer_step(const stream *s, outer_opt *o, float *theta, int f, const float *mean);

/* Around each phase of fragment f: the aggregator's length and its norm
 * reference (one per fragment when phased: fragments differ in size). */
void stream_phase_begin(stream *s, agg *a, int f);
void stream_phase_end(stream *s, agg *a, int f);
/* The per-fragment references, for checkpoints (n = fragments; NULL, 0
 * when not phased).  set: from a checkpoint. */
const double *stream_references(const stream *s, int *n);
int stream_set_references(stream *s, const double *ref, int n, photon_err *err);

/* The bytes one task's transfers really take (what a client receives and
 * sends, at their encoded sizes; for bytes_moved and the network model):
 * down = the model (the whole of it when the client starts from the
 * global model, only fragment (f−1) mod F when it continues from its local
 * model), up = its update of fragment f. */
void stream_task_bytes(const stream *s, int fragment, int continuing, double *down, double *up);
#endif
