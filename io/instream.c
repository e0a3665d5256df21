/* Source files, decompressed (see instream.h).  zlib's inflate is driven
 * directly rather than through gzread, which silently ignores whatever
 * follows the last gzip member; libzstd's streaming decoder handles
 * concatenated frames itself and reports anything after them as an unknown
 * frame.  Both decoders use bounded memory: gzip's window is 32 KB, and
 * zstd frames that ask for a window over 128 MB are refused by libzstd's
 * default limit. */
#include "io/instream.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>
#include "io/shard.h"

#define INBUF (1u << 18)

struct instream {
    char *path;
    int fd, codec, eof, ended;   /* eof: file read to the end; ended: stream complete */
    unsigned char *in;
    size_t in_pos, in_len;
    uint64_t consumed, size;     /* file bytes handed to the decoder; file size */
    z_stream z;
    int z_init, z_member_done;
    ZSTD_DStream *zd;
    size_t zret;                 /* last ZSTD_decompressStream result: 0 = at a frame boundary */
    int frames;
};

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int file_check_regular(const char *path, photon_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode)) return 0;
    const char *what = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode) ? "a socket" : "not a file";
    err_set(err, "%s: is %s, not a regular file (sources are read more than once: give a file)", path, what);
    return -1;
}

static int read_head(const char *path, unsigned char *b, size_t n, size_t *got, photon_err *err)
{
    if (file_check_regular(path, err)) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    ssize_t r = pread(fd, b, n, 0);
    close(fd);
    if (r < 0) { err_set(err, "%s: read error: %s", path, strerror(errno)); return -1; }
    *got = (size_t)r;
    return 0;
}

