/* GPT-2 byte-level BPE tokenizer: loads encoder.json + vocab.bpe, splits
 * text with GPT-2's pre-tokenizer rules, merges by rank, decodes exactly. */
#ifndef PHOTON_TOKENIZER_H
#define PHOTON_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef struct tokenizer tokenizer;

/* dir holds encoder.json and vocab.bpe. */
tokenizer *tok_load(const char *dir, photon_err *err);
void tok_free(tokenizer *t);
int tok_vocab_size(const tokenizer *t);
int tok_eot(const tokenizer *t);      /* id of <|endoftext|>, -1 if none */
/* Encodes n bytes of text, appending ids to *ids (growable, *cap elements).
 * Returns the number of ids appended.  Thread-safe for concurrent callers. */
size_t tok_encode(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap);
/* Like tok_encode but the literal "<|endoftext|>" becomes the EOT token. */
size_t tok_encode_with_eot(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap);
/* Bytes of one token (not NUL-terminated); NULL if id is out of range. */
const char *tok_piece(const tokenizer *t, uint32_t id, size_t *n);
/* Decodes ids into a malloc'd NUL-terminated byte string. */
char *tok_decode(const tokenizer *t, const uint32_t *ids, size_t n, size_t *out_len);
/* Content hash of the tokenizer files (for the data manifest). */
uint64_t tok_hash(const tokenizer *t);
#endif
