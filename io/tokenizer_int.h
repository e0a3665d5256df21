/* Internal to the tokenizer: the byte-level BPE core (io/tokenizer.c) that
 * the file loaders (GPT-2 files in tokenizer.c, Hugging Face tokenizer.json
 * in io/hf_tokenizer.c) fill, and the encoding pipeline of Hugging Face
 * tokenizers (added tokens, normalizer, pre-tokenizers: io/tok_pipeline.c)
 * calls back into.  Other modules use io/tokenizer.h only. */
#ifndef PHOTON_TOKENIZER_INT_H
#define PHOTON_TOKENIZER_INT_H
#include "io/jsonr.h"
#include "io/tokenizer.h"

#define TOK_NONE 0xFFFFFFFFu

/* Per-token flags. */
enum {
    TOKF_PRESENT = 1,   /* the id exists (a vocabulary may have holes) */
    TOKF_VOCAB = 2,     /* a BPE vocabulary token, found by its bytes */
    TOKF_WHOLE = 4,     /* merging its bytes gives back this token: whole-word lookup is exact */
    TOKF_ADDED = 8,     /* an added token (matched in the text before BPE) */
    TOKF_SPECIAL = 16,  /* a special added token */
};

/* Where encoded ids go (a growable array). */
typedef struct { uint32_t **ids; size_t *len, *cap; } tok_out;
void tok_push(tok_out *o, const uint32_t *v, size_t n);

/* Per-caller scratch (word cache, merge buffers, the pipeline's buffers). */
typedef struct wcache wcache;
wcache *tok_cache_get(const tokenizer *t);
void tok_cache_put(const tokenizer *t, wcache *c);
/* The pipeline's scratch slot in c, freed with free_fn when c is freed. */
void **tok_cache_slot(wcache *c, void (**free_fn)(void *));

/* ---- building (loaders) ---- */
/* A tokenizer with ids 0..n-1, all absent. */
tokenizer *tok_new(int n);
/* Sets id's bytes and flags. */
void tok_set(tokenizer *t, uint32_t id, const void *bytes, size_t len, unsigned flags);
/* Indexes the TOKF_VOCAB tokens by their bytes and finds the byte tokens;
 * -1 (err names what) when two vocabulary tokens share their bytes, or when
 * require_bytes and a byte has no token. */
int tok_index(tokenizer *t, const char *what, int require_bytes, photon_err *err);
/* Vocabulary token with these bytes, or TOK_NONE (after tok_index). */
uint32_t tok_find(const tokenizer *t, const void *bytes, size_t n);
/* Appends merge (a, b) -> ab with the next rank.  A pair merged twice keeps
 * its first rank, or its last with last_wins (Hugging Face's rule). */
void tok_add_merge(tokenizer *t, uint32_t a, uint32_t b, uint32_t ab, int last_wins);
/* After all tokens and merges: marks TOKF_WHOLE tokens. */
void tok_finish(tokenizer *t);
void tok_add_flags(tokenizer *t, uint32_t id, unsigned flags);
/* 1 when every byte has a token (after tok_index). */
int tok_all_bytes(const tokenizer *t);
void tok_set_eot(tokenizer *t, int eot);
void tok_set_hash(tokenizer *t, uint64_t h);
/* BPE options of Hugging Face models: unk id (TOK_NONE = none) for bytes
 * without a token, fuse_unk, ignore_merges (look whole words up first). */
void tok_set_bpe_options(tokenizer *t, uint32_t unk, int fuse_unk, int ignore_merges);
/* Hands the encoding pipeline to t (freed with it). */
typedef struct tok_pipe tok_pipe;
void tok_set_pipe(tokenizer *t, tok_pipe *p);
void tok_set_kind(tokenizer *t, const char *kind);

/* ---- encoding (pipeline) ---- */
/* BPE of one pre-token (the bytes of one word). */
void tok_word(const tokenizer *t, wcache *c, const uint8_t *w, size_t n, tok_out *o);
/* GPT-2's regex split of s (io/pretokenize.c), then BPE of every piece. */
void tok_gpt2_span(const tokenizer *t, wcache *c, const uint8_t *s, size_t n, tok_out *o);
unsigned tok_flags(const tokenizer *t, uint32_t id);

/* Raw bytes of a string written in GPT-2's byte alphabet; -1 if a
 * character is outside it. */
int tok_unmap_bytes(const char *s, size_t n, jbuf *out);

/* io/hf_tokenizer.c: builds a tokenizer from a tokenizer.json document
 * (path is for messages). */
tokenizer *hf_tokenizer_parse(const char *path, const char *text, size_t n, photon_err *err);
/* Makes id a special added token matched in the text (vocab.json + merges.txt). */
int hf_tokenizer_add_special(tokenizer *t, uint32_t id, photon_err *err);

/* io/tok_pipeline.c: building a pipeline, in the order Hugging Face applies
 * it (normalizers, then pre-tokenizers), then tok_pipe_finish. */
enum { TOKN_NFC, TOKN_NFD, TOKN_NFKC, TOKN_NFKD };
enum { TOKS_REMOVED, TOKS_ISOLATED, TOKS_MERGED_PREV, TOKS_MERGED_NEXT, TOKS_CONTIGUOUS };
enum { TOKA_SINGLE_WORD = 1, TOKA_LSTRIP = 2, TOKA_RSTRIP = 4, TOKA_NORMALIZED = 8, TOKA_SPECIAL = 16 };
tok_pipe *tok_pipe_new(void);
void tok_pipe_normalizer(tok_pipe *p, int form);
void tok_pipe_bytelevel(tok_pipe *p, int add_prefix_space, int use_regex);
/* A Split on a regex (Oniguruma syntax, as Hugging Face compiles it) or a
 * literal string; -1 with err when the regex does not compile. */
int tok_pipe_split(tok_pipe *p, const char *pattern, size_t n, int is_regex, int behavior, int invert, photon_err *err);
void tok_pipe_digits(tok_pipe *p, int individual);
/* An added token (content in UTF-8) with TOKA_* options. */
void tok_pipe_added(tok_pipe *p, uint32_t id, const char *content, size_t n, unsigned opts);
/* Normalizes the normalized added tokens and builds the matchers; -1 with
 * err when the pipeline has no ByteLevel step (not a byte-level BPE). */
int tok_pipe_finish(tok_pipe *p, photon_err *err);

void tok_pipe_encode(const tokenizer *t, const tok_pipe *p, wcache *c, const uint8_t *s, size_t n, tok_out *o);
void tok_pipe_free(tok_pipe *p);
#endif
