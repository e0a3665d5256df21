/* GPT-2 byte-level BPE tokenizer (see tokenizer.h).
 * Loading: encoder.json maps byte strings (written through GPT-2's
 * byte->unicode alphabet) to ids; vocab.bpe lists merges by rank.
 * Encoding: pretokenize.c splits the text into words; each word is looked up
 * whole in the vocabulary, then in a per-caller word cache (2-way set
 * associative with LRU, fixed-size slots, so frequent words stay and nothing
 * is ever flushed), and only then merged pair by pair.  Merging uses a pair->(rank, id) open-addressing table;
 * short words merge in place in small arrays, long ones (digit runs, rows of
 * '=') with a linked list and a heap so that they stay O(n log n). */
/* The tokenizer's byte-level BPE core (see tokenizer.h and
 * tokenizer_int.h): vocabulary and merge tables the loaders fill
 * (io/tok_files.c for GPT-2's two-file formats and the choice of loader,
 * io/hf_tokenizer.c for tokenizer.json), merging, encoding and decoding;
 * the Hugging Face encoding pipeline is io/tok_pipeline.c.
 * Encoding: a pre-tokenizer splits the text into words; each word is looked
 * up whole in the vocabulary (only for tokens that merge back to themselves,
 * so the shortcut is exact), then in a per-caller word cache (2-way set
 * associative with LRU, fixed-size slots, so frequent words stay and nothing
 * is ever flushed), and only then merged pair by pair.  Merging uses a
 * pair->(rank, id) open-addressing table; short words merge in place in
 * small arrays, long ones (digit runs, rows of '=') with a linked list and a
 * heap so that they stay O(n log n). */
#include "io/tokenizer_int.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "io/jsonr.h"
#include "io/pretokenize.h"

#define NONE TOK_NONE
#define EOT_TEXT "<|endoftext|>"
#define SMALL_WORD 128            /* longer words take the heap path */
#define CACHE_SLOTS (1u << 16)    /* per-caller word cache: 2-way sets, 6 MB */
#define CACHE_KEY 32              /* longer words, or words of more ids, are not cached */
#define CACHE_IDS 12
#define TOK_FILE_MAX ((uint64_t)64 << 20)

typedef struct { uint32_t tag, id; } vslot;                 /* bytes -> id */
typedef struct { uint64_t key; uint32_t rank, id; } mslot;  /* (a,b) -> merge */
typedef struct {
    uint64_t h;
    uint8_t klen, nids;           /* nids 0 = empty */
    uint8_t key[CACHE_KEY];
    uint32_t ids[CACHE_IDS];
} cslot;

struct wcache {
    struct wcache *next;
    cslot *tab;
    /* scratch for merging */
    uint32_t *sym, *rk, *mid;
    int32_t *nxt, *prv;
    uint64_t *heap;
    size_t scap;
    void *pipe_scratch;           /* the pipeline's buffers (tok_cache_slot) */
    void (*pipe_free)(void *);
};

struct tokenizer {
    int n, eot;
    jbuf pool;
    uint32_t *off, *len;
    uint8_t *flags;
    vslot *vmap; size_t vmask;
    mslot *mtab; size_t mmask, nmerges;
    uint32_t byte_id[256];
    uint32_t unk;
    int fuse_unk, ignore_merges, all_bytes;
    uint64_t hash;
    const char *kind;
    tok_pipe *pipe;
    pthread_mutex_t lock;
    wcache *caches;
};

static inline uint64_t hbytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

static inline size_t mhash(uint64_t key) { return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20); }

static uint32_t vocab_find_h(const tokenizer *t, const uint8_t *p, size_t n, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & t->vmask;; i = (i + 1) & t->vmask) {
        const vslot *s = &t->vmap[i];
        if (s->id == NONE) return NONE;
        if (s->tag == tag && t->len[s->id] == n && memcmp((const uint8_t *)t->pool.data + t->off[s->id], p, n) == 0) return s->id;
    }
}

static uint32_t vocab_find(const tokenizer *t, const uint8_t *p, size_t n)
{
    return vocab_find_h(t, p, n, hbytes(p, n));
}

static void vocab_insert(tokenizer *t, uint32_t id)
{
    const uint8_t *p = (const uint8_t *)t->pool.data + t->off[id];
    uint64_t h = hbytes(p, t->len[id]);
    size_t i = h & t->vmask;
    while (t->vmap[i].id != NONE) i = (i + 1) & t->vmask;
    t->vmap[i].tag = (uint32_t)(h >> 32);
    t->vmap[i].id = id;
}

