/* The federated quickstart (experiments/quickstart.ini: 8 clients, 2 actors)
 * on the GPU: backend = cuda in bf16, 3 rounds, both actors on GPU 0 when
 * there is one GPU (actor i uses GPU i mod G).  The run must complete and the
 * validation perplexity must fall.  Skips (77) without a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"
#include "io/common.h"
#ifdef PHOTON_HAVE_CUDA
#include "gpu/cuda/cuda_api.h"

int main(void)
{
    if (cuda_device_count() == 0) { printf("skipped: %s\n", cuda_device_status()); return 77; }
    static char out[1 << 16];
    const char *dir = th_tmpdir();
    int rc = th_run(out, sizeof out,
                    "'%s' '%s/experiments/quickstart.ini' --set run.backend=cuda --set run.precision=bf16 "
                    "--set run.rounds=3 --set run.out_dir='%s/run' --set data.prepared_dir='%s/data' 2>&1",
                    th_binary(), th_source_dir(), dir, dir);
    CHECK_MSG(rc == 0, "quickstart on cuda exits 0 (got %d): %s", rc, out);
    char path[4096];
    snprintf(path, sizeof path, "%s/run/summary.json", dir);
    photon_err err;
    size_t n = 0;
    char *summary = file_read_all(path, &n, &err);
    CHECK_MSG(summary != NULL, "summary.json written (%s)", summary ? "ok" : err.msg);
    if (summary) {
        CHECK_CONTAINS(summary, "\"status\":\"completed\"");
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); "
                 "print(s[\"initial_perplexity\"], s[\"final_perplexity\"]); "
                 "sys.exit(0 if s[\"final_perplexity\"] < s[\"initial_perplexity\"] else 1)' '%s' 2>&1", path);
        rc = th_run(out, sizeof out, "%s", cmd);
        CHECK_MSG(rc == 0, "perplexity falls on the GPU: %s", out);
        free(summary);
    }
    return th_finish();
}
#else
int main(void)
{
    printf("skipped: the CUDA backend is not built in\n");
    return 77;
}
#endif
