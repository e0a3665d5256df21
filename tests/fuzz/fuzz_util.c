/* Scratch files for the fuzz targets (see fuzz_util.h). */
#include "fuzz_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/common.h"

static char dir[256];

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

const char *fz_dir(void)
{
    if (!dir[0]) {
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(dir, sizeof dir, "%s/photon-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) { perror("mkdtemp"); abort(); }
        atexit(remove_dir);
        log_set_quiet(true);
    }
    return dir;
}

const char *fz_write(const char *name, const void *data, size_t n)
{
    static char paths[8][512];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, 512, "%s/%s", fz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) { perror(p); abort(); }
    return p;
}

int fz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max)
{
    static const char sep[] = "\n%%%\n";
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i + 5 <= size && k < max - 1; i++)
        if (memcmp(data + i, sep, 5) == 0) {
            part[k] = data + start;
            len[k++] = i - start;
            start = i + 5;
            i += 4;
        }
    part[k] = data + start;
    len[k++] = size - start;
    return k;
}
