/* test_wire.c — unit tests of the wire module (src/core/wire.c, csum.c): checksums against
 * known answers and a naive RFC 1071 reference, build/parse round trips of every option
 * combination over IPv4 and IPv6, every parse error code provoked exactly, a truncation
 * sweep and a seeded random-mutation fuzz loop (run under ASan+UBSan to catch any read
 * outside the buffer: every parsed buffer is a malloc of exactly the packet's length).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "test.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* xorshift64*: a small deterministic generator, so that every run is replayable. */
static uint64_t rng_state;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static uint32_t rng_below(uint32_t n) {
    return (uint32_t)(rng_next() % n);
}

static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}
static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* RFC 1071 by the book: big-endian 16-bit words, an odd last byte padded with zero. */
static uint16_t naive_sum(const uint8_t *p, size_t len) {
    uint64_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint64_t)((p[i] << 8) | p[i + 1]);
    if (len & 1) s += (uint64_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* Parses a copy of pkt[0..len) in a heap block of exactly len bytes, so that ASan reports
 * any read past the end. */
static int parse_exact(const uint8_t *pkt, size_t len, unsigned flags, tcpw_packet *out) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, pkt, len);
    int rc = tcpw_parse(copy, len, flags, out);
    /* The view points into `copy`: move it onto pkt before freeing. */
    if (out->ip) out->ip = pkt + (out->ip - copy);
    if (out->tcp) out->tcp = pkt + (out->tcp - copy);
    if (out->payload) out->payload = pkt + (out->payload - copy);
    free(copy);
    return rc;
}

static tcpw_endpoint ep4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    tcpw_endpoint e;
    memset(&e, 0, sizeof e);
    e.addr = tcpw_addr_v4(a, b, c, d);
    e.port = port;
    return e;
}

static tcpw_endpoint ep6(uint8_t last, uint16_t port) {
    tcpw_endpoint e;
    memset(&e, 0, sizeof e);
    e.addr.family = 6;
    e.addr.ip[0] = 0xfd;
    e.addr.ip[15] = last;
    e.port = port;
    return e;
}

static tcpw_segment_out base_seg(int version) {
    tcpw_segment_out s;
    memset(&s, 0, sizeof s);
    if (version == 4) {
        s.src = ep4(10, 0, 0, 1, 45678);
        s.dst = ep4(10, 0, 0, 2, 80);
    } else {
        s.src = ep6(1, 45678);
        s.dst = ep6(2, 80);
    }
    s.seq = 0x6b8b4567;
    s.ack = 0x327b23c7;
    s.flags = TCPW_ACK | TCPW_PSH;
    s.win = 502;
    return s;
}

/* Builds seg + payload into out (>= TCPW_MAX_HEADERS + plen) with checksums; returns the
 * packet length or 0. */
static size_t build_packet(const tcpw_segment_out *seg, const uint8_t *payload, size_t plen,
                           uint8_t *out, size_t cap) {
    size_t h = tcpw_build_headers(out, cap, seg, plen);
    if (h == 0 || h + plen > cap) return 0;
    if (plen) memcpy(out + h, payload, plen);
    tcpw_finish_checksums(out, h + plen);
    return h + plen;
}

/* A packet whose TCP options are the raw bytes opt[0..olen) (olen a multiple of 4, <= 40),
 * followed by plen bytes of payload, with correct lengths and checksums. */
static size_t raw_opts_packet(int version, const uint8_t *opt, size_t olen, size_t plen,
                              uint8_t *out, size_t cap) {
    tcpw_segment_out s = base_seg(version);
    size_t h = tcpw_build_headers(out, cap, &s, olen + plen);
    if (h == 0 || h + olen + plen > cap) return 0;
    memcpy(out + h, opt, olen);
    for (size_t i = 0; i < plen; i++)
        out[h + olen + i] = (uint8_t)('a' + i % 26);
    out[h - 20 + 12] = (uint8_t)(((20 + olen) / 4) << 4);
    tcpw_finish_checksums(out, h + olen + plen);
    return h + olen + plen;
}

/* ---- known answers --------------------------------------------------------------------------- */

/* A SYN from 10.0.0.1:45678 to 10.0.0.2:80 laid out as Linux sends it (MSS 1460, SACK_PERM,
 * TSval, NOP, WS 7). Its checksums were computed independently (Python) and confirmed good
 * by tshark's checksum validation (ip.checksum.status and tcp.checksum.status both "Good"). */
static const uint8_t kSyn4[60] = {
    0x45, 0x00, 0x00, 0x3c, 0x3f, 0x21, 0x40, 0x00, 0x40, 0x06, 0xe7, 0x98, 0x0a, 0x00, 0x00,
    0x01, 0x0a, 0x00, 0x00, 0x02, 0xb2, 0x6e, 0x00, 0x50, 0x6b, 0x8b, 0x45, 0x67, 0x00, 0x00,
    0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0xff, 0x10, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
    0x02, 0x08, 0x0a, 0x9c, 0x1f, 0x3a, 0x2b, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};

/* The SYN-ACK over IPv6, fd00::2:80 -> fd00::1:45678, MSS 65476 (validated the same way). */
static const uint8_t kSynAck6[80] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x50, 0xb2, 0x6e, 0x32, 0x7b, 0x23, 0xc6,
    0x6b, 0x8b, 0x45, 0x68, 0xa0, 0x12, 0xfe, 0x88, 0x80, 0xad, 0x00, 0x00, 0x02, 0x04, 0xff, 0xc4,
    0x04, 0x02, 0x08, 0x0a, 0x11, 0x22, 0x33, 0x44, 0x9c, 0x1f, 0x3a, 0x2b, 0x01, 0x03, 0x03, 0x07};

/* A PSH+ACK with NOP NOP TS and 13 bytes of data "hello, world\n" (an odd length, so the
 * checksum's zero padding matters). Validated the same way. */
static const uint8_t kData4[65] = {0x45, 0x00, 0x00, 0x41, 0x3f, 0x22, 0x40, 0x00, 0x40, 0x06, 0xe7,
                                   0x92, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0xb2, 0x6e,
                                   0x00, 0x50, 0x6b, 0x8b, 0x45, 0x68, 0x32, 0x7b, 0x23, 0xc7, 0x80,
                                   0x18, 0x01, 0xf6, 0x41, 0x9d, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
                                   0x9c, 0x1f, 0x3a, 0x40, 0x11, 0x22, 0x33, 0x50, 0x68, 0x65, 0x6c,
                                   0x6c, 0x6f, 0x2c, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x0a};

static void test_csum_rfc1071_example(void) {
    /* RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2. */
    static const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, b, 8)), 0xddf2);
    /* In pieces of even length, at an odd address. */
    uint8_t shifted[9];
    memcpy(shifted + 1, b, 8);
    uint64_t s = tcpw_csum_add(0, shifted + 1, 2);
    s = tcpw_csum_add(s, shifted + 3, 4);
    s = tcpw_csum_add(s, shifted + 7, 2);
    CHECK_EQ_U(tcpw_csum_fold(s), 0xddf2);
    /* Nothing sums to zero; fold of zero is zero. */
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, b, 0)), 0);
    CHECK_EQ_U(tcpw_csum_fold(0), 0);
    /* An odd last byte is padded with zero on the right: 0x12 -> 0x1200. */
    static const uint8_t one = 0x12;
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, &one, 1)), 0x1200);
    /* Carries wrap around: ffff + 0001 = 0001 (one's complement). */
    static const uint8_t wrap[4] = {0xff, 0xff, 0x00, 0x01};
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, wrap, 4)), 0x0001);
    /* Numbers added to the sum count as big-endian words whatever the host. */
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0x0102, b, 0)), 0x0102);
    CHECK_EQ_U(tcpw_csum_fold(0x1ffffffffULL), 0x0001);
}

static void test_csum_ipv4_header_vector(void) {
    /* The textbook IPv4 header (192.168.0.1 -> 192.168.0.199, UDP): checksum b861. */
    uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK_EQ_U((uint16_t)~tcpw_csum_fold(tcpw_csum_add(0, h, 20)), 0xb861);
    /* tcpw_finish_checksums writes it (and touches no TCP checksum: the protocol is UDP). */
    tcpw_finish_checksums(h, 20);
    CHECK_EQ_U(rd16(h + 10), 0xb861);
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, h, 20)), 0xffff);
}

static void test_csum_matches_reference(void) {
    /* Random buffers of every length 0..2000 at every alignment 0..7. */
    enum { MAXLEN = 2000 };
    static uint8_t buf[MAXLEN + 16];
    rng_state = 0x1071107110711071ULL;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng_next();
    for (size_t len = 0; len <= MAXLEN; len++) {
        for (size_t off = 0; off < 8; off++) {
            uint16_t want = naive_sum(buf + off, len);
            uint16_t got = tcpw_csum_fold(tcpw_csum_add(0, buf + off, len));
            if (got != want) {
                fprintf(stderr, "csum mismatch len=%zu off=%zu: %04x != %04x\n", len, off, got,
                        want);
                CHECK_EQ_U(got, want);
                return;
            }
        }
    }
    /* All-ones data (the carry-heavy case) and all zeros. */
    memset(buf, 0xff, sizeof buf);
    for (size_t len = 0; len <= 300; len++)
        CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, buf + (len & 7), len)),
                   naive_sum(buf + (len & 7), len));
    memset(buf, 0, sizeof buf);
    CHECK_EQ_U(tcpw_csum_fold(tcpw_csum_add(0, buf, 1000)), 0);
    /* Chained in even-length pieces at random split points, the sum is the same. */
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng_next();
    for (int round = 0; round < 2000; round++) {
        size_t len = rng_below(MAXLEN + 1), off = rng_below(8);
        uint64_t s = 0;
        size_t pos = 0;
        while (pos < len) {
            size_t piece = rng_below(64) * 2 + 2;
            if (piece > len - pos) piece = len - pos;
            s = tcpw_csum_add(s, buf + off + pos, piece);
            pos += piece;
        }
        CHECK_EQ_U(tcpw_csum_fold(s), naive_sum(buf + off, len));
    }
}

