/* test_state_established.c — SEGMENT ARRIVES in ESTABLISHED beyond the rules every
 * synchronized state shares (those are in test_state_synchronized.c): acceptable ACKs and the
 * send window (RFC 9293 §3.10.7.4 fifth), text in and out of order (first and seventh, RFC 5681
 * §4.2), the zero receive window (first step's special allowance, §3.8.6.1), the FIN (eighth)
 * and PAWS (RFC 7323 §5.3).
 *
 * In ESTABLISHED along the fixture path: SND.UNA = SND.NXT = ISS+1, RCV.NXT = IRS+1,
 * RCV.WND = 8192; the peer offers 8192 unless a segment says otherwise.
 */
#include "fixture.h"

static void start(fx *f) {
    fx_init(f);
    fx_start(f);
    fx_established(f);
}

static uint32_t queued(const fx *f) {
    tcpw_conn_info info;
    tcpw_status(f->c, &info);
    return info.send_queued;
}

/* ---- fifth: ACK --------------------------------------------------------------------------------
 */

/* SND.UNA < SEG.ACK =< SND.NXT: SND.UNA advances, acknowledged data leaves the retransmission
 * queue; an ACK is not answered. Partly, then wholly. */
static void test_ack_of_data(void) {
    fx f;
    start(&f);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789abcdefghij", 20, f.now), 20);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 20);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 11, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(queued(&f), 10);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 21, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(queued(&f), 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX); /* RFC 6298 §5.2: all acked, timer off */
    fx_free(&f);
}

/* Window update (fifth step): SND.UNA =< SEG.ACK =< SND.NXT and a newer segment sets SND.WND.
 * A zero window holds our data back; the update that opens it lets the data go at once. */
static void test_window_update_releases_data(void) {
    fx f;
    start(&f);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_send(f.c, "abc", 3, f.now), 3);
    FX_EXPECT_NOTHING(&f);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 100, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 3);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* The window offered bounds what we send: 100 bytes offered, 300 queued: 100 leave. */
static void test_send_window_respected(void) {
    static char data[300];
    fx f;
    start(&f);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 100, NULL, 0);
    CHECK_EQ_U(tcpw_send(f.c, data, 300, f.now), 300);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 100);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* ---- first and seventh: text ---------------------------------------------------------------- */

/* In order: delivered, RCV.NXT advanced, <SEQ=SND.NXT><ACK=RCV.NXT>. */
static void test_data_in_order(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "hello", 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 6, 0);
    char b[8];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 5);
    CHECK(memcmp(b, "hello", 5) == 0);
    CHECK(fx_events(&f, f.c) & TCPW_EV_READABLE);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* In the window but beyond RCV.NXT: held for later (RFC 9293 §3.10.7.4 first, SHLD-31) and a
 * duplicate ACK sent at once (RFC 5681 §4.2); the segment filling the gap is acknowledged at
 * once with everything that is now in order. */
