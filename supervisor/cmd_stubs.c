/* Subcommands whose part is not built yet: each says so and exits 1, so
 * nothing pretends to work.  A part that lands deletes its stub here and
 * defines cmd_<name> in its own supervisor/cmd_<name>.c. */
#include "supervisor/cli.h"

