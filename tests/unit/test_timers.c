/* test_timers.c — the engine's timers, each at its exact deadline:
 *
 *   retransmission   RFC 6298 §5 (RTO 1 s before any RTT sample is below it, (2.4); doubled on
 *                    every expiry, (5.5); capped at cfg.rto_max_ms >= 60 s, (2.5)); SYN,
 *                    SYN+ACK, data and FIN alike; after cfg.syn_retries / cfg.retries
 *                    retransmissions the connection is given up (RFC 9293 §3.8.3 R2):
 *                    CLOSED, TCPW_EV_TIMEOUT, nothing sent
 *   FIN_WAIT_2       orphaned (close()d) FIN_WAIT_2 lasts cfg.fin_timeout_ms, then CLOSED
 *   TIME_WAIT        exactly 2*cfg.msl_ms (RFC 9293 §3.10.8, RFC 1122 §4.2.2.13)
 *   delayed ACK      cfg.delayed_ack_ms, below 500 ms, at least every second full-sized segment
 *                    (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2)
 *   persist          zero-window probes after an RTO, backing off, never giving up while the
 *                    peer answers (RFC 9293 §3.8.6.1)
 *   challenge ACKs   at most cfg.challenge_ack_per_s per second (RFC 5961 §7)
 *
 * The clock only moves when a test moves it; fx_run_next_timer jumps to the next deadline.
 */
#include "fixture.h"

#define SEC    1000000ull
#define ERR(e) ((uint64_t)(int64_t)(e))

/* Runs the next timer, which must fall exactly `after` µs from now. */
static void expect_timer_after(fx *f, uint64_t after) {
    uint64_t before = f->now;
    CHECK_EQ_U(tcpw_next_deadline(f->s), before + after);
    fx_clear(f);
    /* one microsecond early nothing happens */
    if (after > 0) {
        f->now = before + after - 1;
        tcpw_tick(f->s, f->now);
        FX_EXPECT_NOTHING(f);
    }
    f->now = before + after;
    tcpw_tick(f->s, f->now);
}

/* ---- retransmission -------------------------------------------------------------------------- */

/* SYN: retransmitted unchanged after 1, 2, 4 s; after cfg.syn_retries (3) retransmissions the
 * next expiry (8 s) gives up: CLOSED, TCPW_EV_TIMEOUT, ETIMEDOUT, nothing sent. */
static void test_syn_retransmission_and_limit(void) {
    fx f;
    fx_init(&f);
    f.cfg.syn_retries = 3;
    fx_start(&f);
    fx_syn_sent(&f);
    static const uint64_t gaps[] = {1 * SEC, 2 * SEC, 4 * SEC};
    for (size_t i = 0; i < 3; i++) {
        expect_timer_after(&f, gaps[i]);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_SYN, f.iss, 0, 0);
        FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
    }
    expect_timer_after(&f, 8 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    CHECK(fx_events(&f, f.c) & TCPW_EV_TIMEOUT);
    CHECK_EQ_U(tcpw_send(f.c, "x", 1, f.now), ERR(TCPW_ETIMEDOUT));
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    fx_free(&f);
}

/* SYN+ACK in SYN_RCVD (passive): <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK> again after 1, 2 s; then
 * the half-open connection is dropped (the listener stays), nothing sent. */
static void test_syn_ack_retransmission_and_limit(void) {
    fx f;
    fx_init(&f);
    f.cfg.syn_retries = 2;
    fx_start(&f);
    fx_syn_rcvd(&f);
    expect_timer_after(&f, 1 * SEC);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.iss, FX_IRS + 1, 0);
    expect_timer_after(&f, 2 * SEC);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, f.iss, FX_IRS + 1, 0);
    expect_timer_after(&f, 4 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(f.listener->state, TCPW_LISTEN);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 1);
    fx_free(&f);
}

/* Data: the first unacknowledged segment again, <SEQ=SND.UNA><ACK=RCV.NXT>, backing off 1, 2,
 * 4 s; after cfg.retries (3) the connection times out. */
