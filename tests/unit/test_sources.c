/* Source files as the hubs ship them: zstd (single and many frames, written
 * with libzstd here) and gzip (concatenated members) recognised by content
 * whatever the name; data after the end of a compressed stream, truncated
 * or misnamed files, Parquet and other binaries, and FIFOs each refused
 * with one clear line; JSON Lines with a dotted text_key and a label
 * (source_field); plain text cut at separators that straddle read
 * boundaries; documents over the size limit refused. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include "harness.h"
#include "io/common.h"
#include "io/instream.h"
#include "io/textsrc.h"

static const char *dir;

static const char *write_bytes(const char *name, const void *p, size_t n)
{
    static char paths[16][4096];
    static int slot;
    char *path = paths[slot++ % 16];
    snprintf(path, 4096, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(p, 1, n, f); fclose(f); }
    return path;
}

static void *zstd_of(const char *s, size_t n, size_t *out)
{
    size_t cap = ZSTD_compressBound(n);
    void *z = xmalloc(cap);
    *out = ZSTD_compress(z, cap, s, n, 3);
    return z;
}

static void *gzip_of(const char *s, size_t n, size_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *b = xmalloc(cap);
    z.next_in = (unsigned char *)s;
    z.avail_in = (uInt)n;
    z.next_out = b;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return b;
}

/* Documents of path with options; count, or -1 with err.  Concatenates
 * texts (and labels) into all when given. */
static int read_all(const char *path, const textsrc_opts *o, char *all, size_t an, photon_err *err)
{
    textsrc *s = textsrc_open_opts(path, o, err);
    if (!s) return -1;
    const char *t;
    size_t n, len = 0;
    int rc, count = 0;
    if (all) all[0] = 0;
    while ((rc = textsrc_next(s, &t, &n, err)) == 1) {
        count++;
        size_t ln = 0;
        const char *lab = textsrc_label(s, &ln);
        if (all && len + n + ln + 4 < an) {
            len += (size_t)snprintf(all + len, an - len, "%s%.*s", len ? "|" : "", (int)n, t);
            if (lab) len += (size_t)snprintf(all + len, an - len, "@%.*s", (int)ln, lab);
        }
    }
    textsrc_close(s);
    return rc < 0 ? -1 : count;
}

