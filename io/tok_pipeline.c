/* The encoding pipeline of Hugging Face tokenizers, step for step as the
 * `tokenizers` library runs it (tokenizer/added_vocabulary.rs,
 * normalizer.rs and the pre_tokenizers/ sources):
 *   1. added tokens that are not normalized are cut out of the raw text
 *      (leftmost-longest matches, then single_word / lstrip / rstrip);
 *   2. each remaining piece is normalized (NFC, NFD, NFKC, NFKD: utf8proc),
 *      and the normalized added tokens are cut out of it the same way;
 *   3. the pre-tokenizers split each piece in turn (ByteLevel with GPT-2's
 *      regex and add_prefix_space, Split on an Oniguruma regex or a string
 *      with its five delimiter behaviours and invert, Digits);
 *   4. every resulting word goes through the byte-level BPE core.
 * GPT-2's own split (ByteLevel with use_regex, or a Split on the same
 * pattern) takes the hand-written fast path of io/pretokenize.c.  Bytes
 * that are not UTF-8 (only `encode` can pass them; Hugging Face takes
 * strings) are taken one at a time on the general path. */
#include <oniguruma.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "io/pretokenize.h"
#include "io/tokenizer_int.h"

#define MAX_STEPS 16
#define GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

enum { STEP_BYTELEVEL, STEP_SPLIT, STEP_DIGITS };

typedef struct {
    int kind;
    int prefix, regex;          /* ByteLevel */
    regex_t *re;                /* Split */
    int behavior, invert;
    int individual;             /* Digits */
} step;

typedef struct { uint32_t id; size_t off, len; unsigned opts; } added;

/* A byte trie of added-token contents: longest match at a position. */
typedef struct { uint32_t child, sibling; int32_t tok; uint8_t byte; } tnode;
typedef struct { tnode *node; size_t n, cap; uint32_t root[256]; } trie;

struct tok_pipe {
    int norm[MAX_STEPS], nnorm;
    step steps[MAX_STEPS];
    int nsteps;
    int fast, fast_prefix;      /* the whole pre-tokenizer is GPT-2's split */
    added *tok;
    size_t ntok, captok;
    jbuf content;               /* raw contents, then normalized ones */
    trie raw, norm_trie;
    int has_raw, has_norm;
};

/* ---- per-caller scratch ------------------------------------------------ */

typedef struct { const uint8_t *p; size_t n; } span;
typedef struct { span *v; size_t n, cap; } spans;
typedef struct { size_t a, b; uint32_t id; } piece;   /* id TOK_NONE: text */
typedef struct { piece *v; size_t n, cap; } pieces;
typedef struct { size_t a, b; int match; } mspan;
typedef struct ablock { struct ablock *next; size_t used, cap; uint8_t data[]; } ablock;

typedef struct {
    uint8_t *norm[2];           /* utf8proc outputs of the current piece */
    pieces outer, inner;
    spans cur, next;
    mspan *m; size_t mn, mcap;
    ablock *arena;
    OnigRegion *region;
} scratch;

static void scratch_free(void *v)
{
    scratch *s = v;
    if (!s) return;
    free(s->norm[0]); free(s->norm[1]);
    free(s->outer.v); free(s->inner.v); free(s->cur.v); free(s->next.v); free(s->m);
    while (s->arena) { ablock *b = s->arena; s->arena = b->next; free(b); }
    if (s->region) onig_region_free(s->region, 1);
    free(s);
}

static scratch *scratch_of(wcache *c)
{
    void (*fn)(void *) = scratch_free;
    void **slot = tok_cache_slot(c, &fn);
    if (!*slot) {
        scratch *s = xcalloc(1, sizeof *s);
        s->region = onig_region_new();
        *slot = s;
    }
    return *slot;
}

static uint8_t *arena_alloc(scratch *s, size_t n)
{
    ablock *b = s->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        b = xmalloc(sizeof *b + cap);
        b->next = s->arena;
        b->used = 0;
        b->cap = cap;
        s->arena = b;
    }
    uint8_t *p = b->data + b->used;
    b->used += n;
    return p;
}

