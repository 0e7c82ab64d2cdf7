/* wire.c — IPv4/IPv6 + TCP on the wire: parse, build, TCP options and checksums.
 *
 * tcpw_parse() turns an IP packet into a tcpw_packet (a view into the caller's buffer) or
 * names exactly what is wrong with it; tcpw_build_headers() + tcpw_finish_checksums() write
 * the headers of an outgoing segment the way Linux lays them out. The rules come from RFC 791
 * (IPv4), RFC 8200 (IPv6), RFC 9293 §3.1/§3.2 (TCP header and options), RFC 7323 (window
 * scale, timestamps), RFC 2018 (SACK) and RFC 1071 (checksum, see csum.c).
 *
 * Safety: every read is preceded by a bounds check against the length the caller gave, every
 * multi-byte field is read and written byte by byte in network order (no alignment or host
 * byte-order assumptions), and nothing is allocated or kept between calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/wire.h"

/* ---- byte order: network order (big-endian) through bytes ------------------------------- */

static inline void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- protocol constants -------------------------------------------------------------------- */

#define IPV4_HDR_MIN    20 /* RFC 791 §3.1: IHL 5 */
#define IPV6_HDR_LEN    40 /* RFC 8200 §3 */
#define TCP_HDR_MIN     20 /* RFC 9293 §3.1: data offset 5 */
#define TCP_OPT_MAX     40 /* RFC 9293 §3.1: data offset at most 15 words */
#define IPPROTO_TCP_NUM 6

#define IPV4_FLAG_MF     0x2000 /* RFC 791 §3.1: More Fragments */
#define IPV4_FLAG_DF     0x4000 /* RFC 791 §3.1: Don't Fragment */
#define IPV4_FRAG_OFFSET 0x1fff

/* RFC 8200 §4 (and the IANA registry): extension headers walked by length. */
#define IPV6_NH_HOPOPTS  0
#define IPV6_NH_ROUTING  43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_NONE     59
#define IPV6_NH_DSTOPTS  60

/* RFC 9293 §3.2, RFC 7323 §2.2/§3.2, RFC 2018 §2/§3: option kinds and their lengths. */
#define OPT_EOL       0
#define OPT_NOP       1
#define OPT_MSS       2
#define OPT_WSCALE    3
#define OPT_SACK_PERM 4
#define OPT_SACK      5
#define OPT_TS        8

#define OPTLEN_MSS       4
#define OPTLEN_WSCALE    3
#define OPTLEN_SACK_PERM 2
#define OPTLEN_TS        10
#define OPTLEN_SACK_BASE 2
#define OPTLEN_SACK_BLK  8

/* ---- small helpers ------------------------------------------------------------------------- */

bool tcpw_addr_equal(const tcpw_addr *a, const tcpw_addr *b) {
    if (a->family != b->family) return false;
    if (a->family == 4) return memcmp(a->ip, b->ip, 4) == 0;
    if (a->family == 0) return true; /* "any" equals "any", whatever the unused bytes hold */
    return memcmp(a->ip, b->ip, 16) == 0;
}

bool tcpw_endpoint_equal(const tcpw_endpoint *a, const tcpw_endpoint *b) {
    return a->port == b->port && tcpw_addr_equal(&a->addr, &b->addr);
}

tcpw_addr tcpw_addr_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    tcpw_addr r;
    memset(&r, 0, sizeof r);
    r.family = 4;
    r.ip[0] = a;
    r.ip[1] = b;
    r.ip[2] = c;
    r.ip[3] = d;
    return r;
}

