/* user.c — the user calls of RFC 9293 §3.9.1 as the application sees them: OPEN (connect,
 * listen), SEND, RECEIVE, CLOSE (shutdown of the send direction; close of the handle), ABORT,
 * and accept for listeners. Their effects in each state follow RFC 9293 §3.10.1–3.10.5.
 */
#include <string.h>

#include "seq.h"
#include "tcb.h"

static void advance_clock(tcpw_stack *s, uint64_t now) {
    if (now > s->now) s->now = now;
}

static bool endpoint_valid(const tcpw_endpoint *e) {
    return e->addr.family == 4 || e->addr.family == 6;
}

/* The 4-tuple is free for a new outgoing connection: no control block, and no TIME_WAIT
 * record unless tw_reuse allows taking it over: then *reuse is set and *tw is the record.
 * *h is the 4-tuple's hash (one for both tables and for the insertion that follows). */
static bool tuple_free(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                       bool *reuse, tw_ref *tw, uint32_t *h) {
    *reuse = false;
    *h = tuple_hash(s, local, remote);
    if (table_find_conn_hashed(s, local, remote, *h)) return false;
    if (!table_find_tw_hashed(s, local, remote, *h, tw)) return true;
    if (!tw_reusable(s, *tw)) return false;
    *reuse = true;
    return true;
}

/* RFC 6056 §3.3.3 Algorithm 3: search the ephemeral range from a keyed per-destination
 * offset plus a counter, skipping ports with a listener or a busy 4-tuple. */
static int pick_ephemeral_port(tcpw_stack *s, tcpw_endpoint *local, const tcpw_endpoint *remote,
                               bool *reuse, tw_ref *tw, uint32_t *h) {
    uint32_t lo = s->cfg.ephemeral_lo, range = (uint32_t)s->cfg.ephemeral_hi - lo + 1;
    uint32_t offset = port_offset_for(s, local, remote);
    for (uint32_t i = 0; i < range; i++) {
        local->port = (uint16_t)(lo + (offset + s->port_hint + i) % range);
        if (listener_find(s, local)) continue;
        if (tuple_free(s, local, remote, reuse, tw, h)) {
            s->port_hint += i + 1;
            return TCPW_OK;
        }
    }
    return TCPW_EADDRNOTAVAIL;
}

int tcpw_connect(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                 uint64_t now, tcpw_conn **out) {
    if (!s || !local || !remote || !out || !endpoint_valid(remote) || remote->port == 0 ||
        local->addr.family != remote->addr.family)
        return TCPW_EINVAL;
    advance_clock(s, now);
    tcpw_endpoint l = *local;
    bool reuse = false;
    tw_ref tw;
    uint32_t h;
    if (l.port == 0) {
        int err = pick_ephemeral_port(s, &l, remote, &reuse, &tw, &h);
        if (err) return err;
    } else if (!tuple_free(s, &l, remote, &reuse, &tw, &h)) {
        return TCPW_EADDRINUSE;
    }
    tcpw_conn *c = conn_new(s, &l, remote);
    if (!c) return TCPW_ENOMEM;
    if (conn_alloc_buffers(c) != TCPW_OK) {
        conn_destroy(c);
        return TCPW_ENOMEM;
    }
    uint32_t iss, ts_offset;
    isn_and_ts_offset(s, &l, remote, &iss, &ts_offset);
    if (reuse) {
        /* Linux tcp_twsk_unique: the new incarnation starts well beyond the old one. */
        uint32_t old_snd_nxt = tw_body(tw.st, tw.pos)->snd_nxt;
        if (!seq_gt(iss, old_snd_nxt)) iss = old_snd_nxt + 65537u;
        tw_kill(s, tw, TCPW_CAUSE_USER, "connect() reuses the 4-tuple (tw_reuse)", NULL);
    }
    if (table_insert_conn_hashed(s, c, h) != TCPW_OK) {
        conn_destroy(c);
        return TCPW_ENOMEM;
    }
    conn_start_sequence(c, iss, ts_offset);
    /* We offer window scale and timestamps; the SYN+ACK decides (apply_syn_options). */
    c->ws_ok = s->cfg.window_scale;
    c->ts_ok = s->cfg.timestamps;
    while (c->rcv_wscale < 14 && (c->rcvbuf.cap >> c->rcv_wscale) > 0xffff)
        c->rcv_wscale++;
    if (!c->ws_ok) c->rcv_wscale = 0;
    c->cwnd = 4u * c->snd_mss;
    c->ssthresh = 1u << 30;
    c->app_holds = true;
    conn_set_state(c, TCPW_SYN_SENT, TCPW_CAUSE_USER, "connect()", NULL);
    conn_output(c);
    *out = c;
    return TCPW_OK;
}

