/* `photon-sim inspect CKPT.h5 [--verify] [--config] [--hash]`: what a
 * checkpoint holds — its attributes, the model's shape and parameter count,
 * and every group and dataset with its type and shape.  --verify reads every
 * dataset so each Fletcher-32 checksum is checked, and says ok only when
 * eval and --resume would accept the file (the same checks: required tensors
 * present with their shapes, every dataset stored whole with a Fletcher-32
 * filter and finite values, sane attributes, a complete run state if it has
 * one); --config prints the
 * resolved experiment configuration recorded in it; --hash adds a 64-bit hash
 * of each numeric dataset's values, so two checkpoints can be compared
 * bit for bit (e.g. a resumed run against an uninterrupted one) without
 * HDF5 tools: the files themselves differ in object timestamps. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/checkpoint.h"
#include "io/runstate.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

/* The hash of a dataset's values read as the type it is stored as, or 0 when
 * it is not a float32/int64/uint64 dataset or cannot be read. */
static int dataset_hash(ckpt_reader *r, const char *path, int rank, const uint64_t *dims,
                        const char *dtype, uint64_t *h)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    int f32 = !strcmp(dtype, "f32"), i64 = !strcmp(dtype, "i64"), u64 = !strcmp(dtype, "u64");
    if (!f32 && !i64 && !u64) return 0;
    size_t bytes = n * (f32 ? 4 : 8);
    photon_err err;
    /* The shape is the file's word: check the data is there before
     * allocating for it. */
    if (ckpt_check_stored(r, path, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        return -1;
    }
    void *buf = xmalloc(bytes);
    int rc = f32 ? ckpt_get_f32(r, path, buf, n, &err)
           : i64 ? ckpt_get_i64(r, path, buf, n, &err)
                 : ckpt_get_u64(r, path, buf, n, &err);
    if (rc == 0) *h = hash64(buf, bytes, HASH64_INIT);
    else fprintf(stderr, "photon-sim: error: %s\n", err.msg);
    free(buf);
    return rc == 0 ? 1 : -1;
}

typedef struct { ckpt_reader *r; int failed; } hash_ctx;

/* Text from the file goes to a terminal: no control characters (escape
 * sequences) but the line breaks and tabs the caller allows. */
static void put_clean(const char *s, int keep_lines)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        putchar(c == 0x7f || (c < 0x20 && !(keep_lines && (c == '\n' || c == '\t'))) ? '?' : c);
    }
}

static int print_entry(const char *path, int rank, const uint64_t *dims, const char *dtype, void *ud)
{
    hash_ctx *hc = ud;   /* NULL unless --hash */
    int depth = 0;
    for (const char *p = path + 1; *p; p++) depth += *p == '/';
    const char *base = strrchr(path, '/') + 1;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    for (char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    if (rank < 0) {
        printf("  %*s%s/\n", 2 * depth, "", name);
        return 0;
    }
    char shape[128] = "(";
    for (int i = 0; i < rank; i++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%s%" PRIu64, i ? ", " : "", dims[i]);
    }
    strncat(shape, rank == 1 ? ",)" : ")", sizeof shape - strlen(shape) - 1);
    printf("  %*s%-*s %-4s %s", 2 * depth, "", 44 - 2 * depth > 8 ? 44 - 2 * depth : 8, name, dtype, shape);
    if (hc) {
        uint64_t h = 0;
        int rc = dataset_hash(hc->r, path, rank, dims, dtype, &h);
        if (rc < 0) hc->failed = 1;   /* said on stderr; the walk goes on */
        if (rc > 0) printf("%*shash %016" PRIx64, shape[0] && strlen(shape) < 16 ? (int)(16 - strlen(shape)) : 1, "", h);
    }
    putchar('\n');
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
    int verify = 0, show_config = 0, hash = 0;
    const cmd_opt opts[] = {
        { "--verify", OPT_FLAG, &verify, 0, 0 },
        { "--config", OPT_FLAG, &show_config, 0, 0 },
        { "--hash", OPT_FLAG, &hash, 0, 0 },
    };
    const char *pos[1];
    if (cmd_parse("inspect", argc, argv, opts, 3, pos, 1, 1) < 0) return PHOTON_EXIT_USAGE;
    const char *path = pos[0];
    photon_err err;
    ckpt_meta m;
    /* A file that crashes the HDF5 library is reported, not fatal; its
     * ordinary damage is reported below, where it shows. */
    if (ckpt_check_untrusted(path, &err) == -2) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        return PHOTON_EXIT_FAIL;
    }
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
        put_clean(m.config, 1);
        if (m.config[0] && m.config[strlen(m.config) - 1] != '\n') putchar('\n');
    }
    int rc = PHOTON_EXIT_OK;
    gpt2_config c;
    int model_ok = ckpt_model_config(r, &c, &err) == 0;
    if (model_ok) {
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
    hash_ctx hc = { r, 0 };
    char said[sizeof err.msg] = "";   /* an error already on stderr is not repeated */
    if (ckpt_visit(r, print_entry, hash ? &hc : NULL, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        snprintf(said, sizeof said, "%s", err.msg);
        rc = PHOTON_EXIT_FAIL;
    }
    if (hc.failed) rc = PHOTON_EXIT_FAIL;
    if (verify) {
        /* ok only for what eval and --resume accept: the same checks they
         * make, in the same functions. */
        runstate_info info = { 0 };
        int state = -1;
        if (model_ok && ckpt_check_params(r, "/model", &c, &err) == 0 && ckpt_verify(r, &err) == 0)
            state = runstate_check(r, path, &c, m.seed, &info, &err);
        if (state >= 0) {
            printf("checksums    ok (every dataset read and its Fletcher-32 checksums verified; all values finite)\n");
            if (state == 1)
                printf("run state    ok (%lld clients, %d with kept optimizer state%s): --resume can continue from it\n",
                       (long long)info.n_clients, info.kept_states, info.has_outer ? ", outer momentum" : "");
            else
                printf("run state    none (a model-only checkpoint: eval, sample and export-hf read it, --resume does not)\n");
        } else {
            printf("verify       FAILED\n");
            if (model_ok && strcmp(err.msg, said) != 0) fprintf(stderr, "photon-sim: error: %s\n", err.msg);
            rc = PHOTON_EXIT_FAIL;
        }
    } else {
        printf("checksums    not verified (--verify reads every dataset)\n");
    }
    free((char *)m.config);
    ckpt_close(r);
    return rc;
}
