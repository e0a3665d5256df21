/* Subcommands whose part is not built yet: each says so and exits 1, so
 * nothing pretends to work.  A part that lands deletes its stub here and
 * defines cmd_<name> in its own supervisor/cmd_<name>.c. */
#include "supervisor/cli.h"

int cmd_prepare(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("prepare", "the data pipeline"); }
int cmd_eval(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("eval", "the model"); }
int cmd_sample(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("sample", "the model"); }
int cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("inspect", "HDF5 checkpoints"); }
int cmd_export_hf(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("export-hf", "HDF5 checkpoints"); }
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("bench", "the model"); }
