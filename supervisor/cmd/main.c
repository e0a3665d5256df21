/* photon-sim entry point: global flags, then dispatch to a subcommand.
 * Anything that is not a known subcommand is taken as an experiment file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/version.h"
#include "io/common.h"
#include "io/config_schema.h"
#include "gpu/model.h"

typedef struct { const char *name; int (*fn)(int, char **); } command;

static const command commands[] = {
    { "prepare", cmd_prepare }, { "eval", cmd_eval }, { "sample", cmd_sample },
    { "inspect", cmd_inspect }, { "export-hf", cmd_export_hf }, { "import-hf", cmd_import_hf }, { "encode", cmd_encode },
    { "actor", cmd_actor }, { "bench", cmd_bench }, { "config-reference", cmd_config },
    { "run", cmd_run }, { "sweep", cmd_sweep }, { "compare", cmd_compare }, { "plan", cmd_plan },
};

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    cpu_runtime_init(argv);   /* passive OpenMP waiting (re-exec) unless the user chose */
    log_set_tag("photon-sim");
    int rc = dispatch(argc, argv);
    /* Output that did not reach its destination (a full disk, a closed pipe
     * reader) is a failure, said once here for every command. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "photon-sim: error: cannot write standard output: %s\n", strerror(errno ? errno : EIO));
        if (rc == PHOTON_EXIT_OK) rc = PHOTON_EXIT_FAIL;
    }
    return rc;
}

static int dispatch(int argc, char **argv)
{
    const int ncommands = (int)(sizeof commands / sizeof commands[0]);
    if (argc < 2) {
        /* A usage error: the one error line first, then the usage, all on stderr. */
        fprintf(stderr, "photon-sim: error: no command or experiment file given\n");
        cli_print_help_to(stderr, NULL);
        return PHOTON_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            if (!cli_has_help(argv[2])) {
                fprintf(stderr, "photon-sim: error: help: unknown command '%s' (see photon-sim --help)\n", argv[2]);
                return PHOTON_EXIT_USAGE;
            }
            cli_print_help(argv[2]);
            return 0;
        }
        cli_print_help(NULL);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        version_print(stdout);
        return 0;
    }
    for (int i = 0; i < ncommands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            if (cli_wants_help(argc - 1, argv + 1)) { cli_print_help(commands[i].name); return 0; }
            return commands[i].fn(argc - 1, argv + 1);
        }
    /* Not a command: an experiment file.  A name that is no file and is
     * close to a command, or looks like no file name at all, is a typo. */
    if (argv[1][0] != '-' && !file_exists(argv[1])) {
        const char *near = cfg_suggest(argv[1], commands, sizeof commands[0], ncommands);
        if (near) {
            fprintf(stderr, "photon-sim: error: unknown command '%s' (did you mean '%s'?)\n", argv[1], near);
            return PHOTON_EXIT_USAGE;
        }
        if (!strchr(argv[1], '.') && !strchr(argv[1], '/')) {
            fprintf(stderr, "photon-sim: error: '%s' is neither a command nor an experiment file "
                    "(see photon-sim --help)\n", argv[1]);
            return PHOTON_EXIT_USAGE;
        }
    }
    /* The run's own options may come before the experiment file. */
    int run_opt = strcmp(argv[1], "--set") == 0 || strncmp(argv[1], "--set=", 6) == 0 ||
                  strcmp(argv[1], "--resume") == 0 || strcmp(argv[1], "--replace") == 0 ||
                  strcmp(argv[1], "--dry-run") == 0;
    if (argv[1][0] == '-' && !run_opt) {
        fprintf(stderr, "photon-sim: error: unknown option '%s' (see photon-sim --help)\n", argv[1]);
        return PHOTON_EXIT_USAGE;
    }
    if (cli_wants_help(argc, argv)) { cli_print_help("run"); return 0; }
    return cmd_run(argc, argv);
}
