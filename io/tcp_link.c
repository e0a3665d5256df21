/* The TCP link (see io/tcp_link.h): blobs in process memory, moved as
 * MSG_BLOB frames on the control stream with the shared-memory header's
 * fields.  Every field that comes off the wire is bounded by the plan
 * before it is used. */
#include "io/tcp_link.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *buf;          /* NULL until first used; capacity bytes */
    size_t capacity;
    uint64_t generation;   /* LINK_ANY: no valid blob */
    uint64_t length, checksum;
    uint32_t encoding, rx_enc;
    /* A blob being received: its header and how much of it arrived. */
    uint64_t rx_gen, rx_len, rx_sum, rx_off;
    int rx_active;
} tcp_blob;

typedef struct {
    photon_link base;
    link_tcp_sink sink;
    void *ctx;
    int nblob;
    tcp_blob *blob;        /* model parts..., updates..., states... */
    size_t footprint;
    uint64_t sent[3], received[3];   /* payload bytes per link_kind (link_tcp_traffic) */
} tcp_link;

static int blob_index(const tcp_link *t, uint32_t k, int64_t idx)
{
    const link_plan *p = &t->base.plan;
    int parts = link_model_parts(p);
    switch (k) {
    case LINK_MODEL: return idx >= 0 && idx < parts ? (int)idx : -1;
    case LINK_UPDATE: return idx >= 0 && idx < p->update_slots ? parts + (int)idx : -1;
    case LINK_STATE: return idx >= 0 && idx < p->state_slots ? parts + p->update_slots + (int)idx : -1;
    }
    return -1;
}

static int kind_of(const tcp_link *t, int i)
{
    int parts = link_model_parts(&t->base.plan);
    return i < parts ? LINK_MODEL : i < parts + t->base.plan.update_slots ? LINK_UPDATE : LINK_STATE;
}

static tcp_blob *get_blob(tcp_link *t, uint32_t k, int64_t idx, photon_err *err)
{
    int i = blob_index(t, k, idx);
    if (i < 0) { err_set(err, "tcp link: no blob kind %u index %lld in this run", k, (long long)idx); return NULL; }
    tcp_blob *b = &t->blob[i];
    if (!b->buf) b->buf = xmalloc(b->capacity ? b->capacity : 1);
    return b;
}

static void *tcp_write_begin(photon_link *l, link_kind k, int idx, size_t bytes, photon_err *err)
{
    tcp_blob *b = get_blob((tcp_link *)l, k, idx, err);
    if (!b) return NULL;
    if (bytes > b->capacity) { err_set(err, "tcp link: blob holds %zu bytes, %zu asked", b->capacity, bytes); return NULL; }
    b->generation = LINK_ANY;
    return b->buf;
}

static int tcp_write_end(photon_link *l, link_kind k, int idx, uint64_t gen, size_t bytes, uint32_t enc,
                         photon_err *err)
{
    tcp_link *t = (tcp_link *)l;
    tcp_blob *b = get_blob(t, k, idx, err);
    if (!b) return -1;
    if (bytes > b->capacity) { err_set(err, "tcp link: blob overflow"); return -1; }
    b->length = bytes;
    b->encoding = enc;
    b->checksum = link_checksum(b->buf, bytes);
    b->generation = gen;
    if (t->sink) return link_tcp_send(l, k, idx, t->sink, t->ctx, err);
    return 0;
}

static const void *tcp_read(photon_link *l, link_kind k, int idx, uint64_t gen, size_t *bytes,
                            uint64_t *gen_out, uint32_t *enc_out, photon_err *err)
{
    tcp_blob *b = get_blob((tcp_link *)l, k, idx, err);
    if (!b) return NULL;
    if (b->generation == LINK_ANY || (gen != LINK_ANY && b->generation != gen)) {
        err_set(err, "tcp link: blob kind %d index %d holds generation %lld, expected %lld", (int)k, idx,
                b->generation == LINK_ANY ? -1LL : (long long)b->generation, (long long)gen);
        return NULL;
    }
    if (link_checksum(b->buf, b->length) != b->checksum) {
        err_set(err, "tcp link: blob kind %d index %d checksum mismatch", (int)k, idx);
        return NULL;
    }
    if (!enc_out && b->encoding != LINK_ENC_RAW) {
        err_set(err, "tcp link: blob kind %d index %d is encoded (encoding %u), not the raw one expected", (int)k, idx,
                b->encoding);
        return NULL;
    }
    if (bytes) *bytes = b->length;
    if (gen_out) *gen_out = b->generation;
    if (enc_out) *enc_out = b->encoding;
    return b->buf;
}

static void tcp_close(photon_link *l)
{
    tcp_link *t = (tcp_link *)l;
    for (int i = 0; i < t->nblob; i++) free(t->blob[i].buf);
    free(t->blob);
    free(t);
}

static size_t tcp_footprint(const photon_link *l) { return ((const tcp_link *)l)->footprint; }

static const link_ops tcp_ops = {
    .name = "tcp", .write_begin = tcp_write_begin, .write_end = tcp_write_end,
    .read = tcp_read, .close = tcp_close, .footprint = tcp_footprint,
};

photon_link *link_tcp_create(const link_plan *plan, link_tcp_sink sink, void *ctx)
{
    tcp_link *t = xcalloc(1, sizeof *t);
    t->base.ops = &tcp_ops;
    t->base.plan = *plan;
    t->sink = sink;
    t->ctx = ctx;
    int parts = link_model_parts(plan);
    t->nblob = parts + plan->update_slots + plan->state_slots;
    t->blob = xcalloc((size_t)t->nblob, sizeof *t->blob);
    for (int i = 0; i < t->nblob; i++) {
        tcp_blob *b = &t->blob[i];
        int k = kind_of(t, i);
        b->capacity = k == LINK_MODEL ? link_model_part_bytes(plan, i) : k == LINK_UPDATE ? plan->update_bytes
                                                                                          : plan->state_bytes;
        b->generation = LINK_ANY;
        t->footprint += b->capacity;
    }
    return &t->base;
}

