/* test_scenarios.c — the close scenarios of the registry (src/sim/scenario.h), each run in the
 * simulator and checked segment by segment (exact relative seq/ack, and the seeds' u, v, w as
 * absolute numbers) and state by state on both endpoints, with the times the RFC implies.
 *
 * The numbers come from the defaults of tcpw_scn_spec_default(): 10 ms one way, the client
 * sends a 100-byte request at 20 ms, the server answers with 200 bytes; delayed ACK 40 ms,
 * RTO 1 s (the RFC 6298 minimum), MSL 30 s, fin_timeout 60 s.
 */
#include <stdlib.h>

#include "scn_util.h"

/* The handshake and the request/response every client-connects scenario starts with:
 * segments 0..4, the client's FIN at 40 ms is segment 5. The response carries the ACK of the
 * request, and what the client sends next the ACK of the response: each application answers
 * in the turn it reads, and the engine defers the ACK it owes until then (cfg.ack_defer). */
static void check_opening(const tcpw_recording *r) {
    SEG_IS(scn_seg(r, 0), C_, TCPW_SYN, 0, 0, 0);
    SEG_IS(scn_seg(r, 1), S_, SA, 0, 1, 0);
    SEG_IS(scn_seg(r, 2), C_, A, 1, 1, 0);
    SEG_IS(scn_seg(r, 3), C_, PA, 1, 1, 100);
    SEG_IS(scn_seg(r, 4), S_, PA, 1, 101, 200);
}

static uint32_t isn_of(const tcpw_recording *r, int side) {
    const tcpw_rec_event *syn = scn_seg_by(r, side, TCPW_SYN, 0);
    return syn ? syn->seq : 0;
}

/* 1. The seeds' four-way close, client first. */
static void test_four_way(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "four-way", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 9);
    check_opening(r);
    /* the four segments of the close, relative as Wireshark shows them; the client closes as
     * it reads the response, so its FIN acknowledges it */
    const tcpw_rec_event *fin1 = scn_seg(r, 5), *ack1 = scn_seg(r, 6), *fin2 = scn_seg(r, 7),
                         *ack2 = scn_seg(r, 8);
    SEG_IS(fin1, C_, FA, 101, 201, 0);
    SEG_IS(ack1, S_, A, 201, 102, 0);
    SEG_IS(fin2, S_, FA, 201, 102, 0);
    SEG_IS(ack2, C_, A, 102, 202, 0);
    /* ... and absolute, in the seeds' letters */
    uint32_t u = isn_of(r, C_) + 101, v = isn_of(r, S_) + 201, w = v;
    CHECK_EQ_U(fin1->seq, u); /* FIN seq=u */
    CHECK_EQ_U(ack1->seq, v); /* ACK seq=v ack=u+1 */
    CHECK_EQ_U(ack1->ack, u + 1);
    CHECK_EQ_U(fin2->seq, w); /* FIN+ACK seq=w ack=u+1 */
    CHECK_EQ_U(fin2->ack, u + 1);
    CHECK_EQ_U(ack2->seq, u + 1); /* ACK seq=u+1 ack=w+1 */
    CHECK_EQ_U(ack2->ack, w + 1);
    CHECK_EQ_U(fin1->t_us, 40 * MS);
    CHECK_EQ_U(ack1->t_us, 90 * MS);  /* the FIN arrives at 50 ms; delayed ACK 40 ms */
    CHECK_EQ_U(fin2->t_us, 150 * MS); /* the server's application closes 100 ms after EOF */
    CHECK_EQ_U(ack2->t_us, 160 * MS);

    CHECK_STR(scn_states(r, C_),
              "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_FIN_WAIT_1, 0), 40 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSE_WAIT, 0), 50 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_FIN_WAIT_2, 0), 100 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_LAST_ACK, 0), 150 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_TIME_WAIT, 0), 160 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSED, 0), 170 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSED, 0), 160 * MS + 60 * SEC); /* 2MSL */
    /* each transition of the close was caused by the segment the seeds say */
    const tcpw_rec_event *t = scn_transition(r, C_, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_SEGMENT);
    CHECK_EQ_U(t->cause_seg.ack, u + 1);
    t = scn_transition(r, C_, TCPW_FIN_WAIT_2, TCPW_TIME_WAIT);
    REQUIRE(t);
    CHECK_EQ_U(t->cause_seg.flags, FA);
    CHECK_EQ_U(t->cause_seg.seq, w);
    t = scn_transition(r, S_, TCPW_LAST_ACK, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause_seg.ack, w + 1);
    t = scn_transition(r, C_, TCPW_TIME_WAIT, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);

    /* the applications: every byte exactly once, the server read EOF */
    CHECK(res.data_ok);
    CHECK(res.complete);
    CHECK_EQ_U(res.app[C_].conn[0].received, 200);
    CHECK_EQ_U(res.app[S_].conn[0].received, 100);
    CHECK(res.app[S_].conn[0].eof);
    CHECK(res.app[C_].conn[0].called_close);
    /* nothing is left but the server's listener */
    CHECK_EQ_U(res.nlist[C_], 0);
    CHECK_EQ_U(res.nlist[S_], 1);
    if (res.nlist[S_] == 1) CHECK_EQ_U(res.list[S_][0].state, TCPW_LISTEN);
    CHECK_EQ_U(res.stats[C_].time_wait_count, 0);
    CHECK_EQ_U(res.end_us, 160 * MS + 60 * SEC);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 2. The server closes first: the same four segments the other way round. */
static void test_server_first(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "server-first", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 10);
    check_opening(r);
    const tcpw_rec_event *fin1 = scn_seg(r, 5), *ack1 = scn_seg(r, 7), *fin2 = scn_seg(r, 8),
                         *ack2 = scn_seg(r, 9);
    SEG_IS(fin1, S_, FA, 201, 101, 0);         /* right after the response, at 30 ms */
    SEG_IS(scn_seg(r, 6), C_, A, 101, 201, 0); /* the client's ACK of the response */
    SEG_IS(ack1, C_, A, 101, 202, 0);
    SEG_IS(fin2, C_, FA, 101, 202, 0);
    SEG_IS(ack2, S_, A, 202, 102, 0);
    uint32_t u = isn_of(r, S_) + 201, v = isn_of(r, C_) + 101, w = v;
    CHECK_EQ_U(fin1->seq, u);
    CHECK_EQ_U(ack1->seq, v);
    CHECK_EQ_U(ack1->ack, u + 1);
    CHECK_EQ_U(fin2->seq, w);
    CHECK_EQ_U(fin2->ack, u + 1);
    CHECK_EQ_U(ack2->seq, u + 1);
    CHECK_EQ_U(ack2->ack, w + 1);
    CHECK_STR(scn_states(r, S_),
              "CLOSED LISTEN SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_FIN_WAIT_1, 0), 30 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSE_WAIT, 0), 40 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_FIN_WAIT_2, 0), 90 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_LAST_ACK, 0), 140 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_TIME_WAIT, 0), 150 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSED, 0), 160 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSED, 0), 150 * MS + 60 * SEC);
    CHECK(res.data_ok);
    CHECK(res.complete);
    CHECK(res.app[C_].conn[0].eof);
    CHECK_EQ_U(res.nlist[C_], 0);
    CHECK_EQ_U(res.nlist[S_], 1);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 3. Half-close: the client shuts down its side after the request; the server acknowledges
 * the FIN, then sends 5000 bytes the client still reads, then its FIN. */
static void test_half_close(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "half-close", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    SEG_IS(scn_seg(r, 3), C_, PA, 1, 1, 100);
    const tcpw_rec_event *fin1 = scn_seg(r, 4);
    SEG_IS(fin1, C_, FA, 101, 1, 0); /* shutdown() right after the request */
    SEG_IS(scn_seg(r, 5), S_, A, 1, 101, 0);
    const tcpw_rec_event *ack1 = scn_seg(r, 6);
    SEG_IS(ack1, S_, A, 1, 102, 0); /* ACK of the FIN, alone (delayed ACK, 40 ms) */
    CHECK_EQ_U(ack1->t_us, 70 * MS);
    uint32_t u = isn_of(r, C_) + 101, v = isn_of(r, S_) + 1;
    CHECK_EQ_U(ack1->seq, v);
    CHECK_EQ_U(ack1->ack, u + 1);
    /* Then the server's data: contiguous from v, each acknowledging u+1, the FIN on the last
     * one right after the 5000th byte, nothing from the server in between but data. */
    uint32_t next = v, total = 0;
    const tcpw_rec_event *fin2 = NULL;
    size_t nseg = scn_seg_count(r);
    for (size_t i = 7; i < nseg; i++) {
        const tcpw_rec_event *e = scn_seg(r, i);
        if (e->side == C_) {
            if (fin2) break;
            /* the client's ACKs while it reads in FIN_WAIT_2: pure ACKs at u+1 */
            CHECK_EQ_U(e->flags, A);
            CHECK_EQ_U(e->seq, u + 1);
            CHECK_EQ_U(e->len, 0);
            continue;
        }
        CHECK(e->len > 0);
        CHECK_EQ_U(e->seq, next);
        CHECK_EQ_U(e->ack, u + 1);
        CHECK(e->t_us >= ack1->t_us);
        next += e->len;
        total += e->len;
        if (e->flags & TCPW_FIN) fin2 = e;
    }
    CHECK_EQ_U(total, 5000);
    REQUIRE(fin2);
    uint32_t w = v + 5000; /* the FIN's own sequence number */
    CHECK_EQ_U(fin2->seq + fin2->len, w);
    CHECK_EQ_U(fin2->flags, FPA);
    const tcpw_rec_event *ack2 = scn_seg(r, nseg - 1);
    SEG_IS(ack2, C_, A, 102, 5002, 0);
    CHECK_EQ_U(ack2->seq, u + 1);
    CHECK_EQ_U(ack2->ack, w + 1);
    CHECK_STR(scn_states(r, C_),
              "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    /* the client read all 5000 bytes in FIN_WAIT_2, and EOF only after them */
    uint64_t fw2 = scn_state_time(r, C_, TCPW_FIN_WAIT_2, 0), read = 0;
    bool eof_after_data = false;
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind != TCPW_REC_APP || e->side != C_) continue;
        if (e->app == TCPW_APP_DATA) {
            CHECK(e->t_us > fw2);
            read += e->bytes;
        }
        if (e->app == TCPW_APP_EOF) eof_after_data = read == 5000;
    }
    CHECK_EQ_U(read, 5000);
    CHECK(eof_after_data);
    CHECK(res.data_ok);
    CHECK(res.complete);
    CHECK(res.app[C_].conn[0].called_shutdown);
    CHECK(res.app[C_].conn[0].eof);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 4. Three segments: the server closes as it reads EOF; its delayed ACK leaves with its FIN
 * and the client goes from FIN_WAIT_1 straight to TIME_WAIT. */
static void test_three_way_close(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "three-way-close", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 8);
    check_opening(r);
    const tcpw_rec_event *fin1 = scn_seg(r, 5), *finack = scn_seg(r, 6), *ack = scn_seg(r, 7);
    SEG_IS(fin1, C_, FA, 101, 201, 0);
    SEG_IS(finack, S_, FA, 201, 102, 0);
    SEG_IS(ack, C_, A, 102, 202, 0);
    uint32_t u = isn_of(r, C_) + 101, w = isn_of(r, S_) + 201;
    CHECK_EQ_U(finack->seq, w);
    CHECK_EQ_U(finack->ack, u + 1);
    CHECK_EQ_U(finack->t_us, 50 * MS); /* the instant the FIN arrived */
    CHECK_EQ_U(ack->ack, w + 1);
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK(scn_transition(r, C_, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2) == NULL);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_TIME_WAIT, 0), 60 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSE_WAIT, 0), 50 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_LAST_ACK, 0), 50 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSED, 0), 70 * MS);
    CHECK(res.complete);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 5. Simultaneous close: the FINs cross; both sides pass through CLOSING to TIME_WAIT. */
