/* test_user_calls.c — the user calls in every state (RFC 9293 §3.10.1–§3.10.5): OPEN
 * (tcpw_connect, tcpw_listen), SEND, RECEIVE, CLOSE (tcpw_shutdown: the send direction;
 * tcpw_close: the handle, RFC 2525 §2.17 for unread data) and ABORT, each with the exact segment
 * it sends (or nothing) and the state after.
 *
 * SYN_RCVD here is the active one (simultaneous open, fx_syn_rcvd_active): the application
 * holds no handle to a passive one before accept. SND.NXT and RCV.NXT per state are the
 * fixture's (fx_snd_nxt, fx_rcv_nxt), worked out from the RFC.
 */
#include "fixture.h"

static const tcpw_state sync_states[] = {TCPW_SYN_RCVD,   TCPW_ESTABLISHED, TCPW_FIN_WAIT_1,
                                         TCPW_FIN_WAIT_2, TCPW_CLOSE_WAIT,  TCPW_CLOSING,
                                         TCPW_LAST_ACK,   TCPW_TIME_WAIT};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define ERR(e)   ((uint64_t)(int64_t)(e))

static void start(fx *f, tcpw_state st) {
    fx_init(f);
    fx_start(f);
    switch (st) {
    case TCPW_LISTEN: fx_listen(f); break;
    case TCPW_SYN_SENT: fx_syn_sent(f); break;
    case TCPW_SYN_RCVD: fx_syn_rcvd_active(f); break;
    default: fx_enter(f, st); break;
    }
}

/* The fixture in state st, or a failed check naming the state. */
#define START(f, st)                                                                               \
    do {                                                                                           \
        start(f, st);                                                                              \
        if (fx_state(f) != (st) && (st) != TCPW_LISTEN) {                                          \
            CHECK_STR(tcpw_state_name(fx_state(f)), tcpw_state_name(st));                          \
            fx_free(f);                                                                            \
            return;                                                                                \
        }                                                                                          \
        fx_clear(f);                                                                               \
    } while (0)

static void note_state(int before, const char *what, tcpw_state st) {
    if (test_failed_checks != before)
        fprintf(stderr, "    ^ %s in state %s\n", what, tcpw_state_name(st));
}

/* ---- OPEN (§3.10.1) ---------------------------------------------------------------------- */

/* In any state but CLOSED: "error: connection already exists" — the 4-tuple is taken; nothing
 * is sent and the existing connection is untouched. */
static void check_open_exists(tcpw_state st) {
    fx f;
    START(&f, st);
    tcpw_conn *c2 = NULL;
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2), ERR(TCPW_EADDRINUSE));
    CHECK(c2 == NULL);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, st);
    fx_free(&f);
}
static void test_open_connection_exists(void) {
    check_open_exists(TCPW_SYN_SENT);
    for (size_t i = 0; i < COUNT(sync_states); i++)
        check_open_exists(sync_states[i]);
}

/* The compact TIME_WAIT record holds the 4-tuple too (RFC 9293 §3.6.1, RFC 1122 §4.2.2.13). */
static void test_open_time_wait_record_exists(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_time_wait_compact(&f);
    tcpw_conn *c2 = NULL;
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2), ERR(TCPW_EADDRINUSE));
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    fx_free(&f);
}

/* MUST-41: a passive OPEN "MUST NOT affect any previously created connection record": a second
 * listener on the port is refused. MUST-42: LISTEN on a port while a connection from the same
 * local port is in SYN_SENT is allowed. */
static void test_passive_open_rules(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_syn_sent(&f);
    tcpw_conn *l = NULL, *l2 = NULL;
    CHECK_EQ_U(tcpw_listen(f.s, &f.local, 4, &l), TCPW_OK);
    CHECK_EQ_U(tcpw_listen(f.s, &f.local, 4, &l2), ERR(TCPW_EADDRINUSE));
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_SYN_SENT);
    REQUIRE(l);
    CHECK_EQ_U(l->state, TCPW_LISTEN);
    fx_free(&f);
}

/* ---- SEND (§3.10.2) ------------------------------------------------------------------------ */

/* ESTABLISHED, CLOSE_WAIT: "Segmentize the buffer and send it with a piggybacked
 * acknowledgment (acknowledgment value = RCV.NXT)". FIN_WAIT_1/2, CLOSING, LAST_ACK, TIME_WAIT:
 * "error: connection closing" and nothing sent. */
