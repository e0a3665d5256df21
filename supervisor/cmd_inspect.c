/* `photon-sim inspect CKPT.h5 [--verify] [--config]`: what a checkpoint
 * holds — its attributes, the model's shape and parameter count, and every
 * group and dataset with its type and shape.  --verify reads every dataset so
 * each Fletcher-32 checksum is checked; --config prints the resolved
 * experiment configuration recorded in it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/checkpoint.h"
#include "supervisor/cli.h"
#include "supervisor/cmd_util.h"

static int print_entry(const char *path, int rank, const uint64_t *dims, const char *dtype, void *ud)
{
    (void)ud;
    int depth = 0;
    for (const char *p = path + 1; *p; p++) depth += *p == '/';
    const char *base = strrchr(path, '/') + 1;
    if (rank < 0) {
        printf("  %*s%s/\n", 2 * depth, "", base);
        return 0;
    }
    char shape[128] = "(";
    for (int i = 0; i < rank; i++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%s%" PRIu64, i ? ", " : "", dims[i]);
    }
    strncat(shape, rank == 1 ? ",)" : ")", sizeof shape - strlen(shape) - 1);
    printf("  %*s%-*s %-4s %s\n", 2 * depth, "", 44 - 2 * depth > 8 ? 44 - 2 * depth : 8, base, dtype, shape);
    return 0;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int cmd_inspect(int argc, char **argv)
{
    int verify = 0, show_config = 0;
    const cmd_opt opts[] = {
        { "--verify", OPT_FLAG, &verify, 0, 0 },
        { "--config", OPT_FLAG, &show_config, 0, 0 },
    };
    const char *pos[1];
    if (cmd_parse("inspect", argc, argv, opts, 2, pos, 1, 1) < 0) return PHOTON_EXIT_USAGE;
    const char *path = pos[0];
    photon_err err;
    ckpt_meta m;
    ckpt_reader *r = ckpt_open(path, &m, &err);
    if (!r) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        return PHOTON_EXIT_FAIL;
    }
    struct stat st;
    double mib = stat(path, &st) == 0 ? (double)st.st_size / (1 << 20) : 0;
    printf("checkpoint   %s (%.2f MiB)\n", path, mib);
    printf("format       photon-sim, format_version 1\n");
    printf("round        %" PRId64 "\n", m.round);
    printf("global_step  %" PRId64 "\n", m.global_step);
    printf("tokens_seen  %" PRId64 "\n", m.tokens_seen);
    printf("seed         %" PRIu64 "\n", m.seed);
    printf("config       %d lines%s\n", count_lines(m.config), show_config ? ":" : " (--config prints it)");
    if (show_config) {
        fputs(m.config, stdout);
        if (m.config[0] && m.config[strlen(m.config) - 1] != '\n') putchar('\n');
    }
    int rc = PHOTON_EXIT_OK;
    gpt2_config c;
    if (ckpt_model_config(r, &c, &err) == 0) {
        printf("model        GPT-2, n_layer %d, n_head %d, d_model %d, seq_len %d, vocab_size %d (wte rows %d)\n",
               c.n_layer, c.n_head, c.d_model, c.seq_len, c.vocab_size, c.padded_vocab);
        gpt2_config true_v = c;
        true_v.padded_vocab = c.vocab_size;
        printf("parameters   %zu (%zu stored, with the padded vocabulary)\n",
               gpt2_num_params(&true_v), gpt2_num_params(&c));
    } else {
        printf("model        none readable\n");
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        rc = PHOTON_EXIT_FAIL;
    }
    printf("contents\n");
    if (ckpt_visit(r, print_entry, NULL, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        rc = PHOTON_EXIT_FAIL;
    }
    if (verify) {
        if (ckpt_verify(r, &err) == 0) {
            printf("checksums    ok (every dataset read and its Fletcher-32 checksums verified)\n");
        } else {
            printf("checksums    FAILED\n");
            fprintf(stderr, "photon-sim: error: %s\n", err.msg);
            rc = PHOTON_EXIT_FAIL;
        }
    } else {
        printf("checksums    not verified (--verify reads every dataset)\n");
    }
    free((char *)m.config);
    ckpt_close(r);
    return rc;
}
