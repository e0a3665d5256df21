/* The link: how the bulk bytes of a run (the global model, each task's
 * update, kept client optimizer state) travel between the supervisor and
 * the actors.  The control messages go over io/proc.h; the link only moves
 * blobs.  The supervisor does not care what carries them: io/shm_link.c
 * implements it with POSIX shared memory, a TCP link can implement the same
 * operations over the control stream.
 *
 * A blob is addressed by (kind, index): LINK_MODEL <part>, LINK_UPDATE
 * <actor slot>, LINK_STATE <client>.  The model is one part, or with
 * streaming fragments one part per fragment (supervisor/stream.h), so a
 * phase rewrites, and a TCP link sends, only the fragment that changed.  Every blob carries a header with a
 * generation (the round it belongs to), its payload length, a checksum
 * of the payload and its encoding, so a reader never consumes a stale or
 * torn blob, nor bytes it would misread. */
#ifndef PHOTON_LINK_H
#define PHOTON_LINK_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef enum { LINK_MODEL = 0, LINK_UPDATE = 1, LINK_STATE = 2 } link_kind;

/* What a run needs: sizes in bytes of each blob kind and how many. */
/* Parts of the model at most (= gpu/fragment.h's FRAGMENT_MAX). */
#define LINK_MODEL_PARTS 64

typedef struct {
    size_t model_bytes;    /* the global model, all parts together */
    int model_parts;       /* 0 or 1: one part of model_bytes; else parts of model_part_bytes each */
    size_t model_part_bytes[LINK_MODEL_PARTS];
    int update_slots;      /* one per actor: one update in flight per actor */
    size_t update_bytes;
    int state_slots;       /* one per client when optimizer state is kept, else 0 */
    size_t state_bytes;
} link_plan;

typedef struct photon_link photon_link;

static inline int link_model_parts(const link_plan *p) { return p->model_parts > 1 ? p->model_parts : 1; }
static inline size_t link_model_part_bytes(const link_plan *p, int part)
{
    return p->model_parts > 1 ? p->model_part_bytes[part] : p->model_bytes;
}

/* A blob's encoding, carried in its header: LINK_ENC_RAW for bytes as the
 * writer laid them out (fp32 models and updates, kept states); other
 * values are gpu/quant.h kinds (a compressed update or model).  Readers
 * that do not ask for the encoding get raw blobs only. */
#define LINK_ENC_RAW 0u
#define LINK_ENC_MAX 255u

typedef struct link_ops {
    const char *name;
    /* Writer side: a buffer of at least `bytes` to fill, then publish it
     * under a generation (computes the checksum; TCP: sends). */
    void *(*write_begin)(photon_link *l, link_kind k, int idx, size_t bytes, photon_err *err);
    int (*write_end)(photon_link *l, link_kind k, int idx, uint64_t generation, size_t bytes,
                     uint32_t encoding, photon_err *err);
    /* Reader side: a read-only view of the blob if its header says
     * `generation` (or any generation when generation == LINK_ANY) and its
     * checksum matches; *bytes gets the payload length; *gen_out (optional)
     * the generation found; *enc_out the encoding (with enc_out NULL, a blob
     * that is not LINK_ENC_RAW is an error).  NULL with err otherwise. */
    const void *(*read)(photon_link *l, link_kind k, int idx, uint64_t generation, size_t *bytes,
                        uint64_t *gen_out, uint32_t *enc_out, photon_err *err);
    void (*close)(photon_link *l);
    /* Total bytes the link carries for the run (for the /dev/shm check and reports). */
    size_t (*footprint)(const photon_link *l);
} link_ops;

#define LINK_ANY UINT64_MAX

/* The payload checksum every link uses (parallel over 4 MiB chunks; its
 * value does not depend on the thread count). */
uint64_t link_checksum(const void *buf, size_t n);

struct photon_link {
    const link_ops *ops;
    link_plan plan;
};

/* Shared memory.  The supervisor creates every segment of the plan (after
 * removing stale segments of dead runs and checking that /dev/shm can hold
 * them); an actor attaches by run id.  run_id must be unique per run:
 * link_shm_run_id builds one from the supervisor's pid. */
void link_shm_run_id(char *out, size_t n);
photon_link *link_shm_create(const char *run_id, const link_plan *plan, photon_err *err);
photon_link *link_shm_attach(const char *run_id, const link_plan *plan, photon_err *err);
/* Removes /dev/shm/photon-<id>-* whose supervisor pid is no longer alive;
 * returns how many segments were removed. */
int link_shm_remove_stale(void);
/* Unlinks every segment of this run (idempotent; async-signal-safe enough to
 * be called from an atexit handler). */
void link_shm_unlink_all(photon_link *l);

static inline void *link_write_begin(photon_link *l, link_kind k, int idx, size_t bytes, photon_err *err)
{ return l->ops->write_begin(l, k, idx, bytes, err); }
static inline int link_write_end(photon_link *l, link_kind k, int idx, uint64_t gen, size_t bytes, photon_err *err)
{ return l->ops->write_end(l, k, idx, gen, bytes, LINK_ENC_RAW, err); }
static inline int link_write_end_enc(photon_link *l, link_kind k, int idx, uint64_t gen, size_t bytes,
                                     uint32_t encoding, photon_err *err)
{ return l->ops->write_end(l, k, idx, gen, bytes, encoding, err); }
static inline const void *link_read(photon_link *l, link_kind k, int idx, uint64_t gen, size_t *bytes,
                                    uint64_t *gen_out, photon_err *err)
{ return l->ops->read(l, k, idx, gen, bytes, gen_out, NULL, err); }
static inline const void *link_read_enc(photon_link *l, link_kind k, int idx, uint64_t gen, size_t *bytes,
                                        uint32_t *encoding, photon_err *err)
{ return l->ops->read(l, k, idx, gen, bytes, NULL, encoding, err); }
static inline void link_close(photon_link *l) { if (l) l->ops->close(l); }
static inline size_t link_footprint(const photon_link *l) { return l->ops->footprint(l); }
#endif
