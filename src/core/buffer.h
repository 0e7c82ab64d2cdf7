/* buffer.h — the byte buffers of a connection: a ring for the send and receive streams, and an
 * assembler that tracks which ranges beyond the in-order data have arrived out of order.
 * Both are fixed-size after creation: nothing on the per-segment path allocates.
 */
#ifndef TCPW_BUFFER_H
#define TCPW_BUFFER_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

typedef struct tcpw_ring {
    uint8_t *buf;
    uint32_t cap;  /* bytes of storage */
    uint32_t head; /* index of the first byte */
    uint32_t len;  /* bytes stored from head on */
} tcpw_ring;

static inline uint32_t ring_free(const tcpw_ring *r) {
    return r->cap - r->len;
}

/* head + off for off <= cap: head < cap, so one subtraction wraps it (no division). */
static inline uint32_t ring_pos(const tcpw_ring *r, uint32_t off) {
    uint32_t pos = r->head + off;
    return pos >= r->cap ? pos - r->cap : pos;
}

/* Fewer bytes than this are copied (and summed) inline when they do not wrap. */
#define RING_SHORT 16

/* Appends up to n bytes; returns how many fit. A few bytes that do not wrap are stored inline
 * (the writes of interactive traffic); the rest goes to ring_write_any. */
uint32_t ring_write_any(tcpw_ring *r, const void *src, uint32_t n);
static inline uint32_t ring_write(tcpw_ring *r, const void *src, uint32_t n) {
    uint32_t pos = ring_pos(r, r->len);
    if (n < RING_SHORT && n <= r->cap - r->len && n <= r->cap - pos) {
        uint8_t *to = r->buf + pos; /* loaded once: the stores may alias r */
        for (uint32_t i = 0; i < n; i++)
            to[i] = ((const uint8_t *)src)[i];
        r->len += n;
        return n;
    }
    return ring_write_any(r, src, n);
}
/* Copies n bytes starting `off` bytes after head into dst (off <= cap, off + n <= cap). */
void ring_peek_any(const tcpw_ring *r, uint32_t off, void *dst, uint32_t n);
static inline void ring_peek(const tcpw_ring *r, uint32_t off, void *dst, uint32_t n) {
    uint32_t pos = ring_pos(r, off);
    if (n < RING_SHORT && n <= r->cap - pos) {
        const uint8_t *from = r->buf + pos; /* loaded once: the stores may alias r */
        for (uint32_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = from[i];
        return;
    }
    ring_peek_any(r, off, dst, n);
}
/* ring_peek, and adds the copied bytes to a raw checksum accumulator in the same pass
 * (csum.c; the bytes sit at an even offset of the checksummed data). */
uint64_t ring_peek_csum_any(const tcpw_ring *r, uint32_t off, void *dst, uint32_t n, uint64_t acc);
static inline uint64_t ring_peek_csum(const tcpw_ring *r, uint32_t off, void *dst, uint32_t n,
                                      uint64_t acc) {
    uint32_t pos = ring_pos(r, off);
    if (n <= r->cap - pos) /* one piece: a few bytes inline, more in one call */
        return n < RING_SHORT ? tcpw_csum_acc_copy_short(acc, dst, r->buf + pos, n)
                              : tcpw_csum_acc_copy(acc, dst, r->buf + pos, n);
    return ring_peek_csum_any(r, off, dst, n, acc);
}
/* ring_put_at, and adds the bytes to a raw checksum accumulator in the same pass. */
uint64_t ring_put_csum_any(tcpw_ring *r, uint32_t off, const void *src, uint32_t n, uint64_t acc);
static inline uint64_t ring_put_csum(tcpw_ring *r, uint32_t off, const void *src, uint32_t n,
                                     uint64_t acc) {
    uint32_t pos = ring_pos(r, off);
    if (n <= r->cap - pos) /* one piece: a few bytes inline, more in one call */
        return n < RING_SHORT ? tcpw_csum_acc_copy_short(acc, r->buf + pos, src, n)
                              : tcpw_csum_acc_copy(acc, r->buf + pos, src, n);
    return ring_put_csum_any(r, off, src, n, acc);
}
/* Stores n bytes at `off` bytes after head without changing len (out-of-order data). */
void ring_put_at(tcpw_ring *r, uint32_t off, const void *src, uint32_t n);
/* Drops n bytes from the front. head never jumps back to 0 when the ring empties: out-of-order
 * bytes may be stored past the in-order end, at positions relative to head + len. */
static inline void ring_consume(tcpw_ring *r, uint32_t n) {
    if (n > r->len) n = r->len;
    r->head = ring_pos(r, n);
    r->len -= n;
}

#define TCPW_ASM_RANGES 4

/* Out-of-order ranges, as offsets from the end of the in-order data, sorted and disjoint. */
typedef struct tcpw_assembler {
    uint32_t start[TCPW_ASM_RANGES], end[TCPW_ASM_RANGES];
    uint8_t n;
} tcpw_assembler;

/* Records that [off, off+len) has arrived. Returns false when it cannot be tracked (too many
 * holes); the caller then drops the data (the peer retransmits it). */
bool asm_add(tcpw_assembler *a, uint32_t off, uint32_t len);
/* After `adv` in-order bytes were appended: returns how many more bytes became contiguous
 * (a range that now starts at 0) and shifts the remaining ranges. */
uint32_t asm_advance(tcpw_assembler *a, uint32_t adv);
static inline bool asm_empty(const tcpw_assembler *a) {
    return a->n == 0;
}

#endif
