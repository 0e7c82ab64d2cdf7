/* test_state_syn_sent.c — SEGMENT ARRIVES in SYN_SENT (RFC 9293 §3.10.7.3): first the ACK
 * (acceptable iff ISS < SEG.ACK =< SND.NXT, else <SEQ=SEG.ACK><CTL=RST> unless RST), second
 * RST (with an acceptable ACK the connection is refused, without one it is dropped), fourth
 * SYN (ESTABLISHED if our SYN is acknowledged, else SYN_RCVD: simultaneous open), fifth
 * anything without SYN or RST is dropped.
 *
 * The stack connects from 192.0.2.2:80 to the peer; ISS is read from its SYN.
 */
#include "fixture.h"

static void start_syn_sent(fx *f) {
    fx_init(f);
    fx_start(f);
    fx_syn_sent(f);
}

/* RFC 9293 §3.10.1 OPEN: <SEQ=ISS><CTL=SYN>, SND.UNA = ISS, SND.NXT = ISS+1, SYN_SENT. */
static void test_connect_sends_syn(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    tcpw_conn *c = NULL;
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c), TCPW_OK);
    REQUIRE(c);
    FX_EXPECT_COUNT(&f, 1);
    uint32_t iss = f.out[0].p.seq;
    FX_EXPECT(&f, 0, TCPW_SYN, iss, 0, 0);
    CHECK(f.out[0].p.opts.has_mss);
    tcpw_conn_info info;
    tcpw_status(c, &info);
    CHECK_EQ_U(info.state, TCPW_SYN_SENT);
    CHECK_EQ_U(info.snd_una, iss);
    CHECK_EQ_U(info.snd_nxt, iss + 1);
    fx_free(&f);
}

/* Fourth: SYN with an acceptable ACK: RCV.NXT = SEG.SEQ+1, SND.UNA = SEG.ACK, ESTABLISHED, and
 * <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. The application hears CONNECTED. */
static void test_syn_ack_establishes(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    tcpw_conn_info info;
    tcpw_status(f.c, &info);
    CHECK_EQ_U(info.irs, FX_IRS);
    CHECK_EQ_U(info.rcv_nxt, FX_IRS + 1);
    CHECK_EQ_U(info.snd_una, f.iss + 1);
    CHECK(fx_events(&f, f.c) & TCPW_EV_CONNECTED);
    fx_free(&f);
}

/* First: SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>, segment discarded, the
 * state unchanged. With SYN or without, and whatever else the segment holds. */
static void test_unacceptable_ack_rst(void) {
    /* SEG.ACK - ISS: =< 0 is too old, > 1 acknowledges what was never sent */
    static const int32_t bad[] = {0, -1000, 2, 0x10000000};
    static const uint8_t flags[] = {TCPW_SYN | TCPW_ACK, TCPW_ACK, TCPW_FIN | TCPW_ACK};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t j = 0; j < sizeof flags; j++) {
            fx f;
            start_syn_sent(&f);
            uint32_t ack = f.iss + (uint32_t)bad[i];
            fx_in(&f, flags[j], FX_IRS, ack, NULL, 0);
            FX_EXPECT_COUNT(&f, 1);
            FX_EXPECT(&f, 0, TCPW_RST, ack, 0, 0);
            FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
            fx_free(&f);
        }
    }
}

/* First: an unacceptable ACK on a RST: "unless the RST bit is set, if so drop the segment". */
static void test_rst_with_unacceptable_ack_dropped(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_RST | TCPW_ACK, FX_IRS, f.iss, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
    fx_in(&f, TCPW_RST | TCPW_ACK, FX_IRS, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
    fx_free(&f);
}

/* Second: RST with an acceptable ACK: the connection is refused (tcpwave reports it as
 * TCPW_EV_REFUSED / TCPW_EREFUSED, the socket ECONNREFUSED), CLOSED, TCB deleted, nothing
 * sent. */
static void test_rst_with_acceptable_ack_refuses(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_RST | TCPW_ACK, 0, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    CHECK(fx_events(&f, f.c) & TCPW_EV_REFUSED);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), (uint64_t)(int64_t)TCPW_EREFUSED);
    CHECK_EQ_U(tcpw_send(f.c, "x", 1, f.now), (uint64_t)(int64_t)TCPW_EREFUSED);
    fx_free(&f);
}

