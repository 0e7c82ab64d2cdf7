/* test_state_listen.c — SEGMENT ARRIVES in LISTEN (RFC 9293 §3.10.7.2), in the RFC's order:
 * first RST (ignored), second ACK (<SEQ=SEG.ACK><CTL=RST>), third SYN (SYN_RCVD and
 * <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>), fourth anything else (dropped).
 *
 * The listener is 192.0.2.2:80; a connection it creates is a separate control block in
 * SYN_RCVD (the RFC's "LISTEN TCB" copied), found by its 4-tuple.
 */
#include "fixture.h"

static void start_listening(fx *f) {
    fx_init(f);
    fx_start(f);
    fx_listen(f);
}

/* Nothing happened to the listener: still LISTEN, no connection for the peer's 4-tuple. */
static void expect_listener_untouched(fx *f) {
    CHECK_EQ_U(f->listener->state, TCPW_LISTEN);
    FX_EXPECT_NO_CONN(f);
    CHECK_EQ_U(tcpw_stack_stats(f->s)->conn_count, 1);
}

/* First: "An incoming RST should be ignored." Whatever else it carries. */
static void test_rst_ignored(void) {
    static const uint8_t flags[] = {TCPW_RST, TCPW_RST | TCPW_ACK, TCPW_RST | TCPW_SYN,
                                    TCPW_RST | TCPW_SYN | TCPW_ACK};
    for (size_t i = 0; i < sizeof flags; i++) {
        fx f;
        start_listening(&f);
        fx_in(&f, flags[i], FX_IRS, 777, NULL, 0);
        FX_EXPECT_NOTHING(&f);
        expect_listener_untouched(&f);
        fx_free(&f);
    }
}

/* Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
 * state": <SEQ=SEG.ACK><CTL=RST>. A SYN+ACK too — the ACK check comes before the SYN. */
static void test_ack_bearing_segment_rst(void) {
    static const uint8_t flags[] = {TCPW_ACK, TCPW_ACK | TCPW_PSH, TCPW_FIN | TCPW_ACK,
                                    TCPW_SYN | TCPW_ACK};
    for (size_t i = 0; i < sizeof flags; i++) {
        fx f;
        start_listening(&f);
        fx_in(&f, flags[i], FX_IRS, 0x12345678u, "abc", (flags[i] & TCPW_PSH) ? 3 : 0);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_RST, 0x12345678u, 0, 0);
        expect_listener_untouched(&f);
        fx_free(&f);
    }
}

/* Third: a SYN: RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>,
 * SND.NXT = ISS+1, SND.UNA = ISS, SYN_RCVD. The SYN+ACK carries our MSS (RFC 9293 §3.7.1). */
static void test_syn_creates_syn_rcvd(void) {
    fx f;
    start_listening(&f);
    fx_clear(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    uint32_t iss = f.out[0].p.seq;
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, iss, FX_IRS + 1, 0);
    CHECK(f.out[0].p.opts.has_mss);
    CHECK_EQ_U(f.out[0].p.opts.mss, 1460);
    tcpw_conn *c = table_find_conn(f.s, &f.local, &f.remote);
    REQUIRE(c);
    tcpw_conn_info info;
    tcpw_status(c, &info);
    CHECK_EQ_U(info.state, TCPW_SYN_RCVD);
    CHECK_EQ_U(info.irs, FX_IRS);
    CHECK_EQ_U(info.rcv_nxt, FX_IRS + 1);
    CHECK_EQ_U(info.iss, iss);
    CHECK_EQ_U(info.snd_una, iss);
    CHECK_EQ_U(info.snd_nxt, iss + 1);
    CHECK_EQ_U(f.listener->state, TCPW_LISTEN);
    /* the change was LISTEN -> SYN_RCVD, caused by the segment */
    REQUIRE(f.ntrace == 1);
    CHECK_EQ_U(f.trace_from[0], TCPW_LISTEN);
    CHECK_EQ_U(f.trace_to[0], TCPW_SYN_RCVD);
    CHECK_EQ_U(f.trace_cause[0], TCPW_CAUSE_SEGMENT);
    fx_free(&f);
}

/* Text on the SYN: RFC 9293 §3.10.7.2 queues it "for processing later"; tcpwave keeps no
 * state for it (documented in input.c, listen_accept_syn), so the SYN+ACK acknowledges the SYN
 * only and the peer sends the data again once synchronized. */
