/* Raw text sources (DESIGN §5): JSON Lines whose documents are a string
 * member ("text" by default, or any dotted path such as meta.text), or plain
 * text with documents separated by <|endoftext|>; either one plain, gzip or
 * zstd (io/instream.c recognises which from the content).  JSON Lines are
 * told by the name (.json, .jsonl, before any .gz / .zst).  Documents come
 * out one at a time as UTF-8, read in bounded memory: a document (or JSON
 * line) longer than the limit is an error, never a huge allocation.  Every
 * bad input is an error naming file:line. */
#ifndef PHOTON_TEXTSRC_H
#define PHOTON_TEXTSRC_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef struct textsrc textsrc;

typedef struct {
    const char *text_key;    /* JSON member holding the text; NULL = "text" */
    const char *label_key;   /* JSON member naming each document's source; NULL = none */
    size_t max_doc;          /* longest document / JSON line in bytes; 0 = 64 MB */
    const char *max_doc_key; /* the setting that raises it, for messages; NULL = "[data] max_doc_mb" */
} textsrc_opts;

/* 1 if path's name says JSON Lines (.json / .jsonl, optionally + .gz / .zst). */
int textsrc_is_jsonl(const char *path);
textsrc *textsrc_open(const char *path, photon_err *err);
textsrc *textsrc_open_opts(const char *path, const textsrc_opts *o, photon_err *err);
/* Next non-empty document: 1 with text and n set (valid until the next call),
 * 0 at the end, -1 on error (err = "file:line: what"). */
int textsrc_next(textsrc *s, const char **text, size_t *n, photon_err *err);
/* The label (label_key's value) of the document just returned; NULL for a
 * plain-text source or without label_key. */
const char *textsrc_label(const textsrc *s, size_t *n);
/* Uncompressed bytes consumed so far, and bytes of the file consumed so far
 * (progress lines, ETA). */
size_t textsrc_bytes(const textsrc *s);
uint64_t textsrc_file_bytes(const textsrc *s);
void textsrc_close(textsrc *s);
#endif