static void arena_reset(scratch *s)
{
    if (!s->arena) return;
    while (s->arena->next) { ablock *b = s->arena->next; s->arena->next = b->next; free(b); }
    s->arena->used = 0;
}

static void spans_push(spans *v, const uint8_t *p, size_t n)
{
    if (v->n == v->cap) { v->cap = v->cap ? 2 * v->cap : 64; v->v = xrealloc(v->v, v->cap * sizeof *v->v); }
    v->v[v->n++] = (span){ p, n };
}

static void pieces_push(pieces *v, size_t a, size_t b, uint32_t id)
{
    if (v->n == v->cap) { v->cap = v->cap ? 2 * v->cap : 16; v->v = xrealloc(v->v, v->cap * sizeof *v->v); }
    v->v[v->n++] = (piece){ a, b, id };
}

static void m_push(scratch *s, size_t a, size_t b, int match)
{
    if (s->mn == s->mcap) { s->mcap = s->mcap ? 2 * s->mcap : 64; s->m = xrealloc(s->m, s->mcap * sizeof *s->m); }
    s->m[s->mn++] = (mspan){ a, b, match };
}

/* ---- building ---------------------------------------------------------- */

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static void onig_setup(void)
{
    OnigEncoding enc[1] = { ONIG_ENCODING_UTF8 };
    onig_initialize(enc, 1);
}

tok_pipe *tok_pipe_new(void) { return xcalloc(1, sizeof(tok_pipe)); }

void tok_pipe_normalizer(tok_pipe *p, int form)
{
    if (p->nnorm < MAX_STEPS) p->norm[p->nnorm++] = form;
}

static step *add_step(tok_pipe *p, int kind)
{
    if (p->nsteps == MAX_STEPS) return NULL;
    step *s = &p->steps[p->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    return s;
}

void tok_pipe_bytelevel(tok_pipe *p, int add_prefix_space, int use_regex)
{
    step *s = add_step(p, STEP_BYTELEVEL);
    if (s) { s->prefix = add_prefix_space; s->regex = use_regex; }
}

int tok_pipe_split(tok_pipe *p, const char *pattern, size_t n, int is_regex, int behavior, int invert, photon_err *err)
{
    pthread_once(&onig_once, onig_setup);
    jbuf pat = { 0 };
    if (is_regex) jbuf_put(&pat, pattern, n);
    else
        for (size_t i = 0; i < n; i++) {   /* a literal: escape what Oniguruma treats specially */
            unsigned char c = (unsigned char)pattern[i];
            if (c < 128 && strchr("\\^$.|?*+()[]{}#&-~", c) && c) jbuf_put(&pat, "\\", 1);
            jbuf_put(&pat, &pattern[i], 1);
        }
    jbuf_put(&pat, "", 0);
    regex_t *re = NULL;
    OnigErrorInfo einfo;
    int r = onig_new(&re, (const UChar *)pat.data, (const UChar *)pat.data + pat.len, ONIG_OPTION_NONE,
                     ONIG_ENCODING_UTF8, OnigDefaultSyntax, &einfo);
    if (r != ONIG_NORMAL) {
        UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, r, &einfo);
        err_set(err, "pre_tokenizer Split: the pattern does not compile: %s", (const char *)msg);
        jbuf_free(&pat);
        return -1;
    }
    step *s = add_step(p, STEP_SPLIT);
    if (!s) {
        onig_free(re);
        jbuf_free(&pat);
        err_set(err, "pre_tokenizer: more than %d steps", MAX_STEPS);
        return -1;
    }
    s->re = re;
    s->behavior = behavior;
    s->invert = invert;
    /* GPT-2's pattern, isolated, is the hand-written split */
    s->regex = is_regex && behavior == TOKS_ISOLATED && !invert && strcmp(pat.data, GPT2_PATTERN) == 0;
    jbuf_free(&pat);
    return 0;
}

void tok_pipe_digits(tok_pipe *p, int individual)
{
    step *s = add_step(p, STEP_DIGITS);
    if (s) s->individual = individual;
}

