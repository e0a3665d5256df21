/* `photon-sim prepare EXPERIMENT.ini [--set section.key=value ...] [--if-stale]`:
 * tokenizes and partitions the experiment's data (io/prepare.c).  Always
 * rebuilds unless --if-stale, which keeps data whose manifest is current. */
#include <stdio.h>
#include <stdlib.h>
#include "io/common.h"
#include "io/config.h"
#include "io/prepare.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"

int cmd_prepare(int argc, char **argv)
{
    int if_stale = 0;
    const char *const flags[] = { "--if-stale" };
    int *const vals[] = { &if_stale };
    photon_config *c = xmalloc(sizeof *c);
    int rc = cmd_load_experiment("photon-sim prepare EXPERIMENT.ini [--set section.key=value ...] [--if-stale]",
                                 argc, argv, flags, vals, 1, c);
    photon_err err;
    if (rc != 0) {
        /* one error line already printed */
    } else if (if_stale && prepare_is_current(c)) {
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
