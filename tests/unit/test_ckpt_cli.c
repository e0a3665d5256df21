/* The checkpoint commands end to end, through the real photon-sim binary:
 * a tiny model with random (non-trivial) parameters is written as a
 * checkpoint, then
 *   - eval's loss must equal the loss computed here in-process on windows cut
 *     by hand (DESIGN §3), and — when Debian's PyTorch is present — the loss
 *     of tests/hf_reference.py, which rebuilds GPT-2 from export-hf's
 *     model.safetensors + config.json independently;
 *   - inspect lists attributes, shapes and verifies checksums;
 *   - sample is reproducible for a seed and uses the checkpoint's tokenizer;
 *   - bad input (usage, token ids beyond the vocabulary, a corrupt file,
 *     too few windows) fails with the documented exit status and one line. */
#include "harness.h"
#include "io/checkpoint.h"
#include "io/shard.h"
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <unistd.h>

static char out[1 << 16];

/* Random parameters with LayerNorm weights near 1 and non-zero biases, so a
 * wrong mapping of any tensor changes the loss. */
static float *random_params(const gpt2_config *c, uint64_t seed)
{
    size_t n = gpt2_num_params(c);
    float *p = malloc(n * sizeof *p);
    photon_rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = 0.1f * rng_normal(&r);
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    gpt2_tensor lnw[3] = { T_LN1W, T_LN2W, T_LNFW };
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < l.size[lnw[k]]; i++) p[l.offset[lnw[k]] + i] += 1.0f;
    return p;
}

static int write_model(const char *path, const gpt2_config *c, const float *p, const char *config)
{
    photon_err err;
    ckpt_meta m = { .round = 3, .global_step = 96, .tokens_seen = 12345, .seed = 42, .config = config };
    ckpt_writer *w = ckpt_create(path, &m, &err);
    if (!w || ckpt_put_params(w, "/model", c, p, &err) < 0 || ckpt_commit(w, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static void flip_in_chunk(const char *path, const char *dset)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t off[2], size = 0;
    unsigned mask;
    haddr_t addr = 0;
    H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &size);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    int fd = open(path, O_RDWR);
    unsigned char b;
    CHECK_EQ_INT(pread(fd, &b, 1, (off_t)(addr + size / 3)), 1);
    b ^= 0x01;
    CHECK_EQ_INT(pwrite(fd, &b, 1, (off_t)(addr + size / 3)), 1);
    close(fd);
}

/* Mean loss over the first nb*B windows, cut here by hand and run on the CPU backend. */
static double reference_loss(const gpt2_config *c, const float *p, const uint32_t *tok, int nb, int B)
{
    photon_err err;
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = 1 };
    int T = c->seq_len;
    photon_model *m = model_create(c, B, T, &o, &err);
    if (!m) { fprintf(stderr, "%s\n", err.msg); return NAN; }
    m->ops->set_params(m, p);
    uint32_t *win = malloc((size_t)B * (T + 1) * sizeof *win);
    double sum = 0;
    for (int b = 0; b < nb; b++) {
        for (int j = 0; j < B; j++)
            memcpy(win + (size_t)j * (T + 1), tok + (size_t)(b * B + j) * T, (T + 1) * sizeof *win);
        sum += m->ops->forward_loss(m, win);
    }
    free(win);
    model_destroy(m);
    return sum / nb;
}

