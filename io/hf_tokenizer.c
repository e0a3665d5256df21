/* Hugging Face tokenizer.json (the `tokenizers` library's own format) read
 * into the byte-level BPE core and an encoding pipeline (io/tok_pipeline.c).
 * What is implemented is what byte-level BPE tokenizers use (GPT-2,
 * GPT-NeoX / MPT, RoBERTa-style, Llama 3, Qwen, StarCoder ...):
 *   model       BPE (vocab; merges as "a b" strings or ["a", "b"] pairs;
 *               unk_token, fuse_unk, ignore_merges; byte_fallback only
 *               where it can never apply)
 *   normalizer  null, NFC, NFD, NFKC, NFKD, Sequence of those
 *   pre_tokenizer ByteLevel, Split (Regex or String, all five behaviours,
 *               invert), Digits, Sequence of those; a ByteLevel step is
 *               required
 *   added_tokens with single_word, lstrip, rstrip, normalized, special
 * Anything else (WordPiece, Unigram, WordLevel models, Metaspace and other
 * pre-tokenizers, other normalizers, BPE dropout, subword prefixes) is an
 * error naming the part.  post_processor, decoder, truncation and padding
 * do not change the ids of a document and are not read.  Ids are assigned
 * to added tokens by Hugging Face's rule and checked against the file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/jtree.h"
#include "io/tokenizer_int.h"

#define MAX_VOCAB (1 << 24)
#define EOT_TEXT "<|endoftext|>"

typedef struct {
    const char *path;
    photon_err *err;
    const jt *vocab;
    jbuf a, b;
} ctx;

static int fail(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx *x, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(x->err, "%s: %s", x->path, msg);
    return -1;
}

/* Id of a model.vocab entry by its string, -1 if absent. */
static int64_t vocab_id(const ctx *x, const char *s, size_t n)
{
    for (size_t i = 0; i < x->vocab->n; i++) {
        const jt *e = &x->vocab->v.kids[i];
        int64_t id;
        if (e->keylen == n && memcmp(e->key, s, n) == 0 && jt_int(e, 0, MAX_VOCAB - 1, &id)) return id;
    }
    return -1;
}


/* ---- model ---------------------------------------------------------------- */

static int check_model(ctx *x, const jt *m)
{
    const char *type = jt_get_str(m, "type");
    if (!type && !jt_get(m, "merges"))
        return fail(x, "model: no \"type\" and no merges: only byte-level BPE tokenizers are supported");
    if (type && strcmp(type, "BPE") != 0)
        return fail(x, "model type %s is not supported: only byte-level BPE tokenizers are (not WordPiece, Unigram or WordLevel)", type);
    const jt *d = jt_get(m, "dropout");
    if (d && d->type != JT_NULL && !(d->type == JT_NUM && d->v.num == 0))
        return fail(x, "model.dropout: BPE dropout is not supported (it makes encoding random)");
    const char *fixes[2] = { "continuing_subword_prefix", "end_of_word_suffix" };
    for (int i = 0; i < 2; i++) {
        const jt *v = jt_get(m, fixes[i]);
        if (v && v->type != JT_NULL && !(v->type == JT_STR && v->n == 0))
            return fail(x, "model.%s is not supported (byte-level BPEs have none)", fixes[i]);
    }
    x->vocab = jt_get(m, "vocab");
    if (!x->vocab || x->vocab->type != JT_OBJ || x->vocab->n == 0)
        return fail(x, "model.vocab: expected a non-empty object of token: id");
    return 0;
}

