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
 * It runs once, before the first sgemm of the process.
 *
 * A portable build (-DPHOTON_PORTABLE=ON) instead always runs OpenBLAS's
 * Haswell (AVX2 + FMA) kernels, whatever the CPU and whatever
 * OPENBLAS_CORETYPE says: the kernel choice decides the rounding of every
 * product, so a fixed choice (with the fixed -march of that build) is what
 * makes a run bitwise identical on every x86-64 machine with AVX2. */
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cblas.h>
#include "gpu/model.h"
#include "gpu/cpu/kernels.h"

extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static pthread_once_t once = PTHREAD_ONCE_INIT;

#ifdef PHOTON_PORTABLE
#define PORTABLE_CORE "Haswell"
static void setup(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "photon-sim: error: this portable build needs an x86-64 CPU with AVX2 and FMA\n");
        exit(1);
    }
    const char *core = openblas_get_corename();
    if (core && strcasecmp(core, PORTABLE_CORE) == 0) return;
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) {
        fprintf(stderr, "photon-sim: error: portable build: OpenBLAS runs its %s kernels and cannot switch to "
                "%s (not a DYNAMIC_ARCH build)\n", core ? core : "unknown", PORTABLE_CORE);
        exit(1);
    }
    setenv("OPENBLAS_CORETYPE", PORTABLE_CORE, 1);   /* actors inherit it */
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    core = openblas_get_corename();
    if (!core || strcasecmp(core, PORTABLE_CORE) != 0) {
        fprintf(stderr, "photon-sim: error: portable build: OpenBLAS kept its %s kernels instead of %s\n",
                core ? core : "unknown", PORTABLE_CORE);
        exit(1);
    }
}
#else
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
#endif

void cpu_blas_setup(void)
{
    pthread_once(&once, setup);
}

const char *cpu_blas_kernels(void)
{
    return openblas_get_corename();
}

const char *cpu_build_kind(void)
{
#if defined(PHOTON_PORTABLE)
    return "portable";
#elif defined(__AVX2__) && !defined(PHOTON_SANITIZE)
    return "native";
#else
    return "generic";
#endif
}

/* The CPU's name as /proc/cpuinfo gives it, for the records of a run
 * (reference figures say which CPU they came from). */
void cpu_model_name(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        snprintf(out, n, "%.*s", (int)strcspn(v, "\n"), v);
        break;
    }
    fclose(f);
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
