/* Keyed permutation by Feistel network + cycle-walking (see keyperm.h).
 * A Feistel network is a bijection for any round function; four rounds of
 * a strong 64-bit mixer make the order look random.  Cycle-walking (apply
 * again while outside [0, n)) restricts it to a bijection of [0, n), and
 * the domain is < 4n so the expected number of walks is < 4. */
#include "io/keyperm.h"
#include "io/common.h"

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void keyperm_init(keyperm *p, uint64_t n, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    int bits = 0;
    while (bits < 64 && (1ULL << bits) < n) bits++;
    p->n = n;
    p->half = (bits + 1) / 2;
    if (p->half == 0) p->half = 1;
    p->mask = (1ULL << p->half) - 1;
    photon_rng r;
    rng_derive(&r, seed, a, b, c);
    for (int i = 0; i < 4; i++) p->key[i] = rng_u64(&r);
}

static uint64_t feistel(const keyperm *p, uint64_t x)
{
    uint64_t l = x >> p->half, r = x & p->mask;
    for (int i = 0; i < 4; i++) {
        uint64_t f = mix(r ^ p->key[i]) & p->mask;
        uint64_t nl = r;
        r = l ^ f;
        l = nl;
    }
    return (l << p->half) | r;
}

uint64_t keyperm_apply(const keyperm *p, uint64_t x)
{
    if (p->n <= 1) return 0;
    do x = feistel(p, x); while (x >= p->n);
    return x;
}