/* One merge: "a b" or ["a", "b"], as strings into x->a, x->b. */
static int merge_parts(ctx *x, const jt *e, size_t k)
{
    if (e->type == JT_STR) {
        const char *sp = memchr(e->v.str, ' ', e->n);
        if (!sp || memchr(sp + 1, ' ', e->n - (size_t)(sp - e->v.str) - 1))
            return fail(x, "model.merges[%zu]: expected two tokens separated by one space", k);
        x->a.len = x->b.len = 0;
        jbuf_put(&x->a, e->v.str, (size_t)(sp - e->v.str));
        jbuf_put(&x->b, sp + 1, e->n - (size_t)(sp - e->v.str) - 1);
        return 0;
    }
    if (e->type == JT_ARR && e->n == 2 && e->v.kids[0].type == JT_STR && e->v.kids[1].type == JT_STR) {
        x->a.len = x->b.len = 0;
        jbuf_put(&x->a, e->v.kids[0].v.str, e->v.kids[0].n);
        jbuf_put(&x->b, e->v.kids[1].v.str, e->v.kids[1].n);
        return 0;
    }
    return fail(x, "model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", k);
}

static int load_merges(ctx *x, tokenizer *t, const jt *merges)
{
    if (!merges || merges->type == JT_NULL) return 0;
    if (merges->type != JT_ARR) return fail(x, "model.merges: expected an array");
    jbuf ra = { 0 }, rb = { 0 }, rab = { 0 };
    int rc = 0;
    for (size_t k = 0; k < merges->n && rc == 0; k++) {
        if ((rc = merge_parts(x, &merges->v.kids[k], k))) break;
        if (tok_unmap_bytes(x->a.data, x->a.len, &ra) || tok_unmap_bytes(x->b.data, x->b.len, &rb)) {
            /* a token outside the byte alphabet never occurs in a byte-level
             * word, so its merge can never apply; Hugging Face only requires
             * that it be in the vocabulary */
            if (vocab_id(x, x->a.data, x->a.len) >= 0 && vocab_id(x, x->b.data, x->b.len) >= 0) continue;
            rc = fail(x, "model.merges[%zu]: '%s %s' uses a token that is not in model.vocab", k, x->a.data, x->b.data);
            break;
        }
        rab.len = 0;
        jbuf_put(&rab, ra.data, ra.len);
        jbuf_put(&rab, rb.data, rb.len);
        uint32_t ia = tok_find(t, ra.data, ra.len), ib = tok_find(t, rb.data, rb.len), iab = tok_find(t, rab.data, rab.len);
        if (ia == TOK_NONE || ib == TOK_NONE || iab == TOK_NONE) {
            rc = fail(x, "model.merges[%zu]: '%s %s' uses a token that is not in model.vocab (%s)", k, x->a.data,
                      x->b.data, iab == TOK_NONE && ia != TOK_NONE && ib != TOK_NONE ? "their concatenation" : "one of the two");
            break;
        }
        tok_add_merge(t, ia, ib, iab, 1);   /* a map built in order: a repeated pair keeps its last rank */
    }
    jbuf_free(&ra); jbuf_free(&rb); jbuf_free(&rab);
    return rc;
}

/* ---- normalizer and pre-tokenizer ------------------------------------------ */

static int add_normalizer(ctx *x, tok_pipe *p, const jt *n, int depth)
{
    if (!n || n->type == JT_NULL) return 0;
    const char *type = jt_get_str(n, "type");
    static const char *const forms[] = { "NFC", "NFD", "NFKC", "NFKD" };
    for (int f = 0; type && f < 4; f++)
        if (strcmp(type, forms[f]) == 0) { tok_pipe_normalizer(p, f); return 0; }
    if (type && strcmp(type, "Sequence") == 0 && depth < 8) {
        const jt *list = jt_get(n, "normalizers");
        if (!list || list->type != JT_ARR) return fail(x, "normalizer Sequence: expected \"normalizers\": [...]");
        for (size_t i = 0; i < list->n; i++)
            if (add_normalizer(x, p, &list->v.kids[i], depth + 1)) return -1;
        return 0;
    }
    return fail(x, "normalizer %s is not supported (photon-sim implements NFC, NFD, NFKC, NFKD and Sequence of them)",
                type ? type : "(no type)");
}

