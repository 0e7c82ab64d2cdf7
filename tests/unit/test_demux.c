/* test_demux.c — what happens before the state machine: malformed packets are rejected and
 * counted without a reply; ephemeral ports avoid a 4-tuple still in TIME_WAIT unless
 * tw_reuse is on, and then only under Linux's tcp_tw_reuse conditions (timestamps seen on the
 * old connection, at least a second since the last one); an exhausted range says so. */
#include "fixture.h"

/* ---- malformed input ------------------------------------------------------------------------ */

/* A valid segment for the fixture's listener, into buf; returns its length. */
static size_t valid_syn(const fx *f, uint8_t *buf, size_t cap) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = f->remote;
    o.dst = f->local;
    o.seq = FX_IRS;
    o.flags = TCPW_SYN;
    o.win = 8192;
    size_t hl = tcpw_build_headers(buf, cap, &o, 0);
    tcpw_finish_checksums(buf, hl);
    return hl;
}

/* Every malformed packet is counted under its own error and answered with nothing — not even
 * the RST a valid segment to a closed port would get (RFC 9293 §3.10.7.1 applies only to
 * segments that are segments). */
static void test_malformed_packets_counted_not_answered(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    uint8_t pkt[128];
    size_t len = valid_syn(&f, pkt, sizeof pkt);
    pkt[len - 1] ^= 0x40; /* TCP checksum now wrong (the last header byte: urgent pointer) */
    tcpw_input(f.s, pkt, len, f.now);
    len = valid_syn(&f, pkt, sizeof pkt);
    pkt[32] = (uint8_t)(4 << 4); /* data offset 4 */
    tcpw_input(f.s, pkt, len, f.now);
    tcpw_input(f.s, pkt, 30, f.now); /* cut short: IP length disagrees with the buffer */
    const tcpw_stats *st = tcpw_stack_stats(f.s);
    CHECK_EQ_U(st->bad_packets[-TCPW_WIRE_TCP_CHECKSUM], 1);
    CHECK_EQ_U(st->bad_packets[-TCPW_WIRE_BAD_DOFF], 1);
    CHECK_EQ_U(st->bad_packets[-TCPW_WIRE_IP_LENGTH], 1);
    CHECK_EQ_U(st->pkts_in, 0);
    FX_EXPECT_NOTHING(&f);
    /* the same SYN intact, to no listener: a RST,ACK — the counter was the only difference */
    len = valid_syn(&f, pkt, sizeof pkt);
    tcpw_input(f.s, pkt, len, f.now);
    FX_EXPECT(&f, 0, TCPW_RST | TCPW_ACK, 0, FX_IRS + 1, 0);
    CHECK_EQ_U(st->pkts_in, 1);
    fx_free(&f);
}

/* An ACK carrying one byte for the established connection, with NOP NOP TS when ts (the
 * layout tcpw_input reads without tcpw_parse), into buf; returns its length. */
static size_t usual_segment(const fx *f, bool ts, uint8_t *buf, size_t cap) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = f->remote;
    o.dst = f->local;
    o.seq = FX_IRS + 1;
    o.ack = f->iss + 1;
    o.flags = TCPW_ACK | TCPW_PSH;
    o.win = 8192;
    o.opts.has_ts = ts;
    o.opts.tsval = 5;
    size_t hl = tcpw_build_headers(buf, cap, &o, 1);
    buf[hl] = 'x';
    tcpw_finish_checksums(buf, hl + 1);
    return hl + 1;
}

/* The usual segment (IPv4 without options, no TCP options or NOP NOP TS) of an established
 * connection takes a shorter way in than tcpw_parse(); a defect in any field it checks sends
 * it to tcpw_parse(), which counts it under the same error as for any other packet. Nothing
 * reaches the connection; the intact segment then does. */
