/* Byte-level BPE training (see bpe_train.h).
 * Words are counted once; training then works on the table of distinct
 * words.  Each pair keeps its total count and the list of words it occurs
 * in, so a merge only rewrites the words that contain it, and pair counts
 * are updated incrementally (subtract the word's old pairs, add its new
 * ones).  The best pair comes from a max-heap with lazy deletion: entries
 * whose count is out of date are re-queued with the current count when
 * popped, and every increase pushes a fresh entry. */
#include "io/bpe_train.h"
#include <stdlib.h>
#include <string.h>
#include "io/bytes_unicode.h"
#include "io/pretokenize.h"

/* ---- word counting ---------------------------------------------------- */

typedef struct { uint64_t h, count; uint32_t off, len; } wslot;

struct bpe_counter {
    wslot *tab;
    size_t mask, used;
    uint8_t *pool;
    size_t pn, pcap;
};

static uint64_t hbytes(const uint8_t *p, size_t n)
{
    uint64_t h = hash64(p, n, HASH64_INIT);
    return h ? h : 1;
}

bpe_counter *bpe_counter_new(void)
{
    bpe_counter *c = xcalloc(1, sizeof *c);
    c->mask = (1u << 16) - 1;
    c->tab = xcalloc(c->mask + 1, sizeof *c->tab);
    c->pcap = 1 << 20;
    c->pool = xmalloc(c->pcap);
    return c;
}

void bpe_counter_free(bpe_counter *c)
{
    if (!c) return;
    free(c->tab);
    free(c->pool);
    free(c);
}

size_t bpe_counter_words(const bpe_counter *c) { return c->used; }

static void counter_grow(bpe_counter *c)
{
    size_t nm = c->mask * 2 + 1;
    wslot *nt = xcalloc(nm + 1, sizeof *nt);
    for (size_t i = 0; i <= c->mask; i++) {
        if (!c->tab[i].h) continue;
        size_t j = c->tab[i].h & nm;
        while (nt[j].h) j = (j + 1) & nm;
        nt[j] = c->tab[i];
    }
    free(c->tab);
    c->tab = nt;
    c->mask = nm;
}

static void counter_bump(bpe_counter *c, const uint8_t *w, size_t n, uint64_t h, uint64_t by)
{
    size_t i = h & c->mask;
    for (; c->tab[i].h; i = (i + 1) & c->mask)
        if (c->tab[i].h == h && c->tab[i].len == n && memcmp(c->pool + c->tab[i].off, w, n) == 0) {
            c->tab[i].count += by;
            return;
        }
    if (c->pn + n > c->pcap) {
        while (c->pn + n > c->pcap) c->pcap *= 2;
        c->pool = xrealloc(c->pool, c->pcap);
    }
    memcpy(c->pool + c->pn, w, n);
    c->tab[i] = (wslot){ h, by, (uint32_t)c->pn, (uint32_t)n };
    c->pn += n;
    if (++c->used * 2 > c->mask) counter_grow(c);
}

void bpe_counter_add(bpe_counter *c, const char *text, size_t n)
{
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < n;) {
        size_t e = pretok_next(s, n, i);
        counter_bump(c, s + i, e - i, hbytes(s + i, e - i), 1);
        i = e;
    }
}

void bpe_counter_merge(bpe_counter *dst, const bpe_counter *src)
{
    for (size_t i = 0; i <= src->mask; i++)
        if (src->tab[i].h)
            counter_bump(dst, src->pool + src->tab[i].off, src->tab[i].len, src->tab[i].h, src->tab[i].count);
}

/* ---- training --------------------------------------------------------- */

typedef struct { uint32_t *w; uint32_t n, cap; } u32vec;

typedef struct {
    uint32_t a, b;
    int64_t count;
    u32vec words;        /* words it may occur in (may hold stale entries) */
} pair;

typedef struct { int64_t count; uint32_t p; } hentry;

typedef struct {
    /* tokens */
    uint8_t *tp; size_t tpn, tpcap;
    uint32_t *toff, *tlen;
    int ntok;
    /* words */
    uint32_t **wsym;
    uint32_t *wlen;
    uint64_t *wcount;
    size_t nw;
    /* pairs */
    pair *pairs; size_t np, pcap;
    uint32_t *pmap; size_t pmask;         /* (a,b) -> pair index + 1 */
    hentry *heap; size_t hn, hcap;
    uint32_t *stamp; uint32_t epoch;      /* dedupes touched pairs per merge */
    int64_t *delta;                       /* count change of a touched pair in this merge */
    uint32_t *touched; size_t ntouched;
} trainer;

