/* Shared by the libFuzzer targets of tests/fuzz: a scratch directory per
 * fuzzing process (removed at exit) where an input is written as the files
 * a parser reads by path, and splitting one input into several files. */
#ifndef PHOTON_FUZZ_UTIL_H
#define PHOTON_FUZZ_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* The scratch directory (created on first use). */
const char *fz_dir(void);
/* Writes n bytes to <fz_dir>/name; returns the full path (static storage,
 * 8 slots). */
const char *fz_write(const char *name, const void *data, size_t n);
/* Splits data at each "\n%%%\n" into at most max parts (the last part
 * keeps any further separators); returns the number of parts. */
int fz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max);
#endif