static inline uint32_t merge_find(const tokenizer *t, uint32_t a, uint32_t b, uint32_t *id)
{
    uint64_t key = ((uint64_t)a << 32) | b;
    for (size_t i = mhash(key) & t->mmask;; i = (i + 1) & t->mmask) {
        const mslot *s = &t->mtab[i];
        if (s->key == key) { *id = s->id; return s->rank; }
        if (s->key == UINT64_MAX) return NONE;
    }
}

static void merge_insert(tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t id, int last_wins)
{
    uint64_t key = ((uint64_t)a << 32) | b;
    size_t i = mhash(key) & t->mmask;
    while (t->mtab[i].key != UINT64_MAX) {
        if (t->mtab[i].key == key) {
            if (last_wins) t->mtab[i] = (mslot){ key, rank, id };
            return;
        }
        i = (i + 1) & t->mmask;
    }
    t->mtab[i] = (mslot){ key, rank, id };
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

/* ---- building --------------------------------------------------------- */

tokenizer *tok_new(int n)
{
    tokenizer *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->n = n;
    t->eot = -1;
    t->unk = NONE;
    t->off = xcalloc((size_t)n + 1, sizeof *t->off);
    t->len = xcalloc((size_t)n + 1, sizeof *t->len);
    t->flags = xcalloc((size_t)n + 1, 1);
    t->mmask = 15;
    t->mtab = xmalloc((t->mmask + 1) * sizeof *t->mtab);
    for (size_t i = 0; i <= t->mmask; i++) t->mtab[i].key = UINT64_MAX;
    jbuf_put(&t->pool, "", 0);
    t->kind = "";
    return t;
}

void tok_set(tokenizer *t, uint32_t id, const void *bytes, size_t len, unsigned flags)
{
    t->off[id] = (uint32_t)t->pool.len;
    t->len[id] = (uint32_t)len;
    t->flags[id] = (uint8_t)(flags | TOKF_PRESENT);
    jbuf_put(&t->pool, bytes, len);
}

int tok_index(tokenizer *t, const char *what, int require_bytes, photon_err *err)
{
    if (t->pool.len >= UINT32_MAX) { err_set(err, "%s: the vocabulary is too large", what); return -1; }
    size_t nv = 0;
    for (int i = 0; i < t->n; i++) nv += (t->flags[i] & TOKF_VOCAB) != 0;
    free(t->vmap);
    t->vmask = pow2_at_least(nv * 2) - 1;
    t->vmap = xmalloc((t->vmask + 1) * sizeof *t->vmap);
    for (size_t i = 0; i <= t->vmask; i++) t->vmap[i].id = NONE;
    for (int i = 0; i < t->n; i++) {
        if (!(t->flags[i] & TOKF_VOCAB)) continue;
        const uint8_t *p = (const uint8_t *)t->pool.data + t->off[i];
        uint32_t dup = vocab_find(t, p, t->len[i]);
        if (dup != NONE) {
            err_set(err, "%s: token id %d repeats the bytes of token id %u", what, i, dup);
            return -1;
        }
        vocab_insert(t, (uint32_t)i);
    }
    t->all_bytes = 1;
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = vocab_find(t, &c, 1);
        if (t->byte_id[b] != NONE) continue;
        t->all_bytes = 0;
        if (require_bytes) {
            err_set(err, "%s: no token for byte 0x%02x (a byte-level vocabulary needs all 256)", what, b);
            return -1;
        }
    }
    return 0;
}

uint32_t tok_find(const tokenizer *t, const void *bytes, size_t n) { return vocab_find(t, bytes, n); }

void tok_add_merge(tokenizer *t, uint32_t a, uint32_t b, uint32_t ab, int last_wins)
{
    if ((t->nmerges + 1) * 2 > t->mmask + 1) {
        /* grow and rehash */
        size_t old = t->mmask + 1;
        mslot *o = t->mtab;
        t->mmask = old * 2 - 1;
        t->mtab = xmalloc((t->mmask + 1) * sizeof *t->mtab);
        for (size_t i = 0; i <= t->mmask; i++) t->mtab[i].key = UINT64_MAX;
        for (size_t i = 0; i < old; i++)
            if (o[i].key != UINT64_MAX) merge_insert(t, (uint32_t)(o[i].key >> 32), (uint32_t)o[i].key, o[i].rank, o[i].id, 0);
        free(o);
    }
    merge_insert(t, a, b, (uint32_t)t->nmerges++, ab, last_wins);
}

