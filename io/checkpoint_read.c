/* HDF5 checkpoint reader (DESIGN §5; writer and layout in io/checkpoint.c).
 * Every way a checkpoint can be wrong becomes one line naming the file and
 * the object: not an HDF5 file, truncated, wrong format or format_version,
 * a missing or misshapen tensor, a model that is not the experiment's, and a
 * failed Fletcher-32 checksum ("checksum mismatch in <dataset>: the file is
 * corrupt").  HDF5's own error printing is off; its error stack is read for
 * the cause. */
#include "io/checkpoint.h"
#include "io/checkpoint_h5.h"
#include "io/hf_gpt2.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ckpt_reader {
    hid_t file;
    char *path;
    uint64_t size;   /* bytes of the file when opened */
};

/* Reports the failure of the HDF5 call that just failed on object obj. */
static int rfail(const ckpt_reader *r, photon_err *err, const char *what, const char *obj)
{
    char desc[256];
    if (ckpt_h5_error(desc, sizeof desc))
        err_set(err, "%s: checksum mismatch in %s: the file is corrupt", r->path, obj);
    else
        err_set(err, "%s: cannot %s %s: %s", r->path, what, obj, desc);
    return -1;
}

/* Limits on what an attribute may hold before anything is allocated for it:
 * the resolved INI text of a run is a few kilobytes. */
#define ATTR_STR_MAX ((size_t)16 << 20)

/* Opens attribute name of obj and checks that it holds exactly one element
 * (a scalar, or an array of one: h5py writes either) of class cls.  Returns
 * the attribute with its file type in *type, or -1 with one line in err. */
static hid_t attr_open_one(const ckpt_reader *r, hid_t obj, const char *objname, const char *name,
                           H5T_class_t cls, const char *clsname, hid_t *type, photon_err *err)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex < 0) { rfail(r, err, "read attribute of", objname); return -1; }
    if (ex == 0) {
        err_set(err, "%s: attribute '%s' missing on %s", r->path, name, objname);
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) { rfail(r, err, "open attribute", name); return -1; }
    hid_t sp = H5Aget_space(a);
    H5S_class_t sc = sp < 0 ? H5S_NO_CLASS : H5Sget_simple_extent_type(sp);
    hssize_t npts = sc == H5S_SCALAR ? 1 : sc == H5S_SIMPLE ? H5Sget_simple_extent_npoints(sp) : 0;
    if (sp >= 0) H5Sclose(sp);
    hid_t t = H5Aget_type(a);
    H5T_class_t c = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    if (npts != 1 || c != cls) {
        if (npts != 1)
            err_set(err, "%s: attribute '%s' on %s has %lld elements, expected a single %s", r->path, name,
                    objname, (long long)npts, clsname);
        else
            err_set(err, "%s: attribute '%s' on %s is not %s", r->path, name, objname,
                    cls == H5T_INTEGER ? "an integer" : "a string");
        if (t >= 0) H5Tclose(t);
        H5Aclose(a);
        return -1;
    }
    *type = t;
    return a;
}

/* Reads one integer attribute of any integer type up to 64 bits into an
 * int64 (*v) or, for an unsigned one, a uint64 (*u): the caller says which
 * it takes (the other pointer NULL) and a value that does not fit is an
 * error, never clamped. */
static int attr_get_int(const ckpt_reader *r, hid_t obj, const char *objname, const char *name,
                        int64_t *v, uint64_t *u, photon_err *err)
{
    hid_t t;
    hid_t a = attr_open_one(r, obj, objname, name, H5T_INTEGER, "integer", &t, err);
    if (a < 0) return -1;
    int is_unsigned = H5Tget_sign(t) == H5T_SGN_NONE;
    size_t size = H5Tget_size(t);
    H5Tclose(t);
    int rc = -1;
    if (size < 1 || size > 8) {
        err_set(err, "%s: attribute '%s' on %s is a %zu-byte integer (at most 8 are read)", r->path, name, objname, size);
    } else if (is_unsigned) {
        uint64_t x;
        if (H5Aread(a, H5T_NATIVE_UINT64, &x) < 0) rfail(r, err, "read attribute", name);
        else if (v && x > (uint64_t)INT64_MAX)
            err_set(err, "%s: attribute '%s' on %s = %llu is out of range", r->path, name, objname, (unsigned long long)x);
        else {
            if (v) *v = (int64_t)x;
            else *u = x;
            rc = 0;
        }
    } else {
        int64_t x;
        if (H5Aread(a, H5T_NATIVE_INT64, &x) < 0) rfail(r, err, "read attribute", name);
        else if (u && x < 0)
            err_set(err, "%s: attribute '%s' on %s = %lld is negative", r->path, name, objname, (long long)x);
        else {
            if (v) *v = x;
            else *u = (uint64_t)x;
            rc = 0;
        }
    }
    H5Aclose(a);
    return rc;
}

