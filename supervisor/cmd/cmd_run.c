/* `photon-sim EXPERIMENT.ini [--set section.key=value ...] [--resume | --replace] [--dry-run]`
 * (also `photon-sim run EXPERIMENT.ini ...`): loads and validates the
 * experiment, prints it for --dry-run, refuses a run directory that holds
 * results unless --resume or --replace says what to do with them
 * (io/rundir.h), else starts the runtime. */
#include <stdio.h>
#include <stdlib.h>
#include "io/common.h"
#include "io/config.h"
#include "io/rundir.h"
#include "gpu/model.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/cmd_util.h"
#include "supervisor/runtime.h"

#define RUN_USAGE "photon-sim EXPERIMENT.ini [--set section.key=value ...] [--resume | --replace] [--dry-run]"

/* A run directory that holds results is continued (--resume), emptied of
 * them first (--replace), or refused: 0 to go on, else the exit status. */
static int guard_run_dir(const photon_config *cfg, int resume, int replace)
{
    char dir[1024], ckpt[1024], what[512];
    config_run_dir(cfg, dir, sizeof dir);
    if (cfg->checkpoint.dir[0]) snprintf(ckpt, sizeof ckpt, "%s", cfg->checkpoint.dir);
    else path_join(ckpt, sizeof ckpt, dir, "checkpoints");
    int interrupted = 0;
    if (!rundir_has_results(dir, ckpt, what, sizeof what, &interrupted)) return 0;
    if (replace) {
        photon_err err;
        log_info("--replace: removing the results in %s (%s); prepared data stays", dir, what);
        if (rundir_replace(dir, ckpt, &err) < 0) {
            fprintf(stderr, "photon-sim: error: --replace of %s: %s (run again with --replace to finish)\n", dir, err.msg);
            return PHOTON_EXIT_FAIL;
        }
        return 0;
    }
    if (interrupted) {
        fprintf(stderr, "photon-sim: error: run directory %s: an earlier --replace was interrupted (%s); "
                "run again with --replace to finish it\n", dir, what);
        return PHOTON_EXIT_USAGE;
    }
    if (resume) return 0;
    fprintf(stderr, "photon-sim: error: run directory %s already holds results (%s): continue it with --resume, "
            "or start over with --replace (deletes them), or set another run.out_dir\n", dir, what);
    return PHOTON_EXIT_USAGE;
}

int cmd_run(int argc, char **argv)
{
    int resume = 0, replace = 0, dry_run = 0, rc;
    const char *const flags[] = { "--resume", "--replace", "--dry-run" };
    int *const vals[] = { &resume, &replace, &dry_run };
    photon_config *cfg = xmalloc(sizeof *cfg);
    rc = cmd_load_experiment(RUN_USAGE, argc, argv, flags, vals, 3, cfg);
    if (rc == 0 && resume && replace) {
        fprintf(stderr, "photon-sim: error: --resume and --replace exclude each other (usage: %s)\n", RUN_USAGE);
        rc = PHOTON_EXIT_USAGE;
    }
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
    } else if ((rc = guard_run_dir(cfg, resume, replace)) == 0) {
        rc = runtime_main(cfg, resume);
    }
    free(cfg);
    return rc;
}
