/* Process-level setup of the CPU backend's libraries: OpenBLAS kernel
 * selection, and the OpenMP wait policy (cpu_runtime_init, at the end).
 *
 * Debian's OpenBLAS is built with DYNAMIC_ARCH and picks its kernels from
 * the CPU model number.  On CPUs it does not know by model (new parts,
 * virtual machines that report a generic "Intel Xeon Processor") it falls
 * back to the SSE3 "Prescott" kernels even when the CPU has AVX-512,
 * which halves sgemm throughput or worse.  When that happens and the user
 * has not chosen a core type (OPENBLAS_CORETYPE), we choose the kernels
 * from the CPU's actual features and re-run OpenBLAS's dynamic init
 * (exported by DYNAMIC_ARCH builds; weak, so other builds just skip this).
 * It runs once, before the first sgemm of the process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cblas.h>
#include "gpu/model.h"
#include "gpu/cpu/kernels.h"

extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void setup(void)
{
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit || !core)
        return;
    if (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 && strcmp(core, "Nehalem") != 0 &&
        strcmp(core, "Sandybridge") != 0)
        return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    /* children (actors) inherit the choice and skip the detection */
    setenv("OPENBLAS_CORETYPE", want, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
}

void cpu_blas_setup(void)
{
    pthread_once(&once, setup);
}

const char *cpu_blas_kernels(void)
{
    return openblas_get_corename();
}

/* OpenMP waiting: libgomp's default spins a waiting thread for a while
 * before it sleeps.  photon-sim runs several actor processes on one machine
 * (and shares it with others); spinning threads there take the cores the
 * working ones need (measured on a loaded 2-core machine: 2-3x slower steps
 * and 3x the CPU time).  So photon-sim asks for passive waiting unless the
 * user chose a policy.  libgomp reads it once when it loads, hence the
 * re-exec, first thing in main (actors forked later inherit it). */
void cpu_runtime_init(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || !argv || !argv[0]) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the default policy */
}
