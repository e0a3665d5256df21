/* Fuzz target: loading a GPT-2 byte-level BPE tokenizer (io/tokenizer.c:
 * encoder.json + vocab.bpe) and using it.  The input is three parts
 * separated by "\n%%%\n": encoder.json, vocab.bpe, a text.  Property besides
 * memory safety: byte-level BPE loses nothing, so decoding the encoding of
 * any text gives back exactly its bytes. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[3];
    size_t len[3];
    int n = fz_split(data, size, part, len, 3);
    if (n < 2) return 0;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tok", fz_dir());
    photon_err err;
    mkdir_p(dir, &err);
    fz_write("tok/encoder.json", part[0], len[0]);
    fz_write("tok/vocab.bpe", part[1], len[1]);
    tokenizer *t = tok_load(dir, &err);
    if (!t) {
        if (strchr(err.msg, '\n')) { fprintf(stderr, "bad error message: %s\n", err.msg); abort(); }
        return 0;
    }
    const char *text = n == 3 ? (const char *)part[2] : "Hello, world! 123 <|endoftext|> e\xcc\x81";
    size_t tn = n == 3 ? (len[2] > 4096 ? 4096 : len[2]) : strlen(text);
    for (int eot = 0; eot < 2; eot++) {
        uint32_t *ids = NULL;
        size_t nid = 0, cap = 0;
        if (eot) tok_encode_with_eot(t, text, tn, &ids, &nid, &cap);
        else tok_encode(t, text, tn, &ids, &nid, &cap);
        for (size_t i = 0; i < nid; i++)
            if (ids[i] >= (uint32_t)tok_vocab_size(t)) { fprintf(stderr, "id beyond the vocabulary\n"); abort(); }
        size_t out_len;
        char *back = tok_decode(t, ids, nid, &out_len);
        if (out_len != tn || memcmp(back, text, tn) != 0) {
            fprintf(stderr, "decode(encode(text)) != text (%zu vs %zu bytes, eot %d)\n", out_len, tn, eot);
            abort();
        }
        free(back);
        free(ids);
    }
    tok_free(t);
    return 0;
}