int tcpw_listen(tcpw_stack *s, const tcpw_endpoint *local, int backlog, tcpw_conn **out) {
    if (!s || !local || !out || local->port == 0 || backlog < 1 ||
        (local->addr.family != 0 && !endpoint_valid(local)))
        return TCPW_EINVAL;
    for (tcpw_conn *l = s->listeners; l; l = l->hash_next)
        if (l->local.port == local->port && (l->local.addr.family == 0 || local->addr.family == 0 ||
                                             tcpw_addr_equal(&l->local.addr, &local->addr)))
            return TCPW_EADDRINUSE;
    tcpw_conn *l = conn_new(s, local, NULL);
    if (!l) return TCPW_ENOMEM;
    l->backlog = backlog;
    l->app_holds = true;
    l->hash_next = s->listeners;
    s->listeners = l;
    conn_set_state(l, TCPW_LISTEN, TCPW_CAUSE_USER, "listen()", NULL);
    *out = l;
    return TCPW_OK;
}

tcpw_conn *tcpw_accept(tcpw_conn *l) {
    if (!l || l->state != TCPW_LISTEN || !l->accept_head) return NULL;
    tcpw_conn *c = l->accept_head;
    l->accept_head = c->accept_next;
    if (!l->accept_head) l->accept_tail = NULL;
    c->accept_next = NULL;
    c->listener = NULL;
    l->pending--;
    c->app_holds = true;
    /* Tell the application everything that happened before it took the connection. */
    uint32_t ev = TCPW_EV_CONNECTED | TCPW_EV_WRITABLE;
    if (c->rcvbuf.len) ev |= TCPW_EV_READABLE;
    if (c->rcv_fin) ev |= TCPW_EV_EOF | TCPW_EV_READABLE;
    conn_raise(c, ev);
    return c;
}

/* ---- SEND and RECEIVE (RFC 9293 §3.10.2, §3.10.3) ------------------------------------------ */

static int closed_error(const tcpw_conn *c) {
    return c->error ? c->error : TCPW_ENOTCONN;
}

ptrdiff_t tcpw_send(tcpw_conn *c, const void *buf, size_t len, uint64_t now) {
    if (!c || (!buf && len)) return TCPW_EINVAL;
    advance_clock(c->stack, now);
    switch (c->state) {
    case TCPW_CLOSED: return closed_error(c);
    case TCPW_LISTEN: return TCPW_ESTATE;
    default: break;
    }
    /* after CLOSE: "error: connection closing" */
    if (c->shut_wr) return TCPW_ECLOSING;
    uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    n = ring_write(&c->sndbuf, buf, n);
    if (n == 0 && len) return TCPW_EAGAIN;
    /* In SYN_SENT and SYN_RCVD the data waits for ESTABLISHED (§3.10.2). */
    conn_output(c);
    return n;
}

/* Tell the peer when reading opened the window by a useful amount. RFC 9293 §3.8.6.2.2
 * bounds how far the right edge may move (at least min(buffer/2, MSS)); when to send the
 * update unasked is the implementation's choice. Like Linux (tcp_cleanup_rbuf) we send one
 * when the window at least doubled: a peer stalled on a small or zero window hears at once,
 * while an application reading each segment as it arrives does not double the ACKs of a
 * bulk transfer (the next data segment's ACK carries the news). */
static void window_update_after_read(tcpw_conn *c) {
    if (c->rcv_fin || c->state == TCPW_SYN_SENT) return;
    uint32_t could = ring_free(&c->rcvbuf);
    uint32_t told = conn_rcv_wnd(c);
    uint32_t half = c->rcvbuf.cap / 2;
    uint32_t sws = half < c->snd_mss ? half : c->snd_mss;
    if (could >= told + sws && could / 2 >= told) {
        c->ack_now = true;
        conn_output(c);
    }
}

/* RECEIVE with in-order data waiting: copy it out. Out of line, so that the call that finds
 * nothing (the one an application makes to learn it has read everything) saves no
 * registers. */
static TCPW_NOINLINE ptrdiff_t recv_copy(tcpw_conn *c, void *buf, size_t len) {
    uint32_t n = len < c->rcvbuf.len ? (uint32_t)len : c->rcvbuf.len;
    ring_peek(&c->rcvbuf, 0, buf, n);
    ring_consume(&c->rcvbuf, n);
    /* out-of-order data sits after the in-order data: consuming the ring moved its
     * start, and the assembler's offsets are relative to the in-order end: unchanged */
    window_update_after_read(c);
    return n;
}

ptrdiff_t tcpw_recv(tcpw_conn *c, void *buf, size_t len, uint64_t now) {
    if (!c || (!buf && len)) return TCPW_EINVAL;
    advance_clock(c->stack, now);
    if (c->state == TCPW_LISTEN) return TCPW_ESTATE;
    if (c->rcvbuf.len) return recv_copy(c, buf, len);
    if (c->rcv_fin) return 0; /* end of stream */
    if (c->state == TCPW_CLOSED) return closed_error(c);
    return TCPW_EAGAIN;
}

