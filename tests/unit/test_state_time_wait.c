/* test_state_time_wait.c — TIME_WAIT, both as a full control block (the application still
 * holds the handle) and as the compact record that replaces it after tcpw_close() (timewait.c).
 * The same state must behave the same in either form:
 *
 *   - the peer's FIN again: ACK it, restart the 2MSL timeout (RFC 9293 §3.10.7.4 fifth, eighth)
 *   - RST: RFC 1337 on (the default): ignored, whatever its sequence number ("TIME-WAIT
 *     assassination", fix F1); off: RFC 9293 + RFC 5961 §3.2 (exact: CLOSED; in the window:
 *     challenge ACK; outside: dropped)
 *   - a SYN: a new incarnation when it is provably newer (RFC 6191 §2 with timestamps, RFC 1122
 *     §4.2.2.13 by sequence number without), else a challenge ACK (RFC 9293 §3.10.7.4 fourth,
 *     RFC 5961 §4.2)
 *   - anything else acceptable: "The only thing that can arrive in this state is a
 *     retransmission of the remote FIN. Acknowledge it" (fifth step); text is ignored
 *     (seventh); an unacceptable segment gets the first step's ACK
 *   - 2MSL after the last ACK: CLOSED (RFC 9293 §3.10.8)
 *
 * Along the fixture path (FIN_WAIT_2, then the peer's FIN): SND.NXT = ISS+2, RCV.NXT = IRS+2.
 */
#include "fixture.h"

#define TWO_MSL_US (2ull * 30000 * 1000)

static void start(fx *f, bool compact, bool rfc1337) {
    fx_init(f);
    f->cfg.rfc1337 = rfc1337;
    fx_start(f);
    if (compact)
        fx_time_wait_compact(f);
    else
        fx_time_wait(f);
}

/* The connection is still in TIME_WAIT, in whichever form it had. */
static void expect_time_wait(fx *f, bool compact) {
    if (compact) {
        CHECK_EQ_U(tcpw_stack_stats(f->s)->time_wait_count, 1);
        FX_EXPECT_NO_CONN(f);
    } else {
        FX_EXPECT_STATE(f, TCPW_TIME_WAIT);
    }
}

/* The connection is gone: no record, no control block in the table. */
static void expect_gone(fx *f) {
    CHECK_EQ_U(tcpw_stack_stats(f->s)->time_wait_count, 0);
    FX_EXPECT_NO_CONN(f);
    if (f->c) FX_EXPECT_STATE(f, TCPW_CLOSED);
}

static void expect_ack(fx *f) {
    FX_EXPECT_COUNT(f, 1);
    FX_EXPECT(f, 0, TCPW_ACK, f->iss + 2, FX_IRS + 2, 0);
}

/* ---- the peer's FIN again ------------------------------------------------------------------ */

/* Acknowledge it and restart the 2MSL timeout: the deadline moves to now + 2MSL. */
static void check_refin(bool compact) {
    fx f;
    start(&f, compact, true);
    uint64_t entered = f.now;
    CHECK_EQ_U(tcpw_next_deadline(f.s), entered + TWO_MSL_US);
    fx_advance(&f, 20000000);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + TWO_MSL_US);
    fx_free(&f);
}
static void test_refin_full(void) {
    check_refin(false);
}
static void test_refin_compact(void) {
    check_refin(true);
}

/* ---- 2MSL ------------------------------------------------------------------------------------ */

/* RFC 9293 §3.10.8 / RFC 1122 §4.2.2.13: TIME_WAIT lasts exactly 2MSL: one microsecond before
 * it is still there, at 2MSL it is gone; nothing is sent either way. */
static void check_two_msl_exact(bool compact) {
    fx f;
    start(&f, compact, true);
    uint64_t entered = f.now;
    fx_advance(&f, TWO_MSL_US - 1);
    expect_time_wait(&f, compact);
    fx_advance(&f, 1);
    CHECK_EQ_U(f.now, entered + TWO_MSL_US);
    FX_EXPECT_NOTHING(&f);
    expect_gone(&f);
    if (!compact) CHECK(fx_events(&f, f.c) & TCPW_EV_CLOSED);
    fx_free(&f);
}
static void test_two_msl_exact_full(void) {
    check_two_msl_exact(false);
}
static void test_two_msl_exact_compact(void) {
    check_two_msl_exact(true);
}