static void test_data_retransmission_and_limit(void) {
    fx f;
    fx_init(&f);
    f.cfg.retries = 3;
    fx_start(&f);
    fx_established(&f);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    FX_EXPECT_COUNT(&f, 1);
    static const uint64_t gaps[] = {1 * SEC, 2 * SEC, 4 * SEC};
    for (size_t i = 0; i < 3; i++) {
        expect_timer_after(&f, gaps[i]);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 10);
        FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    }
    expect_timer_after(&f, 8 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    CHECK(fx_events(&f, f.c) & TCPW_EV_TIMEOUT);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), ERR(TCPW_ETIMEDOUT));
    fx_free(&f);
}

/* RFC 6298 (2.5): the doubling stops at the maximum RTO (cfg.rto_max_ms, 120 s by default):
 * 1, 2, 4, ... 64, 120, 120 s. */
static void test_backoff_capped_at_rto_max(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    CHECK_EQ_U(tcpw_send(f.c, "x", 1, f.now), 1);
    static const uint64_t gaps[] = {1, 2, 4, 8, 16, 32, 64, 120, 120, 120};
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
        expect_timer_after(&f, gaps[i] * SEC);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 1);
    }
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* RFC 6298 (5.3): an ACK of new data restarts the timer (RTO from now); (5.2) an ACK of all
 * outstanding data turns it off. */
static void test_ack_restarts_and_stops_timer(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    f.now += SEC / 2;
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 6, NULL, 0);
    tcpw_conn_info info;
    tcpw_status(f.c, &info);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + info.rto_us);
    CHECK(info.rto_us >= SEC); /* RFC 6298 (2.4): never below 1 s */
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 11, NULL, 0);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    FX_EXPECT_COUNT(&f, 1); /* only the data segment was sent: ACKs are not answered */
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* FIN (FIN_WAIT_1): <SEQ=ISS+1><ACK=IRS+1><CTL=FIN,ACK> again after 1, 2 s; then the connection
 * times out (CLOSED, TCPW_EV_TIMEOUT). */
static void test_fin_retransmission_and_limit(void) {
    fx f;
    fx_init(&f);
    f.cfg.retries = 2;
    fx_start(&f);
    fx_fin_wait_1(&f);
    expect_timer_after(&f, 1 * SEC);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    expect_timer_after(&f, 2 * SEC);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    expect_timer_after(&f, 4 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    CHECK(fx_events(&f, f.c) & TCPW_EV_TIMEOUT);
    fx_free(&f);
}

/* The FIN of CLOSING and LAST_ACK is retransmitted the same way, acknowledging the peer's FIN
 * (ACK = IRS+2). */
static void test_fin_retransmission_closing_last_ack(void) {
    static const tcpw_state states[] = {TCPW_CLOSING, TCPW_LAST_ACK};
    for (size_t i = 0; i < 2; i++) {
        fx f;
        fx_init(&f);
        fx_start(&f);
        fx_enter(&f, states[i]);
        expect_timer_after(&f, 1 * SEC);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
        FX_EXPECT_STATE(&f, states[i]);
        expect_timer_after(&f, 2 * SEC);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
        fx_free(&f);
    }
}

/* ---- FIN_WAIT_2 and TIME_WAIT ---------------------------------------------------------------- */

/* An orphaned FIN_WAIT_2 (the application close()d) waits cfg.fin_timeout_ms for the peer's
 * FIN, then the connection is deleted without a segment. */
static void test_orphan_fin_wait_2_timeout(void) {
    fx f;
    fx_init(&f);
    f.cfg.fin_timeout_ms = 5000;
    fx_start(&f);
    fx_fin_wait_2(&f);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX); /* held: no timeout */
    f.now += 3 * SEC;
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    expect_timer_after(&f, 5 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 1); /* the listener */
    /* the peer's FIN now meets no connection */
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 2, 0, 0);
    fx_free(&f);
}

/* close() in ESTABLISHED: FIN_WAIT_1; when the ACK of the FIN comes (2 s later), the orphaned
 * FIN_WAIT_2 timeout runs from then. */
