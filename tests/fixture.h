/* fixture.h — a stack under test facing a scripted peer, in the style of smoltcp's socket
 * tests: put a connection into a given state, feed it one segment, check the exact segments
 * it sends and the state it ends in.
 *
 * The stack is 192.0.2.2:80 ("local"); the peer is 192.0.2.1:40000 ("remote") and its ISN is
 * FX_IRS. Our ISN is read from the first SYN the stack sends. Timestamps and window scaling
 * are off unless a test turns them on, so the numbers are the plain RFC ones; delayed and
 * deferred ACKs are off so every ACK leaves at once.
 */
#ifndef TCPW_FIXTURE_H
#define TCPW_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "core/tcb.h"
#include "core/wire.h"
#include "tcpwave/tcpwave.h"
#include "test.h"

#define FX_IRS       1000u
#define FX_MAX_OUT   64
#define FX_MAX_TRACE 64

typedef struct fx_pkt {
    uint8_t buf[2048];
    size_t len;
    tcpw_packet p;
} fx_pkt;

typedef struct fx {
    tcpw_config cfg;
    tcpw_stack *s;
    uint64_t now;
    tcpw_endpoint local, remote;
    tcpw_conn *c; /* the connection under test (handle held unless closed) */
    tcpw_conn *listener;
    uint32_t iss; /* our ISN */
    fx_pkt out[FX_MAX_OUT];
    int nout;
    tcpw_state trace_from[FX_MAX_TRACE], trace_to[FX_MAX_TRACE];
    int trace_idx[FX_MAX_TRACE]; /* registry index of each transition (-1: not registered) */
    tcpw_cause trace_cause[FX_MAX_TRACE];
    int ntrace;
    int unregistered; /* state changes missing from the transition registry */
    uint32_t our_ts;  /* TSval of our SYN or SYN+ACK (timestamps fixtures) */
} fx;

static inline void fx_output(void *user, const uint8_t *pkt, size_t len) {
    fx *f = user;
    if (f->nout == FX_MAX_OUT || len > sizeof f->out[0].buf) return;
    fx_pkt *o = &f->out[f->nout++];
    memcpy(o->buf, pkt, len);
    o->len = len;
    if (tcpw_parse(o->buf, len, 0, &o->p) != TCPW_WIRE_OK) memset(&o->p, 0, sizeof o->p);
}

static inline void fx_trace(void *user, const tcpw_trace *t) {
    fx *f = user;
    if (t->kind != TCPW_TRACE_STATE) return;
    if (t->transition < 0) f->unregistered++;
    if (f->ntrace == FX_MAX_TRACE) return;
    f->trace_from[f->ntrace] = t->from;
    f->trace_to[f->ntrace] = t->to;
    f->trace_idx[f->ntrace] = t->transition;
    f->trace_cause[f->ntrace] = t->cause;
    f->ntrace++;
}

/* Prepare the fixture; change f->cfg after this and before fx_start() to vary it. */
static inline void fx_init(fx *f) {
    memset(f, 0, sizeof *f);
    tcpw_config_default(&f->cfg);
    tcpw_config_use_libc(&f->cfg);
    f->cfg.user = f;
    f->cfg.output = fx_output;
    f->cfg.trace = fx_trace;
    f->cfg.timestamps = false;
    f->cfg.window_scale = false;
    f->cfg.delayed_ack_ms = 0;
    f->cfg.ack_defer = false;
    f->cfg.nagle = false;
    f->cfg.send_buffer = f->cfg.recv_buffer = 8192;
    memcpy(f->cfg.secret, "fixture-secret!!", 16);
    f->local.addr = tcpw_addr_v4(192, 0, 2, 2);
    f->local.port = 80;
    f->remote.addr = tcpw_addr_v4(192, 0, 2, 1);
    f->remote.port = 40000;
    f->now = 1000000;
}

static inline void fx_start(fx *f) {
    tcpw_stack_new(&f->cfg, &f->s);
}

static inline void fx_free(fx *f) {
    tcpw_stack_free(f->s);
    f->s = NULL;
}

static inline void fx_clear(fx *f) {
    f->nout = 0;
    f->ntrace = 0;
}

/* The peer sends a segment to the stack. */
static inline void fx_in_opts(fx *f, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                              const tcpw_tcp_opts *opts, const void *data, size_t len) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = f->remote;
    o.dst = f->local;
    o.seq = seq;
    o.ack = ack;
    o.flags = flags;
    o.win = win;
    if (opts) o.opts = *opts;
    uint8_t pkt[TCPW_MAX_HEADERS + 8192];
    size_t hl = tcpw_build_headers(pkt, sizeof pkt, &o, len);
    if (!hl || hl + len > sizeof pkt) return;
    if (len) memcpy(pkt + hl, data, len);
    tcpw_finish_checksums(pkt, hl + len);
    tcpw_input(f->s, pkt, hl + len, f->now);
}