static void test_simultaneous_close(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "simultaneous-close", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 10);
    check_opening(r);
    /* both close after their turn (TCPW_SCN_TOGETHER): the ACK of the response goes first */
    SEG_IS(scn_seg(r, 5), C_, A, 101, 201, 0);
    const tcpw_rec_event *cfin = scn_seg(r, 6), *sfin = scn_seg(r, 7);
    SEG_IS(cfin, C_, FA, 101, 201, 0);
    SEG_IS(sfin, S_, FA, 201, 101, 0); /* does not acknowledge the client's FIN: not seen yet */
    CHECK_EQ_U(cfin->t_us, 40 * MS);
    CHECK_EQ_U(sfin->t_us, 40 * MS);
    SEG_IS(scn_seg(r, 8), S_, A, 202, 102, 0);
    SEG_IS(scn_seg(r, 9), C_, A, 102, 202, 0);
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_),
              "CLOSED LISTEN SYN_RCVD ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT CLOSED");
    for (int s = 0; s < 2; s++) {
        CHECK_EQ_U(scn_state_time(r, s, TCPW_CLOSING, 0), 50 * MS);
        CHECK_EQ_U(scn_state_time(r, s, TCPW_TIME_WAIT, 0), 60 * MS);
        CHECK_EQ_U(scn_state_time(r, s, TCPW_CLOSED, 0), 60 * MS + 60 * SEC);
    }
    CHECK(res.complete);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 6. Simultaneous open: the SYNs cross; each SYN+ACK takes its receiver from SYN_RCVD to
 * ESTABLISHED (RFC 9293 Figure 8). */