static void test_orphan_fin_wait_2_timeout_from_fin_wait_1(void) {
    fx f;
    fx_init(&f);
    f.cfg.fin_timeout_ms = 5000;
    fx_start(&f);
    fx_established(&f);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    f.now += SEC / 2;
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    expect_timer_after(&f, 5 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_NO_CONN(&f);
    fx_free(&f);
}

/* TIME_WAIT lasts exactly 2 * cfg.msl_ms from the ACK of the peer's FIN. */
static void test_time_wait_two_msl_from_config(void) {
    fx f;
    fx_init(&f);
    f.cfg.msl_ms = 1500;
    fx_start(&f);
    fx_time_wait(&f);
    expect_timer_after(&f, 3 * SEC);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    fx_free(&f);

    fx_init(&f);
    f.cfg.msl_ms = 1500;
    fx_start(&f);
    fx_time_wait_compact(&f);
    expect_timer_after(&f, 3 * SEC);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    fx_free(&f);
}

/* ---- delayed ACK ------------------------------------------------------------------------------
 */

static void start_delack(fx *f) {
    fx_init(f);
    f->cfg.delayed_ack_ms = 40;
    fx_start(f);
    fx_established(f);
}

/* A full-sized segment (the peer's MSS is the default 536: no option in its SYN) is not
 * acknowledged at once; the ACK leaves exactly cfg.delayed_ack_ms later (< 500 ms, MUST-40). */
static void test_delayed_ack_timing(void) {
    static char data[536];
    fx f;
    start_delack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, data, 536);
    FX_EXPECT_NOTHING(&f);
    expect_timer_after(&f, 40000);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 537, 0);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* "An ACK SHOULD be generated for at least every second full-sized segment" (SHLD-19): the
 * second one is acknowledged at once, together with the first; the timer is then off. */
static void test_delayed_ack_every_second_segment(void) {
    static char data[536];
    fx f;
    start_delack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, data, 536);
    FX_EXPECT_NOTHING(&f);
    f.now += 10000;
    fx_in(&f, TCPW_ACK, FX_IRS + 537, f.iss + 1, data, 536);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1073, 0);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* With delayed ACKs on, a small segment (under half the MSS: a request, the end of a message)
 * is acknowledged at once, a full-sized one after it is not (RFC 1122 §4.2.3.2); the text of
 * both, taken in place as its checksum was verified (header prediction), reads back intact. */
static void test_delayed_ack_not_for_small_segment(void) {
    static uint8_t data[536], got[600];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    fx f;
    start_delack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, data, 10);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 11, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 11, f.iss + 1, data, 536);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + 40000);
    CHECK_EQ_U(tcpw_recv(f.c, got, sizeof got, f.now), 546);
    CHECK(memcmp(got, data, 10) == 0);
    CHECK(memcmp(got + 10, data, 536) == 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* RFC 5681 §4.2 (cited by RFC 9293 §3.8.6.3): an out-of-order segment is acknowledged at once
 * (a duplicate ACK), even with delayed ACKs on. */
static void test_delayed_ack_not_for_out_of_order(void) {
    static char data[536];
    fx f;
    start_delack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 537, f.iss + 1, data, 536);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* Data we send carries the pending ACK: no separate ACK at the deadline (the ACK is
 * "piggybacked on a segment being transmitted", §3.10.7.4 seventh). */
static void test_delayed_ack_piggybacked(void) {
    static char data[536];
    fx f;
    start_delack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, data, 536);
    f.now += 10000;
    CHECK_EQ_U(tcpw_send(f.c, "reply", 5, f.now), 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 537, 5);
    fx_clear(&f);
    f.now += 40000;
    tcpw_tick(f.s, f.now);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* The ACK of a FIN may be delayed too (RFC 1122 §4.2.3.2; input.c documents the choice): an
 * application that closes at once sends one FIN+ACK (the three-segment close); otherwise the
 * ACK leaves at the deadline. */
static void test_delayed_ack_of_fin(void) {
    fx f;
    start_delack(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    f.now += 5000;
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    fx_free(&f);

    start_delack(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_timer_after(&f, 40000);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    fx_free(&f);
}

/* ---- zero-window probes ---------------------------------------------------------------------- */

/* The peer's window is zero and data waits: after an RTO (1 s) one octet of the data probes
 * the window (RFC 9293 §3.8.6.1, SHLD-29), then at doubling intervals (SHLD-30). The peer keeps
 * answering with a zero window: "As long as the receiving TCP peer continues to send
 * acknowledgments in response to the probe segments, the sending TCP peer MUST allow the
 * connection to stay open" (MUST-37) — well past cfg.retries. Nothing but the probe octet may
 * enter the closed window. */
static void test_zero_window_probes(void) {
    fx f;
    fx_init(&f);
    f.cfg.retries = 2;
    fx_start(&f);
    fx_established(&f);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 0, NULL, 0);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    FX_EXPECT_NOTHING(&f);
    static const uint64_t gaps[] = {1, 2, 4, 8, 16, 32};
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) {
        expect_timer_after(&f, gaps[i] * SEC);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 1);
        fx_clear(&f);
        /* the peer's answer: still nothing taken, window still zero */
        fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 0, NULL, 0);
        FX_EXPECT_NOTHING(&f);
        FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    }
    /* the window opens: the data goes, from SND.UNA on — the probe octet was not taken, and
     * "the old unacknowledged data between SND.UNA and SND.UNA+SND.WND" is sent again
     * (RFC 9293 §3.8.6, SHLD-16) */
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 8192, NULL, 0);
    REQUIRE(f.nout >= 1);
    const tcpw_packet *last = &f.out[f.nout - 1].p;
    CHECK_EQ_U(last->seq + last->payload_len, f.iss + 11);
    CHECK_EQ_U(f.out[0].p.seq, f.iss + 1);
    /* the probes' backoff was no retransmission backoff (RFC 6298 (5.5) doubles the RTO when
     * the retransmission timer expires): the data's RTO is 1 s again */
    expect_timer_after(&f, 1 * SEC);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 10);
    fx_free(&f);
}