const char *tcpw_wire_strerror(int code) {
    switch (code) {
    case TCPW_WIRE_OK: return "ok";
    case TCPW_WIRE_EMPTY: return "empty packet";
    case TCPW_WIRE_BAD_VERSION: return "IP version neither 4 nor 6";
    case TCPW_WIRE_IP_TRUNCATED: return "truncated IP header";
    case TCPW_WIRE_BAD_IHL: return "IPv4 header length below 20 or past the packet";
    case TCPW_WIRE_IP_LENGTH: return "IP length disagrees with the packet size";
    case TCPW_WIRE_IP_CHECKSUM: return "bad IPv4 header checksum";
    case TCPW_WIRE_FRAGMENT: return "IP fragment";
    case TCPW_WIRE_NOT_TCP: return "not TCP";
    case TCPW_WIRE_EXT_HEADER: return "malformed IPv6 extension header chain";
    case TCPW_WIRE_TCP_TRUNCATED: return "truncated TCP header";
    case TCPW_WIRE_BAD_DOFF: return "TCP data offset below 5";
    case TCPW_WIRE_DOFF_PAST_END: return "TCP data offset past the segment";
    case TCPW_WIRE_OPT_LENGTH: return "TCP option length 0 or 1";
    case TCPW_WIRE_OPT_PAST_END: return "TCP option runs past the header";
    case TCPW_WIRE_OPT_BAD_SIZE: return "TCP option with the wrong length";
    case TCPW_WIRE_TCP_CHECKSUM: return "bad TCP checksum";
    case TCPW_WIRE_BAD_ADDRESS: return "multicast, broadcast or unspecified address";
    default: return "unknown wire error";
    }
}

