/* HDF5 checkpoint writer (DESIGN §5) and the HDF5 helpers the reader
 * (io/checkpoint_read.c) shares.
 *
 * Layout: root attributes format, format_version, round, global_step,
 * tokens_seen, seed, config; /model with one float32 dataset per Hugging Face
 * GPT-2 tensor (io/hf_gpt2.h: names, Conv1D shapes) and attributes n_layer,
 * n_head, d_model, seq_len, vocab_size.  transformer.wte.weight keeps all
 * padded_vocab rows (the rows a backend trains with), and vocab_size holds the
 * true vocabulary: a reader takes padded_vocab from the wte shape, export-hf
 * trims wte to vocab_size rows.
 *
 * Every non-empty dataset is chunked (at most 1 MiB a chunk) with the
 * Fletcher-32 filter, so a flipped bit fails the read of its chunk instead of
 * silently loading.  The file is built as "<path>.tmp.<pid>" next to the
 * target; ckpt_commit closes it, fsyncs it, renames it over path and fsyncs
 * the directory, so a crash at any moment leaves either the old or the new
 * checkpoint, never a torn one.  Groups track creation order so inspect lists
 * tensors in state-dict order.  The file uses HDF5 1.10 structures (readable
 * by HDF5 >= 1.10, h5py included), which also checksum the file's metadata
 * and index small chunked datasets compactly. */
#include "io/checkpoint.h"
#include "io/checkpoint_h5.h"
#include "io/hf_gpt2.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_ELEMS ((hsize_t)1 << 18)   /* 1 MiB of float32 */

struct ckpt_writer {
    hid_t file;
    int fd;            /* the file driver's descriptor (close_abandoned) */
    char *path, *tmp;
};

#ifdef PHOTON_SANITIZE
/* HDF5 1.10 itself loses a few kilobytes on the error paths of a write that
 * fails (a full disk) and of a damaged file's header: not ours to fix, and
 * a handle photon-sim forgot to close stays reachable in HDF5's tables, so
 * LeakSanitizer would not report it anyway. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5_serial.so\nleak:libhdf5.so\n"; }
/* (and no "Suppressions used" table after a program's last line) */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }
#endif

/* ---- helpers shared with the reader ----------------------------------- */

void ckpt_h5_quiet(void)
{
    static int done;
    if (!done) {
        /* No cleanup at exit: HDF5's own would close, and so flush again, a
         * file whose close already failed on a full disk, and crash there
         * (ckpt_abort).  Every file photon-sim opens it closes itself.
         * (Must come before any other HDF5 call; later it does nothing.) */
        H5dont_atexit();
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

typedef struct { char *buf; size_t n; int checksum; } walk_state;

static herr_t walk_cb(unsigned i, const H5E_error2_t *e, void *ud)
{
    (void)i;
    walk_state *s = ud;
    if (!e->desc) return 0;
    /* H5E_WALK_DOWNWARD: the last one seen is the innermost (the cause).
     * The file driver's message spans lines ("file write failed: time =
     * ..., errno = 28, error message = 'No space left on device', ..."):
     * keep its first part and the system's error message, on one line. */
    const char *d = e->desc, *em = strstr(d, "error message = '");
    size_t head = strcspn(d, ":\n");
    if (em) {
        em += strlen("error message = '");
        snprintf(s->buf, s->n, "%.*s: %.*s", (int)head, d, (int)strcspn(em, "'"), em);
    } else {
        snprintf(s->buf, s->n, "%.*s", (int)strcspn(d, "\n"), d);
    }
    if (strstr(d, "checksum") || strstr(d, "Fletcher32")) s->checksum = 1;
    return 0;
}

int ckpt_h5_error(char *buf, size_t n)
{
    walk_state s = { buf, n, 0 };
    snprintf(buf, n, "unknown HDF5 error");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &s);
    return s.checksum;
}

void ckpt_h5_join(char *out, size_t n, const char *group, const char *name)
{
    size_t gl = strlen(group);
    if (gl && group[gl - 1] == '/') snprintf(out, n, "%s%s", group, name);
    else snprintf(out, n, "%s/%s", group, name);
}

/* The filters of dataset d: *fletcher set when Fletcher-32 is among them,
 * and the return value 1 when any filter may change the size of the data
 * (anything but Fletcher-32 and shuffle: compression). */
static int filters_of(hid_t d, int *fletcher)
{
    *fletcher = 0;
    int compressed = 0;
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0) return 1;
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[64];
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name, name, NULL);
        if (f == H5Z_FILTER_FLETCHER32) *fletcher = 1;
        else if (f != H5Z_FILTER_SHUFFLE) compressed = 1;
    }
    H5Pclose(dcpl);
    return compressed;
}

