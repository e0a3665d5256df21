/* GPT-2 byte-level BPE tokenizer (see tokenizer.h).
 * Loading: encoder.json maps byte strings (written through GPT-2's
 * byte->unicode alphabet) to ids; vocab.bpe lists merges by rank.
 * Encoding: pretokenize.c splits the text into words; each word is looked up
 * whole in the vocabulary, then in a per-caller word cache (2-way set
 * associative with LRU, fixed-size slots, so frequent words stay and nothing
 * is ever flushed), and only then merged pair by pair.  Merging uses a pair->(rank, id) open-addressing table;
 * short words merge in place in small arrays, long ones (digit runs, rows of
 * '=') with a linked list and a heap so that they stay O(n log n). */
#include "io/tokenizer.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "io/bytes_unicode.h"
#include "io/jsonr.h"
#include "io/pretokenize.h"

#define NONE 0xFFFFFFFFu
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

typedef struct wcache {
    struct wcache *next;
    cslot *tab;
    /* scratch for merging */
    uint32_t *sym, *rk, *mid;
    int32_t *nxt, *prv;
    uint64_t *heap;
    size_t scap;
} wcache;

struct tokenizer {
    int n, eot;
    uint8_t *pool;
    uint32_t *off, *len;
    vslot *vmap; size_t vmask;
    mslot *mtab; size_t mmask;
    uint32_t byte_id[256];
    uint64_t hash;
    int whole_ok;   /* every token merges back to itself: whole-word lookup is exact */
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
        if (s->tag == tag && t->len[s->id] == n && memcmp(t->pool + t->off[s->id], p, n) == 0) return s->id;
    }
}

static uint32_t vocab_find(const tokenizer *t, const uint8_t *p, size_t n)
{
    return vocab_find_h(t, p, n, hbytes(p, n));
}