static void test_simultaneous_open(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "simultaneous-open", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    SEG_IS(scn_seg(r, 0), C_, TCPW_SYN, 0, 0, 0);
    SEG_IS(scn_seg(r, 1), S_, TCPW_SYN, 0, 0, 0);
    SEG_IS(scn_seg(r, 2), S_, SA, 0, 1, 0); /* <SEQ=ISN><ACK=peer's ISN+1><SYN,ACK> */
    SEG_IS(scn_seg(r, 3), C_, SA, 0, 1, 0);
    CHECK_EQ_U(scn_seg(r, 2)->ack, isn_of(r, C_) + 1);
    CHECK_EQ_U(scn_seg(r, 3)->ack, isn_of(r, S_) + 1);
    SEG_IS(scn_seg(r, 4), C_, PA, 1, 1, 100); /* no separate ACK: the handshake is done */
    CHECK_STR(scn_states(r, C_),
              "CLOSED SYN_SENT SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    for (int s = 0; s < 2; s++) {
        CHECK_EQ_U(scn_state_time(r, s, TCPW_SYN_RCVD, 0), 10 * MS);
        CHECK_EQ_U(scn_state_time(r, s, TCPW_ESTABLISHED, 0), 20 * MS);
        /* caused by the peer's SYN+ACK (the trace shows it as it arrived: SYN at the peer's
         * ISN), whose ACK acknowledges our SYN */
        const tcpw_rec_event *t = scn_transition(r, s, TCPW_SYN_RCVD, TCPW_ESTABLISHED);
        REQUIRE(t);
        CHECK_EQ_U(t->t_us, scn_seg_by(r, 1 - s, SA, 0)->t_us + 10 * MS);
        CHECK_EQ_U(t->cause_seg.flags, TCPW_SYN | TCPW_ACK);
        CHECK_EQ_U(t->cause_seg.ack, isn_of(r, s) + 1);
        CHECK_EQ_U(t->cause_seg.seq, isn_of(r, 1 - s));
    }
    /* the close that follows is the seeds' four-way close */
    size_t f = 0;
    while (f < scn_seg_count(r) && !(scn_seg(r, f)->flags & TCPW_FIN))
        f++;
    SEG_IS(scn_seg(r, f), C_, FA, 101, 201, 0);
    SEG_IS(scn_seg(r, f + 1), S_, A, 201, 102, 0);
    SEG_IS(scn_seg(r, f + 2), S_, FA, 201, 102, 0);
    SEG_IS(scn_seg(r, f + 3), C_, A, 102, 202, 0);
    CHECK_EQ_U(scn_seg_count(r), f + 4);
    CHECK(res.complete);
    CHECK_EQ_U(res.app[S_].connections, 1);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 7. CLOSE in SYN_RCVD (a simultaneous open): SYN_RCVD -> FIN_WAIT_1, the FIN right after
 * the SYN+ACK in sequence space (RFC 9293 §3.10.4). */
static void test_close_in_syn_rcvd(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "close-in-syn-rcvd", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 10);
    SEG_IS(scn_seg(r, 2), S_, SA, 0, 1, 0);
    SEG_IS(scn_seg(r, 3), C_, SA, 0, 1, 0);
    const tcpw_rec_event *fin1 = scn_seg(r, 4);
    SEG_IS(fin1, S_, FA, 1, 1, 0); /* FIN seq = ISS+1, before our SYN is acknowledged */
    CHECK_EQ_U(fin1->t_us, 15 * MS);
    SEG_IS(scn_seg(r, 5), C_, PA, 1, 1, 100);
    SEG_IS(scn_seg(r, 6), S_, A, 2, 101, 0); /* it sends nothing else: the ACK goes alone */
    SEG_IS(scn_seg(r, 7), C_, A, 101, 2, 0); /* ACK of the FIN: seq=v ack=u+1 */
    SEG_IS(scn_seg(r, 8), C_, FA, 101, 2, 0);
    SEG_IS(scn_seg(r, 9), S_, A, 2, 102, 0);
    CHECK_STR(scn_states(r, S_), "CLOSED SYN_SENT SYN_RCVD FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    const tcpw_rec_event *t = scn_transition(r, S_, TCPW_SYN_RCVD, TCPW_FIN_WAIT_1);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_USER);
    CHECK_EQ_U(t->t_us, 15 * MS);
    /* the server still read the request after its shutdown() */
    CHECK_EQ_U(res.app[S_].conn[0].received, 100);
    CHECK(res.app[S_].conn[0].eof);
    CHECK(res.data_ok);
    CHECK(res.complete);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 8. The last ACK is lost: LAST_ACK retransmits its FIN with a doubling timeout; TIME_WAIT
 * acknowledges each copy again and restarts 2MSL. With msl 0 the client has forgotten the
 * connection and answers the retransmitted FIN with RST. */
static void test_lost_last_ack(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "lost-last-ack", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(res.rules_fired, 3);
    uint64_t fin_t[4];
    for (size_t k = 0; k < 4; k++) {
        const tcpw_rec_event *fin = scn_seg_by(r, S_, FA, k);
        SEG_IS(fin, S_, FA, 201, 102, 0); /* the same FIN every time */
        fin_t[k] = fin ? fin->t_us : 0;
    }
    CHECK(scn_seg_by(r, S_, FA, 4) == NULL);
    CHECK_EQ_U(fin_t[0], 150 * MS);
    CHECK_EQ_U(fin_t[1] - fin_t[0], 1 * SEC); /* RTO 1 s, then doubled: 2 s, 4 s */
    CHECK_EQ_U(fin_t[2] - fin_t[1], 2 * SEC);
    CHECK_EQ_U(fin_t[3] - fin_t[2], 4 * SEC);
    /* the client's ACKs: the first three lost, each answering a FIN 10 ms after it left */
    for (size_t k = 0; k < 4; k++) {
        const tcpw_rec_event *ack = scn_seg(r, 8 + 2 * k);
        SEG_IS(ack, C_, A, 102, 202, 0);
        if (!ack) continue;
        CHECK_EQ_U(ack->t_us, fin_t[k] + 10 * MS);
        CHECK_EQ_U(ack->fate, k < 3 ? TCPW_FATE_DROPPED : TCPW_FATE_DELIVERED);
    }
    CHECK_EQ_U(scn_seg_count(r), 15);
    CHECK_EQ_U(scn_notes(r, C_, "retransmitted FIN in TIME_WAIT"), 3);
    CHECK_STR(scn_states(r, C_),
              "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSED, 0), fin_t[3] + 20 * MS);
    /* 2MSL counts from the last ACK the client sent, not from its entry into TIME_WAIT */
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_TIME_WAIT, 0), 160 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSED, 0), fin_t[3] + 10 * MS + 60 * SEC);
    CHECK(res.complete);
    CHECK_EQ_U(res.nlist[C_], 0);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);

    /* msl 0: TIME_WAIT ends as it starts, so the last ACK is lost and never repeated. The
     * rules count only segments with ACK: the client's RST (no ACK) is not dropped, and it
     * answers the server's first retransmitted FIN at once. */
    REQUIRE(scn_run(&res, "lost-last-ack", "msl", "0", NULL) == 0);
    r = &res.rec;
    CHECK_EQ_U(res.rules_fired, 1); /* the last ACK; there is no repetition to drop */
    const tcpw_rec_event *last_ack = scn_seg_by(r, C_, A, 3);
    SEG_IS(last_ack, C_, A, 102, 202, 0);
    if (last_ack) CHECK_EQ_U(last_ack->fate, TCPW_FATE_DROPPED);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_TIME_WAIT, 0), 160 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSED, 0), 160 * MS);
    const tcpw_rec_event *refin = scn_seg_by(r, S_, FA, 1);
    SEG_IS(refin, S_, FA, 201, 102, 0);
    REQUIRE(refin);
    CHECK_EQ_U(refin->t_us, 1150 * MS);
    CHECK(scn_seg_by(r, S_, FA, 2) == NULL); /* one retransmission is enough */
    const tcpw_rec_event *rst = scn_seg_by(r, C_, TCPW_RST, 0);
    REQUIRE(rst);
    CHECK_EQ_U(rst->flags, TCPW_RST);
    CHECK_EQ_U(rst->seq, refin->ack); /* RFC 9293 §3.10.7.1: <SEQ=SEG.ACK><CTL=RST> */
    CHECK_EQ_U(rst->t_us, 1160 * MS);
    const tcpw_rec_event *t = scn_transition(r, S_, TCPW_LAST_ACK, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->t_us, 1170 * MS);
    CHECK_EQ_U(t->cause_seg.flags, TCPW_RST);
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK_EQ_U(scn_seg_count(r), 11);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 9. The first FIN is lost and retransmitted after the RTO. It also carried the ACK of the
 * response (the client closes in the turn it reads it), so the server retransmits its
 * response after its own RTO, and the client acknowledges that duplicate at once. */
