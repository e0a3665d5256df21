/* Writing and reading the prepared-data manifest (see manifest.h).  Hashes
 * are written as 16-digit hex strings: JSON numbers cannot hold 64 bits
 * exactly in most readers. */
#include "io/manifest.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "io/jsonr.h"

static const char *partition_name(int kind)
{
    return kind == PART_IID ? "iid" : kind == PART_BY_SOURCE ? "by_source" : kind == PART_BY_FIELD ? "by_field" : "dirichlet";
}

/* Validation sources also get first_token: where their tokens start in
 * val.bin, which holds them in this order (io/val_index.h reads it). */
static void write_sources(FILE *f, const man_source *s, int n, int val)
{
    int64_t first = 0;
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
        json_write_string(f, s[i].name);
        fputs(", \"path\": ", f);
        json_write_string(f, s[i].path);
        fprintf(f, ", \"pretokenized\": %s, \"bytes\": %" PRIu64 ", \"hash\": \"%016" PRIx64 "\", \"docs\": %" PRId64 ", \"tokens\": %" PRId64,
                s[i].pretokenized ? "true" : "false", s[i].bytes, s[i].hash, s[i].docs, s[i].tokens);
        if (val) fprintf(f, ", \"first_token\": %" PRId64, first);
        fputc('}', f);
        first += s[i].tokens;
    }
    fputs(n ? "\n  ]" : "]", f);
}

int manifest_write(const char *path, const manifest *m, photon_err *err)
{
    atomic_file *a = afile_open(path, err);
    if (!a) return -1;
    FILE *f = afile_stream(a);
    const photon_config *c = m->cfg;
    fprintf(f, "{\n  \"format\": \"photon-sim-data\",\n  \"format_version\": 1,\n");
    fprintf(f, "  \"inputs_hash\": \"%016" PRIx64 "\",\n", m->inputs_hash);
    fprintf(f, "  \"tokenizer\": {\"spec\": ");
    json_write_string(f, m->tokenizer_spec);
    fprintf(f, ", \"dir\": ");
    json_write_string(f, m->tokenizer_dir);
    fprintf(f, ", \"trained\": %s, \"vocab_size\": %d, \"hash\": \"%016" PRIx64 "\"},\n",
            m->trained ? "true" : "false", m->vocab_size, m->tokenizer_hash);
    fprintf(f, "  \"sources\": ");
    write_sources(f, m->sources, m->nsources, 0);
    fprintf(f, ",\n  \"validation\": ");
    write_sources(f, m->val, m->nval, 1);
    fprintf(f, ",\n  \"validation_files\": ");
    write_sources(f, m->val_files, m->nval_files, 0);
    fprintf(f, ",\n  \"partition\": {\"kind\": \"%s\", \"clients\": %d, \"seed\": %" PRIu64 ", \"alpha\": %.17g, \"max_docs\": %" PRId64 ", \"source_field\": ",
            partition_name(c->data.partition), m->nclients, c->run.seed, c->data.alpha, c->data.max_docs);
    json_write_string(f, c->data.source_field);
    fprintf(f, ", \"text_key\": ");
    json_write_string(f, c->data.text_key);
    fprintf(f, ", \"assign\": [");
    for (int i = 0; i < c->data.assign.n; i++) {
        if (i) fputs(", ", f);
        json_write_string(f, c->data.assign.item[i]);
    }
    fprintf(f, "]},\n  \"clients\": [");
    for (int k = 0; k < m->nclients; k++) {
        fprintf(f, "%s\n    {\"id\": %d, \"file\": \"client_%04d.bin\", \"docs\": %" PRId64 ", \"tokens\": %" PRId64 ", \"source_docs\": {",
                k ? "," : "", k, k, m->client_docs[k], m->client_tokens[k]);
        for (int s = 0; s < m->nlabels; s++) {
            if (s) fputs(", ", f);
            json_write_string(f, m->labels[s]);
            fprintf(f, ": %" PRId64, m->client_source_docs[(size_t)k * m->nlabels + s]);
        }
        fputs("}}", f);
    }
    fprintf(f, "\n  ],\n  \"val\": {\"file\": %s, \"docs\": %" PRId64 ", \"tokens\": %" PRId64 "},\n",
            m->nval ? "\"val.bin\"" : "null", m->val_docs, m->val_tokens);
    fprintf(f, "  \"seconds\": %.3f\n}\n", m->seconds);
    return afile_commit(a, err);
}

int manifest_inputs_hash(const char *path, uint64_t *h)
{
    photon_err err;
    size_t n;
    char *text = file_read_max(path, (uint64_t)64 << 20, "a manifest", &n, &err);
    if (!text) return -1;
    jbuf v = { 0 };
    const char *msg;
    size_t off;
    int rc = jsonr_object_string(text, n, "inputs_hash", &v, &msg, &off);
    free(text);
    if (rc != 1 || v.len != 16) { jbuf_free(&v); return -1; }
    char *end;
    *h = strtoull(v.data, &end, 16);
    rc = *end ? -1 : 0;
    jbuf_free(&v);
    return rc;
}