static void test_usual_segment_defects_counted(void) {
    for (int ts = 0; ts < 2; ts++) {
        fx f;
        fx_init(&f);
        fx_start(&f);
        fx_established(&f);
        REQUIRE(f.c && f.c->state == TCPW_ESTABLISHED);
        uint8_t pkt[128];
        /* one byte changed: the error is whatever tcpw_parse() names for the packet */
        static const struct {
            size_t at;
            uint8_t xor ;
        } defects[] = {
            {0, 0x10},  /* version 5 */
            {0, 0x04},  /* IHL 1 */
            {3, 0x01},  /* total length one off */
            {6, 0x20},  /* MF set (the header checksum no longer holds) */
            {9, 0x01},  /* protocol 7 (likewise) */
            {10, 0x01}, /* header checksum */
            {15, 0x01}, /* source address (likewise) */
            {32, 0x10}, /* data offset one word off */
            {37, 0x01}, /* the window: the TCP checksum no longer holds */
            {40, 0x01}, /* the option's first NOP, or the payload */
        };
        const tcpw_stats *st = tcpw_stack_stats(f.s);
        for (size_t i = 0; i < sizeof defects / sizeof defects[0]; i++) {
            size_t len = usual_segment(&f, ts, pkt, sizeof pkt);
            pkt[defects[i].at] ^= defects[i].xor ;
            tcpw_packet p;
            int want = tcpw_parse(pkt, len, 0, &p);
            CHECK(want != TCPW_WIRE_OK);
            if (want == TCPW_WIRE_OK) continue;
            uint64_t before = st->bad_packets[-want];
            tcpw_input(f.s, pkt, len, f.now);
            CHECK_EQ_U(st->bad_packets[-want], before + 1);
        }
        /* a fragment with a correct header checksum; a multicast source */
        size_t len = usual_segment(&f, ts, pkt, sizeof pkt);
        pkt[6] |= 0x20;
        tcpw_finish_checksums(pkt, len);
        tcpw_input(f.s, pkt, len, f.now);
        CHECK_EQ_U(st->bad_packets[-TCPW_WIRE_FRAGMENT], 1);
        len = usual_segment(&f, ts, pkt, sizeof pkt);
        pkt[12] = 224;
        tcpw_finish_checksums(pkt, len);
        tcpw_input(f.s, pkt, len, f.now);
        CHECK_EQ_U(st->bad_packets[-TCPW_WIRE_BAD_ADDRESS], 1);
        CHECK_EQ_U(st->pkts_in, 2); /* the handshake's two */
        CHECK_EQ_U(f.c->rcv_nxt, FX_IRS + 1);
        FX_EXPECT_NOTHING(&f);
        len = usual_segment(&f, ts, pkt, sizeof pkt);
        tcpw_input(f.s, pkt, len, f.now);
        CHECK_EQ_U(st->pkts_in, 3);
        CHECK_EQ_U(f.c->rcv_nxt, FX_IRS + 2);
        fx_free(&f);
    }
}

/* tcpw_input() tests the addresses TCP ignores (RFC 9293 §3.10.7.1, RFC 1122 §4.2.3.10) only
 * when a segment is not for the last connection: the last became so for a segment whose same
 * addresses passed. A connection the application opened to such an address (tcpw_connect
 * takes it; its SYN cannot leave) therefore never becomes the last, and a usual segment from
 * that address is counted as tcpw_parse() names it, exactly as for any other connection, even
 * right after a segment of the established connection made that one the last. */
