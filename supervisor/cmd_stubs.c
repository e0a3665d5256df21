/* Subcommands whose part is not built yet: each says so and exits 1, so
 * nothing pretends to work.  A part that lands deletes its stub here and
 * defines cmd_<name> in its own supervisor/cmd_<name>.c. */
#include "supervisor/cli.h"

int cmd_actor(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("actor", "the TCP link for remote actors"); }
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return cli_not_built("bench", "the model"); }

/* The runtime engineer replaces this with the federated runtime. */
#include "supervisor/runtime.h"
int runtime_main(const photon_config *cfg, int resume)
{
    (void)cfg; (void)resume;
    return cli_not_built("run", "the federated runtime");
}