/* Giving up the handle in TIME_WAIT sends nothing and keeps the 2MSL deadline: the record
 * takes over where the control block was. */
static void test_close_in_time_wait_keeps_deadline(void) {
    fx f;
    start(&f, false, true);
    uint64_t deadline = f.now + TWO_MSL_US;
    fx_advance(&f, 1000000);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, true);
    CHECK_EQ_U(tcpw_next_deadline(f.s), deadline);
    fx_free(&f);
}

/* ---- RST ------------------------------------------------------------------------------------- */

/* RFC 1337 §3 fix F1: "ignore RST segments in TIME-WAIT state" — exact or merely in the
 * window, nothing is sent and TIME_WAIT runs its course. */
static void check_rst_rfc1337(bool compact) {
    fx f;
    start(&f, compact, true);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, compact);
    fx_in(&f, TCPW_RST | TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, compact);
    fx_in(&f, TCPW_RST, FX_IRS + 100, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, compact);
    fx_in(&f, TCPW_RST, FX_RCV_EDGE, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, compact);
    CHECK_EQ_U(tcpw_next_deadline(f.s), f.now + TWO_MSL_US);
    fx_free(&f);
}
static void test_rst_ignored_rfc1337_full(void) {
    check_rst_rfc1337(false);
}
static void test_rst_ignored_rfc1337_compact(void) {
    check_rst_rfc1337(true);
}

/* RFC 1337 off: RFC 9293 §3.10.7.4 second, "TIME-WAIT STATE: If the RST bit is set, then enter
 * the CLOSED state, delete the TCB" — for SEG.SEQ = RCV.NXT (RFC 5961 §3.2 (2)). */
static void check_rst_exact_no_rfc1337(bool compact) {
    fx f;
    start(&f, compact, false);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_gone(&f);
    /* the 4-tuple has no connection now: the CLOSED rules answer (§3.10.7.1) */
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 2, 0, 0);
    fx_free(&f);
}
static void test_rst_exact_no_rfc1337_full(void) {
    check_rst_exact_no_rfc1337(false);
}
static void test_rst_exact_no_rfc1337_compact(void) {
    check_rst_exact_no_rfc1337(true);
}

/* RFC 1337 off, RFC 5961 §3.2 (3): in the window but not exact: challenge ACK; (1): outside
 * the window: dropped silently. TIME_WAIT stays either way. */
static void check_rst_window_no_rfc1337(bool compact) {
    fx f;
    start(&f, compact, false);
    fx_in(&f, TCPW_RST, FX_IRS + 3, 0, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    fx_clear(&f);
    fx_in(&f, TCPW_RST, FX_RCV_EDGE - 1, 0, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    fx_clear(&f);
    fx_in(&f, TCPW_RST, FX_RCV_EDGE, 0, NULL, 0);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, compact);
    fx_free(&f);
}
static void test_rst_window_no_rfc1337_full(void) {
    check_rst_window_no_rfc1337(false);
}
static void test_rst_window_no_rfc1337_compact(void) {
    check_rst_window_no_rfc1337(true);
}

/* ---- other segments ------------------------------------------------------------------------- */

/* Text in the window: "Acknowledge it" (fifth step, TIME-WAIT) and ignore the text (seventh):
 * <SEQ=SND.NXT><ACK=RCV.NXT>, nothing delivered, still TIME_WAIT. */
static void check_data_in_window(bool compact) {
    fx f;
    start(&f, compact, true);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 2, f.iss + 2, "zombie", 6);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    if (!compact) {
        char b[8];
        CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), 0);
    }
    fx_free(&f);
}
static void test_data_in_window_full(void) {
    check_data_in_window(false);
}
static void test_data_in_window_compact(void) {
    check_data_in_window(true);
}

