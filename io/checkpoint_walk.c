/* Walking a checkpoint: ckpt_visit lists every group and dataset (for
 * `photon-sim inspect`), ckpt_verify reads every dataset once so each chunk's
 * Fletcher-32 checksum is checked (for inspect --verify, and for resume to
 * tell a damaged newest checkpoint from a good one).  Groups are walked in
 * creation order where the file tracks it, by name otherwise. */
#include "io/checkpoint.h"
#include "io/checkpoint_h5.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_SLAB_BYTES ((size_t)64 << 20)

typedef struct {
    const ckpt_reader *r;
    /* Called for each object below the root: obj is an open group or dataset. */
    int (*op)(void *self, hid_t obj, int is_group, const char *path);
    void *self;
    photon_err *err;
    int rc;
    char prefix[1024];
} walker;

static int walk_group(walker *w, hid_t g);

#if H5_VERSION_GE(1, 12, 0)
static herr_t link_cb(hid_t g, const char *name, const H5L_info2_t *info, void *ud)
#else
static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *ud)
#endif
{
    (void)info;
    walker *w = ud;
    size_t plen = strlen(w->prefix);
    if (plen + 1 + strlen(name) >= sizeof w->prefix) {
        err_set(w->err, "%s: object name too long under %s", ckpt_h5_path(w->r), w->prefix);
        w->rc = -1;
        return 1;
    }
    snprintf(w->prefix + plen, sizeof w->prefix - plen, "/%s", name);
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        char desc[256];
        if (ckpt_h5_error(desc, sizeof desc))
            err_set(w->err, "%s: checksum mismatch in %s: the file is corrupt", ckpt_h5_path(w->r), w->prefix);
        else
            err_set(w->err, "%s: cannot open %s: %s", ckpt_h5_path(w->r), w->prefix, desc);
        w->rc = -1;
    } else {
        H5I_type_t type = H5Iget_type(o);
        if (type == H5I_GROUP || type == H5I_DATASET)
            w->rc = w->op(w->self, o, type == H5I_GROUP, w->prefix);
        if (w->rc == 0 && type == H5I_GROUP) w->rc = walk_group(w, o);
        H5Oclose(o);
    }
    w->prefix[plen] = '\0';
    return w->rc != 0;
}

static int walk_group(walker *w, hid_t g)
{
    unsigned flags = 0;
    hid_t gcpl = H5Gget_create_plist(g);
    if (gcpl >= 0) {
        H5Pget_link_creation_order(gcpl, &flags);
        H5Pclose(gcpl);
    }
    H5_index_t idx = (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    hsize_t pos = 0;
    herr_t rc = H5Literate(g, idx, H5_ITER_INC, &pos, link_cb, w);
    if (rc < 0 && w->rc == 0) {
        char desc[256];
        ckpt_h5_error(desc, sizeof desc);
        err_set(w->err, "%s: cannot list %s: %s", ckpt_h5_path(w->r), w->prefix[0] ? w->prefix : "/", desc);
        w->rc = -1;
    }
    return w->rc;
}

static int walk(const ckpt_reader *r, int (*op)(void *, hid_t, int, const char *), void *self, photon_err *err)
{
    walker w = { .r = r, .op = op, .self = self, .err = err };
    hid_t root = H5Gopen2(ckpt_h5_file(r), "/", H5P_DEFAULT);
    if (root < 0) {
        err_set(err, "%s: cannot open the root group", ckpt_h5_path(r));
        return -1;
    }
    int rc = walk_group(&w, root);
    H5Gclose(root);
    return rc;
}

/* ---- visit ------------------------------------------------------------- */

typedef struct { ckpt_visit_fn fn; void *ud; } visit_state;

static void dtype_name(hid_t t, char *out, size_t n)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_FLOAT) snprintf(out, n, "f%zu", sz * 8);
    else if (c == H5T_INTEGER) snprintf(out, n, "%c%zu", H5Tget_sign(t) == H5T_SGN_NONE ? 'u' : 'i', sz * 8);
    else if (c == H5T_STRING) snprintf(out, n, "str");
    else snprintf(out, n, "other");
}

static int visit_op(void *self, hid_t obj, int is_group, const char *path)
{
    visit_state *s = self;
    if (is_group) return s->fn(path, -1, NULL, NULL, s->ud);
    hid_t sp = H5Dget_space(obj), t = H5Dget_type(obj);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t hd[H5S_MAX_RANK];
    uint64_t dims[H5S_MAX_RANK];
    if (rank > 0) H5Sget_simple_extent_dims(sp, hd, NULL);
    for (int i = 0; i < rank; i++) dims[i] = hd[i];
    char dt[16];
    dtype_name(t, dt, sizeof dt);
    H5Tclose(t);
    H5Sclose(sp);
    return s->fn(path, rank < 0 ? 0 : rank, dims, dt, s->ud);
}

int ckpt_visit(ckpt_reader *r, ckpt_visit_fn fn, void *ud, photon_err *err)
{
    visit_state s = { fn, ud };
    return walk(r, visit_op, &s, err);
}

/* ---- verify ------------------------------------------------------------ */

typedef struct { const ckpt_reader *r; photon_err *err; } verify_state;

/* The first non-finite value among n floats of size esz (4 or 8), or -1. */
static int64_t first_nonfinite(const void *buf, size_t n, size_t esz, double *bad)
{
    for (size_t i = 0; i < n; i++) {
        double v = esz == 4 ? (double)((const float *)buf)[i] : ((const double *)buf)[i];
        if (!isfinite(v)) { *bad = v; return (int64_t)i; }
    }
    return -1;
}

