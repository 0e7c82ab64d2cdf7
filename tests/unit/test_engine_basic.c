/* test_engine_basic.c — the engine's main paths, segment by segment: both handshakes, the
 * four-way close from either side, the three-segment close, simultaneous close, half-close
 * with data, RST rules and TIME_WAIT. Each test asserts the exact segments and states. */
#include "fixture.h"

static void test_passive_open(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_listen(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    REQUIRE(f.nout == 1);
    uint32_t iss = f.out[0].p.seq;
    FX_EXPECT(&f, 0, TCPW_SYN | TCPW_ACK, iss, FX_IRS + 1, 0);
    CHECK(f.out[0].p.opts.has_mss);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, iss + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    tcpw_conn *c = tcpw_accept(f.listener);
    REQUIRE(c);
    CHECK_EQ_U(c->state, TCPW_ESTABLISHED);
    fx_free(&f);
}

static void test_active_open(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_syn_sent(&f);
    CHECK_EQ_U(fx_state(&f), TCPW_SYN_SENT);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_ESTABLISHED);
    uint32_t ev;
    CHECK(tcpw_poll_event(f.s, &ev) == f.c);
    CHECK(ev & TCPW_EV_CONNECTED);
    fx_free(&f);
}

/* The seeds' four-way close, the stack as the client (active closer). */
static void test_four_way_active(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    uint32_t u = f.iss + 1, v = FX_IRS + 1;
    tcpw_shutdown(f.c, f.now);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, u, v, 0); /* 1st wave: FIN seq=u */
    CHECK_EQ_U(fx_state(&f), TCPW_FIN_WAIT_1);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, v, u + 1, NULL, 0); /* 2nd wave: ACK ack=u+1 */
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(fx_state(&f), TCPW_FIN_WAIT_2);
    uint32_t w = v;
    fx_in(&f, TCPW_FIN | TCPW_ACK, w, u + 1, NULL, 0); /* 3rd wave: FIN seq=w ack=u+1 */
    FX_EXPECT(&f, 0, TCPW_ACK, u + 1, w + 1, 0);       /* 4th wave: ACK seq=u+1 ack=w+1 */
    CHECK_EQ_U(fx_state(&f), TCPW_TIME_WAIT);
    /* 2MSL later: CLOSED */
    fx_clear(&f);
    CHECK(fx_run_next_timer(&f, 60000000));
    CHECK_EQ_U(f.now, 1000000 + 60000000);
    CHECK_EQ_U(fx_state(&f), TCPW_CLOSED);
    fx_free(&f);
}

static void test_four_way_passive(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_CLOSE_WAIT);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, 4, f.now), 0); /* EOF */
    fx_clear(&f);
    tcpw_close(f.c, f.now);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    tcpw_conn *c = table_find_conn(f.s, &f.local, &f.remote);
    REQUIRE(c);
    CHECK_EQ_U(c->state, TCPW_LAST_ACK);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    CHECK(table_find_conn(f.s, &f.local, &f.remote) == NULL);
    CHECK_EQ_U(f.ntrace, 1);
    CHECK_EQ_U(f.trace_from[0], TCPW_LAST_ACK);
    CHECK_EQ_U(f.trace_to[0], TCPW_CLOSED);
    fx_free(&f);
}

static void test_fin_wait_1_to_time_wait_directly(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_fin_wait_1(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_TIME_WAIT);
    REQUIRE(f.ntrace == 1);
    CHECK_EQ_U(f.trace_from[0], TCPW_FIN_WAIT_1);
    CHECK_EQ_U(f.trace_to[0], TCPW_TIME_WAIT);
    fx_free(&f);
}

static void test_simultaneous_close(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_fin_wait_1(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_CLOSING);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_TIME_WAIT);
    fx_free(&f);
}

static void test_half_close_data_after_fin(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_fin_wait_2(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 2, "hello", 5);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 6, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_FIN_WAIT_2);
    char b[16];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 5);
    CHECK(memcmp(b, "hello", 5) == 0);
    fx_free(&f);
}

static void test_rst_exact_resets(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(fx_state(&f), TCPW_CLOSED);
    CHECK_EQ_U(tcpw_recv(f.c, (char[4]){0}, 4, f.now), (uint64_t)(int64_t)TCPW_ERESET);
    fx_free(&f);
}

