/* Hostile checkpoints (issue 12 items 1, 7, 10): files that are valid HDF5
 * but not what photon-sim writes.  Every attribute the reader takes is
 * checked for class, size and element count before it is read (an array
 * where a scalar belongs once overflowed a fixed buffer); a checkpoint from
 * another writer that follows DESIGN §5 (h5py's default variable-length
 * UTF-8 strings, one-element array attributes, int32 shape attributes) is
 * read; and datasets that are present but unusable (no stored data, no
 * Fletcher-32 filter, a non-finite value) are reported by ckpt_verify and
 * ckpt_check_params.  Each read runs in a forked child, so a crash is one
 * failed check instead of the end of the test. */
#include "harness.h"
#include "io/checkpoint.h"
#include <hdf5.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const gpt2_config CFG = { .n_layer = 1, .n_head = 2, .d_model = 8, .seq_len = 4,
                                  .vocab_size = 10, .padded_vocab = 16 };

static const char *path_in(const char *dir, const char *name)
{
    static char buf[16][512];
    static int slot;
    char *p = buf[slot++ % 16];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static float *make_params(float base)
{
    size_t n = gpt2_num_params(&CFG);
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = base + (float)i * 1e-3f;
    return p;
}

static void write_good(const char *path)
{
    photon_err err;
    float *p = make_params(1.0f);
    ckpt_meta m = { .round = 3, .global_step = 30, .tokens_seen = 300, .seed = 5, .config = "[run]\nname = x\n" };
    ckpt_writer *w = ckpt_create(path, &m, &err);
    CHECK(w && ckpt_put_params(w, "/model", &CFG, p, &err) == 0 && ckpt_commit(w, &err) == 0);
    free(p);
}

static void copy_good(const char *good, const char *to)
{
    char out[256];
    CHECK_EQ_INT(th_run(out, sizeof out, "cp '%s' '%s'", good, to), 0);
}

/* Replaces attribute name of object obj in file path with one of type t,
 * dataspace sp (rank 0 = scalar; else dims) holding data. */
static void put_attr(const char *path, const char *obj, const char *name, hid_t t, int rank,
                     const hsize_t *dims, const void *data)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : rank < 0 ? H5Screate(H5S_NULL) : H5Screate_simple(rank, dims, NULL);
    hid_t a = H5Acreate2(o, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CHECK_MSG(a >= 0, "create attribute %s", name);
    if (data) CHECK(H5Awrite(a, t, data) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(o);
    H5Fclose(f);
}

static hid_t fixed_str(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, n);
    return t;
}

static hid_t vl_utf8(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* Opens path and reads what eval reads (meta, model config, /model) in a
 * child process.  Returns 0 when everything loaded, 1 when it failed with one
 * line naming the file that contains want (may be NULL), and -1 when the
 * child crashed or the message was wrong. */
static int load_in_child(const char *path, const char *want, char *msg, size_t msgn)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        photon_err err = { "" };
        ckpt_meta m;
        gpt2_config c;
        int rc = 1;
        ckpt_reader *r = ckpt_open(path, &m, &err);
        if (r) {
            float *q = NULL;
            if (ckpt_model_config(r, &c, &err) == 0 && ckpt_check_params(r, "/model", &c, &err) == 0) {
                q = malloc(gpt2_num_params(&c) * sizeof *q);
                if (ckpt_get_params(r, "/model", &c, q, &err) == 0 && ckpt_verify(r, &err) == 0) rc = 0;
            }
            free(q);
            free((char *)m.config);
            ckpt_close(r);
        }
        ssize_t w = write(fds[1], err.msg, strlen(err.msg) + 1);
        _exit(w > 0 ? rc : 3);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], msg, msgn - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st)) {
        fprintf(stderr, "child died with signal %d on %s\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1, path);
        return -1;
    }
    int rc = WEXITSTATUS(st);
    if (rc == 1 && (!strstr(msg, path) || strchr(msg, '\n') || (want && !strstr(msg, want)))) {
        fprintf(stderr, "unexpected message for %s: '%s' (expected '%s')\n", path, msg, want ? want : "");
        return -1;
    }
    return rc == 0 || rc == 1 ? rc : -1;
}

static void expect_reject(const char *path, const char *want)
{
    char msg[1024];
    int rc = load_in_child(path, want, msg, sizeof msg);
    printf("   %s\n", msg);
    CHECK_MSG(rc == 1, "%s rejected cleanly with '%s' (rc %d)", path, want, rc);
}

/* Item 1: attributes with more than one element, of the wrong class, of odd
 * sizes or out of range. */
