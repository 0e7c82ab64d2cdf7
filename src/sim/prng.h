/* prng.h — a small seeded pseudo-random generator for the simulator (xoshiro256**, seeded
 * through splitmix64).
 *
 * Every generator is a value owned by its user: no global state, so two simulations in one
 * process never disturb each other, and the same seed replays the same draws bit for bit on
 * every platform (only integer arithmetic; doubles are built from 53 exact bits).
 */
#ifndef TCPW_SIM_PRNG_H
#define TCPW_SIM_PRNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tcpw_prng {
    uint64_t s[4];
} tcpw_prng;

/* splitmix64: advances *state and returns the next output. Good for deriving seeds. */
uint64_t tcpw_splitmix64(uint64_t *state);

/* Seeds the generator; every seed (0 included) gives a valid, distinct stream. */
void tcpw_prng_seed(tcpw_prng *p, uint64_t seed);
/* The next 64 random bits. */
uint64_t tcpw_prng_u64(tcpw_prng *p);
/* A uniform double in [0, 1) with 53 bits of precision. */
double tcpw_prng_double(tcpw_prng *p);
/* A uniform integer in [0, n) without modulo bias; 0 when n == 0. */
uint64_t tcpw_prng_below(tcpw_prng *p, uint64_t n);
/* A uniform integer in [lo, hi] (inclusive); lo when hi <= lo. */
uint64_t tcpw_prng_range(tcpw_prng *p, uint64_t lo, uint64_t hi);
/* true with probability prob (consumes exactly one draw whatever prob is: never true for
 * prob <= 0, always for prob >= 1). */
bool tcpw_prng_chance(tcpw_prng *p, double prob);

#endif