static int add_pretokenizer(ctx *x, tok_pipe *p, const jt *n, int depth)
{
    if (!n || n->type == JT_NULL)
        return fail(x, "pre_tokenizer is null: not a byte-level BPE (only byte-level BPE tokenizers are supported)");
    const char *type = jt_get_str(n, "type");
    if (!type) return fail(x, "pre_tokenizer: no \"type\"");
    if (strcmp(type, "ByteLevel") == 0) {
        int prefix = jt_get_bool(n, "add_prefix_space", 1), regex = jt_get_bool(n, "use_regex", 1);
        if (prefix < 0 || regex < 0) return fail(x, "pre_tokenizer ByteLevel: add_prefix_space and use_regex must be true or false");
        tok_pipe_bytelevel(p, prefix, regex);
        return 0;
    }
    if (strcmp(type, "Split") == 0) {
        const jt *pat = jt_get(n, "pattern");
        const jt *re = jt_get(pat, "Regex"), *str = jt_get(pat, "String");
        const jt *use = re ? re : str;
        if (!use || use->type != JT_STR) return fail(x, "pre_tokenizer Split: expected \"pattern\": {\"Regex\": ...} or {\"String\": ...}");
        static const char *const behaviors[] = { "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous" };
        const char *b = jt_get_str(n, "behavior");
        int beh = -1;
        for (int i = 0; b && i < 5; i++) if (strcmp(b, behaviors[i]) == 0) beh = i;
        if (beh < 0) return fail(x, "pre_tokenizer Split: behavior '%s' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", b ? b : "");
        int invert = jt_get_bool(n, "invert", 0);
        if (invert < 0) return fail(x, "pre_tokenizer Split: invert must be true or false");
        photon_err e;
        if (tok_pipe_split(p, use->v.str, use->n, re != NULL, beh, invert, &e)) return fail(x, "%s", e.msg);
        return 0;
    }
    if (strcmp(type, "Digits") == 0) {
        int ind = jt_get_bool(n, "individual_digits", 0);
        if (ind < 0) return fail(x, "pre_tokenizer Digits: individual_digits must be true or false");
        tok_pipe_digits(p, ind);
        return 0;
    }
    if (strcmp(type, "Sequence") == 0 && depth < 8) {
        const jt *list = jt_get(n, "pretokenizers");
        if (!list || list->type != JT_ARR) return fail(x, "pre_tokenizer Sequence: expected \"pretokenizers\": [...]");
        for (size_t i = 0; i < list->n; i++)
            if (add_pretokenizer(x, p, &list->v.kids[i], depth + 1)) return -1;
        return 0;
    }
    if (strcmp(type, "Metaspace") == 0)
        return fail(x, "pre_tokenizer Metaspace is not supported: SentencePiece-style tokenizers are not byte-level BPE");
    return fail(x, "pre_tokenizer %s is not supported (photon-sim implements ByteLevel, Split, Digits and Sequence of them)", type);
}

/* ---- added tokens ------------------------------------------------------------ */

