/* Carrying out a task's injected fault in the actor: dying by the planned
 * signal, hanging, or corrupting the update before it is sent. */
#include "actors/fault_exec.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "io/common.h"

void faults_fire_kill(const fault_task *t)
{
    if (t->signal > 0) {
        /* no core file from an injected crash: nothing may be left behind */
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        signal(t->signal, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, t->signal);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(t->signal);
    }
    _exit(FAULT_EXIT_CODE);
}

void faults_stall(void)
{
    for (;;) pause();
}

int64_t faults_corrupt(const fault_task *t, float *buf, size_t n)
{
    if (t->kind != FAULT_CORRUPT || n == 0) return -2;
    photon_rng g;
    rng_seed(&g, t->seed);
    int64_t idx = (int64_t)rng_below(&g, n);
    switch (t->corruption) {
    case CORRUPT_NAN:
        buf[idx] = NAN;
        return idx;
    case CORRUPT_SCALE:
        for (size_t i = 0; i < n; i++) buf[i] *= FAULT_SCALE;
        return -1;
    case CORRUPT_BITFLIP: {
        uint32_t bits;
        memcpy(&bits, &buf[idx], 4);
        bits ^= 1u << 30;
        memcpy(&buf[idx], &bits, 4);
        return idx;
    }
    }
    return -2;
}
