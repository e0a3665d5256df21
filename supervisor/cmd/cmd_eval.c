/* `photon-sim eval CKPT.h5 --data SHARD.bin [--batches N] [--batch B]
 * [--tokens N] [--threads N] [--backend auto|cpu|cuda]`: mean cross-entropy
 * of a checkpoint's model over windows of a token shard, printed as
 * `loss <x> perplexity <y>`.
 * Without --tokens (DESIGN §3): the first batches x batch windows, window w
 * starting at token w*seq_len and holding seq_len+1 tokens (inputs are its
 * first seq_len, targets the same shifted by one).  Every window has the
 * same number of targets, so the mean of the per-batch means is the mean
 * over all tokens.
 * With --tokens: the windows a run's evaluation scores (io/eval_windows.h,
 * the same code): about N tokens in windows spread over the whole shard,
 * per validation source when the shard is a prepared val.bin with its
 * manifest.json beside it (else one source named after the file), and one
 * more line per source: `source <name> loss <x> perplexity <y> windows <n>`.
 * A token id beyond the model's vocabulary is an error naming its byte
 * offset. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/eval_windows.h"
#include "io/loader.h"
#include "io/shard.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

#define EVAL_DEFAULT_BATCHES 20

/* --tokens: the spread windows of io/eval_windows.h; 0 or PHOTON_EXIT_FAIL with err. */
static int eval_spread(const char *ckpt, const char *data, const gpt2_config *c, const float *params, int batch,
                       uint64_t tokens, const char *backend, int threads, photon_err *err)
{
    char dir[4096], man[4200], stem[256];
    const char *base = strrchr(data, '/');
    base = base ? base + 1 : data;
    path_dirname(data, dir, sizeof dir);
    path_join(man, sizeof man, dir, "manifest.json");
    int prepared = strcmp(base, "val.bin") == 0 && file_exists(man);
    snprintf(stem, sizeof stem, "%.*s", (int)strcspn(base, "."), base);
    eval_spec spec = { .budget_tokens = tokens > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)tokens,
                       .T = c->seq_len, .B = batch };
    eval_set *set = eval_set_open(data, prepared ? man : NULL, stem[0] ? stem : "shard", c->vocab_size, &spec, err);
    if (!set) return PHOTON_EXIT_FAIL;
    int rc = PHOTON_EXIT_FAIL;
    photon_model *m = cmd_model_from(c, params, eval_set_batch(set), c->seq_len, backend, threads, err);
    if (m) {
        eval_sums s;
        eval_set_score(set, m, &s);
        double loss = eval_sums_loss(&s, -1);
        if (!isfinite(loss)) {
            err_set(err, "%s: the loss is not finite (%g): the model's parameters are damaged", ckpt, loss);
        } else {
            printf("loss %.6f perplexity %.4f\n", loss, exp(loss));
            for (int i = 0; i < s.n; i++)
                printf("source %s loss %.6f perplexity %.4f windows %lld\n", eval_set_source_name(set, i),
                       eval_sums_loss(&s, i), exp(eval_sums_loss(&s, i)), (long long)s.windows[i]);
            log_info("eval: %s on %s: %lld windows of %d tokens spread over %d source%s (batch %d), %s backend", ckpt,
                     data, (long long)eval_set_windows(set, -1), c->seq_len, s.n, s.n == 1 ? "" : "s",
                     eval_set_batch(set), m->ops->name);
            rc = PHOTON_EXIT_OK;
        }
        model_destroy(m);
    }
    eval_set_free(set);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *data = NULL, *backend = "auto";
    int batches = 0, batch = 4, threads = 0;
    uint64_t budget = 0;
    const cmd_opt opts[] = {
        { "--data", OPT_STR, &data, 0, 0 },
        { "--batches", OPT_INT, &batches, 1, 1e9 },
        { "--batch", OPT_INT, &batch, 1, 1 << 16 },
        { "--tokens", OPT_U64, &budget, 0, 0 },
        { "--threads", OPT_INT, &threads, 0, 1024 },
        { "--backend", OPT_STR, &backend, 0, 0 },
    };
    const char *pos[1];
    if (cmd_parse("eval", argc, argv, opts, 6, pos, 1, 1) < 0) return PHOTON_EXIT_USAGE;
    if (cmd_check_backend("eval", backend) < 0) return PHOTON_EXIT_USAGE;
    if (!data) {
        fprintf(stderr, "photon-sim eval: error: --data SHARD.bin is required (see photon-sim eval --help)\n");
        return PHOTON_EXIT_USAGE;
    }
    if (budget > 0 && batches > 0) {
        fprintf(stderr, "photon-sim eval: error: --tokens and --batches choose the windows in two different ways: "
                "give one of them (see photon-sim eval --help)\n");
        return PHOTON_EXIT_USAGE;
    }
    photon_err err;
    gpt2_config c;
    float *params = NULL;
    ckpt_meta m = { 0 };
    shard *s = NULL;
    photon_model *model = NULL;
    uint32_t *tokens = NULL;
    int rc = PHOTON_EXIT_FAIL;
    if (cmd_load_params(pos[0], &c, &params, &m, &err) < 0) goto fail;
    if (budget > 0) {
        rc = eval_spread(pos[0], data, &c, params, batch, budget, backend, threads, &err);
        if (rc != PHOTON_EXIT_OK) goto fail;
        goto out;
    }
    /* Checks every token id against the true vocabulary (names the offset). */
    s = shard_open(data, c.vocab_size, &err);
    if (!s) goto fail;
    const int T = c.seq_len;
    size_t ntok = shard_ntokens(s);
    int64_t windows = loader_count_windows(s, T);
    if (batches == 0) {
        int64_t fit = windows / batch;
        batches = (int)(fit < EVAL_DEFAULT_BATCHES ? fit : EVAL_DEFAULT_BATCHES);
        if (batches == 0) {
            err_set(&err, "%s: %zu tokens hold %lld windows of seq_len+1 = %d tokens, fewer than one batch of %d",
                    data, ntok, (long long)windows, T + 1, batch);
            goto fail;
        }
    } else if ((int64_t)batches * batch > windows) {
        err_set(&err, "%s: %zu tokens hold %lld windows of seq_len+1 = %d tokens; --batches %d x --batch %d needs %lld",
                data, ntok, (long long)windows, T + 1, batches, batch, (long long)batches * batch);
        goto fail;
    }
    model = cmd_model_from(&c, params, batch, T, backend, threads, &err);
    if (!model) goto fail;
    tokens = xmalloc((size_t)batch * (size_t)(T + 1) * sizeof *tokens);
    double sum = 0;
    for (int b = 0; b < batches; b++) {
        if (loader_eval_batch(s, (int64_t)b * batch, batch, T, tokens) < 0) {
            err_set(&err, "%s: cannot read eval windows %lld..%lld", data, (long long)b * batch,
                    (long long)(b + 1) * batch - 1);
            goto fail;
        }
        sum += model->ops->forward_loss(model, tokens);
    }
    double loss = sum / batches;
    if (!isfinite(loss)) {
        err_set(&err, "%s: the loss is not finite (%g): the model's parameters are damaged", pos[0], loss);
        goto fail;
    }
    printf("loss %.6f perplexity %.4f\n", loss, exp(loss));
    log_info("eval: %s (round %lld) on %s: %d windows of %d tokens (%d batches of %d), %s backend",
             pos[0], (long long)m.round, data, batches * batch, T, batches, batch, model->ops->name);
    rc = PHOTON_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "photon-sim: error: %s\n", err.msg);
out:
    free(tokens);
    if (model) model_destroy(model);
    if (s) shard_close(s);
    free(params);
    free((char *)m.config);
    return rc;
}
