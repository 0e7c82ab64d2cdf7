/* stack.c — the stack object: creation, packet demultiplexing, the one function through which
 * every state change goes (and is traced), application events, listing and teardown.
 */
#include <string.h>

#include "seq.h"
#include "tcb.h"

void *stack_alloc(tcpw_stack *s, size_t size) {
    return s->cfg.alloc(s->cfg.user, size);
}

void stack_free_mem(tcpw_stack *s, void *p) {
    if (p) s->cfg.free(s->cfg.user, p);
}

int tcpw_stack_new(const tcpw_config *cfg, tcpw_stack **out) {
    if (!cfg || !out || !cfg->output || !cfg->alloc || !cfg->free) return TCPW_EINVAL;
    if (cfg->mss < 64 || cfg->send_buffer < cfg->mss || cfg->recv_buffer < cfg->mss ||
        cfg->send_buffer > (1u << 30) || cfg->recv_buffer > (1u << 30) || cfg->ephemeral_lo == 0 ||
        cfg->ephemeral_lo > cfg->ephemeral_hi || cfg->rto_min_ms == 0 ||
        cfg->rto_min_ms > cfg->rto_max_ms)
        return TCPW_EINVAL;
    tcpw_stack *s = cfg->alloc(cfg->user, sizeof *s);
    if (!s) return TCPW_ENOMEM;
    memset(s, 0, offsetof(tcpw_stack, pkt));
    s->cfg = *cfg;
    s->next_id = 1;
    *out = s;
    return TCPW_OK;
}

void tcpw_stack_free(tcpw_stack *s) {
    if (!s) return;
    while (s->all)
        conn_destroy(s->all);
    while (s->tw_head) {
        tcpw_tw *tw = s->tw_head;
        s->tw_head = tw->fifo_next;
        stack_free_mem(s, tw);
    }
    table_free(s, &s->conns);
    table_free(s, &s->tws);
    stack_free_mem(s, s->heap);
    stack_free_mem(s, s);
}

const tcpw_stats *tcpw_stack_stats(const tcpw_stack *s) {
    return &s->stats;
}

/* ---- the trace ------------------------------------------------------------------------------- */

static void trace_emit(tcpw_stack *s, tcpw_trace *t) {
    if (s->cfg.trace) s->cfg.trace(s->cfg.user, t);
}

/* Counts and traces one state change of the connection (or TIME_WAIT record) `id`. */
void trace_state_change(tcpw_stack *s, uint64_t id, const tcpw_endpoint *local,
                        const tcpw_endpoint *remote, tcpw_state from, tcpw_state to,
                        tcpw_cause cause, const char *what, const tcpw_seg *seg) {
    int idx = transition_find(from, to, cause);
    if (idx >= 0) s->stats.transitions[idx]++;
    if (!s->cfg.trace) return;
    tcpw_trace t = {.kind = TCPW_TRACE_STATE,
                    .now = s->now,
                    .conn_id = id,
                    .local = *local,
                    .remote = *remote,
                    .from = from,
                    .to = to,
                    .cause = cause,
                    .what = what,
                    .transition = idx};
    /* The cause is the segment as it arrived (s->arrived), not the copy the state machine
     * trimmed to the window on its way. */
    if (seg) t.seg = s->arrived;
    trace_emit(s, &t);
}

/* DESIGN §2: every state change of a control block goes through here, with its cause. */
void conn_set_state(tcpw_conn *c, tcpw_state to, tcpw_cause cause, const char *what,
                    const tcpw_seg *seg) {
    tcpw_state from = c->state;
    if (from == to) return;
    c->state = to;
    trace_state_change(c->stack, c->id, &c->local, &c->remote, from, to, cause, what, seg);
}

void stack_note(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote, uint64_t id,
                tcpw_state st, const char *text) {
    if (!s->cfg.trace) return;
    tcpw_trace t = {.kind = TCPW_TRACE_NOTE,
                    .now = s->now,
                    .conn_id = id,
                    .local = *local,
                    .remote = *remote,
                    .from = st,
                    .to = st,
                    .cause = TCPW_CAUSE_SEGMENT,
                    .what = text,
                    .transition = -1};
    trace_emit(s, &t);
}

void conn_note(tcpw_conn *c, const char *text) {
    stack_note(c->stack, &c->local, &c->remote, c->id, c->state, text);
}

/* ---- application events ---------------------------------------------------------------------- */

void conn_raise(tcpw_conn *c, uint32_t events) {
    if (!c->app_holds) return;
    c->events |= events;
    if (c->in_event_queue) return;
    tcpw_stack *s = c->stack;
    c->in_event_queue = true;
    c->event_next = NULL;
    if (s->event_tail)
        s->event_tail->event_next = c;
    else
        s->event_head = c;
    s->event_tail = c;
}

