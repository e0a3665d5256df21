/* A photon-sim tokenizer written as a complete Hugging Face tokenizer (see
 * hf_tokenizer_export.h).  A tokenizer.json source is copied as it is (with
 * its tokenizer_config.json and special_tokens_map.json when it has them),
 * and vocab.json + merges.txt are derived from its model; GPT-2's two files
 * (OpenAI's, or a BPE photon-sim trained) are copied as vocab.json +
 * merges.txt and rewritten as the tokenizer.json Hugging Face makes of them:
 * byte-level BPE, ByteLevel pre-tokenizer and decoder without prefix space,
 * <|endoftext|> a special added token. */
#include "io/hf_tokenizer_export.h"
#include <stdlib.h>
#include <string.h>
#include "io/jtree.h"
#include "io/tokenizer.h"

static int copy_file(const char *from_dir, const char *from, const char *to_dir, const char *to, photon_err *err)
{
    char src[4200], dst[4200];
    path_join(src, sizeof src, from_dir, from);
    path_join(dst, sizeof dst, to_dir, to);
    size_t n;
    char *data = file_read_all(src, &n, err);
    if (!data) return -1;
    int rc = file_write_atomic(dst, data, n, err);
    free(data);
    return rc;
}

static FILE *open_out(const char *dir, const char *name, atomic_file **a, photon_err *err)
{
    char p[4200];
    path_join(p, sizeof p, dir, name);
    *a = afile_open(p, err);
    return *a ? afile_stream(*a) : NULL;
}

/* One merges line "a b" of a GPT-2 vocab.bpe as a JSON string. */
static void merge_lines_json(FILE *f, const char *text, size_t n)
{
    int first = 1, lineno = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && text[e] != '\n') e++;
        size_t le = e;
        if (le > i && text[le - 1] == '\r') le--;
        lineno++;
        if (le > i && !(lineno == 1 && le - i >= 8 && memcmp(text + i, "#version", 8) == 0)) {
            char *line = xmalloc(le - i + 1);
            memcpy(line, text + i, le - i);
            line[le - i] = 0;
            fputs(first ? "\n      " : ",\n      ", f);
            json_write_string(f, line);
            free(line);
            first = 0;
        }
        i = e + 1;
    }
}

static int gpt2_tokenizer_json(const char *tokdir, const char *enc, const char *bpe, const char *outdir, int eot,
                               photon_err *err)
{
    char p[4200];
    size_t en, bn;
    path_join(p, sizeof p, tokdir, enc);
    char *etext = file_read_all(p, &en, err);
    if (!etext) return -1;
    path_join(p, sizeof p, tokdir, bpe);
    char *btext = file_read_all(p, &bn, err);
    if (!btext) { free(etext); return -1; }
    atomic_file *a;
    FILE *f = open_out(outdir, "tokenizer.json", &a, err);
    if (!f) { free(etext); free(btext); return -1; }
    fputs("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [", f);
    if (eot >= 0)
        fprintf(f, "\n    {\"id\": %d, \"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false, "
                   "\"rstrip\": false, \"normalized\": false, \"special\": true}\n  ", eot);
    fputs("],\n  \"normalizer\": null,\n"
          "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n"
          "  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},\n"
          "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
          "  \"model\": {\n    \"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null,\n"
          "    \"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false,\n"
          "    \"vocab\": ", f);
    fwrite(etext, 1, en, f);   /* encoder.json is the vocabulary object itself */
    fputs(",\n    \"merges\": [", f);
    merge_lines_json(f, btext, bn);
    fputs("\n    ]\n  }\n}\n", f);
    free(etext);
    free(btext);
    return afile_commit(a, err);
}

/* vocab.json + merges.txt from a tokenizer.json's BPE model. */
static int vocab_merges_from_json(const char *tokdir, const char *outdir, photon_err *err)
{
    char p[4200];
    size_t n;
    path_join(p, sizeof p, tokdir, "tokenizer.json");
    char *text = file_read_all(p, &n, err);
    if (!text) return -1;
    photon_err e;
    jt_doc *d = jt_parse(text, n, &e);
    free(text);
    if (!d) { err_set(err, "%s: %s", p, e.msg); return -1; }
    const jt *model = jt_get(jt_root(d), "model");
    const jt *vocab = jt_get(model, "vocab"), *merges = jt_get(model, "merges");
    int rc = -1;
    atomic_file *a;
    FILE *f;
    if (!vocab || vocab->type != JT_OBJ) { err_set(err, "%s: no model.vocab", p); goto out; }
    if (!(f = open_out(outdir, "vocab.json", &a, err))) goto out;
    fputc('{', f);
    for (size_t i = 0; i < vocab->n; i++) {
        int64_t id = 0;
        jt_int(&vocab->v.kids[i], 0, INT32_MAX, &id);
        fputs(i ? ", " : "", f);
        json_write_string(f, vocab->v.kids[i].key);
        fprintf(f, ": %lld", (long long)id);
    }
    fputs("}\n", f);
    if (afile_commit(a, err)) goto out;
    if (!(f = open_out(outdir, "merges.txt", &a, err))) goto out;
    fputs("#version: 0.2\n", f);
    for (size_t i = 0; merges && merges->type == JT_ARR && i < merges->n; i++) {
        const jt *m = &merges->v.kids[i];
        if (m->type == JT_STR) fprintf(f, "%s\n", m->v.str);
        else if (m->type == JT_ARR && m->n == 2) fprintf(f, "%s %s\n", m->v.kids[0].v.str, m->v.kids[1].v.str);
    }
    rc = afile_commit(a, err);
out:
    jt_free(d);
    return rc;
}