int ckpt_h5_fletcher(hid_t d)
{
    int fl;
    filters_of(d, &fl);
    return fl;
}

int ckpt_h5_stored(hid_t d, uint64_t file_size, char *why, size_t n)
{
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    hssize_t npts = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    size_t esz = t < 0 ? 0 : H5Tget_size(t);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (npts < 0 || esz == 0) { snprintf(why, n, "no readable shape or type"); return 0; }
    if (npts == 0) return 1;
    H5D_space_status_t st = H5D_SPACE_STATUS_ERROR;
    if (H5Dget_space_status(d, &st) < 0 || st == H5D_SPACE_STATUS_NOT_ALLOCATED) {
        snprintf(why, n, "its data was never written");
        return 0;
    }
    /* A chunk never written reads back as fill values: count them.  (HDF5's
     * own space status compares byte counts, which checksums and edge chunks
     * throw off.) */
    hid_t dcpl = H5Dget_create_plist(d);
    int chunked = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED;
    if (chunked) {
        hsize_t cdims[H5S_MAX_RANK], dims[H5S_MAX_RANK], want = 1, have = 0;
        int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, cdims);
        hid_t fsp = H5Dget_space(d);
        int drank = H5Sget_simple_extent_dims(fsp, dims, NULL);
        for (int i = 0; i < rank && rank == drank; i++) want *= (dims[i] + cdims[i] - 1) / (cdims[i] ? cdims[i] : 1);
        herr_t hr = H5Dget_num_chunks(d, fsp, &have);
        H5Sclose(fsp);
        if (rank != drank || hr < 0 || have != want) {
            H5Pclose(dcpl);
            snprintf(why, n, "%llu of its %llu chunks are stored", (unsigned long long)have, (unsigned long long)want);
            return 0;
        }
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    int fl;
    if (filters_of(d, &fl)) return 1;   /* compressed: any stored size can be right */
    /* Uncompressed data takes its nominal size on disk (plus checksums):
     * a shape that claims more than the file holds is a lie, found here
     * before anyone allocates memory for it. */
    double nominal = (double)npts * (double)esz;
    hsize_t stored = H5Dget_storage_size(d);
    if ((double)stored < nominal || nominal > (double)file_size) {
        snprintf(why, n, "its shape needs %.0f bytes, the file stores %llu of them%s", nominal,
                 (unsigned long long)stored, nominal > (double)file_size ? " (more than the whole file)" : "");
        return 0;
    }
    return 1;
}

/* ---- writer ------------------------------------------------------------ */

static int wfail(ckpt_writer *w, photon_err *err, const char *what, const char *obj)
{
    char desc[256];
    ckpt_h5_error(desc, sizeof desc);
    err_set(err, "%s: cannot %s %s: %s", w->path, what, obj, desc);
    return -1;
}

static hid_t group_plist(void)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    return gcpl;
}

/* Creates every group along path ("/clients/3/adam_m"); with upto_last = 0
 * the last component is left alone (it is the dataset's name). */