static void test_known_answer_packets(void) {
    tcpw_packet p;
    /* The Linux-layout SYN. */
    CHECK_EQ_U(parse_exact(kSyn4, sizeof kSyn4, 0, &p), TCPW_WIRE_OK);
    CHECK_EQ_U(p.ip_version, 4);
    CHECK_EQ_U(p.ttl, 64);
    tcpw_endpoint s4 = ep4(10, 0, 0, 1, 45678), d4 = ep4(10, 0, 0, 2, 80);
    CHECK(tcpw_endpoint_equal(&p.src, &s4));
    CHECK(tcpw_endpoint_equal(&p.dst, &d4));
    CHECK_EQ_U(p.seq, 0x6b8b4567);
    CHECK_EQ_U(p.ack, 0);
    CHECK_EQ_U(p.flags, TCPW_SYN);
    CHECK_EQ_U(p.win, 64240);
    CHECK_EQ_U(p.urp, 0);
    CHECK(p.opts.has_mss && p.opts.mss == 1460);
    CHECK(p.opts.sack_permitted);
    CHECK(p.opts.has_ts && p.opts.tsval == 0x9c1f3a2b && p.opts.tsecr == 0);
    CHECK(p.opts.has_wscale && p.opts.wscale == 7);
    CHECK_EQ_U(p.opts.sack_count, 0);
    CHECK_EQ_U(p.ip_len, 60);
    CHECK(p.ip == kSyn4 && p.tcp == kSyn4 + 20);
    CHECK_EQ_U(p.tcp_hdr_len, 40);
    CHECK(p.payload == kSyn4 + 60);
    CHECK_EQ_U(p.payload_len, 0);

    /* The IPv6 SYN-ACK. */
    CHECK_EQ_U(parse_exact(kSynAck6, sizeof kSynAck6, 0, &p), TCPW_WIRE_OK);
    CHECK_EQ_U(p.ip_version, 6);
    tcpw_endpoint s6 = ep6(2, 80), d6 = ep6(1, 45678);
    CHECK(tcpw_endpoint_equal(&p.src, &s6));
    CHECK(tcpw_endpoint_equal(&p.dst, &d6));
    CHECK_EQ_U(p.flags, TCPW_SYN | TCPW_ACK);
    CHECK_EQ_U(p.seq, 0x327b23c6);
    CHECK_EQ_U(p.ack, 0x6b8b4568);
    CHECK_EQ_U(p.win, 65160);
    CHECK(p.opts.has_mss && p.opts.mss == 65476);
    CHECK(p.opts.has_ts && p.opts.tsval == 0x11223344 && p.opts.tsecr == 0x9c1f3a2b);
    CHECK_EQ_U(p.ip_len, 80);
    CHECK_EQ_U(p.tcp_hdr_len, 40);

    /* The data segment with an odd payload. */
    CHECK_EQ_U(parse_exact(kData4, sizeof kData4, 0, &p), TCPW_WIRE_OK);
    CHECK_EQ_U(p.flags, TCPW_PSH | TCPW_ACK);
    CHECK_EQ_U(p.tcp_hdr_len, 32);
    CHECK_EQ_U(p.payload_len, 13);
    CHECK(p.payload_len == 13 && memcmp(p.payload, "hello, world\n", 13) == 0);
    CHECK(p.opts.has_ts && !p.opts.has_mss && !p.opts.has_wscale && !p.opts.sack_permitted);

    /* One flipped bit anywhere breaks exactly one of the two checksums (header bytes the
     * pseudo-header covers — addresses — break both; the IP check comes first). */
    uint8_t m[sizeof kData4];
    for (size_t i = 0; i < sizeof kData4; i++) {
        if (i == 0 || i == 2 || i == 3) continue; /* IHL and total length: checked first */
        memcpy(m, kData4, sizeof m);
        m[i] ^= 0x04;
        int rc = parse_exact(m, sizeof m, 0, &p);
        int want = i < 20 ? TCPW_WIRE_IP_CHECKSUM : TCPW_WIRE_TCP_CHECKSUM;
        /* Flips in the option bytes break the options, which are parsed first: NOP -> kind
         * 5 with length 1; NOP NOP 8 10 -> NOP, SACK of length 8; TS length 10 -> 14. */
        if (i == 40) want = TCPW_WIRE_OPT_LENGTH;
        if (i == 41) want = TCPW_WIRE_OPT_BAD_SIZE;
        if (i == 43) want = TCPW_WIRE_OPT_PAST_END;
        if (rc != want) fprintf(stderr, "byte %zu: %s\n", i, tcpw_wire_strerror(rc));
        CHECK_EQ_U(rc, want);
        /* Without checksum verification the rest is accepted. */
        if (want == TCPW_WIRE_TCP_CHECKSUM)
            CHECK_EQ_U(parse_exact(m, sizeof m, TCPW_PARSE_NO_CHECKSUM, &p), TCPW_WIRE_OK);
    }
}

static void test_build_matches_known_answers(void) {
    uint8_t out[256];
    /* The SYN: same fields; the builder sets IP id 0, so compare the TCP bytes (whose
     * checksum does not cover the id) and the IP header apart from id and checksum. */
    tcpw_segment_out s;
    memset(&s, 0, sizeof s);
    s.src = ep4(10, 0, 0, 1, 45678);
    s.dst = ep4(10, 0, 0, 2, 80);
    s.seq = 0x6b8b4567;
    s.flags = TCPW_SYN;
    s.win = 64240;
    s.opts.has_mss = true;
    s.opts.mss = 1460;
    s.opts.sack_permitted = true;
    s.opts.has_ts = true;
    s.opts.tsval = 0x9c1f3a2b;
    s.opts.has_wscale = true;
    s.opts.wscale = 7;
    size_t n = build_packet(&s, NULL, 0, out, sizeof out);
    REQUIRE(n == sizeof kSyn4);
    CHECK(memcmp(out + 20, kSyn4 + 20, 40) == 0);
    CHECK(memcmp(out, kSyn4, 4) == 0);
    CHECK(memcmp(out + 6, kSyn4 + 6, 4) == 0);
    CHECK(memcmp(out + 12, kSyn4 + 12, 8) == 0);
    CHECK_EQ_U(rd16(out + 4), 0);
    tcpw_packet p;
    CHECK_EQ_U(parse_exact(out, n, 0, &p), TCPW_WIRE_OK);

    /* The IPv6 SYN-ACK: byte for byte. */
    memset(&s, 0, sizeof s);
    s.src = ep6(2, 80);
    s.dst = ep6(1, 45678);
    s.seq = 0x327b23c6;
    s.ack = 0x6b8b4568;
    s.flags = TCPW_SYN | TCPW_ACK;
    s.win = 65160;
    s.opts.has_mss = true;
    s.opts.mss = 65476;
    s.opts.sack_permitted = true;
    s.opts.has_ts = true;
    s.opts.tsval = 0x11223344;
    s.opts.tsecr = 0x9c1f3a2b;
    s.opts.has_wscale = true;
    s.opts.wscale = 7;
    n = build_packet(&s, NULL, 0, out, sizeof out);
    REQUIRE(n == sizeof kSynAck6);
    CHECK(memcmp(out, kSynAck6, n) == 0);

    /* The data segment: TCP bytes and payload. */
    memset(&s, 0, sizeof s);
    s.src = ep4(10, 0, 0, 1, 45678);
    s.dst = ep4(10, 0, 0, 2, 80);
    s.seq = 0x6b8b4568;
    s.ack = 0x327b23c7;
    s.flags = TCPW_PSH | TCPW_ACK;
    s.win = 502;
    s.opts.has_ts = true;
    s.opts.tsval = 0x9c1f3a40;
    s.opts.tsecr = 0x11223350;
    n = build_packet(&s, (const uint8_t *)"hello, world\n", 13, out, sizeof out);
    REQUIRE(n == sizeof kData4);
    CHECK(memcmp(out + 20, kData4 + 20, n - 20) == 0);
}

