/* A keyed bijection of [0, n): a balanced Feistel network on the smallest
 * even number of bits that covers n, with cycle-walking to stay inside
 * [0, n).  Gives a uniformly scrambled order of n items with O(1) memory
 * and O(1) expected time per lookup, so every epoch of the data loader can
 * have its own permutation without storing it. */
#ifndef PHOTON_KEYPERM_H
#define PHOTON_KEYPERM_H
#include <stdint.h>

typedef struct {
    uint64_t n, mask;
    int half;
    uint64_t key[4];
} keyperm;

void keyperm_init(keyperm *p, uint64_t n, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
/* The image of x (x < n); a bijection of [0, n). */
uint64_t keyperm_apply(const keyperm *p, uint64_t x);
#endif
