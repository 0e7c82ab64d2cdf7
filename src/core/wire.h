/* wire.h — IPv4/IPv6 + TCP on the wire: parse, build, options and checksums.
 *
 * Shared by the engine, the simulator (to describe what crosses the link), the TUN driver and
 * the capture analyzer. Everything here is pure: no allocation, no I/O, no global state, and
 * no read outside the buffer it is given, whatever the buffer holds.
 */
#ifndef TCPW_WIRE_H
#define TCPW_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"

/* Parse errors: each malformed input has its own code (negative). tcpw_wire_strerror() names
 * it; the stack counts them in tcpw_stats.bad_packets[-code]. */
enum {
    TCPW_WIRE_OK = 0,
    TCPW_WIRE_EMPTY = -1,          /* zero-length buffer */
    TCPW_WIRE_BAD_VERSION = -2,    /* IP version neither 4 nor 6 */
    TCPW_WIRE_IP_TRUNCATED = -3,   /* buffer shorter than the IP header */
    TCPW_WIRE_BAD_IHL = -4,        /* IPv4 IHL below 5 or past the buffer */
    TCPW_WIRE_IP_LENGTH = -5,      /* IP total/payload length disagrees with the buffer */
    TCPW_WIRE_IP_CHECKSUM = -6,    /* IPv4 header checksum wrong */
    TCPW_WIRE_FRAGMENT = -7,       /* an IP fragment (MF set, offset != 0, IPv6 frag hdr) */
    TCPW_WIRE_NOT_TCP = -8,        /* protocol/next header is not TCP */
    TCPW_WIRE_EXT_HEADER = -9,     /* IPv6 extension header chain malformed */
    TCPW_WIRE_TCP_TRUNCATED = -10, /* fewer than 20 bytes of TCP header */
    TCPW_WIRE_BAD_DOFF = -11,      /* data offset below 5 */
    TCPW_WIRE_DOFF_PAST_END = -12, /* data offset points past the segment */
    TCPW_WIRE_OPT_LENGTH = -13,    /* option length 0 or 1 */
    TCPW_WIRE_OPT_PAST_END = -14,  /* option runs past the header */
    TCPW_WIRE_OPT_BAD_SIZE = -15,  /* known option with the wrong length (MSS != 4, ...) */
    TCPW_WIRE_TCP_CHECKSUM = -16,  /* TCP checksum wrong */
    TCPW_WIRE_BAD_ADDRESS = -17,   /* multicast/broadcast/unspecified source or dest */
    TCPW_WIRE_ERROR_COUNT = 18     /* one past the largest -code */
};
const char *tcpw_wire_strerror(int code);

/* Flags for tcpw_parse(). */
enum {
    TCPW_PARSE_NO_CHECKSUM = 1u << 0,   /* skip checksum verification (captures with offload) */
    TCPW_PARSE_ALLOW_TRAILER = 1u << 1, /* bytes after the IP length are padding, not an error
                                           (Ethernet minimum frame padding in captures) */
    TCPW_PARSE_PAYLOAD_SUM = 1u << 2,   /* the TCP checksum is left to the caller: hdr_sum holds
                                           the raw sum (csum.c) of the pseudo-header and the TCP
                                           header; the caller adds the payload's (while copying
                                           it, say) and checks it with tcpw_csum_verifies()
                                           before acting on the segment */
};

#define TCPW_MAX_SACK_BLOCKS 4

typedef struct tcpw_tcp_opts {
    bool has_mss, has_wscale, sack_permitted, has_ts;
    uint16_t mss;
    uint8_t wscale; /* as received; the caller clamps to 14 (RFC 7323 §2.3) */
    uint32_t tsval, tsecr;
    uint8_t sack_count;
    uint32_t sack[TCPW_MAX_SACK_BLOCKS][2]; /* left, right edges */
} tcpw_tcp_opts;

/* Network byte order (big-endian) read byte by byte: tcpw_parse() and the usual-segment reader
 * of tcpw_input() (stack.c) read fields the same way. */