void tok_pipe_added(tok_pipe *p, uint32_t id, const char *content, size_t n, unsigned opts)
{
    if (p->ntok == p->captok) { p->captok = p->captok ? 2 * p->captok : 16; p->tok = xrealloc(p->tok, p->captok * sizeof *p->tok); }
    p->tok[p->ntok++] = (added){ id, p->content.len, n, opts };
    jbuf_put(&p->content, content, n);
}

static void trie_add(trie *t, const uint8_t *s, size_t n, int32_t tok)
{
    if (t->cap == 0) { t->cap = 64; t->node = xmalloc(t->cap * sizeof *t->node); t->n = 1; t->node[0] = (tnode){ 0, 0, -1, 0 }; }
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = at == 0 ? t->root[s[i]] : t->node[at].child;
        if (at != 0) while (c && t->node[c].byte != s[i]) c = t->node[c].sibling;
        if (!c) {
            if (t->n == t->cap) { t->cap *= 2; t->node = xrealloc(t->node, t->cap * sizeof *t->node); }
            c = (uint32_t)t->n++;
            t->node[c] = (tnode){ 0, 0, -1, s[i] };
            if (at == 0) t->root[s[i]] = c;
            else { t->node[c].sibling = t->node[at].child; t->node[at].child = c; }
        }
        at = c;
    }
    if (t->node[at].tok < 0) t->node[at].tok = tok;   /* the first of equal contents wins */
}

static size_t normalize(const tok_pipe *p, scratch *s, const uint8_t *in, size_t n, const uint8_t **out);

int tok_pipe_finish(tok_pipe *p, photon_err *err)
{
    int bytelevel = 0;
    for (int i = 0; i < p->nsteps; i++) bytelevel |= p->steps[i].kind == STEP_BYTELEVEL;
    if (!bytelevel) {
        err_set(err, "pre_tokenizer: no ByteLevel step, so this is not a byte-level BPE (only byte-level BPE tokenizers are supported)");
        return -1;
    }
    /* fast path: [ByteLevel(use_regex)] or [Split(GPT-2's pattern), ByteLevel(no regex, no prefix)] */
    const step *a = &p->steps[0], *b = &p->steps[1];
    if (p->nsteps == 1 && a->kind == STEP_BYTELEVEL && a->regex) { p->fast = 1; p->fast_prefix = a->prefix; }
    if (p->nsteps == 2 && a->kind == STEP_SPLIT && a->regex && b->kind == STEP_BYTELEVEL && !b->regex && !b->prefix) p->fast = 1;
    /* Hugging Face lists special tokens before the others; both in their
     * order, each content once. */
    scratch *s = xcalloc(1, sizeof *s);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < p->ntok; i++) {
            added *t = &p->tok[i];
            int special = (t->opts & TOKA_SPECIAL) != 0;
            if (special != !pass || t->len == 0) continue;
            const uint8_t *c = (const uint8_t *)p->content.data + t->off;
            if (!(t->opts & TOKA_NORMALIZED)) { trie_add(&p->raw, c, t->len, (int32_t)i); p->has_raw = 1; continue; }
            const uint8_t *nc;
            size_t nn = normalize(p, s, c, t->len, &nc);
            if (nn) { trie_add(&p->norm_trie, nc, nn, (int32_t)i); p->has_norm = 1; }
        }
    scratch_free(s);
    return 0;
}

void tok_pipe_free(tok_pipe *p)
{
    for (int i = 0; i < p->nsteps; i++) if (p->steps[i].re) onig_free(p->steps[i].re);
    free(p->tok);
    jbuf_free(&p->content);
    free(p->raw.node);
    free(p->norm_trie.node);
    free(p);
}

/* ---- added tokens -------------------------------------------------------- */

/* The character that ends at s[i] (0xFFFFFFFF if the bytes before i are
 * not one whole UTF-8 character), and its length in *len. */
static uint32_t cp_before(const uint8_t *s, size_t i, size_t *len)
{
    *len = 1;
    if (i == 0) return 0xFFFFFFFFu;
    size_t j = i - 1;
    while (j > 0 && i - j < 4 && (s[j] & 0xC0) == 0x80) j--;
    uint32_t cp;
    int l = utf8_decode(s, i, j, &cp);
    if (cp == 0xFFFFFFFFu || j + (size_t)l != i) return 0xFFFFFFFFu;
    *len = (size_t)l;
    return cp;
}