static void test_linux_option_layout(void) {
    uint8_t out[256];
    tcpw_segment_out s = base_seg(4);
    s.flags = TCPW_SYN;
    s.opts.has_mss = true;
    s.opts.mss = 1460;
    s.opts.sack_permitted = true;
    s.opts.has_ts = true;
    s.opts.tsval = 0x01020304;
    s.opts.tsecr = 0;
    s.opts.has_wscale = true;
    s.opts.wscale = 7;
    /* MSS(4) | SACK-perm(2)+TS(10) | NOP+WS(3): 20 bytes. */
    static const uint8_t syn[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2,
                                    3, 4, 0,    0,    0, 0, 1, 3,  3, 7};
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 0) == 60);
    CHECK(memcmp(out + 40, syn, 20) == 0);
    CHECK_EQ_U(out[32] >> 4, 10);

    /* A SYN without timestamps: MSS | NOP NOP SACK-perm | NOP WS. */
    s.opts.has_ts = false;
    static const uint8_t syn_nots[12] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 0) == 52);
    CHECK(memcmp(out + 40, syn_nots, 12) == 0);

    /* An ACK with timestamps: NOP NOP TS, 12 bytes. */
    memset(&s.opts, 0, sizeof s.opts);
    s.flags = TCPW_ACK;
    s.opts.has_ts = true;
    s.opts.tsval = 0xa1a2a3a4;
    s.opts.tsecr = 0xb1b2b3b4;
    static const uint8_t ack_ts[12] = {1, 1, 8, 10, 0xa1, 0xa2, 0xa3, 0xa4, 0xb1, 0xb2, 0xb3, 0xb4};
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 0) == 52);
    CHECK(memcmp(out + 40, ack_ts, 12) == 0);

    /* An ACK with timestamps and two SACK blocks: NOP NOP TS | NOP NOP SACK(18). */
    s.opts.sack_count = 2;
    s.opts.sack[0][0] = 100;
    s.opts.sack[0][1] = 200;
    s.opts.sack[1][0] = 300;
    s.opts.sack[1][1] = 400;
    static const uint8_t ack_sack[32] = {1,    1,   8, 10, 0xa1, 0xa2, 0xa3, 0xa4, 0xb1, 0xb2, 0xb3,
                                         0xb4, 1,   1, 5,  18,   0,    0,    0,    100,  0,    0,
                                         0,    200, 0, 0,  1,    0x2c, 0,    0,    1,    0x90};
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 0) == 72);
    CHECK(memcmp(out + 40, ack_sack, 32) == 0);

    /* No options: a 20-byte header, data offset 5. */
    memset(&s.opts, 0, sizeof s.opts);
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 0) == 40);
    CHECK_EQ_U(out[32], 0x50);

    /* The IP header: IHL 5, DF, id 0, TTL 64 by default, protocol 6, total length. */
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 1000) == 40);
    CHECK_EQ_U(out[0], 0x45);
    CHECK_EQ_U(rd16(out + 2), 1040);
    CHECK_EQ_U(rd16(out + 4), 0);
    CHECK_EQ_U(rd16(out + 6), 0x4000);
    CHECK_EQ_U(out[8], 64);
    CHECK_EQ_U(out[9], 6);
    s.ttl = 255;
    REQUIRE(tcpw_build_headers(out, sizeof out, &s, 0) == 40);
    CHECK_EQ_U(out[8], 255);

    /* IPv6: version 6, payload length, next header 6, hop limit. */
    tcpw_segment_out s6 = base_seg(6);
    s6.ttl = 7;
    REQUIRE(tcpw_build_headers(out, sizeof out, &s6, 3) == 60);
    CHECK_EQ_U(out[0], 0x60);
    CHECK_EQ_U(rd16(out + 4), 23);
    CHECK_EQ_U(out[6], 6);
    CHECK_EQ_U(out[7], 7);
}

/* Expected SACK blocks that fit next to the other options (40 bytes of option space). */
static unsigned expected_sack_blocks(const tcpw_tcp_opts *o) {
    unsigned used = (o->has_mss ? 4u : 0u) +
                    (o->has_ts           ? 12u
                     : o->sack_permitted ? 4u
                                         : 0u) +
                    (o->has_wscale ? 4u : 0u);
    if (o->sack_count == 0 || used + 12 > 40) return 0;
    unsigned room = (40 - used - 4) / 8;
    return o->sack_count < room ? o->sack_count : room;
}

static void test_roundtrip_every_combination(void) {
    static const size_t payloads[] = {0, 1, 2, 3, 100, 1459, 1460};
    uint8_t data[1500];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    static uint8_t pkt[TCPW_MAX_HEADERS + sizeof data];
    int combos = 0;
    for (int version = 4; version <= 6; version += 2) {
        for (unsigned mask = 0; mask < 16; mask++) {
            for (unsigned nsack = 0; nsack <= TCPW_MAX_SACK_BLOCKS; nsack++) {
                for (size_t pi = 0; pi < sizeof payloads / sizeof payloads[0]; pi++) {
                    size_t plen = payloads[pi];
                    tcpw_segment_out s = base_seg(version);
                    s.flags = (uint8_t)((mask & 1) ? TCPW_SYN : TCPW_ACK) | 0x40;
                    s.urp = (uint16_t)(mask * 11);
                    s.ttl = (uint8_t)(mask + 1);
                    s.opts.has_mss = mask & 1;
                    s.opts.mss = (uint16_t)(1000 + mask);
                    s.opts.has_wscale = (mask >> 1) & 1;
                    s.opts.wscale = (uint8_t)(mask % 15);
                    s.opts.sack_permitted = (mask >> 2) & 1;
                    s.opts.has_ts = (mask >> 3) & 1;
                    s.opts.tsval = 0xfeedf00d + mask;
                    s.opts.tsecr = 0x0badcafe - mask;
                    s.opts.sack_count = (uint8_t)nsack;
                    for (unsigned b = 0; b < nsack; b++) {
                        s.opts.sack[b][0] = 0xfffffff0u + b * 100;
                        s.opts.sack[b][1] = 0xfffffff0u + b * 100 + 50;
                    }
                    size_t n = build_packet(&s, data, plen, pkt, sizeof pkt);
                    REQUIRE(n > 0);
                    size_t hdr = n - plen;
                    size_t iph = version == 4 ? 20 : 40;
                    size_t tcph = hdr - iph;
                    CHECK(tcph >= 20 && tcph <= 60 && tcph % 4 == 0);

                    tcpw_packet p;
                    int rc = parse_exact(pkt, n, 0, &p);
                    CHECK_EQ_U(rc, TCPW_WIRE_OK);
                    if (rc != TCPW_WIRE_OK) {
                        fprintf(stderr, "v%d mask=%u nsack=%u plen=%zu: %s\n", version, mask, nsack,
                                plen, tcpw_wire_strerror(rc));
                        return;
                    }
                    CHECK_EQ_U(p.ip_version, version);
                    CHECK_EQ_U(p.ttl, s.ttl);
                    CHECK(tcpw_endpoint_equal(&p.src, &s.src));
                    CHECK(tcpw_endpoint_equal(&p.dst, &s.dst));
                    CHECK_EQ_U(p.seq, s.seq);
                    CHECK_EQ_U(p.ack, s.ack);
                    CHECK_EQ_U(p.flags, s.flags);
                    CHECK_EQ_U(p.win, s.win);
                    CHECK_EQ_U(p.urp, s.urp);
                    CHECK_EQ_U(p.ip_len, n);
                    CHECK_EQ_U(p.tcp_hdr_len, tcph);
                    CHECK(p.tcp == pkt + iph);
                    CHECK(p.payload == pkt + hdr);
                    CHECK_EQ_U(p.payload_len, plen);
                    CHECK(memcmp(p.payload, data, plen) == 0);
                    CHECK_EQ_U(p.opts.has_mss, s.opts.has_mss);
                    CHECK_EQ_U(p.opts.mss, s.opts.has_mss ? s.opts.mss : 0);
                    CHECK_EQ_U(p.opts.has_wscale, s.opts.has_wscale);
                    CHECK_EQ_U(p.opts.wscale, s.opts.has_wscale ? s.opts.wscale : 0);
                    CHECK_EQ_U(p.opts.sack_permitted, s.opts.sack_permitted);
                    CHECK_EQ_U(p.opts.has_ts, s.opts.has_ts);
                    CHECK_EQ_U(p.opts.tsval, s.opts.has_ts ? s.opts.tsval : 0);
                    CHECK_EQ_U(p.opts.tsecr, s.opts.has_ts ? s.opts.tsecr : 0);
                    unsigned want_blocks = expected_sack_blocks(&s.opts);
                    CHECK_EQ_U(p.opts.sack_count, want_blocks);
                    for (unsigned b = 0; b < want_blocks && b < p.opts.sack_count; b++) {
                        CHECK_EQ_U(p.opts.sack[b][0], s.opts.sack[b][0]);
                        CHECK_EQ_U(p.opts.sack[b][1], s.opts.sack[b][1]);
                    }
                    /* The option bytes themselves: only NOPs besides the options. */
                    CHECK_EQ_U(tcph - 20, (s.opts.has_mss ? 4 : 0) +
                                              (s.opts.has_ts           ? 12
                                               : s.opts.sack_permitted ? 4
                                                                       : 0) +
                                              (s.opts.has_wscale ? 4 : 0) +
                                              (want_blocks ? 4 + 8 * want_blocks : 0));
                    combos++;
                }
            }
        }
    }
    CHECK_EQ_U(combos, 2 * 16 * 5 * 7);
}

