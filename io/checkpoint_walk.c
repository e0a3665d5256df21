/* Walking a checkpoint: ckpt_visit lists every group and dataset (for
 * `photon-sim inspect`), ckpt_verify reads every dataset once so each chunk's
 * Fletcher-32 checksum is checked (for inspect --verify, and for resume to
 * tell a damaged newest checkpoint from a good one).  Groups are walked in
 * creation order where the file tracks it, by name otherwise. */
#include "io/checkpoint.h"
#include "io/checkpoint_h5.h"
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

static int verify_op(void *self, hid_t d, int is_group, const char *path)
{
    verify_state *s = self;
    if (is_group) return 0;
    hid_t ft = H5Dget_type(d);
    hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    H5T_class_t cls = H5Tget_class(ft);
    H5Tclose(ft);
    if (mt < 0 || cls == H5T_VLEN || cls == H5T_REFERENCE || (cls == H5T_STRING && H5Tis_variable_str(mt) > 0)) {
        if (mt >= 0) H5Tclose(mt);
        return 0;   /* nothing of ours is stored this way; no checksum to test */
    }
    size_t esz = H5Tget_size(mt);
    hid_t fsp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fsp);
    hsize_t dims[H5S_MAX_RANK];
    if (rank > 0) H5Sget_simple_extent_dims(fsp, dims, NULL);
    size_t row = esz;   /* bytes per index of dim 0 */
    for (int i = 1; i < rank; i++) row *= dims[i];
    hsize_t rows_per = rank > 0 ? (hsize_t)(VERIFY_SLAB_BYTES / (row ? row : 1)) : 1;
    if (rows_per < 1) rows_per = 1;
    hsize_t total = rank > 0 ? dims[0] : 1;
    void *buf = xmalloc((rank > 0 ? (total < rows_per ? total : rows_per) : 1) * row + 1);
    int rc = 0;
    for (hsize_t r0 = 0; r0 < total && rc == 0; r0 += rows_per) {
        herr_t hr;
        hid_t msp = -1;
        if (rank == 0) {
            hr = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        } else {
            hsize_t start[H5S_MAX_RANK] = { 0 }, count[H5S_MAX_RANK];
            for (int i = 0; i < rank; i++) count[i] = dims[i];
            start[0] = r0;
            count[0] = total - r0 < rows_per ? total - r0 : rows_per;
            H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL);
            msp = H5Screate_simple(rank, count, NULL);
            hr = H5Dread(d, mt, msp, fsp, H5P_DEFAULT, buf);
        }
        if (hr < 0) {
            char desc[256];
            if (ckpt_h5_error(desc, sizeof desc))
                err_set(s->err, "%s: checksum mismatch in %s: the file is corrupt", ckpt_h5_path(s->r), path);
            else
                err_set(s->err, "%s: cannot read %s: %s", ckpt_h5_path(s->r), path, desc);
            rc = -1;
        }
        if (rank > 0) H5Sclose(msp);
    }
    free(buf);
    H5Sclose(fsp);
    H5Tclose(mt);
    return rc;
}

int ckpt_verify(ckpt_reader *r, photon_err *err)
{
    verify_state s = { r, err };
    return walk(r, verify_op, &s, err);
}
