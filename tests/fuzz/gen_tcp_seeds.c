/* Writes the seed corpora of the fuzz_tcp_* targets (tests/fuzz/corpus/tcp_*):
 * well-formed inputs that reach deep into each parser, so the fuzzer mutates
 * from there.  Run from the source tree after changing a message layout:
 *   build-fuzz/tests/fuzz/gen_tcp_seeds tests/fuzz/corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>
#include "io/link_tls.h"
#include "io/proc.h"
#include "io/tcp_link.h"
#include "proto/protocol.h"
#include "actors/actor.h"
#include "actors/client_state.h"
#include "gpu/quant.h"

static const char *root;

static void put(const char *target, const char *name, const void *a, size_t na, const void *b, size_t nb)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fwrite(a, 1, na, f);
    if (nb) fwrite(b, 1, nb, f);
    fclose(f);
}

/* A frame: header + payload, appended to buf at *n. */
static void frame(uint8_t *buf, size_t *n, uint16_t type, const void *p, uint32_t len)
{
    uint32_t magic = PROC_MAGIC, l = len;
    uint16_t v = PROC_VERSION;
    memcpy(buf + *n, &magic, 4);
    memcpy(buf + *n + 4, &v, 2);
    memcpy(buf + *n + 6, &type, 2);
    memcpy(buf + *n + 8, &l, 4);
    if (len) memcpy(buf + *n + 12, p, len);
    *n += 12 + len;
}

/* One blob (kind, idx, generation) of len bytes of pattern as frames of
 * `chunk` bytes. */
static size_t blob_frames(uint8_t *buf, uint32_t kind, int32_t idx, uint64_t gen, size_t len, size_t chunk,
                          int framed, int len16)
{
    uint8_t *data = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)(i * 31 + 7);
    link_blob_hdr h = { kind, idx, gen, len, link_checksum(data, len), 0, kind == LINK_UPDATE ? 2 : LINK_ENC_RAW, 0 };
    size_t n = 0;
    uint8_t pl[sizeof h + 8192];
    do {
        size_t c = len - h.offset < chunk ? len - h.offset : chunk;
        memcpy(pl, &h, sizeof h);
        memcpy(pl + sizeof h, data + h.offset, c);
        if (framed) frame(buf, &n, MSG_BLOB, pl, (uint32_t)(sizeof h + c));
        if (len16) {
            buf[n] = (uint8_t)((sizeof h + c) & 0xff);
            buf[n + 1] = (uint8_t)((sizeof h + c) >> 8);
            memcpy(buf + n + 2, pl, sizeof h + c);
            n += 2 + sizeof h + c;
        }
        h.offset += c;
    } while (h.offset < len);
    free(data);
    return n;
}

/* One blob of the given bytes and encoding as MSG_BLOB frames of at most
 * chunk payload bytes, appended to buf at *n. */
static void blob_data(uint8_t *buf, size_t *n, uint32_t kind, int32_t idx, uint64_t gen, const void *data, size_t len,
                      uint32_t enc, size_t chunk)
{
    link_blob_hdr h = { kind, idx, gen, len, link_checksum(data, len), 0, enc, 0 };
    static uint8_t pl[sizeof h + 8192];
    do {
        size_t c = len - h.offset < chunk ? len - h.offset : chunk;
        memcpy(pl, &h, sizeof h);
        memcpy(pl + sizeof h, (const uint8_t *)data + h.offset, c);
        frame(buf, n, MSG_BLOB, pl, (uint32_t)(sizeof h + c));
        h.offset += c;
    } while (h.offset < len);
}

/* fuzz_actor_msg: a tiny model's setup, its model blob (fp32 or bf16), a
 * kept state, tasks. */
