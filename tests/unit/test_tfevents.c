/* io/tfevents.c: CRC-32C against the published test vectors (RFC 3720
 * appendix B.4, and "123456789", the CRC catalogue's check value), the
 * masked form against TensorBoard's own masked_crc32c, and the TFRecord
 * framing of a written file read back record by record.  (The Event
 * encoding is checked by TensorBoard's reader in it_tensorboard.) */
#include "harness.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include "io/tfevents.h"

static void test_crc32c_vectors(void)
{
    unsigned char buf[32];
    memset(buf, 0, sizeof buf);
    CHECK_EQ_INT(crc32c_update(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    CHECK_EQ_INT(crc32c_update(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
    CHECK_EQ_INT(crc32c_update(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
    CHECK_EQ_INT(crc32c_update(0, buf, 32), 0x113FDB5Cu);
    CHECK_EQ_INT(crc32c_update(0, "123456789", 9), 0xE3069283u);
    /* incremental == one shot */
    CHECK_EQ_INT(crc32c_update(crc32c_update(0, "1234", 4), "56789", 5), 0xE3069283u);
    CHECK_EQ_INT(crc32c_update(0, "", 0), 0);
}

static void test_mask(void)
{
    /* tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c(b"123456789") */
    CHECK_EQ_INT(crc32c_mask(crc32c_update(0, "123456789", 9)), 0xc78ab0e5u);
}

static uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }

static void test_frame(void)
{
    unsigned char out[3 + 16];
    tfrecord_frame("abc", 3, out);
    CHECK_EQ_INT(get_u64(out), 3);
    CHECK_EQ_INT(get_u32(out + 8), crc32c_mask(crc32c_update(0, out, 8)));
    CHECK(memcmp(out + 12, "abc", 3) == 0);
    CHECK_EQ_INT(get_u32(out + 15), crc32c_mask(crc32c_update(0, "abc", 3)));
}

/* Reads every record of a file, checking lengths and both CRCs; returns the count or -1. */
static int count_records(const char *path)
{
    size_t len;
    photon_err err;
    unsigned char *d = (unsigned char *)file_read_all(path, &len, &err);
    if (!d) return -1;
    size_t off = 0;
    int n = 0;
    while (off < len) {
        if (len - off < 12) { n = -1; break; }
        uint64_t L = get_u64(d + off);
        if (get_u32(d + off + 8) != crc32c_mask(crc32c_update(0, d + off, 8))) { n = -1; break; }
        if (len - off - 12 < L + 4) { n = -1; break; }
        if (get_u32(d + off + 12 + L) != crc32c_mask(crc32c_update(0, d + off + 12, L))) { n = -1; break; }
        off += 16 + L;
        n++;
    }
    free(d);
    return n;
}

static void test_file(void)
{
    const char *dir = th_tmpdir();
    char tb[1024];
    path_join(tb, sizeof tb, dir, "tb");
    photon_err err;
    tfevents *t = tfevents_open(tb, &err);
    CHECK_MSG(t != NULL, "open: %s", t ? "" : err.msg);
    if (!t) return;
    char first[1024];
    snprintf(first, sizeof first, "%s", tfevents_path(t));
    CHECK_CONTAINS(first, "/tb/events.out.tfevents.");
    tfevents_begin(t, 100);
    tfevents_scalar(t, "eval/perplexity", 123.5);
    tfevents_scalar(t, "skipped", NAN);
    CHECK_EQ_INT(tfevents_end(t), 0);
    tfevents_begin(t, 200);
    tfevents_scalar(t, "only/nan", NAN);   /* nothing left: no record */
    CHECK_EQ_INT(tfevents_end(t), 0);
    CHECK_EQ_INT(tfevents_session_start(t, 101), 0);
    CHECK_EQ_INT(count_records(first), 3);   /* file_version, scalars, session log */
    /* A second file (a resumed run) sorts after the first, even within the same second. */
    tfevents *t2 = tfevents_open(tb, &err);
    CHECK(t2 != NULL);
    if (t2) {
        CHECK_MSG(strcmp(tfevents_path(t2), first) > 0, "%s after %s", tfevents_path(t2), first);
        CHECK_EQ_INT(count_records(tfevents_path(t2)), 1);
        tfevents_close(t2);
    }
    tfevents_close(t);
    /* Not writable: a clear error, no crash. */
    t = tfevents_open("/proc/photon-no-such/tb", &err);
    CHECK(t == NULL);
    if (!t) CHECK_CONTAINS(err.msg, "/proc/photon-no-such");
    else tfevents_close(t);
}

int main(void)
{
    RUN(test_crc32c_vectors);
    RUN(test_mask);
    RUN(test_frame);
    RUN(test_file);
    return th_finish();
}