static void test_lost_fin(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "lost-fin", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 12);
    check_opening(r);
    const tcpw_rec_event *lost = scn_seg(r, 5), *again = scn_seg(r, 8);
    const tcpw_rec_event *resent = scn_seg(r, 6);
    SEG_IS(resent, S_, PA, 1, 101, 200);
    REQUIRE(resent);
    CHECK_EQ_U(resent->t_us, 1030 * MS);       /* 1 s after the response */
    SEG_IS(scn_seg(r, 7), C_, A, 102, 201, 0); /* a duplicate: acknowledged at once */
    SEG_IS(lost, C_, FA, 101, 201, 0);
    SEG_IS(again, C_, FA, 101, 201, 0); /* the same FIN: seq=u */
    REQUIRE(lost && again);
    CHECK_EQ_U(lost->fate, TCPW_FATE_DROPPED);
    CHECK_EQ_U(again->fate, TCPW_FATE_DELIVERED);
    CHECK_EQ_U(again->t_us - lost->t_us, 1 * SEC);
    CHECK_EQ_U(scn_notes(r, C_, "retransmission timeout"), 1);
    CHECK_EQ_U(scn_notes(r, S_, "retransmission timeout"), 1);
    SEG_IS(scn_seg(r, 9), S_, A, 201, 102, 0);
    SEG_IS(scn_seg(r, 10), S_, FA, 201, 102, 0);
    SEG_IS(scn_seg(r, 11), C_, A, 102, 202, 0);
    CHECK_STR(scn_states(r, C_),
              "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_FIN_WAIT_1, 0), 40 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSE_WAIT, 0), 1050 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_FIN_WAIT_2, 0), 1100 * MS);
    CHECK(res.complete);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 10. TIME_WAIT lasts exactly 2MSL; a stray segment of the old connection after that finds
 * nothing and is answered with RST. */
static void check_time_wait_expiry(const char *msl, uint64_t two_msl) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "time-wait-expiry", "msl", msl, NULL) == 0);
    const tcpw_recording *r = &res.rec;
    uint64_t tw = scn_state_time(r, C_, TCPW_TIME_WAIT, 0);
    CHECK_EQ_U(tw, 160 * MS);
    const tcpw_rec_event *t = scn_transition(r, C_, TCPW_TIME_WAIT, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->t_us - tw, two_msl);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);
    /* the stray: a copy of the server's FIN+ACK, sent as 2MSL ends, arriving 10 ms later */
    CHECK_EQ_U(scn_seg_count(r), 11);
    const tcpw_rec_event *stray = scn_seg(r, 9), *rst = scn_seg(r, 10);
    SEG_IS(stray, S_, FA, 201, 102, 0);
    REQUIRE(stray && rst);
    CHECK_EQ_U(stray->t_us, tw + two_msl);
    CHECK_EQ_U(rst->side, C_);
    CHECK_EQ_U(rst->flags, TCPW_RST);
    CHECK_EQ_U(rst->seq, stray->ack);
    CHECK_EQ_U(rst->t_us, tw + two_msl + 10 * MS);
    CHECK_EQ_U(res.nlist[C_], 0);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

static void test_time_wait_expiry(void) {
    check_time_wait_expiry("30000", 60 * SEC); /* the default MSL */
    check_time_wait_expiry("5s", 10 * SEC);
    check_time_wait_expiry("250ms", 500 * MS);
}

/* 11. An old duplicate of an earlier incarnation of the same 4-tuple: with TIME_WAIT's 2MSL
 * it can no longer reach a new connection; with msl 0 it lands inside the new connection's
 * window and its bytes are delivered in place of the new peer's. */
static void test_old_duplicate(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "old-duplicate", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(res.rules_fired, 1);
    CHECK_EQ_U(res.app[C_].connections, 2);
    CHECK_EQ_U(res.app[S_].connections, 2);
    CHECK(res.app[C_].addr_in_use > 0); /* the 4-tuple stayed taken through TIME_WAIT */
    uint64_t tw = scn_state_time(r, C_, TCPW_TIME_WAIT, 0);
    CHECK_EQ_U(tw, 160 * MS);
    /* the held segment arrives at 200 ms: the server has no connection and resets it
     * (<SEQ=SEG.ACK>, RFC 9293 §3.10.7.1); that RST lies before the client's RCV.NXT, so its
     * TIME_WAIT drops it at the sequence check (§3.10.7.4 first) */
    const tcpw_rec_event *rst = scn_seg_by(r, S_, TCPW_RST, 0);
    REQUIRE(rst);
    CHECK_EQ_U(rst->t_us, 200 * MS);
    CHECK_EQ_U(scn_notes(r, C_, "RST outside the window"), 1);
    /* the reconnection comes exactly when 2MSL ends, from the same port */
    const tcpw_rec_event *syn2 = scn_seg_by(r, C_, TCPW_SYN, 1);
    REQUIRE(syn2);
    CHECK_EQ_U(syn2->t_us, tw + 60 * SEC);
    CHECK_EQ_U(res.app[S_].conn[1].received, 60000);
    CHECK_EQ_U(res.app[S_].conn[1].mismatches, 0);
    CHECK(res.data_ok);
    CHECK(res.complete);
    /* The second connection closes in three segments: its last data segment carries the
     * client's FIN, and the server, which closes as it reads EOF, answers both with its FIN
     * (the ACK it owes waits for the end of its turn, cfg.ack_defer). In the first, the
     * held segment's retransmission fills a gap and is acknowledged at once. */
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT "
                                 "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 TIME_WAIT "
                                 "CLOSED");
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);

    REQUIRE(scn_run(&res, "old-duplicate", "msl", "0", NULL) == 0);
    r = &res.rec;
    CHECK_EQ_U(res.rules_fired, 1);
    CHECK_EQ_U(res.app[C_].connections, 2);
    CHECK_EQ_U(res.app[S_].connections, 2);
    const tcpw_rec_event *syn1 = scn_seg_by(r, C_, TCPW_SYN, 0);
    syn2 = scn_seg_by(r, C_, TCPW_SYN, 1);
    REQUIRE(syn1 && syn2);
    CHECK_EQ_U(syn2->t_us, 160 * MS); /* at once: TIME_WAIT lasted 0 */
    /* RFC 6528: the ISN moved on by the elapsed time / 4 us, nothing else */
    CHECK_EQ_U(syn2->seq - syn1->seq, 160 * MS / 4);
    /* the old segment (held 70 ms) at old relative seq 54021, i.e. 14021 in the new space */
    const tcpw_rec_event *old = NULL;
    for (size_t i = 0; i < r->count && !old; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_SEG && e->side == C_ && e->arrive_us - e->t_us == 80 * MS) old = e;
    }
    REQUIRE(old);
    CHECK_EQ_U(old->seq - syn1->seq, 54021);
    CHECK_EQ_U(old->len, 1460);
    CHECK_EQ_U(old->arrive_us, 200 * MS);
    CHECK(old->arrive_us > scn_state_time(r, S_, TCPW_ESTABLISHED, 1)); /* new one is open */
    CHECK_EQ_U(old->seq - syn2->seq, 14021);
    /* the new connection's data: right length, wrong bytes. The old bytes cover new offsets
     * [14020, 15480); the new segment [13140, 14600) overwrites the first part, and the
     * assembler then takes [14600, 15480) — 880 bytes of the old connection — as received */
    CHECK_EQ_U(res.app[S_].conn[0].mismatches, 0);
    CHECK_EQ_U(res.app[S_].conn[1].received, 60000);
    CHECK_EQ_U(res.app[S_].conn[1].first_mismatch, 14600);
    CHECK(res.app[S_].conn[1].mismatches > 860);
    CHECK(res.app[S_].conn[1].mismatches <= 880);
    CHECK(!res.data_ok);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 12a. close() with unread data resets (RFC 2525 §2.17); abort() resets. */