static void test_build_rejects(void) {
    uint8_t out[TCPW_MAX_HEADERS];
    tcpw_segment_out s = base_seg(4);
    s.opts.has_mss = s.opts.has_ts = s.opts.has_wscale = s.opts.sack_permitted = true;
    /* Every capacity short of the headers fails; the exact size works. */
    for (size_t cap = 0; cap < 60; cap++)
        CHECK_EQ_U(tcpw_build_headers(out, cap, &s, 0), 0);
    CHECK_EQ_U(tcpw_build_headers(out, 60, &s, 0), 60);
    /* The largest header fits TCPW_MAX_HEADERS: IPv6 + 40 bytes of options. */
    tcpw_segment_out big = base_seg(6);
    big.opts.has_ts = true;
    big.opts.sack_count = 3;
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &big, 0), 40 + 20 + 12 + 28);
    big.opts.has_ts = false;
    big.opts.sack_count = 4;
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &big, 0), 40 + 20 + 36);
    /* Families must match and be 4 or 6. */
    tcpw_segment_out m = base_seg(4);
    m.dst = ep6(2, 80);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 0), 0);
    m = base_seg(4);
    m.src.addr.family = 0;
    m.dst.addr.family = 0;
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 0), 0);
    m.src.addr.family = m.dst.addr.family = 5;
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 0), 0);
    /* More SACK blocks than there can be. */
    m = base_seg(4);
    m.opts.sack_count = TCPW_MAX_SACK_BLOCKS + 1;
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 0), 0);
    /* Lengths beyond the 16-bit IP length fields. */
    m = base_seg(4);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 65535 - 40), 40);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 65535 - 39), 0);
    m = base_seg(6);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 65535 - 20), 60);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, 65535 - 19), 0);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, &m, (size_t)-1), 0);
    CHECK_EQ_U(tcpw_build_headers(NULL, sizeof out, &m, 0), 0);
    CHECK_EQ_U(tcpw_build_headers(out, sizeof out, NULL, 0), 0);
    /* tcpw_finish_checksums on nonsense does nothing harmful. */
    uint8_t junk[3] = {0x45, 0, 0};
    tcpw_finish_checksums(junk, sizeof junk);
    tcpw_finish_checksums(NULL, 0);
    uint8_t v6short[45] = {0x60};
    tcpw_finish_checksums(v6short, sizeof v6short);
}

/* ---- every error code ---------------------------------------------------------------------- */

static uint8_t work[2048];

/* A valid data segment of the given version with timestamps and 10 bytes of payload. */
static size_t valid_packet(int version, uint8_t *out) {
    tcpw_segment_out s = base_seg(version);
    s.opts.has_ts = true;
    s.opts.tsval = 1;
    s.opts.tsecr = 2;
    return build_packet(&s, (const uint8_t *)"0123456789", 10, out, 256);
}

#define EXPECT(buf, len, flags, code)                                                              \
    do {                                                                                           \
        tcpw_packet p_;                                                                            \
        int rc_ = parse_exact((buf), (len), (flags), &p_);                                         \
        if (rc_ != (code))                                                                         \
            fprintf(stderr, "  got %d (%s), want %d (%s)\n", rc_, tcpw_wire_strerror(rc_),         \
                    (int)(code), tcpw_wire_strerror(code));                                        \
        CHECK_EQ_U(rc_, (code));                                                                   \
    } while (0)

static void test_error_ip_layer(void) {
    tcpw_packet p;
    size_t n;
    /* EMPTY */
    EXPECT(work, 0, 0, TCPW_WIRE_EMPTY);
    CHECK_EQ_U(tcpw_parse(NULL, 0, 0, &p), TCPW_WIRE_EMPTY);
    CHECK_EQ_U(tcpw_parse(NULL, 40, 0, &p), TCPW_WIRE_EMPTY);
    /* BAD_VERSION */
    n = valid_packet(4, work);
    work[0] = 0x55;
    EXPECT(work, n, 0, TCPW_WIRE_BAD_VERSION);
    work[0] = 0x05;
    EXPECT(work, 1, 0, TCPW_WIRE_BAD_VERSION);
    /* IP_TRUNCATED */
    n = valid_packet(4, work);
    EXPECT(work, 19, 0, TCPW_WIRE_IP_TRUNCATED);
    EXPECT(work, 1, TCPW_PARSE_ALLOW_TRAILER, TCPW_WIRE_IP_TRUNCATED);
    n = valid_packet(6, work);
    EXPECT(work, 39, 0, TCPW_WIRE_IP_TRUNCATED);
    /* BAD_IHL: below 5, and past the buffer */
    n = valid_packet(4, work);
    work[0] = 0x44;
    EXPECT(work, n, TCPW_PARSE_NO_CHECKSUM, TCPW_WIRE_BAD_IHL);
    work[0] = 0x40;
    EXPECT(work, n, TCPW_PARSE_NO_CHECKSUM, TCPW_WIRE_BAD_IHL);
    work[0] = 0x4f; /* 60 bytes of header */
    EXPECT(work, 40, TCPW_PARSE_NO_CHECKSUM, TCPW_WIRE_BAD_IHL);
    /* IP_LENGTH: total length longer than the buffer, shorter, below the header */
    n = valid_packet(4, work);
    EXPECT(work, n - 1, 0, TCPW_WIRE_IP_LENGTH);
    wr16(work + 2, (uint16_t)(n + 1));
    tcpw_finish_checksums(work, n);
    EXPECT(work, n, 0, TCPW_WIRE_IP_LENGTH);
    EXPECT(work, n, TCPW_PARSE_ALLOW_TRAILER, TCPW_WIRE_IP_LENGTH);
    wr16(work + 2, 19);
    tcpw_finish_checksums(work, n);
    EXPECT(work, n, 0, TCPW_WIRE_IP_LENGTH);
    EXPECT(work, n, TCPW_PARSE_ALLOW_TRAILER, TCPW_WIRE_IP_LENGTH);
    n = valid_packet(4, work);
    memset(work + n, 0, 6); /* an Ethernet-style trailer */
    EXPECT(work, n + 6, 0, TCPW_WIRE_IP_LENGTH);
    EXPECT(work, n + 6, TCPW_PARSE_ALLOW_TRAILER, TCPW_WIRE_OK);
    CHECK_EQ_U(parse_exact(work, n + 6, TCPW_PARSE_ALLOW_TRAILER, &p), TCPW_WIRE_OK);
    CHECK_EQ_U(p.ip_len, n);
    CHECK_EQ_U(p.payload_len, 10);
    n = valid_packet(6, work);
    EXPECT(work, n - 1, 0, TCPW_WIRE_IP_LENGTH);
    memset(work + n, 0, 6);
    EXPECT(work, n + 6, 0, TCPW_WIRE_IP_LENGTH);
    CHECK_EQ_U(parse_exact(work, n + 6, TCPW_PARSE_ALLOW_TRAILER, &p), TCPW_WIRE_OK);
    CHECK_EQ_U(p.ip_len, n);
    CHECK_EQ_U(p.payload_len, 10);
    wr16(work + 4, (uint16_t)(n - 40 + 1));
    EXPECT(work, n, TCPW_PARSE_ALLOW_TRAILER, TCPW_WIRE_IP_LENGTH);
    /* IP_CHECKSUM */
    n = valid_packet(4, work);
    work[10] ^= 1;
    EXPECT(work, n, 0, TCPW_WIRE_IP_CHECKSUM);
    EXPECT(work, n, TCPW_PARSE_NO_CHECKSUM, TCPW_WIRE_OK);
    /* FRAGMENT: MF, an offset, both; before NOT_TCP */
    static const uint16_t frags[] = {0x2000, 0x0001, 0x1fff, 0x2010, 0x6000};
    for (size_t i = 0; i < sizeof frags / sizeof frags[0]; i++) {
        n = valid_packet(4, work);
        wr16(work + 6, frags[i]);
        tcpw_finish_checksums(work, n);
        EXPECT(work, n, 0, TCPW_WIRE_FRAGMENT);
        work[9] = 17;
        tcpw_finish_checksums(work, n);
        EXPECT(work, n, 0, TCPW_WIRE_FRAGMENT);
    }
    /* DF alone and the reserved bit are not fragments. */
    n = valid_packet(4, work);
    wr16(work + 6, 0x0000);
    tcpw_finish_checksums(work, n);
    EXPECT(work, n, 0, TCPW_WIRE_OK);
    wr16(work + 6, 0x8000);
    tcpw_finish_checksums(work, n);
    EXPECT(work, n, 0, TCPW_WIRE_OK);
    /* NOT_TCP, and the addresses are filled in by then. */
    n = valid_packet(4, work);
    work[9] = 17;
    tcpw_finish_checksums(work, n);
    CHECK_EQ_U(parse_exact(work, n, 0, &p), TCPW_WIRE_NOT_TCP);
    tcpw_addr a1 = tcpw_addr_v4(10, 0, 0, 1), a2 = tcpw_addr_v4(10, 0, 0, 2);
    CHECK(tcpw_addr_equal(&p.src.addr, &a1));
    CHECK(tcpw_addr_equal(&p.dst.addr, &a2));
    n = valid_packet(6, work);
    work[6] = 17;
    CHECK_EQ_U(parse_exact(work, n, 0, &p), TCPW_WIRE_NOT_TCP);
    CHECK_EQ_U(p.src.addr.family, 6);
    CHECK_EQ_U(p.dst.addr.ip[15], 2);
    work[6] = 59; /* No Next Header */
    EXPECT(work, n, 0, TCPW_WIRE_NOT_TCP);
    work[6] = 58; /* ICMPv6 */
    EXPECT(work, n, 0, TCPW_WIRE_NOT_TCP);
}

/* An IPv6 packet: header, then the extension headers ext[0..elen) (first next header nh),
 * then a valid TCP segment from valid_packet(6). Returns the length. */