static void test_send_per_state(void) {
    static const tcpw_state sending[] = {TCPW_ESTABLISHED, TCPW_CLOSE_WAIT};
    static const tcpw_state closing[] = {TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, TCPW_CLOSING,
                                         TCPW_LAST_ACK, TCPW_TIME_WAIT};
    for (size_t i = 0; i < COUNT(sending); i++) {
        int before = test_failed_checks;
        fx f;
        start(&f, sending[i]);
        fx_clear(&f);
        CHECK_EQ_U(tcpw_send(f.c, "hello", 5, f.now), 5);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, fx_snd_nxt(&f, sending[i]), fx_rcv_nxt(sending[i]),
                  5);
        FX_EXPECT_STATE(&f, sending[i]);
        fx_free(&f);
        note_state(before, "send", sending[i]);
    }
    for (size_t i = 0; i < COUNT(closing); i++) {
        int before = test_failed_checks;
        fx f;
        start(&f, closing[i]);
        fx_clear(&f);
        CHECK_EQ_U(tcpw_send(f.c, "hello", 5, f.now), ERR(TCPW_ECLOSING));
        FX_EXPECT_NOTHING(&f);
        FX_EXPECT_STATE(&f, closing[i]);
        fx_free(&f);
        note_state(before, "send", closing[i]);
    }
}

/* SYN_SENT: "Queue the data for transmission after entering ESTABLISHED state". Nothing goes
 * out now; with the SYN+ACK the data leaves carrying the handshake's ACK ("Data or controls that
 * were queued for transmission MAY be included", §3.10.7.3). */
static void test_send_in_syn_sent_queued(void) {
    fx f;
    START(&f, TCPW_SYN_SENT);
    CHECK_EQ_U(tcpw_send(f.c, "early", 5, f.now), 5);
    FX_EXPECT_NOTHING(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 5);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* SYN_RCVD: the same — queued until the ACK of our SYN arrives. */
static void test_send_in_syn_rcvd_queued(void) {
    fx f;
    START(&f, TCPW_SYN_RCVD);
    CHECK_EQ_U(tcpw_send(f.c, "early", 5, f.now), 5);
    FX_EXPECT_NOTHING(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_ACK | TCPW_PSH, f.iss + 1, FX_IRS + 1, 5);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* CLOSED after a reset: SENDs "receive 'reset' responses" (§3.10.7.4 second). LISTEN without a
 * remote socket: an error, nothing sent. No buffer space: "insufficient resources" (EAGAIN
 * for a non-blocking call). */
static void test_send_errors(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    CHECK_EQ_U(tcpw_send(f.c, "x", 1, f.now), ERR(TCPW_ERESET));
    CHECK_EQ_U(tcpw_send(f.listener, "x", 1, f.now), ERR(TCPW_ESTATE));
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    CHECK_EQ_U(f.listener->state, TCPW_LISTEN);
    fx_free(&f);

    static char big[8192];
    START(&f, TCPW_ESTABLISHED);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 0, NULL, 0); /* peer's window closed */
    CHECK_EQ_U(tcpw_send(f.c, big, sizeof big, f.now), sizeof big);
    CHECK_EQ_U(tcpw_send(f.c, "x", 1, f.now), ERR(TCPW_EAGAIN));
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_ESTABLISHED);
    fx_free(&f);
}

/* ---- RECEIVE (§3.10.3) --------------------------------------------------------------------- */

/* SYN_SENT, SYN_RCVD: nothing can have arrived yet (EAGAIN: "queue for processing after
 * entering ESTABLISHED"); ESTABLISHED, FIN_WAIT_1/2 with nothing queued: EAGAIN; CLOSE_WAIT,
 * CLOSING, LAST_ACK, TIME_WAIT with nothing left: end of stream, "connection closing" (0). */
static void test_receive_per_state(void) {
    static const struct {
        tcpw_state st;
        int64_t want;
    } cases[] = {
        {TCPW_SYN_SENT, TCPW_EAGAIN},
        {TCPW_SYN_RCVD, TCPW_EAGAIN},
        {TCPW_ESTABLISHED, TCPW_EAGAIN},
        {TCPW_FIN_WAIT_1, TCPW_EAGAIN},
        {TCPW_FIN_WAIT_2, TCPW_EAGAIN},
        {TCPW_CLOSE_WAIT, 0},
        {TCPW_CLOSING, 0},
        {TCPW_LAST_ACK, 0},
        {TCPW_TIME_WAIT, 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int before = test_failed_checks;
        fx f;
        start(&f, cases[i].st);
        fx_clear(&f);
        char b[8];
        CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), (uint64_t)cases[i].want);
        FX_EXPECT_NOTHING(&f);
        FX_EXPECT_STATE(&f, cases[i].st);
        fx_free(&f);
        note_state(before, "recv", cases[i].st);
    }
}

