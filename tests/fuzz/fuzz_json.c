/* Fuzz target: the JSON reader (io/jsonr.c) as JSON Lines, encoder.json
 * and the manifest use it, and the manifest reader (io/manifest.c).  The
 * reader must never read outside its input, and report error offsets
 * inside it. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/jsonr.h"
#include "io/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees a read one past the end */
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    jbuf out = { 0 };
    const char *msg = NULL;
    size_t off = 0;
    int rc = jsonr_object_string(s, size, "text", &out, &msg, &off);
    if (rc < 0 && (off > size || !msg)) { fprintf(stderr, "error offset %zu beyond %zu\n", off, size); abort(); }
    jbuf_free(&out);
    /* the generic walk: a value, then integers where the next value starts */
    jsonr r;
    jsonr_init(&r, s, size);
    if (jsonr_skip(&r) == 0 && jsonr_offset(&r) > size) abort();
    if (jsonr_offset(&r) > size) abort();
    jsonr_init(&r, s, size);
    long long v;
    jsonr_int(&r, &v);
    jsonr_init(&r, s, size);
    jbuf str = { 0 };
    jsonr_string(&r, &str);
    jbuf_free(&str);
    free(s);
    uint64_t h;
    manifest_inputs_hash(fz_write("manifest.json", data, size), &h);
    return 0;
}
