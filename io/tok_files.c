/* Tokenizer files (see tokenizer.h): which files a directory's tokenizer
 * is read from (tokenizer.json, else vocab.json + merges.txt, else
 * encoder.json + vocab.bpe), and the loaders of GPT-2's two-file formats
 * (the vocabulary as byte strings written in GPT-2's byte alphabet, and the
 * merges by rank) into the BPE core of io/tokenizer.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/bytes_unicode.h"
#include "io/jsonr.h"
#include "io/jtree.h"
#include "io/pretokenize.h"
#include "io/tokenizer_int.h"

#define NONE TOK_NONE
#define EOT_TEXT "<|endoftext|>"
#define MAX_FILE (1u << 30)       /* tokenizer files larger than this are refused */

/* ---- GPT-2's files: encoder.json + vocab.bpe (or vocab.json + merges.txt) */

/* Converts a string in GPT-2's byte alphabet to raw bytes; -1 if a code
 * point is outside the alphabet. */
int tok_unmap_bytes(const char *s, size_t n, jbuf *out)
{
    out->len = 0;
    jbuf_put(out, "", 0);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += (size_t)utf8_decode((const unsigned char *)s, n, i, &cp);
        int b = bu_cp_to_byte(cp);
        if (b < 0) return -1;
        unsigned char c = (unsigned char)b;
        jbuf_put(out, &c, 1);
    }
    return 0;
}

static tokenizer *load_encoder(const char *path, const char *text, size_t n, photon_err *err)
{
    jsonr r;
    jbuf key = {0}, raw = {0};
    uint32_t *ids = NULL;
    char **keys = NULL;
    size_t *klen = NULL, cnt = 0, cap = 0;
    tokenizer *t = NULL;
    int eot = -1;
    jsonr_init(&r, text, n);
    if (jsonr_expect(&r, '{')) goto bad;
    if (jsonr_peek(&r) == '}') { r.err = "empty vocabulary"; goto bad; }
    for (;;) {
        long long id;
        if (jsonr_string(&r, &key) || jsonr_expect(&r, ':') || jsonr_int(&r, &id)) goto bad;
        if (id < 0 || id >= (1LL << 30)) { r.err = "token id out of range"; goto bad; }
        if (strcmp(key.data, EOT_TEXT) == 0) eot = (int)id;
        else if (tok_unmap_bytes(key.data, key.len, &raw) || raw.len == 0) {
            r.err = "token is not written in GPT-2's byte alphabet";
            goto bad;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 1024;
            ids = xrealloc(ids, cap * sizeof *ids);
            keys = xrealloc(keys, cap * sizeof *keys);
            klen = xrealloc(klen, cap * sizeof *klen);
        }
        ids[cnt] = (uint32_t)id;
        klen[cnt] = key.len;
        keys[cnt] = xmalloc(key.len + 1);
        memcpy(keys[cnt++], key.data, key.len + 1);
        int more = jsonr_next(&r, '}');
        if (more < 0) goto bad;
        if (more == 0) break;
    }
    if (jsonr_peek(&r) != -1) { r.err = "unexpected bytes after the object"; goto bad; }
    t = tok_new((int)cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (ids[i] >= cnt || (tok_flags(t, ids[i]) & TOKF_PRESENT)) {
            err_set(err, "%s: token id %u is %s (ids must be 0..%zu, each once)", path, ids[i],
                    ids[i] >= cnt ? "out of range" : "used twice", cnt - 1);
            goto fail;
        }
        if ((int)ids[i] == eot) tok_set(t, ids[i], EOT_TEXT, strlen(EOT_TEXT), TOKF_SPECIAL);
        else {
            tok_unmap_bytes(keys[i], klen[i], &raw);
            tok_set(t, ids[i], raw.data, raw.len, TOKF_VOCAB);
        }
    }
    if (tok_index(t, path, 1, err)) goto fail;
    tok_set_eot(t, eot);
    goto out;
bad:
    err_set(err, "%s: byte offset %zu: %s", path, jsonr_offset(&r), r.err ? r.err : "invalid JSON");
fail:
    tok_free(t);
    t = NULL;
out:
    for (size_t i = 0; i < cnt; i++) free(keys[i]);
    free(keys); free(ids); free(klen);
    jbuf_free(&key); jbuf_free(&raw);
    return t;
}

