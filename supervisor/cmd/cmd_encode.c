/* `photon-sim encode --tokenizer DIR [--eot] < TEXT`: prints the token ids
 * of standard input on one line (DESIGN §3); `--jsonl` takes JSON Lines and
 * prints one line per document (how the tests compare whole corpora with
 * Hugging Face tokenizers in one process).  `--bench FILE [--threads N]`
 * instead tokenizes every document of a text source on N threads and prints
 * the throughput, for bench/tokenizer_bench.py to compare with tiktoken. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"
#include "io/jsonr.h"
#include "io/textsrc.h"
#include "io/tokenizer.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

/* Reads all documents of a source into memory, then times only tokenization. */
static int bench(const tokenizer *t, const char *path, int threads, int max_docs)
{
    photon_err err;
    textsrc *src = textsrc_open(path, &err);
    if (!src) { fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_FAIL; }
    size_t nd = 0, cap = 0, bytes = 0;
    char **docs = NULL;
    size_t *lens = NULL;
    const char *text;
    size_t n;
    int rc;
    while ((max_docs <= 0 || nd < (size_t)max_docs) && (rc = textsrc_next(src, &text, &n, &err)) == 1) {
        if (nd == cap) {
            cap = cap ? cap * 2 : 1024;
            docs = xrealloc(docs, cap * sizeof *docs);
            lens = xrealloc(lens, cap * sizeof *lens);
        }
        docs[nd] = xmalloc(n);
        memcpy(docs[nd], text, n);
        lens[nd++] = n;
        bytes += n;
    }
    textsrc_close(src);
    if (max_docs <= 0 && rc < 0) { fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_FAIL; }
    size_t tokens = 0;
    double t0 = time_mono();
#pragma omp parallel num_threads(threads) reduction(+ : tokens)
    {
        uint32_t *ids = NULL;
        size_t len = 0, icap = 0;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < nd; i++) {
            len = 0;
            tokens += tok_encode(t, docs[i], lens[i], &ids, &len, &icap);
        }
        free(ids);
    }
    double dt = time_mono() - t0;
    printf("{\"docs\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"threads\": %d, \"seconds\": %.4f, \"mb_per_s\": %.3f}\n",
           nd, bytes, tokens, threads, dt, bytes / 1e6 / dt);
    for (size_t i = 0; i < nd; i++) free(docs[i]);
    free(docs);
    free(lens);
    return 0;
}

static void print_ids(const uint32_t *ids, size_t len)
{
    for (size_t i = 0; i < len; i++) printf(i ? " %u" : "%u", ids[i]);
    putchar('\n');
}

/* --jsonl: every line of text is a JSON object with a "text" string. */
static int encode_jsonl(const tokenizer *t, const char *text, size_t n)
{
    uint32_t *ids = NULL;
    size_t icap = 0, line = 0;
    jbuf doc = { 0 };
    int rc = PHOTON_EXIT_OK;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - text) : n;
        line++;
        const char *msg;
        size_t off;
        if (e > i && jsonr_object_string(text + i, e - i, "text", &doc, &msg, &off) != 1) {
            fprintf(stderr, "photon-sim: error: encode --jsonl: standard input line %zu: expected {\"text\": \"...\"}\n", line);
            rc = PHOTON_EXIT_FAIL;
            break;
        }
        if (e > i) {
            size_t len = 0;
            tok_encode(t, doc.data, doc.len, &ids, &len, &icap);
            print_ids(ids, len);
        }
        i = e + 1;
    }
    jbuf_free(&doc);
    free(ids);
    return rc;
}

int cmd_encode(int argc, char **argv)
{
    const char *dir = NULL, *bench_path = NULL;
    int eot = 0, threads = 0, max_docs = 0, jsonl = 0;
    const cmd_opt opts[] = {
        { "--tokenizer", OPT_STR, &dir, 0, 0 },
        { "--eot", OPT_FLAG, &eot, 0, 0 },
        { "--bench", OPT_STR, &bench_path, 0, 0 },
        { "--threads", OPT_INT, &threads, 0, 1024 },
        { "--max-docs", OPT_INT, &max_docs, 0, 2147483647.0 },
        { "--jsonl", OPT_FLAG, &jsonl, 0, 0 },
    };
    if (cmd_parse("encode", argc, argv, opts, 6, NULL, 0, 0) < 0) return PHOTON_EXIT_USAGE;
    if (!dir) {
        fprintf(stderr, "photon-sim encode: error: --tokenizer DIR is required (see photon-sim encode --help)\n");
        return PHOTON_EXIT_USAGE;
    }
    photon_err err;
    tokenizer *t = tok_load(dir, &err);
    if (!t) { fprintf(stderr, "photon-sim: error: %s\n", err.msg); return PHOTON_EXIT_FAIL; }
    if (bench_path) {
        int rc = bench(t, bench_path, cpu_threads(threads), max_docs);
        tok_free(t);
        return rc;
    }
    size_t cap = 1 << 16, n = 0;
    char *text = xmalloc(cap);
    size_t got;
    while ((got = fread(text + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) text = xrealloc(text, cap *= 2);
    }
    if (ferror(stdin)) {
        fprintf(stderr, "photon-sim: error: encode: cannot read standard input\n");
        free(text); tok_free(t);
        return PHOTON_EXIT_FAIL;
    }
    if (jsonl) {
        int rc = encode_jsonl(t, text, n);
        free(text);
        tok_free(t);
        return rc;
    }
    uint32_t *ids = NULL;
    size_t len = 0, icap = 0;
    if (eot) tok_encode_with_eot(t, text, n, &ids, &len, &icap);
    else tok_encode(t, text, n, &ids, &len, &icap);
    print_ids(ids, len);
    free(ids);
    free(text);
    tok_free(t);
    return PHOTON_EXIT_OK;   /* main reports output that could not be written */
}
