/* `photon-sim config-reference`: the Markdown reference of every experiment
 * key, generated from the schema (docs/CONFIG.md is this output, checked by
 * the test it_config_reference). */
#include <stdio.h>
#include "io/common.h"
#include "io/config.h"
#include "supervisor/cmd/cli.h"

int cmd_config(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "photon-sim: error: config-reference takes no arguments (got '%s')\n", argv[1]);
        return PHOTON_EXIT_USAGE;
    }
    config_reference(stdout);
    return PHOTON_EXIT_OK;   /* main reports output that could not be written */
}
