/* Fuzz target: the checkpoint reader (io/checkpoint_read.c,
 * checkpoint_walk.c) and the run-state check (io/runstate.c
 * runstate_check), on an input written as an .h5 file: open with the
 * format checks, model shape, every tensor's structure, reading /model when
 * it is small, listing, verifying every dataset, and the run state.
 * Property besides memory safety: every error is one line naming the file.
 * (HDF5 itself is not instrumented; what it does with a damaged file is
 * checked only as far as photon-sim's calls see it.) */
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/checkpoint.h"
#include "io/runstate.h"

static const char *path;

static void check_msg(const photon_err *err)
{
    if (strchr(err->msg, '\n') || !strstr(err->msg, path)) {
        fprintf(stderr, "bad error message: '%s'\n", err->msg);
        abort();
    }
}

static int visit(const char *p, int rank, const uint64_t *dims, const char *dtype, void *ud)
{
    (void)p; (void)dims; (void)dtype;
    (*(int *)ud) += rank >= 0;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    ckpt_probe_disable();   /* in-process: the library's own crashes are findings */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    path = fz_write("f.h5", data, size);
    photon_err err = { "" };
    ckpt_meta m;
    ckpt_reader *r = ckpt_open(path, &m, &err);
    if (!r) { check_msg(&err); return 0; }
    gpt2_config c;
    int model = ckpt_model_config(r, &c, &err) == 0;
    if (!model) check_msg(&err);
    if (model && ckpt_check_params(r, "/model", &c, &err) == 0) {
        size_t n = gpt2_num_params(&c);
        if (n <= ((size_t)1 << 22)) {
            float *p = malloc(n * sizeof *p);
            if (ckpt_get_params(r, "/model", &c, p, &err) != 0) check_msg(&err);
            free(p);
        }
    }
    int count = 0;
    if (ckpt_visit(r, visit, &count, &err) != 0) check_msg(&err);
    if (ckpt_verify(r, &err) != 0) check_msg(&err);
    if (model) {
        runstate_info info;
        if (runstate_check(r, path, &c, m.seed, &info, &err) < 0) check_msg(&err);
    }
    int64_t v;
    if (ckpt_get_i64(r, "/run/metrics_offset", &v, 1, &err) != 0) check_msg(&err);
    free((char *)m.config);
    ckpt_close(r);
    return 0;
}