static int attr_get_i64(const ckpt_reader *r, hid_t obj, const char *objname, const char *name,
                        int64_t *v, photon_err *err)
{
    return attr_get_int(r, obj, objname, name, v, NULL, err);
}

/* Reads one string attribute into a malloc'd NUL-terminated copy: fixed
 * length (any padding) or variable length (h5py's default for str), ASCII
 * or UTF-8, at most ATTR_STR_MAX bytes. */
static char *attr_get_str(const ckpt_reader *r, hid_t obj, const char *objname, const char *name, photon_err *err)
{
    hid_t t;
    hid_t a = attr_open_one(r, obj, objname, name, H5T_STRING, "string", &t, err);
    if (a < 0) return NULL;
    char *out = NULL;
    if (H5Tis_variable_str(t) > 0) {
        /* The memory type must have the file's character set: HDF5 does not
         * convert between ASCII and UTF-8. */
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        char *s = NULL;
        if (H5Aread(a, mt, &s) < 0) rfail(r, err, "read attribute", name);
        else if (!s) err_set(err, "%s: attribute '%s' on %s is a null string", r->path, name, objname);
        else if (strlen(s) > ATTR_STR_MAX)
            err_set(err, "%s: attribute '%s' on %s is %zu bytes long (at most %zu are read)", r->path, name,
                    objname, strlen(s), ATTR_STR_MAX);
        else out = xstrdup(s);
        if (s) H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(t);
        if (sz == 0 || sz > ATTR_STR_MAX)
            err_set(err, "%s: attribute '%s' on %s is a %zu-byte string (at most %zu are read)", r->path, name,
                    objname, sz, ATTR_STR_MAX);
        else {
            out = xcalloc(1, sz + 1);
            if (H5Aread(a, t, out) < 0) {
                rfail(r, err, "read attribute", name);
                free(out);
                out = NULL;
            }
        }
    }
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

ckpt_reader *ckpt_open(const char *path, ckpt_meta *meta, photon_err *err)
{
    ckpt_h5_quiet();
    if (meta) memset(meta, 0, sizeof *meta);
    /* Only a regular file: HDF5 would block opening a FIFO and read a device
     * such as /dev/zero forever. */
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(err, "%s: is %s, expected a checkpoint file (.h5)", path, file_kind(st.st_mode));
        return NULL;
    }
    if (access(path, R_OK) < 0) {
        err_set(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
        return NULL;
    }
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        err_set(err, "%s: not an HDF5 file (no HDF5 signature found)", path);
        return NULL;
    }
    ckpt_reader *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    r->size = (uint64_t)st.st_size;
    /* Strong close: closing the file closes whatever an error path left open. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (r->file < 0) {
        char desc[256];
        if (ckpt_h5_error(desc, sizeof desc))
            err_set(err, "%s: checksum mismatch in the file's metadata: the file is corrupt", path);
        else
            err_set(err, "%s: cannot open HDF5 file (truncated or corrupt?): %s", path, desc);
        free(r->path);
        free(r);
        return NULL;
    }
    /* Anything but the string "photon-sim" in 'format' is not our file; a
     * misshapen 'format' attribute is reported as such. */
    char *fmt = NULL;
    if (H5Aexists(r->file, "format") <= 0) {
        err_set(err, "%s: not a photon-sim checkpoint (no attribute 'format' = '%s' on /)", path, CKPT_FORMAT);
        goto fail;
    }
    if (!(fmt = attr_get_str(r, r->file, "/", "format", err))) goto fail;
    if (strcmp(fmt, CKPT_FORMAT) != 0) {
        err_set(err, "%s: format is '%.100s', expected '%s'", path, fmt, CKPT_FORMAT);
        free(fmt);
        goto fail;
    }
    free(fmt);
    int64_t version;
    if (attr_get_i64(r, r->file, "/", "format_version", &version, err) < 0) goto fail;
    if (version != CKPT_FORMAT_VERSION) {
        err_set(err, "%s: format_version is %lld, this photon-sim reads version %d", path,
                (long long)version, CKPT_FORMAT_VERSION);
        goto fail;
    }
    ckpt_meta m = { 0 };
    const char *names[3] = { "round", "global_step", "tokens_seen" };
    int64_t *vals[3] = { &m.round, &m.global_step, &m.tokens_seen };
    for (int i = 0; i < 3; i++) {
        if (attr_get_i64(r, r->file, "/", names[i], vals[i], err) < 0) goto fail;
        if (*vals[i] < 0) {
            err_set(err, "%s: attribute '%s' on / = %lld is negative", path, names[i], (long long)*vals[i]);
            goto fail;
        }
    }
    /* seed is stored unsigned; reading it as uint64 keeps all 64 bits. */
    if (attr_get_int(r, r->file, "/", "seed", NULL, &m.seed, err) < 0) goto fail;
    char *config = attr_get_str(r, r->file, "/", "config", err);
    if (!config) goto fail;
    m.config = config;
    if (meta) *meta = m;
    else free(config);
    return r;
fail:
    ckpt_close(r);
    return NULL;
}