static inline uint16_t tcpw_get16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t tcpw_get32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* RFC 9293 §3.10.7.1 and RFC 1122 §4.2.3.10: TCP ignores segments whose source or destination
 * is a broadcast or multicast address; RFC 1122 §3.2.1.3 (a): 0.0.0.0 names no host. v: an
 * IPv4 address as a number (tcpw_get32 of its bytes). */
static inline bool tcpw_ipv4_is_bad(uint32_t v) {
    return v == 0 ||                         /* 0.0.0.0 */
           v == 0xffffffffu ||               /* limited broadcast, RFC 919 */
           (v & 0xf0000000u) == 0xe0000000u; /* 224.0.0.0/4, RFC 5771 */
}

/* A parsed packet: a view into the caller's buffer. */
typedef struct tcpw_packet {
    uint8_t ip_version; /* 4 or 6 */
    uint8_t ttl;        /* TTL / hop limit */
    tcpw_endpoint src, dst;
    uint32_t seq, ack;
    uint8_t flags; /* TCPW_FIN ... TCPW_URG (the low 6 bits), plus ECE/CWR in bits 6,7 */
    uint16_t win;  /* raw window field, unscaled */
    uint16_t urp;
    tcpw_tcp_opts opts;
    const uint8_t *ip;  /* start of the IP header */
    size_t ip_len;      /* IP total length (without any trailer) */
    const uint8_t *tcp; /* start of the TCP header */
    size_t tcp_hdr_len; /* data offset * 4 */
    const uint8_t *payload;
    size_t payload_len;
    uint64_t hdr_sum; /* with TCPW_PARSE_PAYLOAD_SUM: see there */
} tcpw_packet;

/* Parse one IP packet carrying TCP. Returns TCPW_WIRE_OK or a TCPW_WIRE_* error. On error
 * *out may be partly filled (addresses are valid from TCPW_WIRE_NOT_TCP on). */
int tcpw_parse(const uint8_t *buf, size_t len, unsigned flags, tcpw_packet *out);

/* Parse TCP options alone (the bytes between the fixed header and the data). Unknown
 * options are skipped by their length. */
int tcpw_parse_options(const uint8_t *opt, size_t len, tcpw_tcp_opts *out);

/* A segment to build. Options are emitted in the order MSS, SACK-permitted, timestamps,
 * window scale, SACK blocks, padded with NOP to a multiple of 4 (Linux's order). */
typedef struct tcpw_segment_out {
    tcpw_endpoint src, dst; /* families must match */
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint16_t urp;
    uint8_t ttl; /* 0 means 64 */
    tcpw_tcp_opts opts;
} tcpw_segment_out;

/* Largest IP+TCP header tcpw_build_headers() can write (IPv6 40 + TCP 60). */
#define TCPW_MAX_HEADERS 100

/* Writes the IP and TCP headers for a segment with payload_len bytes of data into buf.
 * Returns the header length (where the payload goes), or 0 if it does not fit in cap or the
 * segment is invalid. Checksums are left for tcpw_finish_checksums(). */
size_t tcpw_build_headers(uint8_t *buf, size_t cap, const tcpw_segment_out *seg,
                          size_t payload_len);
/* Computes the IPv4 header checksum (v4) and the TCP checksum over the complete packet
 * pkt[0..len) as built by tcpw_build_headers() followed by the payload. */
void tcpw_finish_checksums(uint8_t *pkt, size_t len);
/* The same for a packet laid out by tcpw_build_headers() (checksum fields still zero) whose
 * hdr_len header bytes are followed by len - hdr_len payload bytes with the raw sum
 * payload_acc (tcpw_csum_acc_copy, taken while the payload was copied in): the headers are
 * summed, the payload is not read again. */
void tcpw_finish_checksums_acc(uint8_t *pkt, size_t hdr_len, size_t len, uint64_t payload_acc);

/* Internet checksum helpers (RFC 1071). tcpw_csum_add accumulates data into a 64-bit sum;
 * tcpw_csum_fold folds it to the 16-bit one's complement result (not inverted). */
