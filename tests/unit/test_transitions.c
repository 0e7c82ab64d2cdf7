/* test_transitions.c — coverage of the transition registry (transitions.c: RFC 9293 Figure 5
 * plus the RFC 1122/5961/1337/6191 refinements and the socket API's). Each scenario below drives
 * one or more registered transitions through the fixture, from the state the RFC names, with
 * the cause it names (user call, timer or segment), and checks the state it ends in. The counts
 * of tcpw_stack_stats()->transitions[] are summed over all scenarios and printed as a report;
 * the test fails if any registry entry was never taken, or if any state change was made that
 * the registry does not name.
 */
#include "fixture.h"

#define SEC 1000000ull

static uint64_t taken[64];
static int unregistered;

static void start(fx *f) {
    fx_init(f);
    fx_start(f);
}

/* Adds the stack's transition counts to the totals and frees it. */
static void harvest(fx *f) {
    const tcpw_stats *st = tcpw_stack_stats(f->s);
    for (size_t i = 0; i < tcpw_transition_count(); i++)
        taken[i] += st->transitions[i];
    unregistered += f->unregistered;
    fx_free(f);
}

/* The last state change the fixture saw was from -> to, caused by `cause`. */
static void expect_last(const fx *f, tcpw_state from, tcpw_state to, tcpw_cause cause) {
    REQUIRE(f->ntrace > 0);
    int i = f->ntrace - 1;
    CHECK_STR(tcpw_state_name(f->trace_from[i]), tcpw_state_name(from));
    CHECK_STR(tcpw_state_name(f->trace_to[i]), tcpw_state_name(to));
    CHECK_EQ_U(f->trace_cause[i], cause);
    CHECK(f->trace_idx[i] >= 0);
}

#define U TCPW_CAUSE_USER
#define T TCPW_CAUSE_TIMER
#define S TCPW_CAUSE_SEGMENT

/* Runs timers until the connection under test (or the fixture's 4-tuple) has no more. */
static void run_timers(fx *f) {
    for (int i = 0; i < 64 && fx_run_next_timer(f, 1000 * SEC); i++) {
    }
}

/* ---- CLOSED and LISTEN ------------------------------------------------------------------------
 */

static void scenario_listen_and_close(void) { /* §3.10.1 passive OPEN, §3.10.4 CLOSE */
    fx f;
    start(&f);
    fx_listen(&f);
    expect_last(&f, TCPW_CLOSED, TCPW_LISTEN, U);
    tcpw_close(f.listener, f.now);
    expect_last(&f, TCPW_LISTEN, TCPW_CLOSED, U);
    harvest(&f);
}

static void scenario_passive_open(void) { /* §3.10.7.2 rcv SYN; §3.10.7.4 rcv ACK of SYN */
    fx f;
    start(&f);
    fx_listen(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    expect_last(&f, TCPW_LISTEN, TCPW_SYN_RCVD, S);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.out[0].p.seq + 1, NULL, 0);
    expect_last(&f, TCPW_SYN_RCVD, TCPW_ESTABLISHED, S);
    harvest(&f);
}

/* ---- SYN_SENT ---------------------------------------------------------------------------------
 */

static void scenario_active_open(void) { /* §3.10.1 active OPEN; §3.10.7.3 rcv SYN,ACK */
    fx f;
    start(&f);
    fx_syn_sent(&f);
    fx_in(&f, TCPW_SYN | TCPW_ACK, FX_IRS, f.iss + 1, NULL, 0);
    expect_last(&f, TCPW_SYN_SENT, TCPW_ESTABLISHED, S);
    CHECK_EQ_U(f.trace_to[0], TCPW_ESTABLISHED);
    harvest(&f);
    start(&f);
    tcpw_connect(f.s, &f.local, &f.remote, f.now, &f.c);
    expect_last(&f, TCPW_CLOSED, TCPW_SYN_SENT, U);
    harvest(&f);
}

