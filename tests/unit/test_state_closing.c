/* test_state_closing.c — SEGMENT ARRIVES in the closing states, FIN_WAIT_1, FIN_WAIT_2,
 * CLOSE_WAIT, CLOSING and LAST_ACK (RFC 9293 §3.10.7.4, fifth step per state and eighth step),
 * beyond the rules all synchronized states share (test_state_synchronized.c).
 *
 * Along the fixture paths our FIN is ISS+1 and the peer's FIN IRS+1:
 *   FIN_WAIT_1  SND.UNA = ISS+1  SND.NXT = ISS+2  RCV.NXT = IRS+1
 *   FIN_WAIT_2  SND.UNA = ISS+2  SND.NXT = ISS+2  RCV.NXT = IRS+1
 *   CLOSE_WAIT  SND.UNA = ISS+1  SND.NXT = ISS+1  RCV.NXT = IRS+2
 *   CLOSING     SND.UNA = ISS+1  SND.NXT = ISS+2  RCV.NXT = IRS+2
 *   LAST_ACK    SND.UNA = ISS+1  SND.NXT = ISS+2  RCV.NXT = IRS+2
 */
#include "fixture.h"

#define MSL_US (30000ull * 1000) /* cfg.msl_ms default */

static void start(fx *f, tcpw_state st) {
    fx_init(f);
    fx_start(f);
    fx_enter(f, st);
}

/* ---- FIN_WAIT_1 ------------------------------------------------------------------------------ */

/* Fifth step: "if the FIN segment is now acknowledged, then enter FIN-WAIT-2". While the user
 * holds the connection FIN_WAIT_2 has no timer: it lasts until the peer's FIN (the user's
 * CLOSE "can be acknowledged"). */
static void test_fin_wait_1_ack_of_fin(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_1);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_FIN_WAIT_2);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    fx_free(&f);
}

/* Eighth step, our FIN not yet acknowledged: CLOSING, and the peer's FIN acknowledged
 * <SEQ=SND.NXT><ACK=RCV.NXT> (simultaneous close, RFC 9293 Figure 13). */
static void test_fin_wait_1_fin_enters_closing(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_1);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSING);
    fx_free(&f);
}

/* Eighth step: "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT,
 * start the time-wait timer, turn off the other timers". The FIN retransmission timer of
 * FIN_WAIT_1 is off: the only deadline left is 2MSL. */
static void test_fin_wait_1_fin_ack_enters_time_wait(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_1);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_TIME_WAIT);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + 2 * MSL_US);
    fx_free(&f);
}

/* The FIN follows queued data: an ACK of the data alone leaves FIN_WAIT_1; the ACK of the FIN
 * (one beyond the data) reaches FIN_WAIT_2. */
static void test_fin_wait_1_partial_ack(void) {
    fx f;
    start(&f, TCPW_ESTABLISHED);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    CHECK_EQ_U(tcpw_shutdown(f.c, f.now), TCPW_OK);
    REQUIRE(f.nout >= 1);
    /* the FIN takes ISS+11, after the ten bytes (in its own segment or on the data's) */
    const tcpw_packet *last = &f.out[f.nout - 1].p;
    CHECK(last->flags & TCPW_FIN);
    CHECK_EQ_U(last->seq + last->payload_len, f.iss + 11);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 11, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_FIN_WAIT_1);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 12, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_FIN_WAIT_2);
    fx_free(&f);
}

/* Text and FIN, our FIN acknowledged, all in one segment: text delivered, TIME_WAIT, one ACK
 * covering text and FIN. */
static void test_fin_wait_1_data_fin_ack(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_1);
    fx_in(&f, TCPW_FIN | TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 2, "last", 4);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 6, 0);
    FX_EXPECT_STATE(&f, TCPW_TIME_WAIT);
    char b[8];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 4);
    fx_free(&f);
}

/* ---- FIN_WAIT_2 ------------------------------------------------------------------------------ */

/* Eighth step: "Enter the TIME-WAIT state. Start the time-wait timer", FIN acknowledged. */
static void test_fin_wait_2_fin_enters_time_wait(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_2);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_TIME_WAIT);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + 2 * MSL_US);
    CHECK(fx_events(&f, f.c) & TCPW_EV_EOF);
    fx_free(&f);
}

/* A FIN beyond a gap waits for the gap ("processed in sequence"): duplicate ACK, FIN_WAIT_2. */
static void test_fin_wait_2_fin_after_gap(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_2);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 11, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 1, 0);
    FX_EXPECT_STATE(&f, TCPW_FIN_WAIT_2);
    fx_free(&f);
}

/* Half-close: FIN_WAIT_2 still receives (RFC 9293 §3.6.1), FIN with text included. */
static void test_fin_wait_2_data_and_fin(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_2);
    fx_in(&f, TCPW_FIN | TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 2, "tail", 4);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 6, 0);
    FX_EXPECT_STATE(&f, TCPW_TIME_WAIT);
    char b[8];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 4);
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 0);
    fx_free(&f);
}

/* RFC 1122 §4.2.2.13 / RFC 2525 §2.17: after close() "if new data is received after CLOSE is
 * called, its TCP SHOULD send a RST to show that data was lost": <SEQ=SND.NXT><CTL=RST>, and
 * the connection is gone. */
