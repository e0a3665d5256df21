/* `photon-sim prepare EXPERIMENT.ini [--set section.key=value ...] [--if-stale]`:
 * tokenizes and partitions the experiment's data (io/prepare.c).  Always
 * rebuilds unless --if-stale, which keeps data whose manifest is current. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"
#include "io/config.h"
#include "io/prepare.h"
#include "supervisor/cli.h"

int cmd_prepare(int argc, char **argv)
{
    const char *ini = NULL;
    const char **sets = xcalloc((size_t)argc + 1, sizeof *sets);
    int nsets = 0, if_stale = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (strncmp(argv[i], "--set=", 6) == 0) sets[nsets++] = argv[i] + 6;
        else if (strcmp(argv[i], "--if-stale") == 0) if_stale = 1;
        else if (argv[i][0] != '-' && !ini) ini = argv[i];
        else {
            fprintf(stderr, "photon-sim: error: prepare: unexpected argument '%s'\n"
                    "usage: photon-sim prepare EXPERIMENT.ini [--set section.key=value ...] [--if-stale]\n", argv[i]);
            free(sets);
            return PHOTON_EXIT_USAGE;
        }
    }
    if (!ini) {
        fprintf(stderr, "photon-sim: error: prepare: expected an experiment file\n"
                "usage: photon-sim prepare EXPERIMENT.ini [--set section.key=value ...] [--if-stale]\n");
        free(sets);
        return PHOTON_EXIT_USAGE;
    }
    photon_config *c = xmalloc(sizeof *c);
    photon_err err;
    if (config_load(c, ini, sets, nsets, &err)) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        free(sets);
        free(c);
        return PHOTON_EXIT_USAGE;
    }
    free(sets);
    int rc = PHOTON_EXIT_OK;
    if (if_stale && prepare_is_current(c)) {
        char d[4096];
        prepare_dir(c, d, sizeof d);
        log_info("prepared data in %s is current", d);
    } else if (prepare_run(c, 0, &err)) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        rc = PHOTON_EXIT_FAIL;
    }
    free(c);
    return rc;
}
