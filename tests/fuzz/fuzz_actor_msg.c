/* libFuzzer target: what a remote actor does with the supervisor's messages
 * once the TLS handshake is done (actors/actor.c), message by message:
 * MSG_SETUP through actor_setup_check and the link it plans
 * (link_tcp_create), MSG_BLOB through the actor's link (link_tcp_receive),
 * MSG_TASK through actor_task_check and then what the task reads before it
 * trains: each part of the global model decoded from its broadcast
 * encoding (client_sync_part) and the client's kept state
 * (client_state_open).
 * Training itself is left out (seconds per input).  The input is a stream
 * of frames (io/proc.h: 12-byte header + payload; the frame decoding
 * itself is fuzz_tcp_frame's); it ends where the actor would stop (a bad
 * setup, task or blob; STOP; a bad frame).
 * The supervisor is trusted with sizes once authenticated: setups whose
 * plan asks for more than 64 MB of link buffers or 4096 blobs, or whose
 * model has more than 2^20 parameters, are not followed further (a real
 * actor would allocate them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/proc.h"
#include "io/tcp_link.h"
#include "actors/actor_check.h"
#include "actors/client_state.h"
#include "actors/client_sync.h"

#define PLAN_MAX ((size_t)64 << 20)

/* PHOTON_FUZZ_TRACE=1: one line per frame, to see how deep a seed gets. */
static int trace;
#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) { log_set_quiet(true); trace = getenv("PHOTON_FUZZ_TRACE") != NULL; init = 1; }
    static actor_setup s;
    int have_setup = 0;
    photon_link *link = NULL;
    client_sync *cs = NULL;
    size_t nparams = 0;
    photon_err err;
    char why[200];
    size_t off = 0;
    while (off + PROC_FRAME_BYTES <= size) {
        uint16_t type;
        uint32_t len;
        if (proc_frame_check(data + off, PROC_MAX_PAYLOAD, &type, &len, why, sizeof why) < 0) break;
        if (len > size - off - PROC_FRAME_BYTES) break;
        /* an exact-size copy, so ASan sees a read past the payload */
        uint8_t *pl = malloc(len ? len : 1);
        memcpy(pl, data + off + PROC_FRAME_BYTES, len);
        off += PROC_FRAME_BYTES + len;
        int stop = 0;
        switch (type) {
        case MSG_SETUP:
            if (have_setup) break;   /* the actor ignores a second one */
            if (len != sizeof s) { stop = 1; break; }
            memcpy(&s, pl, sizeof s);
            cfg_wire_sanitize(&s.cfg);
            if (actor_setup_check(&s, why, sizeof why) < 0) { TRACE("setup refused: %s\n", why); stop = 1; break; }
            have_setup = 1;
            {
                const link_plan *p = &s.plan;
                if ((size_t)p->update_slots + (size_t)p->state_slots > 4096 || p->model_bytes > PLAN_MAX ||
                    p->update_bytes > PLAN_MAX || p->state_bytes > PLAN_MAX) { stop = 1; break; }
            }
            link = link_tcp_create(&s.plan, NULL, NULL);
            nparams = gpt2_num_params(&s.model);
            if (nparams <= (1u << 20)) cs = client_sync_new(&s.cfg, &s.model, &err);
            TRACE("setup: %zu parameters, client_sync %s\n", nparams, cs ? "ok" : err.msg);
            break;
        case MSG_BLOB:
            if (!link || link_tcp_receive(link, pl, len, &err) < 0) { TRACE("blob refused\n"); stop = 1; }
            break;
        case MSG_TASK: {
            msg_task t;
            if (!have_setup || !link || len != sizeof t) { stop = 1; break; }
            memcpy(&t, pl, sizeof t);
            if (actor_task_check(&s, &t, why, sizeof why) < 0) { TRACE("task refused: %s\n", why); stop = 1; break; }
            if (t.kind == TASK_EVAL) break;
            size_t bytes;
            uint32_t enc;
            int model_ok = cs != NULL;
            for (int f = 0; cs && f < client_sync_parts(cs); f++) {   /* as actors/actor.c task_model */
                uint64_t gen = t.part_generation[f];
                if (client_sync_has_part(cs, f, gen)) continue;
                const void *blob = link_read_enc(link, LINK_MODEL, f, gen, &bytes, &enc, &err);
                if (!blob || client_sync_part(cs, f, blob, bytes, enc, gen, 1, &err) < 0) { model_ok = 0; break; }
            }
            if (model_ok) {
                const float *g = client_sync_global(cs);
                if (g && nparams) { volatile float x = g[0] + g[nparams - 1]; (void)x; }
            }
            if (cs) TRACE("task: model %s\n", model_ok ? "decoded" : err.msg);
            if (t.keep_state && t.state_generation != 0) {
                const void *st = link_read(link, LINK_STATE, t.state_in, t.state_generation, &bytes, NULL, &err);
                client_state_view v;
                if (st && client_state_open(st, bytes, t.state_flags, nparams, &v, &err) == 0 && v.h) {
                    volatile int64_t x = v.h->step; (void)x;
                    TRACE("task: state opened\n");
                }
            }
            break;
        }
        case MSG_STOP:
            stop = 1;
            break;
        default:
            break;   /* logged and ignored */
        }
        free(pl);
        if (stop) break;
    }
    client_sync_free(cs);
    link_close(link);
    return 0;
}
