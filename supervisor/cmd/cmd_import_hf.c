/* `photon-sim import-hf HF_DIR OUT.h5`: a Hugging Face GPT-2 directory
 * (config.json + safetensors, see io/hf_import.h) as a photon-sim
 * checkpoint (DESIGN §5) at round 0, which eval, sample, inspect and
 * export-hf read and [run] init_from starts a run from.  The checkpoint's
 * recorded configuration holds the model's shape and, when HF_DIR has a
 * tokenizer, [data] tokenizer = HF_DIR.  OUT.h5 is never replaced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/hf_import.h"
#include "io/tokenizer.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

/* The resolved INI text recorded in the checkpoint. */
static char *config_text(const char *dir, const gpt2_config *g, int has_tokenizer)
{
    photon_config *c = xmalloc(sizeof *c);
    config_defaults(c);
    snprintf(c->run.name, sizeof c->run.name, "imported");
    c->model.n_layer = g->n_layer;
    c->model.n_head = g->n_head;
    c->model.d_model = g->d_model;
    c->model.seq_len = g->seq_len;
    c->model.vocab_size = g->vocab_size;
    if (has_tokenizer && strlen(dir) < sizeof c->data.tokenizer) memcpy(c->data.tokenizer, dir, strlen(dir) + 1);
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f) die(PHOTON_EXIT_FAIL, "out of memory");
    fprintf(f, "; imported by photon-sim import-hf from %s\n", dir);
    config_dump(c, f);
    fclose(f);
    free(c);
    return text;
}

int cmd_import_hf(int argc, char **argv)
{
    const char *pos[2];
    if (cmd_parse("import-hf", argc, argv, NULL, 0, pos, 2, 2) < 0) return PHOTON_EXIT_USAGE;
    if (file_exists(pos[1])) {
        fprintf(stderr, "photon-sim: error: %s: exists; import-hf does not replace files (remove it or choose another name)\n", pos[1]);
        return PHOTON_EXIT_FAIL;
    }
    photon_err err;
    gpt2_config c;
    float *params;
    char dir[4096];
    if (!realpath(pos[0], dir)) snprintf(dir, sizeof dir, "%s", pos[0]);
    if (hf_import(dir, &c, &params, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        return PHOTON_EXIT_FAIL;
    }
    photon_err terr;
    tokenizer *t = tok_load(dir, &terr);
    int has_tok = t != NULL && tok_vocab_size(t) <= c.vocab_size;
    if (!t) log_info("no tokenizer imported (%s)", terr.msg);
    else if (!has_tok) log_warn("the tokenizer in %s has %d tokens, more than the model's %d: not recorded", dir,
                                tok_vocab_size(t), c.vocab_size);
    tok_free(t);
    char *cfg = config_text(dir, &c, has_tok);
    ckpt_meta m = { 0, 0, 0, 0, cfg };
    ckpt_writer *w = ckpt_create(pos[1], &m, &err);
    int rc = PHOTON_EXIT_FAIL, ok = 0;
    if (w) {
        if (ckpt_put_params(w, "/model", &c, params, &err) == 0) ok = ckpt_commit(w, &err) == 0;   /* commit frees w */
        else ckpt_abort(w);
    }
    if (ok) {
        printf("imported %s (GPT-2: %d layers, %d heads, d_model %d, %d positions, vocabulary %d; %zu parameters) to %s\n",
               dir, c.n_layer, c.n_head, c.d_model, c.seq_len, c.vocab_size, gpt2_num_params(&c), pos[1]);
        rc = PHOTON_EXIT_OK;
    } else {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
    }
    free(cfg);
    free(params);
    return rc;
}