static int load_merges(tokenizer *t, const char *path, const char *text, size_t n, int last_wins, const char *vocab_name,
                       photon_err *err)
{
    jbuf a = {0}, b = {0}, ab = {0};
    size_t lineno = 0;
    int rc = -1;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && text[e] != '\n') e++;
        lineno++;
        size_t le = e;
        if (le > i && text[le - 1] == '\r') le--;
        const char *s = text + i;
        size_t len = le - i;
        i = e + 1;
        if (len == 0 || (lineno == 1 && len >= 8 && memcmp(s, "#version", 8) == 0)) continue;
        const char *sp = memchr(s, ' ', len);
        if (!sp || sp == s || sp == s + len - 1 || memchr(sp + 1, ' ', (size_t)(s + len - sp - 1))) {
            err_set(err, "%s:%zu: expected two tokens separated by one space", path, lineno);
            goto out;
        }
        if (tok_unmap_bytes(s, (size_t)(sp - s), &a) || tok_unmap_bytes(sp + 1, (size_t)(s + len - sp - 1), &b)) {
            err_set(err, "%s:%zu: token is not written in GPT-2's byte alphabet", path, lineno);
            goto out;
        }
        ab.len = 0;
        jbuf_put(&ab, a.data, a.len);
        jbuf_put(&ab, b.data, b.len);
        uint32_t ia = tok_find(t, a.data, a.len), ib = tok_find(t, b.data, b.len);
        uint32_t iab = tok_find(t, ab.data, ab.len);
        if (ia == NONE || ib == NONE || iab == NONE) {
            err_set(err, "%s:%zu: merge uses a token that is not in %s", path, lineno, vocab_name);
            goto out;
        }
        tok_add_merge(t, ia, ib, iab, last_wins);
    }
    rc = 0;
out:
    jbuf_free(&a); jbuf_free(&b); jbuf_free(&ab);
    return rc;
}

static char *read_file_bounded(const char *path, size_t *n, photon_err *err)
{
    /* GPT-2's files are 1 MB and 0.5 MB; the bound caps what a hostile file
     * can make the tables cost (a few times the text), and a FIFO or device
     * is refused instead of read forever. */
    return file_read_max(path, MAX_FILE, "a tokenizer file", n, err);
}

/* The files a directory's tokenizer is read from, in order of preference. */
static const char *const kinds[][3] = {
    { "tokenizer.json", NULL, "tokenizer.json" },
    { "vocab.json", "merges.txt", "vocab.json + merges.txt" },
    { "encoder.json", "vocab.bpe", "encoder.json + vocab.bpe" },
};