static void test_orphan_fin_wait_2_data_rst(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_2);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_NOTHING(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 2, "late", 4);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 2, 0, 0);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    fx_free(&f);
}

/* The same in FIN_WAIT_1 after close(). */
static void test_orphan_fin_wait_1_data_rst(void) {
    fx f;
    start(&f, TCPW_ESTABLISHED);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "late", 4);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 2, 0, 0);
    FX_EXPECT_NO_CONN(&f);
    fx_free(&f);
}

/* An orphaned FIN_WAIT_2 still closes in order on the peer's FIN: TIME_WAIT, now a compact
 * record since nobody holds the connection. */
static void test_orphan_fin_wait_2_fin(void) {
    fx f;
    start(&f, TCPW_FIN_WAIT_2);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + 2 * MSL_US);
    fx_free(&f);
}

/* ---- CLOSE_WAIT ------------------------------------------------------------------------------ */

/* Fifth step "Do the same processing as for the ESTABLISHED state": we may still send, and
 * the ACK of it is processed. */
static void test_close_wait_send_and_ack(void) {
    fx f;
    start(&f, TCPW_CLOSE_WAIT);
    CHECK_EQ_U(tcpw_send(f.c, "reply", 5, f.now), 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 2, 5);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 6, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    tcpw_conn_info info;
    tcpw_status(f.c, &info);
    CHECK_EQ_U(info.snd_una, f.iss + 6);
    CHECK_EQ_U(info.send_queued, 0);
    fx_free(&f);
}

/* ---- CLOSING --------------------------------------------------------------------------------- */

/* Fifth step: "if the ACK acknowledges our FIN, then enter the TIME-WAIT state"; 2MSL starts. */
static void test_closing_ack_of_fin(void) {
    fx f;
    start(&f, TCPW_CLOSING);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_TIME_WAIT);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + 2 * MSL_US);
    fx_free(&f);
}

/* "... otherwise, ignore the segment": a duplicate ACK changes nothing. */
static void test_closing_other_ack_ignored(void) {
    fx f;
    start(&f, TCPW_CLOSING);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSING);
    fx_free(&f);
}

/* The peer's FIN again lies before RCV.NXT: not acceptable, ACK <SEQ=SND.NXT><ACK=RCV.NXT>,
 * dropped — its ACK field is not looked at, so CLOSING remains even if it acknowledges our
 * FIN (first step: "drop the unacceptable segment and return"). */
static void test_closing_retransmitted_fin(void) {
    fx f;
    start(&f, TCPW_CLOSING);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSING);
    fx_clear(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSING);
    fx_free(&f);
}

/* ---- LAST_ACK -------------------------------------------------------------------------------- */

/* "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state, and return." */
static void test_last_ack_ack_of_fin(void) {
    fx f;
    start(&f, TCPW_LAST_ACK);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    CHECK(fx_events(&f, f.c) & TCPW_EV_CLOSED);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    fx_free(&f);
}

/* Anything else leaves LAST_ACK: a duplicate ACK (nothing sent), the peer's FIN again (ACK). */
static void test_last_ack_other_segments(void) {
    fx f;
    start(&f, TCPW_LAST_ACK);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_LAST_ACK);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_LAST_ACK);
    fx_free(&f);
}

/* Data queued before the close: the FIN follows it; only the ACK beyond the data — of the FIN
 * itself — ends LAST_ACK. */
static void test_last_ack_fin_after_data(void) {
    fx f;
    start(&f, TCPW_CLOSE_WAIT);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    CHECK_EQ_U(tcpw_shutdown(f.c, f.now), TCPW_OK);
    FX_EXPECT_STATE(&f, TCPW_LAST_ACK);
    REQUIRE(f.nout >= 1);
    const tcpw_packet *last = &f.out[f.nout - 1].p;
    CHECK(last->flags & TCPW_FIN);
    CHECK_EQ_U(last->seq + last->payload_len, f.iss + 11);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 11, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_LAST_ACK);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 12, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

int main(void) {
    RUN(test_fin_wait_1_ack_of_fin);
    RUN(test_fin_wait_1_fin_enters_closing);
    RUN(test_fin_wait_1_fin_ack_enters_time_wait);
    RUN(test_fin_wait_1_partial_ack);
    RUN(test_fin_wait_1_data_fin_ack);
    RUN(test_fin_wait_2_fin_enters_time_wait);
    RUN(test_fin_wait_2_fin_after_gap);
    RUN(test_fin_wait_2_data_and_fin);
    RUN(test_orphan_fin_wait_2_data_rst);
    RUN(test_orphan_fin_wait_1_data_rst);
    RUN(test_orphan_fin_wait_2_fin);
    RUN(test_close_wait_send_and_ack);
    RUN(test_closing_ack_of_fin);
    RUN(test_closing_other_ack_ignored);
    RUN(test_closing_retransmitted_fin);
    RUN(test_last_ack_ack_of_fin);
    RUN(test_last_ack_other_segments);
    RUN(test_last_ack_fin_after_data);
    return test_summary();
}
