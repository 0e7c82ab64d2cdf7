/* prng.c — xoshiro256** (Blackman & Vigna, public domain reference algorithm) seeded by
 * splitmix64, plus the bounded and floating-point draws the simulator needs. */
#include "sim/prng.h"

uint64_t tcpw_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void tcpw_prng_seed(tcpw_prng *p, uint64_t seed) {
    uint64_t st = seed;
    for (int i = 0; i < 4; i++)
        p->s[i] = tcpw_splitmix64(&st);
    /* splitmix64 never yields four zero words in a row, but keep the invariant explicit:
     * the all-zero state is the one xoshiro cannot leave. */
    if ((p->s[0] | p->s[1] | p->s[2] | p->s[3]) == 0) p->s[0] = 1;
}

uint64_t tcpw_prng_u64(tcpw_prng *p) {
    uint64_t *s = p->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double tcpw_prng_double(tcpw_prng *p) {
    return (double)(tcpw_prng_u64(p) >> 11) * 0x1.0p-53;
}

uint64_t tcpw_prng_below(tcpw_prng *p, uint64_t n) {
    if (n == 0) return 0;
    /* Rejection sampling: accept draws below the largest multiple of n that fits. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
    uint64_t x;
    do {
        x = tcpw_prng_u64(p);
    } while (x > limit);
    return x % n;
}

uint64_t tcpw_prng_range(tcpw_prng *p, uint64_t lo, uint64_t hi) {
    if (hi <= lo) return lo;
    if (lo == 0 && hi == UINT64_MAX) return tcpw_prng_u64(p);
    return lo + tcpw_prng_below(p, hi - lo + 1);
}

bool tcpw_prng_chance(tcpw_prng *p, double prob) {
    return tcpw_prng_double(p) < prob;
}