static void vec_push(u32vec *v, uint32_t x)
{
    if (v->n && v->w[v->n - 1] == x) return;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->w = xrealloc(v->w, v->cap * sizeof *v->w);
    }
    v->w[v->n++] = x;
}

static size_t phash(uint32_t a, uint32_t b) { return (size_t)(((((uint64_t)a << 32) | b) * 0x9E3779B97F4A7C15ULL) >> 17); }

static void pmap_grow(trainer *t)
{
    size_t nm = t->pmask ? t->pmask * 2 + 1 : (1u << 16) - 1;
    uint32_t *nt = xcalloc(nm + 1, sizeof *nt);
    for (size_t i = 0; i <= t->pmask && t->pmap; i++) {
        if (!t->pmap[i]) continue;
        pair *p = &t->pairs[t->pmap[i] - 1];
        size_t j = phash(p->a, p->b) & nm;
        while (nt[j]) j = (j + 1) & nm;
        nt[j] = t->pmap[i];
    }
    free(t->pmap);
    t->pmap = nt;
    t->pmask = nm;
}

static uint32_t pair_get(trainer *t, uint32_t a, uint32_t b)
{
    size_t i = phash(a, b) & t->pmask;
    for (; t->pmap[i]; i = (i + 1) & t->pmask) {
        pair *p = &t->pairs[t->pmap[i] - 1];
        if (p->a == a && p->b == b) return t->pmap[i] - 1;
    }
    if (t->np == t->pcap) {
        t->pcap = t->pcap ? t->pcap * 2 : 1 << 16;
        t->pairs = xrealloc(t->pairs, t->pcap * sizeof *t->pairs);
        t->stamp = xrealloc(t->stamp, t->pcap * sizeof *t->stamp);
        t->delta = xrealloc(t->delta, t->pcap * sizeof *t->delta);
        t->touched = xrealloc(t->touched, t->pcap * sizeof *t->touched);
    }
    uint32_t idx = (uint32_t)t->np++;
    t->pairs[idx] = (pair){ a, b, 0, { 0 } };
    t->stamp[idx] = 0;
    t->pmap[i] = idx + 1;
    if (t->np * 2 > t->pmask) pmap_grow(t);
    return idx;
}

/* Heap order: higher count first, then smaller (left bytes, right bytes). */
static int hbetter(const trainer *t, const hentry *x, const hentry *y)
{
    if (x->count != y->count) return x->count > y->count;
    const pair *p = &t->pairs[x->p], *q = &t->pairs[y->p];
    for (int side = 0; side < 2; side++) {
        uint32_t u = side ? p->b : p->a, v = side ? q->b : q->a;
        if (u == v) continue;
        size_t lu = t->tlen[u], lv = t->tlen[v];
        int c = memcmp(t->tp + t->toff[u], t->tp + t->toff[v], lu < lv ? lu : lv);
        if (c) return c < 0;
        return lu < lv;
    }
    return 0;
}

static void hpush(trainer *t, uint32_t p)
{
    if (t->hn == t->hcap) {
        t->hcap = t->hcap ? t->hcap * 2 : 1 << 16;
        t->heap = xrealloc(t->heap, t->hcap * sizeof *t->heap);
    }
    hentry e = { t->pairs[p].count, p };
    size_t i = t->hn++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!hbetter(t, &e, &t->heap[up])) break;
        t->heap[i] = t->heap[up];
        i = up;
    }
    t->heap[i] = e;
}

static hentry hpop(trainer *t)
{
    hentry top = t->heap[0], e = t->heap[--t->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= t->hn) break;
        if (l + 1 < t->hn && hbetter(t, &t->heap[l + 1], &t->heap[l])) l++;
        if (!hbetter(t, &t->heap[l], &e)) break;
        t->heap[i] = t->heap[l];
        i = l;
    }
    if (t->hn) t->heap[i] = e;
    return top;
}