static size_t v6_with_ext(uint8_t nh, const uint8_t *ext, size_t elen, uint8_t *out) {
    uint8_t base[256];
    size_t n = valid_packet(6, base);
    memcpy(out, base, 40);
    memcpy(out + 40, ext, elen);
    memcpy(out + 40 + elen, base + 40, n - 40);
    out[6] = nh;
    wr16(out + 4, (uint16_t)(n - 40 + elen));
    tcpw_finish_checksums(out, n + elen);
    return n + elen;
}

static void test_ipv6_extension_headers(void) {
    tcpw_packet p;
    /* Hop-by-hop (8 bytes, PadN) -> routing (type 4? no: type 0 segments left 0, 8 bytes) ->
     * destination options (16 bytes) -> TCP. */
    uint8_t ext[32] = {43, 0, 1, 4,  0, 0, 0, 0, /* hop-by-hop: next routing, len 0, PadN(4) */
                       60, 0, 4, 0,  0, 0, 0, 0, /* routing: next dstopts, len 0, type 4, SL 0 */
                       6,  1, 1, 12, 0, 0, 0, 0,
                       0,  0, 0, 0,  0, 0, 0, 0}; /* dstopts: next TCP, len 1 */
    size_t n = v6_with_ext(0, ext, 32, work);
    CHECK_EQ_U(parse_exact(work, n, 0, &p), TCPW_WIRE_OK);
    CHECK(p.tcp == work + 72);
    CHECK_EQ_U(p.payload_len, 10);
    CHECK_EQ_U(p.ip_len, n);
    CHECK(p.payload_len == 10 && memcmp(p.payload, "0123456789", 10) == 0);
    /* The checksum tcpw_finish_checksums wrote (after walking the chain) verifies, and a
     * corrupted one does not. */
    work[72 + 16] ^= 0x80;
    EXPECT(work, n, 0, TCPW_WIRE_TCP_CHECKSUM);

    /* Fragment header => FRAGMENT (also after another header). */
    uint8_t frag[8] = {6, 0, 0, 0, 0, 0, 0, 1};
    n = v6_with_ext(44, frag, 8, work);
    EXPECT(work, n, 0, TCPW_WIRE_FRAGMENT);
    uint8_t dst_frag[16] = {44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 1};
    n = v6_with_ext(60, dst_frag, 16, work);
    EXPECT(work, n, 0, TCPW_WIRE_FRAGMENT);

    /* An extension header chain ending in No Next Header or UDP => NOT_TCP. */
    uint8_t to_none[8] = {59, 0, 1, 4, 0, 0, 0, 0};
    n = v6_with_ext(60, to_none, 8, work);
    EXPECT(work, n, 0, TCPW_WIRE_NOT_TCP);
    uint8_t to_udp[8] = {17, 0, 1, 4, 0, 0, 0, 0};
    n = v6_with_ext(0, to_udp, 8, work);
    EXPECT(work, n, 0, TCPW_WIRE_NOT_TCP);
    /* AH and ESP are not walked. */
    n = v6_with_ext(51, to_udp, 8, work);
    EXPECT(work, n, 0, TCPW_WIRE_NOT_TCP);

    /* EXT_HEADER: a header whose length runs past the packet. */
    uint8_t too_long[8] = {6, 200, 1, 4, 0, 0, 0, 0};
    n = v6_with_ext(60, too_long, 8, work);
    EXPECT(work, n, 0, TCPW_WIRE_EXT_HEADER);
    /* ... a chain that ends exactly at the end of the packet with another header due. */
    uint8_t base[256];
    CHECK_EQ_U(valid_packet(6, base), 82);
    memcpy(work, base, 40);
    work[6] = 60;
    memcpy(work + 40, (const uint8_t[]){60, 0, 1, 4, 0, 0, 0, 0}, 8);
    wr16(work + 4, 8);
    EXPECT(work, 48, 0, TCPW_WIRE_EXT_HEADER);
    /* ... a single byte of header left (the length byte missing). */
    wr16(work + 4, 9);
    work[48] = 60;
    work[40] = 60;
    EXPECT(work, 49, 0, TCPW_WIRE_EXT_HEADER);
    /* ... hop-by-hop anywhere but first (RFC 8200 §4.1). */
    uint8_t hbh_late[16] = {0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0};
    n = v6_with_ext(60, hbh_late, 16, work);
    EXPECT(work, n, 0, TCPW_WIRE_EXT_HEADER);
    /* Payload length 0 and a header chain: nothing there. */
    memcpy(work, base, 40);
    work[6] = 0;
    wr16(work + 4, 0);
    EXPECT(work, 40, 0, TCPW_WIRE_EXT_HEADER);
    work[6] = 6;
    EXPECT(work, 40, 0, TCPW_WIRE_TCP_TRUNCATED);
}

static void test_ipv4_options_skipped(void) {
    /* IHL 6 with an IP option word (NOP NOP NOP EOL) before TCP. */
    uint8_t base[256];
    size_t n = valid_packet(4, base);
    memcpy(work, base, 20);
    static const uint8_t ipopt[4] = {1, 1, 1, 0};
    memcpy(work + 20, ipopt, 4);
    memcpy(work + 24, base + 20, n - 20);
    work[0] = 0x46;
    wr16(work + 2, (uint16_t)(n + 4));
    tcpw_finish_checksums(work, n + 4);
    tcpw_packet p;
    CHECK_EQ_U(parse_exact(work, n + 4, 0, &p), TCPW_WIRE_OK);
    CHECK(p.tcp == work + 24);
    CHECK_EQ_U(p.payload_len, 10);
    CHECK(p.opts.has_ts && p.opts.tsval == 1 && p.opts.tsecr == 2);
}

