/* transitions.c — every state transition the engine may take, named in one place.
 *
 * RFC 9293 Figure 5 plus the refinements of RFC 1122, 5961, 1337, 6191 and of the socket API
 * (close with unread data, orphan timeouts). conn_set_state() looks each transition up here;
 * the stack counts how often each was taken (tcpw_stats.transitions), so tests can report
 * which they covered. A transition missing from this table is a bug the tests catch.
 */
#include "tcb.h"

/* The registry, one line per transition: from, to, cause (U user call, T timer, S segment),
 * name, reference. Both the table below and the lookup by (from, to, cause) are made from this
 * one list at compile time. */
#define TRANSITIONS(X)                                                                             \
    X(CLOSED, LISTEN, U, "passive OPEN", "RFC 9293 §3.10.1")                                       \
    X(CLOSED, SYN_SENT, U, "active OPEN: send SYN", "RFC 9293 §3.10.1")                            \
    X(LISTEN, CLOSED, U, "CLOSE of a listener", "RFC 9293 §3.10.4")                                \
    X(LISTEN, SYN_RCVD, S, "rcv SYN: send SYN+ACK", "RFC 9293 §3.10.7.2")                          \
    X(SYN_SENT, SYN_RCVD, S, "rcv SYN (simultaneous open): send SYN+ACK", "RFC 9293 §3.10.7.3")    \
    X(SYN_SENT, ESTABLISHED, S, "rcv SYN+ACK: send ACK", "RFC 9293 §3.10.7.3")                     \
    X(SYN_SENT, CLOSED, S, "rcv RST: connection refused", "RFC 9293 §3.10.7.3")                    \
    X(SYN_SENT, CLOSED, U, "CLOSE/ABORT in SYN_SENT", "RFC 9293 §3.10.4")                          \
    X(SYN_SENT, CLOSED, T, "SYN retransmissions exhausted", "RFC 9293 §3.8.3")                     \
    X(SYN_RCVD, ESTABLISHED, S, "rcv ACK of SYN", "RFC 9293 §3.10.7.4")                            \
    X(SYN_RCVD, FIN_WAIT_1, U, "CLOSE: send FIN", "RFC 9293 §3.10.4")                              \
    X(SYN_RCVD, CLOSED, S, "rcv RST (passive: back to the listener)", "RFC 9293 §3.10.7.4")        \
    X(SYN_RCVD, CLOSED, U, "ABORT in SYN_RCVD", "RFC 9293 §3.10.5")                                \
    X(SYN_RCVD, CLOSED, T, "SYN+ACK retransmissions exhausted", "RFC 9293 §3.8.3")                 \
    X(ESTABLISHED, FIN_WAIT_1, U, "CLOSE: send FIN", "RFC 9293 §3.10.4")                           \
    X(ESTABLISHED, CLOSE_WAIT, S, "rcv FIN: send ACK", "RFC 9293 §3.10.7.4")                       \
    X(ESTABLISHED, CLOSED, S, "rcv RST", "RFC 9293 §3.10.7.4, RFC 5961 §3")                        \
    X(ESTABLISHED, CLOSED, U, "ABORT, or close with unread data: send RST",                        \
      "RFC 9293 §3.10.5, RFC 2525 §2.17")                                                          \
    X(ESTABLISHED, CLOSED, T, "retransmissions exhausted", "RFC 9293 §3.8.3")                      \
    X(FIN_WAIT_1, FIN_WAIT_2, S, "rcv ACK of FIN", "RFC 9293 §3.10.7.4")                           \
    X(FIN_WAIT_1, CLOSING, S, "rcv FIN (simultaneous close): send ACK", "RFC 9293 §3.10.7.4")      \
    X(FIN_WAIT_1, TIME_WAIT, S, "rcv FIN+ACK of FIN: send ACK", "RFC 9293 §3.10.7.4")              \
    X(FIN_WAIT_1, CLOSED, S, "rcv RST", "RFC 9293 §3.10.7.4")                                      \
    X(FIN_WAIT_1, CLOSED, U, "ABORT: send RST", "RFC 9293 §3.10.5")                                \
    X(FIN_WAIT_1, CLOSED, T, "FIN retransmissions exhausted", "RFC 9293 §3.8.3")                   \
    X(FIN_WAIT_2, TIME_WAIT, S, "rcv FIN: send ACK", "RFC 9293 §3.10.7.4")                         \
    X(FIN_WAIT_2, CLOSED, S, "rcv RST, or data after close: send RST",                             \
      "RFC 9293 §3.10.7.4, RFC 2525 §2.17")                                                        \
    X(FIN_WAIT_2, CLOSED, U, "ABORT: send RST", "RFC 9293 §3.10.5")                                \
    X(FIN_WAIT_2, CLOSED, T, "orphaned FIN_WAIT_2 timeout (tcp_fin_timeout)",                      \
      "RFC 9293 §3.10.7.4 note; Linux tcp_fin_timeout")                                            \
    X(CLOSE_WAIT, LAST_ACK, U, "CLOSE: send FIN", "RFC 9293 §3.10.4")                              \
    X(CLOSE_WAIT, CLOSED, S, "rcv RST", "RFC 9293 §3.10.7.4")                                      \
    X(CLOSE_WAIT, CLOSED, U, "ABORT: send RST", "RFC 9293 §3.10.5")                                \
    X(CLOSE_WAIT, CLOSED, T, "retransmissions exhausted", "RFC 9293 §3.8.3")                       \
    X(CLOSING, TIME_WAIT, S, "rcv ACK of FIN", "RFC 9293 §3.10.7.4")                               \
    X(CLOSING, CLOSED, S, "rcv RST", "RFC 9293 §3.10.7.4")                                         \
    X(CLOSING, CLOSED, U, "ABORT", "RFC 9293 §3.10.5")                                             \
    X(CLOSING, CLOSED, T, "FIN retransmissions exhausted", "RFC 9293 §3.8.3")                      \
    X(LAST_ACK, CLOSED, S, "rcv ACK of FIN (or RST)", "RFC 9293 §3.10.7.4")                        \
    X(LAST_ACK, CLOSED, U, "ABORT", "RFC 9293 §3.10.5")                                            \
    X(LAST_ACK, CLOSED, T, "FIN retransmissions exhausted", "RFC 9293 §3.8.3")                     \
    X(TIME_WAIT, CLOSED, T, "2MSL timeout", "RFC 9293 §3.10.8, RFC 1122 §4.2.2.13")                \
    X(TIME_WAIT, CLOSED, S, "rcv RST (RFC 1337 off), or a new SYN reopens the 4-tuple",            \
      "RFC 9293 §3.10.7.4, RFC 1337, RFC 6191")                                                    \
    X(TIME_WAIT, CLOSED, U, "ABORT, or reuse for a new connection (tw_reuse)",                     \
      "RFC 9293 §3.10.5; Linux tcp_tw_reuse")