/* CLOSE_WAIT: "RECEIVEs must be satisfied by data already on hand": the text before the FIN
 * first, then end of stream. The same in FIN_WAIT_2 for text that arrived there. */
static void test_receive_data_on_hand(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in(&f, TCPW_FIN | TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "abcdef", 6);
    FX_EXPECT_STATE(&f, TCPW_CLOSE_WAIT);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, 4, f.now), 4);
    CHECK_EQ_U(tcpw_recv(f.c, b, 4, f.now), 2);
    CHECK_EQ_U(tcpw_recv(f.c, b, 4, f.now), 0);
    fx_free(&f);

    START(&f, TCPW_FIN_WAIT_2);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 2, "xyz", 3);
    CHECK_EQ_U(tcpw_recv(f.c, b, 4, f.now), 3);
    CHECK_EQ_U(tcpw_recv(f.c, b, 4, f.now), ERR(TCPW_EAGAIN));
    fx_free(&f);
}

/* CLOSED after a reset: "connection reset"; LISTEN: not a data connection. */
static void test_receive_errors(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    char b[4];
    CHECK_EQ_U(tcpw_recv(f.c, b, sizeof b, f.now), ERR(TCPW_ERESET));
    CHECK_EQ_U(tcpw_recv(f.listener, b, sizeof b, f.now), ERR(TCPW_ESTATE));
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

/* ---- CLOSE of the send direction (§3.10.4) -------------------------------------------------- */

/* ESTABLISHED: "form a FIN segment and send it ... enter FIN-WAIT-1"; CLOSE_WAIT: "send a FIN
 * segment, enter LAST-ACK"; SYN_RCVD with nothing to send: "form a FIN segment and send it, and
 * enter FIN-WAIT-1". The FIN is <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>. */
static void test_shutdown_sends_fin(void) {
    static const struct {
        tcpw_state from, to;
    } cases[] = {{TCPW_ESTABLISHED, TCPW_FIN_WAIT_1},
                 {TCPW_CLOSE_WAIT, TCPW_LAST_ACK},
                 {TCPW_SYN_RCVD, TCPW_FIN_WAIT_1}};
    for (size_t i = 0; i < COUNT(cases); i++) {
        int before = test_failed_checks;
        fx f;
        start(&f, cases[i].from);
        fx_clear(&f);
        CHECK_EQ_U(tcpw_shutdown(f.c, f.now), TCPW_OK);
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, fx_rcv_nxt(cases[i].from), 0);
        FX_EXPECT_STATE(&f, cases[i].to);
        fx_free(&f);
        note_state(before, "shutdown", cases[i].from);
    }
}

/* FIN_WAIT_1/2: "error: connection closing" (or "ok"), but "a second FIN is not emitted";
 * CLOSING, LAST_ACK, TIME_WAIT: "error: connection closing". Nothing is sent, the state stays. */
static void test_shutdown_when_closing(void) {
    static const tcpw_state states[] = {TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, TCPW_CLOSING,
                                        TCPW_LAST_ACK, TCPW_TIME_WAIT};
    for (size_t i = 0; i < COUNT(states); i++) {
        int before = test_failed_checks;
        fx f;
        start(&f, states[i]);
        fx_clear(&f);
        CHECK_EQ_U(tcpw_shutdown(f.c, f.now), ERR(TCPW_ECLOSING));
        FX_EXPECT_NOTHING(&f);
        FX_EXPECT_STATE(&f, states[i]);
        fx_free(&f);
        note_state(before, "shutdown", states[i]);
    }
}

/* SYN_SENT: "Delete the TCB": nothing sent, CLOSED, the 4-tuple free again. */
static void test_shutdown_in_syn_sent(void) {
    fx f;
    START(&f, TCPW_SYN_SENT);
    CHECK_EQ_U(tcpw_shutdown(f.c, f.now), TCPW_OK);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX); /* no SYN retransmission left */
    fx_free(&f);
}

/* SYN_RCVD with data queued: "otherwise, queue for processing after entering ESTABLISHED
 * state" — nothing leaves before the ACK of our SYN; then the data, then the FIN. */