static void vocab_insert(tokenizer *t, uint32_t id)
{
    const uint8_t *p = t->pool + t->off[id];
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

static void merge_insert(tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t id)
{
    uint64_t key = ((uint64_t)a << 32) | b;
    size_t i = mhash(key) & t->mmask;
    while (t->mtab[i].key != UINT64_MAX) {
        if (t->mtab[i].key == key) return;   /* a duplicate merge keeps its first rank */
        i = (i + 1) & t->mmask;
    }
    t->mtab[i] = (mslot){ key, rank, id };
}

/* ---- loading ---------------------------------------------------------- */

static int check_whole_words(const tokenizer *t);

/* Converts a string in GPT-2's byte alphabet to raw bytes; -1 if a code
 * point is outside the alphabet. */
static int unmap_bytes(const char *s, size_t n, jbuf *out)
{
    out->len = 0;
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

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

static int load_encoder(tokenizer *t, const char *path, const char *text, size_t n, photon_err *err)
{
    jsonr r;
    jbuf key = {0}, raw = {0};
    uint32_t *ids = NULL, *koff = NULL, *klen = NULL;
    size_t cnt = 0, cap = 0;
    jbuf pool = {0};
    int eot = -1, rc = -1;
    jsonr_init(&r, text, n);
    if (jsonr_expect(&r, '{')) goto bad;
    if (jsonr_peek(&r) == '}') { r.err = "empty vocabulary"; goto bad; }
    for (;;) {
        long long id;
        if (jsonr_string(&r, &key) || jsonr_expect(&r, ':') || jsonr_int(&r, &id)) goto bad;
        if (id < 0 || id >= (1LL << 30)) { r.err = "token id out of range"; goto bad; }
        if (strcmp(key.data, EOT_TEXT) == 0) {
            eot = (int)id;
            raw.len = 0;
            jbuf_put(&raw, EOT_TEXT, strlen(EOT_TEXT));
        } else if (unmap_bytes(key.data, key.len, &raw) || raw.len == 0) {
            r.err = "token is not written in GPT-2's byte alphabet";
            goto bad;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 1024;
            ids = xrealloc(ids, cap * sizeof *ids);
            koff = xrealloc(koff, cap * sizeof *koff);
            klen = xrealloc(klen, cap * sizeof *klen);
        }
        ids[cnt] = (uint32_t)id;
        koff[cnt] = (uint32_t)pool.len;
        klen[cnt] = (uint32_t)raw.len;
        jbuf_put(&pool, raw.data, raw.len);
        cnt++;
        int more = jsonr_next(&r, '}');
        if (more < 0) goto bad;
        if (more == 0) break;
    }
    if (jsonr_peek(&r) != -1) { r.err = "unexpected bytes after the object"; goto bad; }
    t->n = (int)cnt;
    t->eot = eot;
    t->off = xmalloc(cnt * sizeof *t->off);
    t->len = xmalloc(cnt * sizeof *t->len);
    for (size_t i = 0; i < cnt; i++) t->len[i] = NONE;
    for (size_t i = 0; i < cnt; i++) {
        if (ids[i] >= cnt || t->len[ids[i]] != NONE) {
            err_set(err, "%s: token id %u is %s (ids must be 0..%zu, each once)", path, ids[i],
                    ids[i] >= cnt ? "out of range" : "used twice", cnt - 1);
            goto out;
        }
        t->off[ids[i]] = koff[i];
        t->len[ids[i]] = klen[i];
    }
    t->pool = (uint8_t *)pool.data;
    pool.data = NULL;
    t->vmask = pow2_at_least(cnt * 2) - 1;
    t->vmap = xmalloc((t->vmask + 1) * sizeof *t->vmap);
    for (size_t i = 0; i <= t->vmask; i++) t->vmap[i].id = NONE;
    for (size_t i = 0; i < cnt; i++) {
        if ((int)i == eot) continue;
        if (vocab_find(t, t->pool + t->off[i], t->len[i]) != NONE) {
            err_set(err, "%s: token id %zu repeats the bytes of token id %u", path, i,
                    vocab_find(t, t->pool + t->off[i], t->len[i]));
            goto out;
        }
        vocab_insert(t, (uint32_t)i);
    }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = vocab_find(t, &c, 1);
        if (t->byte_id[b] == NONE) {
            err_set(err, "%s: no token for byte 0x%02x (a byte-level vocabulary needs all 256)", path, b);
            goto out;
        }
    }
    rc = 0;
    goto out;
bad:
    err_set(err, "%s: byte offset %zu: %s", path, jsonr_offset(&r), r.err ? r.err : "invalid JSON");
out:
    free(ids); free(koff); free(klen);
    jbuf_free(&key); jbuf_free(&raw); jbuf_free(&pool);
    return rc;
}

static int load_merges(tokenizer *t, const char *path, char *text, size_t n, photon_err *err)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    /* Each merge makes a token of the vocabulary: far more lines than
     * tokens is not a merges file of this vocabulary (and would size the
     * table below by the file alone). */
    if (lines > 2 * (size_t)t->n + 1024) {
        err_set(err, "%s: %zu lines, more merges than a vocabulary of %d tokens can have", path, lines, t->n);
        return -1;
    }
    t->mmask = pow2_at_least(lines * 2) - 1;
    t->mtab = xmalloc((t->mmask + 1) * sizeof *t->mtab);
    for (size_t i = 0; i <= t->mmask; i++) t->mtab[i].key = UINT64_MAX;
    jbuf a = {0}, b = {0}, ab = {0};
    uint32_t rank = 0;
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
        if (unmap_bytes(s, (size_t)(sp - s), &a) || unmap_bytes(sp + 1, (size_t)(s + len - sp - 1), &b)) {
            err_set(err, "%s:%zu: token is not written in GPT-2's byte alphabet", path, lineno);
            goto out;
        }
        ab.len = 0;
        jbuf_put(&ab, a.data, a.len);
        jbuf_put(&ab, b.data, b.len);
        uint32_t ia = vocab_find(t, (uint8_t *)a.data, a.len), ib = vocab_find(t, (uint8_t *)b.data, b.len);
        uint32_t iab = vocab_find(t, (uint8_t *)ab.data, ab.len);
        if (ia == NONE || ib == NONE || iab == NONE) {
            err_set(err, "%s:%zu: merge uses a token that is not in encoder.json", path, lineno);
            goto out;
        }
        merge_insert(t, ia, ib, rank++, iab);
    }
    rc = 0;
