/* GPT-2's byte <-> unicode mapping (bytes_to_unicode in OpenAI's encoder.py):
 * every byte gets a printable code point so that encoder.json and vocab.bpe
 * can store byte strings as text.  Shared by the tokenizer loader and the
 * BPE trainer that writes files in the same format. */
#ifndef PHOTON_BYTES_UNICODE_H
#define PHOTON_BYTES_UNICODE_H
#include <stdint.h>

/* Code point that byte b is written as. */
uint32_t bu_byte_to_cp(unsigned b);
/* Byte that code point cp stands for, or -1 if cp is not in the mapping. */
int bu_cp_to_byte(uint32_t cp);
/* GPT-2's id order of the 256 byte tokens: order[i] is the byte of id i. */
void bu_byte_order(unsigned char order[256]);
#endif
