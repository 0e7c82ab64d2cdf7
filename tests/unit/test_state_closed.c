/* test_state_closed.c — SEGMENT ARRIVES for no connection at all (RFC 9293 §3.10.7.1):
 *
 *   "An incoming segment containing a RST is discarded. An incoming segment not containing a
 *    RST causes a RST to be sent in response ... If the ACK bit is off, sequence number zero is
 *    used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>"
 *
 * SEG.LEN counts the data and the SYN and FIN flags. "No connection" covers a port nobody
 * listens on, a connection that was reset (the handle may still be held in CLOSED), and one
 * whose TCB was deleted after LAST_ACK.
 */
#include "fixture.h"

#define PEER_SEQ 5000u

static void start(fx *f) {
    fx_init(f);
    fx_start(f);
}

/* Without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, for every SEG.LEN. */
static void test_no_ack_bit_rst_ack_seg_len(void) {
    static const struct {
        uint8_t flags;
        uint32_t data, seg_len;
    } cases[] = {
        {TCPW_SYN, 0, 1},
        {TCPW_SYN, 5, 6},
        {TCPW_PSH, 10, 10},
        {TCPW_FIN, 0, 1},
        {TCPW_FIN | TCPW_PSH, 3, 4},
        {TCPW_SYN | TCPW_FIN, 0, 2},
        {0, 0, 0},
        {TCPW_URG, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx f;
        start(&f);
        fx_in(&f, cases[i].flags, PEER_SEQ, 0, "0123456789", cases[i].data);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_RST | TCPW_ACK, 0, PEER_SEQ + cases[i].seg_len, 0);
        CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
        fx_free(&f);
    }
}

/* With ACK: <SEQ=SEG.ACK><CTL=RST>, whatever else the segment carries. */
static void test_ack_bit_rst_seq_seg_ack(void) {
    static const uint8_t flags[] = {TCPW_ACK, TCPW_ACK | TCPW_PSH, TCPW_SYN | TCPW_ACK,
                                    TCPW_FIN | TCPW_ACK};
    for (size_t i = 0; i < sizeof flags; i++) {
        fx f;
        start(&f);
        fx_in(&f, flags[i], PEER_SEQ, 0xdeadbeefu, "abc", (flags[i] & TCPW_PSH) ? 3 : 0);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_RST, 0xdeadbeefu, 0, 0);
        CHECK_EQ_U(f.out[0].p.ack, 0);
        CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
        fx_free(&f);
    }
}

/* "An incoming segment containing a RST is discarded." */
static void test_rst_discarded(void) {
    static const uint8_t flags[] = {TCPW_RST, TCPW_RST | TCPW_ACK, TCPW_RST | TCPW_SYN,
                                    TCPW_RST | TCPW_FIN | TCPW_ACK};
    for (size_t i = 0; i < sizeof flags; i++) {
        fx f;
        start(&f);
        fx_in(&f, flags[i], PEER_SEQ, 1234, NULL, 0);
        FX_EXPECT_NOTHING(&f);
        CHECK_EQ_U(tcpw_stack_stats(f.s)->rst_sent, 0);
        CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
        fx_free(&f);
    }
}

/* A listener on another port changes nothing: port 81 has no connection. */
static void test_other_port_listening(void) {
    fx f;
    start(&f);
    fx_listen(&f); /* port 80 */
    f.local.port = 81;
    fx_in(&f, TCPW_SYN, PEER_SEQ, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST | TCPW_ACK, 0, PEER_SEQ + 1, 0);
    CHECK(table_find_conn(f.s, &f.local, &f.remote) == NULL);
    CHECK_EQ_U(f.listener->state, TCPW_LISTEN);
    fx_free(&f);
}

/* A reset connection is CLOSED: its TCB is deleted even though the application still holds
 * the handle, so the peer's next segment is answered by the CLOSED rules. */
static void test_after_reset_connection_is_closed(void) {
    fx f;
    start(&f);
    fx_established_active(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "late", 4);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 1, 0, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

/* LAST_ACK -> CLOSED deletes the TCB (§3.10.7.4 fifth); a late retransmission of the peer's
 * FIN then meets no connection: <SEQ=SEG.ACK><CTL=RST>. */
static void test_after_last_ack_connection_is_closed(void) {
    fx f;
    start(&f);
    fx_last_ack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 1, 0, 0);
    fx_free(&f);
}

/* The handle given up in CLOSED (tcpw_close after a reset) changes nothing on the wire. */
static void test_closed_handle_close_sends_nothing(void) {
    fx f;
    start(&f);
    fx_established(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 1); /* the listener */
    fx_free(&f);
}

int main(void) {
    RUN(test_no_ack_bit_rst_ack_seg_len);
    RUN(test_ack_bit_rst_seq_seg_ack);
    RUN(test_rst_discarded);
    RUN(test_other_port_listening);
    RUN(test_after_reset_connection_is_closed);
    RUN(test_after_last_ack_connection_is_closed);
    RUN(test_closed_handle_close_sends_nothing);
    return test_summary();
}
