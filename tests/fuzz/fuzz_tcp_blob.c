/* libFuzzer target: the TCP link's blob frames (io/tcp_link.c
 * link_tcp_receive), as a supervisor's link receives them from an actor.
 * The input is a sequence of frames, each a 2-byte little-endian length and
 * that many bytes.  Invariants: nothing out of bounds (ASan), and a blob is
 * readable only when complete and its checksum matches; a frame that did
 * not complete a blob never makes it readable. */
#include <stdint.h>
#include <string.h>
#include "io/tcp_link.h"

static const link_plan plan = { .model_bytes = 3000, .update_slots = 2, .update_bytes = 1000,
                                .state_slots = 1, .state_bytes = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    photon_link *l = link_tcp_create(&plan, NULL, NULL);
    photon_err err;
    while (size >= 2) {
        size_t n = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (n > size) n = size;
        link_blob_hdr h;
        int has = link_tcp_peek(data, (uint32_t)n, &h) == 0;
        int rc = link_tcp_receive(l, data, (uint32_t)n, &err);
        if (has && h.kind <= LINK_STATE && h.idx >= 0 && h.idx < 4) {
            size_t bytes = 0;
            uint32_t enc = 0;   /* any encoding: the header carries it, the caller checks it */
            const void *b = link_read_enc(l, (link_kind)h.kind, h.idx, LINK_ANY, &bytes, &enc, &err);
            if (rc == 1 && (!b || bytes != h.length || enc != h.encoding)) __builtin_trap();   /* completed but unreadable */
            if (rc == 0 && b) __builtin_trap();                            /* readable while mid-reception */
        }
        data += n;
        size -= n;
    }
    link_close(l);
    return 0;
}
