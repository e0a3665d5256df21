/* Helpers shared by the checkpoint commands (see supervisor/cmd/cmd_util.h). */
#include "supervisor/cmd/cmd_util.h"
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include "io/config.h"
#include "io/prepare.h"
#include "io/tokenizer.h"

static const cmd_opt *find_opt(const cmd_opt *opts, int nopts, const char *name)
{
    for (int i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

static int usage_error(const char *cmd, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "photon-sim %s: error: ", cmd);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see photon-sim %s --help)\n", cmd);
    return -1;
}

static int set_opt(const char *cmd, const cmd_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    case OPT_STR:
        *(const char **)o->dst = v;
        return 0;
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < o->lo || x > o->hi) {
            char range[96];
            snprintf(range, sizeof range, "an integer in [%.0f, %.0f]", o->lo, o->hi);
            fprintf(stderr, "photon-sim %s: error: %s '%s': expected %s (see photon-sim %s --help)\n",
                    cmd, o->name, v, range, cmd);
            return -1;
        }
        *(int *)o->dst = (int)x;
        return 0;
    }
    case OPT_U64: {
        unsigned long long x = strtoull(v, &end, 0);
        if (errno || end == v || *end || v[0] == '-')
            return usage_error(cmd, "%s '%s': expected an unsigned 64-bit integer", o->name, v);
        *(uint64_t *)o->dst = x;
        return 0;
    }
    case OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !(x >= o->lo && x <= o->hi)) {
            fprintf(stderr, "photon-sim %s: error: %s '%s': expected a number in [%g, %g] (see photon-sim %s --help)\n",
                    cmd, o->name, v, o->lo, o->hi, cmd);
            return -1;
        }
        *(double *)o->dst = x;
        return 0;
    }
    }
    return -1;
}

int cmd_parse(const char *cmd, int argc, char **argv, const cmd_opt *opts, int nopts,
              const char **pos, int npos_min, int npos_max)
{
    int npos = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) { only_pos = 1; continue; }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            char name[64];
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            snprintf(name, sizeof name, "%.*s", (int)(nl < sizeof name ? nl : sizeof name - 1), a);
            const cmd_opt *o = find_opt(opts, nopts, name);
            if (!o) return usage_error(cmd, "unknown option '%s'%s", a, "");
            const char *v = NULL;
            if (o->type != OPT_FLAG) {
                if (eq) v = eq + 1;
                else if (i + 1 < argc) v = argv[++i];
                else return usage_error(cmd, "option %s needs a value%s", o->name, "");
            } else if (eq) {
                return usage_error(cmd, "option %s takes no value%s", o->name, "");
            }
            if (set_opt(cmd, o, v) < 0) return -1;
            continue;
        }
        if (npos == npos_max) return usage_error(cmd, "unexpected argument '%s'%s", a, "");
        pos[npos++] = a;
    }
    if (npos < npos_min) return usage_error(cmd, "missing argument%s%s", npos_min - npos > 1 ? "s" : "", "");
    return npos;
}

static int experiment_usage(const char *usage, const char *msg, const char *arg)
{
    fprintf(stderr, "photon-sim: error: %s%s%s (usage: %s)\n", msg, arg ? " " : "", arg ? arg : "", usage);
    return PHOTON_EXIT_USAGE;
}

