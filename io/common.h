/* Common helpers every part of photon-sim uses: error reporting, logging,
 * deterministic random numbers, hashing, time, atomic file writes.
 * Kept small on purpose: anything bigger gets its own module. */
#ifndef PHOTON_COMMON_H
#define PHOTON_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

/* Exit status contract (DESIGN §3). */
enum { PHOTON_EXIT_OK = 0, PHOTON_EXIT_FAIL = 1, PHOTON_EXIT_USAGE = 2 };

/* An error message buffer passed down the call chain: functions that can fail
 * return -1 (or NULL) and fill it with one clear line, no trailing newline. */
typedef struct { char msg[1024]; } photon_err;
void err_set(photon_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "ctx: old message". */
void err_prefix(photon_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logging to stderr with a short program tag ("photon-sim: ..."). */
void log_set_tag(const char *tag);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_set_quiet(bool quiet);
/* fn(ud) runs before each log line is written (NULL: none), so a caller that
 * owns the terminal (the supervisor's live progress line) can clear it first. */
void log_set_pre_hook(void (*fn)(void *ud), void *ud);
/* Prints "photon-sim: error: ..." and exits with status code. */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Allocation that dies with a clear message on failure.  xmalloc goes through
 * the fault seam below so tests can fail the Nth allocation. */
void *xmalloc(size_t n);
/* The exit status of a failed allocation (default PHOTON_EXIT_FAIL); a
 * child process that reads untrusted input under a memory limit sets its
 * own, so its parent can tell "out of memory" from a crash. */
void xalloc_set_fail_status(int status);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* 64-byte aligned allocation for model-sized buffers; free with free(). */
void *xmalloc_aligned(size_t n);

/* Deterministic RNG: splitmix64 for seeding, xoshiro256** for streams.
 * rng_derive gives an independent stream from (seed, a, b, c), so e.g. the
 * data order depends only on (seed, client, step) and never on timing. */
typedef struct { uint64_t s[4]; } photon_rng;
uint64_t splitmix64(uint64_t *state);
void rng_seed(photon_rng *r, uint64_t seed);
void rng_derive(photon_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t rng_u64(photon_rng *r);
double rng_uniform(photon_rng *r);            /* [0, 1) */
float rng_normal(photon_rng *r);              /* N(0, 1), Box-Muller */
uint64_t rng_below(photon_rng *r, uint64_t n); /* [0, n), unbiased */

/* Hashing: 64-bit FNV-1a (streaming) for content hashes and checksums. */
uint64_t hash64(const void *data, size_t n, uint64_t h);
#define HASH64_INIT 0xcbf29ce484222325ULL
/* Fast checksum for large buffers (shm payloads): CRC32C-free, 4-lane FNV. */
uint64_t checksum_fast(const void *data, size_t n);

/* Monotonic seconds, and wall-clock seconds since the epoch. */
double time_mono(void);
double time_wall(void);

/* Files. */
/* Opens path for reading only if it is a regular file of at most max bytes
 * (0 = any size): never blocks on a FIFO, never reads a device such as
 * /dev/zero.  what names the file in errors ("an INI file": "x: is a
 * FIFO, expected an INI file").
 * Returns the descriptor (st filled when not NULL), or -1 with err. */
struct stat;
/* "a directory", "a FIFO", "a character device", ... for st_mode m. */
const char *file_kind(unsigned m);
int file_open_regular(const char *path, uint64_t max, const char *what, struct stat *st, photon_err *err);
/* Reads a whole regular file of at most max bytes (file_open_regular);
 * returns NULL and fills err on failure.  *len excludes the added NUL. */
char *file_read_max(const char *path, uint64_t max, const char *what, size_t *len, photon_err *err);
/* file_read_max with FILE_READ_MAX. */
#define FILE_READ_MAX ((uint64_t)1 << 30)
char *file_read_all(const char *path, size_t *len, photon_err *err);
bool file_exists(const char *path);
/* mkdir -p; returns 0 or -1 with err. */
int mkdir_p(const char *path, photon_err *err);
/* Directory part of path into out (without trailing slash; "." if none). */
void path_dirname(const char *path, char *out, size_t n);
/* Joins dir and name ("name" alone if name is absolute). */
void path_join(char *out, size_t n, const char *dir, const char *name);

/* Atomic replace (redis style): write to "<path>.tmp.<pid>", fsync, rename
 * over path, fsync the directory.  On any failure the temp file is removed
 * and the old file at path is untouched. */
typedef struct atomic_file atomic_file;
atomic_file *afile_open(const char *path, photon_err *err);
FILE *afile_stream(atomic_file *f);
const char *afile_tmp_path(atomic_file *f);
int afile_commit(atomic_file *f, photon_err *err);  /* frees f */
void afile_abort(atomic_file *f);                    /* frees f, removes temp */
/* Removes the temporary files that interrupted atomic writes left in dir:
 * regular files named "<name>.tmp.<pid>" (afile_open's and ckpt_create's
 * naming) whose writer is gone — the pid is not running, or runs another
 * program now — or every one when all_pids (never this process's own
 * unless all_pids).  Returns how many were removed. */
int tmp_sweep(const char *dir, bool all_pids);
/* Whole-buffer convenience. */
int file_write_atomic(const char *path, const void *data, size_t n, photon_err *err);
/* fsync a directory (after a rename inside it). */
int fsync_dir(const char *dir, photon_err *err);

/* Fault seams (SQLite style): tests arm a seam to fail its Nth call.
 * PHOTON_FAULT_<NAME>=N in the environment arms it too (for the binary);
 * with PHOTON_FAULT_KILL also set, the process SIGKILLs itself at that call. */
typedef enum { SEAM_ALLOC, SEAM_WRITE, SEAM_FSYNC, SEAM_COUNT } photon_seam;
void seam_arm(photon_seam s, long nth);   /* 0 disarms */
bool seam_hit(photon_seam s);             /* true when this call must fail */

/* Number of CPU threads to use (0 in config means all online cores). */
int cpu_threads(int requested);

/* Minimal JSON string writer: writes s quoted and escaped. */
void json_write_string(FILE *f, const char *s);
#endif