static void test_data_out_of_order(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 6, f.iss + 1, "world", 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    char b[16];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), (uint64_t)(int64_t)TCPW_EAGAIN);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "hello", 5);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 11, 0);
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 10);
    CHECK(memcmp(b, "helloworld", 10) == 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* "If a segment's contents straddle the boundary between old and new, only the new parts are
 * processed": 3 old bytes, 5 new. */
static void test_data_straddling_rcv_nxt(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "abc", 3);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "abcdefgh", 8);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 9, 0);
    char b[16];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 8);
    CHECK(memcmp(b, "abcdefgh", 8) == 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* Text reaching past the right window edge: only what fits is taken (the rest would be
 * trimmed, §3.10.7.4 first: "trimming off any portions that lie outside the window"). */
static void test_data_beyond_right_edge_trimmed(void) {
    static char big[4096];
    fx f;
    start(&f);
    /* 4000 + 4000 in order leave a window of 192; then 400 more: 192 fit */
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, big, 4000);
    fx_in(&f, TCPW_ACK, FX_IRS + 4001, f.iss + 1, big, 4000);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 8001, f.iss + 1, big, 400);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_RCV_EDGE, 0);
    CHECK_EQ_U(f.out[0].p.win, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* ---- zero receive window ------------------------------------------------------------------ */

/* Fills our 8192-byte buffer: RCV.WND becomes 0 (and is advertised as 0). */
static void fill_receive_window(fx *f) {
    static char big[4096];
    fx_in(f, TCPW_ACK, FX_IRS + 1, f->iss + 1, big, 4096);
    fx_in(f, TCPW_ACK, FX_IRS + 4097, f->iss + 1, big, 4096);
    REQUIRE(f->nout == 2);
    CHECK_EQ_U(f->out[1].p.ack, FX_IRS + 8193);
    CHECK_EQ_U(f->out[1].p.win, 0);
    fx_clear(f);
}

/* RCV.WND = 0 and a segment with text arrives (the peer's zero-window probe): "not acceptable",
 * but "it must still send an acknowledgment showing its next expected sequence number and
 * current window (zero)" (RFC 9293 §3.8.6.1, §3.10.7.4 first). The text is not taken. */
static void test_zero_window_probe_acknowledged(void) {
    fx f;
    start(&f);
    fill_receive_window(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 8193, f.iss + 1, "p", 1);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 8193, 0);
    CHECK_EQ_U(f.out[0].p.win, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* RCV.WND = 0: "special allowance should be made to accept valid ACKs, URGs, and RSTs": a bare
 * ACK at RCV.NXT acknowledges our data; a text segment's ACK field is processed too. */
static void test_zero_window_accepts_ack(void) {
    fx f;
    start(&f);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    fx_clear(&f);
    fill_receive_window(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 8193, f.iss + 6, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(queued(&f), 5);
    fx_in(&f, TCPW_ACK, FX_IRS + 8193, f.iss + 11, "p", 1);
    CHECK_EQ_U(queued(&f), 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* ... and RSTs: RST at RCV.NXT with a zero window resets. */
static void test_zero_window_accepts_rst(void) {
    fx f;
    start(&f);
    fill_receive_window(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 8193, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

/* Reading opens the window again: RFC 9293 §3.8.6.2.2 — once the reduction reaches
 * min(BUFF/2, MSS) the window is updated; the ACK tells the peer. */
static void test_read_reopens_window(void) {
    static char b[8192];
    fx f;
    start(&f);
    fill_receive_window(&f);
    CHECK_EQ_U(tcpw_recv(f.c, b, 100, f.now), 100); /* 100 < 536: no update yet */
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_recv(f.c, b, 500, f.now), 500); /* 600 >= 536: window update */
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 8193, 0);
    CHECK_EQ_U(f.out[0].p.win, 600);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* ---- eighth: FIN ------------------------------------------------------------------------------
 */

/* FIN: RCV.NXT advances over it, it is acknowledged, CLOSE_WAIT; the user hears "connection
 * closing" (EOF). */
static void test_fin_enters_close_wait(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    CHECK(fx_events(&f, f.c) & TCPW_EV_EOF);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 0);
    fx_free(&f);
}

/* FIN with text: both delivered, one ACK for the text and the FIN. */
static void test_fin_with_data(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "bye", 3);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 5, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    char b[8];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 3);
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 0);
    fx_free(&f);
}

/* A FIN beyond a gap is not processed until the gap closes ("Segments are processed in
 * sequence"): duplicate ACK, still ESTABLISHED; the missing text brings CLOSE_WAIT. */
static void test_fin_after_gap(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 4, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "abc", 3);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 5, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    fx_free(&f);
}

/* The same FIN again in CLOSE_WAIT lies wholly before RCV.NXT: not acceptable, ACK. */
static void test_fin_retransmitted_in_close_wait(void) {
    fx f;
    start(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    fx_clear(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    fx_free(&f);
}

/* ---- PAWS (RFC 7323 §5.3) ----------------------------------------------------------------- */

static void start_ts(fx *f) {
    fx_init(f);
    f->cfg.timestamps = true;
    fx_start(f);
    fx_established_ts(f);
}

/* R1: SEG.TSval < TS.Recent: not acceptable — an ACK (with TSecr = TS.Recent, RFC 7323 §3.2)
 * is sent and the segment dropped. */
static void test_paws_rejects_old_timestamp(void) {
    fx f;
    start_ts(&f);
    fx_in_ts(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, FX_PEER_TS, f.our_ts, "old", 3);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    CHECK(f.out[0].p.opts.has_ts);
    CHECK_EQ_U(f.out[0].p.opts.tsecr, FX_PEER_TS + 1);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), (uint64_t)(int64_t)TCPW_EAGAIN);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->paws_rejected, 1);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* R1 applies "if the RST bit is not set": a RST with an old timestamp still resets. */
static void test_paws_does_not_apply_to_rst(void) {
    fx f;
    start_ts(&f);
    fx_in_ts(&f, TCPW_RST, FX_IRS + 1, 0, FX_PEER_TS - 100, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

/* R3: an acceptable in-sequence segment with SEG.TSval >= TS.Recent updates TS.Recent; our
 * ACK echoes it. An equal TSval is not old (R1 is strictly "<"). */
static void test_ts_recent_updated(void) {
    fx f;
    start_ts(&f);
    fx_in_ts(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, FX_PEER_TS + 1, f.our_ts, "a", 1);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    fx_clear(&f);
    fx_in_ts(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 2, f.iss + 1, FX_PEER_TS + 50, f.our_ts, "b", 1);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 3, 0);
    CHECK_EQ_U(f.out[0].p.opts.tsecr, FX_PEER_TS + 50);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* §5.5: a TS.Recent older than 24 days is no longer valid: the old-looking segment is taken. */
static void test_paws_ts_recent_expires(void) {
    fx f;
    start_ts(&f);
    f.now += 25ull * 24 * 3600 * 1000000;
    fx_in_ts(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, FX_PEER_TS, f.our_ts, "x", 1);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, f.iss + 1, FX_IRS + 2, 0);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->paws_rejected, 0);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* ---- sending ------------------------------------------------------------------------------------
 */

/* What waits to be sent leaves as conn_output's general path sends it, whether or not its
 * usual case (at most one segment's worth, all of it allowed: output.c output_one_segment)
 * applies: one segment <ACK,PSH> with a small write; exactly one MSS; one MSS and a byte in two
 * segments; a window smaller than the data (only what fits, no PSH, the rest when the window
 * opens); Nagle holding a small segment while data is unacknowledged (RFC 1122 §4.2.3.4). */
static void test_send_one_segment_and_the_rest(void) {
    fx f;
    start(&f);
    uint32_t mss = f.c->snd_mss, seq = f.iss + 1;
    static uint8_t buf[4096];
    CHECK(mss + 1 <= sizeof buf);
    CHECK_EQ_U(tcpw_send(f.c, "a", 1, f.now), 1);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, seq, FX_IRS + 1, 1);
    seq += 1;
    fx_clear(&f);
    CHECK_EQ_U(tcpw_send(f.c, buf, mss, f.now), mss);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, seq, FX_IRS + 1, mss);
    seq += mss;
    fx_in(&f, TCPW_ACK, FX_IRS + 1, seq, NULL, 0);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_send(f.c, buf, mss + 1, f.now), mss + 1);
    FX_EXPECT_COUNT(&f, 2);
    FX_EXPECT(&f, 0, TCPW_ACK, seq, FX_IRS + 1, mss);
    FX_EXPECT(&f, 1, TCPW_ACK | TCPW_PSH, seq + mss, FX_IRS + 1, 1);
    seq += mss + 1;
    /* the peer's window shrinks to 10 bytes: 25 bytes go as 10, then 10 and 5 */
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, seq, 10, NULL, 0);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_send(f.c, buf, 25, f.now), 25);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, seq, FX_IRS + 1, 10);
    fx_clear(&f);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, seq + 10, 10, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK, seq + 10, FX_IRS + 1, 10);
    fx_clear(&f);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, seq + 20, 10, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, seq + 20, FX_IRS + 1, 5);
    fx_free(&f);

    /* Nagle: the second small write waits for the ACK of the first */
    fx_init(&f);
    f.cfg.nagle = true;
    fx_start(&f);
    fx_established(&f);
    seq = f.iss + 1;
    CHECK_EQ_U(tcpw_send(f.c, "a", 1, f.now), 1);
    FX_EXPECT_COUNT(&f, 1);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_send(f.c, "b", 1, f.now), 1);
    FX_EXPECT_NOTHING(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, seq + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, seq + 1, FX_IRS + 1, 1);
    fx_free(&f);
}

