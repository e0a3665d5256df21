/* Streaming over text sources for prepare (see prepare_text.h).
 * Documents are gathered into a chunk; a full chunk is processed with an
 * OpenMP loop over its documents and its results appended in document
 * order, so the output does not depend on the number of threads. */
#include "io/prepare_text.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "io/bpe_train.h"
#include "io/progress.h"
#include "io/textsrc.h"

#define CHUNK_BYTES (32u << 20)
#define CHUNK_DOCS 65536

typedef struct {
    char *text; size_t n, cap;
    int64_t off[CHUNK_DOCS + 1];   /* document d is text[off[d] .. off[d+1]) */
    int nd;
} chunk;

typedef int (*chunk_fn)(void *ctx, const chunk *ch, photon_err *err);

void tokstore_free(tokstore *t) { free(t->tok); free(t->off); memset(t, 0, sizeof *t); }

static void chunk_add(chunk *ch, const char *s, size_t n)
{
    if (ch->n + n > ch->cap) {
        ch->cap = (ch->n + n) * 2 > CHUNK_BYTES ? (ch->n + n) * 2 : CHUNK_BYTES;
        ch->text = xrealloc(ch->text, ch->cap);
    }
    memcpy(ch->text + ch->n, s, n);
    ch->n += n;
    ch->off[0] = 0;
    ch->off[++ch->nd] = (int64_t)ch->n;
}

/* Reads every source, handing full chunks to fn; counts documents per source. */
static int stream(const cfg_list *l, int64_t max_docs, man_source *src, const char *what,
                  chunk_fn fn, void *ctx, photon_err *err)
{
    chunk *ch = xcalloc(1, sizeof *ch);
    progress pr;
    progress_start(&pr, what, 0);
    size_t done = 0;
    int rc = -1;
    for (int i = 0; i < l->n; i++) {
        textsrc *s = textsrc_open(src[i].path, err);
        if (!s) goto out;
        const char *text;
        size_t n;
        int r = 0;
        src[i].docs = 0;
        while ((max_docs == 0 || src[i].docs < max_docs) && (r = textsrc_next(s, &text, &n, err)) == 1) {
            chunk_add(ch, text, n);
            src[i].docs++;
            if (ch->n >= CHUNK_BYTES || ch->nd == CHUNK_DOCS) {
                if (fn(ctx, ch, err)) { textsrc_close(s); goto out; }
                done += ch->n;
                ch->n = 0;
                ch->nd = 0;
                progress_update(&pr, done);
            }
        }
        textsrc_close(s);
        if (r < 0) goto out;
        if (src[i].docs == 0) {
            err_set(err, "%s: no documents in this text source (empty file, or only blank lines/empty texts)", src[i].path);
            goto out;
        }
    }
    if (ch->nd && fn(ctx, ch, err)) goto out;
    done += ch->n;
    progress_end(&pr, done);
    rc = 0;
out:
    free(ch->text);
    free(ch);
    return rc;
}

/* ---- tokenizing ------------------------------------------------------- */

typedef struct {
    const tokenizer *t;
    int threads;
    tokstore *out;
    uint32_t **ids;
    size_t *len, *cap;
} tok_ctx;

static int tokenize_chunk(void *vctx, const chunk *ch, photon_err *err)
{
    (void)err;
    tok_ctx *x = vctx;
    tokstore *out = x->out;
#pragma omp parallel for num_threads(x->threads) schedule(dynamic, 1)
    for (int i = 0; i < ch->nd; i++) {
        x->len[i] = 0;
        tok_encode(x->t, ch->text + ch->off[i], (size_t)(ch->off[i + 1] - ch->off[i]), &x->ids[i], &x->len[i], &x->cap[i]);
    }
    uint32_t eot = (uint32_t)tok_eot(x->t);
    if (out->nd + ch->nd + 1 > out->dcap) {
        out->dcap = (out->nd + ch->nd + 1) * 2;
        out->off = xrealloc(out->off, (size_t)out->dcap * sizeof *out->off);
    }
    out->off[0] = 0;
    for (int i = 0; i < ch->nd; i++) {
        size_t need = out->n + x->len[i] + 1;
        if (need > out->cap) {
            out->cap = need * 2 > (1u << 22) ? need * 2 : (1u << 22);
            out->tok = xrealloc(out->tok, out->cap * sizeof *out->tok);
        }
        memcpy(out->tok + out->n, x->ids[i], x->len[i] * sizeof *x->ids[i]);
        out->n += x->len[i];
        out->tok[out->n++] = eot;   /* every document ends with EOT */
        out->off[++out->nd] = (int64_t)out->n;
    }
    /* keep per-document buffers small between chunks */
    for (int i = 0; i < ch->nd; i++)
        if (x->cap[i] > (1u << 16)) { free(x->ids[i]); x->ids[i] = NULL; x->cap[i] = 0; }
    return 0;
}

int prep_tokenize(const cfg_list *l, int64_t max_docs, man_source *src, const tokenizer *t, int threads,
                  tokstore *out, const char *what, photon_err *err)
{
    tok_ctx x = { t, threads, out, xcalloc(CHUNK_DOCS, sizeof(uint32_t *)), xcalloc(CHUNK_DOCS, sizeof(size_t)),
                  xcalloc(CHUNK_DOCS, sizeof(size_t)) };
    int64_t first = out->nd;
    int rc = stream(l, max_docs, src, what, tokenize_chunk, &x, err);
    for (int i = 0; i < CHUNK_DOCS; i++) free(x.ids[i]);
    free(x.ids);
    free(x.len);
    free(x.cap);
    if (rc) return -1;
    for (int i = 0; i < l->n; i++) {
        src[i].tokens = out->off[first + src[i].docs] - out->off[first];
        first += src[i].docs;
    }
    return 0;
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

int prep_train(const cfg_list *l, int64_t max_docs, man_source *src, int vocab, const char *dir, int threads,
               photon_err *err)
{
    double t0 = time_mono();
    count_ctx x = { xcalloc((size_t)threads, sizeof(bpe_counter *)), threads };
    for (int i = 0; i < threads; i++) x.part[i] = bpe_counter_new();
    int rc = stream(l, max_docs, src, "counting words for BPE", count_chunk, &x, err);
    /* counts are sums, so merging per-thread tables in any order gives the same table */
    for (int i = 1; i < threads; i++) { bpe_counter_merge(x.part[0], x.part[i]); bpe_counter_free(x.part[i]); }
    double t1 = time_mono();
    int v = rc ? -1 : bpe_train(x.part[0], vocab, dir, err);
    if (v > 0)
        log_info("trained a %d-token byte-level BPE (%zu distinct words) in %.1f s (reading and counting %.1f s, merging %.1f s)",
                 v, bpe_counter_words(x.part[0]), time_mono() - t0, t1 - t0, time_mono() - t1);
    if (v > 0 && v < vocab)
        log_warn("[data] tokenizer_vocab = %d, but the training text only has pairs for %d tokens "
                 "(more text, or a smaller tokenizer_vocab)", vocab, v);
    bpe_counter_free(x.part[0]);
    free(x.part);
    return v < 0 ? -1 : 0;
}
