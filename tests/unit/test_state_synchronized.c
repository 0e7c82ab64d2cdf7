/* test_state_synchronized.c — the rules RFC 9293 §3.10.7.4 and RFC 5961 give alike for every
 * synchronized state, table-driven: each row puts a fresh fixture into each of ESTABLISHED,
 * FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK (and TIME_WAIT with the handle held,
 * where its rule is the same), feeds it one segment and checks the exact segments sent and the
 * state after.
 *
 * The expected numbers come from the RFC along the fixture paths (fixture.h: fx_snd_nxt,
 * fx_snd_una, fx_rcv_nxt, FX_RCV_EDGE), never from the engine. The peer's window is 8192 in
 * every segment it sent, so MAX.SND.WND (RFC 5961 §5.2) is 8192.
 */
#include "fixture.h"

#define MAX_SND_WND 8192u

static const tcpw_state open_states[] = {TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2,
                                         TCPW_CLOSE_WAIT,  TCPW_CLOSING,    TCPW_LAST_ACK};
static const tcpw_state all_states[] = {TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2,
                                        TCPW_CLOSE_WAIT,  TCPW_CLOSING,    TCPW_LAST_ACK,
                                        TCPW_TIME_WAIT};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef void (*row_fn)(fx *f, tcpw_state st);

/* Runs one row in one state on a fresh fixture; names the state when a check failed. */
static void run_row(const char *row, tcpw_state st, row_fn fn) {
    int before = test_failed_checks;
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_enter(&f, st);
    if (fx_state(&f) != st) {
        CHECK_STR(tcpw_state_name(fx_state(&f)), tcpw_state_name(st));
    } else {
        fn(&f, st);
    }
    fx_free(&f);
    if (test_failed_checks != before)
        fprintf(stderr, "    ^ row %s in state %s\n", row, tcpw_state_name(st));
}