static int write_configs(const char *outdir, const char *cls, const char *eos, int eot, int max_len, int gpt2,
                         photon_err *err)
{
    atomic_file *a;
    FILE *f = open_out(outdir, "tokenizer_config.json", &a, err);
    if (!f) return -1;
    fprintf(f, "{\n  \"tokenizer_class\": \"%s\",\n  \"model_max_length\": %d,\n", cls, max_len);
    fputs("  \"add_prefix_space\": false,\n  \"clean_up_tokenization_spaces\": false", f);
    if (eos) {
        const char *keys[3] = { "bos_token", "eos_token", "unk_token" };
        for (int i = 0; i < (gpt2 ? 3 : 2); i++) { fprintf(f, ",\n  \"%s\": ", keys[i]); json_write_string(f, eos); }
        fprintf(f, ",\n  \"added_tokens_decoder\": {\"%d\": {\"content\": ", eot);
        json_write_string(f, eos);
        fputs(", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"single_word\": false, \"special\": true}}", f);
    }
    fputs("\n}\n", f);
    if (afile_commit(a, err)) return -1;
    if (!(f = open_out(outdir, "special_tokens_map.json", &a, err))) return -1;
    fputc('{', f);
    if (eos) {
        const char *keys[3] = { "bos_token", "eos_token", "unk_token" };
        for (int i = 0; i < (gpt2 ? 3 : 2); i++) { fprintf(f, "%s\"%s\": ", i ? ", " : "", keys[i]); json_write_string(f, eos); }
    }
    fputs("}\n", f);
    return afile_commit(a, err);
}

const char *const hf_tokenizer_files[HF_TOKENIZER_FILES] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
};

int hf_tokenizer_export(const char *tokdir, const char *outdir, int max_len, photon_err *err)
{
    tokenizer *t = tok_load(tokdir, err);
    if (!t) return -1;
    int eot = tok_eot(t);
    char *eos = NULL;
    if (eot >= 0) {
        size_t n;
        const char *s = tok_piece(t, (uint32_t)eot, &n);
        eos = xmalloc(n + 1);
        memcpy(eos, s, n);
        eos[n] = 0;
    }
    const char *kind = tok_kind(t);
    int rc;
    char p[4200];
    if (strcmp(kind, "tokenizer.json") == 0) {
        rc = copy_file(tokdir, "tokenizer.json", outdir, "tokenizer.json", err);
        if (rc == 0) rc = vocab_merges_from_json(tokdir, outdir, err);
        path_join(p, sizeof p, tokdir, "tokenizer_config.json");
        int own = file_exists(p);
        path_join(p, sizeof p, tokdir, "special_tokens_map.json");
        own = own && file_exists(p);
        if (rc == 0 && own) {
            rc = copy_file(tokdir, "tokenizer_config.json", outdir, "tokenizer_config.json", err);
            if (rc == 0) rc = copy_file(tokdir, "special_tokens_map.json", outdir, "special_tokens_map.json", err);
        } else if (rc == 0) {
            rc = write_configs(outdir, "PreTrainedTokenizerFast", eos, eot, max_len, 0, err);
        }
    } else {
        int files = strcmp(kind, "vocab.json + merges.txt") == 0;
        const char *enc = files ? "vocab.json" : "encoder.json", *bpe = files ? "merges.txt" : "vocab.bpe";
        rc = copy_file(tokdir, enc, outdir, "vocab.json", err);
        if (rc == 0) rc = copy_file(tokdir, bpe, outdir, "merges.txt", err);
        if (rc == 0) rc = gpt2_tokenizer_json(tokdir, enc, bpe, outdir, eot, err);
        if (rc == 0) rc = write_configs(outdir, "GPT2Tokenizer", eos, eot, max_len, 1, err);
    }
    free(eos);
    tok_free(t);
    return rc;
}