static uint32_t le32(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

int file_is_token_shard(const char *path, photon_err *err)
{
    unsigned char h[8];
    size_t got;
    if (read_head(path, h, sizeof h, &got, err)) return -1;
    if (got < 8) return 0;
    uint32_t magic = le32(h), version = le32(h + 4);
    return (magic == SHARD_MAGIC16 && version == 1) || (magic == SHARD_MAGIC32 && version == 7);
}

/* Formats recognised only to be refused, with the way forward. */
static const struct { const char *magic; size_t n; const char *what; } refused[] = {
    { "PAR1", 4, "a Parquet file: convert it to JSON Lines first (tools/parquet_to_jsonl.py, which uses pyarrow)" },
    { "ARROW1", 6, "an Arrow IPC file: convert it to JSON Lines first (pyarrow; see tools/parquet_to_jsonl.py)" },
    { "BZh", 3, "bzip2-compressed: decompress it (bunzip2) or recompress with gzip or zstd" },
    { "\xFD" "7zXZ\0", 6, "xz-compressed: decompress it (unxz) or recompress with gzip or zstd" },
    { "\x04\x22\x4D\x18", 4, "lz4-compressed: decompress it (unlz4) or recompress with gzip or zstd" },
    { "PK\x03\x04", 4, "a zip archive: unpack it first" },
    { "\x89HDF\r\n\x1a\n", 8, "an HDF5 file (a checkpoint?), not text" },
    { "\x7F" "ELF", 4, "an executable, not text" },
};

instream *instream_open(const char *path, photon_err *err)
{
    unsigned char h[8] = { 0 };
    size_t got;
    if (read_head(path, h, sizeof h, &got, err)) return NULL;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (got >= refused[i].n && memcmp(h, refused[i].magic, refused[i].n) == 0) {
            err_set(err, "%s: unsupported format: %s", path, refused[i].what);
            return NULL;
        }
    int codec = INSTREAM_PLAIN;
    if (got >= 2 && h[0] == 0x1F && h[1] == 0x8B) codec = INSTREAM_GZIP;
    else if (got >= 4 && (le32(h) == ZSTD_MAGICNUMBER || (le32(h) & 0xFFFFFFF0u) == ZSTD_MAGIC_SKIPPABLE_START)) codec = INSTREAM_ZSTD;
    if ((has_suffix(path, ".gz") || has_suffix(path, ".gzip")) && codec != INSTREAM_GZIP && got > 0) {
        err_set(err, "%s: not gzip data, although the name ends in .gz (the file starts with bytes %02x %02x, not 1f 8b)",
                path, h[0], got > 1 ? h[1] : 0);
        return NULL;
    }
    if ((has_suffix(path, ".zst") || has_suffix(path, ".zstd")) && codec != INSTREAM_ZSTD && got > 0) {
        err_set(err, "%s: not zstd data, although the name ends in .zst (the file starts with bytes %02x %02x %02x %02x, not 28 b5 2f fd)",
                path, h[0], h[1], h[2], h[3]);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { err_set(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    fstat(fd, &st);
    instream *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->fd = fd;
    s->codec = codec;
    s->size = (uint64_t)st.st_size;
    s->in = xmalloc(INBUF);
    if (codec == INSTREAM_GZIP) {
        if (inflateInit2(&s->z, 15 + 16) != Z_OK) die(PHOTON_EXIT_FAIL, "zlib: inflateInit2 failed");
        s->z_init = 1;
    } else if (codec == INSTREAM_ZSTD) {
        s->zd = ZSTD_createDStream();
        if (!s->zd) die(PHOTON_EXIT_FAIL, "zstd: cannot create a decoder");
        ZSTD_initDStream(s->zd);
    }
    return s;
}

/* Refills the input buffer when it is empty; 0, or -1 on a read error. */
static int refill(instream *s, photon_err *err)
{
    if (s->in_pos < s->in_len || s->eof) return 0;
    ssize_t r;
    do r = read(s->fd, s->in, INBUF); while (r < 0 && errno == EINTR);
    if (r < 0) { err_set(err, "%s: read error: %s", s->path, strerror(errno)); return -1; }
    s->in_pos = 0;
    s->in_len = (size_t)r;
    s->consumed += (uint64_t)r;
    if (r == 0) s->eof = 1;
    return 0;
}

static uint64_t in_offset(const instream *s) { return s->consumed - (s->in_len - s->in_pos); }

static ssize_t read_gzip(instream *s, unsigned char *buf, size_t n, photon_err *err)
{
    s->z.next_out = buf;
    s->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
    while (s->z.avail_out > 0 && !s->ended) {
        if (refill(s, err)) return -1;
        size_t before_in = s->in_len - s->in_pos;
        if (s->z_member_done) {
            /* after a member: another member, or the end of the file */
            if (before_in == 0) { s->ended = 1; break; }
            if (s->in[s->in_pos] != 0x1F || (before_in > 1 && s->in[s->in_pos + 1] != 0x8B)) {
                err_set(err, "%s: data after the end of the gzip stream at compressed byte offset %llu "
                        "(not another gzip member; the file is damaged or not only gzip)",
                        s->path, (unsigned long long)in_offset(s));
                return -1;
            }
            inflateReset(&s->z);
            s->z_member_done = 0;
        }
        if (before_in == 0) {   /* the file ends inside a member */
            err_set(err, "%s: truncated gzip data: the file ends inside the compressed stream (compressed byte offset %llu)",
                    s->path, (unsigned long long)s->consumed);
            return -1;
        }
        s->z.next_in = s->in + s->in_pos;
        s->z.avail_in = (uInt)before_in;
        int r = inflate(&s->z, Z_NO_FLUSH);
        size_t used = before_in - s->z.avail_in;
        s->in_pos += used;
        if (r == Z_STREAM_END) { s->z_member_done = 1; continue; }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            err_set(err, "%s: corrupt or truncated gzip data near compressed byte offset %llu: %s", s->path,
                    (unsigned long long)in_offset(s), s->z.msg ? s->z.msg : "inflate failed");
            return -1;
        }
    }
    return (ssize_t)(n > (1u << 30) ? (1u << 30) : n) - (ssize_t)s->z.avail_out;
}

static ssize_t read_zstd(instream *s, unsigned char *buf, size_t n, photon_err *err)
{
    ZSTD_outBuffer out = { buf, n, 0 };
    while (out.pos < out.size && !s->ended) {
        if (refill(s, err)) return -1;
        if (s->in_pos == s->in_len) {
            if (s->zret != 0 || !s->frames) {
                err_set(err, "%s: truncated zstd data: the file ends inside a frame (compressed byte offset %llu)",
                        s->path, (unsigned long long)s->consumed);
                return -1;
            }
            s->ended = 1;
            break;
        }
        ZSTD_inBuffer in = { s->in, s->in_len, s->in_pos };
        size_t r = ZSTD_decompressStream(s->zd, &out, &in);
        s->in_pos = in.pos;
        if (ZSTD_isError(r)) {
            if (ZSTD_getErrorCode(r) == ZSTD_error_prefix_unknown && s->frames && s->zret == 0)
                err_set(err, "%s: data after the end of the zstd stream at compressed byte offset %llu "
                        "(not another zstd frame; the file is damaged or not only zstd)", s->path,
                        (unsigned long long)in_offset(s));
            else
                err_set(err, "%s: corrupt zstd data near compressed byte offset %llu: %s", s->path,
                        (unsigned long long)in_offset(s), ZSTD_getErrorName(r));
            return -1;
        }
        s->zret = r;
        if (r == 0) s->frames++;
    }
    return (ssize_t)out.pos;
}

ssize_t instream_read(instream *s, void *buf, size_t n, photon_err *err)
{
    if (n == 0 || s->ended) return 0;
    if (s->codec == INSTREAM_GZIP) return read_gzip(s, buf, n, err);
    if (s->codec == INSTREAM_ZSTD) return read_zstd(s, buf, n, err);
    size_t done = 0;
    while (done < n) {
        if (refill(s, err)) return -1;
        if (s->in_pos == s->in_len) { s->ended = 1; break; }
        size_t k = s->in_len - s->in_pos < n - done ? s->in_len - s->in_pos : n - done;
        memcpy((char *)buf + done, s->in + s->in_pos, k);
        s->in_pos += k;
        done += k;
    }
    return (ssize_t)done;
}

int instream_codec(const instream *s) { return s->codec; }
const char *instream_codec_name(const instream *s) { return s->codec == INSTREAM_GZIP ? "gzip" : s->codec == INSTREAM_ZSTD ? "zstd" : "plain"; }
uint64_t instream_consumed(const instream *s) { return in_offset(s); }
uint64_t instream_size(const instream *s) { return s->size; }

void instream_close(instream *s)
{
    if (!s) return;
    if (s->z_init) inflateEnd(&s->z);
    if (s->zd) ZSTD_freeDStream(s->zd);
    close(s->fd);
    free(s->in);
    free(s->path);
    free(s);
}