/* Old text (wholly before RCV.NXT) or text beyond the window: not acceptable, ACK (first). */
static void check_data_not_acceptable(bool compact) {
    fx f;
    start(&f, compact, true);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS - 5, f.iss + 2, "old", 3);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_RCV_EDGE, f.iss + 2, "far", 3);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    fx_free(&f);
}
static void test_data_not_acceptable_full(void) {
    check_data_not_acceptable(false);
}
static void test_data_not_acceptable_compact(void) {
    check_data_not_acceptable(true);
}

/* A bare ACK that is acceptable acknowledges nothing new: not answered (an ACK is never
 * acknowledged — two ends in TIME_WAIT after a simultaneous close would otherwise trade ACKs
 * for ever). */
static void check_bare_ack(bool compact) {
    fx f;
    start(&f, compact, true);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    expect_time_wait(&f, compact);
    fx_free(&f);
}
static void test_bare_ack_full(void) {
    check_bare_ack(false);
}
static void test_bare_ack_compact(void) {
    check_bare_ack(true);
}

/* SEG.ACK > SND.NXT: "send an ACK, drop the segment" (fifth step; RFC 5961 §5.2). */
static void check_ack_beyond(bool compact) {
    fx f;
    start(&f, compact, true);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 3, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, compact);
    fx_free(&f);
}
static void test_ack_beyond_full(void) {
    check_ack_beyond(false);
}
static void test_ack_beyond_compact(void) {
    check_ack_beyond(true);
}

/* ---- SYN --------------------------------------------------------------------------------------
 */

/* The application holds the connection: it cannot be replaced, so a SYN is the synchronized
 * states' challenge ACK (RFC 5961 §4.2), whatever its sequence number. */
static void test_syn_full_challenge_ack(void) {
    fx f;
    start(&f, false, true);
    fx_in(&f, TCPW_SYN, FX_IRS + 100000, 0, NULL, 0);
    expect_ack(&f);
    FX_EXPECT_STATE(&f, TCPW_TIME_WAIT);
    fx_free(&f);
}

/* The new incarnation: the record is gone and a SYN_RCVD connection answers
 * <SEQ=ISS'><ACK=SEG.SEQ+1><CTL=SYN,ACK>. *iss2 receives ISS' (0 when nothing was sent). */
static void expect_reopened(fx *f, uint32_t syn_seq, uint32_t *iss2) {
    *iss2 = f->nout ? f->out[0].p.seq : 0;
    CHECK_EQ_U(tcpw_stack_stats(f->s)->time_wait_count, 0);
    tcpw_conn *c = table_find_conn(f->s, &f->local, &f->remote);
    REQUIRE(c != NULL);
    CHECK_EQ_U(c->state, TCPW_SYN_RCVD);
    FX_EXPECT_COUNT(f, 1);
    FX_EXPECT(f, 0, TCPW_SYN | TCPW_ACK, *iss2, syn_seq + 1, 0);
}

/* RFC 1122 §4.2.2.13 (no timestamps): a SYN with SEG.SEQ beyond the old connection's RCV.NXT
 * may reopen it, if the new ISS is "larger than the largest sequence number it used on the
 * previous connection incarnation". The new connection then completes as usual. */