static void event_queue_remove(tcpw_conn *c) {
    if (!c->in_event_queue) return;
    tcpw_stack *s = c->stack;
    tcpw_conn **pp = &s->event_head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->event_next;
    }
    if (*pp) *pp = c->event_next;
    if (s->event_tail == c) s->event_tail = prev;
    c->in_event_queue = false;
    c->events = 0;
}

tcpw_conn *tcpw_poll_event(tcpw_stack *s, uint32_t *events) {
    while (s->event_head) {
        tcpw_conn *c = s->event_head;
        s->event_head = c->event_next;
        if (!s->event_head) s->event_tail = NULL;
        c->in_event_queue = false;
        uint32_t ev = c->events;
        c->events = 0;
        if (ev && c->app_holds) {
            if (events) *events = ev;
            return c;
        }
    }
    if (events) *events = 0;
    return NULL;
}

/* ---- control blocks ------------------------------------------------------------------------ */

tcpw_conn *conn_new(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote) {
    tcpw_conn *c = stack_alloc(s, sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->stack = s;
    c->id = s->next_id++;
    c->state = TCPW_CLOSED;
    if (local) c->local = *local;
    if (remote) c->remote = *remote;
    c->rto_at = c->delack_at = c->close_at = c->deadline = TCPW_NEVER;
    c->heap_idx = UINT32_MAX;
    c->rto_us = s->cfg.rto_initial_ms * 1000u;
    c->snd_mss = 536; /* RFC 9293 §3.7.1: the default when the peer sends no MSS option */
    c->all_next = s->all;
    if (s->all) s->all->all_prev = c;
    s->all = c;
    s->stats.conn_count++;
    return c;
}

/* Buffers are allocated when a connection is about to carry data (SYN sent or received). */
int conn_alloc_buffers(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    c->sndbuf.cap = s->cfg.send_buffer;
    c->rcvbuf.cap = s->cfg.recv_buffer;
    c->sndbuf.buf = stack_alloc(s, c->sndbuf.cap);
    c->rcvbuf.buf = stack_alloc(s, c->rcvbuf.cap);
    if (!c->sndbuf.buf || !c->rcvbuf.buf) return TCPW_ENOMEM;
    return TCPW_OK;
}

static void listener_unlink(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    for (tcpw_conn **pp = &s->listeners; *pp; pp = &(*pp)->hash_next)
        if (*pp == c) {
            *pp = c->hash_next;
            return;
        }
}

static void accept_queue_remove(tcpw_conn *l, tcpw_conn *c) {
    tcpw_conn *prev = NULL;
    for (tcpw_conn *x = l->accept_head; x; prev = x, x = x->accept_next)
        if (x == c) {
            if (prev)
                prev->accept_next = c->accept_next;
            else
                l->accept_head = c->accept_next;
            if (l->accept_tail == c) l->accept_tail = prev;
            return;
        }
}

/* Frees a control block and unlinks it from everything: no state change, no packet. */
void conn_destroy(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    /* A listener may already be CLOSED here (close_listener() records LISTEN -> CLOSED first);
     * only listeners have a backlog. */
    if (c->state == TCPW_LISTEN || c->backlog) {
        listener_unlink(c);
        for (tcpw_conn *x = s->all; x; x = x->all_next)
            if (x->listener == c) x->listener = NULL;
    } else {
        table_remove_conn(s, c);
    }
    if (c->listener) {
        accept_queue_remove(c->listener, c);
        c->listener->pending--;
        c->listener = NULL;
    }
    c->rto_at = c->delack_at = c->close_at = TCPW_NEVER;
    conn_update_deadline(c);
    event_queue_remove(c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        s->all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    stack_free_mem(s, c->sndbuf.buf);
    stack_free_mem(s, c->rcvbuf.buf);
    stack_free_mem(s, c);
    s->stats.conn_count--;
}

/* A control block nobody needs any more goes: CLOSED and no application handle, or in
 * TIME_WAIT with no handle (it becomes a compact record). */
void conn_reap(tcpw_conn *c) {
    if (c->app_holds) return;
    if (c->state == TCPW_TIME_WAIT) {
        if (tw_from_conn(c) == TCPW_OK) conn_destroy(c);
        return;
    }
    if (c->state == TCPW_CLOSED) conn_destroy(c);
}

/* Enter CLOSED at once (RST, abort, timeout): report `event` with `error` to the application. */
void conn_close_now(tcpw_conn *c, int error, uint32_t event, tcpw_cause cause, const char *what,
                    const tcpw_seg *seg) {
    /* entering TIME_WAIT already told the application the connection was over */
    uint32_t closed = c->state == TCPW_TIME_WAIT ? 0 : TCPW_EV_CLOSED;
    conn_timers_stop(c);
    table_remove_conn(c->stack, c);
    conn_set_state(c, TCPW_CLOSED, cause, what, seg);
    if (error && !c->error) c->error = error;
    conn_raise(c, event | closed);
}

/* RFC 9293 §3.10.7.4 step 8: TIME_WAIT starts (or restarts) the 2MSL timer and turns off the
 * others. */
void conn_enter_time_wait(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    c->rto_at = c->delack_at = TCPW_NEVER;
    c->close_at = s->now + 2ull * s->cfg.msl_ms * 1000u;
    conn_update_deadline(c);
}

/* ---- packets in ------------------------------------------------------------------------------ */

static void seg_from_packet(const tcpw_packet *p, tcpw_seg *seg) {
    seg->seq = p->seq;
    seg->ack = p->ack;
    seg->flags = p->flags & 0x3f;
    seg->wnd = p->win;
    seg->data = p->payload;
    seg->data_len = (uint32_t)p->payload_len;
    seg->len =
        seg->data_len + ((seg->flags & TCPW_SYN) ? 1 : 0) + ((seg->flags & TCPW_FIN) ? 1 : 0);
    seg->opts = p->opts;
}

/* RFC 9293 §3.10.7: demultiplex to the connection, TIME_WAIT record or listener the segment
 * belongs to; with none, the CLOSED rules of §3.10.7.1 apply. */
void tcpw_input(tcpw_stack *s, const uint8_t *pkt, size_t len, uint64_t now) {
    if (now > s->now) s->now = now;
    tcpw_packet p;
    int err = tcpw_parse(pkt, len, 0, &p);
    if (err != TCPW_WIRE_OK) {
        int idx = -err;
        if (idx > 0 && idx < (int)(sizeof s->stats.bad_packets / sizeof s->stats.bad_packets[0]))
            s->stats.bad_packets[idx]++;
        return;
    }
    s->stats.pkts_in++;
    tcpw_seg seg;
    seg_from_packet(&p, &seg);
    s->arrived = (tcpw_seg_summary){.flags = seg.flags,
                                    .seq = seg.seq,
                                    .ack = seg.ack,
                                    .len = seg.data_len,
                                    .win = (uint16_t)seg.wnd};
    if (seg.flags & TCPW_RST) s->stats.rst_received++;

    /* The connection is named from our side: local = destination, remote = source. */
    tcpw_conn *c = table_find_conn(s, &p.dst, &p.src);
    if (c) {
        conn_segment_arrives(c, &p, &seg);
        conn_reap(c);
        return;
    }
    tcpw_tw *tw = table_find_tw(s, &p.dst, &p.src);
    if (tw) {
        tw_segment_arrives(s, tw, &p, &seg);
        return;
    }
    tcpw_conn *l = listener_find(s, &p.dst);
    if (l) {
        listen_segment_arrives(l, &p, &seg);
        return;
    }
    send_rst_for(s, &p, &seg);
}

void tcpw_tick(tcpw_stack *s, uint64_t now) {
    if (now > s->now) s->now = now;
    timers_run(s, s->now);
    tw_expire_due(s, s->now);
}

uint64_t tcpw_next_deadline(const tcpw_stack *s) {
    uint64_t d = s->heap_len ? s->heap[0]->deadline : TCPW_NEVER;
    if (s->tw_head && s->tw_head->expire < d) d = s->tw_head->expire;
    return d;
}

/* ---- listing --------------------------------------------------------------------------------- */

uint32_t conn_rcv_wnd(const tcpw_conn *c) {
    return seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

int tcpw_status(const tcpw_conn *c, tcpw_conn_info *info) {
    if (!c || !info) return TCPW_EINVAL;
    memset(info, 0, sizeof *info);
    info->id = c->id;
    info->state = c->state;
    info->local = c->local;
    info->remote = c->remote;
    info->orphan = !c->app_holds;
    info->iss = c->iss;
    info->snd_una = c->snd_una;
    info->snd_nxt = c->snd_max;
    info->snd_wnd = c->snd_wnd;
    info->irs = c->irs;
    info->rcv_nxt = c->rcv_nxt;
    info->rcv_wnd = conn_rcv_wnd(c);
    info->send_queued = c->sndbuf.len;
    info->recv_queued = c->rcvbuf.len;
    info->srtt_us = c->srtt_us;
    info->rto_us = c->rto_us;
    info->cwnd = c->cwnd;
    info->snd_mss = c->snd_mss;
    info->deadline = c->deadline;
    return TCPW_OK;
}

size_t tcpw_list(const tcpw_stack *s, void (*fn)(void *arg, const tcpw_conn_info *info),
                 void *arg) {
    size_t n = 0;
    tcpw_conn_info info;
    for (const tcpw_conn *c = s->all; c; c = c->all_next, n++) {
        if (!fn) continue;
        tcpw_status(c, &info);
        fn(arg, &info);
    }
    for (const tcpw_tw *tw = s->tw_head; tw; tw = tw->fifo_next, n++) {
        if (!fn) continue;
        tw_info(tw, &info);
        fn(arg, &info);
    }
    return n;
}

void tcpw_set_userdata(tcpw_conn *c, void *data) {
    c->userdata = data;
}
void *tcpw_userdata(const tcpw_conn *c) {
    return c->userdata;
}