out:
    jbuf_free(&a); jbuf_free(&b); jbuf_free(&ab);
    return rc;
}

tokenizer *tok_load(const char *dir, photon_err *err)
{
    char ep[4096], mp[4096];
    path_join(ep, sizeof ep, dir, "encoder.json");
    path_join(mp, sizeof mp, dir, "vocab.bpe");
    size_t en, mn;
    /* GPT-2's files are 1 MB and 0.5 MB; 64 MiB bounds what a hostile pair
     * can make the tables below cost (a few times the text). */
    char *etext = file_read_max(ep, TOK_FILE_MAX, "a tokenizer file", &en, err);
    if (!etext) return NULL;
    char *mtext = file_read_max(mp, TOK_FILE_MAX, "a tokenizer file", &mn, err);
    if (!mtext) { free(etext); return NULL; }
    tokenizer *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->hash = hash64(mtext, mn, hash64(etext, en, HASH64_INIT));
    int rc = load_encoder(t, ep, etext, en, err);
    if (rc == 0) rc = load_merges(t, mp, mtext, mn, err);
    free(etext);
    free(mtext);
    if (rc) { tok_free(t); return NULL; }
    t->whole_ok = check_whole_words(t);
    return t;
}

static void cache_free(wcache *c)
{
    free(c->tab);
    free(c->sym); free(c->rk); free(c->mid); free(c->nxt); free(c->prv); free(c->heap);
    free(c);
}

void tok_free(tokenizer *t)
{
    if (!t) return;
    while (t->caches) { wcache *c = t->caches; t->caches = c->next; cache_free(c); }
    pthread_mutex_destroy(&t->lock);
    free(t->pool); free(t->off); free(t->len); free(t->vmap); free(t->mtab);
    free(t);
}

int tok_vocab_size(const tokenizer *t) { return t->n; }
int tok_eot(const tokenizer *t) { return t->eot; }
uint64_t tok_hash(const tokenizer *t) { return t->hash; }

const char *tok_piece(const tokenizer *t, uint32_t id, size_t *n)
{
    if (id >= (uint32_t)t->n) return NULL;
    *n = t->len[id];
    return (const char *)t->pool + t->off[id];
}

char *tok_decode(const tokenizer *t, const uint32_t *ids, size_t n, size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) if (ids[i] < (uint32_t)t->n) total += t->len[ids[i]];
    char *s = xmalloc(total + 1), *p = s;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= (uint32_t)t->n) continue;   /* unknown ids decode to nothing */
        memcpy(p, t->pool + t->off[ids[i]], t->len[ids[i]]);
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

/* In place, for short words: repeatedly merge the lowest-ranked pair
 * (leftmost on ties).  Result in c->sym; returns its length. */
