/* Carrying out a task's injected fault in the actor: dying by the planned
 * signal, hanging, or corrupting the update before it is sent. */
#include "actors/fault_exec.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "io/common.h"
#include "io/proc.h"

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

void faults_result_exit_seam(int client, int round, struct proc_peer *peer)
{
    const char *v = getenv("PHOTON_FAULT_RESULT_EXIT");
    const char *comma = v ? strchr(v, ',') : NULL;
    const char *comma2 = comma ? strchr(comma + 1, ',') : NULL;
    if (!comma2 || atoi(comma + 1) != client || atoi(comma2 + 1) != round) return;
    fflush(NULL);
    if (strncmp(v, "late,", 5) == 0) {
        pid_t parent = getpid();
        pid_t helper = fork();
        if (helper == 0) {
            /* Holds the channel (inherited) until the actor is gone. */
            for (int i = 0; i < 5000 && getppid() == parent; i++) usleep(1000);
            usleep(100000);
            proc_peer_flush(peer);
            _exit(0);
        }
        if (helper > 0) _exit(FAULT_EXIT_CODE);
    }
    proc_peer_flush(peer);
    _exit(FAULT_EXIT_CODE);
}