static int pick_kind(const char *dir, photon_err *err)
{
    char p[4200];
    for (int k = 0; k < 3; k++) {
        path_join(p, sizeof p, dir, kinds[k][0]);
        if (!file_exists(p)) continue;
        if (kinds[k][1]) {
            path_join(p, sizeof p, dir, kinds[k][1]);
            if (!file_exists(p)) {
                err_set(err, "%s: has %s but not %s", dir, kinds[k][0], kinds[k][1]);
                return -1;
            }
        }
        return k;
    }
    struct stat st;
    if (stat(dir, &st) != 0)
        err_set(err, "%s: cannot open the tokenizer directory: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        err_set(err, "%s: not a tokenizer directory (expected tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)", dir);
    else
        err_set(err, "%s: no tokenizer in this directory (expected tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)", dir);
    return -1;
}

int tok_dir_present(const char *dir)
{
    char p[4200];
    for (int k = 0; k < 3; k++) {
        path_join(p, sizeof p, dir, kinds[k][0]);
        if (file_exists(p)) return 1;
    }
    return 0;
}

int tok_dir_hash(const char *dir, uint64_t *h, photon_err *err)
{
    int k = pick_kind(dir, err);
    if (k < 0) return -1;
    uint64_t x = HASH64_INIT;
    const char *files[2] = { kinds[k][0], kinds[k][1] ? kinds[k][1] : "tokenizer_config.json" };
    for (int f = 0; f < 2; f++) {
        char p[4200];
        size_t n;
        path_join(p, sizeof p, dir, files[f]);
        if (f == 1 && !kinds[k][1] && !file_exists(p)) continue;
        char *text = read_file_bounded(p, &n, err);
        if (!text) return -1;
        x = hash64(text, n, x);
        free(text);
    }
    *h = x;
    return 0;
}

static tokenizer *load_gpt2_files(const char *dir, int k, photon_err *err)
{
    char ep[4200], mp[4200];
    path_join(ep, sizeof ep, dir, kinds[k][0]);
    path_join(mp, sizeof mp, dir, kinds[k][1]);
    size_t en, mn;
    char *etext = read_file_bounded(ep, &en, err);
    if (!etext) return NULL;
    char *mtext = read_file_bounded(mp, &mn, err);
    if (!mtext) { free(etext); return NULL; }
    tokenizer *t = load_encoder(ep, etext, en, err);
    /* OpenAI's files keep a repeated merge's first rank (tiktoken's rule);
     * Hugging Face's keep the last (a map built in file order). */
    if (t && load_merges(t, mp, mtext, mn, k == 1, kinds[k][0], err)) { tok_free(t); t = NULL; }
    if (t) {
        tok_set_hash(t, hash64(mtext, mn, hash64(etext, en, HASH64_INIT)));
        tok_set_kind(t, kinds[k][2]);
        tok_finish(t);
    }
    free(etext);
    free(mtext);
    return t;
}

/* A token by its text: an added token's content, or a vocabulary token's
 * bytes; TOK_NONE if none. */
static uint32_t lookup_text(const tokenizer *t, const char *s, size_t n)
{
    for (int i = 0; i < tok_vocab_size(t); i++) {
        size_t len;
        const char *p = tok_piece(t, (uint32_t)i, &len);
        if ((tok_flags(t, (uint32_t)i) & TOKF_ADDED) && len == n && memcmp(p, s, n) == 0) return (uint32_t)i;
    }
    return tok_find(t, s, n);
}
/* A tokenizer.json without <|endoftext|>: its tokenizer_config.json's
 * eos_token (a string, or {"content": ...}) ends documents instead. */
static int eos_from_config(const tokenizer *t, const char *dir)
{
    char p[4200];
    size_t n;
    photon_err e;
    path_join(p, sizeof p, dir, "tokenizer_config.json");
    if (!file_exists(p)) return -1;
    char *text = read_file_bounded(p, &n, &e);
    if (!text) return -1;
    int eot = -1;
    jt_doc *d = jt_parse(text, n, &e);
    if (d) {
        const jt *v = jt_get(jt_root(d), "eos_token");
        if (v && v->type == JT_OBJ) v = jt_get(v, "content");
        if (v && v->type == JT_STR) {
            uint32_t id = lookup_text(t, v->v.str, v->n);
            if (id != NONE) eot = (int)id;
        }
        jt_free(d);
    }
    free(text);
    return eot;
}

tokenizer *tok_load(const char *dir, photon_err *err)
{
    int k = pick_kind(dir, err);
    if (k < 0) return NULL;
    if (k == 0) {
        char p[4200];
        size_t n;
        path_join(p, sizeof p, dir, kinds[0][0]);
        char *text = read_file_bounded(p, &n, err);
        if (!text) return NULL;
        tokenizer *t = hf_tokenizer_parse(p, text, n, err);
        if (t) tok_set_hash(t, hash64(text, n, HASH64_INIT));
        free(text);
        if (t && tok_eot(t) < 0) tok_set_eot(t, eos_from_config(t, dir));
        return t;
    }
    tokenizer *t = load_gpt2_files(dir, k, err);
    /* Hugging Face's GPT2Tokenizer treats <|endoftext|> in the text as the
     * special token; OpenAI's encoder (and tiktoken's encode_ordinary) does not. */
    if (t && k == 1 && tok_eot(t) >= 0 && hf_tokenizer_add_special(t, (uint32_t)tok_eot(t), err)) { tok_free(t); return NULL; }
    return t;
}