static void test_odd_attributes(void)
{
    const char *dir = th_tmpdir(), *good = path_in(dir, "good.h5");
    write_good(good);
    char msg[1024];
    CHECK_MSG(load_in_child(good, NULL, msg, sizeof msg) == 0, "good file loads: %s", msg);

    hsize_t four = 4, two = 2, three = 3;
    int64_t v4[4] = { 1, 2, 3, 4 };
    uint64_t s2[2] = { 1, 2 };
    const char *p;

    p = path_in(dir, "round4.h5");
    copy_good(good, p);
    put_attr(p, "/", "round", H5T_STD_I64LE, 1, &four, v4);
    expect_reject(p, "attribute 'round' on / has 4 elements, expected a single integer");

    p = path_in(dir, "seed2.h5");
    copy_good(good, p);
    put_attr(p, "/", "seed", H5T_STD_U64LE, 1, &two, s2);
    expect_reject(p, "attribute 'seed' on / has 2 elements");

    p = path_in(dir, "nlayer3.h5");
    copy_good(good, p);
    put_attr(p, "/model", "n_layer", H5T_STD_I64LE, 1, &three, v4);
    expect_reject(p, "attribute 'n_layer' on /model has 3 elements");

    p = path_in(dir, "version2.h5");
    copy_good(good, p);
    put_attr(p, "/", "format_version", H5T_STD_I64LE, 1, &two, v4);
    expect_reject(p, "attribute 'format_version' on / has 2 elements");

    /* format as an array of three fixed strings */
    p = path_in(dir, "format3.h5");
    copy_good(good, p);
    hid_t t = fixed_str(11);
    put_attr(p, "/", "format", t, 1, &three, "photon-sim\0photon-sim\0photon-sim");
    expect_reject(p, "attribute 'format' on / has 3 elements, expected a single string");

    /* config as two variable-length strings */
    p = path_in(dir, "config2.h5");
    copy_good(good, p);
    hid_t vt = vl_utf8();
    const char *two_s[2] = { "[run]\n", "[model]\n" };
    put_attr(p, "/", "config", vt, 1, &two, two_s);
    expect_reject(p, "attribute 'config' on / has 2 elements");

    /* an empty (null) dataspace */
    p = path_in(dir, "null.h5");
    copy_good(good, p);
    put_attr(p, "/", "round", H5T_STD_I64LE, -1, NULL, NULL);
    expect_reject(p, "attribute 'round' on / has 0 elements");

    /* the wrong class */
    p = path_in(dir, "fround.h5");
    copy_good(good, p);
    double d = 3.0;
    put_attr(p, "/", "round", H5T_IEEE_F64LE, 0, NULL, &d);
    expect_reject(p, "attribute 'round' on / is not an integer");

    p = path_in(dir, "iformat.h5");
    copy_good(good, p);
    put_attr(p, "/", "format", H5T_STD_I64LE, 0, NULL, v4);
    expect_reject(p, "attribute 'format' on / is not a string");

    p = path_in(dir, "iconfig.h5");
    copy_good(good, p);
    put_attr(p, "/", "config", H5T_STD_I32LE, 0, NULL, v4);
    expect_reject(p, "attribute 'config' on / is not a string");

    /* values that do not fit, never clamped */
    p = path_in(dir, "biground.h5");
    copy_good(good, p);
    uint64_t big = (uint64_t)INT64_MAX + 2;
    put_attr(p, "/", "round", H5T_STD_U64LE, 0, NULL, &big);
    expect_reject(p, "attribute 'round' on / = 9223372036854775809 is out of range");

    p = path_in(dir, "negseed.h5");
    copy_good(good, p);
    int64_t neg = -3;
    put_attr(p, "/", "seed", H5T_STD_I64LE, 0, NULL, &neg);
    expect_reject(p, "attribute 'seed' on / = -3 is negative");

    p = path_in(dir, "neground.h5");
    copy_good(good, p);
    put_attr(p, "/", "round", H5T_STD_I64LE, 0, NULL, &neg);
    expect_reject(p, "attribute 'round' on / = -3 is negative");

    p = path_in(dir, "wide.h5");
    copy_good(good, p);
    hid_t w16 = H5Tcopy(H5T_STD_I64LE);
    H5Tset_precision(w16, 128);
    unsigned char wide[16] = { 1 };
    put_attr(p, "/", "global_step", w16, 0, NULL, wide);
    expect_reject(p, "attribute 'global_step' on / is a 16-byte integer");
    H5Tclose(w16);

    /* a 100 MB fixed-length string type (no data needs to be stored for
     * the type to say so: the reader must refuse before allocating) */
    p = path_in(dir, "hugestr.h5");
    copy_good(good, p);
    hid_t huge = fixed_str((size_t)100 << 20);
    put_attr(p, "/", "config", huge, 0, NULL, NULL);
    expect_reject(p, "attribute 'config' on / is a 104857600-byte string");
    H5Tclose(huge);
    H5Tclose(t);
    H5Tclose(vt);
}

/* Item 7: what h5py writes with its defaults — str attributes as scalar
 * variable-length UTF-8, Python ints as int64, a numpy shape-(1,) array
 * where a scalar was meant, int32 model attributes. */