static void actor_seeds(void)
{
    static uint8_t buf[1 << 20];
    static actor_setup s;
    config_defaults(&s.cfg);
    s.model = (gpt2_config){ .n_layer = 1, .n_head = 1, .d_model = 8, .seq_len = 8, .vocab_size = 60, .padded_vocab = 64 };
    size_t np = gpt2_num_params(&s.model);
    s.plan = (link_plan){ .model_bytes = np * 4, .update_slots = 1, .update_bytes = np * 4, .state_slots = 2,
                          .state_bytes = client_state_bytes(CLIENT_STATE_ADAM, np) };
    snprintf(s.run_id, sizeof s.run_id, "fuzz-1");
    float *model = calloc(np, sizeof(float));
    for (size_t i = 0; i < np; i++) model[i] = (float)((int)(i % 17) - 8) * 0.01f;
    msg_task t;
    memset(&t, 0, sizeof t);
    t.task_id = 11;
    t.model_generation = 1;
    t.part_generation[0] = 1;
    t.kind = TASK_FEDERATED;
    t.round = 1;
    t.local_steps = 2;
    t.n_clients = s.cfg.clients.count;
    t.per_round = 1;
    size_t n = 0;
    frame(buf, &n, MSG_SETUP, &s, sizeof s);
    blob_data(buf, &n, LINK_MODEL, 0, 1, model, np * 4, LINK_ENC_RAW, 4000);
    frame(buf, &n, MSG_TASK, &t, sizeof t);
    frame(buf, &n, MSG_STOP, NULL, 0);
    put("actor_msg", "setup-model-task", buf, n, NULL, 0);
    /* the model broadcast as bf16 */
    actor_setup sb = s;
    sb.cfg.aggregator.broadcast_compression = QUANT_BF16;
    sb.plan.model_bytes = quant_bytes(QUANT_BF16, np);
    void *enc = calloc(1, sb.plan.model_bytes);
    quant_encode(QUANT_BF16, model, np, enc, 1);
    n = 0;
    frame(buf, &n, MSG_SETUP, &sb, sizeof sb);
    blob_data(buf, &n, LINK_MODEL, 0, 1, enc, sb.plan.model_bytes, QUANT_BF16, 4000);
    frame(buf, &n, MSG_TASK, &t, sizeof t);
    put("actor_msg", "setup-bf16-model-task", buf, n, NULL, 0);
    /* a kept AdamW state in slot 0, the task keeps state */
    size_t sbytes = client_state_bytes(CLIENT_STATE_ADAM, np);
    void *st = calloc(1, sbytes);
    client_state_init(st, CLIENT_STATE_ADAM, np);
    msg_task tk = t;
    tk.keep_state = 1;
    tk.state_flags = CLIENT_STATE_ADAM;
    tk.state_in = 0;
    tk.state_generation = 5;
    tk.state_out = 1;
    n = 0;
    frame(buf, &n, MSG_SETUP, &s, sizeof s);
    blob_data(buf, &n, LINK_MODEL, 0, 1, model, np * 4, LINK_ENC_RAW, 8000);
    blob_data(buf, &n, LINK_STATE, 0, 5, st, sbytes, LINK_ENC_RAW, 8000);
    frame(buf, &n, MSG_TASK, &tk, sizeof tk);
    put("actor_msg", "setup-state-task", buf, n, NULL, 0);
    /* an evaluation task */
    msg_task te = t;
    te.kind = TASK_EVAL;
    n = 0;
    frame(buf, &n, MSG_SETUP, &s, sizeof s);
    frame(buf, &n, MSG_TASK, &te, sizeof te);
    put("actor_msg", "setup-eval", buf, n, NULL, 0);
    /* what the fuzzer found first: a setup whose bool bytes are not 0 or 1
     * (the actor must refuse it before reading the configuration) */
    actor_setup sx = s;
    memset(&sx.cfg.aggregator.requeue, 40, 1);
    memset(&sx.cfg.aggregator.error_feedback, 60, 1);
    n = 0;
    frame(buf, &n, MSG_SETUP, &sx, sizeof sx);
    frame(buf, &n, MSG_TASK, &t, sizeof t);
    put("actor_msg", "regress-bool-in-config", buf, n, NULL, 0);
    free(model);
    free(enc);
    free(st);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: gen_tcp_seeds CORPUS_DIR\n"); return 2; }
    root = argv[1];
    actor_seeds();
    static uint8_t buf[1 << 16];
    size_t n;
    /* fuzz_tcp_blob: complete blobs in one and in several frames, with valid checksums. */
    n = blob_frames(buf, LINK_UPDATE, 0, 7, 1000, 1000, 0, 1);
    put("tcp_blob", "update-one-frame", buf, n, NULL, 0);
    n = blob_frames(buf, LINK_MODEL, 0, 3, 3000, 700, 0, 1);
    put("tcp_blob", "model-five-frames", buf, n, NULL, 0);
    n = blob_frames(buf, LINK_STATE, 0, 9, 64, 64, 0, 1);
    put("tcp_blob", "state", buf, n, NULL, 0);
    /* fuzz_tcp_frame: first byte 1 = the harness says HELLO (a task is in
     * flight, id 7); 3 = with kept state (out slot 1). */
    uint8_t one = 1, three = 3, zero = 0;
    n = blob_frames(buf, LINK_UPDATE, 0, 7, 4096, 1500, 1, 0);
    msg_result r;
    memset(&r, 0, sizeof r);
    r.task_id = 7;
    frame(buf, &n, MSG_RESULT, &r, sizeof r);
    put("tcp_frame", "update-and-result", &one, 1, buf, n);
    n = blob_frames(buf, LINK_STATE, 1, 7, 256, 256, 1, 0);
    n += blob_frames(buf + n, LINK_UPDATE, 0, 7, 4096, 4096, 1, 0);
    frame(buf, &n, MSG_RESULT, &r, sizeof r);
    put("tcp_frame", "state-update-result", &three, 1, buf, n);
    msg_fail f;
    memset(&f, 0, sizeof f);
    f.task_id = 7;
    snprintf(f.reason, sizeof f.reason, "out of memory\n\033[2J");
    n = 0;
    frame(buf, &n, MSG_FAIL, &f, sizeof f);
    put("tcp_frame", "fail", &one, 1, buf, n);
    /* first byte 5: the harness says HELLO and dispatches an evaluation */
    uint8_t five = 5;
    msg_eval_result er;
    memset(&er, 0, sizeof er);
    er.task_id = 7;
    er.nsources = 1;
    er.windows[0] = 4;
    er.loss_sum[0] = 12.5;
    n = 0;
    frame(buf, &n, MSG_EVAL_RESULT, &er, sizeof er);
    put("tcp_frame", "eval-result", &five, 1, buf, n);
    msg_hello h = { 0, 1 };
    n = 0;
    frame(buf, &n, MSG_HELLO, &h, sizeof h);
    put("tcp_frame", "hello-before-task", &zero, 1, buf, n);
    /* fuzz_tcp_handshake: a client's first flight with the harness's key
     * (so the server gets as far as the binder), and a server's answer. */
    static const unsigned char key[] = "fuzz key 0123456789abcdef";
    photon_err err;
    link_tls *ts = link_tls_server(key, sizeof key - 1, TCP_PROTOCOL_VERSION, &err);
    link_tls *tc = link_tls_client(key, sizeof key - 1, TCP_PROTOCOL_VERSION, &err);
    SSL *c = link_tls_ssl(tc), *s = link_tls_ssl(ts);
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(c, c_in, c_out);
    SSL_set_bio(s, s_in, s_out);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_do_handshake(c);
    char *p;
    long len = BIO_get_mem_data(c_out, &p);
    put("tcp_handshake", "client-hello", &zero, 1, p, (size_t)len);
    BIO_write(s_in, p, (int)len);
    SSL_do_handshake(s);
    len = BIO_get_mem_data(s_out, &p);
    put("tcp_handshake", "server-flight", &one, 1, p, (size_t)len);
    SSL_free(c);
    SSL_free(s);
    link_tls_free(ts);
    link_tls_free(tc);
    return 0;
}