const char *tcpw_flags_str(uint8_t flags, char *buf) {
    /* S F R P A U, then tcpdump's E (ECE, RFC 3168 §6.1) and W (CWR) for bits 6 and 7. */
    static const struct {
        uint8_t bit;
        char letter;
    } order[] = {
        {TCPW_SYN, 'S'}, {TCPW_FIN, 'F'}, {TCPW_RST, 'R'}, {TCPW_PSH, 'P'},
        {TCPW_ACK, 'A'}, {TCPW_URG, 'U'}, {0x40, 'E'},     {0x80, 'W'},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (flags & order[i].bit) buf[n++] = order[i].letter;
    buf[n] = '\0';
    return buf;
}

/* ---- checksums ----------------------------------------------------------------------------- */

/* The raw sum (csum.c) of a TCP segment's pseudo-header — RFC 9293 §3.1 for IPv4 (source,
 * destination, zero, PTCL, TCP length), RFC 8200 §8.1 for IPv6 (source, destination, 32-bit
 * upper-layer packet length, three zero bytes, next header) — and of the first sum_len bytes
 * of the segment at `tcp`, tcp_len bytes long in all. The addresses are taken straight from
 * the IP header at `ip`; when the TCP header follows them directly (no IPv4 options, no IPv6
 * extension headers) addresses and segment are summed in one pass. */
static uint64_t tcp_sum(const uint8_t *ip, int version, const uint8_t *tcp, size_t sum_len,
                        uint32_t tcp_len) {
    const uint8_t *addrs = ip + (version == 4 ? 12 : 8); /* RFC 791 §3.1, RFC 8200 §3 */
    size_t alen = version == 4 ? 8 : 32;
    /* the remaining pseudo-header words as numbers */
    uint64_t acc = tcpw_csum_num(IPPROTO_TCP_NUM + (tcp_len >> 16) + (tcp_len & 0xffffu));
    if (addrs + alen == tcp) return tcpw_csum_acc(acc, addrs, alen + sum_len);
    acc = tcpw_csum_acc(acc, addrs, alen);
    return tcpw_csum_acc(acc, tcp, sum_len);
}

/* RFC 1071 §1: the receiver's check — the sum over everything including the checksum field
 * is all ones. */
static bool sum_verifies(uint64_t acc) {
    /* fold as tcpw_csum_finish does; all ones is the same in either byte order */
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    return acc == 0xffff;
}

/* The raw sum of a 20-byte IPv4 header (no options): five 32-bit words, no call. */
static inline uint64_t ipv4_fixed_sum(const uint8_t *p) {
    uint32_t w[5];
    memcpy(w, p, sizeof w);
    return (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
}

/* The raw sum of a TCP header of n bytes (20 to 60, a multiple of 4) as 32-bit words: the
 * fixed 20 bytes at once, the options a word at a time. */
static inline uint64_t header_words_sum(const uint8_t *p, size_t n) {
    uint64_t s = ipv4_fixed_sum(p);
    if (n == TCP_HDR_MIN + 12) { /* NOP NOP TS, nearly every segment */
        uint32_t w[3];
        memcpy(w, p + TCP_HDR_MIN, sizeof w);
        return s + w[0] + w[1] + w[2];
    }
    for (size_t i = TCP_HDR_MIN; i < n; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        s += w;
    }
    return s;
}

/* ---- TCP options (RFC 9293 §3.2) ------------------------------------------------------------- */

int tcpw_parse_options(const uint8_t *opt, size_t len, tcpw_tcp_opts *out) {
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len) {
        uint8_t kind = opt[i];
        /* RFC 9293 §3.2: End of Option List ends the options; the rest is padding. */
        if (kind == OPT_EOL) break;
        /* RFC 9293 §3.2: No-Operation is one byte, used for alignment. */
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 §3.2: every other option is kind, length (counting both), data. A length
         * byte that is missing or runs past the header is malformed; so is a length below 2,
         * which would not even cover kind and length (and 0 would loop forever). */
        if (len - i < 2) return TCPW_WIRE_OPT_PAST_END;
        size_t olen = opt[i + 1];
        if (olen < 2) return TCPW_WIRE_OPT_LENGTH;
        if (olen > len - i) return TCPW_WIRE_OPT_PAST_END;
        const uint8_t *d = opt + i + 2;

        switch (kind) {
        case OPT_MSS: /* RFC 9293 §3.2 / §3.7.1: Maximum Segment Size, length 4 */
            if (olen != OPTLEN_MSS) return TCPW_WIRE_OPT_BAD_SIZE;
            out->has_mss = true;
            out->mss = tcpw_get16(d);
            break;
        case OPT_WSCALE: /* RFC 7323 §2.2: Window Scale, length 3 (clamping is the caller's) */
            if (olen != OPTLEN_WSCALE) return TCPW_WIRE_OPT_BAD_SIZE;
            out->has_wscale = true;
            out->wscale = d[0];
            break;
        case OPT_SACK_PERM: /* RFC 2018 §2: SACK-Permitted, length 2 */
            if (olen != OPTLEN_SACK_PERM) return TCPW_WIRE_OPT_BAD_SIZE;
            out->sack_permitted = true;
            break;
        case OPT_SACK: { /* RFC 2018 §3: SACK, length 8*n+2 with n blocks (1 <= n <= 4) */
            size_t body = olen - OPTLEN_SACK_BASE;
            size_t n = body / OPTLEN_SACK_BLK;
            if (body % OPTLEN_SACK_BLK != 0 || n == 0 || n > TCPW_MAX_SACK_BLOCKS)
                return TCPW_WIRE_OPT_BAD_SIZE;
            out->sack_count = (uint8_t)n;
            for (size_t b = 0; b < n; b++) {
                out->sack[b][0] = tcpw_get32(d + b * OPTLEN_SACK_BLK);     /* left edge */
                out->sack[b][1] = tcpw_get32(d + b * OPTLEN_SACK_BLK + 4); /* right edge */
            }
            break;
        }
        case OPT_TS: /* RFC 7323 §3.2: Timestamps, length 10: TSval, TSecr */
            if (olen != OPTLEN_TS) return TCPW_WIRE_OPT_BAD_SIZE;
            out->has_ts = true;
            out->tsval = tcpw_get32(d);
            out->tsecr = tcpw_get32(d + 4);
            break;
        default: /* RFC 9293 §3.2 / RFC 1122 §4.2.2.5: ignore unknown options by length */ break;
        }
        i += olen;
    }
    return TCPW_WIRE_OK;
}

/* The layouts nearly every segment has, recognized whole before the general walk: none; RFC
 * 7323 Appendix A's NOP NOP TS (every segment of a connection with timestamps); and the SYN
 * layouts of Linux and tcpwave (MSS | SACK-permitted TS | NOP WS, MSS | NOP NOP TS | NOP WS,
 * and MSS | NOP WS without timestamps, RFC 9293 §3.7.1, RFC 2018 §2, RFC 7323 §2.2/§3.2).
 * Anything else, or any
 * byte that differs, takes tcpw_parse_options(); the result is the same either way. out is
 * zeroed already (tcpw_parse). */
static int parse_options_fast(const uint8_t *o, size_t len, tcpw_tcp_opts *out) {
    switch (len) {
    case 0: return TCPW_WIRE_OK;
    case 12:
        if (tcpw_get32(o) != 0x0101080au) break;
        out->has_ts = true;
        out->tsval = tcpw_get32(o + 4);
        out->tsecr = tcpw_get32(o + 8);
        return TCPW_WIRE_OK;
    case 8:
        if (tcpw_get16(o) != 0x0204u || tcpw_get32(o + 4) >> 8 != 0x010303u) break;
        out->has_mss = true;
        out->mss = tcpw_get16(o + 2);
        out->has_wscale = true;
        out->wscale = o[7];
        return TCPW_WIRE_OK;
    case 20:
        if (tcpw_get16(o) != 0x0204u || tcpw_get32(o + 16) >> 8 != 0x010303u) break;
        if (tcpw_get32(o + 4) == 0x0402080au)
            out->sack_permitted = true;
        else if (tcpw_get32(o + 4) != 0x0101080au)
            break;
        out->has_mss = true;
        out->mss = tcpw_get16(o + 2);
        out->has_ts = true;
        out->tsval = tcpw_get32(o + 8);
        out->tsecr = tcpw_get32(o + 12);
        out->has_wscale = true;
        out->wscale = o[19];
        return TCPW_WIRE_OK;
    default: break;
    }
    return tcpw_parse_options(o, len, out);
}

/* ---- IP layer ------------------------------------------------------------------------------ */

/* Where the IP layer's work ends: the TCP segment's offset and the IP packet's length. */
typedef struct ip_layer {
    size_t tcp_off; /* start of the TCP header */
    size_t ip_len;  /* IP total length, trailer excluded */
} ip_layer;

/* RFC 791 §3.1: the IPv4 header. */
static int parse_ipv4(const uint8_t *buf, size_t len, unsigned flags, tcpw_packet *out,
                      ip_layer *l) {
    if (len < IPV4_HDR_MIN) return TCPW_WIRE_IP_TRUNCATED;

    /* The fixed header is in the buffer: addresses and TTL can be reported from here on. */
    out->ttl = buf[8];
    out->src.addr.family = 4;
    memcpy(out->src.addr.ip, buf + 12, 4);
    out->dst.addr.family = 4;
    memcpy(out->dst.addr.ip, buf + 16, 4);

    /* RFC 791 §3.1 "IHL": header length in 32-bit words, at least 5; options (IHL > 5) are
     * allowed and skipped. */
    size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
    if (ihl < IPV4_HDR_MIN || ihl > len) return TCPW_WIRE_BAD_IHL;

    /* RFC 791 §3.1 "Total Length": header plus data. It must cover the header and match the
     * buffer, unless the caller allows a trailer (link-layer padding) after it. */
    size_t total = tcpw_get16(buf + 2);
    if (total < ihl) return TCPW_WIRE_IP_LENGTH;
    if ((flags & TCPW_PARSE_ALLOW_TRAILER) ? total > len : total != len) return TCPW_WIRE_IP_LENGTH;

    /* RFC 791 §3.1 "Header Checksum" (computed as in RFC 1071) over the header only. */
    if (!(flags & TCPW_PARSE_NO_CHECKSUM) &&
        !sum_verifies(ihl == IPV4_HDR_MIN ? ipv4_fixed_sum(buf) : tcpw_csum_acc(0, buf, ihl)))
        return TCPW_WIRE_IP_CHECKSUM;

    /* RFC 791 §3.1 "Flags"/"Fragment Offset": a fragment (MF set or a non-zero offset) is
     * not a whole segment; tcpwave does no reassembly. Checked before the protocol, since
     * a non-first fragment's protocol says nothing about its bytes. */
    uint16_t frag = tcpw_get16(buf + 6);
    if ((frag & IPV4_FLAG_MF) || (frag & IPV4_FRAG_OFFSET)) return TCPW_WIRE_FRAGMENT;

    /* RFC 791 §3.1 "Protocol": 6 is TCP (RFC 9293 §3.1). */
    if (buf[9] != IPPROTO_TCP_NUM) return TCPW_WIRE_NOT_TCP;

    l->tcp_off = ihl;
    l->ip_len = total;
    return TCPW_WIRE_OK;
}

/* RFC 8200 §4: walks the extension headers from next-header `nh` at offset `off` up to `end`
 * and finds the TCP header. */
static int walk_ipv6_ext(const uint8_t *buf, size_t end, uint8_t nh, size_t *off) {
    size_t o = *off;
    bool first = true;
    for (;;) {
        /* RFC 8200 §4.1: Hop-by-Hop Options may only come right after the IPv6 header. */
        if (nh == IPV6_NH_HOPOPTS && !first) return TCPW_WIRE_EXT_HEADER;
        switch (nh) {
        case IPPROTO_TCP_NUM: *off = o; return TCPW_WIRE_OK;
        case IPV6_NH_HOPOPTS: /* RFC 8200 §4.3 */
        case IPV6_NH_ROUTING: /* RFC 8200 §4.4 */
        case IPV6_NH_DSTOPTS: /* RFC 8200 §4.6 */ {
            /* RFC 8200 §4.3/§4.4/§4.6: Next Header (1 byte), Hdr Ext Len in 8-octet units not
             * counting the first 8 octets. A header that does not fit is malformed. */
            if (end - o < 2) return TCPW_WIRE_EXT_HEADER;
            size_t hlen = ((size_t)buf[o + 1] + 1) * 8;
            if (hlen > end - o) return TCPW_WIRE_EXT_HEADER;
            nh = buf[o];
            o += hlen;
            break;
        }
        case IPV6_NH_FRAGMENT: /* RFC 8200 §4.5: a fragment; tcpwave does no reassembly */
            return TCPW_WIRE_FRAGMENT;
        case IPV6_NH_NONE: /* RFC 8200 §4.7: No Next Header — nothing follows */
        default:           /* another upper layer, or a header not walked (AH, ESP, ...) */
            return TCPW_WIRE_NOT_TCP;
        }
        first = false;
    }
}

/* RFC 8200 §3: the IPv6 header. */
static int parse_ipv6(const uint8_t *buf, size_t len, unsigned flags, tcpw_packet *out,
                      ip_layer *l) {
    if (len < IPV6_HDR_LEN) return TCPW_WIRE_IP_TRUNCATED;

    out->ttl = buf[7]; /* RFC 8200 §3 "Hop Limit" */
    out->src.addr.family = 6;
    memcpy(out->src.addr.ip, buf + 8, 16);
    out->dst.addr.family = 6;
    memcpy(out->dst.addr.ip, buf + 24, 16);

    /* RFC 8200 §3 "Payload Length": everything after the 40-byte header, extension headers
     * included. (Jumbograms, RFC 2675, are not supported.) */
    size_t total = (size_t)tcpw_get16(buf + 4) + IPV6_HDR_LEN;
    if ((flags & TCPW_PARSE_ALLOW_TRAILER) ? total > len : total != len) return TCPW_WIRE_IP_LENGTH;

    size_t off = IPV6_HDR_LEN;
    int rc = walk_ipv6_ext(buf, total, buf[6], &off);
    if (rc != TCPW_WIRE_OK) return rc;

    l->tcp_off = off;
    l->ip_len = total;
    return TCPW_WIRE_OK;
}

/* RFC 9293 §3.10.7.1 and RFC 1122 §4.2.3.10: TCP ignores segments whose source or
 * destination is a broadcast or multicast address; RFC 1122 §3.2.1.3 (a) and RFC 4291
 * §2.5.2: the unspecified address (0.0.0.0, ::) names no host. */
static inline bool address_is_bad(const tcpw_addr *a) {
    static const uint8_t zero[16];
    if (a->family == 4) return tcpw_ipv4_is_bad(tcpw_get32(a->ip));
    if (memcmp(a->ip, zero, 16) == 0) return true; /* :: */
    return a->ip[0] == 0xff;                       /* ff00::/8, RFC 4291 §2.7 */
}

/* ---- parse ---------------------------------------------------------------------------------- */

int tcpw_parse(const uint8_t *buf, size_t len, unsigned flags, tcpw_packet *out) {
    memset(out, 0, sizeof *out);
    if (buf == NULL || len == 0) return TCPW_WIRE_EMPTY;

    /* RFC 791 §3.1 / RFC 8200 §3: the version is the first nibble either way. */
    ip_layer l = {0, 0};
    int rc;
    out->ip_version = (uint8_t)(buf[0] >> 4);
    out->ip = buf;
    if (out->ip_version == 4) {
        rc = parse_ipv4(buf, len, flags, out, &l);
    } else if (out->ip_version == 6) {
        rc = parse_ipv6(buf, len, flags, out, &l);
    } else {
        return TCPW_WIRE_BAD_VERSION;
    }
    if (rc != TCPW_WIRE_OK) return rc;
    out->ip_len = l.ip_len;

    /* RFC 9293 §3.1: the fixed TCP header is 20 bytes. */
    const uint8_t *tcp = buf + l.tcp_off;
    size_t tcp_len = l.ip_len - l.tcp_off;
    out->tcp = tcp;
    if (tcp_len < TCP_HDR_MIN) return TCPW_WIRE_TCP_TRUNCATED;

    /* RFC 9293 §3.1: ports, sequence and acknowledgment numbers. */
    out->src.port = tcpw_get16(tcp);
    out->dst.port = tcpw_get16(tcp + 2);
    out->seq = tcpw_get32(tcp + 4);
    out->ack = tcpw_get32(tcp + 8);
    /* RFC 9293 §3.1 "Control Bits": CWR ECE URG ACK PSH RST SYN FIN, high bit first. */
    out->flags = tcp[13];
    out->win = tcpw_get16(tcp + 14);
    out->urp = tcpw_get16(tcp + 18);

    /* RFC 9293 §3.1 "Data Offset": header length in 32-bit words, at least 5, and the header
     * must lie within the segment. */
    size_t doff = (size_t)(tcp[12] >> 4) * 4;
    if (doff < TCP_HDR_MIN) return TCPW_WIRE_BAD_DOFF;
    if (doff > tcp_len) return TCPW_WIRE_DOFF_PAST_END;
    out->tcp_hdr_len = doff;
    out->payload = tcp + doff;
    out->payload_len = tcp_len - doff;

    /* RFC 9293 §3.2: the options between the fixed header and the data. */
    rc = parse_options_fast(tcp + TCP_HDR_MIN, doff - TCP_HDR_MIN, &out->opts);
    if (rc != TCPW_WIRE_OK) return rc;

    /* RFC 9293 §3.1 "Checksum": over the pseudo-header (§3.1 for IPv4, RFC 8200 §8.1 for
     * IPv6), the TCP header and the data. */
    if ((flags & TCPW_PARSE_PAYLOAD_SUM) && out->ip_version == 4 && l.tcp_off == IPV4_HDR_MIN) {
        /* the usual IPv4 segment: pseudo-header and TCP header as words, without a call */
        uint32_t addrs[2];
        memcpy(addrs, buf + 12, sizeof addrs);
        out->hdr_sum = tcpw_csum_num(IPPROTO_TCP_NUM + (uint32_t)tcp_len) + addrs[0] + addrs[1] +
                       header_words_sum(tcp, doff);
    } else if (flags & TCPW_PARSE_PAYLOAD_SUM) {
        out->hdr_sum = tcp_sum(buf, out->ip_version, tcp, doff, (uint32_t)tcp_len);
    } else if (!(flags & TCPW_PARSE_NO_CHECKSUM)) {
        uint64_t sum = tcp_sum(buf, out->ip_version, tcp, tcp_len, (uint32_t)tcp_len);
        if (!sum_verifies(sum)) return TCPW_WIRE_TCP_CHECKSUM;
    }

    /* RFC 9293 §3.10.7.1 / RFC 1122 §4.2.3.10: a well-formed segment from or to an address
     * no connection can have is still dropped. Decided last, so that the caller sees every
     * field of the segment it drops. */
    if (address_is_bad(&out->src.addr) || address_is_bad(&out->dst.addr))
        return TCPW_WIRE_BAD_ADDRESS;
    return TCPW_WIRE_OK;
}

/* ---- build ---------------------------------------------------------------------------------- */

/* The option words of a segment in Linux's layout (tcp_options_write() in
 * net/ipv4/tcp_output.c): every option starts its own 32-bit word, NOP-padded in front.
 *   MSS                       02 04 mm mm
 *   SACK-permitted + TS       04 02 08 0a  tsval  tsecr      (both present)
 *   TS alone                  01 01 08 0a  tsval  tsecr
 *   SACK-permitted alone      01 01 04 02
 *   window scale              01 03 03 ss
 *   SACK (n blocks)           01 01 05 (2+8n)  left right ...
 * So a SYN with all four is MSS | SACK-perm+TS | NOP+WS, 20 bytes, and an ACK with
 * timestamps is NOP NOP TS, 12 bytes. SACK blocks that would push the options past 40 bytes
 * are left out from the last one back, as Linux does (RFC 2018 §4: the first block is the
 * most recent, so it is the one kept). Returns the options' length. */
static size_t sack_blocks_that_fit(const tcpw_tcp_opts *o, size_t used) {
    size_t n = o->sack_count;
    if (n == 0 || used + 4 + OPTLEN_SACK_BLK > TCP_OPT_MAX) return 0;
    size_t room = (TCP_OPT_MAX - used - 4) / OPTLEN_SACK_BLK;
    return n < room ? n : room;
}

static size_t options_len(const tcpw_tcp_opts *o) {
    size_t n = 0;
    if (o->has_mss) n += 4;
    if (o->has_ts)
        n += 12; /* SACK-permitted rides in the timestamp word's padding */
    else if (o->sack_permitted)
        n += 4;
    if (o->has_wscale) n += 4;
    size_t blocks = sack_blocks_that_fit(o, n);
    if (blocks) n += 4 + blocks * OPTLEN_SACK_BLK;
    return n;
}

static void write_options(uint8_t *p, const tcpw_tcp_opts *o) {
    size_t used = 0;
    /* RFC 9293 §3.2 / §3.7.1: MSS. */
    if (o->has_mss) {
        p[0] = OPT_MSS;
        p[1] = OPTLEN_MSS;
        put16(p + 2, o->mss);
        p += 4;
        used += 4;
    }
    /* RFC 7323 §3.2: timestamps, with RFC 2018 §2 SACK-permitted in place of the two NOPs. */
    if (o->has_ts) {
        if (o->sack_permitted) {
            p[0] = OPT_SACK_PERM;
            p[1] = OPTLEN_SACK_PERM;
        } else {
            p[0] = OPT_NOP;
            p[1] = OPT_NOP;
        }
        p[2] = OPT_TS;
        p[3] = OPTLEN_TS;
        put32(p + 4, o->tsval);
        put32(p + 8, o->tsecr);
        p += 12;
        used += 12;
    } else if (o->sack_permitted) { /* RFC 2018 §2 */
        p[0] = OPT_NOP;
        p[1] = OPT_NOP;
        p[2] = OPT_SACK_PERM;
        p[3] = OPTLEN_SACK_PERM;
        p += 4;
        used += 4;
    }
    /* RFC 7323 §2.2: window scale. */
    if (o->has_wscale) {
        p[0] = OPT_NOP;
        p[1] = OPT_WSCALE;
        p[2] = OPTLEN_WSCALE;
        p[3] = o->wscale;
        p += 4;
        used += 4;
    }
    /* RFC 2018 §3: SACK blocks. */
    size_t blocks = sack_blocks_that_fit(o, used);
    if (blocks) {
        p[0] = OPT_NOP;
        p[1] = OPT_NOP;
        p[2] = OPT_SACK;
        p[3] = (uint8_t)(OPTLEN_SACK_BASE + blocks * OPTLEN_SACK_BLK);
        p += 4;
        for (size_t b = 0; b < blocks; b++) {
            put32(p, o->sack[b][0]);
            put32(p + 4, o->sack[b][1]);
            p += 8;
        }
    }
}

size_t tcpw_build_headers(uint8_t *buf, size_t cap, const tcpw_segment_out *seg,
                          size_t payload_len) {
    if (buf == NULL || seg == NULL) return 0;
    uint8_t family = seg->src.addr.family;
    if (family != seg->dst.addr.family || (family != 4 && family != 6)) return 0;
    if (seg->opts.sack_count > TCPW_MAX_SACK_BLOCKS) return 0;

    size_t opt_len = options_len(&seg->opts);
    size_t tcp_hdr = TCP_HDR_MIN + opt_len; /* a multiple of 4, at most 60 */
    size_t ip_hdr = family == 4 ? IPV4_HDR_MIN : IPV6_HDR_LEN;
    size_t hdr = ip_hdr + tcp_hdr;
    if (hdr > cap) return 0;
    /* RFC 791 §3.1 Total Length / RFC 8200 §3 Payload Length are 16-bit fields. */
    size_t ip_field = family == 4 ? hdr : tcp_hdr;
    if (payload_len > 0xffffu || ip_field + payload_len > 0xffffu) return 0;
    uint8_t ttl = seg->ttl ? seg->ttl : 64;

    uint8_t *ip = buf;
    if (family == 4) {
        /* RFC 791 §3.1: version 4, IHL 5, no TOS, total length, identification 0 (an
         * atomic datagram, RFC 6864 §4.1), DF set, TTL, protocol TCP, checksum later. */
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, (uint16_t)(hdr + payload_len));
        put16(ip + 4, 0);
        put16(ip + 6, IPV4_FLAG_DF);
        ip[8] = ttl;
        ip[9] = IPPROTO_TCP_NUM;
        put16(ip + 10, 0);
        memcpy(ip + 12, seg->src.addr.ip, 4);
        memcpy(ip + 16, seg->dst.addr.ip, 4);
    } else {
        /* RFC 8200 §3: version 6, traffic class and flow label 0, payload length, next
         * header TCP, hop limit. */
        ip[0] = 0x60;
        ip[1] = ip[2] = ip[3] = 0;
        put16(ip + 4, (uint16_t)(tcp_hdr + payload_len));
        ip[6] = IPPROTO_TCP_NUM;
        ip[7] = ttl;
        memcpy(ip + 8, seg->src.addr.ip, 16);
        memcpy(ip + 24, seg->dst.addr.ip, 16);
    }

    /* RFC 9293 §3.1: the TCP header. */
    uint8_t *tcp = buf + ip_hdr;
    put16(tcp, seg->src.port);
    put16(tcp + 2, seg->dst.port);
    put32(tcp + 4, seg->seq);
    put32(tcp + 8, seg->ack);
    tcp[12] = (uint8_t)((tcp_hdr / 4) << 4); /* data offset, reserved bits zero */
    tcp[13] = seg->flags;
    put16(tcp + 14, seg->win);
    put16(tcp + 16, 0); /* checksum: tcpw_finish_checksums() */
    put16(tcp + 18, seg->urp);
    write_options(tcp + TCP_HDR_MIN, &seg->opts);
    return hdr;
}