static void touch(trainer *t, uint32_t p, int64_t d)
{
    if (t->stamp[p] != t->epoch) {
        t->stamp[p] = t->epoch;
        t->delta[p] = 0;
        t->touched[t->ntouched++] = p;
    }
    t->delta[p] += d;
}

/* Adds (sign +1) or removes (-1) the pairs of word w. */
static void word_pairs(trainer *t, size_t w, int sign)
{
    uint32_t *s = t->wsym[w];
    int64_t d = sign * (int64_t)t->wcount[w];
    for (uint32_t i = 0; i + 1 < t->wlen[w]; i++) {
        uint32_t p = pair_get(t, s[i], s[i + 1]);
        t->pairs[p].count += d;
        touch(t, p, d);
        if (sign > 0) vec_push(&t->pairs[p].words, (uint32_t)w);
    }
}

static uint32_t add_token(trainer *t, const uint8_t *bytes, size_t n)
{
    if (t->tpn + n > t->tpcap) {
        t->tpcap = (t->tpcap + n) * 2;
        t->tp = xrealloc(t->tp, t->tpcap);
    }
    memcpy(t->tp + t->tpn, bytes, n);
    t->toff[t->ntok] = (uint32_t)t->tpn;
    t->tlen[t->ntok] = (uint32_t)n;
    t->tpn += n;
    return (uint32_t)t->ntok++;
}

/* The token's bytes in GPT-2's byte alphabet, as a NUL-terminated UTF-8
 * string (every mapped code point is below U+0800, so 2 bytes at most). */
static char *piece_text(const trainer *t, uint32_t id)
{
    char *out = xmalloc(2 * (size_t)t->tlen[id] + 1), *p = out;
    for (uint32_t i = 0; i < t->tlen[id]; i++) {
        uint32_t cp = bu_byte_to_cp(t->tp[t->toff[id] + i]);
        if (cp < 0x80) *p++ = (char)cp;
        else { *p++ = (char)(0xC0 | (cp >> 6)); *p++ = (char)(0x80 | (cp & 63)); }
    }
    *p = 0;
    return out;
}

static int write_files(const trainer *t, const uint32_t (*merges)[2], int nmerges, const char *dir, photon_err *err)
{
    if (mkdir_p(dir, err)) return -1;
    char path[4096];
    path_join(path, sizeof path, dir, "vocab.bpe");
    atomic_file *a = afile_open(path, err);
    if (!a) return -1;
    FILE *f = afile_stream(a);
    fputs("#version: 0.2\n", f);
    for (int i = 0; i < nmerges; i++) {
        char *a = piece_text(t, merges[i][0]), *b = piece_text(t, merges[i][1]);
        fprintf(f, "%s %s\n", a, b);
        free(a);
        free(b);
    }
    if (afile_commit(a, err)) return -1;
    path_join(path, sizeof path, dir, "encoder.json");
    a = afile_open(path, err);
    if (!a) return -1;
    f = afile_stream(a);
    fputc('{', f);
    for (int id = 0; id < t->ntok; id++) {
        /* GPT-2's alphabet has no NUL, so the piece is a C string for json_write_string */
        char *tmp = piece_text(t, (uint32_t)id);
        if (id) fputs(", ", f);
        json_write_string(f, tmp);
        fprintf(f, ": %d", id);
        free(tmp);
    }
    fprintf(f, ", \"<|endoftext|>\": %d}", t->ntok);
    return afile_commit(a, err);
}

static void trainer_free(trainer *t)
{
    for (size_t w = 0; w < t->nw; w++) free(t->wsym[w]);
    for (size_t p = 0; p < t->np; p++) free(t->pairs[p].words.w);
    free(t->wsym); free(t->wlen); free(t->wcount);
    free(t->pairs); free(t->pmap); free(t->heap); free(t->stamp); free(t->delta); free(t->touched);
    free(t->tp); free(t->toff); free(t->tlen);
}

