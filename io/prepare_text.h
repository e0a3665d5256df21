/* The streaming half of prepare: read one text file chunk by chunk (about
 * 32 MB of text at a time) and either tokenize each chunk on all cores into
 * the file's token cache (io/tokcache.h), documents in order, or count its
 * words for BPE training.  Only one chunk of text is ever in memory. */
#ifndef PHOTON_PREPARE_TEXT_H
#define PHOTON_PREPARE_TEXT_H
#include <stdint.h>
#include "io/progress.h"
#include "io/textsrc.h"
#include "io/tokenizer.h"

/* Reading options shared by every file of a prepare. */
typedef struct {
    textsrc_opts src;
    int threads;
    progress *pr;        /* shows done_before + this file's bytes */
    uint64_t done_before;
} prep_read;

/* Tokenizes at most max_docs documents (0 = all) of path into the cache
 * file cache_path (key: see tokcache_open); *docs gets the count. */
int prep_tokenize_file(const char *path, const prep_read *r, int64_t max_docs, const tokenizer *t, int wide,
                       const char *cache_path, uint64_t key, int64_t *docs, photon_err *err);

typedef struct bpe_counter bpe_counter;
/* Counts the words of at most max_docs documents of path into parts[0..threads). */
int prep_count_file(const char *path, const prep_read *r, int64_t max_docs, bpe_counter **parts, int64_t *docs,
                    photon_err *err);
#endif
