/* HDF5 checkpoints (io/checkpoint.h): bitwise round trip of the model and
 * the run-state groups, the Hugging Face layout checked element by element
 * against the internal layout written out here independently, and every bad
 * input — not HDF5, truncated, wrong format / format_version, missing or
 * misshapen tensor, another model, a flipped byte inside a dataset's chunk —
 * failing with one clear line.  Failed writes (the Nth, or at fsync) must
 * leave the previous checkpoint intact and no temporary file behind. */
#include "harness.h"
#include "io/checkpoint.h"
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const gpt2_config CFG = { .n_layer = 2, .n_head = 2, .d_model = 16, .seq_len = 8,
                                  .vocab_size = 50, .padded_vocab = 64 };
static const char *CONFIG_TEXT = "[run]\nname = ckpt-test\nseed = 7\n\n[model]\nn_layer = 2\n";

/* Distinct values everywhere, so a transposition or slicing mistake shows. */
static float *make_params(const gpt2_config *c, float base)
{
    size_t n = gpt2_num_params(c);
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = base + (float)i * 1e-3f + (float)(i % 7) * 0.25f;
    return p;
}

static const char *path_in(const char *dir, const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* Writes a full run-state checkpoint: model, outer optimizer, a client, sampler. */
static int write_ckpt(const char *path, int64_t round, const float *params, photon_err *err)
{
    ckpt_meta m = { .round = round, .global_step = round * 128, .tokens_seen = round * 1000000LL,
                    .seed = 0xfedcba9876543210ULL, .config = CONFIG_TEXT };
    ckpt_writer *w = ckpt_create(path, &m, err);
    if (!w) return -1;
    size_t n = gpt2_num_params(&CFG);
    float *mom = malloc(n * sizeof *mom);
    for (size_t i = 0; i < n; i++) mom[i] = -params[i] * 0.5f;
    int64_t step = 77, pos[3] = { 1, -2, 1LL << 40 };
    uint64_t rng[4] = { 1, 2, UINT64_MAX, 0x8000000000000000ULL };
    int rc = ckpt_put_params(w, "/model", &CFG, params, err);
    if (!rc) rc = ckpt_put_params(w, "/outer_optimizer", &CFG, mom, err);
    if (!rc) rc = ckpt_put_params(w, "/clients/3/adam_m", &CFG, mom, err);
    if (!rc) rc = ckpt_put_f32(w, "/clients/3/adam_v", params, n, err);
    if (!rc) rc = ckpt_put_i64(w, "/clients/3/step", &step, 1, err);
    if (!rc) rc = ckpt_put_i64(w, "/clients/3/data_pos", pos, 3, err);
    if (!rc) rc = ckpt_put_u64(w, "/sampler/rng", rng, 4, err);
    if (!rc) rc = ckpt_put_u64(w, "/empty", rng, 0, err);
    free(mom);
    if (rc) { ckpt_abort(w); return -1; }
    return ckpt_commit(w, err);
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void test_round_trip(void)
{
    const char *dir = th_tmpdir(), *path = path_in(dir, "a.h5");
    photon_err err = { "" };
    float *p = make_params(&CFG, 1.0f);
    size_t n = gpt2_num_params(&CFG);
    CHECK_EQ_INT(write_ckpt(path, 5, p, &err), 0);
    CHECK_MSG(err.msg[0] == 0, "no error: %s", err.msg);
    CHECK_EQ_INT(count_tmp_files(dir), 0);

    ckpt_meta m;
    ckpt_reader *r = ckpt_open(path, &m, &err);
    CHECK(r != NULL);
    if (!r) { fprintf(stderr, "%s\n", err.msg); free(p); return; }
    CHECK_EQ_INT(m.round, 5);
    CHECK_EQ_INT(m.global_step, 640);
    CHECK_EQ_INT(m.tokens_seen, 5000000);
    CHECK(m.seed == 0xfedcba9876543210ULL);
    CHECK_STR(m.config, CONFIG_TEXT);
    free((char *)m.config);

    gpt2_config c = { 0 };
    CHECK_EQ_INT(ckpt_model_config(r, &c, &err), 0);
    CHECK_EQ_INT(c.n_layer, 2);
    CHECK_EQ_INT(c.n_head, 2);
    CHECK_EQ_INT(c.d_model, 16);
    CHECK_EQ_INT(c.seq_len, 8);
    CHECK_EQ_INT(c.vocab_size, 50);
    CHECK_EQ_INT(c.padded_vocab, 64);

    float *q = calloc(n, sizeof *q), *mom = calloc(n, sizeof *mom);
    CHECK_EQ_INT(ckpt_get_params(r, "/model", &c, q, &err), 0);
    CHECK_MSG(memcmp(p, q, n * sizeof *p) == 0, "model parameters round-trip bitwise");
    CHECK_EQ_INT(ckpt_get_params(r, "/outer_optimizer", &c, mom, &err), 0);
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= mom[i] == -p[i] * 0.5f;
    CHECK_MSG(ok, "outer optimizer round-trips bitwise");
    memset(mom, 0, n * sizeof *mom);
    CHECK_EQ_INT(ckpt_get_params(r, "clients/3/adam_m", &c, mom, &err), 0);
    ok = 1;
    for (size_t i = 0; i < n; i++) ok &= mom[i] == -p[i] * 0.5f;
    CHECK_MSG(ok, "client optimizer state round-trips bitwise");
    memset(q, 0, n * sizeof *q);
    CHECK_EQ_INT(ckpt_get_f32(r, "/clients/3/adam_v", q, n, &err), 0);
    CHECK(memcmp(p, q, n * sizeof *p) == 0);
    int64_t step = 0, pos[3] = { 0 };
    uint64_t rng[4] = { 0 };
    CHECK_EQ_INT(ckpt_get_i64(r, "/clients/3/step", &step, 1, &err), 0);
    CHECK_EQ_INT(step, 77);
    CHECK_EQ_INT(ckpt_get_i64(r, "/clients/3/data_pos", pos, 3, &err), 0);
    CHECK(pos[0] == 1 && pos[1] == -2 && pos[2] == 1LL << 40);
    CHECK_EQ_INT(ckpt_get_u64(r, "/sampler/rng", rng, 4, &err), 0);
    CHECK(rng[0] == 1 && rng[1] == 2 && rng[2] == UINT64_MAX && rng[3] == 0x8000000000000000ULL);
    CHECK_EQ_INT(ckpt_get_u64(r, "/empty", rng, 0, &err), 0);
    CHECK(ckpt_has(r, "/clients/3/step"));
    CHECK(!ckpt_has(r, "/clients/4/step"));
    CHECK(!ckpt_has(r, "/nope"));
    /* Wrong size and missing generic datasets are errors, not short reads. */
    CHECK_EQ_INT(ckpt_get_i64(r, "/clients/3/data_pos", pos, 2, &err), -1);
    CHECK_CONTAINS(err.msg, "has 3 elements, expected 2");
    CHECK_EQ_INT(ckpt_get_u64(r, "/sampler/missing", rng, 4, &err), -1);
    CHECK_CONTAINS(err.msg, "missing dataset /sampler/missing");
    CHECK_EQ_INT(ckpt_get_f32(r, "/clients/3/step", q, 1, &err), -1);
    CHECK_CONTAINS(err.msg, "is not float");
    CHECK_EQ_INT(ckpt_verify(r, &err), 0);
    ckpt_close(r);
    free(q);
    free(mom);
    free(p);
}

/* HF names and Conv1D shapes, checked against gpu/model.h's documented flat
 * layout computed here by hand (not through io/hf_gpt2.c). */
static void test_hf_layout(void)
{
    const char *dir = th_tmpdir(), *path = path_in(dir, "hf.h5");
    photon_err err = { "" };
    float *p = make_params(&CFG, 3.0f);
    CHECK_EQ_INT(write_ckpt(path, 1, p, &err), 0);
    ckpt_reader *r = ckpt_open(path, NULL, &err);
    CHECK(r != NULL);
    if (!r) { free(p); return; }
    const size_t L = 2, C = 16, Vp = 64, T = 8;
    /* offsets of the flat layout: wte | wpe | ln1w | ln1b | qkvw | qkvb | attprojw | attprojb |
     * ln2w | ln2b | fcw | fcb | fcprojw | fcprojb | lnfw | lnfb */
    size_t o_wte = 0, o_wpe = Vp * C, o_ln1w = o_wpe + T * C, o_ln1b = o_ln1w + L * C;
    size_t o_qkvw = o_ln1b + L * C, o_qkvb = o_qkvw + L * 3 * C * C, o_apw = o_qkvb + L * 3 * C;
    size_t o_apb = o_apw + L * C * C, o_ln2w = o_apb + L * C, o_ln2b = o_ln2w + L * C;
    size_t o_fcw = o_ln2b + L * C, o_fcb = o_fcw + L * 4 * C * C, o_fpw = o_fcb + L * 4 * C;
    size_t o_fpb = o_fpw + L * C * 4 * C, o_lnfw = o_fpb + L * C, o_lnfb = o_lnfw + C;
    CHECK_EQ_INT(o_lnfb + C, gpt2_num_params(&CFG));

    float *buf = malloc(4 * C * C * sizeof *buf);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.wte.weight", buf, Vp * C, &err), 0);
    CHECK(buf[63 * C + 5] == p[o_wte + 63 * C + 5]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.wpe.weight", buf, T * C, &err), 0);
    CHECK(buf[7 * C + 1] == p[o_wpe + 7 * C + 1]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.ln_1.bias", buf, C, &err), 0);
    CHECK(buf[3] == p[o_ln1b + C + 3]);
    /* c_attn.weight (C, 3C): [i][o] = qkvw[layer][o][i] */
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.attn.c_attn.weight", buf, 3 * C * C, &err), 0);
    int ok = 1;
    for (size_t i = 0; i < C; i++)
        for (size_t o = 0; o < 3 * C; o++) ok &= buf[i * 3 * C + o] == p[o_qkvw + 3 * C * C + o * C + i];
    CHECK_MSG(ok, "c_attn.weight is the transpose of qkvw[1]");
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.0.attn.c_attn.bias", buf, 3 * C, &err), 0);
    CHECK(buf[40] == p[o_qkvb + 40]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.attn.c_proj.weight", buf, C * C, &err), 0);
    CHECK(buf[2 * C + 9] == p[o_apw + C * C + 9 * C + 2]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.attn.c_proj.bias", buf, C, &err), 0);
    CHECK(buf[4] == p[o_apb + C + 4]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.0.ln_2.weight", buf, C, &err), 0);
    CHECK(buf[15] == p[o_ln2w + 15]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.ln_2.bias", buf, C, &err), 0);
    CHECK(buf[0] == p[o_ln2b + C]);
    /* c_fc.weight (C, 4C): [i][o] = fcw[layer][o][i] */
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.mlp.c_fc.weight", buf, 4 * C * C, &err), 0);
    CHECK(buf[5 * 4 * C + 50] == p[o_fcw + 4 * C * C + 50 * C + 5]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.mlp.c_fc.bias", buf, 4 * C, &err), 0);
    CHECK(buf[63] == p[o_fcb + 4 * C + 63]);
    /* c_proj.weight (4C, C): [i][o] = fcprojw[layer][o][i] */
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.0.mlp.c_proj.weight", buf, 4 * C * C, &err), 0);
    ok = 1;
    for (size_t i = 0; i < 4 * C; i++)
        for (size_t o = 0; o < C; o++) ok &= buf[i * C + o] == p[o_fpw + o * 4 * C + i];
    CHECK_MSG(ok, "mlp.c_proj.weight is the transpose of fcprojw[0]");
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.h.1.mlp.c_proj.bias", buf, C, &err), 0);
    CHECK(buf[6] == p[o_fpb + C + 6]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.ln_f.weight", buf, C, &err), 0);
    CHECK(buf[2] == p[o_lnfw + 2]);
    CHECK_EQ_INT(ckpt_get_f32(r, "/model/transformer.ln_f.bias", buf, C, &err), 0);
    CHECK(buf[2] == p[o_lnfb + 2]);
    free(buf);
    ckpt_close(r);
    free(p);
}

/* Opens path read-write with HDF5 directly to damage it in a controlled way. */
static hid_t h5_rw(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
}

static void set_str_attr(hid_t f, const char *name, const char *v)
{
    H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

/* Expects ckpt_open + model config + get_params to fail with msg. */
static void expect_load_error(const char *path, const gpt2_config *want, const char *msg)
{
    photon_err err = { "" };
    ckpt_meta m = { 0 };
    ckpt_reader *r = ckpt_open(path, &m, &err);
    int rc = -1;
    if (r) {
        free((char *)m.config);
        float *q = malloc(gpt2_num_params(want) * sizeof *q);
        gpt2_config c;
        rc = ckpt_model_config(r, &c, &err);
        if (rc == 0) rc = ckpt_get_params(r, "/model", want, q, &err);
        free(q);
        ckpt_close(r);
    }
    CHECK_EQ_INT(rc, -1);
    printf("   %s\n", err.msg);
    CHECK_CONTAINS(err.msg, msg);
    CHECK_CONTAINS(err.msg, path);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "one line: %s", err.msg);
}

static void copy_file(const char *from, const char *to)
{
    char out[256];
    CHECK_EQ_INT(th_run(out, sizeof out, "cp '%s' '%s'", from, to), 0);
}

static void test_bad_inputs(void)
{
    const char *dir = th_tmpdir(), *good = path_in(dir, "good.h5");
    photon_err err = { "" };
    float *p = make_params(&CFG, 2.0f);
    CHECK_EQ_INT(write_ckpt(good, 1, p, &err), 0);
    free(p);

    expect_load_error(path_in(dir, "absent.h5"), &CFG, "No such file");
    const char *txt = th_write_file(dir, "text.h5", "this is not HDF5\n");
    expect_load_error(txt, &CFG, "not an HDF5 file");

    const char *trunc = path_in(dir, "trunc.h5");
    copy_file(good, trunc);
    CHECK_EQ_INT(truncate(trunc, 2000), 0);
    expect_load_error(trunc, &CFG, "trunc.h5: ");

    const char *fmt = path_in(dir, "fmt.h5");
    copy_file(good, fmt);
    hid_t f = h5_rw(fmt);
    set_str_attr(f, "format", "keras");
    H5Fclose(f);
    expect_load_error(fmt, &CFG, "format is 'keras', expected 'photon-sim'");

    const char *nofmt = path_in(dir, "nofmt.h5");
    copy_file(good, nofmt);
    f = h5_rw(nofmt);
    H5Adelete(f, "format");
    H5Fclose(f);
    expect_load_error(nofmt, &CFG, "not a photon-sim checkpoint");

    const char *ver = path_in(dir, "ver.h5");
    copy_file(good, ver);
    f = h5_rw(ver);
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    int64_t two = 2;
    H5Awrite(a, H5T_NATIVE_INT64, &two);
    H5Aclose(a);
    H5Fclose(f);
    expect_load_error(ver, &CFG, "format_version is 2, this photon-sim reads version 1");

    const char *miss = path_in(dir, "miss.h5");
    copy_file(good, miss);
    f = h5_rw(miss);
    H5Ldelete(f, "/model/transformer.h.1.ln_2.bias", H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error(miss, &CFG, "missing tensor /model/transformer.h.1.ln_2.bias");

    const char *shape = path_in(dir, "shape.h5");
    copy_file(good, shape);
    f = h5_rw(shape);
    H5Ldelete(f, "/model/transformer.h.0.mlp.c_fc.weight", H5P_DEFAULT);
    hsize_t dims[2] = { 64, 16 };   /* (4C, C): the internal orientation, not HF's */
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "/model/transformer.h.0.mlp.c_fc.weight", H5T_IEEE_F32LE, sp,
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_load_error(shape, &CFG,
                      "tensor /model/transformer.h.0.mlp.c_fc.weight has shape (64, 16), expected (16, 64)");

    /* A model that does not match the experiment's: each shape attribute. */
    gpt2_config other = CFG;
    other.n_head = 4;
    expect_load_error(good, &other, "model does not match: the checkpoint has n_head = 2, expected 4");
    other = CFG;
    other.n_layer = 3;
    expect_load_error(good, &other, "n_layer = 2, expected 3");
    other = CFG;
    other.vocab_size = 49;
    expect_load_error(good, &other, "vocab_size = 50, expected 49");
    other = CFG;
    other.padded_vocab = 128;
    expect_load_error(good, &other, "transformer.wte.weight has shape (64, 16), expected (128, 16)");
}

/* Flips one byte inside a dataset's first chunk (located with
 * H5Dget_chunk_info) and expects the read to fail its checksum. */
static void flip_in_chunk(const char *path, const char *dset)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t off[2];
    unsigned mask;
    haddr_t addr = 0;
    hsize_t size = 0;
    CHECK(H5Dget_chunk_info(d, sp, 0, off, &mask, &addr, &size) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    CHECK(size > 8);
    int fd = open(path, O_RDWR);
    unsigned char b = 0;
    off_t at = (off_t)addr + (off_t)(size / 2);
    CHECK_EQ_INT(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    CHECK_EQ_INT(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void test_checksum(void)
{
    const char *dir = th_tmpdir(), *good = path_in(dir, "good.h5");
    photon_err err = { "" };
    float *p = make_params(&CFG, 2.0f);
    CHECK_EQ_INT(write_ckpt(good, 1, p, &err), 0);
    free(p);

    const char *bad = path_in(dir, "flip.h5");
    copy_file(good, bad);
    flip_in_chunk(bad, "/model/transformer.h.1.mlp.c_fc.weight");
    expect_load_error(bad, &CFG, "checksum mismatch in /model/transformer.h.1.mlp.c_fc.weight: the file is corrupt");
    ckpt_reader *r = ckpt_open(bad, NULL, &err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_INT(ckpt_verify(r, &err), -1);
        CHECK_CONTAINS(err.msg, "checksum mismatch in /model/transformer.h.1.mlp.c_fc.weight");
        ckpt_close(r);
    }
    /* The same for a generic dataset of the run state. */
    const char *bad2 = path_in(dir, "flip2.h5");
    copy_file(good, bad2);
    flip_in_chunk(bad2, "/clients/3/data_pos");
    r = ckpt_open(bad2, NULL, &err);
    CHECK(r != NULL);
    if (r) {
        int64_t pos[3];
        CHECK_EQ_INT(ckpt_get_i64(r, "/clients/3/data_pos", pos, 3, &err), -1);
        CHECK_CONTAINS(err.msg, "checksum mismatch in /clients/3/data_pos: the file is corrupt");
        CHECK_EQ_INT(ckpt_verify(r, &err), -1);
        ckpt_close(r);
    }
}

/* Reads back the round stored at path (-1 if unreadable). */
static int64_t round_of(const char *path)
{
    photon_err err;
    ckpt_meta m;
    ckpt_reader *r = ckpt_open(path, &m, &err);
    if (!r) return -1;
    free((char *)m.config);
    int rc = ckpt_verify(r, &err);
    ckpt_close(r);
    return rc == 0 ? m.round : -1;
}

static void test_failed_writes(void)
{
    const char *dir = th_tmpdir(), *path = path_in(dir, "run.h5");
    photon_err err = { "" };
    float *p = make_params(&CFG, 0.5f);
    CHECK_EQ_INT(write_ckpt(path, 1, p, &err), 0);
    CHECK_EQ_INT(round_of(path), 1);

    /* The 3rd write from now fails: rounds 2 and 3 land, 4 does not. */
    seam_arm(SEAM_WRITE, 3);
    CHECK_EQ_INT(write_ckpt(path, 2, p, &err), 0);
    CHECK_EQ_INT(write_ckpt(path, 3, p, &err), 0);
    CHECK_EQ_INT(write_ckpt(path, 4, p, &err), -1);
    CHECK_CONTAINS(err.msg, "run.h5: write failed");
    CHECK_EQ_INT(round_of(path), 3);
    CHECK_EQ_INT(count_tmp_files(dir), 0);
    seam_arm(SEAM_WRITE, 0);

    seam_arm(SEAM_FSYNC, 1);
    CHECK_EQ_INT(write_ckpt(path, 5, p, &err), -1);
    CHECK_CONTAINS(err.msg, "cannot fsync");
    CHECK_EQ_INT(round_of(path), 3);
    CHECK_EQ_INT(count_tmp_files(dir), 0);
    seam_arm(SEAM_FSYNC, 0);

    /* Abandoning a checkpoint half way leaves nothing either. */
    ckpt_meta m = { .round = 6, .config = "" };
    ckpt_writer *w = ckpt_create(path, &m, &err);
    CHECK(w != NULL);
    CHECK_EQ_INT(count_tmp_files(dir), 1);
    CHECK_EQ_INT(ckpt_put_params(w, "/model", &CFG, p, &err), 0);
    /* Writing the same dataset twice is a caller bug, reported clearly. */
    CHECK_EQ_INT(ckpt_put_params(w, "/model", &CFG, p, &err), -1);
    CHECK_CONTAINS(err.msg, "group /model written twice");
    CHECK_EQ_INT(ckpt_put_params(w, "/outer_optimizer", &CFG, p, &err), 0);
    CHECK_EQ_INT(ckpt_put_params(w, "/outer_optimizer", &CFG, p, &err), -1);
    CHECK_CONTAINS(err.msg, "dataset /outer_optimizer/transformer.wte.weight written twice");
    ckpt_abort(w);
    CHECK_EQ_INT(count_tmp_files(dir), 0);
    CHECK_EQ_INT(round_of(path), 3);

    /* A directory that does not exist: clean error, nothing created. */
    CHECK(ckpt_create(path_in(dir, "no/such/dir.h5"), &m, &err) == NULL);
    CHECK_CONTAINS(err.msg, "no/such/dir.h5: cannot create");

    CHECK_EQ_INT(write_ckpt(path, 7, p, &err), 0);
    CHECK_EQ_INT(round_of(path), 7);
    free(p);
}

/* Flips one bit in every 9th byte of a small checkpoint, one byte at a time:
 * each read must either fail with one line naming the file, or give back
 * exactly what was written (the byte was unused).  Never silently different.
 * The sweep runs in a child that leaves with _exit: HDF5 1.10 itself leaks
 * some metadata-cache memory when it rejects a damaged header (no handle of
 * ours stays open: H5Fget_obj_count is 0 after every read), and that must not
 * fail the LeakSanitizer build. */
static void sweep(const char *bad, char *img, size_t len, const gpt2_config *c, const char *cfg,
                  const float *p, int res[4])
{
    size_t n = gpt2_num_params(c);
    float *q = malloc(n * sizeof *q);
    photon_err err;
    for (size_t off = 0; off < len; off += 9) {
        img[off] ^= 0x08;
        FILE *f = fopen(bad, "wb");   /* no fsync: a thousand rewrites */
        if (!f || fwrite(img, 1, len, f) != len) res[3]++;
        if (f) fclose(f);
        img[off] ^= 0x08;
        ckpt_meta got;
        gpt2_config gc;
        ckpt_reader *r = ckpt_open(bad, &got, &err);
        int ok = r && ckpt_model_config(r, &gc, &err) == 0 && ckpt_get_params(r, "/model", c, q, &err) == 0;
        if (ok) {
            int identical = memcmp(p, q, n * sizeof *p) == 0 && got.round == 9 && got.global_step == 8 &&
                            got.tokens_seen == 7 && got.seed == 6 && strcmp(got.config, cfg) == 0 &&
                            memcmp(&gc, c, sizeof *c) == 0;
            if (identical) res[1]++;
            else { res[2]++; fprintf(stderr, "silently different after flipping byte %zu\n", off); }
        } else {
            res[0]++;
            if (strchr(err.msg, '\n') || !strstr(err.msg, "bad.h5")) {
                res[3]++;
                fprintf(stderr, "byte %zu: bad message: %s\n", off, err.msg);
            }
        }
        if (r) { free((char *)got.config); ckpt_close(r); }
        if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) res[3]++;
    }
    free(q);
}

static void test_flip_sweep(void)
{
    const char *dir = th_tmpdir(), *good = path_in(dir, "sweep.h5"), *bad = path_in(dir, "bad.h5");
    const gpt2_config c = { .n_layer = 1, .n_head = 1, .d_model = 8, .seq_len = 4, .vocab_size = 10, .padded_vocab = 16 };
    const char *cfg = "[run]\nname = sweep\n";
    float *p = make_params(&c, 1.0f);
    photon_err err;
    ckpt_meta m = { .round = 9, .global_step = 8, .tokens_seen = 7, .seed = 6, .config = cfg };
    ckpt_writer *w = ckpt_create(good, &m, &err);
    CHECK(w && ckpt_put_params(w, "/model", &c, p, &err) == 0 && ckpt_commit(w, &err) == 0);
    size_t len;
    char *img = file_read_all(good, &len, &err);
    CHECK(img != NULL);
    int fds[2], res[4] = { 0 };   /* detected, unused byte, silently different, other problems */
    CHECK_EQ_INT(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = img ? fork() : -1;
    if (pid == 0) {
        close(fds[0]);
        sweep(bad, img, len, &c, cfg, p, res);
        ssize_t wr = write(fds[1], res, sizeof res);
        _exit(wr == (ssize_t)sizeof res ? 0 : 1);
    }
    close(fds[1]);
    CHECK_EQ_INT(read(fds[0], res, sizeof res), (long)sizeof res);
    close(fds[0]);
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK_EQ_INT(status, 0);
    printf("   %d flips: %d detected, %d in unused bytes, %d silently different\n",
           res[0] + res[1] + res[2], res[0], res[1], res[2]);
    CHECK_EQ_INT(res[2], 0);
    CHECK_EQ_INT(res[3], 0);
    CHECK(res[0] > 3 * res[1]);
    free(img);
    free(p);
}

typedef struct { int groups, datasets, order_ok; char last[256]; } visit_count;

static int count_cb(const char *path, int rank, const uint64_t *dims, const char *dtype, void *ud)
{
    visit_count *v = ud;
    if (rank < 0) { v->groups++; return 0; }
    v->datasets++;
    if (strcmp(path, "/model/transformer.wte.weight") == 0)
        v->order_ok = v->datasets == 1 && rank == 2 && dims[0] == 64 && dims[1] == 16 && strcmp(dtype, "f32") == 0;
    if (strcmp(path, "/sampler/rng") == 0) v->order_ok &= strcmp(dtype, "u64") == 0 && dims[0] == 4;
    snprintf(v->last, sizeof v->last, "%s", path);
    return 0;
}

static void test_visit(void)
{
    const char *dir = th_tmpdir(), *path = path_in(dir, "v.h5");
    photon_err err = { "" };
    float *p = make_params(&CFG, 0.5f);
    CHECK_EQ_INT(write_ckpt(path, 1, p, &err), 0);
    free(p);
    ckpt_reader *r = ckpt_open(path, NULL, &err);
    CHECK(r != NULL);
    if (!r) return;
    visit_count v = { 0 };
    CHECK_EQ_INT(ckpt_visit(r, count_cb, &v, &err), 0);
    /* groups: model, outer_optimizer, clients, clients/3, clients/3/adam_m, sampler */
    CHECK_EQ_INT(v.groups, 6);
    int per_model = 2 + 12 * 2 + 2;
    CHECK_EQ_INT(v.datasets, 3 * per_model + 5);
    CHECK_MSG(v.order_ok, "creation order and shapes in the listing");
    CHECK_STR(v.last, "/empty");
    ckpt_close(r);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_hf_layout);
    RUN(test_bad_inputs);
    RUN(test_checksum);
    RUN(test_failed_writes);
    RUN(test_flip_sweep);
    RUN(test_flip_sweep);
    RUN(test_visit);
    return th_finish();
}
