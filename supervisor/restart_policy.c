/* Restart decisions, backoff and the death tally; see restart_policy.h. */
#include "supervisor/restart_policy.h"
#include "io/common.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

typedef struct {
    double *times;         /* ring of the last `restarts` restart times */
    int count, head;
    int consecutive;       /* deaths since the last healthy task */
    int64_t deaths;
} actor_hist;

struct restart_policy {
    int n;
    int restarts, run_restarts;
    double window, backoff, backoff_max;
    actor_hist *a;
    rp_tally tally;
};

actor_exit actor_exit_from_status(int st)
{
    actor_exit e = { ACTOR_EXITED, 0 };
    if (WIFSIGNALED(st)) { e.kind = ACTOR_SIGNALED; e.code = WTERMSIG(st); }
    else if (WIFEXITED(st)) e.code = WEXITSTATUS(st);
    return e;
}

const char *signal_name(int sig, char *buf, size_t n)
{
    static const struct { int sig; const char *name; } names[] = {
        { SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" }, { SIGILL, "SIGILL" },
        { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" },
        { SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
        { SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGXCPU, "SIGXCPU" },
        { SIGXFSZ, "SIGXFSZ" }, { SIGSYS, "SIGSYS" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig) return names[i].name;
    snprintf(buf, n, "SIG%d", sig);
    return buf;
}

void actor_exit_describe(const actor_exit *e, char *buf, size_t n)
{
    char tmp[16];
    switch (e->kind) {
    case ACTOR_EXITED: snprintf(buf, n, "exit status %d", e->code); break;
    case ACTOR_SIGNALED: snprintf(buf, n, "signal %s", signal_name(e->code, tmp, sizeof tmp)); break;
    case ACTOR_TIMEOUT: snprintf(buf, n, "timed out"); break;
    case ACTOR_LOST: snprintf(buf, n, "control channel lost"); break;
    default: snprintf(buf, n, "unknown exit"); break;
    }
}

bool actor_exit_permanent(const actor_exit *e)
{
    return e->kind == ACTOR_EXITED && (e->code == PHOTON_EXIT_USAGE || e->code == ACTOR_EXIT_CONFIG);
}

const char *rp_action_name(rp_action a)
{
    switch (a) {
    case RP_RESTART: return "restart";
    case RP_FAIL_PERMANENT: return "fail_permanent";
    case RP_FAIL_ACTOR_LIMIT: return "fail_actor_limit";
    case RP_FAIL_RUN_LIMIT: return "fail_run_limit";
    }
    return "?";
}

restart_policy *rp_create(int n_actors, int restarts, double window, int run_restarts,
                          double backoff, double backoff_max)
{
    restart_policy *p = xcalloc(1, sizeof *p);
    p->n = n_actors > 0 ? n_actors : 1;
    p->restarts = restarts > 0 ? restarts : 0;
    p->run_restarts = run_restarts > 0 ? run_restarts : 0;
    p->window = window;
    p->backoff = backoff > 0 ? backoff : 0;
    p->backoff_max = backoff_max > p->backoff ? backoff_max : p->backoff;
    p->a = xcalloc((size_t)p->n, sizeof *p->a);
    for (int i = 0; i < p->n; i++)
        p->a[i].times = xcalloc((size_t)(p->restarts ? p->restarts : 1), sizeof(double));
    return p;
}

void rp_free(restart_policy *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->a[i].times);
    free(p->a);
    free(p);
}

static void tally(restart_policy *p, const actor_exit *e)
{
    rp_tally *t = &p->tally;
    t->deaths++;
    switch (e->kind) {
    case ACTOR_EXITED:
        t->exited++;
        if (e->code >= 0 && e->code < 256) t->by_code[e->code]++;
        break;
    case ACTOR_SIGNALED:
        t->signaled++;
        if (e->code > 0 && e->code < 65) t->by_signal[e->code]++;
        break;
    case ACTOR_TIMEOUT: t->timeouts++; break;
    default: t->lost++; break;
    }
}

rp_action rp_on_exit(restart_policy *p, int actor, const actor_exit *e, double now,
                     double *delay, char *why, size_t why_n)
{
    char desc[64], dummy[8];
    if (!why) { why = dummy; why_n = sizeof dummy; }
    *delay = 0;
    why[0] = 0;
    tally(p, e);
    actor_exit_describe(e, desc, sizeof desc);
    if (actor < 0 || actor >= p->n) actor = 0;
    actor_hist *h = &p->a[actor];
    h->deaths++;
    h->consecutive++;
    if (actor_exit_permanent(e)) {
        snprintf(why, why_n, "actor %d exited with %s (bad configuration or unusable device): not restarting",
                 actor, desc);
        return RP_FAIL_PERMANENT;
    }
    if (p->restarts == 0 || (h->count == p->restarts && now - h->times[h->head] < p->window)) {
        snprintf(why, why_n, "actor %d died (%s) more than %d times within %g s: giving up",
                 actor, desc, p->restarts, p->window);
        return RP_FAIL_ACTOR_LIMIT;
    }
    if (p->tally.restarts >= p->run_restarts) {
        snprintf(why, why_n, "actor %d died (%s) after %lld restarts in this run (limit %d): giving up",
                 actor, desc, (long long)p->tally.restarts, p->run_restarts);
        return RP_FAIL_RUN_LIMIT;
    }
    /* record the restart in the actor's ring: the oldest entry falls out */
    h->times[h->head] = now;
    h->head = (h->head + 1) % p->restarts;
    if (h->count < p->restarts) h->count++;
    p->tally.restarts++;
    double d = p->backoff * ldexp(1.0, h->consecutive - 1 < 60 ? h->consecutive - 1 : 60);
    *delay = d < p->backoff_max ? d : p->backoff_max;
    return RP_RESTART;
}

void rp_on_healthy(restart_policy *p, int actor)
{
    if (actor >= 0 && actor < p->n) p->a[actor].consecutive = 0;
}

const rp_tally *rp_get_tally(const restart_policy *p) { return &p->tally; }

int64_t rp_actor_deaths(const restart_policy *p, int actor)
{
    return actor >= 0 && actor < p->n ? p->a[actor].deaths : 0;
}