static size_t bpe_small(const tokenizer *t, wcache *c, const uint8_t *w, size_t n)
{
    uint32_t *sym = c->sym, *rk = c->rk, *mid = c->mid;
    for (size_t i = 0; i < n; i++) sym[i] = t->byte_id[w[i]];
    for (size_t i = 0; i + 1 < n; i++) rk[i] = merge_find(t, sym[i], sym[i + 1], &mid[i]);
    size_t m = n;
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
    for (size_t i = 0; i < n; i++) {
        sym[i] = t->byte_id[w[i]];
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

/* ---- encoding --------------------------------------------------------- */

static wcache *cache_get(const tokenizer *tc);
static void cache_put(const tokenizer *tc, wcache *c);

/* Looking a word up whole in the vocabulary (as tiktoken does) is a big
 * speed-up, but only exact when merging any token's bytes gives back that
 * token.  GPT-2's vocabulary has this property; we check it at load time
 * rather than assume it of every vocabulary. */
static int check_whole_words(const tokenizer *t)
{
    wcache *c = cache_get(t);
    int ok = 1;
    for (int id = 0; id < t->n && ok; id++) {
        if (id == t->eot || t->len[id] < 2) continue;
        const uint8_t *w = t->pool + t->off[id];
        size_t n = t->len[id];
        scratch_reserve(c, n);
        size_t m = n <= SMALL_WORD ? bpe_small(t, c, w, n) : bpe_large(t, c, w, n);
        ok = m == 1 && c->sym[0] == (uint32_t)id;
    }
    cache_put(t, c);
    return ok;
}

static wcache *cache_get(const tokenizer *tc)
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

static void cache_put(const tokenizer *tc, wcache *c)
{
    tokenizer *t = (tokenizer *)tc;
    pthread_mutex_lock(&t->lock);
    c->next = t->caches;
    t->caches = c;
    pthread_mutex_unlock(&t->lock);
}

static inline void out_push(uint32_t **ids, size_t *len, size_t *cap, const uint32_t *v, size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < *len + n) nc *= 2;
        *ids = xrealloc(*ids, nc * sizeof **ids);
        *cap = nc;
    }
    memcpy(*ids + *len, v, n * sizeof *v);
    *len += n;
}

static void encode_word(const tokenizer *t, wcache *c, const uint8_t *w, size_t n,
                        uint32_t **ids, size_t *len, size_t *cap)
{
    if (n == 1) { out_push(ids, len, cap, &t->byte_id[w[0]], 1); return; }
    uint64_t h = hbytes(w, n);
    uint32_t id = t->whole_ok ? vocab_find_h(t, w, n, h) : NONE;
    if (id != NONE) { out_push(ids, len, cap, &id, 1); return; }
    int cacheable = n <= CACHE_KEY;
    cslot *set = &c->tab[h & (CACHE_SLOTS - 2)];
    if (cacheable) {
        for (int way = 0; way < 2; way++) {
            cslot *s = &set[way];
            if (s->nids && s->h == h && s->klen == n && memcmp(s->key, w, n) == 0) {
                out_push(ids, len, cap, s->ids, s->nids);
                if (way) { cslot tmp = set[0]; set[0] = set[1]; set[1] = tmp; }   /* most recent first */
                return;
            }
        }
    }
    scratch_reserve(c, n);
    size_t m = n <= SMALL_WORD ? bpe_small(t, c, w, n) : bpe_large(t, c, w, n);
    out_push(ids, len, cap, c->sym, m);
    if (!cacheable || m > CACHE_IDS) return;
    set[1] = set[0];   /* evict the least recently used way */
    set[0].h = h;
    set[0].klen = (uint8_t)n;
    set[0].nids = (uint8_t)m;
    memcpy(set[0].key, w, n);
    memcpy(set[0].ids, c->sym, m * sizeof *c->sym);
}

static void encode_span(const tokenizer *t, wcache *c, const uint8_t *s, size_t n,
                        uint32_t **ids, size_t *len, size_t *cap)
{
    for (size_t i = 0; i < n;) {
        size_t e = pretok_next(s, n, i);
        encode_word(t, c, s + i, e - i, ids, len, cap);
        i = e;
    }
}

size_t tok_encode(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap)
{
    size_t before = *len;
    wcache *c = cache_get(t);
    encode_span(t, c, (const uint8_t *)text, n, ids, len, cap);
    cache_put(t, c);
    return *len - before;
}

size_t tok_encode_with_eot(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap)
{
    size_t before = *len, el = strlen(EOT_TEXT);
    wcache *c = cache_get(t);
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *q = t->eot >= 0 ? memmem(p, (size_t)(end - p), EOT_TEXT, el) : NULL;
        if (!q) { encode_span(t, c, (const uint8_t *)p, (size_t)(end - p), ids, len, cap); break; }
        encode_span(t, c, (const uint8_t *)p, (size_t)(q - p), ids, len, cap);
        uint32_t e = (uint32_t)t->eot;
        out_push(ids, len, cap, &e, 1);
        p = q + el;
    }
    cache_put(t, c);
    return *len - before;
}
