/* Byte-level BPE tokenizers: GPT-2's encoder.json + vocab.bpe, Hugging
 * Face's vocab.json + merges.txt and tokenizer.json (GPT-2, GPT-NeoX and the
 * other byte-level BPEs: their normalizer, pre-tokenizer regex, added and
 * special tokens), each encoding exactly as its reference library does
 * (tiktoken for the first, Hugging Face tokenizers for the others), and
 * decoding exactly. */
#ifndef PHOTON_TOKENIZER_H
#define PHOTON_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

typedef struct tokenizer tokenizer;

/* dir holds tokenizer.json, else vocab.json + merges.txt, else encoder.json
 * + vocab.bpe (the first found is used).  A tokenizer that is not a
 * byte-level BPE, or uses a part photon-sim does not implement, is an error
 * naming it. */
tokenizer *tok_load(const char *dir, photon_err *err);
/* Content hash of the files tok_load would read from dir. */
int tok_dir_hash(const char *dir, uint64_t *h, photon_err *err);
/* 1 if dir holds the first file of one of the tokenizer kinds (readable or not). */
int tok_dir_present(const char *dir);
/* The files it was read from: "tokenizer.json", "vocab.json + merges.txt", ... */
const char *tok_kind(const tokenizer *t);
void tok_free(tokenizer *t);
int tok_vocab_size(const tokenizer *t);
int tok_eot(const tokenizer *t);      /* id of <|endoftext|> (or the eos token), -1 if none */
/* Encodes n bytes of text, appending ids to *ids (growable, *cap elements).
 * Returns the number of ids appended.  Thread-safe for concurrent callers. */
size_t tok_encode(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap);
/* Like tok_encode but the literal "<|endoftext|>" becomes the EOT token
 * (tokenizer.json: added tokens are always matched in the text). */
size_t tok_encode_with_eot(const tokenizer *t, const char *text, size_t n, uint32_t **ids, size_t *len, size_t *cap);
/* Bytes of one token (not NUL-terminated); NULL if id is out of range. */
const char *tok_piece(const tokenizer *t, uint32_t id, size_t *n);
/* Decodes ids into a malloc'd NUL-terminated byte string. */
char *tok_decode(const tokenizer *t, const uint32_t *ids, size_t n, size_t *out_len);
/* Content hash of the tokenizer files (for the data manifest). */
uint64_t tok_hash(const tokenizer *t);
#endif
