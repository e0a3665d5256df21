/* photon-sim entry point: global flags, then dispatch to a subcommand.
 * Anything that is not a known subcommand is taken as an experiment file. */
#include <stdio.h>
#include <string.h>
#include "supervisor/cli.h"
#include "supervisor/version.h"
#include "io/common.h"
#include "gpu/model.h"

typedef struct { const char *name; int (*fn)(int, char **); } command;

static const command commands[] = {
    { "prepare", cmd_prepare }, { "eval", cmd_eval }, { "sample", cmd_sample },
    { "inspect", cmd_inspect }, { "export-hf", cmd_export_hf }, { "encode", cmd_encode },
    { "actor", cmd_actor }, { "bench", cmd_bench }, { "config-reference", cmd_config },
    { "run", cmd_run },
};

int main(int argc, char **argv)
{
    cpu_runtime_init(argv);   /* passive OpenMP waiting (re-exec) unless the user chose */
    log_set_tag("photon-sim");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) { cli_print_help(argv[2]); return 0; }
        cli_print_help(NULL);
        return argc < 2 ? PHOTON_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        version_print(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            if (cli_wants_help(argc - 1, argv + 1)) { cli_print_help(commands[i].name); return 0; }
            return commands[i].fn(argc - 1, argv + 1);
        }
    if (argv[1][0] == '-') {
        fprintf(stderr, "photon-sim: error: unknown option '%s' (see photon-sim --help)\n", argv[1]);
        return PHOTON_EXIT_USAGE;
    }
    if (cli_wants_help(argc, argv)) { cli_print_help("run"); return 0; }
    return cmd_run(argc, argv);
}