uint64_t tcpw_csum_add(uint64_t sum, const void *data, size_t len);
uint16_t tcpw_csum_fold(uint64_t sum);

/* The raw accumulator (csum.c): one pass per packet. tcpw_csum_acc adds data (every piece but
 * the last of even length) to a host-order accumulator; tcpw_csum_acc_copy also copies it to
 * dst in the same pass; tcpw_csum_finish folds the accumulator once and returns the 16-bit
 * one's complement sum in network-numeric form (not inverted). tcpw_csum_num turns a number
 * of the pseudo-header (protocol, length) into the accumulator's form; tcpw_csum_odd turns
 * the sum of a piece that starts at an odd offset of the checksummed data into its place
 * (RFC 1071 §2 (B): the sum of byte-swapped words is the swapped sum). */
uint64_t tcpw_csum_acc(uint64_t acc, const void *data, size_t len);
uint64_t tcpw_csum_acc_copy(uint64_t acc, void *dst, const void *src, size_t len);
/* tcpw_csum_acc_copy without the AVX2 blocks it takes where the processor has them: the tests
 * check both paths on any machine. */
uint64_t tcpw_csum_acc_copy_narrow(uint64_t acc, void *dst, const void *src, size_t len);
static inline bool tcpw_csum_host_le(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}
/* tcpw_csum_acc_copy of a few bytes, inline: the payloads of interactive traffic (requests,
 * keystrokes) are copied and summed without a call. The same words in the same form: 16-bit
 * host-order words, an odd last byte padded with a zero on its right (RFC 9293 §3.1). */
static inline uint64_t tcpw_csum_acc_copy_short(uint64_t acc, uint8_t *dst, const uint8_t *src,
                                                size_t len) {
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 2 <= len; i += 2) {
        uint8_t w[2] = {src[i], src[i + 1]};
        dst[i] = w[0];
        dst[i + 1] = w[1];
        s += tcpw_csum_host_le() ? (uint32_t)(w[0] | w[1] << 8) : (uint32_t)(w[0] << 8 | w[1]);
    }
    if (i < len) {
        dst[i] = src[i];
        s += tcpw_csum_host_le() ? src[i] : (uint32_t)src[i] << 8;
    }
    acc += s;
    return acc + (acc < s);
}
static inline uint16_t tcpw_csum_finish(uint64_t acc) {
    /* RFC 1071 §2 (C): fold to 16 bits, end-around (zero stays zero, nothing else becomes it) */
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    /* RFC 1071 §2 (B): on a little-endian host the 16-bit sum is byte-swapped */
    if (tcpw_csum_host_le()) acc = (acc >> 8 | acc << 8) & 0xffffu;
    return (uint16_t)acc;
}
/* RFC 1071 §1: the receiver's check — the sum over everything, the checksum field included,
 * is all ones (in either byte order). */
static inline bool tcpw_csum_verifies(uint64_t acc) {
    /* folded as in tcpw_csum_finish; all ones needs no byte swap */
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    return acc == 0xffff;
}
static inline uint64_t tcpw_csum_num(uint32_t v) {
    /* modulo 0xffff a 16-bit swap is a multiplication by 2^8 */
    return tcpw_csum_host_le() ? (uint64_t)v << 8 : v;
}
/* tcpw_csum_num of a sum of numbers below 2^56 (no fold needed first). */
static inline uint64_t tcpw_csum_num_wide(uint64_t v) {
    return tcpw_csum_host_le() ? v << 8 : v;
}
static inline uint64_t tcpw_csum_odd(uint64_t acc) {
    return (acc << 8) | (acc >> 56); /* times 2^8 modulo 2^64 - 1, and so modulo 0xffff */
}

/* "FA" style flag letters in the order S F R P A U (the JSON trace convention); buf >= 9. */
const char *tcpw_flags_str(uint8_t flags, char *buf);

/* Address helpers. */
bool tcpw_addr_equal(const tcpw_addr *a, const tcpw_addr *b);
bool tcpw_endpoint_equal(const tcpw_endpoint *a, const tcpw_endpoint *b);
tcpw_addr tcpw_addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);

#endif