void tok_add_flags(tokenizer *t, uint32_t id, unsigned flags) { t->flags[id] |= (uint8_t)flags; }
int tok_all_bytes(const tokenizer *t) { return t->all_bytes; }
void tok_set_eot(tokenizer *t, int eot) { t->eot = eot; }

void tok_set_hash(tokenizer *t, uint64_t h) { t->hash = h; }
void tok_set_pipe(tokenizer *t, tok_pipe *p) { t->pipe = p; }
void tok_set_kind(tokenizer *t, const char *kind) { t->kind = kind; }
const char *tok_kind(const tokenizer *t) { return t->kind; }
unsigned tok_flags(const tokenizer *t, uint32_t id) { return id < (uint32_t)t->n ? t->flags[id] : 0; }

void tok_set_bpe_options(tokenizer *t, uint32_t unk, int fuse_unk, int ignore_merges)
{
    t->unk = unk;
    t->fuse_unk = fuse_unk;
    t->ignore_merges = ignore_merges;
}

static void cache_free(wcache *c)
{
    if (c->pipe_free) c->pipe_free(c->pipe_scratch);
    free(c->tab);
    free(c->sym); free(c->rk); free(c->mid); free(c->nxt); free(c->prv); free(c->heap);
    free(c);
}

void tok_free(tokenizer *t)
{
    if (!t) return;
    while (t->caches) { wcache *c = t->caches; t->caches = c->next; cache_free(c); }
    pthread_mutex_destroy(&t->lock);
    if (t->pipe) tok_pipe_free(t->pipe);
    jbuf_free(&t->pool);
    free(t->off); free(t->len); free(t->flags); free(t->vmap); free(t->mtab);
    free(t);
}

int tok_vocab_size(const tokenizer *t) { return t->n; }
int tok_eot(const tokenizer *t) { return t->eot; }
uint64_t tok_hash(const tokenizer *t) { return t->hash; }

const char *tok_piece(const tokenizer *t, uint32_t id, size_t *n)
{
    if (id >= (uint32_t)t->n) return NULL;
    *n = t->len[id];
    return t->pool.data + t->off[id];
}

char *tok_decode(const tokenizer *t, const uint32_t *ids, size_t n, size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) if (ids[i] < (uint32_t)t->n) total += t->len[ids[i]];
    char *s = xmalloc(total + 1), *p = s;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= (uint32_t)t->n) continue;   /* unknown ids decode to nothing */
        memcpy(p, t->pool.data + t->off[ids[i]], t->len[ids[i]]);
        p += t->len[ids[i]];
    }
    *p = 0;
    if (out_len) *out_len = total;
    return s;
}

/* ---- merging ---------------------------------------------------------- */

static void scratch_reserve(wcache *c, size_t n)
{
    if (n <= c->scap) return;
    size_t cap = c->scap ? c->scap : 256;
    while (cap < n) cap *= 2;
    c->sym = xrealloc(c->sym, cap * sizeof *c->sym);
    c->rk = xrealloc(c->rk, cap * sizeof *c->rk);
    c->mid = xrealloc(c->mid, cap * sizeof *c->mid);
    c->nxt = xrealloc(c->nxt, cap * sizeof *c->nxt);
    c->prv = xrealloc(c->prv, cap * sizeof *c->prv);
    c->heap = xrealloc(c->heap, 3 * cap * sizeof *c->heap);
    c->scap = cap;
}

/* The word's starting symbols, one per byte.  A byte without a token (only
 * in vocabularies that lack some of the 256) becomes the unknown token,
 * consecutive ones fused with fuse_unk, or is dropped when there is none:
 * what Hugging Face's BPE does. */
static size_t initial_symbols(const tokenizer *t, uint32_t *sym, const uint8_t *w, size_t n)
{
    if (t->all_bytes) {
        for (size_t i = 0; i < n; i++) sym[i] = t->byte_id[w[i]];
        return n;
    }
    size_t m = 0;
    int prev_unk = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = t->byte_id[w[i]];
        if (id != NONE) { sym[m++] = id; prev_unk = 0; continue; }
        if (t->unk == NONE) continue;
        /* after the byte-level mapping a byte is one character to Hugging Face */
        if (!(prev_unk && t->fuse_unk)) sym[m++] = t->unk;
        prev_unk = 1;
    }
    return m;
}