/* ---- the window we advertise -------------------------------------------------------------------
 */

/* Segments without SYN take their window field from an inline form of the general computation
 * (output.c window_field): for any receive buffer, fill, MSS, scale and advertised edge —
 * near and across the wrap of the sequence space, RCV.ADV behind RCV.NXT included — it gives
 * the same field and leaves the same RCV.ADV (RFC 9293 §3.8.6.2.2, RFC 7323 §2.3). */
static void test_window_field_matches_general(void) {
    static const uint32_t caps[] = {128, 1000, 8192, 65535, 65536, 100000, 1u << 20, 1u << 30};
    static const uint16_t msss[] = {64, 536, 1448, 1460, 9000, 65495};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    tcpw_conn *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    CHECK(a && b);
    if (!a || !b) return;
    int mismatches = 0;
    for (int round = 0; round < 200000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        uint32_t cap = caps[x % 8], r = (uint32_t)(x >> 32);
        a->rcvbuf.cap = cap;
        a->rcvbuf.len = (x >> 8 & 3) == 0 ? 0 : (x >> 8 & 3) == 1 ? cap : r % (cap + 1);
        a->snd_mss = msss[(x >> 12) % 6];
        a->rcv_wscale = (uint8_t)((x >> 16) % 15);
        a->rcv_nxt = (x >> 20 & 1) ? r : 0xffffffffu - (r & 0xffff);
        uint32_t free = cap - a->rcvbuf.len;
        switch (x >> 24 & 7) {
        case 0: a->rcv_adv = a->rcv_nxt + free; break;                   /* edge unchanged */
        case 1: a->rcv_adv = a->rcv_nxt + free - (r >> 7) % 4096; break; /* edge moved right */
        case 2: a->rcv_adv = a->rcv_nxt + free + (r >> 9) % 4096; break; /* data not yet read */
        case 3: a->rcv_adv = a->rcv_nxt; break;                          /* nothing advertised */
        case 4: a->rcv_adv = a->rcv_nxt - (r >> 5) % 64; break;          /* behind RCV.NXT */
        case 5: a->rcv_adv = a->rcv_nxt + (uint32_t)(x >> 40); break;    /* anywhere */
        default: a->rcv_adv = a->rcv_nxt + ((free >> a->rcv_wscale) << a->rcv_wscale); break;
        }
        *b = *a;
        uint32_t fa = window_field_check(a, true), fb = window_field_check(b, false);
        if (fa != fb || a->rcv_adv != b->rcv_adv) {
            if (mismatches++ < 5)
                fprintf(stderr,
                        "window field: cap %u len %u mss %u shift %u nxt %u: general %u (adv %u), "
                        "inline %u (adv %u)\n",
                        cap, a->rcvbuf.len, a->snd_mss, a->rcv_wscale, a->rcv_nxt, fa, a->rcv_adv,
                        fb, b->rcv_adv);
        }
    }
    CHECK_EQ_U(mismatches, 0);
    free(a);
    free(b);
}

int main(void) {
    RUN(test_ack_of_data);
    RUN(test_window_field_matches_general);
    RUN(test_send_one_segment_and_the_rest);
    RUN(test_window_update_releases_data);
    RUN(test_send_window_respected);
    RUN(test_data_in_order);
    RUN(test_data_out_of_order);
    RUN(test_data_straddling_rcv_nxt);
    RUN(test_data_beyond_right_edge_trimmed);
    RUN(test_zero_window_probe_acknowledged);
    RUN(test_zero_window_accepts_ack);
    RUN(test_zero_window_accepts_rst);
    RUN(test_read_reopens_window);
    RUN(test_fin_enters_close_wait);
    RUN(test_fin_with_data);
    RUN(test_fin_after_gap);
    RUN(test_fin_retransmitted_in_close_wait);
    RUN(test_paws_rejects_old_timestamp);
    RUN(test_paws_does_not_apply_to_rst);
    RUN(test_ts_recent_updated);
    RUN(test_paws_ts_recent_expires);
    return test_summary();
}