static void test_error_tcp_layer(void) {
    for (int version = 4; version <= 6; version += 2) {
        size_t iph = version == 4 ? 20 : 40;
        /* TCP_TRUNCATED: 0 and 19 bytes of TCP. */
        size_t n = valid_packet(version, work);
        for (size_t tl = 0; tl < 20; tl++) {
            if (version == 4)
                wr16(work + 2, (uint16_t)(iph + tl));
            else
                wr16(work + 4, (uint16_t)tl);
            tcpw_finish_checksums(work, iph + tl);
            EXPECT(work, iph + tl, 0, TCPW_WIRE_TCP_TRUNCATED);
        }
        /* BAD_DOFF: data offset 0..4. */
        for (uint8_t d = 0; d < 5; d++) {
            n = valid_packet(version, work);
            work[iph + 12] = (uint8_t)(d << 4);
            tcpw_finish_checksums(work, n);
            EXPECT(work, n, 0, TCPW_WIRE_BAD_DOFF);
        }
        /* DOFF_PAST_END: 15 words (60 bytes) in a 42-byte segment; the exact end is fine. */
        n = valid_packet(version, work);
        CHECK_EQ_U(n - iph, 42);
        work[iph + 12] = 0xf0;
        tcpw_finish_checksums(work, n);
        EXPECT(work, n, 0, TCPW_WIRE_DOFF_PAST_END);
        work[iph + 12] = 0xb0; /* 44 bytes: two past */
        tcpw_finish_checksums(work, n);
        EXPECT(work, n, 0, TCPW_WIRE_DOFF_PAST_END);

        /* Option errors with correct checksums. */
        struct {
            uint8_t opt[40];
            size_t len;
            int code;
        } cases[] = {
            {{2, 0, 0, 0}, 4, TCPW_WIRE_OPT_LENGTH},               /* MSS length 0 */
            {{99, 1, 1, 1}, 4, TCPW_WIRE_OPT_LENGTH},              /* unknown, length 1 */
            {{1, 1, 8, 0}, 4, TCPW_WIRE_OPT_LENGTH},               /* TS length 0 */
            {{8, 10, 0, 0}, 4, TCPW_WIRE_OPT_PAST_END},            /* TS cut short */
            {{1, 1, 1, 2}, 4, TCPW_WIRE_OPT_PAST_END},             /* kind, no length byte */
            {{1, 1, 30, 3}, 4, TCPW_WIRE_OPT_PAST_END},            /* unknown, one past */
            {{2, 3, 5, 0}, 4, TCPW_WIRE_OPT_BAD_SIZE},             /* MSS length 3 */
            {{2, 5, 5, 0, 0, 0, 0, 0}, 8, TCPW_WIRE_OPT_BAD_SIZE}, /* MSS length 5 */
            {{3, 4, 7, 0}, 4, TCPW_WIRE_OPT_BAD_SIZE},             /* WS length 4 */
            {{3, 2, 1, 0}, 4, TCPW_WIRE_OPT_BAD_SIZE},             /* WS length 2 */
            {{4, 3, 0, 0}, 4, TCPW_WIRE_OPT_BAD_SIZE},             /* SACK-perm length 3 */
            {{8, 8, 0, 0, 0, 0, 0, 0}, 8, TCPW_WIRE_OPT_BAD_SIZE}, /* TS length 8 */
            {{8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, TCPW_WIRE_OPT_BAD_SIZE}, /* TS 12 */
            {{5, 2, 1, 1}, 4, TCPW_WIRE_OPT_BAD_SIZE},                           /* SACK 0 blk */
            {{5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, TCPW_WIRE_OPT_BAD_SIZE},  /* SACK 9 */
            {{5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, TCPW_WIRE_OPT_BAD_SIZE}, /* SACK 11 */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            n = raw_opts_packet(version, cases[i].opt, cases[i].len, 5, work, sizeof work);
            REQUIRE(n > 0);
            tcpw_packet q;
            int rc = parse_exact(work, n, 0, &q);
            if (rc != cases[i].code)
                fprintf(stderr, "v%d option case %zu: got %s\n", version, i,
                        tcpw_wire_strerror(rc));
            CHECK_EQ_U(rc, cases[i].code);
        }

        /* TCP_CHECKSUM: a payload byte, a header byte, the checksum itself. */
        n = valid_packet(version, work);
        work[n - 1] ^= 0x20;
        EXPECT(work, n, 0, TCPW_WIRE_TCP_CHECKSUM);
        EXPECT(work, n, TCPW_PARSE_NO_CHECKSUM, TCPW_WIRE_OK);
        n = valid_packet(version, work);
        work[iph + 4] ^= 1; /* seq */
        EXPECT(work, n, 0, TCPW_WIRE_TCP_CHECKSUM);
        n = valid_packet(version, work);
        work[iph + 17] ^= 1;
        EXPECT(work, n, 0, TCPW_WIRE_TCP_CHECKSUM);
        /* The pseudo-header counts: a different destination address breaks the TCP
         * checksum (with the IPv4 header checksum fixed up). */
        n = valid_packet(version, work);
        work[iph - 1] ^= 0x01; /* last byte of the destination address */
        if (version == 4) {
            wr16(work + 10, 0);
            uint16_t c = (uint16_t)~tcpw_csum_fold(tcpw_csum_add(0, work, 20));
            wr16(work + 10, c);
        }
        EXPECT(work, n, 0, TCPW_WIRE_TCP_CHECKSUM);
    }
}

static void test_checksum_negative_zero(void) {
    /* Find a packet whose computed TCP checksum is 0x0000, then check that 0xffff in its
     * place also verifies (RFC 1071: +0 and -0 are the same number). */
    tcpw_segment_out s = base_seg(4);
    uint8_t pkt[128];
    for (uint32_t seq = 0; seq < 200000; seq++) {
        s.seq = seq;
        size_t n = build_packet(&s, NULL, 0, pkt, sizeof pkt);
        if (rd16(pkt + 36) != 0) continue;
        EXPECT(pkt, n, 0, TCPW_WIRE_OK);
        wr16(pkt + 36, 0xffff);
        EXPECT(pkt, n, 0, TCPW_WIRE_OK);
        return;
    }
    CHECK(false); /* no packet with checksum 0 found */
}

static void test_bad_addresses(void) {
    static const uint8_t bad4[][4] = {
        {0, 0, 0, 0}, {255, 255, 255, 255}, {224, 0, 0, 1}, {239, 255, 255, 250}, {230, 1, 2, 3}};
    static const uint8_t good4[][4] = {{127, 0, 0, 1}, {10, 0, 0, 1}, {223, 255, 255, 255}};
    tcpw_packet p;
    uint8_t pkt[256];
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < sizeof bad4 / sizeof bad4[0]; i++) {
            tcpw_segment_out s = base_seg(4);
            tcpw_addr *a = side ? &s.dst.addr : &s.src.addr;
            *a = tcpw_addr_v4(bad4[i][0], bad4[i][1], bad4[i][2], bad4[i][3]);
            size_t n = build_packet(&s, (const uint8_t *)"x", 1, pkt, sizeof pkt);
            CHECK_EQ_U(parse_exact(pkt, n, 0, &p), TCPW_WIRE_BAD_ADDRESS);
            /* Decided last: every field is filled in. */
            CHECK(tcpw_endpoint_equal(&p.src, &s.src));
            CHECK(tcpw_endpoint_equal(&p.dst, &s.dst));
            CHECK_EQ_U(p.seq, s.seq);
            CHECK_EQ_U(p.payload_len, 1);
        }
        for (size_t i = 0; i < sizeof good4 / sizeof good4[0]; i++) {
            tcpw_segment_out s = base_seg(4);
            tcpw_addr *a = side ? &s.dst.addr : &s.src.addr;
            *a = tcpw_addr_v4(good4[i][0], good4[i][1], good4[i][2], good4[i][3]);
            size_t n = build_packet(&s, NULL, 0, pkt, sizeof pkt);
            CHECK_EQ_U(parse_exact(pkt, n, 0, &p), TCPW_WIRE_OK);
        }
        /* IPv6: :: and ff02::1 are bad; ::1 and fe80::1 are fine. */
        tcpw_segment_out s = base_seg(6);
        tcpw_addr *a = side ? &s.dst.addr : &s.src.addr;
        memset(a->ip, 0, 16);
        size_t n = build_packet(&s, NULL, 0, pkt, sizeof pkt);
        EXPECT(pkt, n, 0, TCPW_WIRE_BAD_ADDRESS);
        a->ip[0] = 0xff;
        a->ip[1] = 0x02;
        a->ip[15] = 1;
        n = build_packet(&s, NULL, 0, pkt, sizeof pkt);
        EXPECT(pkt, n, 0, TCPW_WIRE_BAD_ADDRESS);
        memset(a->ip, 0, 16);
        a->ip[15] = 1;
        n = build_packet(&s, NULL, 0, pkt, sizeof pkt);
        EXPECT(pkt, n, 0, TCPW_WIRE_OK);
        a->ip[0] = 0xfe;
        a->ip[1] = 0x80;
        n = build_packet(&s, NULL, 0, pkt, sizeof pkt);
        EXPECT(pkt, n, 0, TCPW_WIRE_OK);
    }
}

static void test_error_codes_are_distinct(void) {
    /* Every code from -1 down has its own message, and the count matches. */
    for (int a = 1; a < TCPW_WIRE_ERROR_COUNT; a++) {
        const char *ma = tcpw_wire_strerror(-a);
        CHECK(strcmp(ma, tcpw_wire_strerror(999)) != 0);
        for (int b = a + 1; b < TCPW_WIRE_ERROR_COUNT; b++)
            CHECK(strcmp(ma, tcpw_wire_strerror(-b)) != 0);
    }
    CHECK_EQ_U(-TCPW_WIRE_BAD_ADDRESS + 1, TCPW_WIRE_ERROR_COUNT);
    CHECK_STR(tcpw_wire_strerror(TCPW_WIRE_OK), "ok");
    CHECK_STR(tcpw_wire_strerror(-TCPW_WIRE_ERROR_COUNT), "unknown wire error");
    CHECK(TCPW_WIRE_ERROR_COUNT <= 32); /* fits tcpw_stats.bad_packets */
}

/* ---- options alone ------------------------------------------------------------------------ */

static void test_parse_options_direct(void) {
    tcpw_tcp_opts o;
    /* Unknown options are skipped by their length; NOPs anywhere; EOL ends the list and
     * whatever follows it (padding, even garbage) is not looked at. */
    static const uint8_t mixed[] = {1, 30,   4,    0xaa, 0xbb, 254, 6,  0xf9, 0x89, 1, 2, 2,
                                    4, 0x05, 0xb4, 1,    3,    3,   14, 0,    2,    0, 5, 0xff};
    CHECK_EQ_U(tcpw_parse_options(mixed, sizeof mixed, &o), TCPW_WIRE_OK);
    CHECK(o.has_mss && o.mss == 1460);
    CHECK(o.has_wscale && o.wscale == 14);
    CHECK(!o.has_ts && !o.sack_permitted && o.sack_count == 0);
    /* Nothing at all, NOPs only, EOL only. */
    CHECK_EQ_U(tcpw_parse_options(mixed, 0, &o), TCPW_WIRE_OK);
    CHECK(!o.has_mss);
    static const uint8_t nops[4] = {1, 1, 1, 1}, eols[4] = {0, 0, 0, 0};
    CHECK_EQ_U(tcpw_parse_options(nops, 4, &o), TCPW_WIRE_OK);
    CHECK_EQ_U(tcpw_parse_options(eols, 4, &o), TCPW_WIRE_OK);
    /* A window scale above 14 is reported as received. */
    static const uint8_t ws15[4] = {1, 3, 3, 15};
    CHECK_EQ_U(tcpw_parse_options(ws15, 4, &o), TCPW_WIRE_OK);
    CHECK_EQ_U(o.wscale, 15);
    /* SACK with 1 and 4 blocks. */
    uint8_t sack[34] = {5, 34};
    for (int i = 0; i < 32; i++)
        sack[2 + i] = (uint8_t)i;
    CHECK_EQ_U(tcpw_parse_options(sack, 34, &o), TCPW_WIRE_OK);
    CHECK_EQ_U(o.sack_count, 4);
    CHECK_EQ_U(o.sack[0][0], 0x00010203);
    CHECK_EQ_U(o.sack[3][1], 0x1c1d1e1f);
    sack[1] = 10;
    CHECK_EQ_U(tcpw_parse_options(sack, 34, &o), TCPW_WIRE_OPT_BAD_SIZE); /* then 8, len 9 */
    CHECK_EQ_U(tcpw_parse_options(sack, 10, &o), TCPW_WIRE_OK);
    CHECK_EQ_U(o.sack_count, 1);
    CHECK_EQ_U(o.sack[0][1], 0x04050607);
    /* Five blocks (42 bytes) cannot be in a TCP header but are refused here too. */
    uint8_t sack5[42] = {5, 42};
    CHECK_EQ_U(tcpw_parse_options(sack5, 42, &o), TCPW_WIRE_OPT_BAD_SIZE);
    /* A kind byte with nothing after it. */
    static const uint8_t lone[1] = {8};
    CHECK_EQ_U(tcpw_parse_options(lone, 1, &o), TCPW_WIRE_OPT_PAST_END);
    /* The last option wins when one is repeated. */
    static const uint8_t twice[8] = {2, 4, 0, 100, 2, 4, 0, 200};
    CHECK_EQ_U(tcpw_parse_options(twice, 8, &o), TCPW_WIRE_OK);
    CHECK_EQ_U(o.mss, 200);
    /* Timestamps. */
    static const uint8_t ts[12] = {1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    CHECK_EQ_U(tcpw_parse_options(ts, 12, &o), TCPW_WIRE_OK);
    CHECK(o.has_ts && o.tsval == 0xffffffffu && o.tsecr == 1);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static void test_flags_str(void) {
    char buf[9];
    CHECK_STR(tcpw_flags_str(TCPW_SYN | TCPW_ACK, buf), "SA");
    CHECK_STR(tcpw_flags_str(TCPW_FIN | TCPW_ACK, buf), "FA");
    CHECK_STR(tcpw_flags_str(0, buf), "");
    CHECK_STR(tcpw_flags_str(TCPW_SYN, buf), "S");
    CHECK_STR(tcpw_flags_str(TCPW_RST, buf), "R");
    CHECK_STR(tcpw_flags_str(TCPW_RST | TCPW_ACK, buf), "RA");
    CHECK_STR(tcpw_flags_str(TCPW_PSH | TCPW_ACK, buf), "PA");
    CHECK_STR(tcpw_flags_str(TCPW_FIN | TCPW_PSH | TCPW_ACK, buf), "FPA");
    CHECK_STR(tcpw_flags_str(0x3f, buf), "SFRPAU");
    CHECK_STR(tcpw_flags_str(0xff, buf), "SFRPAUEW");
    CHECK_STR(tcpw_flags_str(TCPW_SYN | 0x40 | 0x80, buf), "SEW");
    CHECK(tcpw_flags_str(TCPW_URG, buf) == buf);
}

static void test_addr_helpers(void) {
    tcpw_addr a = tcpw_addr_v4(192, 0, 2, 1);
    CHECK_EQ_U(a.family, 4);
    CHECK(a.ip[0] == 192 && a.ip[1] == 0 && a.ip[2] == 2 && a.ip[3] == 1);
    for (int i = 4; i < 16; i++)
        CHECK_EQ_U(a.ip[i], 0);
    tcpw_addr b = tcpw_addr_v4(192, 0, 2, 1);
    CHECK(tcpw_addr_equal(&a, &b));
    b.ip[3] = 2;
    CHECK(!tcpw_addr_equal(&a, &b));
    b = a;
    b.family = 6;
    CHECK(!tcpw_addr_equal(&a, &b));
    tcpw_addr c = a, d = a;
    c.family = d.family = 6;
    d.ip[15] = 1;
    CHECK(!tcpw_addr_equal(&c, &d));
    d.ip[15] = 0;
    CHECK(tcpw_addr_equal(&c, &d));
    tcpw_addr any1, any2;
    memset(&any1, 0, sizeof any1);
    memset(&any2, 0, sizeof any2);
    CHECK(tcpw_addr_equal(&any1, &any2));
    tcpw_endpoint e1 = ep4(1, 2, 3, 4, 80), e2 = ep4(1, 2, 3, 4, 80);
    CHECK(tcpw_endpoint_equal(&e1, &e2));
    e2.port = 81;
    CHECK(!tcpw_endpoint_equal(&e1, &e2));
    e2 = ep4(1, 2, 3, 5, 80);
    CHECK(!tcpw_endpoint_equal(&e1, &e2));
}

/* ---- truncation sweep and fuzz ----------------------------------------------------------------
 */

/* The valid packets the sweep and the fuzzer start from. */
static size_t corpus_packet(int which, uint8_t *out) {
    tcpw_segment_out s;
    uint8_t data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i ^ 0x5a);
    switch (which) {
    case 0: memcpy(out, kSyn4, sizeof kSyn4); return sizeof kSyn4;
    case 1: memcpy(out, kSynAck6, sizeof kSynAck6); return sizeof kSynAck6;
    case 2: memcpy(out, kData4, sizeof kData4); return sizeof kData4;
    case 3:
    case 4:
        s = base_seg(which == 3 ? 4 : 6);
        s.opts.has_ts = true;
        s.opts.tsval = 77;
        s.opts.sack_count = 3;
        s.opts.sack[0][0] = 1;
        s.opts.sack[0][1] = 2;
        s.opts.sack[1][0] = 3;
        s.opts.sack[1][1] = 4;
        s.opts.sack[2][0] = 5;
        s.opts.sack[2][1] = 6;
        return build_packet(&s, data, 37, out, 512);
    case 5: {
        uint8_t ext[24] = {60, 0, 1, 4, 0, 0, 0, 0, 6, 1, 1, 12,
                           0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        return v6_with_ext(0, ext, 24, out);
    }
    default: {
        s = base_seg(4);
        s.flags = TCPW_SYN | TCPW_ACK;
        s.opts.has_mss = s.opts.has_wscale = s.opts.sack_permitted = true;
        s.opts.mss = 536;
        s.opts.wscale = 2;
        return build_packet(&s, data, 200, out, 512);
    }
    }
}
#define CORPUS_SIZE 7

static void test_truncation_sweep(void) {
    uint8_t pkt[512], cut[512];
    tcpw_packet p;
    for (int which = 0; which < CORPUS_SIZE; which++) {
        size_t len = corpus_packet(which, pkt);
        REQUIRE(len > 0);
        CHECK_EQ_U(parse_exact(pkt, len, 0, &p), TCPW_WIRE_OK);
        size_t iph = (pkt[0] >> 4) == 4 ? 20 : 40;
        for (size_t n = 0; n < len; n++) {
            /* As is: the IP length no longer matches (or not even the header is there). */
            int want = n == 0    ? TCPW_WIRE_EMPTY
                       : n < iph ? TCPW_WIRE_IP_TRUNCATED
                                 : TCPW_WIRE_IP_LENGTH;
            for (unsigned flags = 0; flags < 4; flags++) {
                int rc = parse_exact(pkt, n, flags, &p);
                if (rc != want)
                    fprintf(stderr, "packet %d cut at %zu flags %u: %s\n", which, n, flags,
                            tcpw_wire_strerror(rc));
                CHECK_EQ_U(rc, want);
            }
            /* With the IP length rewritten to match the cut, the TCP layer sees a short
             * segment: a clean error (or success once the whole header is there). */
            if (n < iph) continue;
            memcpy(cut, pkt, n);
            if (iph == 20)
                wr16(cut + 2, (uint16_t)n);
            else
                wr16(cut + 4, (uint16_t)(n - 40));
            tcpw_finish_checksums(cut, n);
            int rc = parse_exact(cut, n, TCPW_PARSE_NO_CHECKSUM, &p);
            CHECK(rc <= 0 && rc > -TCPW_WIRE_ERROR_COUNT);
            if (which == 5) continue; /* extension headers: any clean error will do */
            size_t tl = n - iph;
            size_t doff = (size_t)(pkt[iph + 12] >> 4) * 4;
            want = tl < 20     ? TCPW_WIRE_TCP_TRUNCATED
                   : tl < doff ? TCPW_WIRE_DOFF_PAST_END
                               : TCPW_WIRE_OK;
            CHECK_EQ_U(rc, want);
            if (rc == TCPW_WIRE_OK) {
                CHECK_EQ_U(p.payload_len, tl - doff);
                /* The TCP checksum was recomputed over the cut, so it verifies too. */
                CHECK_EQ_U(parse_exact(cut, n, 0, &p), TCPW_WIRE_OK);
            }
        }
    }
}

static void test_fuzz_mutations(void) {
    enum { ROUNDS = 200000 };
    const uint64_t seed = 0x7c9e6f1d2b3a4859ULL;
    rng_state = seed;
    printf("test_fuzz_mutations: seed=0x%016llx rounds=%d\n", (unsigned long long)seed, ROUNDS);
    static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08,
                                          0x0a, 0x0f, 0x10, 0x22, 0x2c, 0x3b, 0x3c, 0x40,
                                          0x45, 0x4f, 0x50, 0x60, 0x7f, 0x80, 0xf0, 0xff};
    uint8_t corpus[CORPUS_SIZE][512];
    size_t corpus_len[CORPUS_SIZE];
    for (int i = 0; i < CORPUS_SIZE; i++)
        corpus_len[i] = corpus_packet(i, corpus[i]);
    unsigned long hist[TCPW_WIRE_ERROR_COUNT] = {0};
    uint8_t tmp[600];

    for (long round = 0; round < ROUNDS; round++) {
        int which = (int)rng_below(CORPUS_SIZE);
        size_t n = corpus_len[which];
        memcpy(tmp, corpus[which], n);
        /* Length: usually unchanged, sometimes cut or extended with random bytes. */
        uint32_t r = rng_below(8);
        if (r == 0)
            n = rng_below((uint32_t)n + 1);
        else if (r == 1) {
            size_t extra = rng_below(24);
            for (size_t i = 0; i < extra; i++)
                tmp[n + i] = (uint8_t)rng_next();
            n += extra;
        }
        /* 1..8 mutations: random bytes, bit flips, interesting values, mostly in headers. */
        int muts = 1 + (int)rng_below(8);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t span = n < 80 ? n : (rng_below(4) ? 80 : n);
            size_t at = rng_below((uint32_t)span);
            switch (rng_below(3)) {
            case 0: tmp[at] = (uint8_t)rng_next(); break;
            case 1: tmp[at] ^= (uint8_t)(1u << rng_below(8)); break;
            default: tmp[at] = interesting[rng_below(sizeof interesting)]; break;
            }
        }
        /* Half the time, repair the lengths and checksums so that the mutations reach the
         * deeper layers; finish_checksums itself must survive any bytes too. */
        if (rng_below(2) && n >= 1) {
            if ((tmp[0] >> 4) == 4 && n >= 20 && rng_below(2)) wr16(tmp + 2, (uint16_t)n);
            if ((tmp[0] >> 4) == 6 && n >= 40 && rng_below(2)) wr16(tmp + 4, (uint16_t)(n - 40));
            uint8_t *exact = malloc(n);
            memcpy(exact, tmp, n);
            tcpw_finish_checksums(exact, n);
            memcpy(tmp, exact, n);
            free(exact);
        }
        unsigned flags = rng_below(4);
        tcpw_packet p;
        int rc = parse_exact(tmp, n, flags, &p);
        if (!(rc <= 0 && rc > -TCPW_WIRE_ERROR_COUNT)) {
            fprintf(stderr, "fuzz seed=0x%016llx round %ld: code %d out of range\n",
                    (unsigned long long)seed, round, rc);
            CHECK(0);
            return;
        }
        hist[-rc]++;
        if (rc == TCPW_WIRE_OK) {
            /* A success describes a packet that lies inside the buffer, self-consistently. */
            bool ok = (p.ip_version == 4 || p.ip_version == 6) && p.ip == tmp && p.ip_len <= n &&
                      p.tcp > tmp && p.tcp_hdr_len >= 20 && p.tcp_hdr_len <= 60 &&
                      p.tcp_hdr_len % 4 == 0 && p.payload == p.tcp + p.tcp_hdr_len &&
                      p.payload + p.payload_len == tmp + p.ip_len &&
                      p.opts.sack_count <= TCPW_MAX_SACK_BLOCKS &&
                      ((flags & TCPW_PARSE_ALLOW_TRAILER) || p.ip_len == n);
            if (!ok) {
                fprintf(stderr, "fuzz seed=0x%016llx round %ld: inconsistent success\n",
                        (unsigned long long)seed, round);
                CHECK(0);
                return;
            }
            /* The same bytes parse the same way again. */
            tcpw_packet q;
            CHECK_EQ_U(parse_exact(tmp, n, flags, &q), TCPW_WIRE_OK);
            CHECK(q.seq == p.seq && q.payload_len == p.payload_len);
        }
    }
    printf("test_fuzz_mutations: results:");
    for (int i = 0; i < TCPW_WIRE_ERROR_COUNT; i++)
        printf(" %d:%lu", -i, hist[i]);
    printf("\n");
    /* The mutations reach every layer (fixed seed: this is deterministic). */
    CHECK(hist[0] > 0);
    CHECK(hist[-TCPW_WIRE_TCP_CHECKSUM] > 0);
    CHECK(hist[-TCPW_WIRE_OPT_BAD_SIZE] > 0);
}

/* The inline copy-and-sum of a few bytes (the engine's small segments) gives the copy and the
 * same checksum as tcpw_csum_acc_copy, for every length below 16, from any accumulator. */
static void test_csum_acc_copy_short(void) {
    uint8_t src[16], a[16], b[16];
    rng_state = 0x5151515151515151ULL;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof src; i++)
            src[i] = round == 0 ? 0xff : (uint8_t)rng_next();
        uint64_t acc = round < 2 ? (round ? ~0ull : 0) : rng_next();
        for (size_t len = 0; len < 16; len++) {
            memset(a, 0, sizeof a);
            memset(b, 0, sizeof b);
            uint64_t want = tcpw_csum_acc_copy(acc, a, src, len);
            uint64_t got = tcpw_csum_acc_copy_short(acc, b, src, len);
            CHECK_EQ_U(tcpw_csum_finish(got), tcpw_csum_finish(want));
            CHECK(memcmp(a, b, sizeof a) == 0);
        }
    }
}

