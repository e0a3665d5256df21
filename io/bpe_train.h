/* Byte-level BPE training (GPT-2 style): count the pre-tokenized words of
 * the training text, then repeatedly merge the most frequent adjacent pair.
 * Deterministic: ties go to the pair whose (left bytes, right bytes) sorts
 * first.  Writes encoder.json + vocab.bpe in GPT-2's format, with the 256
 * byte tokens first (in GPT-2's order), then one token per merge, then
 * <|endoftext|> last. */
#ifndef PHOTON_BPE_TRAIN_H
#define PHOTON_BPE_TRAIN_H
#include <stddef.h>
#include "io/common.h"

typedef struct bpe_counter bpe_counter;

bpe_counter *bpe_counter_new(void);
void bpe_counter_free(bpe_counter *c);
/* Pre-tokenizes text with GPT-2's split rules and counts its words. */
void bpe_counter_add(bpe_counter *c, const char *text, size_t n);
/* Adds src's counts into dst (for counting on several threads). */
void bpe_counter_merge(bpe_counter *dst, const bpe_counter *src);
size_t bpe_counter_words(const bpe_counter *c);

/* Trains a vocabulary of vocab_size tokens (>= 257, fewer if the text runs
 * out of pairs) and writes dir/encoder.json and dir/vocab.bpe atomically.
 * Returns the vocabulary size written, or -1 with err. */
int bpe_train(const bpe_counter *c, int vocab_size, const char *dir, photon_err *err);
#endif
