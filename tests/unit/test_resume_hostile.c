/* Damaged or foreign newest checkpoints, through the real binary (issue 12
 * items 1, 2, 7, 10, 11).  A tiny run writes a checkpoint after each of its
 * 3 rounds; then, in a copy of its run directory per case, the newest
 * checkpoint is changed with the HDF5 API and the run is continued with
 * --resume:
 *   - a negative or past-the-end /run/metrics_offset, an array attribute
 *     where a scalar belongs, a NaN in the model, a round attribute that is
 *     not the file's round: each is skipped with a line saying why, the run
 *     resumes from round 2, and metrics.jsonl is cut back only to round 2's
 *     offset (never truncated to nothing);
 *   - the same checkpoint rewritten with h5py's default strings (variable-
 *     length UTF-8) is not skipped: the run resumes after round 3.
 * And `inspect --verify` says ok for the intact files only: each damage
 * above, a missing tensor, a misshapen one, a dataset without Fletcher-32
 * and an incomplete run state fail with a line naming the problem. */
#include "harness.h"
#include <hdf5.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[1 << 16];
static char dir[512], ini[600];

static const char *ckpt(const char *run, int round)
{
    static char buf[4][900];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, 900, "%s/%s/checkpoints/ckpt-%08d.h5", dir, run, round);
    return p;
}

static void write_ini(void)
{
    const char *src = th_source_dir();
    char text[4096];
    snprintf(text, sizeof text,
             "[run]\nname = tiny\nseed = 7\nrounds = 3\nbackend = cpu\nthreads = 1\n"
             "[model]\nn_layer = 1\nn_head = 2\nd_model = 16\nseq_len = 16\npad_vocab = 64\n"
             "[data]\nsources = %s/data/c4/c4-sample-train.json.gz\n"
             "validation = %s/data/c4/c4-sample-validation.json.gz\n"
             "tokenizer = train\ntokenizer_vocab = 300\nmax_docs = 60\nprepared_dir = %s/data\n"
             "[clients]\ncount = 2\nper_round = 2\nactors = 1\nlocal_steps = 2\nbatch_size = 2\nlr = 3e-3\n"
             "optimizer_state = keep\n"
             "[aggregator]\nstrategy = nesterov\nserver_lr = 0.7\nmomentum = 0.7\n"
             "[eval]\nevery = 1\nbatches = 1\n[checkpoint]\nevery = 1\nkeep = 0\n",
             src, src, dir);
    snprintf(ini, sizeof ini, "%s", th_write_file(dir, "x.ini", text));
}

static int run(const char *name, const char *extra)
{
    return th_run(out, sizeof out, "%s %s --set run.out_dir=%s/%s %s", th_binary(), ini, dir, name, extra);
}

static hid_t h5_open_rw(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK_MSG(f >= 0, "open %s", path);
    return f;
}

static void set_i64(const char *path, const char *dset, int64_t v)
{
    hid_t f = h5_open_rw(path), d = H5Dopen2(f, dset, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
    H5Dclose(d);
    H5Fclose(f);
}

static void set_f32_elem(const char *path, const char *dset, hsize_t row, float v)
{
    hid_t f = h5_open_rw(path), d = H5Dopen2(f, dset, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t start[2] = { row, 0 }, count[2] = { 1, 1 };
    H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(H5Sget_simple_extent_ndims(sp), count, NULL);
    CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, &v) >= 0);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
}

/* Replaces attribute name of obj with type t over dataspace sp holding data. */
static void set_attr(const char *path, const char *obj, const char *name, hid_t t, hid_t sp, const void *data)
{
    hid_t f = h5_open_rw(path), o = H5Oopen(f, obj, H5P_DEFAULT);
    H5Adelete(o, name);
    hid_t a = H5Acreate2(o, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, t, data) >= 0);
    H5Aclose(a);
    H5Oclose(o);
    H5Fclose(f);
}

