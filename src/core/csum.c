/* csum.c — the Internet checksum (RFC 1071), fast and independent of the host's byte order.
 *
 * The checksum of IPv4 headers (RFC 791 §3.1) and of TCP segments (RFC 9293 §3.1) is the
 * 16-bit one's complement of the one's complement sum of the data read as big-endian 16-bit
 * words, an odd trailing byte padded on the right with a zero byte.
 *
 * Speed: the data is loaded 8 bytes at a time (memcpy into a uint64_t, so unaligned buffers
 * are fine) and added with an end-around carry (RFC 1071 §2 (C) "parallel summation": a
 * one's complement sum over 64-bit words folds down to the sum over 16-bit words). The words
 * are loaded in host order; RFC 1071 §2 (B) "byte order independence" says the sum of
 * byte-swapped words is the byte-swapped sum, so one swap at the end of each call turns a
 * little-endian host's result into the big-endian one.
 *
 * The value carried between calls (the uint64_t `sum`) is always in network-numeric form:
 * the plain sum of big-endian 16-bit words, with end-around carries. A caller may therefore
 * add numbers to it directly (the protocol number and TCP length of a pseudo-header) and gets
 * the same result on any host. Every chunk but the last must have an even length, as with
 * every checksum routine of this kind: an odd chunk is padded with a zero byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/wire.h"

/* True on a little-endian host. Compilers fold this to a constant. */
static inline bool host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* a + b in one's complement arithmetic over 64 bits (the carry out goes back in). */
static inline uint64_t add_carry64(uint64_t a, uint64_t b) {
    a += b;
    return a + (a < b);
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* RFC 1071 §2 (C): folding a one's complement sum of wider words down to 16 bits gives the
 * one's complement sum of the 16-bit words. Zero stays zero, any other sum stays non-zero. */
static inline uint16_t fold64(uint64_t s) {
    s = (s & 0xffffffffu) + (s >> 32); /* at most 33 bits */
    s = (s & 0xffffffffu) + (s >> 32); /* at most 32 bits */
    s = (s & 0xffffu) + (s >> 16);     /* at most 17 bits */
    s = (s & 0xffffu) + (s >> 16);     /* 16 bits */
    return (uint16_t)s;
}

uint64_t tcpw_csum_add(uint64_t sum, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t acc = 0; /* one's complement sum of host-order 64-bit words */

    if (len == 0) return sum;

    /* RFC 1071 §2 (C)/(D): sum 64-bit words, 32 bytes per round to keep the loop short. */
    while (len >= 32) {
        acc = add_carry64(acc, load64(p));
        acc = add_carry64(acc, load64(p + 8));
        acc = add_carry64(acc, load64(p + 16));
        acc = add_carry64(acc, load64(p + 24));
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        acc = add_carry64(acc, load64(p));
        p += 8;
        len -= 8;
    }
    /* The tail of 0..7 bytes sits at the start of a zeroed word, so each byte keeps its
     * position within its 16-bit word and an odd last byte is padded with zero on the right
     * (RFC 9293 §3.1, "Checksum"). */
    if (len > 0) {
        uint8_t tail[8] = {0};
        memcpy(tail, p, len);
        acc = add_carry64(acc, load64(tail));
    }

    /* RFC 1071 §2 (B): on a little-endian host the 16-bit sum is byte-swapped. */
    uint16_t part = fold64(acc);
    if (host_is_little_endian()) part = (uint16_t)((part >> 8) | (part << 8));
    return add_carry64(sum, part);
}

uint16_t tcpw_csum_fold(uint64_t sum) {
    return fold64(sum);
}
