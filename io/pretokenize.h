/* GPT-2's pre-tokenizer, by hand: the split that the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * makes, without a regex engine.  Bytes that are not valid UTF-8 are taken
 * one at a time as "other" symbols, so any byte string splits losslessly. */
#ifndef PHOTON_PRETOKENIZE_H
#define PHOTON_PRETOKENIZE_H
#include <stddef.h>
#include <stdint.h>

enum { UCLASS_LETTER, UCLASS_NUMBER, UCLASS_SPACE, UCLASS_OTHER };

/* Class of a code point (letters \p{L}, numbers \p{N}, White_Space, other). */
int uclass(uint32_t cp);
/* Rust regex's \w (word character) and \s (White_Space), for Hugging Face's
 * added-token options (single_word, lstrip, rstrip). */
int uword(uint32_t cp);
int uspace(uint32_t cp);
/* Decodes one UTF-8 character at s[i] (i < n); returns its byte length and
 * sets *cp (0xFFFFFFFF for an invalid byte, length 1). */
int utf8_decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp);
/* End (exclusive) of the pre-token that starts at i (i < n). */
size_t pretok_next(const unsigned char *s, size_t n, size_t i);
/* Offset of the first invalid UTF-8 byte in s, or n when s is valid. */
size_t utf8_first_invalid(const unsigned char *s, size_t n);
#endif
