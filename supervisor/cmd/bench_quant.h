/* The link encodings' cost next to memcpy, and their saving on a link:
 * `photon-sim bench --runtime --quant [options]`.  For each size and each
 * encoding (bf16, int8, fp4): encode, encode with error feedback (the
 * actor's path), decode (the supervisor's), and memcpy of the same fp32
 * buffer (one thread and split over the threads), best of --reps; then the
 * seconds the encoding saves on a --link-mbps link (the fp32 bytes minus
 * the encoded bytes, at that rate) next to what it costs (encode with
 * feedback + decode). */
#ifndef PHOTON_BENCH_QUANT_H
#define PHOTON_BENCH_QUANT_H
/* Options: --sizes LIST, --params N, --threads N, --reps N (default 3),
 * --link-mbps M (default 1000), --kernels default|portable|both (the AVX2
 * kernels where built, the portable C ones, or each side by side), --json
 * (one object per size, encoding and kernels).  Rates are GB/s of fp32.
 * Returns the exit status (2 on a usage error). */
int bench_quant_main(int argc, char **argv);
#endif
