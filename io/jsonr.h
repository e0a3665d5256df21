/* A small JSON reader for the data pipeline: JSON Lines documents, the
 * GPT-2 encoder.json and our own manifest.  It decodes strings exactly
 * (all escapes, \u surrogate pairs) and skips other values; it builds no
 * tree, because every caller wants one or two fields out of each object. */
#ifndef PHOTON_JSONR_H
#define PHOTON_JSONR_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *start, *p, *end;
    const char *err;      /* static message when a call failed */
} jsonr;

/* A growable byte buffer that string decoding appends to. */
typedef struct { char *data; size_t len, cap; } jbuf;
void jbuf_free(jbuf *b);

void jsonr_init(jsonr *r, const char *s, size_t n);
/* Skips white space; returns the next byte or -1 at the end. */
int jsonr_peek(jsonr *r);
/* Consumes byte c (after white space) or fails. */
int jsonr_expect(jsonr *r, char c);
/* Decodes a string into out (replacing its contents, NUL-terminated). 0 or -1. */
int jsonr_string(jsonr *r, jbuf *out);
/* Parses an integer. 0 or -1. */
int jsonr_int(jsonr *r, long long *v);
/* After a member or element: consumes ',' (1: another follows) or close,
 * '}' or ']' (0: the object or array ends); else -1 with "expected ',' or '}'". */
int jsonr_next(jsonr *r, char close);
/* Skips any value. 0 or -1. */
int jsonr_skip(jsonr *r);
/* Byte offset of the read position (where an error happened). */
size_t jsonr_offset(const jsonr *r);

/* Parses one whole JSON object from s and decodes the string value of the
 * top-level member `key` into out.  Returns 1 found, 0 when the object has
 * no such member, -1 on a syntax error, a non-string value, or trailing
 * bytes (*err and *err_off describe it). */
int jsonr_object_string(const char *s, size_t n, const char *key, jbuf *out,
                        const char **err, size_t *err_off);

/* Like jsonr_object_string for up to 4 dotted paths at once ("text",
 * "meta.pile_set_name"): a path's segments name members of nested objects.
 * outs[i] gets path i's string value and found[i] says whether it was
 * there (the first occurrence of a member counts).  Returns 0, or -1 on a
 * syntax error, a path that ends at a value that is not a string, or
 * trailing bytes (*err and *err_off describe it). */
int jsonr_object_paths(const char *s, size_t n, const char *const *paths, int npaths, jbuf *outs, int *found,
                       const char **err, size_t *err_off);

/* Appends the UTF-8 encoding of code point cp. */
void jbuf_put_utf8(jbuf *b, uint32_t cp);
void jbuf_put(jbuf *b, const void *p, size_t n);
#endif