static void test_rst_on_unread_data_and_abort(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "rst-on-unread-data", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 6);
    SEG_IS(scn_seg(r, 3), C_, PA, 1, 1, 100);
    SEG_IS(scn_seg(r, 4), S_, A, 1, 101, 0);
    const tcpw_rec_event *rst = scn_seg(r, 5);
    SEG_IS(rst, S_, TCPW_RST, 1, 0, 0); /* <SEQ=SND.NXT><CTL=RST>, no FIN */
    REQUIRE(rst);
    CHECK_EQ_U(rst->t_us, 200 * MS);
    CHECK(scn_index_of(r, S_, TCPW_FIN) == r->count);
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSED");
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED CLOSED");
    const tcpw_rec_event *t = scn_transition(r, S_, TCPW_ESTABLISHED, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_USER);
    CHECK_EQ_U(scn_notes(r, S_, "RFC 2525"), 1);
    t = scn_transition(r, C_, TCPW_ESTABLISHED, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->t_us, 210 * MS);
    CHECK_EQ_U(t->cause_seg.flags, TCPW_RST);
    CHECK(res.app[C_].conn[0].reset);
    CHECK(!res.app[S_].conn[0].reset);
    CHECK_EQ_U(res.app[S_].conn[0].received, 0);
    CHECK_EQ_U(res.nlist[C_], 0);
    CHECK_EQ_U(res.nlist[S_], 1); /* the listener */
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);

    REQUIRE(scn_run(&res, "abort", NULL) == 0);
    r = &res.rec;
    CHECK_EQ_U(scn_seg_count(r), 6);
    check_opening(r);
    /* the client aborts in the turn it reads the response: the RST, which carries no ACK,
     * is all that follows it (the deferred ACK goes with the connection) */
    rst = scn_seg(r, 5);
    SEG_IS(rst, C_, TCPW_RST, 101, 0, 0);
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED CLOSED");
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSED");
    t = scn_transition(r, C_, TCPW_ESTABLISHED, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_USER);
    CHECK_EQ_U(t->t_us, 40 * MS);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSED, 0), 50 * MS);
    CHECK(res.app[S_].conn[0].reset);
    CHECK(res.app[C_].conn[0].called_abort);
    CHECK_EQ_U(res.stats[C_].time_wait_count, 0);
    CHECK_EQ_U(res.end_us, 50 * MS); /* no TIME_WAIT anywhere */
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 12b. An exact RST (SEQ = RCV.NXT) resets every synchronized state it reaches. The RST is
 * injected with no latency at the instant the state is entered (or later, for states that
 * last), from the peer's address. */
typedef struct rst_case {
    const char *scenario;
    int side;
    tcpw_state state;
    uint64_t delay_us;
    bool rfc1337;
    bool expect_reset;  /* the state ends in CLOSED through the RST */
    tcpw_app_what told; /* what the application is told (TCPW_APP_CONNECTED: nothing) */
} rst_case;

