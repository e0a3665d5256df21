/* A progress line on stderr for long work (reading, training, tokenizing):
 * carriage-return updates on a terminal, a plain line every few seconds
 * otherwise, nothing at all for work that finishes within a second. */
#ifndef PHOTON_PROGRESS_H
#define PHOTON_PROGRESS_H
#include <stddef.h>

typedef struct {
    const char *what;
    double t0, last;
    size_t total;     /* bytes expected, 0 if unknown */
    int tty, shown;
} progress;

void progress_start(progress *p, const char *what, size_t total);
void progress_update(progress *p, size_t done);
/* Ends the line (if one was shown) with the final figure. */
void progress_end(progress *p, size_t done);
#endif