hid_t ckpt_h5_file(const ckpt_reader *r) { return r->file; }
const char *ckpt_h5_path(const ckpt_reader *r) { return r->path; }
uint64_t ckpt_h5_size(const ckpt_reader *r) { return r->size; }

void ckpt_close(ckpt_reader *r)
{
    if (!r) return;
    if (r->file >= 0) H5Fclose(r->file);
    free(r->path);
    free(r);
}

/* 1 if path exists, 0 if not, -1 with err when the lookup itself fails
 * (a damaged group index: reported as corruption, not as "missing"). */
static int exists(const ckpt_reader *r, const char *path, photon_err *err)
{
    /* H5Lexists fails on a missing intermediate group: test each prefix. */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    size_t len = strlen(buf);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        htri_t ex = H5Lexists(r->file, buf, H5P_DEFAULT);
        if (ex < 0) {
            char desc[256];
            if (ckpt_h5_error(desc, sizeof desc))
                err_set(err, "%s: checksum mismatch in the file's metadata (looking up %s): the file is corrupt", r->path, buf);
            else
                err_set(err, "%s: cannot look up %s (the file is corrupt?): %s", r->path, buf, desc);
            return -1;
        }
        if (!ex) return 0;
        buf[i] = saved;
    }
    return len > 0;
}

int ckpt_has(ckpt_reader *r, const char *path)
{
    photon_err ignored;
    return exists(r, path, &ignored) == 1;
}

static void shape_str(char *out, size_t n, int rank, const hsize_t *d)
{
    if (rank == 1) snprintf(out, n, "(%llu)", (unsigned long long)d[0]);
    else if (rank == 2) snprintf(out, n, "(%llu, %llu)", (unsigned long long)d[0], (unsigned long long)d[1]);
    else snprintf(out, n, "(rank %d)", rank);
}

/* Opens dataset path and checks it is of class cls with the given shape
 * (rank, dims); returns the dataset id or -1 with a one-line error. */
static hid_t open_checked(ckpt_reader *r, const char *path, H5T_class_t cls, const char *clsname,
                          int rank, const hsize_t *dims, const char *what, photon_err *err)
{
    int ex = exists(r, path, err);
    if (ex <= 0) {
        if (ex == 0) err_set(err, "%s: missing %s %s", r->path, what, path);
        return -1;
    }
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) { rfail(r, err, "open", path); return -1; }
    hid_t t = H5Dget_type(d);
    H5T_class_t c = H5Tget_class(t);
    H5Tclose(t);
    if (c != cls) {
        err_set(err, "%s: %s %s is not %s", r->path, what, path, clsname);
        H5Dclose(d);
        return -1;
    }
    hid_t sp = H5Dget_space(d);
    int got_rank = H5Sget_simple_extent_ndims(sp);
    hsize_t got[H5S_MAX_RANK];
    if (got_rank > 0) H5Sget_simple_extent_dims(sp, got, NULL);
    H5Sclose(sp);
    int same = got_rank == rank;
    for (int i = 0; same && i < rank; i++) same = got[i] == dims[i];
    if (!same) {
        char gs[64], es[64];
        shape_str(gs, sizeof gs, got_rank, got);
        shape_str(es, sizeof es, rank, dims);
        err_set(err, "%s: %s %s has shape %s, expected %s", r->path, what, path, gs, es);
        H5Dclose(d);
        return -1;
    }
    char why[160];
    if (!ckpt_h5_stored(d, r->size, why, sizeof why)) {
        err_set(err, "%s: %s %s is incomplete: %s", r->path, what, path, why);
        H5Dclose(d);
        return -1;
    }
    return d;
}

