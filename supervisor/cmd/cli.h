/* Subcommands of photon-sim (DESIGN §3).  Each lives in its own
 * supervisor/cmd_*.c file and returns the process exit status. */
#ifndef PHOTON_CLI_H
#define PHOTON_CLI_H
#include <stdio.h>
int cmd_run(int argc, char **argv);        /* photon-sim EXPERIMENT.ini [--set k=v] [--resume] [--dry-run] */
int cmd_prepare(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_export_hf(int argc, char **argv);
int cmd_import_hf(int argc, char **argv);  /* photon-sim import-hf HF_DIR OUT.h5 */
int cmd_encode(int argc, char **argv);
int cmd_actor(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_sweep(int argc, char **argv);      /* photon-sim sweep EXPERIMENT.ini --grid k=v1,v2 [--seeds N] */
int cmd_compare(int argc, char **argv);    /* photon-sim compare RUN_DIR... [--target PPL] [--json] */
int cmd_plan(int argc, char **argv);       /* photon-sim plan EXPERIMENT.ini: predicted round times (DESIGN §8) */

/* True if argv has --help or -h. */
int cli_wants_help(int argc, char **argv);
/* Prints a subcommand's usage+help text (NULL or unknown: the program's) to stdout. */
void cli_print_help(const char *cmd);
/* The same to another stream (stderr after a usage error). */
void cli_print_help_to(FILE *out, const char *cmd);
/* True if cmd has a help text. */
int cli_has_help(const char *cmd);
#endif