#define U TCPW_CAUSE_USER
#define T TCPW_CAUSE_TIMER
#define S TCPW_CAUSE_SEGMENT

#define ROW(from, to, cause, name, ref) {TCPW_##from, TCPW_##to, cause, name, ref},
static const tcpw_transition table[] = {TRANSITIONS(ROW)};
#undef ROW

/* Each transition's index, by name: T_<from>_<to>_<cause>. */
#define IDX(from, to, cause, name, ref) T_##from##_##to##_##cause,
enum { TRANSITIONS(IDX) TRANSITION_COUNT };
#undef IDX

/* (from, to, cause) -> index + 1; 0 where the registry has no such transition
 * (transition_find, tcb.h). */
#define CELL(from, to, cause, name, ref)                                                           \
    [TCPW_##from][TCPW_##to][cause] = T_##from##_##to##_##cause + 1,
const uint8_t transition_lookup[TCPW_STATE_COUNT][TCPW_STATE_COUNT][3] = {TRANSITIONS(CELL)};
#undef CELL

#undef U
#undef T
#undef S

_Static_assert(TRANSITION_COUNT <= 64, "tcpw_stats.transitions has 64 slots");
_Static_assert(sizeof table / sizeof table[0] == TRANSITION_COUNT, "one registry");

size_t tcpw_transition_count(void) {
    return sizeof table / sizeof table[0];
}

const tcpw_transition *tcpw_transition_get(size_t i) {
    return i < tcpw_transition_count() ? &table[i] : 0;
}
