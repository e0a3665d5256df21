/* Helpers shared by the checkpoint commands (eval, sample, inspect,
 * export-hf): "--name value" option parsing with range checks that fail as
 * one usage line (exit 2), loading a checkpoint's model onto a backend, and
 * finding the tokenizer a checkpoint was trained with. */
#ifndef PHOTON_CMD_UTIL_H
#define PHOTON_CMD_UTIL_H
#include <stdint.h>
#include "gpu/model.h"
#include "io/checkpoint.h"
#include "io/config.h"

typedef enum { OPT_FLAG, OPT_INT, OPT_U64, OPT_DOUBLE, OPT_STR } opt_type;

typedef struct {
    const char *name;     /* "--batches" */
    opt_type type;
    void *dst;            /* int*, uint64_t*, double*, const char**; OPT_FLAG: int* set to 1 */
    double lo, hi;        /* inclusive range for OPT_INT / OPT_DOUBLE */
} cmd_opt;

/* Parses argv[1..] (argv[0] is the command name): options from opts, the
 * rest positionals into pos[] (between npos_min and npos_max of them).
 * Returns the number of positionals, or -1 after printing one usage error. */
int cmd_parse(const char *cmd, int argc, char **argv, const cmd_opt *opts, int nopts,
              const char **pos, int npos_min, int npos_max);

/* The command line of commands that take an experiment (run, prepare):
 * "EXPERIMENT.ini [--set section.key=value | --set=section.key=value ...]"
 * plus the flags named in flags[0..nflags) (each sets *vals[i] to 1).
 * Loads the experiment into cfg.  Returns 0, or PHOTON_EXIT_USAGE after one
 * error line on stderr that ends with "(usage: <usage>)". */
int cmd_load_experiment(const char *usage, int argc, char **argv, const char *const *flags, int *const *vals,
                        int nflags, photon_config *cfg);

/* Opens a checkpoint and reads its model: config (c), the flat parameter
 * vector (malloc'd into *params) and meta (free meta->config).  -1 with err. */
int cmd_load_params(const char *path, gpt2_config *c, float **params, ckpt_meta *meta, photon_err *err);

/* 0 if backend is auto, cpu or cuda; else prints a usage error, -1. */
int cmd_check_backend(const char *cmd, const char *backend);
/* Creates a model for (B, T) on the backend named "auto", "cpu" or "cuda"
 * and loads params into it. */
photon_model *cmd_model_from(const gpt2_config *c, const float *params, int B, int T,
                             const char *backend, int threads, photon_err *err);

/* The tokenizer directory for a checkpoint: explicit if given, else the one
 * its recorded configuration used (prepare_tokenizer_dir: [data] tokenizer,
 * or the prepared one when it was trained, also looked for next to the
 * checkpoint's run directory).  0 with dir filled, or -1 with err saying
 * what to pass. */
int cmd_find_tokenizer(const char *explicit_dir, const char *ckpt_path, const char *config_text,
                       char *dir, size_t n, photon_err *err);
#endif
