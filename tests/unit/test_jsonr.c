/* The JSON reader (io/jsonr.c) on broken input, as the fuzzer feeds it
 * (tests/fuzz/fuzz_json.c found the first case): an error offset always
 * lies inside the input, even for an escape cut off at its very end, and a
 * value skipped over is validated like a decoded one (escapes, nesting). */
#include "harness.h"
#include <stdlib.h>
#include "io/jsonr.h"

/* Runs jsonr_object_string on an exact-size copy of s (so AddressSanitizer
 * sees a read past its end) and returns the result; *off, *msg as given. */
static int object_string(const char *s, size_t *off, const char **msg, char *text, size_t tn)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    jbuf out = { 0 };
    *off = 0;
    *msg = NULL;
    int rc = jsonr_object_string(copy, n, "text", &out, msg, off);
    snprintf(text, tn, "%s", rc == 1 ? out.data : "");
    jbuf_free(&out);
    free(copy);
    return rc;
}

static void expect_error(const char *s, const char *msg_part)
{
    size_t off;
    const char *msg;
    char text[64];
    int rc = object_string(s, &off, &msg, text, sizeof text);
    CHECK_MSG(rc == -1, "'%s' is an error (rc %d)", s, rc);
    CHECK_MSG(off <= strlen(s), "'%s': error offset %zu inside %zu bytes", s, off, strlen(s));
    if (msg_part) CHECK_CONTAINS(msg, msg_part);
}

static void test_offsets_and_escapes(void)
{
    /* the fuzzer's input: a backslash as the last byte of a skipped string */
    expect_error("\t\"t\\", NULL);
    expect_error("{\"x\": \"a\\", "unterminated escape");
    expect_error("{\"x\": \"a\\u12", NULL);
    expect_error("{\"x\": \"\\q\", \"text\": \"ok\"}", "invalid escape in string");
    expect_error("{\"x\": \"\\u12G4\", \"text\": \"ok\"}", "bad hex digit");
    expect_error("{\"text\": \"a\\", NULL);
    expect_error("{\"text\"", NULL);
    expect_error("{\"x\": [[[[", NULL);
    /* nesting beyond the limit is an error, not a stack overflow */
    char deep[4000];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{\"x\": ");
    while (k < 3000) deep[k++] = '[';
    deep[k] = 0;
    expect_error(deep, "nesting too deep");
    /* and what is valid still is */
    size_t off;
    const char *msg;
    char text[64];
    CHECK_EQ_INT(object_string("{\"x\": \"\\\\\\\"\\u00e9\", \"n\": [1, {\"y\": null}], \"text\": \"ok\\n\"}", &off, &msg,
                               text, sizeof text), 1);
    CHECK_STR(text, "ok\n");
}

int main(void)
{
    RUN(test_offsets_and_escapes);
    return th_finish();
}