int cmd_load_experiment(const char *usage, int argc, char **argv, const char *const *flags, int *const *vals,
                        int nflags, photon_config *cfg)
{
    /* argv[0] is the command name (or the program's); arguments start at argv[1]. */
    const char *path = NULL;
    const char **sets = xcalloc((size_t)argc + 1, sizeof *sets);
    int nsets = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        int flag = -1;
        for (int f = 0; f < nflags; f++)
            if (strcmp(a, flags[f]) == 0) flag = f;
        if (flag >= 0) *vals[flag] = 1;
        else if (strcmp(a, "--set") == 0) {
            if (i + 1 == argc) rc = experiment_usage(usage, "--set needs section.key=value", NULL);
            else sets[nsets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) sets[nsets++] = a + 6;
        else if (a[0] == '-' && a[1]) rc = experiment_usage(usage, "unknown option", a);
        else if (path) rc = experiment_usage(usage, "more than one experiment file:", a);
        else path = a;
    }
    if (rc == 0 && !path) rc = experiment_usage(usage, "no experiment file given", NULL);
    photon_err err;
    if (rc == 0 && config_load(cfg, path, sets, nsets, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        rc = PHOTON_EXIT_USAGE;
    }
    free(sets);
    return rc;
}

int cmd_load_params(const char *path, gpt2_config *c, float **params, ckpt_meta *meta, photon_err *err)
{
    *params = NULL;
    if (meta) memset(meta, 0, sizeof *meta);
    if (ckpt_check_untrusted(path, err) < 0) return -1;
    ckpt_reader *r = ckpt_open(path, meta, err);
    if (!r) return -1;
    if (ckpt_model_config(r, c, err) < 0 || ckpt_check_params(r, "/model", c, err) < 0) goto fail;
    *params = xmalloc_aligned(gpt2_num_params(c) * sizeof(float));
    if (ckpt_get_params(r, "/model", c, *params, err) < 0) goto fail;
    ckpt_close(r);
    return 0;
fail:
    free(*params);
    *params = NULL;
    if (meta) { free((char *)meta->config); meta->config = NULL; }
    ckpt_close(r);
    return -1;
}

int cmd_check_backend(const char *cmd, const char *backend)
{
    if (strcmp(backend, "auto") == 0 || strcmp(backend, "cpu") == 0 || strcmp(backend, "cuda") == 0) return 0;
    return usage_error(cmd, "--backend '%s': expected auto, cpu or cuda%s", backend, "");
}

photon_model *cmd_model_from(const gpt2_config *c, const float *params, int B, int T,
                             const char *backend, int threads, photon_err *err)
{
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = threads };
    if (strcmp(backend, "cuda") == 0 || (strcmp(backend, "auto") == 0 && backend_cuda_available()))
        o.kind = PHOTON_BACKEND_CUDA;
    else if (strcmp(backend, "cpu") != 0 && strcmp(backend, "auto") != 0) {
        err_set(err, "--backend '%s': expected auto, cpu or cuda", backend);
        return NULL;
    }
    photon_model *m = model_create(c, B, T, &o, err);
    if (!m) return NULL;
    m->ops->set_params(m, params);
    return m;
}

/* The keys of a resolved configuration that locate its tokenizer. */
typedef struct { photon_config *cfg; } tok_keys;

static int tok_key_handler(void *ud, const char *section, const char *name, const char *value)
{
    photon_config *c = ((tok_keys *)ud)->cfg;
    char *dst = NULL;
    if (strcmp(section, "run") == 0 && strcmp(name, "name") == 0) dst = c->run.name;
    else if (strcmp(section, "run") == 0 && strcmp(name, "out_dir") == 0) dst = c->run.out_dir;
    else if (strcmp(section, "data") == 0 && strcmp(name, "tokenizer") == 0) dst = c->data.tokenizer;
    else if (strcmp(section, "data") == 0 && strcmp(name, "prepared_dir") == 0) dst = c->data.prepared_dir;
    if (dst) snprintf(dst, CFG_STR, "%s", value);
    return 1;   /* other keys are not needed here */
}

/* A directory tok_load can read (tokenizer.json, vocab.json + merges.txt,
 * or encoder.json + vocab.bpe). */
static int has_tokenizer(const char *dir)
{
    uint64_t h;
    photon_err e;
    return tok_dir_hash(dir, &h, &e) == 0;
}

int cmd_find_tokenizer(const char *explicit_dir, const char *ckpt_path, const char *config_text,
                       char *dir, size_t n, photon_err *err)
{
    if (explicit_dir) {
        if (!tok_dir_present(explicit_dir)) {
            err_set(err, "--tokenizer %s: no tokenizer there (tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)",
                    explicit_dir);
            return -1;
        }
        uint64_t h;
        if (tok_dir_hash(explicit_dir, &h, err) < 0) return -1;   /* what is wrong with its files */
        snprintf(dir, n, "%s", explicit_dir);
        return 0;
    }
    photon_config *cfg = xmalloc(sizeof *cfg);
    config_defaults(cfg);
    tok_keys k = { cfg };
    if (!config_text || ini_parse_string(config_text, tok_key_handler, &k) != 0) {
        free(cfg);
        err_set(err, "the checkpoint records no readable configuration: pass --tokenizer DIR");
        return -1;
    }
    /* 1: where the run's configuration says (relative paths: to the CWD);
     * 2: a trained tokenizer next to the checkpoint, for a run directory
     *    <run>/checkpoints/ckpt.h5 looked at from elsewhere. */
    char cand[2][4096], d1[4096], d2[4096];
    prepare_tokenizer_dir(cfg, cand[0], sizeof cand[0]);
    path_dirname(ckpt_path, d1, sizeof d1);
    path_dirname(d1, d2, sizeof d2);
    cand[1][0] = '\0';
    if (strcmp(cfg->data.tokenizer, "train") == 0) path_join(cand[1], sizeof cand[1], d2, "data/tokenizer");
    free(cfg);
    for (int i = 0; i < 2; i++)
        if (cand[i][0] && has_tokenizer(cand[i])) {
            snprintf(dir, n, "%s", cand[i]);
            return 0;
        }
    err_set(err, "the checkpoint's tokenizer was not found (looked in %s%s%s): pass --tokenizer DIR",
            cand[0][0] ? cand[0] : "(none configured)", cand[1][0] ? " and " : "", cand[1]);
    return -1;
}
