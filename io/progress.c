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
    char pct[32] = "";
    if (p->total) snprintf(pct, sizeof pct, " of %.1f MB", p->total / 1e6);
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