static void set_attr_i64(const char *path, const char *obj, const char *name, int64_t v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    set_attr(path, obj, name, H5T_STD_I64LE, sp, &v);
    H5Sclose(sp);
}

/* What h5py writes for a Python str: a scalar variable-length UTF-8 string. */
static void set_attr_vlstr(const char *path, const char *obj, const char *name)
{
    hid_t f = h5_open_rw(path), o = H5Oopen(f, obj, H5P_DEFAULT);
    hid_t a = H5Aopen(o, name, H5P_DEFAULT), ft = H5Aget_type(a);
    size_t n = H5Tget_size(ft);
    char *v = calloc(1, n + 1);
    CHECK(H5Aread(a, ft, v) >= 0);
    H5Tclose(ft);
    H5Aclose(a);
    H5Oclose(o);
    H5Fclose(f);
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    set_attr(path, obj, name, t, sp, &v);
    H5Tclose(t);
    H5Sclose(sp);
    free(v);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Copies the pristine run into a case directory. */
static void fresh(const char *name)
{
    CHECK_EQ_INT(th_run(out, sizeof out, "rm -rf %s/%s && cp -a %s/base %s/%s", dir, name, dir, dir, name), 0);
}

/* --resume of case `name` must skip round 3's checkpoint saying so (the
 * reason containing why), resume after round 2, complete, and leave
 * metrics.jsonl with its first line and exactly one committed round 3. */
static void expect_fallback(const char *name, const char *why)
{
    char first[4096] = "", metrics[900];
    snprintf(metrics, sizeof metrics, "%s/%s/metrics.jsonl", dir, name);
    FILE *f = fopen(metrics, "r");
    if (f) { if (!fgets(first, sizeof first, f)) first[0] = 0; fclose(f); }
    int rc = run(name, "--resume");
    CHECK_MSG(rc == 0, "%s: resume exits 0 (%d): %s", name, rc, out);
    CHECK_CONTAINS(out, "skipping checkpoint of round 3, it is unusable");
    CHECK_CONTAINS(out, why);
    CHECK_CONTAINS(out, "resuming after round 2");
    f = fopen(metrics, "r");
    char line[4096], got[4096] = "";
    int rounds3 = 0;
    for (int i = 0; f && fgets(line, sizeof line, f); i++) {
        if (i == 0) snprintf(got, sizeof got, "%s", line);
        if (strstr(line, "\"event\":\"round\"") && strstr(line, "\"round\":3,") && strstr(line, "\"committed\":true"))
            rounds3++;
    }
    if (f) fclose(f);
    CHECK_MSG(first[0] && strcmp(first, got) == 0, "%s: metrics.jsonl keeps its first line", name);
    CHECK_MSG(rounds3 == 1, "%s: one committed round 3 in metrics.jsonl (%d)", name, rounds3);
}

static void expect_verify(const char *path, int ok, const char *msg)
{
    int rc = th_run(out, sizeof out, "%s inspect %s --verify", th_binary(), path);
    CHECK_MSG(rc == (ok ? 0 : 1), "inspect --verify %s exits %d (got %d): %s", path, ok ? 0 : 1, rc,
              strstr(out, "checksums") ? strstr(out, "checksums") : out);
    CHECK_CONTAINS(out, msg);
}

static void test_resume_fallbacks(void)
{
    char metrics[900];
    snprintf(metrics, sizeof metrics, "%s/base/metrics.jsonl", dir);
    int64_t msize = file_size(metrics);

    fresh("neg_offset");
    set_i64(ckpt("neg_offset", 3), "/run/metrics_offset", -7);
    expect_verify(ckpt("neg_offset", 3), 0, "/run/metrics_offset = -7 is out of range");
    expect_fallback("neg_offset", "/run/metrics_offset = -7 is out of range");

    fresh("big_offset");
    set_i64(ckpt("big_offset", 3), "/run/metrics_offset", msize + 1000);
    expect_fallback("big_offset", "is beyond the end of metrics.jsonl");

    fresh("attr_array");
    hsize_t three = 3;
    int64_t v[3] = { 1, 1, 1 };
    hid_t sp = H5Screate_simple(1, &three, NULL);
    set_attr(ckpt("attr_array", 3), "/model", "n_layer", H5T_STD_I64LE, sp, v);
    H5Sclose(sp);
    expect_verify(ckpt("attr_array", 3), 0, "attribute 'n_layer' on /model has 3 elements");
    expect_fallback("attr_array", "attribute 'n_layer' on /model has 3 elements");

    fresh("nan_model");
    set_f32_elem(ckpt("nan_model", 3), "/model/transformer.h.0.mlp.c_fc.weight", 3, NAN);
    expect_verify(ckpt("nan_model", 3), 0, "holds a non-finite value (nan");
    expect_fallback("nan_model", "/model/transformer.h.0.mlp.c_fc.weight holds a non-finite value");

    fresh("renamed");
    set_attr_i64(ckpt("renamed", 3), "/", "round", 9);
    expect_fallback("renamed", "the file says round 9, its name round 3");

    fresh("neg_pos");
    set_i64(ckpt("neg_pos", 3), "/clients/1/data_pos", -4);
    expect_verify(ckpt("neg_pos", 3), 0, "/clients/1/data_pos[0] = -4 is out of range");
    expect_fallback("neg_pos", "/clients/1/data_pos[0] = -4 is out of range");

    /* h5py's strings: read, not skipped. */
    fresh("h5py");
    set_attr_vlstr(ckpt("h5py", 3), "/", "format");
    set_attr_vlstr(ckpt("h5py", 3), "/", "config");
    expect_verify(ckpt("h5py", 3), 1, "run state    ok (2 clients, 2 with kept optimizer state, outer momentum)");
    CHECK_EQ_INT(run("h5py", "--resume"), 0);
    CHECK_CONTAINS(out, "resuming after round 3");
    CHECK(strstr(out, "skipping") == NULL);
}

static void test_verify_structure(void)
{
    expect_verify(ckpt("base", 3), 1, "checksums    ok");
    expect_verify(ckpt("base", 3), 1, "--resume can continue from it");

    char p[900];
    snprintf(p, sizeof p, "%s/missing.h5", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt("base", 2), p), 0);
    hid_t f = h5_open_rw(p);
    H5Ldelete(f, "/model/transformer.h.0.ln_2.bias", H5P_DEFAULT);
    H5Fclose(f);
    expect_verify(p, 0, "missing tensor /model/transformer.h.0.ln_2.bias");

    snprintf(p, sizeof p, "%s/shape.h5", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt("base", 2), p), 0);
    f = h5_open_rw(p);
    H5Ldelete(f, "/model/transformer.ln_f.bias", H5P_DEFAULT);
    hsize_t d7 = 7;
    hid_t sp = H5Screate_simple(1, &d7, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &d7);
    H5Pset_fletcher32(dcpl);
    hid_t d = H5Dcreate2(f, "/model/transformer.ln_f.bias", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    float z[7] = { 0 };
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
    expect_verify(p, 0, "tensor /model/transformer.ln_f.bias has shape (7), expected (16)");

    /* The same tensor, right shape, but contiguous: no checksum to verify. */
    snprintf(p, sizeof p, "%s/nofletcher.h5", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt("base", 2), p), 0);
    f = h5_open_rw(p);
    H5Ldelete(f, "/model/transformer.ln_f.bias", H5P_DEFAULT);
    hsize_t d16 = 16;
    sp = H5Screate_simple(1, &d16, NULL);
    d = H5Dcreate2(f, "/model/transformer.ln_f.bias", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    float z16[16] = { 0 };
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z16);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_verify(p, 0, "dataset /model/transformer.ln_f.bias has no Fletcher-32 checksum filter");

    /* A client's kept state without its step. */
    snprintf(p, sizeof p, "%s/nostep.h5", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt("base", 2), p), 0);
    f = h5_open_rw(p);
    H5Ldelete(f, "/clients/0/adam_step", H5P_DEFAULT);
    H5Fclose(f);
    expect_verify(p, 0, "client 0's kept optimizer state is incomplete (adam_m present, adam_v present, adam_step missing)");

    /* A model-only checkpoint verifies, and says it cannot be resumed. */
    snprintf(p, sizeof p, "%s/modelonly.h5", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt("base", 2), p), 0);
    f = h5_open_rw(p);
    const char *groups[4] = { "/run", "/clients", "/sampler", "/outer_optimizer" };
    for (int i = 0; i < 4; i++) H5Ldelete(f, groups[i], H5P_DEFAULT);
    H5Fclose(f);
    expect_verify(p, 1, "run state    none (a model-only checkpoint");
}