/* In place, for short words: repeatedly merge the lowest-ranked pair
 * (leftmost on ties).  Result in c->sym; returns its length. */
static size_t bpe_small(const tokenizer *t, wcache *c, const uint8_t *w, size_t n)
{
    uint32_t *sym = c->sym, *rk = c->rk, *mid = c->mid;
    size_t m = initial_symbols(t, sym, w, n);
    for (size_t i = 0; i + 1 < m; i++) rk[i] = merge_find(t, sym[i], sym[i + 1], &mid[i]);
    while (m > 1) {
        uint32_t best = NONE;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) if (rk[i] < best) { best = rk[i]; bi = i; }
        if (best == NONE) break;
        sym[bi] = mid[bi];
        size_t tail = m - bi - 2;
        memmove(sym + bi + 1, sym + bi + 2, tail * sizeof *sym);
        memmove(rk + bi + 1, rk + bi + 2, tail * sizeof *rk);
        memmove(mid + bi + 1, mid + bi + 2, tail * sizeof *mid);
        m--;
        if (bi > 0) rk[bi - 1] = merge_find(t, sym[bi - 1], sym[bi], &mid[bi - 1]);
        if (bi + 1 < m) rk[bi] = merge_find(t, sym[bi], sym[bi + 1], &mid[bi]);
    }
    return m;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        if (l + 1 < *n && h[l + 1] < h[l]) l++;
        if (h[l] >= v) break;
        h[i] = h[l];
        i = l;
    }
    if (*n) h[i] = v;
    return top;
}

/* Long words: a linked list of symbols and a heap of (rank, position), with
 * stale entries skipped when popped (a pair's rank identifies the pair). */
static size_t bpe_large(const tokenizer *t, wcache *c, const uint8_t *w, size_t n)
{
    uint32_t *sym = c->sym, id;
    int32_t *nxt = c->nxt, *prv = c->prv;
    uint64_t *h = c->heap;
    size_t hn = 0;
    n = initial_symbols(t, sym, w, n);
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        nxt[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        prv[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t r = merge_find(t, sym[i], sym[i + 1], &id);
        if (r != NONE) heap_push(h, &hn, ((uint64_t)r << 32) | i);
    }
    while (hn) {
        uint64_t e = heap_pop(h, &hn);
        uint32_t r = (uint32_t)(e >> 32);
        int32_t p = (int32_t)(e & 0xFFFFFFFFu), q;
        if (sym[p] == NONE || (q = nxt[p]) < 0) continue;
        if (merge_find(t, sym[p], sym[q], &id) != r) continue;
        sym[p] = id;
        sym[q] = NONE;
        nxt[p] = nxt[q];
        if (nxt[q] >= 0) prv[nxt[q]] = p;
        if (prv[p] >= 0) {
            uint32_t r2 = merge_find(t, sym[prv[p]], sym[p], &id);
            if (r2 != NONE) heap_push(h, &hn, ((uint64_t)r2 << 32) | (uint32_t)prv[p]);
        }
        if (nxt[p] >= 0) {
            uint32_t r2 = merge_find(t, sym[p], sym[nxt[p]], &id);
            if (r2 != NONE) heap_push(h, &hn, ((uint64_t)r2 << 32) | (uint32_t)p);
        }
    }
    size_t m = 0;
    for (int32_t i = 0; i >= 0; i = nxt[i]) sym[m++] = sym[i];
    return m;
}

static size_t bpe(const tokenizer *t, wcache *c, const uint8_t *w, size_t n)
{
    scratch_reserve(c, n);
    return n <= SMALL_WORD ? bpe_small(t, c, w, n) : bpe_large(t, c, w, n);
}

/* ---- encoding --------------------------------------------------------- */

/* Looking a word up whole in the vocabulary (as tiktoken does) is a big
 * speed-up, but only exact for tokens that merging their bytes gives back.
 * Every token of GPT-2's vocabulary has this property; we check it per
 * token at load time rather than assume it of every vocabulary. */
void tok_finish(tokenizer *t)
{
    wcache *c = tok_cache_get(t);
    for (int id = 0; id < t->n; id++) {
        if (!(t->flags[id] & TOKF_VOCAB)) continue;
        size_t m = bpe(t, c, (const uint8_t *)t->pool.data + t->off[id], t->len[id]);
        if (m == 1 && c->sym[0] == (uint32_t)id) t->flags[id] |= TOKF_WHOLE;
    }
    tok_cache_put(t, c);
}

wcache *tok_cache_get(const tokenizer *tc)
{
    tokenizer *t = (tokenizer *)tc;   /* the cache list is the only mutable part */
    pthread_mutex_lock(&t->lock);
    wcache *c = t->caches;
    if (c) t->caches = c->next;
    pthread_mutex_unlock(&t->lock);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->tab = xcalloc(CACHE_SLOTS, sizeof *c->tab);
        scratch_reserve(c, SMALL_WORD * 2);
    }
    return c;
}