static inline void fx_in(fx *f, uint8_t flags, uint32_t seq, uint32_t ack, const void *data,
                         size_t len) {
    fx_in_opts(f, flags, seq, ack, 8192, NULL, data, len);
}

static inline void fx_advance(fx *f, uint64_t us) {
    f->now += us;
    tcpw_tick(f->s, f->now);
}

/* Run timers up to the next deadline (if it is within `limit` µs). */
static inline int fx_run_next_timer(fx *f, uint64_t limit) {
    uint64_t d = tcpw_next_deadline(f->s);
    if (d == UINT64_MAX || d > f->now + limit) return 0;
    if (d > f->now) f->now = d;
    tcpw_tick(f->s, f->now);
    return 1;
}

static inline tcpw_state fx_state(const fx *f) {
    return f->c ? f->c->state : TCPW_CLOSED;
}

/* Asserts segment i of the output: its flags exactly, its seq, ack (when ACK is set) and
 * payload length. */
#define FX_EXPECT(f, i, fl, sq, ak, ln)                                                            \
    do {                                                                                           \
        REQUIRE((f)->nout > (i));                                                                  \
        const tcpw_packet *p_ = &(f)->out[i].p;                                                    \
        CHECK_EQ_U(p_->flags & 0x3f, (fl));                                                        \
        CHECK_EQ_U(p_->seq, (sq));                                                                 \
        if ((fl)&TCPW_ACK) CHECK_EQ_U(p_->ack, (ak));                                              \
        CHECK_EQ_U(p_->payload_len, (ln));                                                         \
    } while (0)

#define FX_EXPECT_NOTHING(f) CHECK_EQ_U((f)->nout, 0)

/* ---- reaching each state ------------------------------------------------------------------ */

static inline void fx_listen(fx *f) {
    tcpw_listen(f->s, &f->local, 8, &f->listener);
}

