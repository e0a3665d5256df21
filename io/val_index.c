/* Reading the validation sources' token ranges from manifest.json (see
 * val_index.h).  The manifest is input like any other file: every count is
 * checked before it is believed, and a manifest that does not describe
 * this val.bin is an error that says what to do. */
#include "io/val_index.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/jsonr.h"

#define MANIFEST_MAX_BYTES ((size_t)1 << 30)
#define VAL_MAX_TOKENS ((long long)1 << 50)   /* keeps sums of 16 far from overflow */

void val_index_single(val_index *out, const char *name, int64_t shard_tokens)
{
    memset(out, 0, sizeof *out);
    out->n = 1;
    snprintf(out->src[0].name, sizeof out->src[0].name, "%s", name);
    out->src[0].first = 0;
    out->src[0].tokens = shard_tokens;
}

static int is_key(const jbuf *k, const char *s) { return k->len == strlen(s) && memcmp(k->data, s, k->len) == 0; }

/* One element of "validation": {"name": ..., "tokens": N, "first_token": N, ...}. */
static int read_source(jsonr *r, val_source *s, int *has_first)
{
    jbuf key = { 0 }, val = { 0 };
    long long v;
    int have_name = 0, have_tokens = 0, rc = -1;
    *has_first = 0;
    s->first = -1;
    if (jsonr_expect(r, '{')) goto out;
    if (jsonr_peek(r) == '}') { r->p++; goto check; }
    for (;;) {
        if (jsonr_peek(r) != '"' || jsonr_string(r, &key) || jsonr_expect(r, ':')) goto out;
        if (is_key(&key, "name")) {
            if (jsonr_peek(r) != '"') { r->err = "\"name\" is not a string"; goto out; }
            if (jsonr_string(r, &val)) goto out;
            if (val.len == 0 || val.len >= sizeof s->name || memchr(val.data, 0, val.len)) {
                r->err = "\"name\" is empty, too long or holds a NUL";
                goto out;
            }
            memcpy(s->name, val.data, val.len + 1);
            have_name = 1;
        } else if (is_key(&key, "tokens") || is_key(&key, "first_token")) {
            if (jsonr_int(r, &v)) goto out;
            if (v < 0 || v > VAL_MAX_TOKENS) { r->err = "token count out of range"; goto out; }
            if (is_key(&key, "tokens")) { s->tokens = v; have_tokens = 1; }
            else { s->first = v; *has_first = 1; }
        } else if (jsonr_skip(r)) goto out;
        int more = jsonr_next(r, '}');
        if (more < 0) goto out;
        if (more == 0) break;
    }
check:
    if (!have_name || !have_tokens) { r->err = "a validation source without \"name\" or \"tokens\""; goto out; }
    rc = 0;
out:
    jbuf_free(&key);
    jbuf_free(&val);
    return rc;
}

static int read_validation(jsonr *r, val_index *out)
{
    if (jsonr_expect(r, '[')) return -1;
    if (jsonr_peek(r) == ']') { r->p++; return 0; }
    for (;;) {
        if (out->n >= VAL_MAX_SOURCES) { r->err = "more validation sources than [data] validation can hold"; return -1; }
        val_source *s = &out->src[out->n];
        int has_first;
        if (read_source(r, s, &has_first)) return -1;
        /* Old manifests: val.bin is the sources' tokens in this order. */
        int64_t expect = out->n ? out->src[out->n - 1].first + out->src[out->n - 1].tokens : 0;
        if (!has_first) s->first = expect;
        else if (s->first != expect) { r->err = "validation sources are not contiguous in val.bin"; return -1; }
        out->n++;
        int more = jsonr_next(r, ']');
        if (more < 0) return -1;
        if (more == 0) return 0;
    }
}

int val_index_load(const char *manifest_path, int64_t shard_tokens, val_index *out, photon_err *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(manifest_path, &st) != 0) {
        err_set(err, "%s: not found: the prepared data has no manifest; run `photon-sim prepare` again", manifest_path);
        return -1;
    }
    if ((size_t)st.st_size > MANIFEST_MAX_BYTES) {
        err_set(err, "%s: %lld bytes is too large for a manifest", manifest_path, (long long)st.st_size);
        return -1;
    }
    size_t n;
    char *text = file_read_all(manifest_path, &n, err);
    if (!text) return -1;
    jsonr r;
    jsonr_init(&r, text, n);
    jbuf key = { 0 };
    int found = 0, rc = -1;
    if (jsonr_expect(&r, '{')) { r.err = "expected a JSON object"; goto bad; }
    int more = jsonr_peek(&r) != '}';
    while (more && !found) {
        if (jsonr_peek(&r) != '"' || jsonr_string(&r, &key) || jsonr_expect(&r, ':')) goto bad;
        if (is_key(&key, "validation")) {
            if (read_validation(&r, out)) goto bad;
            found = 1;   /* the rest of the manifest is not needed */
        } else {
            if (jsonr_skip(&r)) goto bad;
            if ((more = jsonr_next(&r, '}')) < 0) goto bad;
        }
    }
    if (!found) {
        err_set(err, "%s: no \"validation\" list: run `photon-sim prepare` again", manifest_path);
        goto out;
    }
    int64_t sum = 0;
    for (int i = 0; i < out->n; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(out->src[i].name, out->src[j].name) == 0) {
                err_set(err, "%s: two validation sources are named '%s'", manifest_path, out->src[i].name);
                goto out;
            }
        if (out->src[i].tokens > shard_tokens - sum) break;
        sum += out->src[i].tokens;
    }
    if (out->n == 0 || sum != shard_tokens) {
        err_set(err, "%s describes %d validation source(s) of %lld tokens, but val.bin holds %lld: "
                "the prepared data is inconsistent; run `photon-sim prepare` again",
                manifest_path, out->n, (long long)sum, (long long)shard_tokens);
        goto out;
    }
    rc = 0;
    goto out;
bad:
    err_set(err, "%s: byte %zu: %s", manifest_path, jsonr_offset(&r), r.err ? r.err : "malformed JSON");
out:
    jbuf_free(&key);
    free(text);
    return rc;
}

void val_too_many(char *out, size_t n, const char *name)
{
    snprintf(out, n, "[data] validation: more than %d sources (the %dth is '%s'; per-source perplexities are kept for at "
             "most %d): gather files under one name with name=pattern", VAL_MAX_SOURCES, VAL_MAX_SOURCES + 1, name,
             VAL_MAX_SOURCES);
}
