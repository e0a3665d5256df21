/* `photon-sim EXPERIMENT.ini [--set section.key=value ...] [--resume] [--dry-run]`
 * (also `photon-sim run EXPERIMENT.ini ...`): loads and validates the
 * experiment, prints it for --dry-run, else starts the runtime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"
#include "io/config.h"
#include "supervisor/cli.h"
#include "supervisor/runtime.h"

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "photon-sim: error: %s%s%s (usage: photon-sim EXPERIMENT.ini [--set section.key=value ...] "
            "[--resume] [--dry-run])\n", msg, arg ? " " : "", arg ? arg : "");
    return PHOTON_EXIT_USAGE;
}

int cmd_run(int argc, char **argv)
{
    /* argv[0] is "run" or the program name; arguments start at argv[1]. */
    const char *path = NULL;
    const char **sets = xcalloc((size_t)argc, sizeof *sets);
    int nsets = 0, resume = 0, dry_run = 0, rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--set") == 0) {
            if (i + 1 == argc) { rc = usage_error("--set needs section.key=value", NULL); goto out; }
            sets[nsets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) sets[nsets++] = a + 6;
        else if (strcmp(a, "--resume") == 0) resume = 1;
        else if (strcmp(a, "--dry-run") == 0) dry_run = 1;
        else if (a[0] == '-' && a[1]) { rc = usage_error("unknown option", a); goto out; }
        else if (path) { rc = usage_error("more than one experiment file:", a); goto out; }
        else path = a;
    }
    if (!path) { rc = usage_error("no experiment file given", NULL); goto out; }
    photon_config *cfg = xmalloc(sizeof *cfg);
    photon_err err;
    if (config_load(cfg, path, sets, nsets, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        rc = PHOTON_EXIT_USAGE;
    } else if (dry_run) {
        config_dump(cfg, stdout);
        rc = fflush(stdout) == 0 ? PHOTON_EXIT_OK : PHOTON_EXIT_FAIL;
    } else rc = runtime_main(cfg, resume);
    free(cfg);
out:
    free(sets);
    return rc;
}