/* ---- CLOSE and ABORT (RFC 9293 §3.10.4, §3.10.5) ------------------------------------------ */

/* CLOSE of the send direction: a FIN will follow the queued data. */
static int close_send_side(tcpw_conn *c, const char *what) {
    switch (c->state) {
    case TCPW_SYN_SENT:
        /* "Delete the TCB": nothing was synchronized yet. */
        conn_close_now(c, 0, 0, TCPW_CAUSE_USER, what, NULL);
        return TCPW_OK;
    case TCPW_SYN_RCVD:
    case TCPW_ESTABLISHED:
        c->shut_wr = true;
        conn_set_state(c, TCPW_FIN_WAIT_1, TCPW_CAUSE_USER, what, NULL);
        conn_output(c);
        return TCPW_OK;
    case TCPW_CLOSE_WAIT:
        c->shut_wr = true;
        conn_set_state(c, TCPW_LAST_ACK, TCPW_CAUSE_USER, what, NULL);
        conn_output(c);
        return TCPW_OK;
    case TCPW_CLOSED: return closed_error(c);
    case TCPW_LISTEN: return TCPW_ESTATE;
    default: /* FIN_WAIT_1/2, CLOSING, LAST_ACK, TIME_WAIT */ return TCPW_ECLOSING;
    }
}

int tcpw_shutdown(tcpw_conn *c, uint64_t now) {
    if (!c) return TCPW_EINVAL;
    advance_clock(c->stack, now);
    return close_send_side(c, "shutdown()");
}

/* Sends <SEQ=SND.NXT><CTL=RST> where RFC 9293 §3.10.5 calls for it and enters CLOSED. */
static void reset_connection(tcpw_conn *c, const char *what) {
    bool rst;
    switch (c->state) {
    case TCPW_SYN_RCVD:
    case TCPW_ESTABLISHED:
    case TCPW_FIN_WAIT_1:
    case TCPW_FIN_WAIT_2:
    case TCPW_CLOSE_WAIT: rst = true; break;
    default: /* SYN_SENT, CLOSING, LAST_ACK, TIME_WAIT: no RST */ rst = false; break;
    }
    /* the state change is the cause, the RST its consequence: trace it first */
    if (c->state != TCPW_CLOSED) conn_close_now(c, 0, 0, TCPW_CAUSE_USER, what, NULL);
    if (rst) send_rst(c->stack, &c->local, &c->remote, c->snd_max, 0, false);
}

/* Closing a listener resets the connections that were never accepted (as Linux does). */
static void close_listener(tcpw_conn *l, const char *what) {
    tcpw_stack *s = l->stack;
    tcpw_conn *c = s->all;
    while (c) {
        tcpw_conn *next = c->all_next;
        if (c->listener == l) {
            reset_connection(c, what);
            conn_destroy(c);
        }
        c = next;
    }
    conn_set_state(l, TCPW_CLOSED, TCPW_CAUSE_USER, what, NULL);
    conn_destroy(l);
}

static void release_handle(tcpw_conn *c) {
    c->app_holds = false;
    c->events = 0;
    conn_reap(c);
}

int tcpw_close(tcpw_conn *c, uint64_t now) {
    if (!c || !c->app_holds) return TCPW_EINVAL;
    advance_clock(c->stack, now);
    if (c->state == TCPW_LISTEN) {
        close_listener(c, "close()");
        return TCPW_OK;
    }
    if (c->rcvbuf.len && c->state != TCPW_CLOSED && c->state != TCPW_TIME_WAIT) {
        /* RFC 2525 §2.17: closing with unread received data loses it: say so with a RST
         * rather than the FIN that would claim an orderly close. (In TIME_WAIT both FINs are
         * acknowledged already; the data is dropped and TIME_WAIT runs its 2MSL.) */
        conn_note(c, "close() with unread data: RST instead of FIN (RFC 2525 §2.17)");
        reset_connection(c, "close() with unread data");
        release_handle(c);
        return TCPW_OK;
    }
    c->rst_on_data = true;
    if (!c->shut_wr && c->state != TCPW_CLOSED && c->state != TCPW_TIME_WAIT)
        close_send_side(c, "close()");
    if (c->state == TCPW_FIN_WAIT_2) {
        /* orphaned FIN_WAIT_2 expires after fin_timeout (Linux tcp_fin_timeout) */
        c->close_at = c->stack->now + c->stack->cfg.fin_timeout_ms * 1000ull;
        conn_update_deadline(c);
    }
    release_handle(c);
    return TCPW_OK;
}

int tcpw_abort(tcpw_conn *c, uint64_t now) {
    if (!c || !c->app_holds) return TCPW_EINVAL;
    advance_clock(c->stack, now);
    if (c->state == TCPW_LISTEN) {
        close_listener(c, "abort()");
        return TCPW_OK;
    }
    reset_connection(c, "abort()");
    release_handle(c);
    return TCPW_OK;
}