void tok_cache_put(const tokenizer *tc, wcache *c)
{
    tokenizer *t = (tokenizer *)tc;
    pthread_mutex_lock(&t->lock);
    c->next = t->caches;
    t->caches = c;
    pthread_mutex_unlock(&t->lock);
}

void **tok_cache_slot(wcache *c, void (**free_fn)(void *))
{
    if (free_fn) c->pipe_free = *free_fn;
    return &c->pipe_scratch;
}

void tok_push(tok_out *o, const uint32_t *v, size_t n)
{
    if (*o->len + n > *o->cap) {
        size_t nc = *o->cap ? *o->cap : 1024;
        while (nc < *o->len + n) nc *= 2;
        *o->ids = xrealloc(*o->ids, nc * sizeof **o->ids);
        *o->cap = nc;
    }
    memcpy(*o->ids + *o->len, v, n * sizeof *v);
    *o->len += n;
}

void tok_word(const tokenizer *t, wcache *c, const uint8_t *w, size_t n, tok_out *o)
{
    if (n == 0) return;
    if (n == 1 && t->byte_id[w[0]] != NONE) { tok_push(o, &t->byte_id[w[0]], 1); return; }
    uint64_t h = hbytes(w, n);
    uint32_t id = vocab_find_h(t, w, n, h);
    if (id != NONE && (t->ignore_merges || (t->flags[id] & TOKF_WHOLE))) { tok_push(o, &id, 1); return; }
    int cacheable = n <= CACHE_KEY;
    cslot *set = &c->tab[h & (CACHE_SLOTS - 2)];
    if (cacheable) {
        for (int way = 0; way < 2; way++) {
            cslot *s = &set[way];
            if (s->nids && s->h == h && s->klen == n && memcmp(s->key, w, n) == 0) {
                tok_push(o, s->ids, s->nids);
                if (way) { cslot tmp = set[0]; set[0] = set[1]; set[1] = tmp; }   /* most recent first */
                return;
            }
        }
    }
    size_t m = bpe(t, c, w, n);
    tok_push(o, c->sym, m);
    if (!cacheable || m > CACHE_IDS || m == 0) return;
    set[1] = set[0];   /* evict the least recently used way */
    set[0].h = h;
    set[0].klen = (uint8_t)n;
    set[0].nids = (uint8_t)m;
    memcpy(set[0].key, w, n);
    memcpy(set[0].ids, c->sym, m * sizeof *c->sym);
}

void tok_gpt2_span(const tokenizer *t, wcache *c, const uint8_t *s, size_t n, tok_out *o)
{
    for (size_t i = 0; i < n;) {
        size_t e = pretok_next(s, n, i);
        tok_word(t, c, s + i, e - i, o);
        i = e;
    }
}

static void encode_span(const tokenizer *t, wcache *c, const uint8_t *s, size_t n, tok_out *o)
{
    if (t->pipe) tok_pipe_encode(t, t->pipe, c, s, n, o);
    else tok_gpt2_span(t, c, s, n, o);
}

size_t tok_encode(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap)
{
    size_t before = *len;
    tok_out o = { ids, len, cap };
    wcache *c = tok_cache_get(t);
    encode_span(t, c, (const uint8_t *)text, n, &o);
    tok_cache_put(t, c);
    return *len - before;
}

size_t tok_encode_with_eot(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap)
{
    size_t before = *len, el = strlen(EOT_TEXT);
    tok_out o = { ids, len, cap };
    wcache *c = tok_cache_get(t);
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *q = t->eot >= 0 ? memmem(p, (size_t)(end - p), EOT_TEXT, el) : NULL;
        if (!q) { encode_span(t, c, (const uint8_t *)p, (size_t)(end - p), &o); break; }
        encode_span(t, c, (const uint8_t *)p, (size_t)(q - p), &o);
        uint32_t e = (uint32_t)t->eot;
        tok_push(&o, &e, 1);
        p = q + el;
    }
    tok_cache_put(t, c);
    return *len - before;
}
