/* TensorBoard event files, written without TensorFlow: a TFRecord stream
 * (per record: u64 length, u32 masked CRC32C of the length, the bytes, u32
 * masked CRC32C of the bytes; little-endian) of `Event` protocol buffers
 * (tensorflow/core/util/event.proto), encoded here by hand:
 *
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
 *             Summary summary = 5; SessionLog session_log = 7; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 *   SessionLog { SessionStatus status = 1; }   START = 1
 *
 * A file is <dir>/events.out.tfevents.<unix seconds>.<host>; it starts with
 * the file_version "brain.Event:2" event.  Every event is one write(2) and
 * reaches the file at once, so `tensorboard --logdir` shows it live.  A
 * write error is warned about once; the run goes on (the figures are also
 * in metrics.jsonl). */
#ifndef PHOTON_TFEVENTS_H
#define PHOTON_TFEVENTS_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef struct tfevents tfevents;

/* Creates dir if needed and a new event file in it, named with a time
 * later than any event file already there (TensorBoard reads a
 * directory's files in name order). */
tfevents *tfevents_open(const char *dir, photon_err *err);
void tfevents_close(tfevents *t);
/* Path of the file being written. */
const char *tfevents_path(const tfevents *t);

/* One event of scalars at a step: begin, add each tag's value, end (writes). */
void tfevents_begin(tfevents *t, int64_t step);
void tfevents_scalar(tfevents *t, const char *tag, double value);   /* non-finite values are skipped */
int tfevents_end(tfevents *t);
/* A SessionLog START at step: TensorBoard drops the points of every tag
 * at steps >= step that earlier files hold (a resumed run's restart). */
int tfevents_session_start(tfevents *t, int64_t step);

/* CRC-32C (Castagnoli), as used by TFRecord; crc starts at 0. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t n);
/* TFRecord's masked form: rotate right by 15, add 0xa282ead8. */
uint32_t crc32c_mask(uint32_t crc);
/* Frames payload as one TFRecord into out (n + 16 bytes). */
void tfrecord_frame(const void *payload, size_t n, unsigned char *out);
#endif
