/* seq.h — sequence number arithmetic modulo 2^32 (RFC 9293 §3.4).
 *
 * Sequence numbers wrap; "a < b" means "a comes before b" when the two are less than 2^31
 * apart, which is what the difference of the two read as a signed 32-bit number tells.
 */
#ifndef TCPW_SEQ_H
#define TCPW_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline int32_t seq_diff(uint32_t a, uint32_t b) {
    return (int32_t)(a - b);
}
static inline bool seq_lt(uint32_t a, uint32_t b) {
    return seq_diff(a, b) < 0;
}
static inline bool seq_le(uint32_t a, uint32_t b) {
    return seq_diff(a, b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b) {
    return seq_diff(a, b) > 0;
}
static inline bool seq_ge(uint32_t a, uint32_t b) {
    return seq_diff(a, b) >= 0;
}
static inline uint32_t seq_max(uint32_t a, uint32_t b) {
    return seq_gt(a, b) ? a : b;
}
static inline uint32_t seq_min(uint32_t a, uint32_t b) {
    return seq_lt(a, b) ? a : b;
}

/* lo <= x < hi on the circle of 2^32 numbers (the RFC's "LEFT =< X < RIGHT"): the distance
 * from lo to x is smaller than the distance from lo to hi. Empty when lo == hi. */
static inline bool seq_in(uint32_t x, uint32_t lo, uint32_t hi) {
    return (uint32_t)(x - lo) < (uint32_t)(hi - lo);
}

#endif