static int add_tokens(ctx *x, tokenizer *t, tok_pipe *p, const jt *list, int64_t vocab_count, int *eot)
{
    if (!list || list->type == JT_NULL) return 0;
    if (list->type != JT_ARR) return fail(x, "added_tokens: expected an array");
    int64_t max_added = -1;
    jbuf raw = { 0 };
    for (size_t i = 0; i < list->n; i++) {
        const jt *e = &list->v.kids[i];
        const jt *content = jt_get(e, "content");
        int64_t id;
        if (!content || content->type != JT_STR || !jt_int(jt_get(e, "id"), 0, MAX_VOCAB - 1, &id)) {
            jbuf_free(&raw);
            return fail(x, "added_tokens[%zu]: expected {\"id\": N, \"content\": \"...\", ...}", i);
        }
        const char *names[5] = { "single_word", "lstrip", "rstrip", "normalized", "special" };
        int v[5], def[5] = { 0, 0, 0, 1, 0 };
        int special = jt_get_bool(e, "special", 0);
        def[3] = !special;   /* Hugging Face's default: special tokens are not normalized */
        for (int k = 0; k < 5; k++)
            if ((v[k] = jt_get_bool(e, names[k], def[k])) < 0) {
                jbuf_free(&raw);
                return fail(x, "added_tokens[%zu].%s: expected true or false", i, names[k]);
            }
        if (content->n == 0) continue;   /* Hugging Face ignores empty ones */
        for (size_t j = 0; j < i; j++) {
            const jt *c2 = jt_get(&list->v.kids[j], "content");
            if (c2 && c2->type == JT_STR && c2->n == content->n && memcmp(c2->v.str, content->v.str, content->n) == 0) {
                jbuf_free(&raw);
                return fail(x, "added_tokens[%zu]: '%s' is already added_tokens[%zu]", i, content->v.str, j);
            }
        }
        /* Hugging Face's id: the vocabulary's, else the next after the vocabulary and the other added tokens */
        int64_t hf = vocab_id(x, content->v.str, content->n);
        if (hf < 0) hf = max_added >= vocab_count ? max_added + 1 : vocab_count;
        if (hf != id) {
            jbuf_free(&raw);
            return fail(x, "added_tokens[%zu] '%s' has id %lld, but Hugging Face gives it id %lld", i, content->v.str,
                        (long long)id, (long long)hf);
        }
        if (id > max_added) max_added = id;
        /* decoding: the content through the byte alphabet, or as it is when
         * it has characters outside it (Hugging Face's ByteLevel decoder) */
        unsigned was = tok_flags(t, (uint32_t)id);
        const char *piece = content->v.str;
        size_t plen = content->n;
        if (tok_unmap_bytes(content->v.str, content->n, &raw) == 0) { piece = raw.data; plen = raw.len; }
        if (!(was & TOKF_VOCAB)) tok_set(t, (uint32_t)id, piece, plen, 0);
        tok_add_flags(t, (uint32_t)id, TOKF_ADDED | (special ? TOKF_SPECIAL : 0));
        tok_pipe_added(p, (uint32_t)id, content->v.str, content->n,
                       (v[0] ? TOKA_SINGLE_WORD : 0) | (v[1] ? TOKA_LSTRIP : 0) | (v[2] ? TOKA_RSTRIP : 0) |
                       (v[3] ? TOKA_NORMALIZED : 0) | (special ? TOKA_SPECIAL : 0));
        if (content->n == strlen(EOT_TEXT) && memcmp(content->v.str, EOT_TEXT, content->n) == 0) *eot = (int)id;
    }
    jbuf_free(&raw);
    return 0;
}

/* ---- the document -------------------------------------------------------------- */

static int64_t max_id(const jt *vocab, const jt *added)
{
    int64_t m = -1, id;
    for (size_t i = 0; i < vocab->n; i++)
        if (jt_int(&vocab->v.kids[i], 0, MAX_VOCAB - 1, &id) && id > m) m = id;
    for (size_t i = 0; added && added->type == JT_ARR && i < added->n; i++)
        if (jt_int(jt_get(&added->v.kids[i], "id"), 0, MAX_VOCAB - 1, &id) && id > m) m = id;
    return m;
}