static void test_rst_in_window_challenge(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 100, 0, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    CHECK_EQ_U(fx_state(&f), TCPW_ESTABLISHED);
    fx_free(&f);
}

static void test_no_listener_rst(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_in(&f, TCPW_SYN, 5000, 0, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_RST | TCPW_ACK, 0, 5001, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, 5000, 777, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_RST, 777, 0, 0);
    fx_free(&f);
}

static void test_close_unread_data_rst(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "abc", 3);
    fx_clear(&f);
    tcpw_close(f.c, f.now);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 1, 0, 0);
    CHECK(table_find_conn(f.s, &f.local, &f.remote) == NULL);
    fx_free(&f);
}

static void test_time_wait_compact_refin(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_time_wait(&f);
    tcpw_close(f.c, f.now);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    fx_advance(&f, 30000000);
    fx_clear(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 2, FX_IRS + 2, 0);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + 60000000);
    fx_advance(&f, 60000000);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 2, 0, 0);
    fx_free(&f);
}

static void test_data_transfer_both_ways(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    CHECK_EQ_U(tcpw_send(f.c, "ping", 4, f.now), 4);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 4);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 5, "pong", 4);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 5, FX_IRS + 5, 0);
    CHECK_EQ_U(f.c->sndbuf.len, 0);
    CHECK_EQ_U(f.c->rto_at, UINT64_MAX);
    fx_free(&f);
}

static void test_retransmit_fin(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_fin_wait_1(&f);
    CHECK(fx_run_next_timer(&f, 2000000));
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    fx_clear(&f);
    uint64_t t0 = f.now;
    CHECK(fx_run_next_timer(&f, 5000000));
    CHECK_EQ_U(f.now - t0, 2000000); /* backoff doubled */
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    fx_free(&f);
}

/* Sequence numbers wrap (RFC 9293 §3.4): nothing may depend on how far the connection has
 * come from its ISS. Put the connection where it would be after `sent` bytes (as if they were
 * sent and acknowledged) and check that data still goes out and is acknowledged. Before the
 * fix, sending stopped for good after 2^31 bytes (SND.NXT no longer "after" ISS) and a
 * connection exactly 2^32 bytes on took its SYN for unacknowledged again. */
static void check_far_from_iss(uint32_t sent) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_established(&f);
    tcpw_conn *c = f.c;
    uint32_t una = c->snd_una + sent;
    c->snd_una = c->snd_nxt = c->snd_max = c->buf_seq = una;
    CHECK_EQ_U(tcpw_send(c, "abcdef", 6, f.now), 6);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, una, FX_IRS + 1, 6);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, una + 6, NULL, 0);
    CHECK_EQ_U(c->snd_una, una + 6);
    CHECK_EQ_U(c->sndbuf.len, 0);
    CHECK_EQ_U(c->rto_at, UINT64_MAX);
    /* and the close: FIN at the end of the data, acknowledged into FIN_WAIT_2 */
    tcpw_shutdown(c, f.now);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, una + 6, FX_IRS + 1, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, una + 7, NULL, 0);
    CHECK_EQ_U(c->state, TCPW_FIN_WAIT_2);
    fx_free(&f);
}

static void test_sequence_wrap_far_from_iss(void) {
    check_far_from_iss(0x90000000u); /* 2.4 GB on: past the 2^31 halfway point */
    check_far_from_iss(0xffffffffu); /* exactly 2^32 on (the SYN took one): SND.UNA == ISS */
}

int main(void) {
    RUN(test_passive_open);
    RUN(test_active_open);
    RUN(test_four_way_active);
    RUN(test_four_way_passive);
    RUN(test_fin_wait_1_to_time_wait_directly);
    RUN(test_simultaneous_close);
    RUN(test_half_close_data_after_fin);
    RUN(test_rst_exact_resets);
    RUN(test_rst_in_window_challenge);
    RUN(test_no_listener_rst);
    RUN(test_close_unread_data_rst);
    RUN(test_time_wait_compact_refin);
    RUN(test_data_transfer_both_ways);
    RUN(test_retransmit_fin);
    RUN(test_sequence_wrap_far_from_iss);
    return test_summary();
}
