/* `photon-sim eval CKPT.h5 --data SHARD.bin [--batches N] [--batch B]
 * [--threads N] [--backend auto|cpu|cuda]`: mean cross-entropy of a
 * checkpoint's model over the first batches x batch windows of a token shard
 * (DESIGN §3: window w starts at token w*seq_len and holds seq_len+1 tokens;
 * inputs are its first seq_len, targets the same shifted by one), printed as
 * `loss <x> perplexity <y>`.  Every window has the same number of targets, so
 * the mean of the per-batch means is the mean over all tokens.  A token id
 * beyond the model's vocabulary is an error naming its byte offset. */
#include <math.h>
#include <stdlib.h>
#include "io/loader.h"
#include "io/shard.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

#define EVAL_DEFAULT_BATCHES 20

int cmd_eval(int argc, char **argv)
{
    const char *data = NULL, *backend = "auto";
    int batches = 0, batch = 4, threads = 0;
    const cmd_opt opts[] = {
        { "--data", OPT_STR, &data, 0, 0 },
        { "--batches", OPT_INT, &batches, 1, 1e9 },
        { "--batch", OPT_INT, &batch, 1, 1 << 16 },
        { "--threads", OPT_INT, &threads, 0, 1024 },
        { "--backend", OPT_STR, &backend, 0, 0 },
    };
    const char *pos[1];
    if (cmd_parse("eval", argc, argv, opts, 5, pos, 1, 1) < 0) return PHOTON_EXIT_USAGE;
    if (cmd_check_backend("eval", backend) < 0) return PHOTON_EXIT_USAGE;
    if (!data) {
        fprintf(stderr, "photon-sim eval: error: --data SHARD.bin is required (see photon-sim eval --help)\n");
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
