/* Subcommands whose part is not built yet: each says so and exits 1, so
 * nothing pretends to work.  A part that lands deletes its stub here and
 * defines cmd_<name> in its own supervisor/cmd_<name>.c. */
#include "supervisor/cli.h"

int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("run", "the federated runtime"); }
int cmd_prepare(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("prepare", "the data pipeline"); }
int cmd_encode(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("encode", "the tokenizer"); }
int cmd_actor(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("actor", "the TCP link for remote actors"); }
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("bench", "the model"); }
int cmd_config(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("config-reference", "the configuration schema"); }