static void test_usual_segment_bad_address_of_a_connection(void) {
    static const uint8_t bad[][4] = {{224, 0, 0, 1}, {255, 255, 255, 255}, {0, 0, 0, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx f;
        fx_init(&f);
        fx_start(&f);
        fx_established(&f);
        REQUIRE(f.c && f.c->state == TCPW_ESTABLISHED);
        const tcpw_stats *st = tcpw_stack_stats(f.s);
        tcpw_endpoint to = f.remote;
        to.addr = tcpw_addr_v4(bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
        tcpw_endpoint from = f.local;
        from.port = 81;
        tcpw_conn *odd = NULL;
        REQUIRE(tcpw_connect(f.s, &from, &to, f.now, &odd) == TCPW_OK && odd);
        tcpw_state odd_state = odd->state;
        uint8_t pkt[128];
        for (int round = 0; round < 2; round++) {
            /* the established connection's segment first: it is the last connection */
            size_t len = usual_segment(&f, true, pkt, sizeof pkt);
            uint32_t seq = FX_IRS + 1 + (uint32_t)round;
            pkt[24] = (uint8_t)(seq >> 24);
            pkt[25] = (uint8_t)(seq >> 16);
            pkt[26] = (uint8_t)(seq >> 8);
            pkt[27] = (uint8_t)seq;
            tcpw_finish_checksums(pkt, len);
            uint64_t in = st->pkts_in;
            tcpw_input(f.s, pkt, len, f.now);
            CHECK_EQ_U(st->pkts_in, in + 1);
            /* the same layout from the odd connection's peer to it */
            len = usual_segment(&f, true, pkt, sizeof pkt);
            memcpy(pkt + 12, bad[i], 4);
            memcpy(pkt + 16, from.addr.ip, 4);
            pkt[20] = (uint8_t)(to.port >> 8);
            pkt[21] = (uint8_t)to.port;
            pkt[22] = (uint8_t)(from.port >> 8);
            pkt[23] = (uint8_t)from.port;
            tcpw_finish_checksums(pkt, len);
            tcpw_packet p;
            CHECK(tcpw_parse(pkt, len, 0, &p) == TCPW_WIRE_BAD_ADDRESS);
            uint64_t before = st->bad_packets[-TCPW_WIRE_BAD_ADDRESS];
            in = st->pkts_in;
            tcpw_input(f.s, pkt, len, f.now);
            CHECK_EQ_U(st->bad_packets[-TCPW_WIRE_BAD_ADDRESS], before + 1);
            CHECK_EQ_U(st->pkts_in, in);
            CHECK(odd->state == odd_state);
        }
        CHECK_EQ_U(f.c->rcv_nxt, FX_IRS + 3);
        fx_free(&f);
    }
}

/* ---- ephemeral ports and TIME_WAIT ----------------------------------------------------------- */

#define PEER_TS 7000u

/* Connect from an ephemeral port of a 3-port range and take the connection to a compact
 * TIME_WAIT record (we close first). Returns the port. With ts, the peer uses timestamps. */
static uint16_t connect_to_time_wait(fx *f, bool ts) {
    tcpw_endpoint any = f->local;
    any.port = 0;
    tcpw_conn *c = NULL;
    f->nout = 0;
    REQUIRE_RET(tcpw_connect(f->s, &any, &f->remote, f->now, &c) == TCPW_OK, 0);
    uint16_t port = c->local.port;
    uint32_t iss = f->out[0].p.seq;
    f->local.port = port;
    tcpw_tcp_opts o;
    memset(&o, 0, sizeof o);
    o.has_mss = true;
    o.mss = 1460;
    o.has_ts = ts;
    o.tsval = PEER_TS;
    o.tsecr = f->out[0].p.opts.tsval;
    fx_in_opts(f, TCPW_SYN | TCPW_ACK, FX_IRS, iss + 1, 8192, &o, NULL, 0);
    o.has_mss = false;
    tcpw_shutdown(c, f->now);
    o.tsval = PEER_TS + 1;
    fx_in_opts(f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, iss + 2, 8192, ts ? &o : NULL, NULL, 0);
    REQUIRE_RET(c->state == TCPW_TIME_WAIT, 0);
    tcpw_close(c, f->now);
    f->nout = 0;
    return port;
}

static void start_range(fx *f, bool reuse) {
    fx_init(f);
    f->cfg.timestamps = true;
    f->cfg.tw_reuse = reuse;
    f->cfg.ephemeral_lo = 50000;
    f->cfg.ephemeral_hi = 50002;
    fx_start(f);
}

static uint16_t connect_port(fx *f, int *err) {
    tcpw_endpoint any = f->local;
    any.port = 0;
    tcpw_conn *c = NULL;
    *err = tcpw_connect(f->s, &any, &f->remote, f->now, &c);
    return *err == TCPW_OK ? c->local.port : 0;
}

/* The 4-tuple in TIME_WAIT is not handed out again: the two other ports are, then the range
 * is exhausted (RFC 9293 §3.6.1: a new incarnation must wait out 2MSL). */
static void test_ephemeral_skips_time_wait(void) {
    fx f;
    start_range(&f, false);
    uint16_t tw_port = connect_to_time_wait(&f, true);
    CHECK(tw_port >= 50000 && tw_port <= 50002);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    fx_advance(&f, 5000000); /* 5 s: long past tw_reuse's second, but reuse is off */
    int err;
    uint16_t a = connect_port(&f, &err), b = connect_port(&f, &err);
    CHECK(a && b && a != b && a != tw_port && b != tw_port);
    connect_port(&f, &err);
    CHECK_EQ_U((uint64_t)(int64_t)err, (uint64_t)(int64_t)TCPW_EADDRNOTAVAIL);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    fx_free(&f);
}

/* tw_reuse on: the TIME_WAIT 4-tuple is taken over only when the old connection used
 * timestamps and its last one is at least a second old (Linux tcp_tw_reuse). */
static void test_tw_reuse_takes_time_wait_tuple(void) {
    fx f;
    start_range(&f, true);
    uint16_t tw_port = connect_to_time_wait(&f, true);
    int err;
    uint16_t a = connect_port(&f, &err), b = connect_port(&f, &err);
    CHECK(a && b && a != tw_port && b != tw_port);
    connect_port(&f, &err); /* less than a second since its last timestamp: not yet */
    CHECK_EQ_U((uint64_t)(int64_t)err, (uint64_t)(int64_t)TCPW_EADDRNOTAVAIL);
    fx_advance(&f, 1000000);
    CHECK_EQ_U(connect_port(&f, &err), tw_port);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    fx_free(&f);
}

/* Without timestamps on the old connection PAWS cannot protect a new one: no reuse. */
static void test_tw_reuse_needs_timestamps(void) {
    fx f;
    start_range(&f, true);
    uint16_t tw_port = connect_to_time_wait(&f, false);
    fx_advance(&f, 5000000);
    int err;
    uint16_t a = connect_port(&f, &err), b = connect_port(&f, &err);
    CHECK(a && b && a != tw_port && b != tw_port);
    connect_port(&f, &err);
    CHECK_EQ_U((uint64_t)(int64_t)err, (uint64_t)(int64_t)TCPW_EADDRNOTAVAIL);
    fx_free(&f);
}

int main(void) {
    RUN(test_malformed_packets_counted_not_answered);
    RUN(test_usual_segment_defects_counted);
    RUN(test_usual_segment_bad_address_of_a_connection);
    RUN(test_ephemeral_skips_time_wait);
    RUN(test_tw_reuse_takes_time_wait_tuple);
    RUN(test_tw_reuse_needs_timestamps);
    return test_summary();
}