static uint32_t cp_at(const uint8_t *s, size_t n, size_t i, int *len)
{
    uint32_t cp;
    *len = utf8_decode(s, n, i, &cp);
    return cp;
}

/* Hugging Face's find_matches: pieces covering s[0..n), added tokens with ids. */
static void find_added(const tok_pipe *p, const trie *tr, const uint8_t *s, size_t n, pieces *out)
{
    out->n = 0;
    size_t start_offset = 0, i = 0;
    while (i < n) {
        uint32_t at = tr->root[s[i]];
        if (!at) { i++; continue; }
        int32_t best = -1;
        size_t best_end = 0, j = i + 1;
        for (;;) {
            if (tr->node[at].tok >= 0) { best = tr->node[at].tok; best_end = j; }
            if (j == n) break;
            uint32_t c = tr->node[at].child;
            while (c && tr->node[c].byte != s[j]) c = tr->node[c].sibling;
            if (!c) break;
            at = c;
            j++;
        }
        if (best < 0) { i++; continue; }
        const added *t = &p->tok[best];
        size_t start = i, stop = best_end;
        i = best_end;   /* the search goes on after the match, whatever is made of it */
        if (t->opts & TOKA_SINGLE_WORD) {
            int l;
            size_t bl;
            int start_space = start == 0 || !uword(cp_before(s, start, &bl));
            int stop_space = stop == n || !uword(cp_at(s, n, stop, &l));
            if (!start_space || !stop_space) continue;
        }
        if (t->opts & TOKA_LSTRIP) {
            size_t ns = start;
            size_t bl;
            while (ns > 0 && uspace(cp_before(s, ns, &bl))) ns -= bl;
            start = ns > start_offset ? ns : start_offset;
        }
        if (t->opts & TOKA_RSTRIP) {
            int l;
            while (stop < n && uspace(cp_at(s, n, stop, &l))) stop += (size_t)l;
        }
        if (start_offset < start) pieces_push(out, start_offset, start, TOK_NONE);
        pieces_push(out, start, stop, t->id);
        start_offset = stop;
    }
    if (start_offset != n) pieces_push(out, start_offset, n, TOK_NONE);
}

/* ---- normalizers --------------------------------------------------------- */

/* Applies the normalizers to in[0..n); *out points at the result (in itself
 * when nothing changes).  Runs of invalid UTF-8 are left as they are. */
