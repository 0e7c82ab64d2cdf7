/* test_state_syn_rcvd.c — SEGMENT ARRIVES in SYN_RCVD (RFC 9293 §3.10.7.4 with the
 * SYN-RECEIVED rules of each step), from a passive OPEN (a listener's child, fx_syn_rcvd) and
 * from an active one (simultaneous open, fx_syn_rcvd_active).
 *
 * In SYN_RCVD: SND.UNA = ISS, SND.NXT = ISS+1, RCV.NXT = IRS+1, RCV.WND = 8192.
 */
#include "fixture.h"

static void start_passive(fx *f) {
    fx_init(f);
    fx_start(f);
    fx_syn_rcvd(f);
}

static void start_active(fx *f) {
    fx_init(f);
    fx_start(f);
    fx_syn_rcvd_active(f);
}

/* The half-open child is gone and the listener is back to LISTEN with nothing pending. */
static void expect_back_to_listen(fx *f) {
    FX_EXPECT_NO_CONN(f);
    CHECK_EQ_U(f->listener->state, TCPW_LISTEN);
    CHECK(tcpw_accept(f->listener) == NULL);
    CHECK_EQ_U(tcpw_stack_stats(f->s)->conn_count, 1);
}

static void expect_child_state(fx *f, tcpw_state st) {
    tcpw_conn *c = table_find_conn(f->s, &f->local, &f->remote);
    REQUIRE(c);
    CHECK_STR(tcpw_state_name(c->state), tcpw_state_name(st));
}

/* ---- fifth: the ACK of our SYN ----------------------------------------------------------------
 */

/* SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED; nothing to send; the listener can accept it. */
static void test_ack_of_syn_establishes(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_child_state(&f, TCPW_ESTABLISHED);
    CHECK(fx_events(&f, f.listener) & TCPW_EV_ACCEPT);
    tcpw_conn *c = tcpw_accept(f.listener);
    CHECK(c == f.c);
    fx_free(&f);
}

/* Not acceptable: "form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it" — SYN_RCVD is not
 * synchronized (RFC 9293 §3.5.2 item 2: an ACK of something not yet sent is answered by a
 * reset). The connection stays in SYN_RCVD. Too old (=< SND.UNA) and beyond SND.NXT. */
static void test_unacceptable_ack_rst(void) {
    static const int32_t off[] = {0, -1, 2, 100000, -100000};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        fx f;
        start_passive(&f);
        uint32_t ack = f.iss + (uint32_t)off[i];
        fx_in(&f, TCPW_ACK, FX_IRS + 1, ack, NULL, 0);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_RST, ack, 0, 0);
        expect_child_state(&f, TCPW_SYN_RCVD);
        fx_free(&f);
    }
}

/* Fifth step: without ACK bit the segment is dropped: a FIN or data alone changes nothing. */
static void test_no_ack_bit_dropped(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_FIN, FX_IRS + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_in(&f, TCPW_PSH, FX_IRS + 1, 0, "data", 4);
    FX_EXPECT_NOTHING(&f);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* The ACK of our SYN with text: ESTABLISHED, then the seventh step delivers the text and
 * acknowledges it <SEQ=SND.NXT><ACK=RCV.NXT>. */
static void test_ack_with_data(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "hello", 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 6, 0);
    expect_child_state(&f, TCPW_ESTABLISHED);
    tcpw_conn *c = tcpw_accept(f.listener);
    REQUIRE(c);
    char b[8];
    CHECK_EQ_U(tcpw_recv(c, b, sizeof b, f.now), 5);
    fx_free(&f);
}

/* The ACK of our SYN with a FIN: ESTABLISHED at the fifth step, CLOSE_WAIT at the eighth
 * ("SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the CLOSE-WAIT state"), FIN acknowledged. */
static void test_ack_with_fin(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    expect_child_state(&f, TCPW_CLOSE_WAIT);
    tcpw_conn *c = tcpw_accept(f.listener);
    REQUIRE(c);
    CHECK(fx_events(&f, c) & TCPW_EV_EOF);
    fx_free(&f);
}

/* ---- first: sequence number check ---------------------------------------------------------- */

/* Not acceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, dropped, still SYN_RCVD. */
static void test_data_outside_window_ack(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_RCV_EDGE, f.iss + 1, "data", 4);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* ---- second: RST (RFC 5961 §3.2, RFC 9293 §3.10.7.4) --------------------------------------- */

/* Exactly RCV.NXT, passive OPEN: "return this connection to LISTEN state and return. The user
 * need not be informed." Nothing is sent. */