static tokenizer *build(ctx *x, const jt *root)
{
    if (root->type != JT_OBJ) { fail(x, "expected a JSON object"); return NULL; }
    const char *version = jt_get_str(root, "version");
    if (version && strcmp(version, "1.0") != 0) { fail(x, "version '%s' is not 1.0", version); return NULL; }
    const jt *model = jt_get(root, "model");
    if (!model || model->type != JT_OBJ) { fail(x, "no \"model\" object"); return NULL; }
    if (check_model(x, model)) return NULL;
    const jt *added = jt_get(root, "added_tokens");
    int64_t top = max_id(x->vocab, added);
    tokenizer *t = tok_new((int)(top + 1));
    tok_pipe *p = tok_pipe_new();
    tok_set_pipe(t, p);
    jbuf raw = { 0 };
    for (size_t i = 0; i < x->vocab->n; i++) {
        const jt *e = &x->vocab->v.kids[i];
        int64_t id;
        if (!jt_int(e, 0, MAX_VOCAB - 1, &id)) {
            fail(x, "model.vocab['%s']: expected an id in [0, %d)", e->key, MAX_VOCAB);
            goto bad;
        }
        if (tok_flags(t, (uint32_t)id) & TOKF_PRESENT) {
            fail(x, "model.vocab: id %lld is used twice (second time by '%s')", (long long)id, e->key);
            goto bad;
        }
        /* a token outside the byte alphabet can only be decoded (as it is) */
        if (tok_unmap_bytes(e->key, e->keylen, &raw) == 0 && raw.len) tok_set(t, (uint32_t)id, raw.data, raw.len, TOKF_VOCAB);
        else tok_set(t, (uint32_t)id, e->key, e->keylen, 0);
    }
    if (tok_index(t, x->path, 0, x->err)) goto bad;
    int fuse = jt_get_bool(model, "fuse_unk", 0), ignore = jt_get_bool(model, "ignore_merges", 0);
    int fallback = jt_get_bool(model, "byte_fallback", 0);
    if (fuse < 0 || ignore < 0 || fallback < 0) { fail(x, "model: fuse_unk, ignore_merges and byte_fallback must be true or false"); goto bad; }
    uint32_t unk = TOK_NONE;
    const char *unk_s = jt_get_str(model, "unk_token");
    if (unk_s) {
        int64_t u = vocab_id(x, unk_s, strlen(unk_s));
        if (u < 0) { fail(x, "model.unk_token '%s' is not in model.vocab", unk_s); goto bad; }
        unk = (uint32_t)u;
    }
    tok_set_bpe_options(t, unk, fuse, ignore);
    if (load_merges(x, t, jt_get(model, "merges"))) goto bad;
    if (add_normalizer(x, p, jt_get(root, "normalizer"), 0)) goto bad;
    if (add_pretokenizer(x, p, jt_get(root, "pre_tokenizer"), 0)) goto bad;
    int eot = -1;
    if (add_tokens(x, t, p, added, (int64_t)x->vocab->n, &eot)) goto bad;
    if (eot < 0) {
        uint32_t e = tok_find(t, EOT_TEXT, strlen(EOT_TEXT));
        if (e != TOK_NONE) eot = (int)e;
    }
    tok_set_eot(t, eot);
    photon_err e;
    if (tok_pipe_finish(p, &e)) { fail(x, "%s", e.msg); goto bad; }
    if (fallback && !tok_all_bytes(t)) {
        fail(x, "model.byte_fallback with a vocabulary that lacks some of the 256 bytes is not supported");
        goto bad;
    }
    tok_finish(t);
    tok_set_kind(t, "tokenizer.json");
    jbuf_free(&raw);
    return t;
bad:
    jbuf_free(&raw);
    tok_free(t);
    return NULL;
}

tokenizer *hf_tokenizer_parse(const char *path, const char *text, size_t n, photon_err *err)
{
    photon_err e;
    jt_doc *d = jt_parse(text, n, &e);
    if (!d) { err_set(err, "%s: %s", path, e.msg); return NULL; }
    ctx x = { .path = path, .err = err };
    tokenizer *t = build(&x, jt_root(d));
    jbuf_free(&x.a);
    jbuf_free(&x.b);
    jt_free(d);
    return t;
}

int hf_tokenizer_add_special(tokenizer *t, uint32_t id, photon_err *err)
{
    tok_pipe *p = tok_pipe_new();
    tok_pipe_bytelevel(p, 0, 1);
    size_t n;
    const char *piece = tok_piece(t, id, &n);
    tok_pipe_added(p, id, piece, n, TOKA_SPECIAL);
    tok_add_flags(t, id, TOKF_ADDED | TOKF_SPECIAL);
    if (tok_pipe_finish(p, err)) { tok_pipe_free(p); return -1; }
    tok_set_pipe(t, p);
    return 0;
}
