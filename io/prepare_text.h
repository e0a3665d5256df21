/* The streaming half of prepare: read text sources chunk by chunk (about
 * 32 MB of text at a time), and either tokenize each chunk on all cores,
 * appending tokens in document order, or count its words for BPE training.
 * Only tokens are kept, never the whole corpus as text. */
#ifndef PHOTON_PREPARE_TEXT_H
#define PHOTON_PREPARE_TEXT_H
#include <stdint.h>
#include "io/config.h"
#include "io/manifest.h"
#include "io/tokenizer.h"

/* Tokens of all documents read, each document followed by EOT:
 * document d is tok[off[d] .. off[d+1]). */
typedef struct {
    uint32_t *tok; size_t n, cap;
    int64_t *off; int64_t nd, dcap;
} tokstore;
void tokstore_free(tokstore *t);

/* Tokenizes the sources of l (src[i].path, at most max_docs documents each,
 * 0 = all) into out; sets src[i].docs and src[i].tokens.  A source without
 * documents is an error. */
int prep_tokenize(const cfg_list *l, int64_t max_docs, man_source *src, const tokenizer *t, int threads,
                  tokstore *out, const char *what, photon_err *err);
/* Trains a vocab-token BPE on the same documents into dir; returns 0 or -1. */
int prep_train(const cfg_list *l, int64_t max_docs, man_source *src, int vocab, const char *dir, int threads,
               photon_err *err);
#endif