static void test_eval_export(void)
{
    const char *dir = th_tmpdir(), *bin = th_binary();
    gpt2_config c = { .n_layer = 2, .n_head = 2, .d_model = 32, .seq_len = 16, .vocab_size = 300, .padded_vocab = 320 };
    float *p = random_params(&c, 11);
    char ckpt[600], shardp[600], badshard[600], exp_dir[600], corrupt[600];
    snprintf(ckpt, sizeof ckpt, "%s/model.h5", dir);
    snprintf(shardp, sizeof shardp, "%s/val.bin", dir);
    snprintf(badshard, sizeof badshard, "%s/bad.bin", dir);
    snprintf(exp_dir, sizeof exp_dir, "%s/hf", dir);
    snprintf(corrupt, sizeof corrupt, "%s/corrupt.h5", dir);
    CHECK_EQ_INT(write_model(ckpt, &c, p, "[run]\nname = t\n"), 0);

    enum { NTOK = 16 * 14 + 1 };
    uint32_t tok[NTOK];
    photon_rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < NTOK; i++) tok[i] = (uint32_t)rng_below(&r, 300);
    photon_err err;
    CHECK_EQ_INT(shard_write(shardp, tok, NTOK, 0, &err), 0);

    /* eval: 3 batches of 4 windows */
    int rc = th_run(out, sizeof out, "%s eval %s --data %s --batches 3 --batch 4 --threads 1", bin, ckpt, shardp);
    CHECK_EQ_INT(rc, 0);
    const char *l = strstr(out, "loss ");
    double loss = NAN, ppl = NAN;
    CHECK_MSG(l && sscanf(l, "loss %lf perplexity %lf", &loss, &ppl) == 2, "eval prints loss/perplexity: %s", out);
    double ref = reference_loss(&c, p, tok, 3, 4);
    CHECK_CLOSE(loss, ref, 1e-5);
    CHECK_CLOSE(ppl, exp(ref), 1e-4);
    /* eval's default batches: as many as fit (14 windows / 4 = 3) */
    rc = th_run(out, sizeof out, "%s eval %s --data %s --batch 4 --threads 1", bin, ckpt, shardp);
    CHECK_EQ_INT(rc, 0);
    CHECK_CONTAINS(out, "loss ");
    /* --tokens beyond the shard: every one of the 14 windows (batch 4: the last
     * one padded), one source named after the file (no manifest beside it) */
    rc = th_run(out, sizeof out, "%s eval %s --data %s --tokens 100000 --batch 4 --threads 1", bin, ckpt, shardp);
    CHECK_EQ_INT(rc, 0);
    double sloss = NAN, sppl = NAN;
    l = strstr(out, "loss ");
    CHECK_MSG(l && sscanf(l, "loss %lf perplexity %lf", &sloss, &sppl) == 2, "eval --tokens prints loss/perplexity: %s", out);
    CHECK_CLOSE(sloss, reference_loss(&c, p, tok, 7, 2), 1e-5);
    CHECK_CONTAINS(out, "source val loss ");
    CHECK_CONTAINS(out, " windows 14\n");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --tokens 64 --batches 2", bin, ckpt, shardp), 2);
    CHECK_CONTAINS(out, "give one of them");

    /* export-hf, then PyTorch's independent loss on the exported files */
    rc = th_run(out, sizeof out, "%s export-hf %s %s", bin, ckpt, exp_dir);
    CHECK_EQ_INT(rc, 0);
    char st[700];
    snprintf(st, sizeof st, "%s/model.safetensors", exp_dir);
    FILE *f = fopen(st, "rb");
    CHECK(f != NULL);
    if (f) {
        unsigned char h[40];
        CHECK_EQ_INT(fread(h, 1, 40, f), 40);
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)h[i] << (8 * i);
        CHECK_EQ_INT(hl % 8, 0);
        CHECK(memcmp(h + 8, "{\"__metadata__\":{\"format\":\"pt\"}", 31) == 0);
        fseek(f, 0, SEEK_END);
        /* header + every tensor, wte trimmed to the true vocabulary */
        size_t want = gpt2_num_params(&c) - (size_t)(c.padded_vocab - c.vocab_size) * c.d_model;
        CHECK_EQ_INT((size_t)ftell(f), 8 + hl + 4 * want);
        fclose(f);
    }
    const char *py = getenv("PHOTON_PYTHON");
    if (py && *py && access(py, X_OK) == 0) {
        rc = th_run(out, sizeof out, "%s %s/tests/hf_reference.py %s --shard %s --batches 3 --batch 4 --expect-loss %.9g",
                    py, th_source_dir(), exp_dir, shardp, loss);
        printf("   %s", out);
        CHECK_MSG(rc == 0 || rc == 77, "hf_reference.py agrees (rc %d): %s", rc, out);
    } else {
        printf("   PHOTON_PYTHON not set: PyTorch reference skipped\n");
    }

    /* inspect */
    rc = th_run(out, sizeof out, "%s inspect %s --verify", bin, ckpt);
    CHECK_EQ_INT(rc, 0);
    CHECK_CONTAINS(out, "round        3");
    CHECK_CONTAINS(out, "tokens_seen  12345");
    CHECK_CONTAINS(out, "n_layer 2, n_head 2, d_model 32, seq_len 16, vocab_size 300 (wte rows 320)");
    CHECK_CONTAINS(out, "transformer.h.1.mlp.c_proj.weight");
    CHECK_CONTAINS(out, "f32  (128, 32)");
    CHECK_CONTAINS(out, "checksums    ok");

    /* bad input */
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s", bin, ckpt), 2);
    CHECK_CONTAINS(out, "--data SHARD.bin is required");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --batches 0", bin, ckpt, shardp), 2);
    CHECK_CONTAINS(out, "--batches '0'");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --bogus", bin, ckpt, shardp), 2);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s inspect", bin), 2);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --backend tpu", bin, ckpt, shardp), 2);
    CHECK_CONTAINS(out, "--backend 'tpu': expected auto, cpu or cuda");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --batches 4 --batch 4", bin, ckpt, shardp), 1);
    CHECK_CONTAINS(out, "hold 14 windows");
    tok[77] = 300;   /* one past the vocabulary */
    CHECK_EQ_INT(shard_write(badshard, tok, NTOK, 0, &err), 0);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --batches 1", bin, ckpt, badshard), 1);
    CHECK_CONTAINS(out, "bad.bin");
    CHECK_CONTAINS(out, "300");
    printf("   %s", out);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt, corrupt), 0);
    flip_in_chunk(corrupt, "/model/transformer.h.0.attn.c_attn.weight");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s --batches 1", bin, corrupt, shardp), 1);
    CHECK_CONTAINS(out, "checksum mismatch in /model/transformer.h.0.attn.c_attn.weight: the file is corrupt");
    printf("   %s", out);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s inspect %s --verify", bin, corrupt), 1);
    CHECK_CONTAINS(out, "checksum mismatch");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s export-hf %s %s/hf2", bin, corrupt, dir), 1);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s eval %s --data %s", bin, shardp, shardp), 1);
    CHECK_CONTAINS(out, "not an HDF5 file");
    free(p);
}