static void test_syn_with_data_acks_syn_only(void) {
    fx f;
    start_listening(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, "early", 5);
    FX_EXPECT_COUNT(&f, 1);
    uint32_t iss = f.out[0].p.seq;
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, iss, FX_IRS + 1, 0);
    fx_clear(&f);
    /* the peer's ACK with the data again completes the handshake and delivers it */
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, iss + 1, "early", 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, iss + 1, FX_IRS + 6, 0);
    tcpw_conn *c = tcpw_accept(f.listener);
    REQUIRE(c);
    CHECK_EQ_U(c->state, TCPW_ESTABLISHED);
    char b[8];
    CHECK_EQ_U(tcpw_recv(c, b, sizeof b, f.now), 5);
    fx_free(&f);
}

/* A FIN on the SYN is not acted on either (same documented choice): SYN_RCVD, the SYN+ACK
 * acknowledges only the SYN. */
static void test_syn_fin_acks_syn_only(void) {
    fx f;
    start_listening(&f);
    fx_in(&f, TCPW_SYN | TCPW_FIN, FX_IRS, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.out[0].p.seq, FX_IRS + 1, 0);
    tcpw_conn *c = table_find_conn(f.s, &f.local, &f.remote);
    REQUIRE(c);
    CHECK_EQ_U(c->state, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* Fourth: "Any other control or text-bearing segment (not containing SYN) must have an ACK
 * and thus would have been discarded ...": without an ACK it is dropped: nothing sent. */
static void test_other_segments_dropped(void) {
    static const uint8_t flags[] = {TCPW_FIN, TCPW_PSH, 0, TCPW_URG};
    for (size_t i = 0; i < sizeof flags; i++) {
        fx f;
        start_listening(&f);
        fx_in(&f, flags[i], FX_IRS, 0, "data", flags[i] == TCPW_FIN ? 0 : 4);
        FX_EXPECT_NOTHING(&f);
        expect_listener_untouched(&f);
        fx_free(&f);
    }
}

/* RFC 7323 §3.2: a SYN with a timestamps option gets a SYN+ACK with one, TSecr echoing the
 * SYN's TSval; RFC 7323 §2.2: window scale is offered in the SYN+ACK only when the SYN had it. */
static void test_syn_options_answered(void) {
    fx f;
    fx_init(&f);
    f.cfg.timestamps = true;
    f.cfg.window_scale = true;
    fx_start(&f);
    fx_listen(&f);
    tcpw_tcp_opts o;
    memset(&o, 0, sizeof o);
    o.has_ts = true;
    o.tsval = 4242;
    fx_in_opts(&f, TCPW_SYN, FX_IRS, 0, 8192, &o, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.out[0].p.seq, FX_IRS + 1, 0);
    CHECK(f.out[0].p.opts.has_ts);
    CHECK_EQ_U(f.out[0].p.opts.tsecr, 4242);
    CHECK(!f.out[0].p.opts.has_wscale);
    CHECK(table_find_conn(f.s, &f.local, &f.remote) != NULL);
    fx_free(&f);
}

/* Each SYN from a different remote socket gets its own SYN_RCVD connection; the listener
 * stays in LISTEN (RFC 9293 §3.10.7.2: the unspecified remote socket is filled in from the
 * SYN, in a new TCB). */
static void test_two_syns_two_connections(void) {
    fx f;
    start_listening(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    tcpw_endpoint other = f.remote;
    other.port = 40001;
    tcpw_endpoint saved = f.remote;
    f.remote = other;
    fx_in(&f, TCPW_SYN, 90000, 0, NULL, 0);
    f.remote = saved;
    FX_EXPECT_COUNT(&f, 2);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.out[0].p.seq, FX_IRS + 1, 0);
    FX_EXPECT(&f, 1, TCPW_SYN | TCPW_ACK, f.out[1].p.seq, 90001, 0);
    CHECK_EQ_U(f.out[1].p.dst.port, 40001);
    CHECK(table_find_conn(f.s, &f.local, &f.remote) != NULL);
    CHECK(table_find_conn(f.s, &f.local, &other) != NULL);
    CHECK_EQ_U(f.listener->state, TCPW_LISTEN);
    fx_free(&f);
}

int main(void) {
    RUN(test_rst_ignored);
    RUN(test_ack_bearing_segment_rst);
    RUN(test_syn_creates_syn_rcvd);
    RUN(test_syn_with_data_acks_syn_only);
    RUN(test_syn_fin_acks_syn_only);
    RUN(test_other_segments_dropped);
    RUN(test_syn_options_answered);
    RUN(test_two_syns_two_connections);
    return test_summary();
}
