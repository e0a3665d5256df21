/* Writing a tokenizer as the files Hugging Face transformers loads with
 * AutoTokenizer: tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, and GPT-2's vocab.json + merges.txt (for
 * export-hf).  The end-of-text token is the bos, eos (and, for GPT-2's
 * files, unk) token, as in GPT-2. */
#ifndef PHOTON_HF_TOKENIZER_EXPORT_H
#define PHOTON_HF_TOKENIZER_EXPORT_H
#include "io/common.h"

#define HF_TOKENIZER_FILES 5
extern const char *const hf_tokenizer_files[HF_TOKENIZER_FILES];

/* Writes the files above for the tokenizer in tokdir into outdir
 * (model_max_length = max_len); each written atomically.  0, or -1. */
int hf_tokenizer_export(const char *tokdir, const char *outdir, int max_len, photon_err *err);
#endif