static void test_shutdown_in_syn_rcvd_with_data(void) {
    fx f;
    START(&f, TCPW_SYN_RCVD);
    CHECK_EQ_U(tcpw_send(f.c, "abc", 3, f.now), 3);
    CHECK_EQ_U(tcpw_shutdown(f.c, f.now), TCPW_OK);
    FX_EXPECT_NOTHING(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    REQUIRE(f.nout >= 1);
    /* the three bytes at ISS+1 and the FIN at ISS+4, in one segment or two */
    FX_EXPECT(&f, 0, f.nout == 1 ? TCPW_ACK | TCPW_PSH | TCPW_FIN : TCPW_ACK | TCPW_PSH, f.iss + 1,
              FX_IRS + 1, 3);
    if (f.nout == 2) FX_EXPECT(&f, 1, TCPW_ACK | TCPW_FIN, f.iss + 4, FX_IRS + 1, 0);
    CHECK(f.nout <= 2);
    FX_EXPECT_STATE(&f, TCPW_FIN_WAIT_1);
    fx_free(&f);
}

/* ESTABLISHED with data held back by a zero window: "Queue this until all preceding SENDs have
 * been segmentized, then form a FIN segment and send it. In any case, enter FIN-WAIT-1." */
static void test_shutdown_fin_waits_for_data(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 0, NULL, 0);
    CHECK_EQ_U(tcpw_send(f.c, "abc", 3, f.now), 3);
    CHECK_EQ_U(tcpw_shutdown(f.c, f.now), TCPW_OK);
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_FIN_WAIT_1);
    fx_in_win(&f, TCPW_ACK, FX_IRS + 1, f.iss + 1, 1000, NULL, 0);
    REQUIRE(f.nout >= 1);
    FX_EXPECT(&f, 0, f.nout == 1 ? TCPW_ACK | TCPW_PSH | TCPW_FIN : TCPW_ACK | TCPW_PSH, f.iss + 1,
              FX_IRS + 1, 3);
    if (f.nout == 2) FX_EXPECT(&f, 1, TCPW_ACK | TCPW_FIN, f.iss + 4, FX_IRS + 1, 0);
    CHECK(f.nout <= 2);
    fx_free(&f);
}

/* CLOSED after a reset: the error of the connection; LISTEN: not valid. */
static void test_shutdown_errors(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    CHECK_EQ_U(tcpw_shutdown(f.c, f.now), ERR(TCPW_ERESET));
    CHECK_EQ_U(tcpw_shutdown(f.listener, f.now), ERR(TCPW_ESTATE));
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_STATE(&f, TCPW_CLOSED);
    fx_free(&f);
}

/* ---- close() of the handle ------------------------------------------------------------------ */

/* close() is CLOSE plus giving up the handle: the same FIN; FIN_WAIT_1 runs on orphaned. */
static void test_close_sends_fin(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_FIN | TCPW_ACK, f.iss + 1, FX_IRS + 1, 0);
    tcpw_conn *c = table_find_conn(f.s, &f.local, &f.remote);
    REQUIRE(c);
    CHECK_EQ_U(c->state, TCPW_FIN_WAIT_1);
    fx_free(&f);
}

/* SYN_SENT: "Delete the TCB": nothing at all is sent — no RST, no FIN. */
static void test_close_in_syn_sent(void) {
    fx f;
    START(&f, TCPW_SYN_SENT);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    fx_free(&f);
}

/* RFC 2525 §2.17 (and RFC 1122 §4.2.2.13): closing while received data is unread loses it:
 * RST <SEQ=SND.NXT><CTL=RST> instead of a FIN, and the connection is gone. In every state where
 * text can be waiting. */
static void test_close_unread_data_rst(void) {
    static const tcpw_state states[] = {TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2};
    for (size_t i = 0; i < COUNT(states); i++) {
        int before = test_failed_checks;
        fx f;
        start(&f, states[i]);
        fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, fx_snd_una(&f, states[i]), "unread", 6);
        fx_clear(&f);
        CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
        f.c = NULL;
        FX_EXPECT_COUNT(&f, 1);
        FX_EXPECT(&f, 0, TCPW_RST, fx_snd_nxt(&f, states[i]), 0, 0);
        FX_EXPECT_NO_CONN(&f);
        CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
        fx_free(&f);
        note_state(before, "close with unread data", states[i]);
    }
    /* CLOSE_WAIT: the text before the peer's FIN unread */
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in(&f, TCPW_FIN | TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "unread", 6);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_close(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 1, 0, 0);
    FX_EXPECT_NO_CONN(&f);
    fx_free(&f);
}

/* A listener: "Delete TCB, enter CLOSED state" — its port has no connection afterwards: a SYN
 * meets the CLOSED rules (§3.10.7.1). A connection it had not handed out yet is reset
 * <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.5 for SYN-RECEIVED; sockets do this on close()). */
