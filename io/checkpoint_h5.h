/* Internal to io/checkpoint*.c: the HDF5 helpers the checkpoint writer and
 * reader share — silencing HDF5's own error printing, turning its error
 * stack into one line, and the attribute names of the format. */
#ifndef PHOTON_CHECKPOINT_H5_H
#define PHOTON_CHECKPOINT_H5_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#define CKPT_FORMAT "photon-sim"
#define CKPT_FORMAT_VERSION 1
#define CKPT_MODEL_GROUP "/model"

/* Turns off HDF5's automatic printing of error stacks (once per process):
 * every failure is reported by photon-sim as one line instead. */
void ckpt_h5_quiet(void);
/* Describes the error HDF5 just recorded (innermost message) into buf;
 * returns 1 if the stack mentions a failed checksum (Fletcher-32 on data,
 * or a metadata checksum), 0 otherwise.  Call right after the failing call. */
int ckpt_h5_error(char *buf, size_t n);
/* "/model" + "x" -> "/model/x" (no doubled slash). */
void ckpt_h5_join(char *out, size_t n, const char *group, const char *name);
/* 1 when dataset d carries the Fletcher-32 filter. */
int ckpt_h5_fletcher(hid_t d);
/* 1 when all of dataset d's data is stored: every chunk written, and (if it
 * is not compressed) as many bytes stored as its shape and type need, no more
 * than the file's size.  0 with the reason in why otherwise: reading it would
 * give fill values for the missing part, or a shape would make a reader
 * allocate far more than the file holds. */
int ckpt_h5_stored(hid_t d, uint64_t file_size, char *why, size_t n);
/* The open reader's file id and path (for io/checkpoint_walk.c). */
struct ckpt_reader;
hid_t ckpt_h5_file(const struct ckpt_reader *r);
const char *ckpt_h5_path(const struct ckpt_reader *r);
uint64_t ckpt_h5_size(const struct ckpt_reader *r);
#endif
