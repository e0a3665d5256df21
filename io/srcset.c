/* Source items to files (see srcset.h), with glob(3). */
#include "io/srcset.h"
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include "io/instream.h"
#include "io/partition.h"

int srcset_is_glob(const char *path) { return strpbrk(path, "*?[") != NULL; }

static int add(srcset *s, int *cap, const char *name, const char *path, photon_err *err)
{
    if (s->n == SRCSET_MAX_FILES) {
        err_set(err, "more than %d source files", SRCSET_MAX_FILES);
        return -1;
    }
    if (s->n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        s->f = xrealloc(s->f, (size_t)*cap * sizeof *s->f);
    }
    int tokens = file_is_token_shard(path, err);
    if (tokens < 0) return -1;
    char stem[CFG_STR];
    if (!name) {
        partition_source_name(path, stem, sizeof stem);
        name = stem;
    }
    s->f[s->n++] = (src_file){ xstrdup(name), xstrdup(path), tokens };
    return 0;
}

int srcset_expand(const cfg_list *items, const char *key, srcset *out, photon_err *err)
{
    memset(out, 0, sizeof *out);
    int cap = 0;
    for (int i = 0; i < items->n; i++) {
        const char *item = items->item[i], *path = partition_source_path(item);
        char name[CFG_STR];
        int named = path != item;
        if (named) partition_source_name(item, name, sizeof name);
        if (!srcset_is_glob(path)) {
            if (add(out, &cap, named ? name : NULL, path, err)) goto fail;
            continue;
        }
        glob_t g;
        int rc = glob(path, GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            err_set(err, "%s: '%s' matches no file", key, path);
            globfree(&g);
            goto fail;
        }
        if (rc != 0) {
            err_set(err, "%s: '%s': cannot read the directories of the pattern", key, path);
            globfree(&g);
            goto fail;
        }
        for (size_t k = 0; k < g.gl_pathc; k++)
            if (add(out, &cap, named ? name : NULL, g.gl_pathv[k], err)) { globfree(&g); goto fail; }
        globfree(&g);
    }
    return 0;
fail:
    srcset_free(out);
    return -1;
}

void srcset_free(srcset *s)
{
    for (int i = 0; i < s->n; i++) { free(s->f[i].name); free(s->f[i].path); }
    free(s->f);
    memset(s, 0, sizeof *s);
}
