/* HDF5 checkpoints (DESIGN §5): written to a temp file, fsynced, renamed,
 * directory fsynced; every dataset with the Fletcher-32 checksum filter.
 * /model holds one float32 dataset per tensor with Hugging Face GPT-2 names
 * and shapes (Conv1D layout: input dim first); other groups (outer
 * optimizer, clients, sampler) are written through the same writer. */
#ifndef PHOTON_CHECKPOINT_H
#define PHOTON_CHECKPOINT_H
#include <stdint.h>
#include <stddef.h>
#include "gpu/model.h"

typedef struct {
    int64_t round, global_step, tokens_seen;
    uint64_t seed;
    const char *config;   /* resolved INI text (write); malloc'd copy (read) */
} ckpt_meta;

typedef struct ckpt_writer ckpt_writer;
ckpt_writer *ckpt_create(const char *path, const ckpt_meta *meta, photon_err *err);
/* Writes a flat parameter-layout vector as HF-named tensors under group
 * ("/model", "/outer_optimizer", "/clients/3/adam_m", ...).  For "/model"
 * the shape attributes are written too. */
int ckpt_put_params(ckpt_writer *w, const char *group, const gpt2_config *c, const float *flat, photon_err *err);
/* Generic datasets (parent groups are created as needed). */
int ckpt_put_f32(ckpt_writer *w, const char *path, const float *data, size_t n, photon_err *err);
int ckpt_put_i64(ckpt_writer *w, const char *path, const int64_t *data, size_t n, photon_err *err);
int ckpt_put_u64(ckpt_writer *w, const char *path, const uint64_t *data, size_t n, photon_err *err);
int ckpt_commit(ckpt_writer *w, photon_err *err);   /* closes, fsyncs, renames; frees w */
void ckpt_abort(ckpt_writer *w);                     /* removes the temp file; frees w */

typedef struct ckpt_reader ckpt_reader;
/* Reads all of an untrusted checkpoint once in a child process (see
 * io/checkpoint_probe.c): 0 when the child read it cleanly, else -1 with
 * the child's one-line error, or -2 with "reading it crashed the HDF5
 * library" / "did not finish in N s" / "needs more memory than a
 * checkpoint of N bytes can" when the library died, hung or would have
 * taken memory out of proportion to the file (the caller must not read it
 * in-process then).
 * Call before reading a file that came from elsewhere. */
int ckpt_probe(const char *path, double seconds, photon_err *err);
/* A generous time limit for probing path (grows with its size). */
double ckpt_probe_seconds(const char *path);
/* ckpt_check_untrusted: ckpt_probe with that limit, unless probing was
 * turned off (the fuzz targets read in-process, so that the library's own
 * crashes show up as findings). */
int ckpt_check_untrusted(const char *path, photon_err *err);
void ckpt_probe_disable(void);
/* Opens and checks format / format_version; meta is filled (free meta->config). */
ckpt_reader *ckpt_open(const char *path, ckpt_meta *meta, photon_err *err);
/* Reads /model attributes into c (padded_vocab from the wte shape). */
int ckpt_model_config(ckpt_reader *r, gpt2_config *c, photon_err *err);
/* Checks, without reading the data, that group holds every HF-named tensor
 * of c as a float dataset of the right shape whose data is all stored (for
 * "/model", also the shape attributes against c): call it before allocating
 * memory for a model whose shape a file declared. */
int ckpt_check_params(ckpt_reader *r, const char *group, const gpt2_config *c, photon_err *err);
/* Reads an HF-named group into a flat vector (checks every tensor's presence,
 * shape, stored data and checksum). */
int ckpt_get_params(ckpt_reader *r, const char *group, const gpt2_config *c, float *flat, photon_err *err);
int ckpt_has(ckpt_reader *r, const char *path);
/* Number of elements of dataset path, or -1 with err (missing, unreadable). */
int64_t ckpt_len(ckpt_reader *r, const char *path, photon_err *err);
/* 0 when all of dataset path's data is stored (see ckpt_check_params), so
 * its declared size can be allocated; -1 with err. */
int ckpt_check_stored(ckpt_reader *r, const char *path, photon_err *err);
/* Reads exactly n elements (error if the dataset has another size). */
int ckpt_get_f32(ckpt_reader *r, const char *path, float *data, size_t n, photon_err *err);
int ckpt_get_i64(ckpt_reader *r, const char *path, int64_t *data, size_t n, photon_err *err);
int ckpt_get_u64(ckpt_reader *r, const char *path, uint64_t *data, size_t n, photon_err *err);
void ckpt_close(ckpt_reader *r);

/* Added for inspect and resume (additive):
 * reads every dataset once, in bounded memory, so that each chunk's
 * Fletcher-32 checksum is checked; also requires of every non-empty dataset
 * that it is float32/64 or an integer of up to 64 bits, carries the
 * Fletcher-32 filter, has all its data stored, and (floats) holds only
 * finite values.  -1 with err naming the first dataset that fails. */
int ckpt_verify(ckpt_reader *r, photon_err *err);
/* Calls fn for every group and dataset below the root, in creation order
 * (groups: rank -1).  dtype is "f32", "f64", "i32", "i64", "u64", "str", ...
 * A non-zero return from fn stops the walk and is returned. */
typedef int (*ckpt_visit_fn)(const char *path, int rank, const uint64_t *dims,
                             const char *dtype, void *ud);
int ckpt_visit(ckpt_reader *r, ckpt_visit_fn fn, void *ud, photon_err *err);
#endif
