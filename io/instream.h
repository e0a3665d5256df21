/* The bytes of a source file whatever its compression.  The format is
 * recognised from the file's first bytes, not its name: gzip (any number of
 * concatenated members, as gzip and the C4 shards make them) and zstd (any
 * number of frames) are decompressed, anything else is read as it is.
 * Other binary formats (Parquet, Arrow, bzip2, xz, lz4, zip, HDF5) are
 * refused at open with one line naming the format and what to do; a name
 * that promises a compression the content does not have is an error too.
 * Nothing is ever skipped silently: data after the end of the compressed
 * stream, a truncated stream or a corrupt one stops reading with the
 * compressed byte offset.  Only regular files are opened (a FIFO or a device
 * would block or never end). */
#ifndef PHOTON_INSTREAM_H
#define PHOTON_INSTREAM_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "io/common.h"

enum { INSTREAM_PLAIN, INSTREAM_GZIP, INSTREAM_ZSTD };

typedef struct instream instream;

/* -1 with err ("PATH: not a regular file (a FIFO)") unless path is a regular file. */
int file_check_regular(const char *path, photon_err *err);
/* 1 if the file starts with an llm.c token-shard header (DESIGN §5), 0 if
 * not, -1 with err when it cannot be read. */
int file_is_token_shard(const char *path, photon_err *err);

instream *instream_open(const char *path, photon_err *err);
/* Up to n decompressed bytes into buf: the count, 0 at the end, -1 with err. */
ssize_t instream_read(instream *s, void *buf, size_t n, photon_err *err);
int instream_codec(const instream *s);
const char *instream_codec_name(const instream *s);
/* Bytes of the file consumed so far, and its size (progress and ETA). */
uint64_t instream_consumed(const instream *s);
uint64_t instream_size(const instream *s);
void instream_close(instream *s);
#endif