/* ---- challenge ACK rate limit (RFC 5961 §7) -------------------------------------------------- */

/* At most cfg.challenge_ack_per_s challenge ACKs in a second, whatever provoked them (RST in the
 * window, SYN, ACK beyond SND.NXT); the rest are suppressed and counted; a second later the
 * budget is back. */
static void test_challenge_ack_rate_limit(void) {
    fx f;
    fx_init(&f);
    f.cfg.challenge_ack_per_s = 3;
    fx_start(&f);
    fx_established(&f);
    f.now = 10 * SEC; /* the start of a second */
    fx_in(&f, TCPW_RST, FX_IRS + 10, 0, NULL, 0);
    fx_in(&f, TCPW_SYN, FX_IRS + 10, 0, NULL, 0);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 100, NULL, 0);
    FX_EXPECT_COUNT(&f, 3);
    for (int i = 0; i < 3; i++)
        FX_EXPECT(&f, i, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    fx_clear(&f);
    f.now += SEC / 2;
    fx_in(&f, TCPW_RST, FX_IRS + 10, 0, NULL, 0);
    fx_in(&f, TCPW_SYN, FX_IRS + 10, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->challenge_acks, 3);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->challenge_acks_suppressed, 2);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    /* the ACK for an unacceptable segment (§3.10.7.4 first) is no challenge ACK: not limited */
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_RCV_EDGE, f.iss + 1, "x", 1);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    fx_clear(&f);
    /* the next second */
    f.now += SEC / 2;
    fx_in(&f, TCPW_RST, FX_IRS + 10, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    fx_free(&f);
}

/* The budget is the stack's (RFC 5961 §7 suggests a system-wide one): the compact TIME_WAIT
 * records spend it too (RFC 1337 off, RST in the window). */
static void test_challenge_ack_budget_shared(void) {
    fx f;
    fx_init(&f);
    f.cfg.challenge_ack_per_s = 1;
    f.cfg.rfc1337 = false;
    fx_start(&f);
    fx_time_wait_compact(&f);
    f.now = 20 * SEC;
    fx_in(&f, TCPW_RST, FX_IRS + 10, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    fx_in(&f, TCPW_RST, FX_IRS + 11, 0, NULL, 0);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->challenge_acks_suppressed, 2);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    fx_free(&f);
}

/* ---- the timer heap with many connections --------------------------------------------------- */

/* A connection whose timers all stop keeps its place in the timer heap, keyed "never" (timer.c),
 * so that a sender arming and stopping its retransmission timer on every segment re-keys one
 * entry. With many connections arming, moving and stopping timers in any order, the stack's
 * next deadline stays exactly the earliest of their timers, and each fires at it. */
