/* csum.c — the Internet checksum (RFC 1071), fast and independent of the host's byte order.
 *
 * The checksum of IPv4 headers (RFC 791 §3.1) and of TCP segments (RFC 9293 §3.1) is the
 * 16-bit one's complement of the one's complement sum of the data read as big-endian 16-bit
 * words, an odd trailing byte padded on the right with a zero byte.
 *
 * Speed: RFC 1071 §2 (C) "parallel summation". With SSE2 (chosen at compile time; every
 * x86-64 has it) 16 bytes go per step: each 16-bit lane is made signed and PMADDWD adds
 * neighbouring lanes into 32-bit accumulators; with AVX2 (x86-64 with GCC or Clang, chosen at
 * run time for 128 bytes or more) 32 bytes per step the same way. Without it, 32-bit words go into
 * four independent 64-bit accumulators. Either way the words are loaded in host order (memcpy or
 * unaligned vector loads: any alignment is fine); RFC 1071 §2 (B) "byte order independence"
 * says the sum of byte-swapped words is the byte-swapped sum, so one swap at the very end
 * turns a little-endian host's result into the big-endian one.
 *
 * Two interfaces. The engine uses the raw accumulator (tcpw_csum_acc, tcpw_csum_acc_copy,
 * tcpw_csum_finish): one pass per packet and one fold at its end, the copy of the payload
 * fused with its sum. The public tcpw_csum_add keeps a value in network-numeric form between
 * calls (the plain sum of big-endian 16-bit words, with end-around carries), so a caller may
 * add numbers to it directly and gets the same result on any host; each call folds its part.
 * Every chunk but the last must have an even length, as with every checksum routine of this
 * kind: an odd chunk is padded with a zero byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/wire.h"

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

static inline uint32_t load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t load16(const uint8_t *p) {
    uint16_t v;
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

/* ---- the raw accumulator ---------------------------------------------------------------------
 *
 * Inside the engine a packet's checksum is one pass (tcpw_csum_acc / tcpw_csum_acc_copy over
 * each piece, tcpw_csum_finish once at the end): the accumulator is a plain 64-bit integer,
 * the sum of the data read as host-order words (RFC 1071 §2 (B): on a little-endian host the
 * 16-bit words are byte-swapped; the sum is swapped once, in tcpw_csum_finish). Only its value
 * modulo 0xffff matters (2^16 = 1 in one's complement arithmetic, so 2^32 and 2^64 are 1 too:
 * carries out of any power-of-16 bit position may be added back at the bottom, which
 * add_carry64 does when two accumulators meet). */

/* Up to 15 bytes, as 32-, 16- and 8-bit host-order words; an odd last byte keeps its place
 * in its 16-bit word and is padded with zero (RFC 9293 §3.1, "Checksum"). When dst is not
 * NULL the bytes are copied there as well. */
static inline uint64_t sum_tail(uint8_t *dst, const uint8_t *p, size_t len) {
    uint64_t s = 0;
    if (len >= 8) {
        if (dst) memcpy(dst, p, 8), dst += 8;
        s += (uint64_t)load32(p) + load32(p + 4);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        if (dst) memcpy(dst, p, 4), dst += 4;
        s += load32(p);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        if (dst) memcpy(dst, p, 2), dst += 2;
        s += load16(p);
        p += 2;
        len -= 2;
    }
    if (len) {
        uint8_t pad[2] = {p[0], 0};
        if (dst) dst[0] = p[0];
        s += load16(pad);
    }
    return s;
}

/* Bytes per call of sum_block: small enough that no lane of its accumulators can overflow. */
#define CSUM_BLOCK 65536u

#if defined(__SSE2__)
#include <emmintrin.h>

/* RFC 1071 §2 (C) "parallel summation" in SSE2: n bytes (a multiple of 16, at most
 * CSUM_BLOCK). Each 16-bit lane w becomes the signed number w - 0x8000 (flipping its top bit)
 * and PMADDWD adds neighbouring lanes into 32-bit lanes; the 0x8000 taken from each of the
 * n/2 words is added back at the end. */

/* One 16-byte step: v's eight 16-bit lanes, flipped to signed, summed pairwise. The 64-byte
 * rounds add four such steps as a tree, so only one addition per round carries over. */
#define SSE_PAIRS(v)    _mm_madd_epi16(_mm_xor_si128((v), flip), ones)
#define SSE_LOAD(p)     _mm_loadu_si128((const __m128i *)(const void *)(p))
#define SSE_STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define SSE_ROUND(acc, v0, v1, v2, v3)                                                             \
    (acc) = _mm_add_epi32((acc), _mm_add_epi32(_mm_add_epi32(SSE_PAIRS(v0), SSE_PAIRS(v1)),        \
                                               _mm_add_epi32(SSE_PAIRS(v2), SSE_PAIRS(v3))))

/* The lanes' total, with the 0x8000 taken from each of the n/2 words added back. Each 32-bit
 * lane holds at most n/16 pair sums of magnitude <= 2^16: below 2^28. */