static void test_rst_in_every_state(void) {
    static const rst_case cases[] = {
        {"four-way", S_, TCPW_SYN_RCVD, 0, true, true, TCPW_APP_CONNECTED},
        {"simultaneous-open", C_, TCPW_SYN_RCVD, 0, true, true, TCPW_APP_REFUSED},
        {"four-way", C_, TCPW_ESTABLISHED, 5 * MS, true, true, TCPW_APP_RESET},
        {"four-way", S_, TCPW_ESTABLISHED, 0, true, true, TCPW_APP_RESET},
        {"four-way", C_, TCPW_FIN_WAIT_1, 0, true, true, TCPW_APP_CONNECTED},
        {"half-close", C_, TCPW_FIN_WAIT_1, 0, true, true, TCPW_APP_RESET},
        {"four-way", C_, TCPW_FIN_WAIT_2, 10 * MS, true, true, TCPW_APP_CONNECTED},
        {"half-close", C_, TCPW_FIN_WAIT_2, 10 * MS, true, true, TCPW_APP_RESET},
        {"four-way", S_, TCPW_CLOSE_WAIT, 20 * MS, true, true, TCPW_APP_RESET},
        {"simultaneous-close", C_, TCPW_CLOSING, 0, true, true, TCPW_APP_CONNECTED},
        {"four-way", S_, TCPW_LAST_ACK, 0, true, true, TCPW_APP_CONNECTED},
        {"four-way", C_, TCPW_TIME_WAIT, 1 * SEC, false, true, TCPW_APP_CONNECTED},
        {"four-way", C_, TCPW_TIME_WAIT, 1 * SEC, true, false, TCPW_APP_CONNECTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rst_case *k = &cases[i];
        tcpw_scn_spec spec;
        char err[200];
        REQUIRE(tcpw_scn_prepare(k->scenario, NULL, &spec, err, sizeof err) == 0);
        spec.cfg[0].rfc1337 = spec.cfg[1].rfc1337 = k->rfc1337;
        tcpw_scn_inject *in = &spec.inject[spec.ninject++];
        in->kind = TCPW_SCN_INJECT_RST;
        in->side = k->side;
        in->when_side = k->side;
        in->when_state = k->state;
        in->delay_us = k->delay_us;
        in->instant = true;
        tcpw_scn_result res;
        REQUIRE(tcpw_scn_run(&spec, &res) == 0);
        const tcpw_recording *r = &res.rec;
        uint64_t entered = scn_state_time(r, k->side, k->state, 0);
        const tcpw_rec_event *rst = scn_seg_by(r, 1 - k->side, TCPW_RST, 0);
        const tcpw_rec_event *t = scn_transition(r, k->side, k->state, TCPW_CLOSED);
        int fails = test_failed_checks;
        REQUIRE(rst);
        CHECK_EQ_U(rst->t_us, entered + k->delay_us);
        if (k->expect_reset) {
            CHECK(t != NULL);
            if (t) {
                CHECK_EQ_U(t->t_us, rst->t_us);
                CHECK_EQ_U(t->cause, TCPW_CAUSE_SEGMENT);
                CHECK_EQ_U(t->cause_seg.flags, TCPW_RST);
                CHECK_EQ_U(t->cause_seg.seq, rst->seq);
            }
        } else {
            /* RFC 1337: TIME_WAIT ignores it and lasts its 2MSL */
            CHECK(t != NULL);
            if (t) {
                CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);
                CHECK_EQ_U(t->t_us, entered + 60 * SEC);
            }
            CHECK_EQ_U(scn_notes(r, k->side, "RFC 1337"), 1);
        }
        const tcpw_scn_conn_outcome *o = &res.app[k->side].conn[0];
        switch (k->told) {
        case TCPW_APP_RESET: CHECK(o->reset); break;
        case TCPW_APP_REFUSED: CHECK(o->refused); break;
        default: CHECK(!o->reset && !o->refused); break;
        }
        /* once the timers have run, nothing is left of the connection on either side */
        for (int s = 0; s < 2; s++)
            for (size_t j = 0; j < res.nlist[s]; j++)
                CHECK_EQ_U(res.list[s][j].state, TCPW_LISTEN);
        if (test_failed_checks != fails) {
            fprintf(stderr, "case %zu: RST to the %s in %s\n", i, k->side ? "server" : "client",
                    tcpw_state_name(k->state));
            scn_dump(r);
        }
        tcpw_scn_result_free(&res);
    }
}

/* 13. An orphaned FIN_WAIT_2 gives up after fin_timeout; a CLOSE_WAIT whose application never
 * closes stays, and shows in the listing. */
static void test_fin_wait_2_timeout(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "fin-wait-2-timeout", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    uint64_t fw2 = scn_state_time(r, C_, TCPW_FIN_WAIT_2, 0);
    CHECK_EQ_U(fw2, 100 * MS);
    const tcpw_rec_event *t = scn_transition(r, C_, TCPW_FIN_WAIT_2, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);
    CHECK_EQ_U(t->t_us, fw2 + 60 * SEC); /* fin_timeout */
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 CLOSED");
    /* the server's late FIN (90 s) finds no connection: RST */
    const tcpw_rec_event *fin2 = scn_seg_by(r, S_, FA, 0), *rst = scn_seg_by(r, C_, TCPW_RST, 0);
    SEG_IS(fin2, S_, FA, 201, 102, 0);
    REQUIRE(fin2 && rst);
    CHECK_EQ_U(fin2->t_us, 90 * SEC);
    CHECK_EQ_U(rst->seq, fin2->ack);
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    t = scn_transition(r, S_, TCPW_LAST_ACK, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause_seg.flags, TCPW_RST);
    CHECK_EQ_U(t->t_us, 90 * SEC + 20 * MS);
    CHECK_EQ_U(res.nlist[C_], 0);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);

    /* with --fin-timeout 5s the orphan goes after 5 s */
    REQUIRE(scn_run(&res, "fin-wait-2-timeout", "fin-timeout", "5s", NULL) == 0);
    t = scn_transition(&res.rec, C_, TCPW_FIN_WAIT_2, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->t_us, 100 * MS + 5 * SEC);
    CHECK_EQ_U(scn_seg_by(&res.rec, S_, FA, 0)->t_us, 35 * SEC);
    tcpw_scn_result_free(&res);
}

static void test_close_wait_leak(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "close-wait-leak", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_STR(scn_states(r, S_), "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT");
    CHECK_STR(scn_states(r, C_), "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 CLOSED");
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSED, 0), 100 * MS + 60 * SEC);
    CHECK(scn_seg_by(r, S_, TCPW_FIN, 0) == NULL);
    CHECK_EQ_U(res.end_us, 100 * MS + 60 * SEC); /* then nothing is left to happen */
    CHECK(res.app[S_].conn[0].eof);
    CHECK_EQ_U(res.nlist[C_], 0);
    REQUIRE(res.nlist[S_] == 2);
    const tcpw_conn_info *cw = NULL;
    for (size_t i = 0; i < res.nlist[S_]; i++)
        if (res.list[S_][i].state == TCPW_CLOSE_WAIT) cw = &res.list[S_][i];
    REQUIRE(cw);
    CHECK(!cw->orphan);
    CHECK_EQ_U(cw->local.port, 80);
    CHECK_EQ_U(cw->remote.addr.ip[3], 1);         /* the client, 192.0.2.1 */
    CHECK_EQ_U(cw->rcv_nxt, isn_of(r, C_) + 102); /* the FIN was received */
    CHECK_EQ_U(res.stats[S_].conn_count, 2);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);
}

/* 16. tw_reuse: the client holds TIME_WAIT on 40000 -> 80 and reconnects from port 40000 1 s
 * after it entered it (1 s after the last timestamp it received, the server's FIN). Without
 * tw_reuse connect() says "address in use" until 2MSL ends; with it (Linux tcp_tw_reuse: the
 * connection used timestamps and the last one is a second old) the TIME_WAIT record is taken
 * over at once and the new connection starts beyond the old sequence space. */
static const char *const tw_client_path =
    "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED SYN_SENT ESTABLISHED "
    "FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED";
static const char *const tw_server_path =
    "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED | LISTEN SYN_RCVD "
    "ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED";

/* The second connection is the four-way close again, 1.16 s or 60.16 s in. */
static void check_second_connection(const tcpw_recording *r, uint64_t t0) {
    const tcpw_rec_event *syn1 = scn_seg_by(r, C_, TCPW_SYN, 0);
    const tcpw_rec_event *syn2 = scn_seg_by(r, C_, TCPW_SYN, 1);
    REQUIRE(syn1 && syn2);
    CHECK_EQ_U(syn2->flags, TCPW_SYN);
    CHECK_EQ_U(syn2->t_us, t0);
    CHECK_EQ_U(syn2->rel_seq, 0);
    /* beyond everything the first incarnation sent (its last ACK was seq=ISN+102) */
    CHECK((int32_t)(syn2->seq - (syn1->seq + 102)) > 0);
    const tcpw_rec_event *fin2 = scn_seg_by(r, C_, FA, 1);
    SEG_IS(fin2, C_, FA, 101, 201, 0);
    if (fin2) CHECK_EQ_U(fin2->t_us, t0 + 40 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_TIME_WAIT, 1), t0 + 160 * MS);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_CLOSED, 1), t0 + 160 * MS + 60 * SEC);
    CHECK_EQ_U(scn_state_time(r, S_, TCPW_CLOSED, 1), t0 + 170 * MS);
}