static int ensure_groups(ckpt_writer *w, const char *path, int upto_last, photon_err *err)
{
    char buf[1024];
    if (strlen(path) >= sizeof buf || path[0] != '/') {
        err_set(err, "%s: bad object path '%s' (must be absolute, < 1024 chars)", w->path, path);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", path);
    size_t len = strlen(buf);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        if (buf[i] == '\0' && !upto_last) break;
        char saved = buf[i];
        buf[i] = '\0';
        htri_t ex = H5Lexists(w->file, buf, H5P_DEFAULT);
        if (ex < 0) return wfail(w, err, "look up", buf);
        if (!ex) {
            hid_t gcpl = group_plist();
            hid_t g = H5Gcreate2(w->file, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            H5Pclose(gcpl);
            if (g < 0) return wfail(w, err, "create group", buf);
            H5Gclose(g);
        }
        buf[i] = saved;
    }
    return 0;
}

static int attr_put(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 ? -1 : (H5Awrite(a, mtype, v) < 0 ? -1 : 0);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int attr_put_i64(hid_t obj, const char *name, int64_t v)
{
    return attr_put(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

/* Fixed-length, NUL-terminated UTF-8 string (h5py reads it as str). */
static int attr_put_str(hid_t obj, const char *name, const char *s)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = attr_put(obj, name, t, t, s);
    H5Tclose(t);
    return rc;
}

ckpt_writer *ckpt_create(const char *path, const ckpt_meta *meta, photon_err *err)
{
    ckpt_h5_quiet();
    ckpt_writer *w = xcalloc(1, sizeof *w);
    w->path = xstrdup(path);
    size_t tl = strlen(path) + 32;
    w->tmp = xmalloc(tl);
    snprintf(w->tmp, tl, "%s.tmp.%ld", path, (long)getpid());

    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    /* Strong close: closing the file closes any object an error path left. */
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (w->file < 0) {
        char desc[256];
        ckpt_h5_error(desc, sizeof desc);
        err_set(err, "%s: cannot create temporary file %s: %s (%s)", path, w->tmp, desc, strerror(errno));
        unlink(w->tmp);
        free(w->tmp);
        free(w->path);
        free(w);
        return NULL;
    }
    int *fdp = NULL;
    hid_t afapl = H5Fget_access_plist(w->file);
    w->fd = afapl >= 0 && H5Fget_vfd_handle(w->file, afapl, (void **)&fdp) >= 0 && fdp ? *fdp : -1;
    if (afapl >= 0) H5Pclose(afapl);
    const char *config = meta && meta->config ? meta->config : "";
    uint64_t seed = meta ? meta->seed : 0;
    if (attr_put_str(w->file, "format", CKPT_FORMAT) < 0 ||
        attr_put_i64(w->file, "format_version", CKPT_FORMAT_VERSION) < 0 ||
        attr_put_i64(w->file, "round", meta ? meta->round : 0) < 0 ||
        attr_put_i64(w->file, "global_step", meta ? meta->global_step : 0) < 0 ||
        attr_put_i64(w->file, "tokens_seen", meta ? meta->tokens_seen : 0) < 0 ||
        attr_put(w->file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &seed) < 0 ||
        attr_put_str(w->file, "config", config) < 0) {
        wfail(w, err, "write", "root attributes");
        ckpt_abort(w);
        return NULL;
    }
    return w;
}

/* One dataset at absolute path: chunked + Fletcher-32 unless empty. */
static int put_dataset(ckpt_writer *w, const char *path, hid_t ftype, hid_t mtype,
                       int rank, const hsize_t *dims, const void *data, photon_err *err)
{
    if (ensure_groups(w, path, 0, err) < 0) return -1;
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (n > 0) {
        hsize_t chunk[2];
        if (rank == 1) {
            hsize_t nchunks = (dims[0] + CHUNK_ELEMS - 1) / CHUNK_ELEMS;
            chunk[0] = (dims[0] + nchunks - 1) / nchunks;
        } else {
            chunk[1] = dims[1] < CHUNK_ELEMS ? dims[1] : CHUNK_ELEMS;
            hsize_t rows = CHUNK_ELEMS / chunk[1];
            if (rows < 1) rows = 1;
            /* Equal chunks, so the last one is not mostly padding on disk. */
            hsize_t nchunks = (dims[0] + rows - 1) / rows;
            chunk[0] = (dims[0] + nchunks - 1) / nchunks;
        }
        H5Pset_chunk(dcpl, rank, chunk);
        H5Pset_fletcher32(dcpl);
    }
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(w->file, path, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (d < 0) {
        if (H5Lexists(w->file, path, H5P_DEFAULT) > 0) {
            err_set(err, "%s: dataset %s written twice", w->path, path);
            return -1;
        }
        return wfail(w, err, "create dataset", path);
    }
    herr_t rc = n > 0 ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (rc < 0) {
        wfail(w, err, "write dataset", path);
        H5Dclose(d);
        return -1;
    }
    if (H5Dclose(d) < 0) return wfail(w, err, "close dataset", path);
    return 0;
}

int ckpt_put_params(ckpt_writer *w, const char *group, const gpt2_config *c, const float *flat, photon_err *err)
{
    char gpath[512];
    snprintf(gpath, sizeof gpath, "%s%s", group[0] == '/' ? "" : "/", group);
    if (ensure_groups(w, gpath, 1, err) < 0) return -1;
    if (strcmp(gpath, CKPT_MODEL_GROUP) == 0) {
        hid_t g = H5Gopen2(w->file, gpath, H5P_DEFAULT);
        if (g < 0) return wfail(w, err, "open group", gpath);
        if (H5Aexists(g, "n_layer") > 0) {
            H5Gclose(g);
            err_set(err, "%s: group %s written twice", w->path, gpath);
            return -1;
        }
        int bad = attr_put_i64(g, "n_layer", c->n_layer) < 0 || attr_put_i64(g, "n_head", c->n_head) < 0 ||
                  attr_put_i64(g, "d_model", c->d_model) < 0 || attr_put_i64(g, "seq_len", c->seq_len) < 0 ||
                  attr_put_i64(g, "vocab_size", c->vocab_size) < 0;
        H5Gclose(g);
        if (bad) return wfail(w, err, "write attributes of", gpath);
    }
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    /* Only the transposed weights need a copy; the rest are written in place. */
    float *buf = xmalloc(hf_gpt2_max_transposed(c) * sizeof(float));
    int n = hf_gpt2_count(c), rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        hf_tensor t;
        hf_gpt2_tensor(c, k, &t);
        const float *src = flat + hf_gpt2_flat_offset(c, &l, &t);
        if (t.transpose) {
            hf_gpt2_gather(c, &l, &t, flat, buf);
            src = buf;
        }
        char p[640];
        ckpt_h5_join(p, sizeof p, gpath, t.name);
        hsize_t dims[2] = { t.dims[0], t.dims[1] };
        rc = put_dataset(w, p, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t.rank, dims, src, err);
    }
    free(buf);
    return rc;
}

int ckpt_put_f32(ckpt_writer *w, const char *path, const float *data, size_t n, photon_err *err)
{
    hsize_t d = n;
    return put_dataset(w, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d, data, err);
}

int ckpt_put_i64(ckpt_writer *w, const char *path, const int64_t *data, size_t n, photon_err *err)
{
    hsize_t d = n;
    return put_dataset(w, path, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d, data, err);
}

int ckpt_put_u64(ckpt_writer *w, const char *path, const uint64_t *data, size_t n, photon_err *err)
{
    hsize_t d = n;
    return put_dataset(w, path, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, &d, data, err);
}

static void writer_free(ckpt_writer *w)
{
    free(w->tmp);
    free(w->path);
    free(w);
}

int ckpt_commit(ckpt_writer *w, photon_err *err)
{
    /* The fault seam stands for an I/O error while the file is written out. */
    if (seam_hit(SEAM_WRITE)) {
        err_set(err, "%s: write failed: %s (injected fault)", w->path, strerror(EIO));
        ckpt_abort(w);
        return -1;
    }
    /* Flush first: a flush that fails leaves the file closable (abort);
     * a close that fails may not. */
    if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0) {
        char desc[256];
        ckpt_h5_error(desc, sizeof desc);
        err_set(err, "%s: cannot finish writing %s: %s", w->path, w->tmp, desc);
        ckpt_abort(w);
        return -1;
    }
    if (H5Fclose(w->file) < 0) {
        char desc[256];
        ckpt_h5_error(desc, sizeof desc);
        err_set(err, "%s: cannot finish writing %s: %s", w->path, w->tmp, desc);
        unlink(w->tmp);
        if (w->fd >= 0 && ftruncate(w->fd, 0) != 0) { /* see close_abandoned */ }
        writer_free(w);   /* the half-closed handle stays with HDF5 */
        return -1;
    }
    w->file = -1;
    int fd = open(w->tmp, O_RDONLY), e = 0;
    if (fd < 0) e = errno;
    else if (seam_hit(SEAM_FSYNC)) e = EIO;
    else if (fsync(fd) < 0) e = errno;
    if (e) {
        err_set(err, "%s: cannot fsync %s: %s", w->path, w->tmp, strerror(e));
        if (fd >= 0) close(fd);
        ckpt_abort(w);
        return -1;
    }
    close(fd);
    if (rename(w->tmp, w->path) < 0) {
        err_set(err, "%s: cannot rename %s into place: %s", w->path, w->tmp, strerror(errno));
        ckpt_abort(w);
        return -1;
    }
    char dir[1024];
    path_dirname(w->path, dir, sizeof dir);
    int rc = fsync_dir(dir, err);
    if (rc < 0) err_prefix(err, "%s", w->path);
    writer_free(w);
    return rc;
}

/* Closes a file being given up.  Closing flushes, and after a write error
 * (a full disk) that flush can fail too, after which HDF5 keeps the file
 * half closed and any further call on it may crash.  So first the
 * temporary file is unlinked and truncated to nothing through the
 * driver's descriptor: the disk gets its blocks back, and the flush writes
 * only metadata, into a sparse file, which usually succeeds.  If the close
 * still fails, the handle is left to HDF5 (a little memory and the
 * descriptor of an empty, unlinked file), which must not touch it at exit
 * either (ckpt_h5_quiet: H5dont_atexit). */
static void close_abandoned(ckpt_writer *w)
{
    if (w->fd >= 0 && ftruncate(w->fd, 0) != 0) {
        /* the close below may fail; nothing else to do */
    }
    if (H5Fclose(w->file) < 0) log_warn("%s: HDF5 could not close the abandoned temporary file", w->tmp);
    w->file = -1;
}

void ckpt_abort(ckpt_writer *w)
{
    if (!w) return;
    unlink(w->tmp);
    if (w->file >= 0) close_abandoned(w);
    writer_free(w);
}
