/* libFuzzer target: raw text sources (io/textsrc.c), the reader behind
 * `prepare` and the tokenizer training: JSON Lines or plain text, plain,
 * gzip or zstd (recognised from the content, io/instream.c).  The first
 * input byte chooses: bit 0 a .jsonl name (else .txt), bit 1 text_key
 * "meta.text" (else "text"), bit 2 label_key "src", bit 3 a 64-byte
 * document limit (else 4 KiB).  Invariants besides memory safety: every
 * document is at most the limit, errors are one line naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/textsrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) { log_set_quiet(true); init = 1; }
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const char *path = fz_write(mode & 1 ? "src.jsonl" : "src.txt", data + 1, size - 1);
    textsrc_opts o = { .text_key = mode & 2 ? "meta.text" : NULL, .label_key = mode & 4 ? "src" : NULL,
                       .max_doc = mode & 8 ? 64 : 4096 };
    photon_err err;
    textsrc *s = textsrc_open_opts(path, &o, &err);
    if (!s) {
        if (!strstr(err.msg, "src.") || strchr(err.msg, '\n')) { fprintf(stderr, "bad error: %s\n", err.msg); abort(); }
        return 0;
    }
    const char *text;
    size_t n;
    int rc;
    long docs = 0;
    while ((rc = textsrc_next(s, &text, &n, &err)) == 1) {
        if (n == 0 || n > o.max_doc) { fprintf(stderr, "document of %zu bytes (limit %zu)\n", n, o.max_doc); abort(); }
        volatile char sink = text[0] ^ text[n - 1];   /* the whole document is readable */
        (void)sink;
        size_t ln;
        const char *label = textsrc_label(s, &ln);
        if (label && ln) { volatile char c = label[ln - 1]; (void)c; }
        if ((size_t)++docs > textsrc_bytes(s)) { fprintf(stderr, "more documents than bytes read\n"); abort(); }
    }
    if (rc < 0 && (!strstr(err.msg, "src.") || strchr(err.msg, '\n'))) {
        fprintf(stderr, "bad error: %s\n", err.msg);
        abort();
    }
    textsrc_close(s);
    return 0;
}
