/* `photon-sim EXPERIMENT.ini [--set section.key=value ...] [--resume] [--dry-run]`
 * (also `photon-sim run EXPERIMENT.ini ...`): loads and validates the
 * experiment, prints it for --dry-run, else starts the runtime. */
#include <stdio.h>
#include <stdlib.h>
#include "io/common.h"
#include "io/config.h"
#include "gpu/model.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"
#include "supervisor/runtime.h"

int cmd_run(int argc, char **argv)
{
    int resume = 0, dry_run = 0, rc;
    const char *const flags[] = { "--resume", "--dry-run" };
    int *const vals[] = { &resume, &dry_run };
    photon_config *cfg = xmalloc(sizeof *cfg);
    rc = cmd_load_experiment("photon-sim EXPERIMENT.ini [--set section.key=value ...] [--resume] [--dry-run]",
                             argc, argv, flags, vals, 2, cfg);
    if (rc != 0) {
        /* one error line already printed */
    } else if (dry_run) {
        config_dump(cfg, stdout);
        rc = PHOTON_EXIT_OK;   /* main reports output that could not be written */
    } else if (cfg->run.backend == BACKEND_CUDA && backend_cuda_ops() == NULL) {
        /* Said here, once, instead of by every actor that fails to start.
         * (Whether a GPU is visible is left to the actors: probing CUDA in
         * this process before it forks them would break CUDA in them.) */
        fprintf(stderr, "photon-sim: error: [run] backend = cuda, but this photon-sim was built without CUDA "
                "(rebuild with the CUDA toolkit, or --set run.backend=cpu)\n");
        rc = PHOTON_EXIT_USAGE;
    } else {
        rc = runtime_main(cfg, resume);
    }
    free(cfg);
    return rc;
}
