/* `photon-sim export-hf CKPT.h5 DIR`: writes DIR/model.safetensors,
 * DIR/config.json and DIR/generation_config.json that Hugging Face
 * transformers loads as GPT2LMHeadModel, plus a complete tokenizer
 * (io/hf_tokenizer_export.h) when the checkpoint's tokenizer is found, so
 * AutoTokenizer and pipeline("text-generation") load DIR as it is.
 *
 * safetensors is written directly (its whole format): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets}, ...,
 * "__metadata__": {"format": "pt"}} padded with spaces to 8 bytes, then the
 * raw little-endian tensor bytes in header order.  Tensors keep the HF GPT-2
 * names and Conv1D shapes of the checkpoint's /model; wte is trimmed to the
 * true vocabulary (padded rows are never predicted) and lm_head.weight is
 * left out because GPT2LMHeadModel ties it to wte.  Every file is written
 * atomically (temp file, fsync, rename), all of them first into a staging
 * directory inside DIR, so a failed export changes nothing in DIR. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/hf_gpt2.h"
#include "io/hf_tokenizer_export.h"
#include "io/tokenizer.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

/* Shape of tensor k as exported (wte trimmed to vocab_size rows). */
static void export_tensor(const gpt2_config *c, int k, hf_tensor *t)
{
    hf_gpt2_tensor(c, k, t);
    if (t->t == T_WTE) t->dims[0] = (size_t)c->vocab_size;
}

static char *safetensors_header(const gpt2_config *c, size_t *len)
{
    size_t cap = 256 + (size_t)hf_gpt2_count(c) * 160, n = 0;
    char *h = xmalloc(cap);
    n += (size_t)snprintf(h + n, cap - n, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int k = 0; k < hf_gpt2_count(c); k++) {
        hf_tensor t;
        export_tensor(c, k, &t);
        size_t bytes = hf_tensor_numel(&t) * 4;
        if (t.rank == 1)
            n += (size_t)snprintf(h + n, cap - n, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                                  t.name, t.dims[0], off, off + bytes);
        else
            n += (size_t)snprintf(h + n, cap - n, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                                  t.name, t.dims[0], t.dims[1], off, off + bytes);
        off += bytes;
    }
    n += (size_t)snprintf(h + n, cap - n, "}");
    while ((8 + n) % 8) h[n++] = ' ';   /* data starts 8-byte aligned */
    *len = n;
    return h;
}

static void put_u64le(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static int write_safetensors(const char *path, const gpt2_config *c, const float *params, photon_err *err)
{
    atomic_file *f = afile_open(path, err);
    if (!f) return -1;
    FILE *s = afile_stream(f);
    size_t hlen;
    char *hdr = safetensors_header(c, &hlen);
    unsigned char lenb[8];
    put_u64le(lenb, hlen);
    fwrite(lenb, 1, 8, s);
    fwrite(hdr, 1, hlen, s);
    free(hdr);
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    float *buf = xmalloc(hf_gpt2_max_numel(c) * sizeof(float));
    for (int k = 0; k < hf_gpt2_count(c); k++) {
        hf_tensor full, t;
        hf_gpt2_tensor(c, k, &full);
        export_tensor(c, k, &t);
        hf_gpt2_gather(c, &l, &full, params, buf);
        size_t n = hf_tensor_numel(&t);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &buf[i], 4);
            u = __builtin_bswap32(u);
            memcpy(&buf[i], &u, 4);
        }
#endif
        fwrite(buf, sizeof(float), n, s);
    }
    free(buf);
    return afile_commit(f, err);   /* checks the stream's error state */
}

static int write_config_json(const char *path, const gpt2_config *c, const ckpt_meta *m, int eot, photon_err *err)
{
    atomic_file *f = afile_open(path, err);
    if (!f) return -1;
    FILE *s = afile_stream(f);
    fprintf(s,
            "{\n"
            "  \"architectures\": [\"GPT2LMHeadModel\"],\n"
            "  \"model_type\": \"gpt2\",\n"
            "  \"vocab_size\": %d,\n"
            "  \"n_positions\": %d,\n"
            "  \"n_ctx\": %d,\n"
            "  \"n_embd\": %d,\n"
            "  \"n_layer\": %d,\n"
            "  \"n_head\": %d,\n"
            "  \"n_inner\": null,\n"
            "  \"activation_function\": \"gelu_new\",\n"
            "  \"layer_norm_epsilon\": 1e-05,\n"
            "  \"initializer_range\": 0.02,\n"
            "  \"resid_pdrop\": 0.0,\n"
            "  \"embd_pdrop\": 0.0,\n"
            "  \"attn_pdrop\": 0.0,\n"
            "  \"scale_attn_weights\": true,\n"
            "  \"scale_attn_by_inverse_layer_idx\": false,\n"
            "  \"reorder_and_upcast_attn\": false,\n"
            "  \"tie_word_embeddings\": true,\n"
            "  \"use_cache\": true,\n"
            "  \"torch_dtype\": \"float32\",\n",
            c->vocab_size, c->seq_len, c->seq_len, c->d_model, c->n_layer, c->n_head);
    if (eot >= 0 && eot < c->vocab_size)
        fprintf(s, "  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n", eot, eot);
    fprintf(s, "  \"photon_sim\": {\"round\": %lld, \"global_step\": %lld, \"tokens_seen\": %lld, \"seed\": %llu}\n}\n",
            (long long)m->round, (long long)m->global_step, (long long)m->tokens_seen,
            (unsigned long long)m->seed);
    return afile_commit(f, err);
}

