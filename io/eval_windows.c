/* Evaluation windows and their scoring (see eval_windows.h for the rule).
 * Everything here is integer arithmetic on the data's sizes and the
 * configuration, so every process that plans the same data gets the same
 * windows, and the losses are added in one fixed order. */
#include "io/eval_windows.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/prepare.h"
#include "io/shard.h"

__extension__ typedef unsigned __int128 u128;

struct eval_set {
    shard *sh;
    val_index vi;
    int T, B;
    int64_t cap[VAL_MAX_SOURCES];    /* W_s: windows source s holds */
    int64_t count[VAL_MAX_SOURCES];  /* n_s: windows chosen */
    int64_t nwin;
    int64_t *start;                  /* token offset of each chosen window, source order */
    int *src;                        /* its source */
    uint32_t *tokens;                /* one batch: B x (T+1) */
    float *losses;                   /* one batch: B x T */
    uint64_t hash;
};

int64_t eval_budget_tokens(int64_t tokens, int batches, int B, int T)
{
    if (tokens > 0) return tokens;
    return (int64_t)batches * B * T;
}

void eval_spec_from_config(const photon_config *c, int micro_batch, eval_spec *out)
{
    out->T = c->model.seq_len;
    out->B = c->eval.batch_size > 0 ? c->eval.batch_size : micro_batch;
    out->budget_tokens = eval_budget_tokens(c->eval.tokens, c->eval.batches, out->B, out->T);
}

eval_set *eval_set_for_run(const photon_config *c, int micro_batch, int vocab, photon_err *err)
{
    char val[4096], dir[4096], man[4200];
    prepare_val_shard(c, val, sizeof val);
    path_dirname(val, dir, sizeof dir);
    path_join(man, sizeof man, dir, "manifest.json");
    eval_spec spec;
    eval_spec_from_config(c, micro_batch, &spec);
    return eval_set_open(val, man, NULL, vocab, &spec, err);
}

/* a*b/c rounded down, and its remainder, without overflow (c > 0). */
static int64_t muldiv(int64_t a, int64_t b, int64_t c, int64_t *rem)
{
    u128 p = (u128)(uint64_t)a * (uint64_t)b;
    if (rem) *rem = (int64_t)(p % (uint64_t)c);
    return (int64_t)(p / (uint64_t)c);
}

/* n_s for each source (the rule in eval_windows.h). */
static void allocate(const int64_t *W, int S, int64_t N, int B, int64_t *n)
{
    int64_t total = 0;
    for (int s = 0; s < S; s++) total += W[s];
    if (N >= total) {
        memcpy(n, W, (size_t)S * sizeof *n);
        return;
    }
    int64_t m = N / S;
    if (m > B) m = B;
    if (m < 1) m = 1;
    int64_t R = N, C = 0, cap[VAL_MAX_SOURCES], rem[VAL_MAX_SOURCES];
    for (int s = 0; s < S; s++) {
        n[s] = W[s] < m ? W[s] : m;
        R -= n[s];
        cap[s] = W[s] - n[s];
        C += cap[s];
    }
    if (R <= 0 || C == 0) return;
    /* R < C here (N < total), so floor(R cap_s / C) < cap_s and +1 still fits. */
    int64_t dealt = 0;
    for (int s = 0; s < S; s++) {
        int64_t q = muldiv(R, cap[s], C, &rem[s]);
        n[s] += q;
        dealt += q;
    }
    for (int64_t left = R - dealt; left > 0; left--) {
        int best = -1;
        for (int s = 0; s < S; s++)
            if (rem[s] >= 0 && n[s] < W[s] && (best < 0 || rem[s] > rem[best])) best = s;
        if (best < 0) break;
        n[best]++;
        rem[best] = -1;   /* one extra window each at most */
    }
}