static void test_rst_exact_passive_back_to_listen(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_back_to_listen(&f);
    CHECK_EQ_U(fx_events(&f, f.listener), 0);
    /* the listener takes the next SYN as before */
    fx_in(&f, TCPW_SYN, FX_IRS + 5000, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.out[0].p.seq, FX_IRS + 5001, 0);
    fx_free(&f);
}

/* Exactly RCV.NXT, active OPEN: "the connection was refused; signal the user 'connection
 * refused'", CLOSED, TCB deleted. */
static void test_rst_exact_active_refused(void) {
    fx f;
    start_active(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    CHECK(fx_events(&f, f.c) & TCPW_EV_REFUSED);
    CHECK_EQ_U(tcpw_send(f.c, "x", 1, f.now), (uint64_t)(int64_t)TCPW_EREFUSED);
    fx_free(&f);
}

/* In the window, not exact: challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>. Outside: dropped. */
static void test_rst_in_window_and_outside(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_clear(&f);
    fx_in(&f, TCPW_RST, FX_RCV_EDGE, 0, NULL, 0);
    fx_in(&f, TCPW_RST | TCPW_ACK, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* ---- fourth: SYN ---------------------------------------------------------------------------- */

/* Passive OPEN: "return this connection to the LISTEN state and return" — a SYN in the window
 * with a new ISN (the peer started over). Nothing is sent. */
static void test_syn_in_window_passive_back_to_listen(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_SYN, FX_IRS + 100, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_back_to_listen(&f);
    fx_free(&f);
}

/* The same for a SYN+ACK in the window: the SYN bit decides (fourth step before fifth). */
static void test_syn_ack_in_window_passive_back_to_listen(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS + 100, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_back_to_listen(&f);
    fx_free(&f);
}

/* Active OPEN: the synchronized-state rule, RFC 5961 §4.2: challenge ACK, segment dropped. */
static void test_syn_in_window_active_challenge_ack(void) {
    fx f;
    start_active(&f);
    fx_in(&f, TCPW_SYN, FX_IRS + 100, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    FX_EXPECT_STATE(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* A SYN outside the window is answered at the first step (sequence check) with an ACK. */
static void test_syn_outside_window_ack(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_SYN, FX_IRS + 100000, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* The peer's SYN again (same ISN: our SYN+ACK was lost). input.c documents the choice to
 * answer it with our SYN+ACK again, <SEQ=ISS><ACK=IRS+1> (as Linux does), rather than the
 * first step's bare ACK, which a peer still in SYN_SENT would drop. */
static void test_retransmitted_syn_resends_syn_ack(void) {
    fx f;
    start_passive(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.iss, FX_IRS + 1, 0);
    expect_child_state(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

/* Simultaneous open, the peer's SYN+ACK <SEQ=IRS><ACK=ISS+1>: RFC 9293 §3.5 Figure 8 line 6
 * goes to ESTABLISHED. Its SYN lies before RCV.NXT (trimmed as an old part of the segment,
 * §3.10.7.4 first: "trimming off any portions that lie outside the window (including SYN and
 * FIN)"); its ACK of our SYN completes the handshake. Nothing needs to be sent. */
static void test_simultaneous_open_syn_ack(void) {
    fx f;
    start_active(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    CHECK(fx_events(&f, f.c) & TCPW_EV_CONNECTED);
    fx_free(&f);
}

/* The same SYN+ACK acknowledging something never sent is no ACK of our SYN: reset
 * <SEQ=SEG.ACK><CTL=RST> (SYN-RECEIVED, fifth step), still SYN_RCVD. */
static void test_simultaneous_open_syn_ack_bad_ack(void) {
    fx f;
    start_active(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 5, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 5, 0, 0);
    FX_EXPECT_STATE(&f, TCPW_SYN_RCVD);
    fx_free(&f);
}

int main(void) {
    RUN(test_ack_of_syn_establishes);
    RUN(test_unacceptable_ack_rst);
    RUN(test_no_ack_bit_dropped);
    RUN(test_ack_with_data);
    RUN(test_ack_with_fin);
    RUN(test_data_outside_window_ack);
    RUN(test_rst_exact_passive_back_to_listen);
    RUN(test_rst_exact_active_refused);
    RUN(test_rst_in_window_and_outside);
    RUN(test_syn_in_window_passive_back_to_listen);
    RUN(test_syn_ack_in_window_passive_back_to_listen);
    RUN(test_syn_in_window_active_challenge_ack);
    RUN(test_syn_outside_window_ack);
    RUN(test_retransmitted_syn_resends_syn_ack);
    RUN(test_simultaneous_open_syn_ack);
    RUN(test_simultaneous_open_syn_ack_bad_ack);
    return test_summary();
}
