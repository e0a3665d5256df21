/* The client's side of the exchange when it is more than "send Δ as fp32"
 * (docs/ROUNDS.md, "Compression" and "Streaming fragments"): the model as
 * received (decoded from the broadcast encoding), the model a task starts
 * from (the global model, or the client's own local model with the
 * fragment synchronised last phase replaced), the overlap merge, the
 * fragment's pseudo-gradient, error feedback and the encoding of the
 * update into the link, and the client state that carries all of it to the
 * client's next task.
 *
 * One task = one client, one phase P (msg_task.sync) of fragment f:
 *   start   continuing (its state's local model was written by phase P−1):
 *             local model, with fragment f' = (f−1) mod F set to the
 *             global one (no overlap; with overlap f' is still in flight);
 *           otherwise: the global model (a reset)
 *   train   the phase's local steps
 *   merge   overlap and continuing: local_f' = α·local_f' + (1−α)·global_f'
 *   update  Δ_f = global_f − local_f  (+ residual_f; encode; residual_f =
 *           what the encoding dropped)
 * "global" is the model as received: decoded from its broadcast encoding. */
#ifndef PHOTON_CLIENT_SYNC_H
#define PHOTON_CLIENT_SYNC_H
#include <stddef.h>
#include <stdint.h>
#include "actors/train.h"
#include "gpu/fragment.h"

typedef struct client_sync client_sync;

client_sync *client_sync_new(const photon_config *cfg, const gpt2_config *gc, photon_err *err);
void client_sync_free(client_sync *cs);
/* True when nothing of this is on: the update is Δ as fp32 over the whole
 * model, written by trainer_run straight into the link (the fast path). */
int client_sync_plain(const client_sync *cs);
/* The global model as received, assembled from the link's model parts
 * (one per fragment, F; io/link.h).  A task names each part's generation
 * (msg_task.part_generation); a part already held at that generation is
 * not read again, so a phase decodes only the fragment that changed.
 *   client_sync_has_part  part f at generation gen is held (skip reading it)
 *   client_sync_part      part f as it came off the link: it must be the
 *                         run's broadcast encoding of fragment f, exactly
 *                         sized; -1 with err otherwise
 *   client_sync_global    the model, once every part is there
 * With one fragment and no compression the model is the blob itself (read
 * in place, nothing cached). */
int client_sync_parts(const client_sync *cs);
int client_sync_has_part(const client_sync *cs, int f, uint64_t gen);
int client_sync_part(client_sync *cs, int f, const void *blob, size_t bytes, uint32_t encoding, uint64_t gen,
                     int threads, photon_err *err);
const float *client_sync_global(const client_sync *cs);
/* Runs task t (not plain) on tr: writes the encoded update into upd (at
 * most the plan's update_bytes), its size and encoding to *upd_bytes and
 * *upd_enc, and the new client state into state_out.  state_in is the
 * client's kept state (NULL: none yet), already checked with
 * client_state_open.  An injected corruption is applied to Δ before it is
 * encoded.  Fills r (update_norm: of Δ_f as trained, for the record). */
int client_sync_run(client_sync *cs, trainer *tr, const msg_task *t, const float *global, const void *state_in,
                    void *state_out, void *upd, size_t *upd_bytes, uint32_t *upd_enc, msg_result *r, photon_err *err);
/* Test seam: PHOTON_FAULT_UPDATE=short|long|encoding,<client> makes every
 * update of that client one byte short, one byte long (the update slot
 * has room for it when the client's fragment is not the largest) or
 * labelled with another encoding, as a broken or hostile actor would: the
 * supervisor must refuse it against its plan (tests/integration). */
void client_sync_test_seam(const msg_task *t, size_t *upd_bytes, uint32_t *upd_enc);
#endif
