/* The TCP link's blob frames (io/tcp_link.h): a blob sent in chunks from
 * one link arrives bit-exact in another; every out-of-bounds, out-of-order
 * or corrupt frame is refused before memory is touched, and a refused or
 * partial blob is never readable.  Also the key file rules. */
#include <stdlib.h>
#include <sys/stat.h>
#include "tests/harness.h"
#include "io/tcp_link.h"

/* Captures the frames a link sends. */
typedef struct { int n; uint8_t *frame[64]; uint32_t len[64]; } capture;

static int sink(void *ctx, const void *payload, uint32_t len)
{
    capture *c = ctx;
    if (c->n == 64) return -1;
    c->frame[c->n] = malloc(len);
    memcpy(c->frame[c->n], payload, len);
    c->len[c->n++] = len;
    return 0;
}

static void capture_free(capture *c)
{
    for (int i = 0; i < c->n; i++) free(c->frame[i]);
    c->n = 0;
}

static const link_plan plan = { .model_bytes = 3 * LINK_TCP_CHUNK / 2 + 12, .update_slots = 2,
                                .update_bytes = 1000, .state_slots = 1, .state_bytes = 64 };

/* The supervisor publishes the model; an actor's link receives it. */
static void test_round_trip(void)
{
    photon_err err;
    photon_link *sup = link_tcp_create(&plan, NULL, NULL);
    capture c = { 0 };
    photon_link *act = link_tcp_create(&plan, sink, &c);
    uint8_t *m = link_write_begin(sup, LINK_MODEL, 0, plan.model_bytes, &err);
    for (size_t i = 0; i < plan.model_bytes; i++) m[i] = (uint8_t)(i * 7 + 3);
    CHECK(link_write_end(sup, LINK_MODEL, 0, 5, plan.model_bytes, &err) == 0);
    CHECK(c.n == 0);   /* the supervisor's store sends nothing by itself */
    CHECK(link_tcp_send(sup, LINK_MODEL, 0, sink, &c, &err) == 0);
    CHECK_EQ_INT(c.n, 2);
    CHECK(link_read(act, LINK_MODEL, 0, 5, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(link_tcp_receive(act, c.frame[0], c.len[0], &err), 0);
    CHECK(link_read(act, LINK_MODEL, 0, LINK_ANY, NULL, NULL, &err) == NULL);   /* partial: not readable */
    CHECK_EQ_INT(link_tcp_receive(act, c.frame[1], c.len[1], &err), 1);
    size_t bytes = 0;
    const uint8_t *got = link_read(act, LINK_MODEL, 0, 5, &bytes, NULL, &err);
    CHECK(got && bytes == plan.model_bytes && memcmp(got, m, bytes) == 0);
    CHECK(link_read(act, LINK_MODEL, 0, 6, NULL, NULL, &err) == NULL);   /* wrong generation */
    capture_free(&c);
    /* The actor's update is sent by write_end itself. */
    float *u = link_write_begin(act, LINK_UPDATE, 1, 1000, &err);
    memset(u, 0x5a, 1000);
    CHECK(link_write_end(act, LINK_UPDATE, 1, 9, 1000, &err) == 0);
    CHECK_EQ_INT(c.n, 1);
    CHECK_EQ_INT(link_tcp_receive(sup, c.frame[0], c.len[0], &err), 1);
    CHECK(link_read(sup, LINK_UPDATE, 1, 9, &bytes, NULL, &err) != NULL && bytes == 1000);
    /* an encoded blob: its encoding and its (smaller) length arrive with it */
    u = link_write_begin(act, LINK_UPDATE, 1, 1000, &err);
    CHECK(link_write_end_enc(act, LINK_UPDATE, 1, 10, 260, 2, &err) == 0);
    CHECK_EQ_INT(c.n, 2);
    CHECK_EQ_INT(link_tcp_receive(sup, c.frame[1], c.len[1], &err), 1);
    uint32_t enc = 0;
    CHECK(link_read_enc(sup, LINK_UPDATE, 1, 10, &bytes, &enc, &err) != NULL && bytes == 260 && enc == 2);
    capture_free(&c);
    link_close(sup);
    link_close(act);
}

/* Builds one frame: header + n bytes of payload (zeros), encoding enc. */
static uint32_t frame_enc(uint8_t *buf, uint32_t kind, int32_t idx, uint64_t gen, uint64_t length, uint64_t sum,
                          uint64_t offset, uint32_t n, uint32_t enc)
{
    link_blob_hdr h = { kind, idx, gen, length, sum, offset, enc, 0 };
    memcpy(buf, &h, sizeof h);
    memset(buf + sizeof h, 0, n);
    return (uint32_t)sizeof h + n;
}

static uint32_t frame(uint8_t *buf, uint32_t kind, int32_t idx, uint64_t gen, uint64_t length, uint64_t sum,
                      uint64_t offset, uint32_t n)
{
    link_blob_hdr h = { kind, idx, gen, length, sum, offset, LINK_ENC_RAW, 0 };
    memcpy(buf, &h, sizeof h);
    memset(buf + sizeof h, 0, n);
    return (uint32_t)sizeof h + n;
}

static void test_bounds(void)
{
    photon_err err;
    photon_link *l = link_tcp_create(&plan, NULL, NULL);
    static uint8_t buf[sizeof(link_blob_hdr) + 4096];
    uint64_t zsum = link_checksum(buf + sizeof(link_blob_hdr), 100);   /* of 100 zero bytes */
    uint32_t n;
    CHECK_EQ_INT(link_tcp_receive(l, buf, 10, &err), -1);                        /* shorter than a header */
    CHECK_CONTAINS(err.msg, "shorter than");
    n = frame(buf, 7, 0, 1, 100, zsum, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* no such kind */
    n = frame(buf, LINK_UPDATE, 2, 1, 100, zsum, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* index past the plan */
    n = frame(buf, LINK_UPDATE, -1, 1, 100, zsum, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);
    n = frame(buf, LINK_UPDATE, 0, 1, 1001, zsum, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* length over capacity */
    CHECK_CONTAINS(err.msg, "over the blob's capacity");
    n = frame(buf, LINK_UPDATE, 0, 1, UINT64_MAX, zsum, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 0, 200);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* chunk overruns the blob */
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 50, 50);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* starts mid-blob */
    n = frame(buf, LINK_UPDATE, 0, LINK_ANY, 100, zsum, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* the invalid generation */
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum ^ 1, 0, 100);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* checksum mismatch */
    CHECK_CONTAINS(err.msg, "checksum");
    CHECK(link_read(l, LINK_UPDATE, 0, LINK_ANY, NULL, NULL, &err) == NULL);
    /* In order: two halves; a repeated or skipped chunk is refused. */
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 0, 50);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), 0);
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 60, 40);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 0, 50);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), 0);
    n = frame(buf, LINK_UPDATE, 0, 2, 100, zsum, 50, 50);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* another generation mid-blob */
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 0, 50);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), 0);
    n = frame(buf, LINK_UPDATE, 0, 1, 100, zsum, 50, 50);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), 1);
    CHECK(link_read(l, LINK_UPDATE, 0, 1, NULL, NULL, &err) != NULL);

    /* The encoding travels in the header: bounded, the same in every chunk,
     * published with the blob; a plain reader refuses an encoded blob. */
    n = frame_enc(buf, LINK_UPDATE, 0, 3, 100, zsum, 0, 100, LINK_ENC_MAX + 1);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);
    CHECK_CONTAINS(err.msg, "unknown encoding");
    n = frame_enc(buf, LINK_UPDATE, 0, 3, 100, zsum, 0, 50, 2);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), 0);
    n = frame_enc(buf, LINK_UPDATE, 0, 3, 100, zsum, 50, 50, 3);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), -1);                         /* encoding changed mid-blob */
    n = frame_enc(buf, LINK_UPDATE, 0, 3, 100, zsum, 0, 100, 2);
    CHECK_EQ_INT(link_tcp_receive(l, buf, n, &err), 1);
    uint32_t enc = 99;
    size_t bytes = 0;
    CHECK(link_read_enc(l, LINK_UPDATE, 0, 3, &bytes, &enc, &err) != NULL && enc == 2 && bytes == 100);
    CHECK(link_read(l, LINK_UPDATE, 0, 3, NULL, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "encoded");
    link_close(l);
}