static void test_sample(void)
{
    const char *dir = th_tmpdir(), *bin = th_binary();
    gpt2_config c = { .n_layer = 1, .n_head = 2, .d_model = 16, .seq_len = 8, .vocab_size = 50257, .padded_vocab = 50304 };
    float *p = random_params(&c, 3);
    char ckpt[600], config[1200], a[4096];
    snprintf(ckpt, sizeof ckpt, "%s/gpt2tok.h5", dir);
    /* The checkpoint records the tokenizer it was trained with. */
    snprintf(config, sizeof config, "[run]\nname = s\nout_dir = %s/run\n\n[data]\ntokenizer = %s/data/tokenizer/gpt2\n",
             dir, th_source_dir());
    CHECK_EQ_INT(write_model(ckpt, &c, p, config), 0);
    free(p);

    int rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'Hello world' --tokens 12 --seed 5 2>/dev/null)", bin, ckpt);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strncmp(out, "Hello world", 11) == 0, "output starts with the prompt: %s", out);
    CHECK(strlen(out) > 13);
    memcpy(a, out, sizeof a - 1);   /* out is NUL-terminated within a's size */
    a[sizeof a - 1] = 0;
    rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'Hello world' --tokens 12 --seed 5 --tokenizer %s/data/tokenizer/gpt2 2>/dev/null)",
                bin, ckpt, th_source_dir());
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strcmp(a, out) == 0, "same seed, same text");
    rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'Hello world' --tokens 12 --seed 6 2>/dev/null)", bin, ckpt);
    CHECK_MSG(rc == 0 && strcmp(a, out) != 0, "another seed, another text");
    rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'Hello world' --tokens 12 --temperature 0 --top-k 5 2>/dev/null)", bin, ckpt);
    memcpy(a, out, sizeof a - 1);   /* out is NUL-terminated within a's size */
    a[sizeof a - 1] = 0;
    CHECK_EQ_INT(rc, 0);
    rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'Hello world' --tokens 12 --temperature 0 --seed 99 2>/dev/null)", bin, ckpt);
    CHECK_MSG(rc == 0 && strcmp(a, out) == 0, "greedy decoding ignores the seed and top-k");
    rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'x' --tokens 20 --top-k 1 --seed 1 2>/dev/null)", bin, ckpt);
    char b[4096];
    memcpy(b, out, sizeof b - 1);
    b[sizeof b - 1] = 0;
    rc |= th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'x' --tokens 20 --temperature 0 2>/dev/null)", bin, ckpt);
    CHECK_MSG(rc == 0 && strcmp(b, out) == 0, "top-k 1 is greedy");

    /* Greedy text against PyTorch (and transformers, when installed) on the
     * export; 2 + 10 tokens > seq_len 8, so the context window slides. */
    const char *py = getenv("PHOTON_PYTHON");
    if (py && *py && access(py, X_OK) == 0) {
        char ids[256] = "";
        rc = th_run(out, sizeof out, "printf 'Hello world' | %s encode --tokenizer %s/data/tokenizer/gpt2",
                    bin, th_source_dir());
        CHECK_EQ_INT(rc, 0);
        memcpy(ids, out, sizeof ids - 1);
        ids[sizeof ids - 1] = 0;
        ids[strcspn(ids, "\n")] = '\0';
        rc = th_run(out, sizeof out, "%s export-hf %s %s/hf", bin, ckpt, dir);
        CHECK_EQ_INT(rc, 0);
        rc = th_run(out, sizeof out, "(%s sample --threads 1 %s --prompt 'Hello world' --tokens 10 --temperature 0 > %s/greedy.txt 2>/dev/null)",
                    bin, ckpt, dir);
        CHECK_EQ_INT(rc, 0);
        rc = th_run(out, sizeof out, "%s %s/tests/hf_reference.py %s/hf --prompt-ids '%s' --generate 10 --expect-text %s/greedy.txt",
                    py, th_source_dir(), dir, ids, dir);
        printf("   %s", out);
        CHECK_MSG(rc == 0 || rc == 77, "hf_reference.py greedy text agrees (rc %d): %s", rc, out);
    }

    CHECK_EQ_INT(th_run(out, sizeof out, "%s sample %s", bin, ckpt), 2);
    CHECK_CONTAINS(out, "--prompt TEXT is required");
    CHECK_EQ_INT(th_run(out, sizeof out, "%s sample --threads 1 %s --prompt hi --temperature -1", bin, ckpt), 2);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s sample --threads 1 %s --prompt hi --tokenizer %s", bin, ckpt, dir), 1);
    CHECK_CONTAINS(out, "no tokenizer there");

    /* A trained tokenizer is found in the run directory the checkpoint sits in,
     * even when the recorded out_dir (relative) does not lead there. */
    char tdir[700], tckpt[700], tconf[400];
    snprintf(tdir, sizeof tdir, "%s/run/data/tokenizer", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "mkdir -p %s %s/run/checkpoints && cp %s/data/tokenizer/gpt2/encoder.json %s/data/tokenizer/gpt2/vocab.bpe %s",
                        tdir, dir, th_source_dir(), th_source_dir(), tdir), 0);
    snprintf(tckpt, sizeof tckpt, "%s/run/checkpoints/ckpt-000001.h5", dir);
    snprintf(tconf, sizeof tconf, "[run]\nname = s\nout_dir = elsewhere/run\n\n[data]\ntokenizer = train\n");
    p = random_params(&c, 3);
    CHECK_EQ_INT(write_model(tckpt, &c, p, tconf), 0);
    free(p);
    rc = th_run(out, sizeof out, "(cd / && %s sample --threads 1 %s --prompt 'Hello world' --tokens 12 --seed 5 2>/dev/null)", bin, tckpt);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(strncmp(out, "Hello world", 11) == 0, "trained tokenizer found next to the checkpoint: %s", out);
    snprintf(tconf, sizeof tconf, "[data]\ntokenizer = train\n");
    CHECK_EQ_INT(write_model(tckpt, &c, (p = random_params(&c, 3)), tconf), 0);
    free(p);
    CHECK_EQ_INT(th_run(out, sizeof out, "rm -r %s/run/data && %s sample --threads 1 %s --prompt hi", dir, bin, tckpt), 1);
    CHECK_CONTAINS(out, "tokenizer was not found");
    CHECK_CONTAINS(out, "pass --tokenizer DIR");

    /* A tokenizer larger than the model's vocabulary is refused. */
    gpt2_config small = { .n_layer = 1, .n_head = 1, .d_model = 8, .seq_len = 8, .vocab_size = 100, .padded_vocab = 100 };
    p = random_params(&small, 4);
    snprintf(ckpt, sizeof ckpt, "%s/small.h5", dir);
    CHECK_EQ_INT(write_model(ckpt, &small, p, config), 0);
    free(p);
    CHECK_EQ_INT(th_run(out, sizeof out, "%s sample --threads 1 %s --prompt hi", bin, ckpt), 1);
    CHECK_CONTAINS(out, "not the model's tokenizer");
}

int main(void)
{
    RUN(test_eval_export);
    RUN(test_sample);
    return th_finish();
}
