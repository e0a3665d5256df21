/* Streaming over one text file for prepare (see prepare_text.h).
 * Documents are gathered into a chunk; a full chunk is processed with an
 * OpenMP loop over its documents and its results appended in document
 * order, so the output does not depend on the number of threads. */
#include "io/prepare_text.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "io/bpe_train.h"
#include "io/tokcache.h"

#define CHUNK_BYTES (32u << 20)
#define CHUNK_DOCS 65536

typedef struct {
    char *text; size_t n, cap;
    int64_t off[CHUNK_DOCS + 1];    /* document d is text[off[d] .. off[d+1]) */
    char *labels; size_t ln, lcap;  /* their labels, when the source has them */
    int64_t loff[CHUNK_DOCS + 1];
    int nd;
} chunk;

typedef int (*chunk_fn)(void *ctx, const chunk *ch, photon_err *err);

static void grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    *cap = need * 2 > CHUNK_BYTES ? need * 2 : CHUNK_BYTES;
    *p = xrealloc(*p, *cap);
}

static void chunk_add(chunk *ch, const char *s, size_t n, const char *lab, size_t ln)
{
    grow(&ch->text, &ch->cap, ch->n + n);
    memcpy(ch->text + ch->n, s, n);
    ch->n += n;
    ch->off[0] = 0;
    ch->off[++ch->nd] = (int64_t)ch->n;
    if (lab) {
        grow(&ch->labels, &ch->lcap, ch->ln + ln + 1);
        memcpy(ch->labels + ch->ln, lab, ln);
        ch->ln += ln;
    }
    ch->loff[0] = 0;
    ch->loff[ch->nd] = (int64_t)ch->ln;
}

/* Reads path, handing full chunks to fn; counts its documents. */
static int stream(const char *path, const prep_read *r, int64_t max_docs, chunk_fn fn, void *ctx, int64_t *docs,
                  photon_err *err)
{
    textsrc *s = textsrc_open_opts(path, &r->src, err);
    if (!s) return -1;
    chunk *ch = xcalloc(1, sizeof *ch);
    const char *text;
    size_t n;
    int rc = 0;
    *docs = 0;
    while ((max_docs == 0 || *docs < max_docs) && (rc = textsrc_next(s, &text, &n, err)) == 1) {
        size_t ln = 0;
        const char *lab = textsrc_label(s, &ln);
        chunk_add(ch, text, n, lab, ln);
        ++*docs;
        if (ch->n >= CHUNK_BYTES || ch->nd == CHUNK_DOCS) {
            if (fn(ctx, ch, err)) { rc = -1; break; }
            ch->n = ch->ln = 0;
            ch->nd = 0;
        }
        if (r->pr) progress_update(r->pr, (size_t)(r->done_before + textsrc_file_bytes(s)));
    }
    if (rc >= 0 && ch->nd && fn(ctx, ch, err)) rc = -1;
    textsrc_close(s);
    free(ch->text);
    free(ch->labels);
    free(ch);
    return rc < 0 ? -1 : 0;
}

/* ---- tokenizing ------------------------------------------------------- */

/* Each thread appends the ids of the documents it takes to its own arena
 * (reset every chunk), so memory is about one chunk's tokens whatever the
 * documents' sizes; the documents are then written in their order. */
typedef struct { uint32_t *ids; size_t len, cap; } arena;
typedef struct { uint32_t thread; size_t off, len; } where;

typedef struct {
    const tokenizer *t;
    int threads;
    tokcache_writer *w;
    int has_labels;
    arena *a;          /* one per thread */
    where *at;         /* per document of the chunk */
} tok_ctx;

static int tokenize_chunk(void *vctx, const chunk *ch, photon_err *err)
{
    tok_ctx *x = vctx;
    uint32_t eot = (uint32_t)tok_eot(x->t);
    for (int k = 0; k < x->threads; k++) x->a[k].len = 0;
#pragma omp parallel num_threads(x->threads)
    {
        arena *a = &x->a[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < ch->nd; i++) {
            size_t off = a->len;
            tok_encode(x->t, ch->text + ch->off[i], (size_t)(ch->off[i + 1] - ch->off[i]), &a->ids, &a->len, &a->cap);
            if (a->len == a->cap) { a->cap = a->cap ? 2 * a->cap : 1024; a->ids = xrealloc(a->ids, a->cap * sizeof *a->ids); }
            a->ids[a->len++] = eot;   /* every document ends with EOT */
            x->at[i] = (where){ (uint32_t)omp_get_thread_num(), off, a->len - off };
        }
    }
    for (int i = 0; i < ch->nd; i++) {
        const char *lab = x->has_labels ? ch->labels + ch->loff[i] : NULL;
        size_t ln = x->has_labels ? (size_t)(ch->loff[i + 1] - ch->loff[i]) : 0;
        if (tokcache_add(x->w, x->a[x->at[i].thread].ids + x->at[i].off, x->at[i].len, lab, ln, err)) return -1;
    }
    return 0;
}

int prep_tokenize_file(const char *path, const prep_read *r, int64_t max_docs, const tokenizer *t, int wide,
                       const char *cache_path, uint64_t key, int64_t *docs, photon_err *err)
{
    tokcache_writer *w = tokcache_create(cache_path, key, wide, err);
    if (!w) return -1;
    tok_ctx x = { t, r->threads, w, r->src.label_key != NULL, xcalloc((size_t)r->threads, sizeof(arena)),
                  xmalloc(CHUNK_DOCS * sizeof(where)) };
    int rc = stream(path, r, max_docs, tokenize_chunk, &x, docs, err);
    for (int k = 0; k < r->threads; k++) free(x.a[k].ids);
    free(x.a);
    free(x.at);
    if (rc) { tokcache_abort(w); return -1; }
    return tokcache_commit(w, err);
}

/* ---- BPE training ----------------------------------------------------- */

typedef struct {
    bpe_counter **part;
    int threads;
} count_ctx;

static int count_chunk(void *vctx, const chunk *ch, photon_err *err)
{
    (void)err;
    count_ctx *x = vctx;
#pragma omp parallel num_threads(x->threads)
    {
        bpe_counter *mine = x->part[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 64)
        for (int i = 0; i < ch->nd; i++)
            bpe_counter_add(mine, ch->text + ch->off[i], (size_t)(ch->off[i + 1] - ch->off[i]));
    }
    return 0;
}

int prep_count_file(const char *path, const prep_read *r, int64_t max_docs, bpe_counter **parts, int64_t *docs,
                    photon_err *err)
{
    count_ctx x = { parts, r->threads };
    prep_read nolabel = *r;
    nolabel.src.label_key = NULL;   /* counting needs no labels */
    return stream(path, &nolabel, max_docs, count_chunk, &x, docs, err);
}