static void test_keys(void)
{
    photon_err err;
    const char *dir = th_tmpdir();
    unsigned char k1[LINK_KEY_MAX], k2[LINK_KEY_MAX];
    char path[1024];
    snprintf(path, sizeof path, "%s/run.key", dir);
    int n = link_key_generate(path, k1, &err);
    CHECK_EQ_INT(n, 64);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_EQ_INT(link_key_load(path, k2, &err), 64);
    CHECK(memcmp(k1, k2, 64) == 0);
    CHECK_EQ_INT(link_key_load(th_write_file(dir, "short.key", "tooshort\n"), k2, &err), -1);
    CHECK_CONTAINS(err.msg, "at least");
    CHECK_EQ_INT(link_key_load("/nonexistent/key", k2, &err), -1);
    /* Only regular files: a FIFO must not hang the read. */
    char fifo[1024];
    snprintf(fifo, sizeof fifo, "%s/fifo.key", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_EQ_INT(link_key_load(fifo, k2, &err), -1);
    CHECK_CONTAINS(err.msg, "not a regular file");
    CHECK_EQ_INT(link_key_load(dir, k2, &err), -1);
    /* Longer than the limit (trailing whitespace does not count). */
    FILE *f = fopen(path, "w");
    for (int i = 0; i < LINK_KEY_MAX + 1; i++) fputc('k', f);
    fclose(f);
    CHECK_EQ_INT(link_key_load(path, k2, &err), -1);
    CHECK_CONTAINS(err.msg, "longer than");
}

/* What the stack below the caller holds now (the frames of the functions
 * it just called): read as a fresh frame's uninitialized array. */
static void __attribute__((noinline)) stack_below(unsigned char *out, size_t n)
{
    unsigned char buf[16384];
    __asm__ volatile("" : : "r"(buf) : "memory");   /* the read below is of whatever is there */
    memcpy(out, buf, n < sizeof buf ? n : sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* A function that copies the key into its frame and does not wipe it. */
static void __attribute__((noinline)) leave_key(const unsigned char *key)
{
    unsigned char copy[512];
    memcpy(copy + 200, key, 64);
    __asm__ volatile("" : : "r"(copy) : "memory");
}

static int holds(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

/* The key is wiped from the frames that handled it (issue 12): after
 * link_key_generate and link_key_load return, no 16-byte piece of the key
 * is left on the stack they used (only in the caller's buffer). */
static void __attribute__((noinline)) test_key_wiped(void)
{
#ifdef PHOTON_SANITIZE
    /* ASan lays frames out with redzones (and may move them to a fake
     * stack): the probe below would not look where the key functions ran. */
    printf("   skipped in a sanitizer build\n");
    return;
#endif
    photon_err err;
    const char *dir = th_tmpdir();
    static unsigned char key[LINK_KEY_MAX], below[16384];
    char path[1024];
    snprintf(path, sizeof path, "%s/wipe.key", dir);
    CHECK_EQ_INT(link_key_generate(path, key, &err), 64);
    stack_below(below, sizeof below);
    int left = 0;
    for (int off = 0; off + 16 <= 64; off += 16) left |= holds(below, sizeof below, key + off, 16);
    CHECK_MSG(!left, "link_key_generate left a piece of the key on the stack");
    unsigned char raw[32];
    for (int i = 0; i < 32; i++) {   /* and of its binary form, from the hex digits */
        unsigned v;
        sscanf((const char *)key + 2 * i, "%2x", &v);
        raw[i] = (unsigned char)v;
    }
    CHECK_MSG(!holds(below, sizeof below, raw, 16) && !holds(below, sizeof below, raw + 16, 16),
              "link_key_generate left its random bytes on the stack");
    memset(key, 0, sizeof key);
    CHECK_EQ_INT(link_key_load(path, key, &err), 64);
    stack_below(below, sizeof below);
    left = 0;
    for (int off = 0; off + 16 <= 64; off += 16) left |= holds(below, sizeof below, key + off, 16);
    CHECK_MSG(!left, "link_key_load left a piece of the key on the stack");
    /* the check can fail: a frame that leaves the key behind is seen */
    leave_key(key);
    stack_below(below, sizeof below);
    CHECK_MSG(holds(below, sizeof below, key, 16), "the stack probe does not see a key left on the stack");
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_bounds);
    RUN(test_keys);
    RUN(test_key_wiped);
    return th_finish();
}