/* The fused copy and sum of a payload, both ways it runs (AVX2 blocks where the processor has
 * them, SSE2 or portable blocks in tcpw_csum_acc_copy_narrow): the bytes are copied and the sum
 * is RFC 1071's, for every length up to 2000 at every alignment of source and destination, for
 * carry-heavy all-ones data, and across the 64 KiB block boundary. */
static void test_csum_acc_copy_matches_reference(void) {
    enum { MAXLEN = 2000, BIG = 70000 };
    static uint8_t src[BIG + 8], dst[BIG + 8];
    rng_state = 0x2222333344445555ULL;
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)rng_next();
    for (int narrow = 0; narrow < 2; narrow++) {
        for (size_t len = 0; len <= MAXLEN; len++) {
            for (size_t off = 0; off < 4; off++) {
                size_t doff = (len + off) & 3;
                memset(dst, 0, MAXLEN + 8);
                uint64_t acc = narrow ? tcpw_csum_acc_copy_narrow(0, dst + doff, src + off, len)
                                      : tcpw_csum_acc_copy(0, dst + doff, src + off, len);
                uint16_t want = naive_sum(src + off, len);
                if (tcpw_csum_finish(acc) != want || memcmp(dst + doff, src + off, len) != 0) {
                    fprintf(stderr, "csum copy mismatch narrow=%d len=%zu off=%zu\n", narrow, len,
                            off);
                    CHECK_EQ_U(tcpw_csum_finish(acc), want);
                    CHECK(memcmp(dst + doff, src + off, len) == 0);
                    return;
                }
            }
        }
        /* a non-zero accumulator carries into the sum as RFC 1071 adds it */
        uint64_t acc = narrow ? tcpw_csum_acc_copy_narrow(0x1234, dst, src, 1500)
                              : tcpw_csum_acc_copy(0x1234, dst, src, 1500);
        CHECK_EQ_U(tcpw_csum_finish(acc),
                   tcpw_csum_fold(tcpw_csum_add(tcpw_csum_finish(0x1234), src, 1500)));
    }
    uint8_t *ones = malloc(BIG);
    CHECK(ones != NULL);
    if (!ones) return;
    memset(ones, 0xff, BIG);
    for (size_t len = 128; len <= BIG; len = len * 3 + 1) {
        CHECK_EQ_U(tcpw_csum_finish(tcpw_csum_acc_copy(0, dst, ones, len)), naive_sum(ones, len));
        CHECK_EQ_U(tcpw_csum_finish(tcpw_csum_acc_copy_narrow(0, dst, ones, len)),
                   naive_sum(ones, len));
    }
    CHECK_EQ_U(tcpw_csum_finish(tcpw_csum_acc_copy(0, dst, src, BIG)), naive_sum(src, BIG));
    CHECK(memcmp(dst, src, BIG) == 0);
    CHECK_EQ_U(tcpw_csum_finish(tcpw_csum_acc(0, ones, BIG)), naive_sum(ones, BIG));
    free(ones);
}