int bpe_train(const bpe_counter *c, int vocab_size, const char *dir, photon_err *err)
{
    if (vocab_size < 257) { err_set(err, "BPE vocabulary size %d is too small (at least 256 bytes + <|endoftext|>)", vocab_size); return -1; }
    trainer t;
    memset(&t, 0, sizeof t);
    int maxtok = vocab_size - 1;   /* the last id is <|endoftext|> */
    t.toff = xmalloc((size_t)maxtok * sizeof *t.toff);
    t.tlen = xmalloc((size_t)maxtok * sizeof *t.tlen);
    unsigned char order[256];
    uint32_t byte_id[256];
    bu_byte_order(order);
    for (int i = 0; i < 256; i++) { add_token(&t, &order[i], 1); byte_id[order[i]] = (uint32_t)i; }

    /* distinct words, in a fixed order (by bytes) so that nothing depends on hashing */
    t.nw = c->used;
    t.wsym = xmalloc((t.nw ? t.nw : 1) * sizeof *t.wsym);
    t.wlen = xmalloc((t.nw ? t.nw : 1) * sizeof *t.wlen);
    t.wcount = xmalloc((t.nw ? t.nw : 1) * sizeof *t.wcount);
    size_t w = 0;
    for (size_t i = 0; i <= c->mask; i++) {
        const wslot *s = &c->tab[i];
        if (!s->h) continue;
        t.wsym[w] = xmalloc((s->len ? s->len : 1) * sizeof **t.wsym);
        for (uint32_t j = 0; j < s->len; j++) t.wsym[w][j] = byte_id[c->pool[s->off + j]];
        t.wlen[w] = s->len;
        t.wcount[w] = s->count;
        w++;
    }
    pmap_grow(&t);
    t.epoch = 1;
    for (w = 0; w < t.nw; w++) word_pairs(&t, w, +1);
    for (size_t i = 0; i < t.ntouched; i++) if (t.pairs[t.touched[i]].count > 0) hpush(&t, t.touched[i]);

    int nmerges = 0;
    uint32_t (*merges)[2] = xmalloc((size_t)vocab_size * sizeof *merges);
    uint32_t *nsym = NULL;
    size_t nsym_cap = 0;
    while (t.ntok < maxtok && t.hn) {
        hentry e = hpop(&t);
        pair *p = &t.pairs[e.p];
        if (p->count <= 0) continue;
        if (e.count != p->count) { hpush(&t, e.p); continue; }   /* stale: re-queue with its current count */
        uint32_t a = p->a, b = p->b;
        /* new token = bytes(a) + bytes(b) */
        size_t la = t.tlen[a], lb = t.tlen[b];
        uint8_t *tmp = xmalloc(la + lb);
        memcpy(tmp, t.tp + t.toff[a], la);
        memcpy(tmp + la, t.tp + t.toff[b], lb);
        uint32_t z = add_token(&t, tmp, la + lb);
        free(tmp);
        merges[nmerges][0] = a;
        merges[nmerges][1] = b;
        nmerges++;
        t.epoch++;
        t.ntouched = 0;
        /* rewrite every word that contains (a, b); the list is taken out
         * first because word_pairs appends to lists */
        u32vec list = p->words;
        p->words = (u32vec){ 0 };
        for (uint32_t k = 0; k < list.n; k++) {
            size_t wi = list.w[k];
            uint32_t *s = t.wsym[wi], n = t.wlen[wi];
            int has = 0;
            for (uint32_t i = 0; i + 1 < n && !has; i++) has = s[i] == a && s[i + 1] == b;
            if (!has) continue;
            if (nsym_cap < n) { nsym_cap = n * 2; nsym = xrealloc(nsym, nsym_cap * sizeof *nsym); }
            uint32_t m = 0;
            for (uint32_t i = 0; i < n;) {
                if (i + 1 < n && s[i] == a && s[i + 1] == b) { nsym[m++] = z; i += 2; }
                else nsym[m++] = s[i++];
            }
            word_pairs(&t, wi, -1);
            memcpy(s, nsym, m * sizeof *nsym);
            t.wlen[wi] = m;
            word_pairs(&t, wi, +1);
        }
        free(list.w);
        /* only pairs that gained need a fresh heap entry: the entries of pairs
         * that lost are re-queued with their true count when they surface */
        for (size_t i = 0; i < t.ntouched; i++)
            if (t.delta[t.touched[i]] > 0 && t.pairs[t.touched[i]].count > 0) hpush(&t, t.touched[i]);
    }
    free(nsym);
    int rc = write_files(&t, (const uint32_t (*)[2])merges, nmerges, dir, err);
    int vocab = t.ntok + 1;
    free(merges);
    trainer_free(&t);
    return rc ? -1 : vocab;
}
