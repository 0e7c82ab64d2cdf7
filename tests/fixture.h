/* fixture.h — a stack under test facing a scripted peer, in the style of smoltcp's socket
 * tests: put a connection into a given state, feed it one segment, check the exact segments
 * it sends and the state it ends in.
 *
 * The stack is 192.0.2.2:80 ("local"); the peer is 192.0.2.1:40000 ("remote") and its ISN is
 * FX_IRS. Our ISN is read from the first SYN the stack sends. Timestamps and window scaling
 * are off unless a test turns them on, so the numbers are the plain RFC ones; delayed ACK is
 * off so every ACK leaves at once.
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
    int ntrace;
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
    if (t->kind != TCPW_TRACE_STATE || f->ntrace == FX_MAX_TRACE) return;
    f->trace_from[f->ntrace] = t->from;
    f->trace_to[f->ntrace] = t->to;
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
    uint8_t pkt[4096];
    size_t hl = tcpw_build_headers(pkt, sizeof pkt, &o, len);
    if (!hl) return;
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

#endif