static void test_next_deadline_exact_with_many_connections(void) {
    enum { N = 12 };
    fx f;
    fx_init(&f);
    fx_start(&f);
    tcpw_conn *c[N];
    uint32_t iss[N];
    for (int i = 0; i < N; i++) { /* SYN_SENT: each with its SYN's retransmission timer */
        tcpw_endpoint remote = f.remote;
        remote.port = (uint16_t)(40000 + i);
        fx_clear(&f);
        f.now += 1000;
        CHECK_EQ_U(tcpw_connect(f.s, &f.local, &remote, f.now, &c[i]), TCPW_OK);
        iss[i] = f.out[0].p.seq;
    }
    uint64_t x = 0x243f6a8885a308d3ull;
    uint32_t acked[N] = {0}, sent[N] = {0};
    bool est[N] = {false};
    for (int step = 0; step < 3000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(x % N);
        tcpw_endpoint remote = f.remote;
        remote.port = (uint16_t)(40000 + i);
        f.remote = remote;
        f.now += x >> 60; /* now and then, time passes */
        switch (x >> 8 & 3) {
        case 0: /* the peer's SYN+ACK, or an ACK of everything sent: the timer stops */
            if (!est[i] && tcpw_status(c[i], &(tcpw_conn_info){0}) == TCPW_OK) {
                fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, iss[i] + 1, NULL, 0);
                est[i] = true;
            } else if (est[i]) {
                fx_in(&f, TCPW_ACK, FX_IRS + 1, iss[i] + 1 + sent[i], NULL, 0);
                acked[i] = sent[i];
            }
            break;
        case 1: /* data leaves: the timer starts (or keeps running) */
            if (est[i] && tcpw_send(c[i], "d", 1, f.now) == 1) sent[i]++;
            break;
        case 2: /* an ACK of part of it: the timer restarts later */
            if (est[i] && sent[i] > acked[i] + 1) {
                acked[i]++;
                fx_in(&f, TCPW_ACK, FX_IRS + 1, iss[i] + 1 + acked[i], NULL, 0);
            }
            break;
        default: /* the next timer fires when it is due */
            f.now = tcpw_next_deadline(f.s) <= f.now + 3 * SEC ? tcpw_next_deadline(f.s) : f.now;
            tcpw_tick(f.s, f.now);
            break;
        }
        fx_clear(&f);
        uint64_t want = UINT64_MAX;
        for (int k = 0; k < N; k++) {
            tcpw_conn_info info;
            if (tcpw_status(c[k], &info) == TCPW_OK && info.state != TCPW_CLOSED &&
                info.deadline < want)
                want = info.deadline;
        }
        if (tcpw_next_deadline(f.s) != want) {
            fprintf(stderr, "step %d: next deadline %llu, earliest timer %llu\n", step,
                    (unsigned long long)tcpw_next_deadline(f.s), (unsigned long long)want);
            CHECK_EQ_U(tcpw_next_deadline(f.s), want);
            break;
        }
    }
    fx_free(&f);
}

int main(void) {
    RUN(test_syn_retransmission_and_limit);
    RUN(test_syn_ack_retransmission_and_limit);
    RUN(test_data_retransmission_and_limit);
    RUN(test_backoff_capped_at_rto_max);
    RUN(test_ack_restarts_and_stops_timer);
    RUN(test_fin_retransmission_and_limit);
    RUN(test_fin_retransmission_closing_last_ack);
    RUN(test_orphan_fin_wait_2_timeout);
    RUN(test_orphan_fin_wait_2_timeout_from_fin_wait_1);
    RUN(test_time_wait_two_msl_from_config);
    RUN(test_delayed_ack_timing);
    RUN(test_delayed_ack_every_second_segment);
    RUN(test_delayed_ack_not_for_small_segment);
    RUN(test_delayed_ack_not_for_out_of_order);
    RUN(test_delayed_ack_piggybacked);
    RUN(test_delayed_ack_of_fin);
    RUN(test_zero_window_probes);
    RUN(test_challenge_ack_rate_limit);
    RUN(test_challenge_ack_budget_shared);
    RUN(test_next_deadline_exact_with_many_connections);
    return test_summary();
}