static void test_tw_reuse(void) {
    /* without tw_reuse: TIME_WAIT lasts its 2MSL, the reconnection waits for it */
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "tw-reuse", NULL) == 0);
    const tcpw_recording *r = &res.rec;
    CHECK_STR(scn_states(r, C_), tw_client_path);
    CHECK_STR(scn_states(r, S_), tw_server_path);
    CHECK_EQ_U(res.rec.ep[C_].port, 40000);
    CHECK_EQ_U(scn_state_time(r, C_, TCPW_TIME_WAIT, 0), 160 * MS);
    const tcpw_rec_event *t = scn_transition(r, C_, TCPW_TIME_WAIT, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);
    CHECK_EQ_U(t->t_us, 160 * MS + 60 * SEC);
    CHECK_EQ_U(scn_notes(r, C_, "address in use"), 1);
    CHECK_EQ_U(res.app[C_].addr_in_use, 1); /* tried at 1.16 s, then after the 2MSL timer */
    check_second_connection(r, 160 * MS + 60 * SEC);
    CHECK_EQ_U(res.app[C_].connections, 2);
    CHECK_EQ_U(res.app[S_].connections, 2);
    CHECK(res.data_ok && res.complete);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);

    /* with tw_reuse: connect() at 1.16 s takes the TIME_WAIT 4-tuple over */
    REQUIRE(scn_run(&res, "tw-reuse", "tw-reuse", "on", NULL) == 0);
    r = &res.rec;
    CHECK_STR(scn_states(r, C_), tw_client_path);
    CHECK_STR(scn_states(r, S_), tw_server_path);
    t = scn_transition(r, C_, TCPW_TIME_WAIT, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_USER);
    CHECK_STR(t->what, "connect() reuses the 4-tuple (tw_reuse)");
    CHECK_EQ_U(t->t_us, 1160 * MS);
    CHECK_EQ_U(scn_notes(r, C_, "address in use"), 0);
    CHECK_EQ_U(res.app[C_].addr_in_use, 0);
    check_second_connection(r, 1160 * MS);
    CHECK_EQ_U(res.end_us, 1160 * MS + 160 * MS + 60 * SEC);
    CHECK(res.data_ok && res.complete);
    if (test_current_failed) scn_dump(r);
    tcpw_scn_result_free(&res);

    /* tw_reuse wants a full second since the last timestamp: 999 ms is not enough */
    tcpw_scn_spec spec;
    tcpw_scn_options o;
    tcpw_scn_options_init(&o);
    char err[200];
    REQUIRE(tcpw_scn_option_set(&o, "tw-reuse", "on", err, sizeof err) == 0);
    REQUIRE(tcpw_scn_prepare("tw-reuse", &o, &spec, err, sizeof err) == 0);
    spec.app[C_].reconnect_delay_us = 999 * MS;
    REQUIRE(tcpw_scn_run(&spec, &res) == 0);
    r = &res.rec;
    t = scn_transition(r, C_, TCPW_TIME_WAIT, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);
    CHECK_EQ_U(res.app[C_].addr_in_use, 1);
    check_second_connection(r, 160 * MS + 60 * SEC);
    tcpw_scn_result_free(&res);

    /* ... and timestamps: without them nothing proves the new segments newer */
    REQUIRE(tcpw_scn_prepare("tw-reuse", &o, &spec, err, sizeof err) == 0);
    spec.cfg[C_].timestamps = spec.cfg[S_].timestamps = false;
    REQUIRE(tcpw_scn_run(&spec, &res) == 0);
    t = scn_transition(&res.rec, C_, TCPW_TIME_WAIT, TCPW_CLOSED);
    REQUIRE(t);
    CHECK_EQ_U(t->cause, TCPW_CAUSE_TIMER);
    check_second_connection(&res.rec, 160 * MS + 60 * SEC);
    tcpw_scn_result_free(&res);
}

/* ---- the registry and the options -------------------------------------------------------- */

/* Whether s holds a CJK ideograph (U+4E00..U+9FFF: UTF-8 lead byte 0xE4..0xE9). */
static bool has_cjk(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0xE4 && (unsigned char)*s <= 0xE9) return true;
    return false;
}

static void test_registry(void) {
    static const char *const names[] = {
        "four-way",
        "server-first",
        "half-close",
        "three-way-close",
        "simultaneous-close",
        "simultaneous-open",
        "close-in-syn-rcvd",
        "lost-last-ack",
        "lost-fin",
        "time-wait-expiry",
        "old-duplicate",
        "rst-on-unread-data",
        "abort",
        "fin-wait-2-timeout",
        "close-wait-leak",
        "tw-reuse",
    };
    CHECK_EQ_U(tcpw_scn_count(), sizeof names / sizeof names[0]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const tcpw_scn_def *d = tcpw_scn_find(names[i]);
        CHECK(d != NULL);
        if (!d) continue;
        CHECK(d->description && strlen(d->description) > 20);
        CHECK(strchr(d->description, '\n') == NULL);
        CHECK(d->description_zh && strlen(d->description_zh) > 20);
        CHECK(d->description_zh && strchr(d->description_zh, '\n') == NULL);
        CHECK(d->description_zh && has_cjk(d->description_zh)); /* for --lang zh */
        CHECK(tcpw_scn_get(i) == d);
        /* every scenario runs cleanly with its defaults, and what arrives is right */
        tcpw_scn_result res;
        int rc = tcpw_scn_run_named(names[i], NULL, &res);
        CHECK_EQ_U(rc, 0);
        CHECK_STR(res.scenario, names[i]);
        CHECK_STR(res.error, "");
        if (strcmp(names[i], "old-duplicate") != 0) CHECK(res.data_ok);
        tcpw_scn_result_free(&res);
    }
    CHECK(tcpw_scn_get(tcpw_scn_count()) == NULL);
    CHECK_STR(TCPW_SCN_DEFAULT, "four-way");
    CHECK(tcpw_scn_find("no-such") == NULL);
    tcpw_scn_result res;
    CHECK(tcpw_scn_run_named("no-such", NULL, &res) == TCPW_EINVAL);
    CHECK(strstr(res.error, "unknown scenario 'no-such'") != NULL);
    CHECK(strstr(res.error, "four-way") != NULL);
    tcpw_scn_result_free(&res);
}