eval_set *eval_set_open(const char *shard_path, const char *manifest_path, const char *single_name, int vocab,
                        const eval_spec *spec, photon_err *err)
{
    if (spec->T < 1 || spec->B < 1 || spec->budget_tokens < 1) {
        err_set(err, "evaluation needs seq_len, batch and token budget >= 1 (got %d, %d, %lld)", spec->T, spec->B,
                (long long)spec->budget_tokens);
        return NULL;
    }
    shard *sh = shard_open(shard_path, vocab, err);
    if (!sh) return NULL;
    eval_set *e = xcalloc(1, sizeof *e);
    e->sh = sh;
    e->T = spec->T;
    int64_t ntok = (int64_t)shard_ntokens(sh);
    if (manifest_path) {
        if (val_index_load(manifest_path, ntok, &e->vi, err) < 0) goto fail;
    } else {
        val_index_single(&e->vi, single_name, ntok);
    }
    int S = e->vi.n;
    int64_t total = 0;
    for (int s = 0; s < S; s++) {
        int64_t t = e->vi.src[s].tokens;
        e->cap[s] = t > spec->T ? (t - 1) / spec->T : 0;
        total += e->cap[s];
    }
    if (total == 0) {
        err_set(err, "%s: no validation source holds one window of seq_len+1 = %d tokens", shard_path, spec->T + 1);
        goto fail;
    }
    int64_t N = spec->budget_tokens / spec->T;
    if (N < 1) N = 1;
    allocate(e->cap, S, N, spec->B, e->count);
    for (int s = 0; s < S; s++) e->nwin += e->count[s];
    e->B = e->nwin < spec->B ? (int)e->nwin : spec->B;
    e->start = xmalloc((size_t)e->nwin * sizeof *e->start);
    e->src = xmalloc((size_t)e->nwin * sizeof *e->src);
    e->tokens = xmalloc((size_t)e->B * (size_t)(e->T + 1) * sizeof *e->tokens);
    e->losses = xmalloc((size_t)e->B * (size_t)e->T * sizeof *e->losses);
    uint64_t h = HASH64_INIT;
    int32_t shape[3] = { e->T, e->B, S };
    h = hash64(shape, sizeof shape, h);
    int64_t w = 0;
    for (int s = 0; s < S; s++) {
        h = hash64(e->vi.src[s].name, strlen(e->vi.src[s].name) + 1, h);
        h = hash64(&e->count[s], sizeof e->count[s], h);
        for (int64_t i = 0; i < e->count[s]; i++, w++) {
            int64_t j = muldiv(2 * i + 1, e->cap[s], 2 * e->count[s], NULL);
            e->start[w] = e->vi.src[s].first + j * e->T;
            e->src[w] = s;
            shard_read(sh, (size_t)e->start[w], (size_t)e->T + 1, e->tokens);
            h = hash64(&e->start[w], sizeof e->start[w], h);
            h = hash64(e->tokens, ((size_t)e->T + 1) * sizeof *e->tokens, h);
        }
    }
    e->hash = h;
    return e;
fail:
    eval_set_free(e);
    return NULL;
}

void eval_set_free(eval_set *e)
{
    if (!e) return;
    shard_close(e->sh);
    free(e->start);
    free(e->src);
    free(e->tokens);
    free(e->losses);
    free(e);
}

int eval_set_batch(const eval_set *e) { return e->B; }
int eval_set_sources(const eval_set *e) { return e->vi.n; }
const char *eval_set_source_name(const eval_set *e, int s) { return e->vi.src[s].name; }
int64_t eval_set_windows(const eval_set *e, int s) { return s < 0 ? e->nwin : e->count[s]; }
int64_t eval_set_source_capacity(const eval_set *e, int s) { return e->cap[s]; }
int64_t eval_set_window_start(const eval_set *e, int64_t i) { return e->start[i]; }
int eval_set_window_source(const eval_set *e, int64_t i) { return e->src[i]; }
uint64_t eval_set_hash(const eval_set *e) { return e->hash; }

void eval_set_score(eval_set *e, photon_model *m, eval_sums *out)
{
    memset(out, 0, sizeof *out);
    out->n = e->vi.n;
    const int B = e->B, T = e->T;
    for (int64_t w0 = 0; w0 < e->nwin; w0 += B) {
        int k = e->nwin - w0 < B ? (int)(e->nwin - w0) : B;
        for (int b = 0; b < B; b++) {
            int64_t w = w0 + (b < k ? b : k - 1);   /* padding: copies of the last window */
            shard_read(e->sh, (size_t)e->start[w], (size_t)T + 1, e->tokens + (size_t)b * (T + 1));
        }
        m->ops->forward_token_losses(m, e->tokens, e->losses);
        for (int b = 0; b < k; b++) {
            double sum = 0;
            const float *l = e->losses + (size_t)b * T;
            for (int t = 0; t < T; t++) sum += l[t];
            int s = e->src[w0 + b];
            out->loss_sum[s] += sum / T;
            out->windows[s]++;
        }
    }
}

double eval_sums_loss(const eval_sums *s, int src)
{
    if (src >= 0) return s->windows[src] > 0 ? s->loss_sum[src] / (double)s->windows[src] : NAN;
    double sum = 0;
    int64_t n = 0;
    for (int i = 0; i < s->n; i++) { sum += s->loss_sum[i]; n += s->windows[i]; }
    return n > 0 ? sum / (double)n : NAN;
}