static void test_h5py_style(void)
{
    const char *dir = th_tmpdir(), *good = path_in(dir, "good.h5"), *p = path_in(dir, "h5py.h5");
    write_good(good);
    copy_good(good, p);
    hid_t vt = vl_utf8();
    const char *fmt = "photon-sim", *cfg = "[run]\nname = h5py\n# π ≈ 3.14\n";
    put_attr(p, "/", "format", vt, 0, NULL, &fmt);
    put_attr(p, "/", "config", vt, 0, NULL, &cfg);
    hsize_t one = 1;
    int64_t r7 = 7;
    put_attr(p, "/", "round", H5T_STD_I64LE, 1, &one, &r7);
    int32_t layers = 1;
    put_attr(p, "/model", "n_layer", H5T_STD_I32LE, 0, NULL, &layers);
    int64_t seed = 5;
    put_attr(p, "/", "seed", H5T_STD_I64LE, 0, NULL, &seed);
    H5Tclose(vt);
    char msg[1024];
    CHECK_EQ_INT(load_in_child(p, NULL, msg, sizeof msg), 0);
    photon_err err;
    ckpt_meta m;
    ckpt_reader *r = ckpt_open(p, &m, &err);
    CHECK_MSG(r != NULL, "h5py-style file opens: %s", r ? "" : err.msg);
    if (!r) return;
    CHECK_STR(m.config, cfg);
    CHECK_EQ_INT(m.round, 7);
    CHECK_EQ_INT(m.seed, 5);
    gpt2_config c;
    CHECK_EQ_INT(ckpt_model_config(r, &c, &err), 0);
    CHECK_EQ_INT(c.n_layer, 1);
    free((char *)m.config);
    ckpt_close(r);
}


/* Replaces dataset path with an empty one of shape dims (chunks of cdims,
 * Fletcher-32; cdims NULL: contiguous), then writes rows [0, rows) of it. */
static void replace_dataset(const char *file, const char *path, int rank, const hsize_t *dims,
                            const hsize_t *cdims, hsize_t rows)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, path, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (cdims) {
        H5Pset_chunk(dcpl, rank, cdims);
        H5Pset_fletcher32(dcpl);
    }
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, path, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(d >= 0);
    if (rows) {
        hsize_t start[2] = { 0, 0 }, count[2] = { rows, rank > 1 ? dims[1] : 1 };
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
        hid_t msp = H5Screate_simple(rank, count, NULL);
        float *buf = calloc(rows * count[1], sizeof *buf);
        CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, msp, sp, H5P_DEFAULT, buf) >= 0);
        free(buf);
        H5Sclose(msp);
    }
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Fclose(f);
}

/* Datasets whose data is not all there: never written, chunks missing (both
 * read back as fill values without any error from HDF5), or a declared shape
 * far beyond what the file holds (the reader would allocate it first). */
static void test_incomplete_data(void)
{
    const char *dir = th_tmpdir(), *good = path_in(dir, "good.h5");
    write_good(good);
    const char *p = path_in(dir, "unwritten.h5");
    copy_good(good, p);
    hsize_t c8[1] = { 8 }, d8[1] = { 8 };
    replace_dataset(p, "/model/transformer.ln_f.bias", 1, d8, c8, 0);
    expect_reject(p, "tensor /model/transformer.ln_f.bias is incomplete: its data was never written");

    p = path_in(dir, "partial.h5");
    copy_good(good, p);
    hsize_t dw[2] = { 16, 8 }, cw[2] = { 4, 8 };
    replace_dataset(p, "/model/transformer.wte.weight", 2, dw, cw, 8);
    expect_reject(p, "tensor /model/transformer.wte.weight is incomplete: 2 of its 4 chunks are stored");

    /* 2^30 vocabulary rows declared, nothing stored: 32 GiB if believed */
    p = path_in(dir, "huge.h5");
    copy_good(good, p);
    hsize_t dh[2] = { (hsize_t)1 << 30, 8 };
    replace_dataset(p, "/model/transformer.wte.weight", 2, dh, NULL, 0);
    int64_t v = (int64_t)1 << 30;
    put_attr(p, "/model", "vocab_size", H5T_STD_I64LE, 0, NULL, &v);
    expect_reject(p, "tensor /model/transformer.wte.weight is incomplete: its data was never written");
    p = path_in(dir, "huge2.h5");
    copy_good(good, p);
    hsize_t ch[2] = { (hsize_t)1 << 20, 8 };
    replace_dataset(p, "/model/transformer.wte.weight", 2, dh, ch, 1);
    put_attr(p, "/model", "vocab_size", H5T_STD_I64LE, 0, NULL, &v);
    expect_reject(p, "tensor /model/transformer.wte.weight is incomplete: 1 of its 1024 chunks are stored");
}

int main(void)
{
    RUN(test_odd_attributes);
    RUN(test_h5py_style);
    RUN(test_incomplete_data);
    return th_finish();
}