static int read_all(ckpt_reader *r, hid_t d, hid_t mtype, void *data, const char *path, photon_err *err)
{
    int rc = H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? rfail(r, err, "read", path) : 0;
    H5Dclose(d);
    return rc;
}

static const char *const model_attr_names[5] = { "n_layer", "n_head", "d_model", "seq_len", "vocab_size" };

/* Reads the /model shape attributes (model_attr_names order) into v, each
 * checked to be in [1, INT_MAX].  hint follows "no /model group". */
static int read_model_attrs(ckpt_reader *r, const char *hint, int v[5], photon_err *err)
{
    int ex = exists(r, CKPT_MODEL_GROUP, err);
    if (ex <= 0) {
        if (ex == 0) err_set(err, "%s: no %s group%s", r->path, CKPT_MODEL_GROUP, hint);
        return -1;
    }
    hid_t g = H5Gopen2(r->file, CKPT_MODEL_GROUP, H5P_DEFAULT);
    if (g < 0) return rfail(r, err, "open", CKPT_MODEL_GROUP);
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) {
        int64_t x;
        rc = attr_get_i64(r, g, CKPT_MODEL_GROUP, model_attr_names[i], &x, err);
        if (rc == 0 && (x < 1 || x > INT_MAX)) {
            err_set(err, "%s: %s attribute %s = %lld is out of range", r->path, CKPT_MODEL_GROUP,
                    model_attr_names[i], (long long)x);
            rc = -1;
        }
        if (rc == 0) v[i] = (int)x;
    }
    H5Gclose(g);
    return rc;
}

/* Compares the /model attributes with the model the caller expects. */
static int check_model_attrs(ckpt_reader *r, const gpt2_config *c, photon_err *err)
{
    const int want[5] = { c->n_layer, c->n_head, c->d_model, c->seq_len, c->vocab_size };
    int have[5];
    if (read_model_attrs(r, "", have, err) < 0) return -1;
    for (int i = 0; i < 5; i++)
        if (have[i] != want[i]) {
            err_set(err, "%s: model does not match: the checkpoint has %s = %d, expected %d",
                    r->path, model_attr_names[i], have[i], want[i]);
            return -1;
        }
    return 0;
}

int ckpt_model_config(ckpt_reader *r, gpt2_config *c, photon_err *err)
{
    int v[5];
    if (read_model_attrs(r, " (not a model checkpoint)", v, err) < 0) return -1;
    c->n_layer = v[0];
    c->n_head = v[1];
    c->d_model = v[2];
    c->seq_len = v[3];
    c->vocab_size = v[4];
    /* The padded vocabulary is the number of rows of wte. */
    const char *wte = CKPT_MODEL_GROUP "/transformer.wte.weight";
    int ex = exists(r, wte, err);
    if (ex <= 0) {
        if (ex == 0) err_set(err, "%s: missing tensor %s", r->path, wte);
        return -1;
    }
    hid_t d = H5Dopen2(r->file, wte, H5P_DEFAULT);
    if (d < 0) return rfail(r, err, "open", wte);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    if (rank != 2 || dims[1] != (hsize_t)c->d_model || dims[0] < (hsize_t)c->vocab_size || dims[0] > INT_MAX) {
        char gs[64];
        shape_str(gs, sizeof gs, rank, dims);
        err_set(err, "%s: tensor %s has shape %s, expected (>= vocab_size %d, d_model %d)",
                r->path, wte, gs, c->vocab_size, c->d_model);
        return -1;
    }
    c->padded_vocab = (int)dims[0];
    if (gpt2_config_check(c, err) < 0) {
        err_prefix(err, "%s", r->path);
        return -1;
    }
    return 0;
}

int ckpt_check_params(ckpt_reader *r, const char *group, const gpt2_config *c, photon_err *err)
{
    char gpath[512];
    snprintf(gpath, sizeof gpath, "%s%s", group[0] == '/' ? "" : "/", group);
    if (strcmp(gpath, CKPT_MODEL_GROUP) == 0 && check_model_attrs(r, c, err) < 0) return -1;
    int n = hf_gpt2_count(c);
    for (int k = 0; k < n; k++) {
        hf_tensor t;
        hf_gpt2_tensor(c, k, &t);
        char p[640];
        ckpt_h5_join(p, sizeof p, gpath, t.name);
        hsize_t dims[2] = { t.dims[0], t.dims[1] };
        hid_t d = open_checked(r, p, H5T_FLOAT, "float", t.rank, dims, "tensor", err);
        if (d < 0) return -1;
        H5Dclose(d);
    }
    return 0;
}