void tcpw_finish_checksums(uint8_t *pkt, size_t len) {
    if (pkt == NULL || len == 0) return;
    int version = pkt[0] >> 4;
    size_t tcp_off;

    if (version == 4) {
        if (len < IPV4_HDR_MIN) return;
        size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
        if (ihl < IPV4_HDR_MIN || ihl > len) return;
        /* RFC 791 §3.1: the header checksum, computed with the field zero. */
        put16(pkt + 10, 0);
        put16(pkt + 10, (uint16_t)~tcpw_csum_finish(tcpw_csum_acc(0, pkt, ihl)));
        if (pkt[9] != IPPROTO_TCP_NUM) return;
        tcp_off = ihl;
    } else if (version == 6) {
        if (len < IPV6_HDR_LEN) return;
        tcp_off = IPV6_HDR_LEN;
        if (walk_ipv6_ext(pkt, len, pkt[6], &tcp_off) != TCPW_WIRE_OK) return;
    } else {
        return;
    }

    /* RFC 9293 §3.1: the TCP checksum over pseudo-header, header and data, computed with the
     * checksum field zero. */
    size_t tcp_len = len - tcp_off;
    if (tcp_len < TCP_HDR_MIN || (uint64_t)tcp_len > 0xffffffffu) return;
    uint8_t *tcp = pkt + tcp_off;
    put16(tcp + 16, 0);
    uint64_t sum = tcp_sum(pkt, version, tcp, tcp_len, (uint32_t)tcp_len);
    put16(tcp + 16, (uint16_t)~tcpw_csum_finish(sum));
}

void tcpw_finish_checksums_acc(uint8_t *pkt, size_t hdr_len, size_t len, uint64_t payload_acc) {
    int version = pkt[0] >> 4;
    size_t tcp_off = version == 4 ? IPV4_HDR_MIN : IPV6_HDR_LEN;
    uint8_t *tcp = pkt + tcp_off;
    /* RFC 791 §3.1: the IPv4 header checksum, computed with the field zero. */
    if (version == 4) put16(pkt + 10, (uint16_t)~tcpw_csum_finish(tcpw_csum_acc(0, pkt, tcp_off)));
    /* RFC 9293 §3.1: pseudo-header and TCP header in one pass (the checksum field is zero),
     * then the payload's sum the caller took while copying it in. */
    uint64_t sum = tcp_sum(pkt, version, tcp, hdr_len - tcp_off, (uint32_t)(len - tcp_off));
    sum += payload_acc;
    sum += sum < payload_acc;
    put16(tcp + 16, (uint16_t)~tcpw_csum_finish(sum));
}