static void scenario_simultaneous_open(void) { /* §3.10.7.3 rcv SYN; §3.10.4 CLOSE */
    fx f;
    start(&f);
    fx_syn_sent(&f);
    fx_in(&f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    expect_last(&f, TCPW_SYN_SENT, TCPW_SYN_RCVD, S);
    tcpw_shutdown(f.c, f.now);
    expect_last(&f, TCPW_SYN_RCVD, TCPW_FIN_WAIT_1, U);
    harvest(&f);
}

static void scenario_syn_sent_closed(void) { /* refused (S), CLOSE (U), timeout (T) */
    fx f;
    start(&f);
    fx_syn_sent(&f);
    fx_in(&f, TCPW_RST | TCPW_ACK, 0, f.iss + 1, NULL, 0);
    expect_last(&f, TCPW_SYN_SENT, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_syn_sent(&f);
    tcpw_close(f.c, f.now);
    expect_last(&f, TCPW_SYN_SENT, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f);
    f.cfg.syn_retries = 1;
    fx_start(&f);
    fx_syn_sent(&f);
    run_timers(&f);
    expect_last(&f, TCPW_SYN_SENT, TCPW_CLOSED, T);
    harvest(&f);
}

/* ---- SYN_RCVD ---------------------------------------------------------------------------------
 */

static void scenario_syn_rcvd_closed(void) {
    fx f;
    start(&f); /* §3.10.7.4 second: RST, passive: back to LISTEN */
    fx_syn_rcvd(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    expect_last(&f, TCPW_SYN_RCVD, TCPW_CLOSED, S);
    harvest(&f);

    start(&f); /* §3.10.5 ABORT */
    fx_syn_rcvd_active(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_SYN_RCVD, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f); /* §3.8.3 R2 for the SYN+ACK */
    f.cfg.syn_retries = 1;
    fx_start(&f);
    fx_syn_rcvd(&f);
    run_timers(&f);
    expect_last(&f, TCPW_SYN_RCVD, TCPW_CLOSED, T);
    harvest(&f);
}

/* ---- ESTABLISHED ------------------------------------------------------------------------------
 */

static void scenario_established(void) {
    fx f;
    start(&f); /* §3.10.4 CLOSE */
    fx_established(&f);
    tcpw_shutdown(f.c, f.now);
    expect_last(&f, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, U);
    harvest(&f);

    start(&f); /* §3.10.7.4 eighth */
    fx_established(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    expect_last(&f, TCPW_ESTABLISHED, TCPW_CLOSE_WAIT, S);
    harvest(&f);

    start(&f); /* §3.10.7.4 second */
    fx_established(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    expect_last(&f, TCPW_ESTABLISHED, TCPW_CLOSED, S);
    harvest(&f);

    start(&f); /* §3.10.5 ABORT */
    fx_established(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_ESTABLISHED, TCPW_CLOSED, U);
    harvest(&f);

    start(&f); /* RFC 2525 §2.17: close with unread data */
    fx_established(&f);
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 1, "x", 1);
    tcpw_close(f.c, f.now);
    expect_last(&f, TCPW_ESTABLISHED, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f); /* §3.8.3 R2 */
    f.cfg.retries = 1;
    fx_start(&f);
    fx_established(&f);
    tcpw_send(f.c, "x", 1, f.now);
    run_timers(&f);
    expect_last(&f, TCPW_ESTABLISHED, TCPW_CLOSED, T);
    harvest(&f);
}

/* ---- FIN_WAIT_1 and FIN_WAIT_2 ----------------------------------------------------------------
 */

static void scenario_fin_wait_1(void) {
    fx f;
    start(&f);
    fx_fin_wait_1(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    expect_last(&f, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, S);
    harvest(&f);

    start(&f);
    fx_fin_wait_1(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 1, NULL, 0);
    expect_last(&f, TCPW_FIN_WAIT_1, TCPW_CLOSING, S);
    harvest(&f);

    start(&f);
    fx_fin_wait_1(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    expect_last(&f, TCPW_FIN_WAIT_1, TCPW_TIME_WAIT, S);
    harvest(&f);

    start(&f);
    fx_fin_wait_1(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    expect_last(&f, TCPW_FIN_WAIT_1, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_fin_wait_1(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_FIN_WAIT_1, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f);
    f.cfg.retries = 1;
    fx_start(&f);
    fx_fin_wait_1(&f);
    run_timers(&f);
    expect_last(&f, TCPW_FIN_WAIT_1, TCPW_CLOSED, T);
    harvest(&f);
}

static void scenario_fin_wait_2(void) {
    fx f;
    start(&f);
    fx_fin_wait_2(&f);
    fx_in(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, NULL, 0);
    expect_last(&f, TCPW_FIN_WAIT_2, TCPW_TIME_WAIT, S);
    harvest(&f);

    start(&f);
    fx_fin_wait_2(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 1, 0, NULL, 0);
    expect_last(&f, TCPW_FIN_WAIT_2, TCPW_CLOSED, S);
    harvest(&f);

    start(&f); /* RFC 2525 §2.17: data after close() */
    fx_fin_wait_2(&f);
    tcpw_close(f.c, f.now);
    f.c = NULL;
    fx_in(&f, TCPW_ACK | TCPW_PSH, FX_IRS + 1, f.iss + 2, "x", 1);
    expect_last(&f, TCPW_FIN_WAIT_2, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_fin_wait_2(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_FIN_WAIT_2, TCPW_CLOSED, U);
    harvest(&f);

    start(&f); /* orphaned FIN_WAIT_2 timeout */
    fx_fin_wait_2(&f);
    tcpw_close(f.c, f.now);
    f.c = NULL;
    run_timers(&f);
    expect_last(&f, TCPW_FIN_WAIT_2, TCPW_CLOSED, T);
    harvest(&f);
}

/* ---- CLOSE_WAIT, CLOSING, LAST_ACK ------------------------------------------------------------
 */

static void scenario_close_wait(void) {
    fx f;
    start(&f);
    fx_close_wait(&f);
    tcpw_shutdown(f.c, f.now);
    expect_last(&f, TCPW_CLOSE_WAIT, TCPW_LAST_ACK, U);
    harvest(&f);

    start(&f);
    fx_close_wait(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    expect_last(&f, TCPW_CLOSE_WAIT, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_close_wait(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_CLOSE_WAIT, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f);
    f.cfg.retries = 1;
    fx_start(&f);
    fx_close_wait(&f);
    tcpw_send(f.c, "x", 1, f.now);
    run_timers(&f);
    expect_last(&f, TCPW_CLOSE_WAIT, TCPW_CLOSED, T);
    harvest(&f);
}

static void scenario_closing(void) {
    fx f;
    start(&f);
    fx_closing(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    expect_last(&f, TCPW_CLOSING, TCPW_TIME_WAIT, S);
    harvest(&f);

    start(&f);
    fx_closing(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    expect_last(&f, TCPW_CLOSING, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_closing(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_CLOSING, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f);
    f.cfg.retries = 1;
    fx_start(&f);
    fx_closing(&f);
    run_timers(&f);
    expect_last(&f, TCPW_CLOSING, TCPW_CLOSED, T);
    harvest(&f);
}

static void scenario_last_ack(void) {
    fx f;
    start(&f);
    fx_last_ack(&f);
    fx_in(&f, TCPW_ACK, FX_IRS + 2, f.iss + 2, NULL, 0);
    expect_last(&f, TCPW_LAST_ACK, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_last_ack(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    expect_last(&f, TCPW_LAST_ACK, TCPW_CLOSED, S);
    harvest(&f);

    start(&f);
    fx_last_ack(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_LAST_ACK, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f);
    f.cfg.retries = 1;
    fx_start(&f);
    fx_last_ack(&f);
    run_timers(&f);
    expect_last(&f, TCPW_LAST_ACK, TCPW_CLOSED, T);
    harvest(&f);
}

/* ---- TIME_WAIT --------------------------------------------------------------------------------
 */

static void scenario_time_wait(void) {
    fx f;
    start(&f); /* 2MSL, full control block */
    fx_time_wait(&f);
    run_timers(&f);
    expect_last(&f, TCPW_TIME_WAIT, TCPW_CLOSED, T);
    harvest(&f);

    start(&f); /* 2MSL, compact record */
    fx_time_wait_compact(&f);
    run_timers(&f);
    expect_last(&f, TCPW_TIME_WAIT, TCPW_CLOSED, T);
    harvest(&f);

    fx_init(&f); /* RST with RFC 1337 off */
    f.cfg.rfc1337 = false;
    fx_start(&f);
    fx_time_wait(&f);
    fx_in(&f, TCPW_RST, FX_IRS + 2, 0, NULL, 0);
    expect_last(&f, TCPW_TIME_WAIT, TCPW_CLOSED, S);
    harvest(&f);

    start(&f); /* a new SYN reopens (RFC 1122 §4.2.2.13): TIME_WAIT -> CLOSED, LISTEN child */
    fx_time_wait_compact(&f);
    fx_in(&f, TCPW_SYN, FX_IRS + 100000, 0, NULL, 0);
    REQUIRE(f.ntrace >= 2);
    CHECK_EQ_U(f.trace_from[f.ntrace - 2], TCPW_TIME_WAIT);
    CHECK_EQ_U(f.trace_to[f.ntrace - 2], TCPW_CLOSED);
    expect_last(&f, TCPW_LISTEN, TCPW_SYN_RCVD, S);
    harvest(&f);

    start(&f); /* ABORT in TIME_WAIT */
    fx_time_wait(&f);
    tcpw_abort(f.c, f.now);
    expect_last(&f, TCPW_TIME_WAIT, TCPW_CLOSED, U);
    harvest(&f);

    fx_init(&f); /* Linux tcp_tw_reuse: connect() takes over the 4-tuple */
    f.cfg.timestamps = true;
    f.cfg.tw_reuse = true;
    fx_start(&f);
    fx_established_ts(&f);
    tcpw_shutdown(f.c, f.now);
    fx_in_ts(&f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f.iss + 2, FX_PEER_TS + 2, f.our_ts, NULL, 0);
    tcpw_close(f.c, f.now);
    f.c = NULL;
    CHECK_EQ_U(tcpw_stack_stats(f.s)->time_wait_count, 1);
    f.now += 2 * SEC;
    tcpw_conn *c2 = NULL;
    CHECK_EQ_U(tcpw_connect(f.s, &f.local, &f.remote, f.now, &c2), TCPW_OK);
    REQUIRE(f.ntrace >= 2);
    CHECK_EQ_U(f.trace_from[f.ntrace - 2], TCPW_TIME_WAIT);
    CHECK_EQ_U(f.trace_to[f.ntrace - 2], TCPW_CLOSED);
    CHECK_EQ_U(f.trace_cause[f.ntrace - 2], U);
    harvest(&f);
}

#undef U
#undef T
#undef S

/* ---- the report --------------------------------------------------------------------------------
 */

static const char *cause_name(tcpw_cause c) {
    return c == TCPW_CAUSE_USER ? "user" : c == TCPW_CAUSE_TIMER ? "timer" : "segment";
}

static void test_every_transition_covered(void) {
    scenario_listen_and_close();
    scenario_passive_open();
    scenario_active_open();
    scenario_simultaneous_open();
    scenario_syn_sent_closed();
    scenario_syn_rcvd_closed();
    scenario_established();
    scenario_fin_wait_1();
    scenario_fin_wait_2();
    scenario_close_wait();
    scenario_closing();
    scenario_last_ack();
    scenario_time_wait();

    size_t n = tcpw_transition_count(), covered = 0;
    printf("transition registry coverage:\n");
    for (size_t i = 0; i < n; i++) {
        const tcpw_transition *t = tcpw_transition_get(i);
        printf("  %2zu %-11s -> %-11s %-7s %4llu  %s (%s)\n", i, tcpw_state_name(t->from),
               tcpw_state_name(t->to), cause_name(t->cause), (unsigned long long)taken[i], t->name,
               t->ref);
        if (taken[i])
            covered++;
        else
            fprintf(stderr, "transition %zu %s -> %s (%s) never taken\n", i,
                    tcpw_state_name(t->from), tcpw_state_name(t->to), cause_name(t->cause));
    }
    printf("  %zu of %zu transitions covered; %d state changes outside the registry\n", covered, n,
           unregistered);
    CHECK_EQ_U(covered, n);
    CHECK_EQ_U(unregistered, 0);
}

int main(void) {
    RUN(test_every_transition_covered);
    return test_summary();
}