/* Item 2: a global model that stops being finite fails the run.  Every
 * update is checked, so only the outer step itself can overflow: here a
 * valid (finite) checkpoint holds -3e38 in a padded row of wte, which no
 * forward pass reads, and +3e38 of momentum at the same place; the next
 * Nesterov step takes it past -FLT_MAX. */
static void test_model_diverges(void)
{
    fresh("diverge");
    const char *p = ckpt("diverge", 3);
    set_f32_elem(p, "/model/transformer.wte.weight", 310, -3e38f);
    set_f32_elem(p, "/outer_optimizer/transformer.wte.weight", 310, 3e38f);
    expect_verify(p, 1, "checksums    ok");
    int rc = run("diverge", "--resume --set run.rounds=4 --set aggregator.reject_norm=0");
    CHECK_MSG(rc == 1, "a diverging run exits 1 (got %d): %s", rc, out);
    CHECK_CONTAINS(out, "resuming after round 3");
    CHECK_CONTAINS(out, "round 4: the global model is no longer finite after the outer step");
    CHECK_CONTAINS(out, "the last good checkpoint is");
    char path[900], sum[4096] = "";
    snprintf(path, sizeof path, "%s/diverge/summary.json", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(sum, 1, sizeof sum - 1, f) : 0;
    sum[n] = 0;
    if (f) fclose(f);
    CHECK_CONTAINS(sum, "\"status\":\"failed\"");
    CHECK_CONTAINS(sum, "ckpt-00000003.h5");
    /* nothing written after the divergence */
    CHECK(access(ckpt("diverge", 4), F_OK) != 0);
}

/* Finite but huge weights overflow in the forward pass: eval and sample
 * say the model is damaged (sample once sorted NaN logits with qsort). */
static void test_overflowing_model(void)
{
    char p[900];
    snprintf(p, sizeof p, "%s/huge.h5", dir);
    CHECK_EQ_INT(th_run(out, sizeof out, "cp %s %s", ckpt("base", 3), p), 0);
    for (hsize_t row = 0; row < 16; row++) set_f32_elem(p, "/model/transformer.h.0.attn.c_attn.weight", row, 3e38f);
    expect_verify(p, 1, "checksums    ok");
    int rc = th_run(out, sizeof out, "%s sample %s --prompt hello --tokens 3 --threads 1", th_binary(), p);
    CHECK_MSG(rc == 1, "sample on an overflowing model exits 1 (got %d): %s", rc, out);
    CHECK_CONTAINS(out, "its parameters are damaged");
    rc = th_run(out, sizeof out, "%s eval %s --data %s/data/val.bin --batches 1 --batch 1 --threads 1", th_binary(), p, dir);
    CHECK_MSG(rc == 1, "eval on an overflowing model exits 1 (got %d): %s", rc, out);
    CHECK_CONTAINS(out, "the loss is not finite");
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", th_tmpdir());
    write_ini();
    int rc = run("base", "");
    CHECK_MSG(rc == 0, "the tiny run: %s", out);
    if (rc != 0) return th_finish();
    RUN(test_verify_structure);
    RUN(test_resume_fallbacks);
    RUN(test_model_diverges);
    RUN(test_overflowing_model);
    return th_finish();
}
