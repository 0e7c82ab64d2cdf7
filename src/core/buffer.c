/* buffer.c — ring buffers and the out-of-order assembler (see buffer.h). */
#include <string.h>

#include "buffer.h"
#include "wire.h"

static void ring_copy_in(tcpw_ring *r, uint32_t pos, const uint8_t *src, uint32_t n) {
    uint32_t first = r->cap - pos;
    if (n < RING_SHORT && n <= first) { /* a few bytes, not wrapping: no call */
        for (uint32_t i = 0; i < n; i++)
            r->buf[pos + i] = src[i];
        return;
    }
    if (first > n) first = n;
    memcpy(r->buf + pos, src, first);
    if (n > first) memcpy(r->buf, src + first, n - first);
}

uint32_t ring_write_any(tcpw_ring *r, const void *src, uint32_t n) {
    if (n > ring_free(r)) n = ring_free(r);
    if (n == 0) return 0;
    ring_copy_in(r, ring_pos(r, r->len), src, n);
    r->len += n;
    return n;
}

void ring_put_at(tcpw_ring *r, uint32_t off, const void *src, uint32_t n) {
    if (n == 0) return;
    ring_copy_in(r, (r->head + off) % r->cap, src, n);
}

void ring_peek_any(const tcpw_ring *r, uint32_t off, void *dst, uint32_t n) {
    if (n == 0) return;
    uint32_t pos = ring_pos(r, off);
    uint32_t first = r->cap - pos;
    if (first > n) first = n;
    memcpy(dst, r->buf + pos, first);
    memcpy((uint8_t *)dst + first, r->buf, n - first);
}

uint64_t ring_peek_csum_any(const tcpw_ring *r, uint32_t off, void *dst, uint32_t n, uint64_t acc) {
    if (n == 0) return acc;
    uint32_t pos = ring_pos(r, off);
    uint32_t first = r->cap - pos;
    if (first > n) first = n;
    acc = tcpw_csum_acc_copy(acc, dst, r->buf + pos, first);
    if (first == n) return acc;
    /* The second piece starts at an odd offset when the first is odd: its words straddle
     * the checksum's (RFC 1071 §2 (B)), so its sum is taken alone and swapped into place. */
    uint64_t rest = tcpw_csum_acc_copy(0, (uint8_t *)dst + first, r->buf, n - first);
    if (first & 1) rest = tcpw_csum_odd(rest);
    acc += rest;
    return acc + (acc < rest);
}

uint64_t ring_put_csum_any(tcpw_ring *r, uint32_t off, const void *src, uint32_t n, uint64_t acc) {
    if (n == 0) return acc;
    uint32_t pos = ring_pos(r, off);
    uint32_t first = r->cap - pos;
    if (first > n) first = n;
    acc = tcpw_csum_acc_copy(acc, r->buf + pos, src, first);
    if (first == n) return acc;
    /* as in ring_peek_csum: an odd first piece leaves the second at an odd offset */
    uint64_t rest = tcpw_csum_acc_copy(0, r->buf, (const uint8_t *)src + first, n - first);
    if (first & 1) rest = tcpw_csum_odd(rest);
    acc += rest;
    return acc + (acc < rest);
}

static void asm_remove(tcpw_assembler *a, uint8_t i) {
    for (uint8_t j = i; j + 1 < a->n; j++) {
        a->start[j] = a->start[j + 1];
        a->end[j] = a->end[j + 1];
    }
    a->n--;
}

bool asm_add(tcpw_assembler *a, uint32_t off, uint32_t len) {
    if (len == 0) return true;
    uint32_t s = off, e = off + len;
    /* Merge with every range it touches or overlaps; then insert in order. */
    uint8_t i = 0;
    while (i < a->n) {
        if (a->end[i] < s || a->start[i] > e) {
            i++;
            continue;
        }
        if (a->start[i] < s) s = a->start[i];
        if (a->end[i] > e) e = a->end[i];
        asm_remove(a, i);
    }
    if (a->n == TCPW_ASM_RANGES) return false;
    i = 0;
    while (i < a->n && a->start[i] < s)
        i++;
    for (uint8_t j = a->n; j > i; j--) {
        a->start[j] = a->start[j - 1];
        a->end[j] = a->end[j - 1];
    }
    a->start[i] = s;
    a->end[i] = e;
    a->n++;
    return true;
}

uint32_t asm_advance(tcpw_assembler *a, uint32_t adv) {
    uint32_t more = 0;
    /* Shift every range down by adv; a range now starting at or before 0 joins the data. */
    uint8_t i = 0;
    while (i < a->n) {
        uint32_t s = a->start[i] > adv ? a->start[i] - adv : 0;
        uint32_t e = a->end[i] > adv ? a->end[i] - adv : 0;
        if (s == 0) {
            if (e > more) more = e;
            asm_remove(a, i);
            continue;
        }
        a->start[i] = s;
        a->end[i] = e;
        i++;
    }
    if (more) {
        /* Ranges that the newly contiguous bytes reach are contiguous too. */
        uint32_t extra = asm_advance(a, more);
        more += extra;
    }
    return more;
}