static void test_close_listener(void) {
    fx f;
    fx_init(&f);
    fx_start(&f);
    fx_syn_rcvd(&f);
    CHECK_EQ_U(tcpw_close(f.listener, f.now), TCPW_OK);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 1, 0, 0);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
    fx_clear(&f);
    f.remote.port = 40001;
    fx_in(&f, TCPW_SYN, 777, 0, NULL, 0);
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST | TCPW_ACK, 0, 778, 0);
    /* the port can be listened on again */
    tcpw_conn *l = NULL;
    CHECK_EQ_U(tcpw_listen(f.s, &f.local, 4, &l), TCPW_OK);
    fx_free(&f);
}

/* ---- ABORT (§3.10.5) ------------------------------------------------------------------------ */

/* SYN_RCVD, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT: "Send a reset segment:
 * <SEQ=SND.NXT><CTL=RST>"; CLOSING, LAST_ACK, TIME_WAIT: "Respond with 'ok' and delete the
 * TCB" — nothing sent. The TCB is gone in every case (no TIME_WAIT record either). */
static void test_abort_per_state(void) {
    for (size_t i = 0; i < COUNT(sync_states); i++) {
        tcpw_state st = sync_states[i];
        int before = test_failed_checks;
        fx f;
        start(&f, st);
        fx_clear(&f);
        uint32_t snd_nxt = fx_snd_nxt(&f, st);
        CHECK_EQ_U(tcpw_abort(f.c, f.now), TCPW_OK);
        f.c = NULL;
        if (st == TCPW_CLOSING || st == TCPW_LAST_ACK || st == TCPW_TIME_WAIT) {
            FX_EXPECT_NOTHING(&f);
        } else {
            FX_EXPECT_COUNT(&f, 1);
            FX_EXPECT(&f, 0, TCPW_RST, snd_nxt, 0, 0);
        }
        FX_EXPECT_NO_CONN(&f);
        CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 0);
        CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
        fx_free(&f);
        note_state(before, "abort", st);
    }
}

/* LISTEN and SYN_SENT: "Delete the TCB, enter CLOSED state" — nothing sent. */
static void test_abort_listen_and_syn_sent(void) {
    fx f;
    START(&f, TCPW_SYN_SENT);
    CHECK_EQ_U(tcpw_abort(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_NOTHING(&f);
    FX_EXPECT_NO_CONN(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
    fx_free(&f);

    START(&f, TCPW_LISTEN);
    CHECK_EQ_U(tcpw_abort(f.listener, f.now), TCPW_OK);
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 0);
    fx_free(&f);
}

/* SND.NXT after data went out: the RST carries the sequence number after the data (the data
 * in flight is flushed, not sent again). */
static void test_abort_after_data(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    CHECK_EQ_U(tcpw_send(f.c, "0123456789", 10, f.now), 10);
    fx_clear(&f);
    CHECK_EQ_U(tcpw_abort(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_COUNT(&f, 1);
    FX_EXPECT(&f, 0, TCPW_RST, f.iss + 11, 0, 0);
    CHECK_EQ_U(tcpw_next_deadline(f.s), UINT64_MAX);
    FX_EXPECT_NO_CONN(&f);
    fx_free(&f);
}

/* A connection already CLOSED by the peer's RST: the handle is given up, nothing is sent. */
static void test_abort_closed(void) {
    fx f;
    START(&f, TCPW_ESTABLISHED);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    CHECK_EQ_U(tcpw_abort(f.c, f.now), TCPW_OK);
    f.c = NULL;
    FX_EXPECT_NOTHING(&f);
    CHECK_EQ_U(tcpw_stack_stats(f.s)->conn_count, 1); /* the listener */
    fx_free(&f);
}

int main(void) {
    RUN(test_open_connection_exists);
    RUN(test_open_time_wait_record_exists);
    RUN(test_passive_open_rules);
    RUN(test_send_per_state);
    RUN(test_send_in_syn_sent_queued);
    RUN(test_send_in_syn_rcvd_queued);
    RUN(test_send_errors);
    RUN(test_receive_per_state);
    RUN(test_receive_data_on_hand);
    RUN(test_receive_errors);
    RUN(test_shutdown_sends_fin);
    RUN(test_shutdown_when_closing);
    RUN(test_shutdown_in_syn_sent);
    RUN(test_shutdown_in_syn_rcvd_with_data);
    RUN(test_shutdown_fin_waits_for_data);
    RUN(test_shutdown_errors);
    RUN(test_close_sends_fin);
    RUN(test_close_in_syn_sent);
    RUN(test_close_unread_data_rst);
    RUN(test_close_listener);
    RUN(test_abort_per_state);
    RUN(test_abort_listen_and_syn_sent);
    RUN(test_abort_after_data);
    RUN(test_abort_closed);
    return test_summary();
}
