/* Fuzz target: resuming from a run-state checkpoint (io/runstate.c
 * runstate_resume -> runstate_load), as --resume does, for a fixed small
 * run (the one the seeds come from: 1 layer, 2 heads, d_model 8, seq_len 8,
 * vocabulary 300, seed 7, 2 clients both in every round, kept optimizer
 * state, outer momentum).  The input is the newest checkpoint of the directory;
 * a loaded one must hold only what the run can use (finite values,
 * non-negative counters), a rejected one gives one line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_util.h"
#include "io/runstate.h"

#define NCL 2
static const gpt2_config CFG = { .n_layer = 1, .n_head = 2, .d_model = 8, .seq_len = 8, .vocab_size = 300,
                                  .padded_vocab = 300 };

static int put(void *ud, int client, const runstate_client *c, photon_err *err)
{
    (void)ud;
    if (c->data_pos[0] < 0 || (c->has_adam && c->adam_step < 0)) {
        err_set(err, "client %d: negative position or step got through", client);
        abort();
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    ckpt_probe_disable();   /* in-process: the library's own crashes are findings */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ck", fz_dir());
    photon_err err;
    mkdir_p(dir, &err);
    fz_write("ck/ckpt-00000002.h5", data, size);
    size_t n = gpt2_num_params(&CFG);
    float *model = malloc(n * sizeof *model), *mom = malloc(n * sizeof *mom);
    runstate rs = { .model_cfg = CFG, .model = model, .outer_m = mom, .sampler = { 7, NCL, NCL },
                    .n_clients = NCL, .pos_words = 1, .check_metrics = true, .metrics_size = 100000,
                    .client_put = put };
    char used[1024];
    int rc = runstate_resume(dir, &rs, used, sizeof used, &err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(model[i]) || !isfinite(mom[i])) { fprintf(stderr, "non-finite value loaded\n"); abort(); }
        if (rs.round != 2 || rs.metrics_offset < 0 || rs.metrics_offset > 100000 || rs.outer_steps < 0) {
            fprintf(stderr, "insane counters loaded: round %lld offset %lld\n", (long long)rs.round,
                    (long long)rs.metrics_offset);
            abort();
        }
        free((char *)rs.config);
    } else if (strchr(err.msg, '\n')) {
        fprintf(stderr, "bad error message: %s\n", err.msg);
        abort();
    }
    free(model);
    free(mom);
    return 0;
}
