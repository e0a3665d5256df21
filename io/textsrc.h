/* Raw text sources (DESIGN §5): JSON Lines with a "text" field, plain or
 * gzip (the C4 c4-*.json.gz layout), or plain text (optionally gzip) with
 * documents separated by <|endoftext|>.  Documents come out one at a time
 * as UTF-8; every bad input is an error naming file:line. */
#ifndef PHOTON_TEXTSRC_H
#define PHOTON_TEXTSRC_H
#include <stddef.h>
#include "io/common.h"

typedef struct textsrc textsrc;

/* JSON Lines when the name ends in .json or .jsonl (optionally + .gz), plain text otherwise. */
textsrc *textsrc_open(const char *path, photon_err *err);
/* Next non-empty document: 1 with text and n set (valid until the next call),
 * 0 at the end, -1 on error (err = "file:line: what"). */
int textsrc_next(textsrc *s, const char **text, size_t *n, photon_err *err);
/* Uncompressed bytes consumed so far (for progress lines). */
size_t textsrc_bytes(const textsrc *s);
void textsrc_close(textsrc *s);
#endif
