/* Progress lines (see progress.h).  Rate-limited so that calling
 * progress_update per document costs nothing. */
#include "io/progress.h"
#include <stdio.h>
#include <unistd.h>
#include "io/common.h"

void progress_start(progress *p, const char *what, size_t total)
{
    p->what = what;
    p->t0 = p->last = time_mono();
    p->total = total;
    p->tty = isatty(2);
    p->shown = 0;
}

static void show(progress *p, size_t done, double now, int final)
{
    double dt = now - p->t0 > 1e-9 ? now - p->t0 : 1e-9;
    char pct[96] = "";
    if (p->total) {
        /* done/total are file bytes (compressed when the files are); the
         * estimate assumes the rest goes at the rate so far */
        double left = done < p->total && done > 0 ? (double)(p->total - done) * dt / (double)done : 0;
        char eta[48] = "";
        if (!final && done > 0 && done < p->total)
            snprintf(eta, sizeof eta, ", ETA %dm%02ds", (int)(left / 60), (int)left % 60);
        snprintf(pct, sizeof pct, " of %.1f MB (%.0f%%%s)", p->total / 1e6, 100.0 * (double)done / (double)p->total, eta);
    }
    fprintf(stderr, "%sphoton-sim: %s: %.1f MB%s, %.1f MB/s, %.1f s%s", p->tty ? "\r" : "", p->what, done / 1e6, pct,
            done / 1e6 / dt, dt, p->tty && !final ? "   " : "\n");
    fflush(stderr);
    p->shown = 1;
}

void progress_update(progress *p, size_t done)
{
    double now = time_mono();
    if (now - p->t0 < 1.0) return;
    if (now - p->last < (p->tty ? 0.25 : 5.0)) return;
    p->last = now;
    show(p, done, now, 0);
}

void progress_end(progress *p, size_t done)
{
    if (p->shown) show(p, done, time_mono(), 1);
}
