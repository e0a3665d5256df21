/* The files behind [data] sources / validation items.  An item is "path" or
 * "name=path", and a path may be a glob pattern (data/c4/c4-train.*.json.gz):
 * with a name, every file it matches belongs to that source; without, each
 * file is a source named after its file name up to the first dot.  A name
 * may also be repeated to gather files into one source.  Every file must be
 * a regular file; llm.c token shards are recognised by their header. */
#ifndef PHOTON_SRCSET_H
#define PHOTON_SRCSET_H
#include "io/config.h"

#define SRCSET_MAX_FILES 1000000

typedef struct {
    char *name;      /* the source it belongs to */
    char *path;
    int tokens;      /* an llm.c token shard (pre-tokenized) */
} src_file;

typedef struct { src_file *f; int n; } srcset;

/* 1 if the path has glob characters (* ? [). */
int srcset_is_glob(const char *path);
/* Expands items into files, in item order (a pattern's matches sorted).
 * -1 with err (a pattern that matches no file, a FIFO, ...). */
int srcset_expand(const cfg_list *items, const char *key, srcset *out, photon_err *err);
void srcset_free(srcset *s);
#endif