static inline uint64_t sse_total(__m128i a, size_t n) {
    int32_t lane[4];
    SSE_STORE(lane, a);
    int64_t s = (int64_t)lane[0] + lane[1] + lane[2] + lane[3];
    return (uint64_t)(s + (int64_t)n * 0x4000);
}

static uint64_t sum_block(const uint8_t *p, size_t n) {
    const __m128i flip = _mm_set1_epi16(-32768), ones = _mm_set1_epi16(1);
    __m128i acc = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m128i v0 = SSE_LOAD(p + i), v1 = SSE_LOAD(p + i + 16);
        __m128i v2 = SSE_LOAD(p + i + 32), v3 = SSE_LOAD(p + i + 48);
        SSE_ROUND(acc, v0, v1, v2, v3);
        v0 = SSE_LOAD(p + i + 64), v1 = SSE_LOAD(p + i + 80);
        v2 = SSE_LOAD(p + i + 96), v3 = SSE_LOAD(p + i + 112);
        SSE_ROUND(acc, v0, v1, v2, v3);
    }
    for (; i < n; i += 16)
        acc = _mm_add_epi32(acc, SSE_PAIRS(SSE_LOAD(p + i)));
    return sse_total(acc, n);
}

/* sum_block that also stores the data at dst: the copy and the checksum are one pass. */
static uint64_t sum_block_copy(uint8_t *dst, const uint8_t *p, size_t n) {
    const __m128i flip = _mm_set1_epi16(-32768), ones = _mm_set1_epi16(1);
    __m128i acc = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m128i v0 = SSE_LOAD(p + i), v1 = SSE_LOAD(p + i + 16);
        __m128i v2 = SSE_LOAD(p + i + 32), v3 = SSE_LOAD(p + i + 48);
        SSE_STORE(dst + i, v0);
        SSE_STORE(dst + i + 16, v1);
        SSE_STORE(dst + i + 32, v2);
        SSE_STORE(dst + i + 48, v3);
        SSE_ROUND(acc, v0, v1, v2, v3);
        v0 = SSE_LOAD(p + i + 64), v1 = SSE_LOAD(p + i + 80);
        v2 = SSE_LOAD(p + i + 96), v3 = SSE_LOAD(p + i + 112);
        SSE_STORE(dst + i + 64, v0);
        SSE_STORE(dst + i + 80, v1);
        SSE_STORE(dst + i + 96, v2);
        SSE_STORE(dst + i + 112, v3);
        SSE_ROUND(acc, v0, v1, v2, v3);
    }
    for (; i < n; i += 16) {
        __m128i v = SSE_LOAD(p + i);
        SSE_STORE(dst + i, v);
        acc = _mm_add_epi32(acc, SSE_PAIRS(v));
    }
    return sse_total(acc, n);
}

/* The same with AVX2 where the processor has it (checked at run time: the build assumes SSE2
 * only): 32 bytes per step, half the instructions of SSE2 for the payloads of full segments.
 * Each 32-bit lane takes one pair sum (magnitude <= 2^16) per 32 bytes: below 2^27 for a
 * CSUM_BLOCK. The eight lanes are folded into four and sse_total adds them up as above. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CSUM_AVX2 1

#define AVX_PAIRS(v)    _mm256_madd_epi16(_mm256_xor_si256((v), flip), ones)
#define AVX_LOAD(p)     _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define AVX_STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define AVX_ROUND(acc, v0, v1, v2, v3)                                                             \
    (acc) =                                                                                        \
        _mm256_add_epi32((acc), _mm256_add_epi32(_mm256_add_epi32(AVX_PAIRS(v0), AVX_PAIRS(v1)),   \
                                                 _mm256_add_epi32(AVX_PAIRS(v2), AVX_PAIRS(v3))))

/* Below this many bytes the vector setup of AVX2 does not pay. */
#define CSUM_AVX2_MIN 128

/* Whether this processor runs AVX2 (the compiler's run-time check: a load and a test). */
static inline bool have_avx2(void) {
    return __builtin_cpu_supports("avx2");
}

/* sum_block_copy with 32-byte steps; dst NULL: sum only (n a multiple of 16, at most
 * CSUM_BLOCK). */