/* Second: a RST without ACK is dropped ("Otherwise (no ACK), drop the segment and return"). */
static void test_rst_without_ack_dropped(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_RST, 0, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
    fx_in(&f, TCPW_RST | TCPW_SYN, FX_IRS, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
    fx_free(&f);
}

/* The RST check comes before the SYN check: SYN+ACK+RST with an acceptable ACK refuses. */
static void test_syn_ack_rst_refuses(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK | TCPW_RST, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

/* Fourth, SYN without ACK (simultaneous open): SYN_RCVD and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
static void test_syn_simultaneous_open(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.iss, FX_IRS + 1, 0);
    FX_EXPECT_STATE(&f, TCPW_SYN_RCVD);
    tcpw_conn_info info;
    tcpw_status(f.c, &info);
    CHECK_EQ_U(info.snd_nxt, f.iss + 1);
    CHECK_EQ_U(info.rcv_nxt, FX_IRS + 1);
    fx_free(&f);
}

/* Fifth: "if neither of the SYN or RST bits is set, then drop the segment and return" — an
 * acceptable ACK, a FIN, data: nothing sent, still SYN_SENT, nothing delivered. */
static void test_no_syn_no_rst_dropped(void) {
    static const uint8_t flags[] = {TCPW_ACK, TCPW_FIN | TCPW_ACK, TCPW_ACK | TCPW_PSH, TCPW_FIN,
                                    TCPW_PSH};
    for (size_t i = 0; i < sizeof flags; i++) {
        fx f;
        start_syn_sent(&f);
        bool ack = flags[i] & TCPW_ACK;
        fx_in(&f, flags[i], FX_IRS + 1, ack ? f.iss + 1 : 0, "data", (flags[i] & TCPW_PSH) ? 4 : 0);
        FX_EXPECT_NOTHING(&f);
        FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
        char b[8];
        CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), (uint64_t)(int64_t)TCPW_EAGAIN);
        fx_free(&f);
    }
}

/* Fourth, then "continue processing at the sixth step": text on the SYN+ACK is delivered and
 * acknowledged. RFC 9293 lets the ACK of the SYN be suppressed when the text's ACK follows:
 * one ACK covering SYN and text. */
static void test_syn_ack_with_data(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK | TCPW_PSH, FX_IRS, f.iss + 1, "hello", 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 6, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    char b[8];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 5);
    CHECK(memcmp(b, "hello", 5) == 0);
    fx_free(&f);
}

/* ... and a FIN on the SYN+ACK is processed at the eighth step: CLOSE_WAIT, FIN acknowledged. */
static void test_syn_ack_with_fin(void) {
    fx f;
    start_syn_sent(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK | TCPW_FIN, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    CHECK(fx_events(&f, f.c) & TCPW_EV_EOF);
    fx_free(&f);
}

/* RFC 9293 §3.7.1: the peer's MSS option bounds our segments; without the option, 536. */
static void test_send_mss_from_syn_ack(void) {
    static char data[3000];
    fx f;
    start_syn_sent(&f);
    tcpw_tcp_opts o;
    memset(&o, 0, sizeof o);
    o.has_mss = true;
    o.mss = 1000;
    fx_in_opts(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, 65535, &o, NULL, 0);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_send(f.c, data, 2500, f.now), 2500);
    FX_EXPECT_COUNT(&f, 3);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 1000);
    FX_EXPECT(&f, 1, TCPW_ACK, f.iss + 1001, FX_IRS + 1, 1000);
    FX_EXPECT(&f, 2, TCPW_ACK | TCPW_PSH, f.iss + 2001, FX_IRS + 1, 500);
    fx_free(&f);

    start_syn_sent(&f);
    fx_in_opts(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, 65535, NULL, NULL, 0);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_send(f.c, data, 1000, f.now), 1000);
    FX_EXPECT_COUNT(&f, 2);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 536);
    FX_EXPECT(&f, 1, TCPW_ACK | TCPW_PSH, f.iss + 537, FX_IRS + 1, 464);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

int main(void) {
    RUN(test_connect_sends_syn);
    RUN(test_syn_ack_establishes);
    RUN(test_unacceptable_ack_rst);
    RUN(test_rst_with_unacceptable_ack_dropped);
    RUN(test_rst_with_acceptable_ack_refuses);
    RUN(test_rst_without_ack_dropped);
    RUN(test_syn_ack_rst_refuses);
    RUN(test_syn_simultaneous_open);
    RUN(test_no_syn_no_rst_dropped);
    RUN(test_syn_ack_with_data);
    RUN(test_syn_ack_with_fin);
    RUN(test_send_mss_from_syn_ack);
    return test_summary();
}
