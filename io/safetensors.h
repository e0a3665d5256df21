/* Reading Hugging Face safetensors files (the format's whole definition: an
 * 8-byte little-endian header length N, N bytes of JSON {name: {"dtype",
 * "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
 * tensors' bytes).  Every figure the file states is checked before it is
 * believed, as the safetensors library does: the header fits the file and
 * 100 MB, it is UTF-8 JSON of the right shape with each name once, shapes
 * multiply out to the byte ranges without overflow, and the ranges lie in
 * the data area and tile it exactly (no overlap, no hole).  Memory is the
 * header plus about 100 bytes per tensor.  F32, F16 and BF16 tensors are
 * converted to float32 exactly (every F16 and BF16 value is a float). */
#ifndef PHOTON_SAFETENSORS_H
#define PHOTON_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

#define ST_MAX_HEADER 100000000u   /* the safetensors library's limit */
#define ST_MAX_TENSORS 1000000
#define ST_MAX_RANK 8

enum { ST_F32, ST_F16, ST_BF16, ST_OTHER };

typedef struct {
    char *name;
    int dtype;                    /* ST_*; ST_OTHER keeps dtype_name */
    char dtype_name[16];
    int rank;
    uint64_t shape[ST_MAX_RANK];
    uint64_t begin, end;          /* byte range in the data area */
} st_tensor;

typedef struct {
    st_tensor *t;
    size_t n;
} st_header;

/* Parses and checks a whole header from the first bytes of a file of
 * file_size bytes (buf holds at least 8 + N of them, or fewer: "truncated").
 * 0, or -1 with err ("header length ..."); free with st_header_free.  A
 * pure function of its input, which tests/fuzz/fuzz_safetensors.c feeds. */
int st_parse(const unsigned char *buf, size_t n, uint64_t file_size, st_header *out, photon_err *err);
void st_header_free(st_header *h);

typedef struct safetensors safetensors;
safetensors *st_open(const char *path, photon_err *err);
const st_header *st_tensors(const safetensors *s);
const st_tensor *st_find(const safetensors *s, const char *name);
size_t st_numel(const st_tensor *t);
/* Reads tensor t converted to float32 (numel floats); -1 with err for a
 * dtype other than F32 / F16 / BF16 or a read error. */
int st_read_f32(const safetensors *s, const st_tensor *t, float *out, photon_err *err);
void st_close(safetensors *s);

/* Exact conversions to float32. */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);
#endif