/* A sum of header numbers below 2^56 enters the raw accumulator without a fold first
 * (tcpw_csum_num_wide): it finishes to the one's complement sum of the numbers. */
static void test_csum_num_wide(void) {
    rng_state = 0x0123456789abcdefULL;
    static const uint64_t edge[] = {
        0, 1, 0xffff, 0x10000, 0xfffe0001ull, 0xffffffffull, 0xfffffffffull, (1ull << 56) - 1};
    for (int i = 0; i < 20000; i++) {
        uint64_t v = i < 8 ? edge[i] : rng_next() >> (8 + rng_below(48));
        CHECK_EQ_U(tcpw_csum_finish(tcpw_csum_num_wide(v)), tcpw_csum_fold(v));
        uint32_t w = (uint32_t)v;
        CHECK_EQ_U(tcpw_csum_finish(tcpw_csum_num_wide(w)), tcpw_csum_finish(tcpw_csum_num(w)));
    }
}

int main(void) {
    RUN(test_csum_rfc1071_example);
    RUN(test_csum_ipv4_header_vector);
    RUN(test_csum_matches_reference);
    RUN(test_csum_acc_copy_short);
    RUN(test_csum_acc_copy_matches_reference);
    RUN(test_csum_num_wide);
    RUN(test_known_answer_packets);
    RUN(test_build_matches_known_answers);
    RUN(test_linux_option_layout);
    RUN(test_roundtrip_every_combination);
    RUN(test_build_rejects);
    RUN(test_error_ip_layer);
    RUN(test_ipv6_extension_headers);
    RUN(test_ipv4_options_skipped);
    RUN(test_error_tcp_layer);
    RUN(test_checksum_negative_zero);
    RUN(test_bad_addresses);
    RUN(test_error_codes_are_distinct);
    RUN(test_parse_options_direct);
    RUN(test_flags_str);
    RUN(test_addr_helpers);
    RUN(test_truncation_sweep);
    RUN(test_fuzz_mutations);
    return test_summary();
}
