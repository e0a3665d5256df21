/* The TCP link (io/link.h over a byte stream) and the run key.
 *
 * Each end keeps its blobs in process memory (allocated on first use, at
 * the plan's capacity); a blob moves as a sequence of MSG_BLOB frames on
 * the control stream, each carrying the same header fields as a shared
 * memory blob (kind, index, generation, total length, checksum) plus the
 * chunk's offset.  The receiver bounds every field against the plan before
 * touching memory, accepts chunks only in order, and publishes the blob
 * (its generation) only once the whole payload is there and its checksum
 * matches; a reader never sees a torn or stale blob.
 *
 * The supervisor's link has no sink: write_end only stores, and the pool
 * pushes what a task needs (model, kept state) before the task with
 * link_tcp_send.  An actor's link has a sink: write_end of its update or
 * state also sends it, before the RESULT message that names it. */
#ifndef PHOTON_TCP_LINK_H
#define PHOTON_TCP_LINK_H
#include <stddef.h>
#include <stdint.h>
#include "io/link.h"

/* Bytes of payload per MSG_BLOB frame (well under PROC_MAX_PAYLOAD). */
#define LINK_TCP_CHUNK ((uint32_t)512 << 10)
/* Seconds within which a frame that has started to arrive on a TCP
 * connection must be complete (proc_peer_set_frame_deadline). */
#define LINK_TCP_FRAME_DEADLINE 60.0

typedef struct {
    uint32_t kind;         /* link_kind */
    int32_t idx;
    uint64_t generation;
    uint64_t length;       /* whole blob */
    uint64_t checksum;     /* link_checksum of the whole blob */
    uint64_t offset;       /* of this chunk */
    uint32_t encoding;     /* LINK_ENC_RAW or a gpu/quant.h kind (≤ LINK_ENC_MAX) */
    uint32_t pad;
} link_blob_hdr;

/* Queues one MSG_BLOB frame (header + chunk); -1 if the stream is gone. */
typedef int (*link_tcp_sink)(void *ctx, const void *payload, uint32_t len);

/* sink NULL: the supervisor's store. */
photon_link *link_tcp_create(const link_plan *plan, link_tcp_sink sink, void *ctx);
/* Sends the current blob (kind, idx) as frames through sink. */
int link_tcp_send(photon_link *l, link_kind k, int idx, link_tcp_sink sink, void *ctx, photon_err *err);
/* The header of a MSG_BLOB frame; -1 if the frame is too short for one. */
int link_tcp_peek(const void *payload, uint32_t len, link_blob_hdr *h);
/* Stores one MSG_BLOB frame: 1 when it completed a blob (checksum
 * verified, generation published), 0 when more chunks are due, -1 with err
 * for anything out of bounds, out of order or corrupt. */
int link_tcp_receive(photon_link *l, const void *payload, uint32_t len, photon_err *err);
/* Payload bytes this end has sent (link_tcp_send) and received (complete
 * blobs) so far, per link_kind: what really crossed the link, frame
 * headers and TLS records aside. */
void link_tcp_traffic(const photon_link *l, uint64_t sent[3], uint64_t received[3]);
/* Frees the memory of every blob of kind k but index keep (-1: none): an
 * actor drops the kept states it received once its task is done, and
 * keeps the one it wrote, which its client's next task may read again. */
void link_tcp_drop(photon_link *l, link_kind k, int keep);

/* ---- the run key (io/link_key.c; io/link_tls.h turns it into TLS) -------- */
#define LINK_KEY_MIN 16
#define LINK_KEY_MAX 4096
/* Reads a key file: its bytes, trailing whitespace removed; between
 * LINK_KEY_MIN and LINK_KEY_MAX bytes.  Returns the length, -1 with err.
 * No other copy of the key is left in memory (buffers are wiped with
 * OPENSSL_cleanse); the caller wipes key once it has derived from it. */
int link_key_load(const char *path, unsigned char *key, photon_err *err);
/* Writes a new random key (32 random bytes as 64 hex digits) to path with
 * mode 0600; fills key like link_key_load.  Returns the length, -1 with err. */
int link_key_generate(const char *path, unsigned char *key, photon_err *err);
int link_random(void *buf, size_t n);
#endif