static void test_options(void) {
    tcpw_scn_options o;
    tcpw_scn_options_init(&o);
    char err[256];
    CHECK(tcpw_scn_option_set(&o, "seed", "42", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "--loss", "10%", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "dup", "0.05", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "reorder", "0", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "delay", "25", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "fin_timeout", "2s", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "delayed-ack", "0", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "tw-reuse", "on", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "rfc1337", "off", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "client-bytes", "3000", err, sizeof err) == 0);
    CHECK(tcpw_scn_option_set(&o, "drop", "server>client#3", err, sizeof err) == 0);
    CHECK_EQ_U(o.seed, 42);
    CHECK(o.loss > 0.0999 && o.loss < 0.1001);
    CHECK_EQ_U(o.delay_us, 25 * MS);
    CHECK_EQ_U(o.fin_timeout_ms, 2000);
    CHECK(o.tw_reuse && !o.rfc1337);
    CHECK_EQ_U(o.nrules, 1);
    tcpw_scn_spec spec;
    CHECK(tcpw_scn_prepare("four-way", &o, &spec, err, sizeof err) == 0);
    CHECK_EQ_U(spec.seed, 42);
    CHECK_EQ_U(spec.link[1].latency_us, 25 * MS);
    CHECK(spec.link[0].dup > 0.049 && spec.link[0].dup < 0.051);
    CHECK_EQ_U(spec.cfg[1].fin_timeout_ms, 2000);
    CHECK_EQ_U(spec.cfg[0].delayed_ack_ms, 0);
    CHECK(spec.cfg[0].tw_reuse && !spec.cfg[1].rfc1337);
    CHECK_EQ_U(spec.cfg[0].msl_ms, 30000); /* not overridden: the engine default */
    CHECK_EQ_U(spec.app[C_].send_bytes, 3000);
    CHECK_EQ_U(spec.app[S_].send_bytes, 200);
    CHECK_EQ_U(spec.nrules, 1);
    /* bad values are refused with a message */
    static const char *const bad[][2] = {
        {"loss", "1.5"},      {"loss", "x"},         {"seed", "-1"},    {"delay", "fast"},
        {"rfc1337", "maybe"}, {"close-first", "me"}, {"drop", "a>b#1"}, {"client-bytes", "9e9"},
        {"colour", "red"},    {"msl", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(tcpw_scn_option_set(&o, bad[i][0], bad[i][1], err, sizeof err) == TCPW_EINVAL);
        CHECK(err[0] != '\0');
    }
}

/* close-first swaps who closes first; data sizes follow the options. */
static void test_overrides_run(void) {
    tcpw_scn_result res;
    REQUIRE(scn_run(&res, "four-way", "close-first", "server", NULL) == 0);
    CHECK_STR(scn_states(&res.rec, S_),
              "CLOSED LISTEN SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");
    CHECK_STR(scn_states(&res.rec, C_), "CLOSED SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK(res.complete);
    tcpw_scn_result_free(&res);

    REQUIRE(scn_run(&res, "four-way", "close-first", "both", NULL) == 0);
    CHECK_STR(scn_states(&res.rec, C_),
              "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT CLOSED");
    tcpw_scn_result_free(&res);

    REQUIRE(scn_run(&res, "simultaneous-close", "close-first", "client", NULL) == 0);
    CHECK_STR(scn_states(&res.rec, S_),
              "CLOSED LISTEN SYN_RCVD ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    tcpw_scn_result_free(&res);

    REQUIRE(scn_run(&res, "four-way", "client-bytes", "20000", "server-bytes", "70000", "seed", "7",
                    "loss", "5%", NULL) == 0);
    CHECK_EQ_U(res.seed, 7);
    CHECK_EQ_U(res.app[S_].conn[0].received, 20000);
    CHECK_EQ_U(res.app[C_].conn[0].received, 70000);
    CHECK(res.data_ok);
    CHECK(res.complete);
    CHECK(res.link[0].dropped + res.link[1].dropped > 0);
    tcpw_scn_result_free(&res);

    /* IPv6 works the same */
    tcpw_scn_spec spec;
    char err[200];
    REQUIRE(tcpw_scn_prepare("four-way", NULL, &spec, err, sizeof err) == 0);
    spec.family = 6;
    REQUIRE(tcpw_scn_run(&spec, &res) == 0);
    CHECK_EQ_U(res.rec.ep[0].addr.family, 6);
    SEG_IS(scn_seg(&res.rec, 5), C_, FA, 101, 201, 0);
    CHECK(res.complete);
    tcpw_scn_result_free(&res);

    /* a bad spec is refused, and the result can still be freed */
    spec.nrules = 1;
    spec.rules[0] = "nobody>server#1";
    CHECK(tcpw_scn_run(&spec, &res) == TCPW_EINVAL);
    CHECK(strstr(res.error, "nobody") != NULL);
    tcpw_scn_result_free(&res);
}

/* A run that would never end (a window that never opens, probed for ever) stops at the cap. */
static void test_run_cap(void) {
    tcpw_scn_spec spec;
    char err[200];
    REQUIRE(tcpw_scn_prepare("close-wait-leak", NULL, &spec, err, sizeof err) == 0);
    spec.app[C_].send_bytes = 200000;
    spec.app[C_].close_when = TCPW_SCN_NEVER;
    spec.app[S_].no_read = true;
    tcpw_scn_result res;
    REQUIRE(tcpw_scn_run(&spec, &res) == 0);
    CHECK(res.capped);
    CHECK(res.end_us <= TCPW_SCN_RUN_CAP_US);
    CHECK(res.end_us > TCPW_SCN_RUN_CAP_US - 120 * SEC); /* probing went on to the end */
    CHECK_EQ_U(res.app[S_].conn[0].received, 0);
    CHECK(scn_notes(&res.rec, C_, "zero-window probe") > 100);
    CHECK(!res.complete);
    tcpw_scn_result_free(&res);

    REQUIRE(scn_run(&res, "four-way", NULL) == 0);
    CHECK(!res.capped);
    tcpw_scn_result_free(&res);
}

/* Same spec, same run: the recording is identical event for event. */
static void test_deterministic(void) {
    tcpw_scn_result a, b;
    REQUIRE(scn_run(&a, "four-way", "loss", "20%", "dup", "10%", "reorder", "10%", "seed", "99",
                    "client-bytes", "30000", NULL) == 0);
    REQUIRE(scn_run(&b, "four-way", "loss", "20%", "dup", "10%", "reorder", "10%", "seed", "99",
                    "client-bytes", "30000", NULL) == 0);
    CHECK_EQ_U(a.rec.count, b.rec.count);
    CHECK(a.rec.count == b.rec.count &&
          memcmp(a.rec.ev, b.rec.ev, a.rec.count * sizeof a.rec.ev[0]) == 0);
    CHECK(a.data_ok && a.complete);
    tcpw_scn_result_free(&a);
    tcpw_scn_result_free(&b);
}

int main(void) {
    RUN(test_four_way);
    RUN(test_server_first);
    RUN(test_half_close);
    RUN(test_three_way_close);
    RUN(test_simultaneous_close);
    RUN(test_simultaneous_open);
    RUN(test_close_in_syn_rcvd);
    RUN(test_lost_last_ack);
    RUN(test_lost_fin);
    RUN(test_time_wait_expiry);
    RUN(test_old_duplicate);
    RUN(test_rst_on_unread_data_and_abort);
    RUN(test_rst_in_every_state);
    RUN(test_fin_wait_2_timeout);
    RUN(test_close_wait_leak);
    RUN(test_tw_reuse);
    RUN(test_registry);
    RUN(test_options);
    RUN(test_overrides_run);
    RUN(test_run_cap);
    RUN(test_deterministic);
    return test_summary();
}
