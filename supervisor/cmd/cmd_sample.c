/* `photon-sim sample CKPT.h5 --prompt TEXT [--tokens N] [--temperature T]
 * [--top-k K] [--seed S] [--tokenizer DIR] [--threads N] [--backend B]`:
 * continues the prompt with the checkpoint's model and prints the decoded
 * text (prompt included).  Temperature 0 is greedy decoding; top-k 0 keeps
 * the whole vocabulary.  Sampling draws from photon-sim's seeded RNG, so the
 * same seed gives the same text on the CPU backend.  The context is the last
 * seq_len tokens; padded vocabulary rows and ids the tokenizer does not have
 * are never sampled.  The tokenizer defaults to the one the checkpoint's
 * recorded configuration used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/tokenizer.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

typedef struct { float logit; int id; } cand;

static int cand_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id;   /* ties by id: deterministic */
}

/* Picks the next id from logits[0..n) (temperature, top-k; scratch holds n). */
static int pick(const float *logits, int n, double temp, int top_k, photon_rng *rng, cand *scratch)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    if (temp <= 0) return best;
    for (int i = 0; i < n; i++) scratch[i] = (cand){ logits[i], i };
    int k = n;
    if (top_k > 0 && top_k < n) {
        qsort(scratch, (size_t)n, sizeof *scratch, cand_desc);
        k = top_k;
    }
    double mx = logits[best], z = 0;
    for (int i = 0; i < k; i++) z += exp((scratch[i].logit - mx) / temp);
    double u = rng_uniform(rng) * z, acc = 0;
    for (int i = 0; i < k; i++) {
        acc += exp((scratch[i].logit - mx) / temp);
        if (u < acc) return scratch[i].id;
    }
    return scratch[k - 1].id;   /* rounding at the top end */
}

int cmd_sample(int argc, char **argv)
{
    const char *prompt = NULL, *tok_opt = NULL, *backend = "auto";
    int ntokens = 64, top_k = 0, threads = 0;
    double temp = 1.0;
    uint64_t seed = 1337;
    const cmd_opt opts[] = {
        { "--prompt", OPT_STR, &prompt, 0, 0 },
        { "--tokens", OPT_INT, &ntokens, 0, 1e7 },
        { "--temperature", OPT_DOUBLE, &temp, 0, 100 },
        { "--top-k", OPT_INT, &top_k, 0, 1e9 },
        { "--seed", OPT_U64, &seed, 0, 0 },
        { "--tokenizer", OPT_STR, &tok_opt, 0, 0 },
        { "--threads", OPT_INT, &threads, 0, 1024 },
        { "--backend", OPT_STR, &backend, 0, 0 },
    };
    const char *pos[1];
    if (cmd_parse("sample", argc, argv, opts, 8, pos, 1, 1) < 0) return PHOTON_EXIT_USAGE;
    if (cmd_check_backend("sample", backend) < 0) return PHOTON_EXIT_USAGE;
    if (!prompt) {
        fprintf(stderr, "photon-sim sample: error: --prompt TEXT is required (see photon-sim sample --help)\n");
        return PHOTON_EXIT_USAGE;
    }
    photon_err err;
    gpt2_config c;
    float *params = NULL, *logits = NULL;
    ckpt_meta m = { 0 };
    tokenizer *tok = NULL;
    photon_model *model = NULL;
    uint32_t *ids = NULL;
    cand *scratch = NULL;
    int rc = PHOTON_EXIT_FAIL;
    char tokdir[4096];
    if (cmd_load_params(pos[0], &c, &params, &m, &err) < 0) goto fail;
    if (cmd_find_tokenizer(tok_opt, pos[0], m.config, tokdir, sizeof tokdir, &err) < 0) goto fail;
    if (!(tok = tok_load(tokdir, &err))) goto fail;
    int tv = tok_vocab_size(tok);
    if (tv > c.vocab_size) {
        err_set(&err, "tokenizer %s has %d tokens but the model's vocabulary is %d: not the model's tokenizer",
                tokdir, tv, c.vocab_size);
        goto fail;
    }
    size_t len = 0, cap = 0;
    tok_encode(tok, prompt, strlen(prompt), &ids, &len, &cap);
    if (len == 0) {   /* an empty prompt starts from the document separator */
        if (tok_eot(tok) < 0) {
            err_set(&err, "--prompt is empty and the tokenizer has no <|endoftext|> token to start from");
            goto fail;
        }
        ids = xrealloc(ids, sizeof *ids);
        ids[len++] = (uint32_t)tok_eot(tok);
        cap = 1;
    }
    for (size_t i = 0; i < len; i++)
        if (ids[i] >= (uint32_t)c.vocab_size) {
            err_set(&err, "prompt token %zu has id %u, beyond the model's vocabulary %d", i, ids[i], c.vocab_size);
            goto fail;
        }
    size_t prompt_len = len;
    ids = xrealloc(ids, (len + (size_t)ntokens) * sizeof *ids);
    const int T = c.seq_len;
    model = cmd_model_from(&c, params, 1, T, backend, threads, &err);
    if (!model) goto fail;
    logits = xmalloc((size_t)c.padded_vocab * sizeof *logits);
    scratch = xmalloc((size_t)tv * sizeof *scratch);
    photon_rng rng;
    rng_seed(&rng, seed);
    for (int k = 0; k < ntokens; k++) {
        size_t ctx = len < (size_t)T ? len : (size_t)T;
        model->ops->logits_at(model, ids + len - ctx, (int)ctx - 1, logits);
        /* NaN would also leave the candidates' order undefined (qsort) */
        for (int i = 0; i < tv; i++)
            if (!isfinite(logits[i])) {
                err_set(&err, "%s: the model's logit for token %d is %g: its parameters are damaged", pos[0], i,
                        (double)logits[i]);
                goto fail;
            }
        ids[len++] = (uint32_t)pick(logits, tv, temp, top_k, &rng, scratch);
    }
    size_t out_len;
    char *text = tok_decode(tok, ids, len, &out_len);
    fwrite(text, 1, out_len, stdout);
    putchar('\n');
    free(text);
    log_info("sample: %zu prompt tokens + %d generated, temperature %g, top-k %d, seed %llu",
             prompt_len, ntokens, temp, top_k, (unsigned long long)seed);
    rc = PHOTON_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "photon-sim: error: %s\n", err.msg);
out:
    free(scratch);
    free(logits);
    free(ids);
    if (model) model_destroy(model);
    if (tok) tok_free(tok);
    free(params);
    free((char *)m.config);
    return rc;
}
