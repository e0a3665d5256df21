/* The TCP link's transfer cost (`photon-sim bench --link --tcp`): one
 * model-sized blob over loopback, clear and inside TLS, next to memcpy
 * (supervisor/cmd/bench_tcp.c). */
#ifndef PHOTON_BENCH_TCP_H
#define PHOTON_BENCH_TCP_H
#include <stddef.h>
/* Prints one row (or JSON object) per size (n blobs of bytes[i], named
 * names[i]); -1 on failure. */
int bench_tcp_run(const char *const *names, const size_t *bytes, int n, int reps, int json);
#endif
