/* The runtime's per-round cost outside training, measured piece by piece on
 * the real link and process layer, next to memcpy on the same machine:
 * dispatch (task/result round trip over a socketpair to a forked echo
 * actor), publishing the global model (copy into shm + checksum), an actor
 * reading it (checksum check), an actor writing its update (checksum), the
 * supervisor consuming K updates (checksum check + weighted add, in order)
 * and the outer step; at model sizes from the test model to GPT-2 125M.
 * Reached as `photon-sim bench --link [--sizes LIST] [--clients K]
 * [--threads N] [--reps N] [--json]`. */
#ifndef PHOTON_BENCH_LINK_H
#define PHOTON_BENCH_LINK_H
int bench_link_main(int argc, char **argv);
#endif