/* generation_config.json: GPT-2's end-of-text token starts and ends texts. */
static int write_generation_config(const char *path, int eot, photon_err *err)
{
    atomic_file *f = afile_open(path, err);
    if (!f) return -1;
    FILE *s = afile_stream(f);
    fputs("{\n  \"_from_model_config\": true", s);
    if (eot >= 0) fprintf(s, ",\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %d", eot, eot);
    fputs("\n}\n", s);
    return afile_commit(f, err);
}

/* Removes DIR/.export-hf.tmp.PID staging directories of exports that were
 * killed (their process is gone); they hold only files of that export. */
static void remove_stale_stages(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *pre = ".export-hf.tmp.";
        if (strncmp(e->d_name, pre, strlen(pre)) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + strlen(pre), &end, 10);
        if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char stage[4200], f[4500];
        path_join(stage, sizeof stage, dir, e->d_name);
        DIR *sd = opendir(stage);
        struct dirent *se;
        while (sd && (se = readdir(sd)) != NULL) {
            if (strcmp(se->d_name, ".") == 0 || strcmp(se->d_name, "..") == 0) continue;
            path_join(f, sizeof f, stage, se->d_name);
            unlink(f);
        }
        if (sd) closedir(sd);
        if (rmdir(stage) == 0) log_info("removed %s, left by an interrupted export", stage);
    }
    closedir(d);
}

int cmd_export_hf(int argc, char **argv)
{
    const char *tok_opt = NULL;
    const cmd_opt opts[] = { { "--tokenizer", OPT_STR, &tok_opt, 0, 0 } };
    const char *pos[2];
    if (cmd_parse("export-hf", argc, argv, opts, 1, pos, 2, 2) < 0) return PHOTON_EXIT_USAGE;
    photon_err err;
    gpt2_config c;
    float *params;
    ckpt_meta m;
    if (cmd_load_params(pos[0], &c, &params, &m, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        return PHOTON_EXIT_FAIL;
    }
    int rc = PHOTON_EXIT_FAIL, eot = -1;
    char tokdir[4096] = "", path[4200];
    photon_err terr = { "" };
    if (cmd_find_tokenizer(tok_opt, pos[0], m.config, tokdir, sizeof tokdir, &terr) == 0) {
        tokenizer *t = tok_load(tokdir, &terr);
        if (t) {
            eot = tok_eot(t);
            if (tok_vocab_size(t) > c.vocab_size) {
                err_set(&terr, "tokenizer %s has %d tokens, more than the model's vocab_size %d",
                        tokdir, tok_vocab_size(t), c.vocab_size);
                tokdir[0] = '\0';
            }
            tok_free(t);
        } else {
            tokdir[0] = '\0';
        }
    }
    if (!tokdir[0]) {
        if (tok_opt) {
            fprintf(stderr, "photon-sim: error: %s\n", terr.msg);
            goto out;
        }
        log_warn("no tokenizer exported (%s)", terr.msg);
    }
    /* The files are written into a staging directory inside DIR and renamed
     * into place only when all of them are written: a failed export leaves
     * DIR as it was (an earlier export stays whole, a new DIR is removed). */
    struct stat st;
    int created = stat(pos[1], &st) != 0;
    if (mkdir_p(pos[1], &err) < 0) goto fail;
    remove_stale_stages(pos[1]);
    char stage[4200];
    snprintf(stage, sizeof stage, "%s/.export-hf.tmp.%ld", pos[1], (long)getpid());
    if (mkdir(stage, 0777) != 0) {
        err_set(&err, "%s: cannot create directory: %s", stage, strerror(errno));
        goto fail_dir;
    }
    enum { NFILES = 3 + HF_TOKENIZER_FILES };
    const char *names[NFILES] = { "model.safetensors", "config.json", "generation_config.json" };
    for (int i = 0; i < HF_TOKENIZER_FILES; i++) names[3 + i] = hf_tokenizer_files[i];
    int nfiles = tokdir[0] ? NFILES : 3;
    path_join(path, sizeof path, stage, names[0]);
    if (write_safetensors(path, &c, params, &err) < 0) goto fail_stage;
    path_join(path, sizeof path, stage, names[1]);
    if (write_config_json(path, &c, &m, eot, &err) < 0) goto fail_stage;
    path_join(path, sizeof path, stage, names[2]);
    if (write_generation_config(path, tokdir[0] ? eot : -1, &err) < 0) goto fail_stage;
    if (tokdir[0] && hf_tokenizer_export(tokdir, stage, c.seq_len, &err) < 0) goto fail_stage;
    for (int i = 0; i < nfiles; i++) {
        char to[4200];
        path_join(path, sizeof path, stage, names[i]);
        path_join(to, sizeof to, pos[1], names[i]);
        if (rename(path, to) != 0) {
            err_set(&err, "%s: cannot rename to %s: %s", path, to, strerror(errno));
            goto fail_stage;
        }
    }
    rmdir(stage);
    if (fsync_dir(pos[1], &err) < 0) goto fail;
    printf("exported %s (round %lld) to %s: model.safetensors, config.json, generation_config.json%s\n", pos[0],
           (long long)m.round, pos[1], tokdir[0] ? ", tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.json, merges.txt" : "");
    rc = PHOTON_EXIT_OK;
    goto out;
fail_stage:
    for (int i = 0; i < NFILES; i++) {
        path_join(path, sizeof path, stage, names[i]);
        unlink(path);
    }
    rmdir(stage);
fail_dir:
    if (created) rmdir(pos[1]);
fail:
    fprintf(stderr, "photon-sim: error: %s\n", err.msg);
out:
    free(params);
    free((char *)m.config);
    return rc;
}