static size_t normalize(const tok_pipe *p, scratch *s, const uint8_t *in, size_t n, const uint8_t **out)
{
    *out = in;
    int cur = -1;   /* which of s->norm holds *out (-1: in itself) */
    for (int k = 0; k < p->nnorm; k++) {
        int form = p->norm[k];
        /* quick checks: ASCII is invariant under every form, and text below
         * U+0300 (no lead byte >= 0xCC) under NFC */
        uint8_t hi = 0;
        for (size_t i = 0; i < n; i++) hi |= (*out)[i] >= 0xCC ? 0x80 : ((*out)[i] & 0x80) >> 1;
        if (!hi || (form == TOKN_NFC && !(hi & 0x80))) continue;
        utf8proc_option_t o = UTF8PROC_STABLE | (form == TOKN_NFC || form == TOKN_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
                              (form == TOKN_NFKC || form == TOKN_NFKD ? UTF8PROC_COMPAT : 0);
        jbuf acc = { 0 };
        const uint8_t *src = *out;
        for (size_t i = 0; i < n;) {
            size_t bad = i + utf8_first_invalid(src + i, n - i);
            if (bad > i) {
                utf8proc_uint8_t *dst = NULL;
                utf8proc_ssize_t m = utf8proc_map(src + i, (utf8proc_ssize_t)(bad - i), &dst, o);
                if (m >= 0) jbuf_put(&acc, dst, (size_t)m);
                else jbuf_put(&acc, src + i, bad - i);   /* cannot happen on valid UTF-8 */
                free(dst);
            }
            if (bad < n) jbuf_put(&acc, src + bad, 1);
            i = bad + (bad < n);
        }
        jbuf_put(&acc, "", 0);
        int slot = cur == 0 ? 1 : 0;
        free(s->norm[slot]);
        s->norm[slot] = (uint8_t *)acc.data;
        cur = slot;
        *out = s->norm[slot];
        n = acc.len;
    }
    return n;
}

/* ---- pre-tokenizers ------------------------------------------------------ */

/* Hugging Face's SplitDelimiterBehavior applied to the matches in s->m of
 * span sp, appending the non-empty results to out. */
static void apply_behavior(scratch *s, const span *sp, int behavior, spans *out)
{
    mspan *m = s->m;
    size_t nm = s->mn, k = 0;
    mspan *acc = m;   /* results overwrite the matches in place (k <= i) */
    if (behavior == TOKS_MERGED_NEXT) {
        int prev = 0;
        /* folded from the right: results are built at the end, backwards */
        size_t w = nm;
        for (size_t i = nm; i-- > 0;) {
            mspan x = m[i];
            if (x.match && !prev && w < nm) m[w].a = x.a;
            else m[--w] = (mspan){ x.a, x.b, 0 };
            prev = x.match;
        }
        acc = m + w;
        k = nm - w;
    } else {
        int prev = 0;
        for (size_t i = 0; i < nm; i++) {
            mspan x = m[i];
            int extend = 0;
            if (behavior == TOKS_CONTIGUOUS) extend = x.match == prev && k > 0;
            else if (behavior == TOKS_MERGED_PREV) extend = x.match && !prev && k > 0;
            prev = x.match;
            if (behavior == TOKS_REMOVED && x.match) continue;
            if (extend) acc[k - 1].b = x.b;
            else acc[k++] = (mspan){ x.a, x.b, 0 };
        }
    }
    for (size_t i = 0; i < k; i++)
        if (acc[i].b > acc[i].a) spans_push(out, sp->p + acc[i].a, acc[i].b - acc[i].a);
}

/* rust-onig's find_iter over the whole span, as matches and gaps in s->m. */
static void regex_matches(scratch *s, const step *st, const span *sp)
{
    s->mn = 0;
    const UChar *str = sp->p, *end = sp->p + sp->n;
    if (sp->n == 0) { m_push(s, 0, 0, 0); return; }
    size_t last_end = 0, prev = 0;
    int skip_next_empty = 0;
    while (last_end <= sp->n) {
        onig_region_clear(s->region);
        int r = onig_search(st->re, str, end, str + last_end, end, s->region, ONIG_OPTION_NONE);
        if (r < 0) break;   /* ONIG_MISMATCH (or a search error: no more matches) */
        size_t a = (size_t)s->region->beg[0], b = (size_t)s->region->end[0];
        last_end = b;
        if (a == b) {
            int l = 1;
            if (last_end < sp->n) cp_at(sp->p, sp->n, last_end, &l);
            last_end += (size_t)l;
            if (skip_next_empty) { skip_next_empty = 0; continue; }
        } else {
            skip_next_empty = 1;
        }
        if (prev != a) m_push(s, prev, a, 0);
        m_push(s, a, b, 1);
        prev = b;
    }
    if (prev != sp->n) m_push(s, prev, sp->n, 0);
}

/* Digits: each numeric character (Rust's char::is_numeric: \p{N}) a match. */
static void digit_matches(scratch *s, const span *sp)
{
    s->mn = 0;
    if (sp->n == 0) { m_push(s, 0, 0, 0); return; }
    size_t last = 0, i = 0;
    while (i < sp->n) {
        int l;
        uint32_t cp = cp_at(sp->p, sp->n, i, &l);
        if (uclass(cp) == UCLASS_NUMBER) {
            if (last < i) m_push(s, last, i, 0);
            m_push(s, i, i + (size_t)l, 1);
            last = i + (size_t)l;
        }
        i += (size_t)l;
    }
    if (i > last) m_push(s, last, i, 0);
}

static void run_steps(const tokenizer *t, const tok_pipe *p, wcache *c, scratch *s, const uint8_t *text, size_t n, tok_out *o)
{
    s->cur.n = 0;
    spans_push(&s->cur, text, n);
    for (int k = 0; k < p->nsteps; k++) {
        const step *st = &p->steps[k];
        s->next.n = 0;
        for (size_t i = 0; i < s->cur.n; i++) {
            span sp = s->cur.v[i];
            if (st->kind == STEP_BYTELEVEL) {
                if (st->prefix && sp.p[0] != ' ') {
                    uint8_t *q = arena_alloc(s, sp.n + 1);
                    q[0] = ' ';
                    memcpy(q + 1, sp.p, sp.n);
                    sp = (span){ q, sp.n + 1 };
                }
                if (!st->regex) { spans_push(&s->next, sp.p, sp.n); continue; }
                for (size_t a = 0; a < sp.n;) {
                    size_t b = pretok_next(sp.p, sp.n, a);
                    spans_push(&s->next, sp.p + a, b - a);
                    a = b;
                }
                continue;
            }
            if (st->kind == STEP_SPLIT && st->regex) {   /* GPT-2's pattern: the same split by hand */
                for (size_t a = 0; a < sp.n;) {
                    size_t b = pretok_next(sp.p, sp.n, a);
                    spans_push(&s->next, sp.p + a, b - a);
                    a = b;
                }
                continue;
            }
            if (st->kind == STEP_SPLIT) regex_matches(s, st, &sp);
            else digit_matches(s, &sp);
            if (st->kind == STEP_SPLIT && st->invert)
                for (size_t j = 0; j < s->mn; j++) s->m[j].match = !s->m[j].match;
            int behavior = st->kind == STEP_SPLIT ? st->behavior : st->individual ? TOKS_ISOLATED : TOKS_CONTIGUOUS;
            apply_behavior(s, &sp, behavior, &s->next);
        }
        spans tmp = s->cur;
        s->cur = s->next;
        s->next = tmp;
    }
    for (size_t i = 0; i < s->cur.n; i++) tok_word(t, c, s->cur.v[i].p, s->cur.v[i].n, o);
}

/* Pre-tokenizes and encodes one piece of normalized text. */
static void encode_text(const tokenizer *t, const tok_pipe *p, wcache *c, scratch *s, const uint8_t *text, size_t n, tok_out *o)
{
    if (n == 0) return;
    if (p->fast) {
        if (p->fast_prefix && text[0] != ' ') {
            uint8_t *q = arena_alloc(s, n + 1);
            q[0] = ' ';
            memcpy(q + 1, text, n);
            text = q;
            n++;
        }
        tok_gpt2_span(t, c, text, n, o);
        return;
    }
    /* Oniguruma needs UTF-8: runs of it go through the steps, other bytes alone */
    for (size_t i = 0; i < n;) {
        size_t bad = i + utf8_first_invalid(text + i, n - i);
        if (bad > i) run_steps(t, p, c, s, text + i, bad - i, o);
        if (bad < n) tok_word(t, c, text + bad, 1, o);
        i = bad + 1;
    }
}

void tok_pipe_encode(const tokenizer *t, const tok_pipe *p, wcache *c, const uint8_t *text, size_t n, tok_out *o)
{
    scratch *s = scratch_of(c);
    arena_reset(s);
    if (p->has_raw) find_added(p, &p->raw, text, n, &s->outer);
    else { s->outer.n = 0; pieces_push(&s->outer, 0, n, TOK_NONE); }
    for (size_t i = 0; i < s->outer.n; i++) {
        piece pc = s->outer.v[i];
        if (pc.id != TOK_NONE) { tok_push(o, &pc.id, 1); continue; }
        const uint8_t *nt;
        size_t nn = normalize(p, s, text + pc.a, pc.b - pc.a, &nt);
        if (!p->has_norm) { encode_text(t, p, c, s, nt, nn, o); continue; }
        find_added(p, &p->norm_trie, nt, nn, &s->inner);
        for (size_t j = 0; j < s->inner.n; j++) {
            piece q = s->inner.v[j];
            if (q.id != TOK_NONE) tok_push(o, &q.id, 1);
            else encode_text(t, p, c, s, nt + q.a, q.b - q.a, o);
        }
    }
}
