/* Progress reporting: on a terminal, one live line redrawn after each round
 * (round, training loss, validation perplexity, tokens/s, ETA); otherwise a
 * plain log line per round, which suits log files and CI.  While the live
 * line is shown, every log line of this process clears it first (a log
 * pre-hook), so a warning starts at column 0 instead of after the line. */
#include "supervisor/run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct progress {
    int tty;
    int total;
    int drawn;
};

static void clear_hook(void *ud) { progress_clear(ud); }

progress *progress_new(int total_rounds)
{
    progress *p = xcalloc(1, sizeof *p);
    p->tty = isatty(STDERR_FILENO);
    p->total = total_rounds;
    if (p->tty) log_set_pre_hook(clear_hook, p);
    return p;
}

void progress_free(progress *p)
{
    if (!p) return;
    if (p->tty) log_set_pre_hook(NULL, NULL);
    progress_clear(p);
    free(p);
}

void progress_clear(progress *p)
{
    if (p && p->tty && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

static void fmt_eta(char *out, size_t n, double s)
{
    if (!isfinite(s) || s < 0) { snprintf(out, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, n, "%lds", t);
}

void progress_round(progress *p, const run *r, double round_seconds, double tok_per_s)
{
    double elapsed = time_mono() - r->t_rounds;
    int64_t done = r->round - r->first_round;
    double eta = done > 0 ? elapsed / (double)done * (double)(p->total - r->round) : NAN;
    char etas[32], ppl[32];
    fmt_eta(etas, sizeof etas, eta);
    if (isfinite(r->last_eval_ppl)) snprintf(ppl, sizeof ppl, "%.2f", r->last_eval_ppl);
    else snprintf(ppl, sizeof ppl, "-");
    if (p->tty) {
        fprintf(stderr, "\r\033[Kround %lld/%d  loss %.4f  val ppl %s  %.0f tok/s  ETA %s",
                (long long)r->round, p->total, r->last_train_loss, ppl, tok_per_s, etas);
        fflush(stderr);
        p->drawn = 1;
    } else {
        log_info("round %lld/%d loss %.4f val_ppl %s tok/s %.0f round_s %.2f eta %s",
                 (long long)r->round, p->total, r->last_train_loss, ppl, tok_per_s, round_seconds, etas);
    }
}
