/* Fuzz target: the experiment file (io/config*.c): inih, the per-file
 * schema checks, every value codec, include handling and --set overrides.
 * An input is up to four parts separated by "\n%%%\n": main.ini, a.ini,
 * b.ini (includable by those names) and --set lines.  Property checked
 * besides memory safety: a configuration that loads dumps (config_dump) to
 * a file that loads to the same configuration — the run directory's
 * config.ini must resume exactly the run that wrote it. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/config.h"

static char *dump(const photon_config *c)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    config_dump(c, f);
    fclose(f);
    /* from the third line: the first names the source file */
    char *p = text;
    for (int i = 0; i < 2 && p; i++) { p = strchr(p, '\n'); if (p) p++; }
    char *out = strdup(p ? p : "");
    free(text);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    /* Inputs the seeds name: a text source and a tokenizer directory. */
    fz_write("data.jsonl", "{\"text\": \"hello\"}\n", 18);
    char tok[512];
    snprintf(tok, sizeof tok, "%s/tok", fz_dir());
    photon_err err;
    mkdir_p(tok, &err);
    fz_write("tok/encoder.json", "{}", 2);
    fz_write("tok/vocab.bpe", "", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[4];
    size_t len[4];
    int n = fz_split(data, size, part, len, 4);
    const char *names[3] = { "main.ini", "a.ini", "b.ini" };
    const char *main_path = NULL;
    for (int i = 0; i < 3; i++) {
        const char *p = fz_write(names[i], i < n ? part[i] : (const uint8_t *)"", i < n ? len[i] : 0);
        if (i == 0) main_path = p;
    }
    /* --set lines: NUL-free, at most 8 */
    char *sets_text = NULL;
    const char *sets[8];
    int nsets = 0;
    if (n == 4 && !memchr(part[3], 0, len[3])) {
        sets_text = strndup((const char *)part[3], len[3]);
        for (char *save = NULL, *t = strtok_r(sets_text, "\n", &save); t && nsets < 8; t = strtok_r(NULL, "\n", &save))
            sets[nsets++] = t;
    }
    photon_config *c = malloc(sizeof *c), *c2 = malloc(sizeof *c2);
    photon_err err;
    char main_copy[512];
    snprintf(main_copy, sizeof main_copy, "%s", main_path);
    if (config_load(c, main_copy, sets, nsets, &err) == 0) {
        char *d1 = dump(c);
        const char *again = fz_write("dump.ini", d1, strlen(d1));
        char again_copy[512];
        snprintf(again_copy, sizeof again_copy, "%s", again);
        if (config_load(c2, again_copy, NULL, 0, &err) != 0) {
            fprintf(stderr, "the dump of a valid configuration does not load: %s\n%s", err.msg, d1);
            abort();
        }
        char *d2 = dump(c2);
        if (strcmp(d1, d2) != 0) {
            fprintf(stderr, "the dump loads to another configuration:\n--- first\n%s\n--- again\n%s", d1, d2);
            abort();
        }
        free(d2);
        free(d1);
    } else if (strchr(err.msg, '\n')) {
        fprintf(stderr, "an error of more than one line: %s\n", err.msg);
        abort();
    }
    free(sets_text);
    free(c);
    free(c2);
    return 0;
}