static void test_compressed(void)
{
    photon_err err;
    char all[1024];
    const char *a = "{\"text\": \"one\"}\n{\"text\": \"two\"}\n", *b = "{\"text\": \"three\"}\n";
    size_t za, zb, ga, gb;
    char *xa = zstd_of(a, strlen(a), &za), *xb = zstd_of(b, strlen(b), &zb);
    char *ya = gzip_of(a, strlen(a), &ga), *yb = gzip_of(b, strlen(b), &gb);
    char cat[4096];

    /* zstd: one frame, two frames back to back */
    CHECK_EQ_INT(read_all(write_bytes("one.jsonl.zst", xa, za), NULL, all, sizeof all, &err), 2);
    CHECK_STR(all, "one|two");
    memcpy(cat, xa, za);
    memcpy(cat + za, xb, zb);
    CHECK_EQ_INT(read_all(write_bytes("two.jsonl.zst", cat, za + zb), NULL, all, sizeof all, &err), 3);
    CHECK_STR(all, "one|two|three");
    /* recognised by content, not name */
    CHECK_EQ_INT(read_all(write_bytes("plainname.jsonl", cat, za + zb), NULL, all, sizeof all, &err), 3);
    /* garbage after the last frame, a cut frame */
    memcpy(cat + za + zb, "garbage!", 8);
    CHECK_EQ_INT(read_all(write_bytes("trail.jsonl.zst", cat, za + zb + 8), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "trail.jsonl.zst: data after the end of the zstd stream at compressed byte offset");
    CHECK_EQ_INT(read_all(write_bytes("cut.jsonl.zst", xa, za - 3), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "cut.jsonl.zst: truncated zstd data");

    /* gzip: concatenated members are one stream; garbage after them is not */
    memcpy(cat, ya, ga);
    memcpy(cat + ga, yb, gb);
    CHECK_EQ_INT(read_all(write_bytes("two.jsonl.gz", cat, ga + gb), NULL, all, sizeof all, &err), 3);
    CHECK_STR(all, "one|two|three");
    CHECK_EQ_INT(read_all(write_bytes("gzcontent.json", cat, ga + gb), NULL, all, sizeof all, &err), 3);
    memcpy(cat + ga + gb, "\0\0\0junk", 8);
    CHECK_EQ_INT(read_all(write_bytes("trail.jsonl.gz", cat, ga + gb + 8), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "trail.jsonl.gz: data after the end of the gzip stream at compressed byte offset");
    CHECK_EQ_INT(read_all(write_bytes("cut.jsonl.gz", ya, ga - 4), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "cut.jsonl.gz: truncated gzip data");

    /* a name that promises a compression the content lacks */
    CHECK_EQ_INT(read_all(write_bytes("fake.jsonl.gz", a, strlen(a)), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "fake.jsonl.gz: not gzip data, although the name ends in .gz");
    CHECK(strstr(err.msg, "UTF-8") == NULL);
    CHECK_EQ_INT(read_all(write_bytes("fake.jsonl.zst", ya, ga), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "fake.jsonl.zst: not zstd data, although the name ends in .zst");
    free(xa); free(xb); free(ya); free(yb);
}

static void test_refused(void)
{
    photon_err err;
    CHECK_EQ_INT(read_all(write_bytes("x.parquet", "PAR1\x15\x04\x15\x10", 8), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "x.parquet: unsupported format: a Parquet file: convert it to JSON Lines first (tools/parquet_to_jsonl.py");
    CHECK_EQ_INT(read_all(write_bytes("x.jsonl", "PAR1\x15\x04\x15\x10", 8), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "unsupported format: a Parquet file");
    CHECK_EQ_INT(read_all(write_bytes("x.txt.bz2", "BZh91AY&SY", 10), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "unsupported format: bzip2-compressed");
    CHECK_EQ_INT(read_all(write_bytes("x.txt.xz", "\xFD" "7zXZ\0\0\0", 8), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "unsupported format: xz-compressed");
    unsigned char bin[64] = { 0x42, 0, 1, 2, 3 };
    CHECK_EQ_INT(read_all(write_bytes("data.txt", bin, sizeof bin), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "data.txt: unsupported format: binary data (NUL bytes");
    size_t gn;
    void *g = gzip_of((const char *)bin, sizeof bin, &gn);
    CHECK_EQ_INT(read_all(write_bytes("data.json.gz", g, gn), NULL, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "data.json.gz: unsupported format: binary data (NUL bytes in the first 64 bytes after gzip)");
    free(g);
    /* A FIFO fails at once instead of waiting for a writer (alarm: a hang fails the test). */
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/pipe.jsonl", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(20);
    CHECK_EQ_INT(read_all(fifo, NULL, NULL, 0, &err), -1);
    alarm(0);
    CHECK_CONTAINS(err.msg, "pipe.jsonl: is a FIFO (named pipe), not a regular file");
    CHECK(file_check_regular(dir, &err) < 0);
    CHECK_CONTAINS(err.msg, "is a directory, not a regular file");
    /* token shards are recognised by their header */
    int hdr[256] = { 20240520, 1, 0 };
    CHECK_EQ_INT(file_is_token_shard(write_bytes("t.bin", hdr, sizeof hdr), &err), 1);
    CHECK_EQ_INT(file_is_token_shard(write_bytes("t2.bin", "hello world", 11), &err), 0);
}

static void test_keys(void)
{
    photon_err err;
    char all[1024];
    const char *p = th_write_file(dir, "pile.jsonl",
        "{\"meta\": {\"pile_set_name\": \"ArXiv\", \"x\": [1, {\"a\": 2}]}, \"text\": \"alpha\"}\n"
        "{\"text\": \"beta\", \"meta\": {\"pile_set_name\": \"Github\"}}\n"
        "{\"meta\": {\"pile_set_name\": \"ArXiv\", \"pile_set_name\": \"dup\"}, \"text\": \"gamma\", \"text\": \"no\"}\n");
    textsrc_opts o = { .label_key = "meta.pile_set_name" };
    CHECK_EQ_INT(read_all(p, &o, all, sizeof all, &err), 3);
    CHECK_STR(all, "alpha@ArXiv|beta@Github|gamma@ArXiv");
    /* the text itself at a dotted path */
    p = th_write_file(dir, "nested.jsonl", "{\"doc\": {\"body\": \"inner\", \"lang\": \"en\"}, \"text\": \"outer\"}\n");
    textsrc_opts o2 = { .text_key = "doc.body", .label_key = "doc.lang" };
    CHECK_EQ_INT(read_all(p, &o2, all, sizeof all, &err), 1);
    CHECK_STR(all, "inner@en");
    /* missing and mistyped */
    p = th_write_file(dir, "nolabel.jsonl", "{\"text\": \"a\", \"meta\": {\"pile_set_name\": \"X\"}}\n{\"text\": \"b\", \"meta\": {}}\n");
    CHECK_EQ_INT(read_all(p, &o, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "nolabel.jsonl:2: JSON object has no \"meta.pile_set_name\" member ([data] source_field)");
    p = th_write_file(dir, "numlabel.jsonl", "{\"text\": \"a\", \"meta\": {\"pile_set_name\": 7}}\n");
    CHECK_EQ_INT(read_all(p, &o, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "numlabel.jsonl:1: invalid JSON at column 41: member is not a string");
    p = th_write_file(dir, "notext.jsonl", "{\"body\": \"a\"}\n");
    textsrc_opts o3 = { .text_key = "content" };
    CHECK_EQ_INT(read_all(p, &o3, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "notext.jsonl:1: JSON object has no \"content\" member ([data] text_key)");
}

/* Plain text streamed in 1 MB reads: separators straddling read boundaries,
 * a newline after a separator in the next read, a separator at the end. */
static void test_stream_text(void)
{
    photon_err err;
    size_t total = 5u << 20, n = 0, mb = 1u << 20;
    char *text = xmalloc(total + 300000);
    int ndocs = 0;
    unsigned seed = 7;
    while (n < total) {
        size_t len = 1 + (seed = seed * 1103515245u + 12345u) % 200000;
        if (ndocs % 5 == 4) {   /* the separator straddles the next 1 MB read boundary */
            size_t want = (n / mb + 1) * mb - (size_t)(ndocs % 13);
            len = want > n ? want - n : 1;
        }
        for (size_t i = 0; i < len; i++) text[n + i] = (char)('a' + (i + (size_t)ndocs) % 26);
        n += len;
        memcpy(text + n, "<|endoftext|>\n", 14);
        n += ndocs % 2 ? 14 : 13;
        ndocs++;
    }
    const char *p = write_bytes("big.txt", text, n);
    textsrc *s = textsrc_open(p, &err);
    CHECK(s != NULL);
    const char *t;
    size_t len, at = 0;
    int rc, got = 0, same = 1;
    while (s && (rc = textsrc_next(s, &t, &len, &err)) == 1) {
        same &= at + len <= n && memcmp(text + at, t, len) == 0;
        at += len + ((got % 2) ? 14 : 13);
        got++;
    }
    CHECK_MSG(s && rc == 0, "%s", err.msg);
    textsrc_close(s);
    CHECK_EQ_INT(got, ndocs);
    CHECK(same);
    free(text);
}

/* A document over the limit is refused after reading about the limit, not
 * the whole line: one 24 MB line in a gzip of a few dozen KB, limit 4 MB. */
static void test_limit(void)
{
    photon_err err;
    size_t n = 24u << 20;
    char *line = xmalloc(n + 32);
    memcpy(line, "{\"text\": \"", 10);
    memset(line + 10, 'x', n);
    memcpy(line + 10 + n, "\"}\n", 3);
    size_t gn;
    void *g = gzip_of(line, n + 13, &gn);
    textsrc_opts o = { .max_doc = 4u << 20, .max_doc_key = "[data] max_doc_mb = 4" };
    CHECK_EQ_INT(read_all(write_bytes("long.jsonl.gz", g, gn), &o, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "long.jsonl.gz:1: a line is longer than 4 MB ([data] max_doc_mb; raise [data] max_doc_mb = 4 to read it)");
    memcpy(line, "aaaaaaaaaaaa", 12);
    free(g);
    g = gzip_of(line + 10, n, &gn);
    CHECK_EQ_INT(read_all(write_bytes("long.txt.gz", g, gn), &o, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "long.txt.gz:1: a document (text between <|endoftext|> separators) is longer than 4 MB");
    free(g);
    free(line);
}

int main(void)
{
    dir = th_tmpdir();
    RUN(test_compressed);
    RUN(test_refused);
    RUN(test_keys);
    RUN(test_stream_text);
    RUN(test_limit);
    return th_finish();
}