__attribute__((target("avx2"))) static inline uint64_t sum_block_avx2(uint8_t *dst,
                                                                      const uint8_t *p, size_t n) {
    const __m256i flip = _mm256_set1_epi16(-32768), ones = _mm256_set1_epi16(1);
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    if (dst) {
        for (; i + 128 <= n; i += 128) {
            __m256i v0 = AVX_LOAD(p + i), v1 = AVX_LOAD(p + i + 32);
            __m256i v2 = AVX_LOAD(p + i + 64), v3 = AVX_LOAD(p + i + 96);
            AVX_STORE(dst + i, v0);
            AVX_STORE(dst + i + 32, v1);
            AVX_STORE(dst + i + 64, v2);
            AVX_STORE(dst + i + 96, v3);
            AVX_ROUND(acc, v0, v1, v2, v3);
        }
        for (; i + 32 <= n; i += 32) {
            __m256i v = AVX_LOAD(p + i);
            AVX_STORE(dst + i, v);
            acc = _mm256_add_epi32(acc, AVX_PAIRS(v));
        }
    } else {
        for (; i + 128 <= n; i += 128) {
            __m256i v0 = AVX_LOAD(p + i), v1 = AVX_LOAD(p + i + 32);
            __m256i v2 = AVX_LOAD(p + i + 64), v3 = AVX_LOAD(p + i + 96);
            AVX_ROUND(acc, v0, v1, v2, v3);
        }
        for (; i + 32 <= n; i += 32)
            acc = _mm256_add_epi32(acc, AVX_PAIRS(AVX_LOAD(p + i)));
    }
    __m128i a = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (i < n) { /* a last 16 bytes */
        const __m128i flip16 = _mm_set1_epi16(-32768), ones16 = _mm_set1_epi16(1);
        __m128i v = SSE_LOAD(p + i);
        if (dst) SSE_STORE(dst + i, v);
        a = _mm_add_epi32(a, _mm_madd_epi16(_mm_xor_si128(v, flip16), ones16));
    }
    return sse_total(a, n);
}

/* The blocks of `len` bytes and the tail, as csum_blocks below but with AVX2's blocks (only
 * where have_avx2() said so), in one function: the payload of a full segment makes one call. */
__attribute__((target("avx2"))) static uint64_t csum_avx2(uint64_t acc, uint8_t *d,
                                                          const uint8_t *p, size_t len) {
    while (len >= 16) {
        size_t n = len < CSUM_BLOCK ? len & ~(size_t)15 : CSUM_BLOCK;
        acc = add_carry64(acc, sum_block_avx2(d, p, n));
        p += n;
        if (d) d += n;
        len -= n;
    }
    return len ? add_carry64(acc, sum_tail(d, p, len)) : acc;
}
#endif
#else
/* RFC 1071 §2 (C) in portable C: n bytes (a multiple of 16) as 32-bit words added into four
 * independent 64-bit accumulators, which no block can overflow. */
static uint64_t sum_block(const uint8_t *p, size_t n) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n; i += 16) {
        a0 += load32(p + i);
        a1 += load32(p + i + 4);
        a2 += load32(p + i + 8);
        a3 += load32(p + i + 12);
    }
    return a0 + a1 + a2 + a3;
}

static uint64_t sum_block_copy(uint8_t *dst, const uint8_t *p, size_t n) {
    memcpy(dst, p, n);
    return sum_block(dst, n);
}
#endif

/* Short data (headers, small segments) as 32-bit words: cheaper than setting up the vector
 * loop and adding up its lanes. */
#define CSUM_SHORT 64

static inline uint64_t sum_short(const uint8_t *p, size_t len) {
    uint64_t s = 0;
    for (; len >= 8; p += 8, len -= 8)
        s += (uint64_t)load32(p) + load32(p + 4);
    return s + sum_tail(NULL, p, len);
}

/* The blocks of `len` bytes (and the tail), copied to dst unless it is NULL. */
static inline uint64_t csum_blocks(uint64_t acc, uint8_t *d, const uint8_t *p, size_t len) {
    while (len >= 16) {
        size_t n = len < CSUM_BLOCK ? len & ~(size_t)15 : CSUM_BLOCK;
        acc = add_carry64(acc, d ? sum_block_copy(d, p, n) : sum_block(p, n));
        p += n;
        if (d) d += n;
        len -= n;
    }
    return len ? add_carry64(acc, sum_tail(d, p, len)) : acc;
}

uint64_t tcpw_csum_acc(uint64_t acc, const void *data, size_t len) {
    const uint8_t *p = data;
    if (len < CSUM_SHORT) return add_carry64(acc, sum_short(p, len));
#ifdef CSUM_AVX2
    if (len >= CSUM_AVX2_MIN && have_avx2()) return csum_avx2(acc, NULL, p, len);
#endif
    return csum_blocks(acc, NULL, p, len);
}

uint64_t tcpw_csum_acc_copy(uint64_t acc, void *dst, const void *src, size_t len) {
#ifdef CSUM_AVX2
    if (len >= CSUM_AVX2_MIN && have_avx2()) return csum_avx2(acc, dst, src, len);
#endif
    return csum_blocks(acc, dst, src, len);
}

uint64_t tcpw_csum_acc_copy_narrow(uint64_t acc, void *dst, const void *src, size_t len) {
    return csum_blocks(acc, dst, src, len);
}

/* The public helper keeps its contract: `sum` is in network-numeric form, so each call folds
 * and swaps its own part (the engine's own paths use the raw accumulator instead). */
uint64_t tcpw_csum_add(uint64_t sum, const void *data, size_t len) {
    if (len == 0) return sum;
    return add_carry64(sum, tcpw_csum_finish(tcpw_csum_acc(0, data, len)));
}

uint16_t tcpw_csum_fold(uint64_t sum) {
    return fold64(sum);
}