static void test_syn_reopens_by_sequence(void) {
    fx f;
    start(&f, true, true);
    uint32_t syn = FX_IRS + 2 + 100000;
    fx_in(&f, TCPW_SYN, syn, 0, NULL, 0);
    uint32_t iss2;
    expect_reopened(&f, syn, &iss2);
    CHECK((int32_t)(iss2 - (f.iss + 2)) > 0);
    fx_clear(&f);
    fx_in(&f, TCPW_ACK, syn + 1, iss2 + 1, NULL, 0);
    FX_EXPECT_NOTHING(&f);
    tcpw_conn *c = tcpw_accept(f.listener);
    REQUIRE(c);
    CHECK_EQ_U(c->state, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* RFC 1122 §4.2.2.13 / RFC 9293 §3.10.7.4: a SYN not beyond RCV.NXT may be an old duplicate:
 * no reopen; the challenge ACK answers it (RFC 5961 §4.2), TIME_WAIT stays. */
static void test_syn_old_sequence_challenge_ack(void) {
    fx f;
    start(&f, true, true);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, true);
    fx_free(&f);
}

/* No listener for the port: nothing to reopen into; the challenge ACK. */
static void test_syn_no_listener_challenge_ack(void) {
    fx f;
    start(&f, true, true);
    CHECK_EQ_U(tcpw_close(f.listener, f.now), TCPW_OK);
    fx_clear(&f);
    fx_in(&f, TCPW_SYN, FX_IRS + 2 + 100000, 0, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, true);
    fx_free(&f);
}

/* ---- SYN with timestamps (RFC 6191 §2, RFC 7323 §5) -------------------------------------- */

/* TIME_WAIT with timestamps: the peer's segments carried FX_PEER_TS+1 (handshake ACK),
 * +2 (ACK of our FIN) and +3 (its FIN): TS.Recent = FX_PEER_TS+3. */
#define TW_TS_RECENT (FX_PEER_TS + 3)

static void start_ts(fx *f, bool compact) {
    fx_init(f);
    f->cfg.timestamps = true;
    fx_start(f);
    fx_established_ts(f);
    tcpw_shutdown(f->c, f->now);
    fx_in_ts(f, TCPW_ACK, FX_IRS + 1, f->iss + 2, FX_PEER_TS + 2, f->our_ts, NULL, 0);
    fx_in_ts(f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f->iss + 2, FX_PEER_TS + 3, f->our_ts, NULL, 0);
    REQUIRE(fx_state(f) == TCPW_TIME_WAIT);
    if (compact) {
        tcpw_close(f->c, f->now);
        f->c = NULL;
    }
    fx_clear(f);
}

/* RFC 6191: "the timestamp contained in the incoming SYN segment is greater than the last
 * timestamp seen on the previous incarnation": honor it, whatever its sequence number. */
static void test_syn_ts_newer_reopens(void) {
    fx f;
    start_ts(&f, true);
    fx_in_ts(&f, TCPW_SYN, FX_IRS - 50000, 0, TW_TS_RECENT + 1, 0, NULL, 0);
    uint32_t iss2;
    expect_reopened(&f, FX_IRS - 50000, &iss2);
    fx_free(&f);
}

/* RFC 6191: equal timestamp and a sequence number greater than the last one seen: honor. */
static void test_syn_ts_equal_seq_newer_reopens(void) {
    fx f;
    start_ts(&f, true);
    fx_in_ts(&f, TCPW_SYN, FX_IRS + 2 + 100000, 0, TW_TS_RECENT, 0, NULL, 0);
    uint32_t iss2;
    expect_reopened(&f, FX_IRS + 2 + 100000, &iss2);
    fx_free(&f);
}

/* Equal timestamp, old sequence number: not provably new. TIME_WAIT stays and the SYN gets
 * the challenge ACK (RFC 9293 §3.10.7.4 fourth; RFC 6191 would drop it silently). */
static void test_syn_ts_equal_seq_old_challenge_ack(void) {
    fx f;
    start_ts(&f, true);
    fx_in_ts(&f, TCPW_SYN, FX_IRS, 0, TW_TS_RECENT, 0, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, true);
    fx_free(&f);
}

/* An older timestamp: an old duplicate (PAWS, RFC 7323 §5.3 R1: ACK and drop), even with a
 * sequence number that alone would have reopened. */
static void test_syn_ts_older_rejected(void) {
    fx f;
    start_ts(&f, true);
    fx_in_ts(&f, TCPW_SYN, FX_IRS + 2 + 100000, 0, TW_TS_RECENT - 1, 0, NULL, 0);
    expect_ack(&f);
    CHECK(f.nout < 1 || f.out[0].p.opts.has_ts);
    expect_time_wait(&f, true);
    fx_free(&f);
}

/* RFC 6191: the old connection used timestamps but the SYN has none (timestamps would not be
 * enabled for the new incarnation): the sequence number decides. */
static void test_syn_without_ts_by_sequence(void) {
    fx f;
    start_ts(&f, true);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    expect_ack(&f);
    expect_time_wait(&f, true);
    fx_clear(&f);
    fx_in(&f, TCPW_SYN, FX_IRS + 2 + 100000, 0, NULL, 0);
    uint32_t iss2;
    expect_reopened(&f, FX_IRS + 2 + 100000, &iss2);
    fx_free(&f);
}

/* RFC 6191 §2: "If the previous incarnation of the connection did not use Timestamps" and
 * they "would be enabled for the new incarnation", honor the request whatever its sequence
 * number: PAWS protects the new incarnation from its first segment on. Without timestamps
 * the sequence number decides. */
static void test_syn_ts_after_connection_without_ts(void) {
    fx f;
    fx_init(&f);
    f.cfg.timestamps = true; /* we offer them; the old peer did not (fx_in sends no option) */
    fx_start(&f);
    fx_time_wait(&f);
    REQUIRE(!f.c->ts_ok);
    tcpw_close(f.c, f.now);
    f.c = NULL;
    fx_clear(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0); /* no timestamps, old sequence: stays */
    expect_ack(&f);
    expect_time_wait(&f, true);
    fx_clear(&f);
    fx_in_ts(&f, TCPW_SYN, FX_IRS, 0, FX_PEER_TS, 0, NULL, 0); /* timestamps: honoured */
    uint32_t iss2;
    expect_reopened(&f, FX_IRS, &iss2);
    fx_free(&f);
}

/* RFC 7323 §5.3 in TIME_WAIT: the peer's FIN again but with an old timestamp is not acceptable:
 * ACK (with TSecr = TS.Recent), dropped — it does not restart 2MSL. */
static void check_refin_paws(bool compact) {
    fx f;
    start_ts(&f, compact);
    uint64_t deadline = tcpw_next_deadline(f.s);
    fx_advance(&f, 1000000);
    fx_in_ts(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, FX_PEER_TS, f.our_ts, NULL, 0);
    expect_ack(&f);
    CHECK(f.nout < 1 || f.out[0].p.opts.tsecr == TW_TS_RECENT);
    expect_time_wait(&f, compact);
    CHECK_EQ_U(tcpw_next_deadline(f.s), deadline);
    fx_free(&f);
}
static void test_refin_paws_full(void) {
    check_refin_paws(false);
}
static void test_refin_paws_compact(void) {
    check_refin_paws(true);
}

int main(void) {
    RUN(test_refin_full);
    RUN(test_refin_compact);
    RUN(test_two_msl_exact_full);
    RUN(test_two_msl_exact_compact);
    RUN(test_close_in_time_wait_keeps_deadline);
    RUN(test_rst_ignored_rfc1337_full);
    RUN(test_rst_ignored_rfc1337_compact);
    RUN(test_rst_exact_no_rfc1337_full);
    RUN(test_rst_exact_no_rfc1337_compact);
    RUN(test_rst_window_no_rfc1337_full);
    RUN(test_rst_window_no_rfc1337_compact);
    RUN(test_data_in_window_full);
    RUN(test_data_in_window_compact);
    RUN(test_data_not_acceptable_full);
    RUN(test_data_not_acceptable_compact);
    RUN(test_bare_ack_full);
    RUN(test_bare_ack_compact);
    RUN(test_ack_beyond_full);
    RUN(test_ack_beyond_compact);
    RUN(test_syn_full_challenge_ack);
    RUN(test_syn_reopens_by_sequence);
    RUN(test_syn_old_sequence_challenge_ack);
    RUN(test_syn_no_listener_challenge_ack);
    RUN(test_syn_ts_newer_reopens);
    RUN(test_syn_ts_equal_seq_newer_reopens);
    RUN(test_syn_ts_equal_seq_old_challenge_ack);
    RUN(test_syn_ts_older_rejected);
    RUN(test_syn_without_ts_by_sequence);
    RUN(test_syn_ts_after_connection_without_ts);
    RUN(test_refin_paws_full);
    RUN(test_refin_paws_compact);
    return test_summary();
}