/* Reads dataset d (of rank dims, native element type mt of esz bytes) in
 * blocks of at most VERIFY_SLAB_BYTES, walking the blocks in row-major
 * order, so each chunk's checksum is checked once and memory stays bounded
 * whatever the shape.  Float data is also checked to be finite. */
static int verify_data(verify_state *s, hid_t d, hid_t mt, size_t esz, int is_float, int rank,
                       const hsize_t *dims, const char *path)
{
    hsize_t block[H5S_MAX_RANK], start[H5S_MAX_RANK] = { 0 }, count[H5S_MAX_RANK];
    size_t budget = VERIFY_SLAB_BYTES / esz, elems = 1;
    for (int i = rank - 1; i >= 0; i--) {
        block[i] = dims[i] < budget ? dims[i] : (hsize_t)budget;
        if (block[i] < 1) block[i] = 1;
        budget /= block[i];
        if (budget < 1) budget = 1;
        elems *= (size_t)block[i];
    }
    void *buf = xmalloc(elems * esz + 1);
    hid_t fsp = H5Dget_space(d);
    int rc = 0;
    for (;;) {
        herr_t hr;
        size_t n = 1;
        hid_t msp = -1;
        if (rank == 0) {
            hr = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        } else {
            for (int i = 0; i < rank; i++) {
                count[i] = dims[i] - start[i] < block[i] ? dims[i] - start[i] : block[i];
                n *= (size_t)count[i];
            }
            H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL);
            msp = H5Screate_simple(rank, count, NULL);
            hr = H5Dread(d, mt, msp, fsp, H5P_DEFAULT, buf);
        }
        if (hr < 0) {
            /* (before any other HDF5 call, which would clear the error stack) */
            char desc[256];
            if (ckpt_h5_error(desc, sizeof desc))
                err_set(s->err, "%s: checksum mismatch in %s: the file is corrupt", ckpt_h5_path(s->r), path);
            else
                err_set(s->err, "%s: cannot read %s: %s", ckpt_h5_path(s->r), path, desc);
            rc = -1;
        }
        if (msp >= 0) H5Sclose(msp);
        if (rc < 0) break;
        double bad;
        int64_t at = is_float ? first_nonfinite(buf, n, esz, &bad) : -1;
        if (at >= 0) {
            err_set(s->err, "%s: %s holds a non-finite value (%g, element %lld of the block at row %llu): "
                    "the run diverged or the file is damaged", ckpt_h5_path(s->r), path, bad, (long long)at,
                    (unsigned long long)(rank ? start[0] : 0));
            rc = -1;
            break;
        }
        /* next block: odometer over the block grid, last dimension fastest */
        int i = rank - 1;
        while (i >= 0) {
            start[i] += block[i];
            if (start[i] < dims[i]) break;
            start[i] = 0;
            i--;
        }
        if (i < 0) break;
    }
    H5Sclose(fsp);
    free(buf);
    return rc;
}

static int verify_op(void *self, hid_t d, int is_group, const char *path)
{
    verify_state *s = self;
    if (is_group) return 0;
    const char *file = ckpt_h5_path(s->r);
    hid_t ft = H5Dget_type(d);
    H5T_class_t cls = H5Tget_class(ft);
    size_t fsz = H5Tget_size(ft);
    H5Tclose(ft);
    /* What photon-sim writes and reads: float32/64 and integers of up to 64
     * bits.  Anything else cannot be one of our datasets. */
    if (!((cls == H5T_FLOAT && (fsz == 4 || fsz == 8)) || (cls == H5T_INTEGER && fsz >= 1 && fsz <= 8))) {
        err_set(s->err, "%s: dataset %s has a type photon-sim does not store (only float32/64 and integers)",
                file, path);
        return -1;
    }
    hid_t fsp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fsp);
    hsize_t dims[H5S_MAX_RANK];
    hssize_t npts = H5Sget_simple_extent_npoints(fsp);
    if (rank > 0) H5Sget_simple_extent_dims(fsp, dims, NULL);
    H5Sclose(fsp);
    if (rank < 0 || npts < 0) {
        err_set(s->err, "%s: dataset %s has no readable shape", file, path);
        return -1;
    }
    if (npts == 0) return 0;   /* nothing stored, nothing to check */
    char why[160];
    if (!ckpt_h5_stored(d, ckpt_h5_size(s->r), why, sizeof why)) {
        err_set(s->err, "%s: dataset %s is incomplete: %s", file, path, why);
        return -1;
    }
    if (!ckpt_h5_fletcher(d)) {
        err_set(s->err, "%s: dataset %s has no Fletcher-32 checksum filter (DESIGN §5): its data cannot be verified",
                file, path);
        return -1;
    }
    hid_t mt = cls == H5T_FLOAT ? H5Tcopy(fsz == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE)
                                : H5Tcopy(H5T_NATIVE_UINT64);
    /* Integers are read as uint64 whatever their sign: only the checksum matters here. */
    size_t esz = cls == H5T_FLOAT ? fsz : 8;
    int rc = verify_data(s, d, mt, esz, cls == H5T_FLOAT, rank, dims, path);
    H5Tclose(mt);
    return rc;
}

int ckpt_verify(ckpt_reader *r, photon_err *err)
{
    verify_state s = { r, err };
    return walk(r, verify_op, &s, err);
}