int ckpt_get_params(ckpt_reader *r, const char *group, const gpt2_config *c, float *flat, photon_err *err)
{
    /* Check the structure (presence, type, shape, stored data) of every
     * tensor first, so a wrong file is reported as such before anything is
     * read. */
    if (ckpt_check_params(r, group, c, err) < 0) return -1;
    char gpath[512];
    snprintf(gpath, sizeof gpath, "%s%s", group[0] == '/' ? "" : "/", group);
    int n = hf_gpt2_count(c);
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    float *buf = xmalloc(hf_gpt2_max_transposed(c) * sizeof(float));
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        hf_tensor t;
        hf_gpt2_tensor(c, k, &t);
        char p[640];
        ckpt_h5_join(p, sizeof p, gpath, t.name);
        hid_t d = H5Dopen2(r->file, p, H5P_DEFAULT);
        if (d < 0) { rc = rfail(r, err, "open", p); break; }
        /* Untransposed tensors are read straight into place. */
        float *dst = t.transpose ? buf : flat + hf_gpt2_flat_offset(c, &l, &t);
        rc = read_all(r, d, H5T_NATIVE_FLOAT, dst, p, err);
        if (rc == 0 && t.transpose) hf_gpt2_scatter(c, &l, &t, buf, flat);
    }
    free(buf);
    return rc;
}

/* Generic datasets: any rank, exactly n elements of the given class. */
static int get_n(ckpt_reader *r, const char *path, hid_t mtype, H5T_class_t cls, const char *clsname,
                 void *data, size_t n, photon_err *err)
{
    int ex = exists(r, path, err);
    if (ex <= 0) {
        if (ex == 0) err_set(err, "%s: missing dataset %s", r->path, path);
        return -1;
    }
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) return rfail(r, err, "open", path);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    H5T_class_t c = H5Tget_class(t);
    hssize_t got = H5Sget_simple_extent_npoints(sp);
    H5Tclose(t);
    H5Sclose(sp);
    if (c != cls) {
        err_set(err, "%s: dataset %s is not %s", r->path, path, clsname);
        H5Dclose(d);
        return -1;
    }
    if (got < 0 || (size_t)got != n) {
        err_set(err, "%s: dataset %s has %lld elements, expected %zu", r->path, path, (long long)got, n);
        H5Dclose(d);
        return -1;
    }
    if (n == 0) { H5Dclose(d); return 0; }
    char why[160];
    if (!ckpt_h5_stored(d, r->size, why, sizeof why)) {
        err_set(err, "%s: dataset %s is incomplete: %s", r->path, path, why);
        H5Dclose(d);
        return -1;
    }
    return read_all(r, d, mtype, data, path, err);
}

int64_t ckpt_len(ckpt_reader *r, const char *path, photon_err *err)
{
    int ex = exists(r, path, err);
    if (ex <= 0) {
        if (ex == 0) err_set(err, "%s: missing dataset %s", r->path, path);
        return -1;
    }
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) return rfail(r, err, "open", path);
    hid_t sp = H5Dget_space(d);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    if (n < 0) err_set(err, "%s: dataset %s has no readable shape", r->path, path);
    return n;
}

int ckpt_check_stored(ckpt_reader *r, const char *path, photon_err *err)
{
    if (ckpt_len(r, path, err) < 0) return -1;
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) return rfail(r, err, "open", path);
    char why[160];
    int ok = ckpt_h5_stored(d, r->size, why, sizeof why);
    H5Dclose(d);
    if (!ok) err_set(err, "%s: dataset %s is incomplete: %s", r->path, path, why);
    return ok ? 0 : -1;
}

int ckpt_get_f32(ckpt_reader *r, const char *path, float *data, size_t n, photon_err *err)
{
    return get_n(r, path, H5T_NATIVE_FLOAT, H5T_FLOAT, "float", data, n, err);
}

int ckpt_get_i64(ckpt_reader *r, const char *path, int64_t *data, size_t n, photon_err *err)
{
    return get_n(r, path, H5T_NATIVE_INT64, H5T_INTEGER, "integer", data, n, err);
}

int ckpt_get_u64(ckpt_reader *r, const char *path, uint64_t *data, size_t n, photon_err *err)
{
    return get_n(r, path, H5T_NATIVE_UINT64, H5T_INTEGER, "integer", data, n, err);
}
