/* A small JSON document tree, for the few files that photon-sim reads whole
 * and walks in any order (Hugging Face tokenizer.json, tokenizer_config.json,
 * config.json).  Built on jsonr's exact string decoding; every node and
 * string lives in one arena freed at once.  Nesting depth and document size
 * are bounded, and every error names the byte offset. */
#ifndef PHOTON_JTREE_H
#define PHOTON_JTREE_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef enum { JT_NULL, JT_BOOL, JT_NUM, JT_STR, JT_ARR, JT_OBJ } jt_type;

typedef struct jt jt;
struct jt {
    jt_type type;
    size_t n;            /* string: bytes; array/object: elements or members */
    size_t off;          /* byte offset of the value in the document */
    const char *key;     /* member name when the node is an object member */
    size_t keylen;
    union {
        int b;
        double num;
        const char *str; /* NUL-terminated (may contain NULs; n is the length) */
        jt *kids;        /* n elements, or n members in file order */
    } v;
};

typedef struct jt_doc jt_doc;

/* Parses s[0..n) as one JSON value (white space around it allowed).  NULL
 * with err = "byte offset N: what" on a syntax error or nesting deeper
 * than 128. */
jt_doc *jt_parse(const char *s, size_t n, photon_err *err);
const jt *jt_root(const jt_doc *d);
void jt_free(jt_doc *d);

/* The first member named key of an object (NULL if obj is not an object or
 * has no such member). */
const jt *jt_get(const jt *obj, const char *key);
/* String value of member key, or NULL when absent, null or not a string. */
const char *jt_get_str(const jt *obj, const char *key);
/* 1/0 for a boolean member, def when absent or null; -1 for another type. */
int jt_get_bool(const jt *obj, const char *key, int def);
/* 1 if v is a number that is an integer in [lo, hi] (stored in *out). */
int jt_int(const jt *v, int64_t lo, int64_t hi, int64_t *out);
/* Name of a node's type for messages ("string", "object", ...). */
const char *jt_type_name(const jt *v);
#endif