/* LISTEN + SYN: a SYN_RCVD child (not yet accepted); f->c points at it. */
static inline void fx_syn_rcvd(fx *f) {
    fx_listen(f);
    fx_in(f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    f->iss = f->out[0].p.seq;
    f->c = table_find_conn(f->s, &f->local, &f->remote);
    fx_clear(f);
}

static inline void fx_established(fx *f) {
    fx_syn_rcvd(f);
    fx_in(f, TCPW_ACK, FX_IRS + 1, f->iss + 1, NULL, 0);
    f->c = tcpw_accept(f->listener);
    fx_clear(f);
}

/* SYN_SENT: we connect to the peer. */
static inline void fx_syn_sent(fx *f) {
    tcpw_connect(f->s, &f->local, &f->remote, f->now, &f->c);
    f->iss = f->out[0].p.seq;
    fx_clear(f);
}

static inline void fx_fin_wait_1(fx *f) {
    fx_established(f);
    tcpw_shutdown(f->c, f->now);
    fx_clear(f);
}

static inline void fx_fin_wait_2(fx *f) {
    fx_fin_wait_1(f);
    fx_in(f, TCPW_ACK, FX_IRS + 1, f->iss + 2, NULL, 0);
    fx_clear(f);
}

static inline void fx_close_wait(fx *f) {
    fx_established(f);
    fx_in(f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f->iss + 1, NULL, 0);
    fx_clear(f);
}

static inline void fx_closing(fx *f) {
    fx_fin_wait_1(f);
    fx_in(f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f->iss + 1, NULL, 0);
    fx_clear(f);
}

static inline void fx_last_ack(fx *f) {
    fx_close_wait(f);
    tcpw_shutdown(f->c, f->now);
    fx_clear(f);
}

/* TIME_WAIT with the handle still held (a full control block). */
static inline void fx_time_wait(fx *f) {
    fx_fin_wait_2(f);
    fx_in(f, TCPW_FIN | TCPW_ACK, FX_IRS + 1, f->iss + 2, NULL, 0);
    fx_clear(f);
}

/* ---- more checks ---------------------------------------------------------------------------- */

/* Exactly n segments were sent. */
#define FX_EXPECT_COUNT(f, n) CHECK_EQ_U((f)->nout, (n))

/* The connection under test is in state st (names, not numbers, in a failure). */
#define FX_EXPECT_STATE(f, st) CHECK_STR(tcpw_state_name(fx_state(f)), tcpw_state_name(st))

/* No control block for the fixture's 4-tuple any more. */
#define FX_EXPECT_NO_CONN(f) CHECK(table_find_conn((f)->s, &(f)->local, &(f)->remote) == NULL)

/* Polls every pending event and returns those of connection c (OR-ed). */
static inline uint32_t fx_events(fx *f, const tcpw_conn *c) {
    uint32_t all = 0, ev;
    tcpw_conn *x;
    while ((x = tcpw_poll_event(f->s, &ev)))
        if (x == c) all |= ev;
    return all;
}

/* ---- more of the peer's segments ------------------------------------------------------------ */

/* A segment with a window other than the fixture's 8192. */
static inline void fx_in_win(fx *f, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                             const void *data, size_t len) {
    fx_in_opts(f, flags, seq, ack, win, NULL, data, len);
}

/* A segment with an RFC 7323 timestamps option. */
static inline void fx_in_ts(fx *f, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t tsval,
                            uint32_t tsecr, const void *data, size_t len) {
    tcpw_tcp_opts o;
    memset(&o, 0, sizeof o);
    o.has_ts = true;
    o.tsval = tsval;
    o.tsecr = tsecr;
    fx_in_opts(f, flags, seq, ack, 8192, &o, data, len);
}

/* ---- more states ---------------------------------------------------------------------------- */

/* SYN_RCVD entered from an active OPEN: our SYN crossed the peer's (simultaneous open). */
static inline void fx_syn_rcvd_active(fx *f) {
    fx_syn_sent(f);
    fx_in(f, TCPW_SYN, FX_IRS, 0, NULL, 0);
    fx_clear(f);
}

/* ESTABLISHED by an active OPEN (the handle came from tcpw_connect). */
static inline void fx_established_active(fx *f) {
    fx_syn_sent(f);
    fx_in(f, TCPW_SYN | TCPW_ACK, FX_IRS, f->iss + 1, NULL, 0);
    fx_clear(f);
}

/* TIME_WAIT after the application let go: the compact record. The handle is gone (f->c is
 * NULL); the record shows in tcpw_stack_stats()->time_wait_count. */
static inline void fx_time_wait_compact(fx *f) {
    fx_time_wait(f);
    tcpw_close(f->c, f->now);
    f->c = NULL;
    fx_clear(f);
}

/* The peer's timestamp clock: its SYN carries FX_PEER_TS, its next segment FX_PEER_TS + 1. */
#define FX_PEER_TS 5000u

/* ESTABLISHED with RFC 7323 timestamps (set f->cfg.timestamps = true before fx_start). The
 * handshake leaves TS.Recent = FX_PEER_TS + 1; f->our_ts is the TSval of our SYN+ACK. */
static inline void fx_established_ts(fx *f) {
    fx_listen(f);
    fx_in_ts(f, TCPW_SYN, FX_IRS, 0, FX_PEER_TS, 0, NULL, 0);
    f->iss = f->out[0].p.seq;
    f->our_ts = f->out[0].p.opts.tsval;
    fx_in_ts(f, TCPW_ACK, FX_IRS + 1, f->iss + 1, FX_PEER_TS + 1, f->our_ts, NULL, 0);
    f->c = tcpw_accept(f->listener);
    fx_clear(f);
}

/* Puts the connection under test into a synchronized state along the paths above. */
static inline void fx_enter(fx *f, tcpw_state st) {
    switch (st) {
    case TCPW_SYN_RCVD: fx_syn_rcvd(f); break;
    case TCPW_ESTABLISHED: fx_established(f); break;
    case TCPW_FIN_WAIT_1: fx_fin_wait_1(f); break;
    case TCPW_FIN_WAIT_2: fx_fin_wait_2(f); break;
    case TCPW_CLOSE_WAIT: fx_close_wait(f); break;
    case TCPW_CLOSING: fx_closing(f); break;
    case TCPW_LAST_ACK: fx_last_ack(f); break;
    case TCPW_TIME_WAIT: fx_time_wait(f); break;
    default: break;
    }
}

/* SND.UNA, SND.NXT and RCV.NXT in each state along those paths, worked out from the RFC (our
 * FIN takes ISS+1, the peer's FIN IRS+1), never read from the engine. */
static inline uint32_t fx_snd_nxt(const fx *f, tcpw_state st) {
    switch (st) {
    case TCPW_FIN_WAIT_1:
    case TCPW_FIN_WAIT_2:
    case TCPW_CLOSING:
    case TCPW_LAST_ACK:
    case TCPW_TIME_WAIT: return f->iss + 2;
    default: return f->iss + 1;
    }
}

static inline uint32_t fx_snd_una(const fx *f, tcpw_state st) {
    switch (st) {
    case TCPW_SYN_RCVD: return f->iss;
    case TCPW_FIN_WAIT_2:
    case TCPW_TIME_WAIT: return f->iss + 2;
    default: return f->iss + 1;
    }
}

static inline uint32_t fx_rcv_nxt(tcpw_state st) {
    switch (st) {
    case TCPW_CLOSE_WAIT:
    case TCPW_CLOSING:
    case TCPW_LAST_ACK:
    case TCPW_TIME_WAIT: return FX_IRS + 2;
    default: return FX_IRS + 1;
    }
}

/* Our receive window: the whole (empty) 8192-byte receive buffer, offered in the SYN+ACK. Its
 * right edge RCV.NXT + RCV.WND stays at FX_RCV_EDGE in every state along the paths above: a
 * FIN moves RCV.NXT by one, and receiver silly window avoidance (RFC 9293 §3.8.6.2.2) keeps
 * the edge where it is until the buffer frees min(BUFF/2, MSS) more. */
#define FX_RCV_WND  8192u
#define FX_RCV_EDGE (FX_IRS + 1 + FX_RCV_WND)

#endif