int link_tcp_send(photon_link *l, link_kind k, int idx, link_tcp_sink sink, void *ctx, photon_err *err)
{
    tcp_blob *b = get_blob((tcp_link *)l, k, idx, err);
    if (!b) return -1;
    if (b->generation == LINK_ANY) { err_set(err, "tcp link: blob kind %d index %d is empty", (int)k, idx); return -1; }
    uint8_t *frame = xmalloc(sizeof(link_blob_hdr) + LINK_TCP_CHUNK);
    link_blob_hdr h = { .kind = (uint32_t)k, .idx = idx, .generation = b->generation, .length = b->length,
                        .checksum = b->checksum, .encoding = b->encoding };
    int rc = 0;
    do {   /* an empty blob is still one frame */
        uint64_t n = b->length - h.offset < LINK_TCP_CHUNK ? b->length - h.offset : LINK_TCP_CHUNK;
        memcpy(frame, &h, sizeof h);
        memcpy(frame + sizeof h, b->buf + h.offset, (size_t)n);
        if (sink(ctx, frame, (uint32_t)(sizeof h + n)) < 0) {
            err_set(err, "tcp link: the connection is gone");
            rc = -1;
            break;
        }
        h.offset += n;
    } while (h.offset < b->length);
    free(frame);
    if (rc == 0) ((tcp_link *)l)->sent[k] += b->length;
    return rc;
}

int link_tcp_peek(const void *payload, uint32_t len, link_blob_hdr *h)
{
    if (len < sizeof *h) return -1;
    memcpy(h, payload, sizeof *h);
    return 0;
}

int link_tcp_receive(photon_link *l, const void *payload, uint32_t len, photon_err *err)
{
    tcp_link *t = (tcp_link *)l;
    link_blob_hdr h;
    if (link_tcp_peek(payload, len, &h) < 0) {
        err_set(err, "blob frame of %u bytes, shorter than its %zu-byte header", len, sizeof h);
        return -1;
    }
    int i = blob_index(t, h.kind, h.idx);
    if (i < 0) { err_set(err, "blob frame for kind %u index %d, not in this run", h.kind, h.idx); return -1; }
    tcp_blob *b = &t->blob[i];
    uint64_t n = len - sizeof h;
    if (h.length > b->capacity) {
        err_set(err, "blob frame: length %llu over the blob's capacity %zu", (unsigned long long)h.length, b->capacity);
        return -1;
    }
    if (h.generation == LINK_ANY) { err_set(err, "blob frame: invalid generation"); return -1; }
    if (h.encoding > LINK_ENC_MAX) { err_set(err, "blob frame: unknown encoding %u", h.encoding); return -1; }
    if (h.offset == 0) {
        b->rx_active = 1;
        b->rx_enc = h.encoding;
        b->rx_gen = h.generation;
        b->rx_len = h.length;
        b->rx_sum = h.checksum;
        b->rx_off = 0;
        b->generation = LINK_ANY;   /* the old blob is being replaced */
    } else if (!b->rx_active || h.offset != b->rx_off || h.generation != b->rx_gen || h.length != b->rx_len ||
               h.checksum != b->rx_sum || h.encoding != b->rx_enc) {
        err_set(err, "blob frame: chunk at offset %llu does not continue the blob being received",
                (unsigned long long)h.offset);
        return -1;
    }
    if (n > h.length - h.offset || (n == 0 && h.length > 0)) {
        err_set(err, "blob frame: chunk of %llu bytes at offset %llu overruns the blob's %llu bytes",
                (unsigned long long)n, (unsigned long long)h.offset, (unsigned long long)h.length);
        b->rx_active = 0;
        return -1;
    }
    if (!b->buf) b->buf = xmalloc(b->capacity ? b->capacity : 1);
    memcpy(b->buf + h.offset, (const uint8_t *)payload + sizeof h, (size_t)n);
    b->rx_off += n;
    if (b->rx_off < b->rx_len) return 0;
    b->rx_active = 0;
    uint64_t sum = link_checksum(b->buf, (size_t)b->rx_len);
    if (sum != b->rx_sum) {
        err_set(err, "blob kind %u index %d: checksum mismatch (payload %016llx, header %016llx)", h.kind, h.idx,
                (unsigned long long)sum, (unsigned long long)b->rx_sum);
        return -1;
    }
    b->length = b->rx_len;
    b->encoding = b->rx_enc;
    b->checksum = b->rx_sum;
    b->generation = b->rx_gen;
    t->received[h.kind] += b->length;
    return 1;
}

void link_tcp_drop(photon_link *l, link_kind k, int keep)
{
    tcp_link *t = (tcp_link *)l;
    int kept = keep >= 0 ? blob_index(t, k, keep) : -1;
    for (int i = 0; i < t->nblob; i++) {
        if (kind_of(t, i) != (int)k || i == kept) continue;
        free(t->blob[i].buf);
        t->blob[i].buf = NULL;
        t->blob[i].generation = LINK_ANY;
        t->blob[i].rx_active = 0;
    }
}

void link_tcp_traffic(const photon_link *l, uint64_t sent[3], uint64_t received[3])
{
    const tcp_link *t = (const tcp_link *)l;
    for (int k = 0; k < 3; k++) { sent[k] = t->sent[k]; received[k] = t->received[k]; }
}