#define RUN_ROWS(states, fn)                                                                       \
    for (size_t i_ = 0; i_ < COUNT(states); i_++)                                                  \
    run_row(#fn, states[i_], fn)

/* The one ACK of RFC 9293 §3.10.7.4 (and RFC 5961's challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT>. */
static void expect_one_ack(fx *f, tcpw_state st) {
    FX_EXPECT_COUNT(f, 1);
    FX_EXPECT(f, 0, TCPW_ACK, fx_snd_nxt(f, st), fx_rcv_nxt(st), 0);
}

static bool reports_reset(tcpw_state st) {
    return st == TCPW_ESTABLISHED || st == TCPW_FIN_WAIT_1 || st == TCPW_FIN_WAIT_2 ||
           st == TCPW_CLOSE_WAIT;
}

/* ---- RST (RFC 9293 §3.10.7.4 second, RFC 5961 §3.2) ----------------------------------------- */

/* RFC 5961 §3.2 (2) / RFC 9293 §3.10.7.4 second: SEG.SEQ = RCV.NXT resets. ESTABLISHED,
 * FIN_WAIT_1/2, CLOSE_WAIT: SENDs get "reset", the user a "connection reset" signal; CLOSING,
 * LAST_ACK: enter CLOSED, delete the TCB. No RST is ever answered with a RST (§3.5.3). */
static void row_rst_exact(fx *f, tcpw_state st) {
    fx_in(f, TCPW_RST, fx_rcv_nxt(st), 0, NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(f);
    if (reports_reset(st)) {
        CHECK_EQ_U(tcpw_send(f->c, "x", 1, f->now), (uint64_t)(int64_t)TCPW_ERESET);
        CHECK(fx_events(f, f->c) & TCPW_EV_RESET);
    }
    FX_EXPECT_NOTHING(f);
}

/* The same with the ACK bit set (a RST in reply to something we sent). */
static void row_rst_ack_exact(fx *f, tcpw_state st) {
    fx_in(f, TCPW_RST | TCPW_ACK, fx_rcv_nxt(st), fx_snd_nxt(f, st), NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(f);
}

/* RFC 5961 §3.2 (3): in the window but not exactly RCV.NXT: a challenge ACK, and the segment is
 * dropped. Both ends of the window. */
static void row_rst_in_window(fx *f, tcpw_state st) {
    fx_in(f, TCPW_RST, fx_rcv_nxt(st) + 1, 0, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    fx_clear(f);
    fx_in(f, TCPW_RST | TCPW_ACK, FX_RCV_EDGE - 1, fx_snd_nxt(f, st), NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
}

/* RFC 5961 §3.2 (1): outside the window: silently dropped (a RST is never acknowledged,
 * RFC 9293 §3.10.7.4 first). Just right of the window, and just left of it. */
static void row_rst_outside(fx *f, tcpw_state st) {
    fx_in(f, TCPW_RST, FX_RCV_EDGE, 0, NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
    fx_in(f, TCPW_RST | TCPW_ACK, fx_rcv_nxt(st) - 1, fx_snd_nxt(f, st), NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
    fx_in(f, TCPW_RST, fx_rcv_nxt(st) + 0x40000000u, 0, NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
}

/* ---- SYN (RFC 9293 §3.10.7.4 fourth, RFC 5961 §4.2) ----------------------------------------- */

/* RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence number, TCP MUST send an
 * ACK (also referred to as challenge ACK)" and drop the segment. In the window: */
static void row_syn_in_window(fx *f, tcpw_state st) {
    fx_in(f, TCPW_SYN, fx_rcv_nxt(st), 0, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    fx_clear(f);
    fx_in(f, TCPW_SYN | TCPW_ACK, fx_rcv_nxt(st) + 100, fx_snd_nxt(f, st), NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
}

/* Outside the window the first step (sequence check) already answers with the same ACK. */
static void row_syn_outside(fx *f, tcpw_state st) {
    fx_in(f, TCPW_SYN, FX_RCV_EDGE + 1000, 0, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    fx_clear(f);
    fx_in(f, TCPW_SYN, fx_rcv_nxt(st) - 1000, 0, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
}

/* ---- ACK (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5.2) ------------------------------------------ */

/* SEG.ACK > SND.NXT: "send an ACK, drop the segment, and return" — also in CLOSING and
 * LAST_ACK, where it must not be taken for the ACK of our FIN. */
static void row_ack_beyond_snd_nxt(fx *f, tcpw_state st) {
    fx_in(f, TCPW_ACK, fx_rcv_nxt(st), fx_snd_nxt(f, st) + 1, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    fx_clear(f);
    fx_in(f, TCPW_ACK, fx_rcv_nxt(st), fx_snd_nxt(f, st) + 100000, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
}

/* RFC 5961 §5.2: with data, the segment is discarded whole (blind data injection): the ACK
 * still says RCV.NXT and nothing reaches the application. */
static void row_ack_beyond_with_data(fx *f, tcpw_state st) {
    fx_in(f, TCPW_ACK | TCPW_PSH, fx_rcv_nxt(st), fx_snd_nxt(f, st) + 1, "evil", 4);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    char b[8];
    if (st != TCPW_TIME_WAIT) CHECK(tcpw_recv(f->c, b, sizeof b, f->now) <= 0);
}

/* RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND: discarded, and an ACK sent. */
static void row_old_ack(fx *f, tcpw_state st) {
    fx_in(f, TCPW_ACK, fx_rcv_nxt(st), fx_snd_una(f, st) - MAX_SND_WND - 1, NULL, 0);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    fx_clear(f);
    fx_in(f, TCPW_ACK | TCPW_PSH, fx_rcv_nxt(st), fx_snd_una(f, st) - 0x10000000u, "evil", 4);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    char b[8];
    if (st != TCPW_TIME_WAIT) CHECK(tcpw_recv(f->c, b, sizeof b, f->now) <= 0);
}

/* SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.UNA is acceptable (RFC 5961 §5.2): a duplicate,
 * "it can be ignored" (RFC 9293 §3.10.7.4 fifth). Nothing is sent. */
static void row_duplicate_ack(fx *f, tcpw_state st) {
    fx_in(f, TCPW_ACK, fx_rcv_nxt(st), fx_snd_una(f, st) - MAX_SND_WND, NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
    fx_in(f, TCPW_ACK, fx_rcv_nxt(st), fx_snd_una(f, st), NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
}

/* Fifth step: "if the ACK bit is off, drop the segment and return" — data, or a FIN. */
static void row_no_ack_bit(fx *f, tcpw_state st) {
    fx_in(f, TCPW_PSH, fx_rcv_nxt(st), 0, "data", 4);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
    fx_in(f, TCPW_FIN, fx_rcv_nxt(st), 0, NULL, 0);
    FX_EXPECT_NOTHING(f);
    FX_EXPECT_STATE(f, st);
    char b[8];
    if (st != TCPW_TIME_WAIT) CHECK(tcpw_recv(f->c, b, sizeof b, f->now) <= 0);
}

/* ---- text (RFC 9293 §3.10.7.4 first and seventh) -------------------------------------------- */

/* First step: a segment not acceptable (data starting at or beyond RCV.NXT+RCV.WND, or lying
 * wholly before RCV.NXT) is answered <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped. */
static void row_data_outside_window(fx *f, tcpw_state st) {
    fx_in(f, TCPW_ACK | TCPW_PSH, FX_RCV_EDGE, fx_snd_una(f, st), "0123456789", 10);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    fx_clear(f);
    fx_in(f, TCPW_ACK | TCPW_PSH, fx_rcv_nxt(st) - 10, fx_snd_una(f, st), "0123456789", 10);
    expect_one_ack(f, st);
    FX_EXPECT_STATE(f, st);
    char b[16];
    if (st != TCPW_TIME_WAIT) CHECK(tcpw_recv(f->c, b, sizeof b, f->now) <= 0);
}

/* Seventh step: ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2 deliver the text and send
 * <SEQ=SND.NXT><ACK=RCV.NXT>; CLOSE_WAIT, CLOSING, LAST_ACK "ignore the segment text" (the
 * peer's FIN came before it): nothing is sent, nothing delivered. */
static void row_data_in_window(fx *f, tcpw_state st) {
    fx_in(f, TCPW_ACK | TCPW_PSH, fx_rcv_nxt(st), fx_snd_una(f, st), "0123456789", 10);
    char b[16];
    if (st == TCPW_ESTABLISHED || st == TCPW_FIN_WAIT_1 || st == TCPW_FIN_WAIT_2) {
        FX_EXPECT_COUNT(f, 1);
        FX_EXPECT(f, 0, TCPW_ACK, fx_snd_nxt(f, st), fx_rcv_nxt(st) + 10, 0);
        CHECK_EQ_U(tcpw_recv(f->c, b, sizeof b, f->now), 10);
    } else {
        FX_EXPECT_NOTHING(f);
        CHECK_EQ_U(tcpw_recv(f->c, b, sizeof b, f->now), 0); /* end of stream, no more */
    }
    FX_EXPECT_STATE(f, st);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_rst_exact_resets(void) {
    RUN_ROWS(open_states, row_rst_exact);
}
static void test_rst_ack_exact_resets(void) {
    RUN_ROWS(open_states, row_rst_ack_exact);
}
static void test_rst_in_window_challenge_ack(void) {
    RUN_ROWS(open_states, row_rst_in_window);
}
static void test_rst_outside_window_dropped(void) {
    RUN_ROWS(all_states, row_rst_outside);
}
static void test_syn_in_window_challenge_ack(void) {
    RUN_ROWS(all_states, row_syn_in_window);
}
static void test_syn_outside_window_ack(void) {
    RUN_ROWS(all_states, row_syn_outside);
}
static void test_ack_beyond_snd_nxt(void) {
    RUN_ROWS(all_states, row_ack_beyond_snd_nxt);
}
static void test_ack_beyond_with_data(void) {
    RUN_ROWS(all_states, row_ack_beyond_with_data);
}
static void test_old_ack_challenge(void) {
    RUN_ROWS(all_states, row_old_ack);
}
static void test_duplicate_ack_ignored(void) {
    RUN_ROWS(all_states, row_duplicate_ack);
}
static void test_no_ack_bit_dropped(void) {
    RUN_ROWS(all_states, row_no_ack_bit);
}
static void test_data_outside_window(void) {
    RUN_ROWS(all_states, row_data_outside_window);
}
static void test_data_in_window(void) {
    RUN_ROWS(open_states, row_data_in_window);
}

int main(void) {
    RUN(test_rst_exact_resets);
    RUN(test_rst_ack_exact_resets);
    RUN(test_rst_in_window_challenge_ack);
    RUN(test_rst_outside_window_dropped);
    RUN(test_syn_in_window_challenge_ack);
    RUN(test_syn_outside_window_ack);
    RUN(test_ack_beyond_snd_nxt);
    RUN(test_ack_beyond_with_data);
    RUN(test_old_ack_challenge);
    RUN(test_duplicate_ack_ignored);
    RUN(test_no_ack_bit_dropped);
    RUN(test_data_outside_window);
    RUN(test_data_in_window);
    return test_summary();
}
