/* Tests for io/common.c: RNG determinism and ranges, hashing, atomic file
 * replacement under injected write/fsync failures, error prefixing. */
#include "harness.h"
#include "io/common.h"
#include <dirent.h>
#include <stdlib.h>

static void test_rng(void)
{
    photon_rng a, b;
    rng_derive(&a, 42, 1, 2, 3);
    rng_derive(&b, 42, 1, 2, 3);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= rng_u64(&a) == rng_u64(&b);
    CHECK(same);
    rng_derive(&b, 42, 1, 2, 4);
    CHECK(rng_u64(&a) != rng_u64(&b));
    /* uniform in [0,1), below in range, normal has ~0 mean and ~1 variance */
    double sum = 0, sq = 0;
    int in_range = 1;
    for (int i = 0; i < 20000; i++) {
        double u = rng_uniform(&a);
        in_range &= u >= 0 && u < 1;
        in_range &= rng_below(&a, 7) < 7;
        double z = rng_normal(&a);
        sum += z; sq += z * z;
    }
    CHECK(in_range);
    CHECK(fabs(sum / 20000) < 0.05);
    CHECK(fabs(sq / 20000 - 1) < 0.05);
}

static void test_hash(void)
{
    /* FNV-1a test vector: "a" -> 0xaf63dc4c8601ec8c */
    CHECK(hash64("a", 1, HASH64_INIT) == 0xaf63dc4c8601ec8cULL);
    char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (char)i;
    uint64_t c1 = checksum_fast(buf, 1000);
    buf[517] ^= 1;
    CHECK(checksum_fast(buf, 1000) != c1);
    buf[517] ^= 1;
    CHECK(checksum_fast(buf, 1000) == c1);
    CHECK(checksum_fast(buf, 999) != c1);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_atomic(void)
{
    const char *dir = th_tmpdir();
    char path[512];
    path_join(path, sizeof path, dir, "f.txt");
    photon_err err = {{0}};
    CHECK(file_write_atomic(path, "old", 3, &err) == 0);
    /* an injected write failure leaves the old file and no temp file */
    seam_arm(SEAM_WRITE, 1);
    CHECK(file_write_atomic(path, "new!", 4, &err) == -1);
    CHECK_CONTAINS(err.msg, "injected");
    size_t n;
    char *s = file_read_all(path, &n, &err);
    CHECK_STR(s, "old");
    free(s);
    CHECK_EQ_INT(count_entries(dir), 1);
    seam_arm(SEAM_FSYNC, 1);
    CHECK(file_write_atomic(path, "new!", 4, &err) == -1);
    CHECK_EQ_INT(count_entries(dir), 1);
    seam_arm(SEAM_WRITE, 0);
    seam_arm(SEAM_FSYNC, 0);
    CHECK(file_write_atomic(path, "new!", 4, &err) == 0);
    s = file_read_all(path, &n, &err);
    CHECK_STR(s, "new!");
    CHECK_EQ_INT(n, 4);
    free(s);
    CHECK(file_read_all(dir, &n, &err) == NULL);
    CHECK_CONTAINS(err.msg, "is a directory");
}

static void test_paths_errors(void)
{
    char out[256];
    path_dirname("a/b/c.ini", out, sizeof out); CHECK_STR(out, "a/b");
    path_dirname("c.ini", out, sizeof out); CHECK_STR(out, ".");
    path_join(out, sizeof out, "a/b", "c"); CHECK_STR(out, "a/b/c");
    path_join(out, sizeof out, "a/b", "/abs"); CHECK_STR(out, "/abs");
    photon_err e;
    err_set(&e, "bad %d", 7);
    err_prefix(&e, "file.ini:%d", 3);
    CHECK_STR(e.msg, "file.ini:3: bad 7");
    /* one line whatever is quoted: a value or a name with control characters */
    err_set(&e, "got '%s'", "a\nb\x1b[2Jc");
    err_prefix(&e, "%s", "name\rwith\tcontrols");
    CHECK_STR(e.msg, "name?with?controls: got 'a?b?[2Jc'");
    char deep[512];
    snprintf(deep, sizeof deep, "%s/x/y/z", th_tmpdir());
    CHECK(mkdir_p(deep, &e) == 0);
    CHECK(file_exists(deep));
}

int main(void)
{
    RUN(test_rng);
    RUN(test_hash);
    RUN(test_atomic);
    RUN(test_paths_errors);
    return th_finish();
}
