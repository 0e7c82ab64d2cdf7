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

/* ---- pools: what a connection allocates is reused, not freed ---------------------------------
 *
 * A connection takes a control block and two buffers (send and receive) and gives them back
 * when it ends. Freed ones wait on per-stack free lists (linked through their first bytes)
 * for the next connection, up to POOL_KEEP of each kind; tcpw_stack_free() frees them. */
#define POOL_KEEP 32

static void *pool_get(tcpw_stack *s, tcpw_pool *pool, size_t size) {
    void *p = pool->head;
    if (!p) return stack_alloc(s, size);
    memcpy(&pool->head, p, sizeof pool->head);
    pool->count--;
    return p;
}

static void pool_put(tcpw_stack *s, tcpw_pool *pool, void *p) {
    if (!p) return;
    if (pool->count >= POOL_KEEP) {
        stack_free_mem(s, p);
        return;
    }
    memcpy(p, &pool->head, sizeof pool->head);
    pool->head = p;
    pool->count++;
}

static void pool_free(tcpw_stack *s, tcpw_pool *pool) {
    while (pool->head)
        stack_free_mem(s, pool_get(s, pool, 0));
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
    tw_stores_init(s);
    *out = s;
    return TCPW_OK;
}

void tcpw_stack_free(tcpw_stack *s) {
    if (!s) return;
    while (s->all)
        conn_destroy(s->all);
    tw_stores_free(s);
    pool_free(s, &s->pool_conns);
    pool_free(s, &s->pool_sndbufs);
    pool_free(s, &s->pool_rcvbufs);
    table_free(s, &s->conns);
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

/* The trace of one state change: out of line, so that the usual case (no trace callback) is
 * a lookup and an increment with no frame for the trace record. */
TCPW_NOINLINE static void trace_state_emit(tcpw_stack *s, uint64_t id, const tcpw_endpoint *local,
                                           const tcpw_endpoint *remote, tcpw_state from,
                                           tcpw_state to, tcpw_cause cause, const char *what,
                                           const tcpw_seg *seg, int idx) {
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

/* Counts and traces one state change of the connection (or TIME_WAIT record) `id`. The
 * endpoints are read only when there is a trace callback (may be NULL when there is none). */
void trace_state_change(tcpw_stack *s, uint64_t id, const tcpw_endpoint *local,
                        const tcpw_endpoint *remote, tcpw_state from, tcpw_state to,
                        tcpw_cause cause, const char *what, const tcpw_seg *seg) {
    int idx = transition_find(from, to, cause);
    if (idx >= 0) s->stats.transitions[idx]++;
    if (s->cfg.trace) trace_state_emit(s, id, local, remote, from, to, cause, what, seg, idx);
}

/* The trace of a control block's state change (conn_set_state, tcb.h, with a trace callback):
 * c->state is `to` already. */
void conn_trace_state(tcpw_conn *c, tcpw_state from, tcpw_cause cause, const char *what,
                      const tcpw_seg *seg, int idx) {
    trace_state_emit(c->stack, c->id, &c->local, &c->remote, from, c->state, cause, what, seg, idx);
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

/* conn_raise (tcb.h): the connection joins the end of the stack's event queue. */
void conn_raise_queue(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    c->in_event_queue = true;
    c->event_next = NULL;
    if (s->event_tail)
        s->event_tail->event_next = c;
    else
        s->event_head = c;
    s->event_tail = c;
}

static void ack_queue_remove(tcpw_conn *c) {
    if (!c->in_ack_queue) return;
    for (tcpw_conn **pp = &c->stack->ack_queue; *pp; pp = &(*pp)->ack_next)
        if (*pp == c) {
            *pp = c->ack_next;
            break;
        }
    c->in_ack_queue = false;
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

/* Out of line, so that the usual empty answer of tcpw_poll_event() saves no registers. */
static TCPW_NOINLINE tcpw_conn *poll_event_any(tcpw_stack *s, uint32_t *events) {
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
    /* The application has handled every event: its turn is over. */
    if (s->ack_queue) stack_flush_acks(s);
    if (events) *events = 0;
    return NULL;
}

tcpw_conn *tcpw_poll_event(tcpw_stack *s, uint32_t *events) {
    /* the usual answer of an application's last poll: no event, no deferred ACK (both
     * pointers tested with one branch) */
    if (!((uintptr_t)s->event_head | (uintptr_t)s->ack_queue)) {
        if (events) *events = 0;
        return NULL;
    }
    return poll_event_any(s, events);
}

/* ---- control blocks ------------------------------------------------------------------------ */

tcpw_conn *conn_new(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote) {
    tcpw_conn *c = pool_get(s, &s->pool_conns, sizeof *c);
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

/* The send sequence space of a new connection (RFC 9293 §3.4): nothing sent yet, the data
 * starts after the SYN; both active and passive opens start here. */
void conn_start_sequence(tcpw_conn *c, uint32_t iss, uint32_t ts_offset) {
    c->iss = iss;
    c->snd_una = c->snd_nxt = c->snd_max = iss;
    c->buf_seq = iss + 1;
    c->ts_offset = ts_offset;
}

/* Buffers are allocated when a connection is about to carry data (SYN sent or received). */
int conn_alloc_buffers(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    c->sndbuf.cap = s->cfg.send_buffer;
    c->rcvbuf.cap = s->cfg.recv_buffer;
    c->sndbuf.buf = pool_get(s, &s->pool_sndbufs, c->sndbuf.cap);
    c->rcvbuf.buf = pool_get(s, &s->pool_rcvbufs, c->rcvbuf.cap);
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
    conn_timers_detach(c);
    if (s->last_conn == c) s->last_conn = NULL;
    event_queue_remove(c);
    ack_queue_remove(c);
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        s->all = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    pool_put(s, &s->pool_sndbufs, c->sndbuf.buf);
    pool_put(s, &s->pool_rcvbufs, c->rcvbuf.buf);
    pool_put(s, &s->pool_conns, c);
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
    c->ack_deferred = false;
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
    seg->in_rcvbuf = false;
    /* SEG.LEN counts SYN and FIN (TCPW_SYN is bit 1, TCPW_FIN bit 0) */
    seg->len = seg->data_len + (seg->flags >> 1 & 1u) + (seg->flags & 1u);
    seg->opts = p->opts;
}

/* RFC 9293 §3.10.7: demultiplex to the connection, TIME_WAIT record or listener the segment
 * belongs to; with none, the CLOSED rules of §3.10.7.1 apply. */
static void count_bad_packet(tcpw_stack *s, int err) {
    int idx = -err;
    if (idx > 0 && idx < (int)(sizeof s->stats.bad_packets / sizeof s->stats.bad_packets[0]))
        s->stats.bad_packets[idx]++;
}

/* Both addresses of a parsed packet (family 4 or 6) against a connection's, without a call. */
static inline bool same_addrs(const tcpw_conn *c, const tcpw_packet *p) {
    if (c->local.addr.family != p->dst.addr.family) return false;
    if (p->dst.addr.family == 4) {
        uint32_t l, d, r, src;
        memcpy(&l, c->local.addr.ip, 4);
        memcpy(&d, p->dst.addr.ip, 4);
        memcpy(&r, c->remote.addr.ip, 4);
        memcpy(&src, p->src.addr.ip, 4);
        return l == d && r == src;
    }
    return memcmp(c->local.addr.ip, p->dst.addr.ip, 16) == 0 &&
           memcmp(c->remote.addr.ip, p->src.addr.ip, 16) == 0;
}

/* The connection a segment is for: most segments are for the same one as the last. */
static tcpw_conn *conn_for(tcpw_stack *s, const tcpw_packet *p) {
    tcpw_conn *c = s->last_conn;
    /* a connection in the table is never CLOSED (conn_close_now takes it out); one freed is
     * never here (conn_destroy) */
    if (c && c->state != TCPW_CLOSED && c->local.port == p->dst.port &&
        c->remote.port == p->src.port && same_addrs(c, p))
        return c;
    c = table_find_conn(s, &p->dst, &p->src);
    if (c) s->last_conn = c;
    return c;
}

/* In-order data for an open connection with room for it goes straight into the receive buffer,
 * after the bytes already there, as its checksum is summed: one pass over the payload. It is
 * provisional: the buffer's length moves only if the segment is accepted (text_and_fin). Not
 * when out-of-order ranges are held beyond the in-order bytes: a corrupt payload must never
 * overwrite them. */
static inline bool payload_fits_in_place(const tcpw_conn *c, const tcpw_seg *seg) {
    return (c->state == TCPW_ESTABLISHED || c->state == TCPW_FIN_WAIT_1 ||
            c->state == TCPW_FIN_WAIT_2) &&
           !(seg->flags & (TCPW_SYN | TCPW_RST)) && seg->seq == c->rcv_nxt && !c->rst_on_data &&
           asm_empty(&c->ooo) && seg->data_len <= ring_free(&c->rcvbuf);
}

/* RFC 9293 §3.1: the checksum covers the payload too; nothing happens before it holds. `sum`
 * is the raw sum of the pseudo-header and the TCP header; the payload's is added here (while
 * it is copied into c's receive buffer, when it fits there in order). */
static TCPW_ALWAYS_INLINE bool payload_verifies(tcpw_stack *s, tcpw_conn *c, tcpw_seg *seg,
                                                uint64_t sum) {
    if (seg->data_len && c && payload_fits_in_place(c, seg)) {
        sum = ring_put_csum(&c->rcvbuf, c->rcvbuf.len, seg->data, seg->data_len, sum);
        seg->in_rcvbuf = true;
    } else if (seg->data_len) {
        sum = tcpw_csum_acc(sum, seg->data, seg->data_len);
    }
    if (!tcpw_csum_verifies(sum)) {
        count_bad_packet(s, TCPW_WIRE_TCP_CHECKSUM);
        return false;
    }
    s->stats.pkts_in++;
    if (s->cfg.trace) /* only the trace shows it (trace_state_change) */
        s->arrived = (tcpw_seg_summary){.flags = seg->flags,
                                        .seq = seg->seq,
                                        .ack = seg->ack,
                                        .len = seg->data_len,
                                        .win = (uint16_t)seg->wnd};
    if (seg->flags & TCPW_RST) s->stats.rst_received++;
    return true;
}

/* ---- the usual segment, read without tcpw_parse() ---------------------------------------------
 *
 * Nearly every segment is IPv4 without IP options, whole (no fragment), with no TCP options
 * or the NOP NOP TS of every segment of a connection with timestamps (RFC 7323 Appendix A),
 * for a connection in the table. Such a packet is read here field by field into the segment,
 * with no tcpw_packet in between. It is checked for exactly what tcpw_parse() checks of this
 * layout, so a packet either parser accepts is the same segment for both. Anything else —
 * another layout, a check that fails, no connection — goes to tcpw_parse(), which reads it
 * again and names what is wrong with it. */

static inline uint32_t load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* An IPv4 address as loaded from a packet (network order in memory) as a number. */
static inline uint32_t addr_number(uint32_t loaded) {
    uint8_t b[4];
    memcpy(b, &loaded, 4);
    return tcpw_get32(b);
}

/* The control block for an IPv4 4-tuple (addresses in network order as loaded from the
 * packet, ports in host order): the last one, or the table's. NULL also when either address
 * is one TCP ignores (RFC 9293 §3.10.7.1, RFC 1122 §4.2.3.10 and §3.2.1.3 (a)): the caller
 * then leaves the packet to tcpw_parse(), which counts it. The last connection needs no such
 * test: it became the last (here or in conn_for) only for a packet whose addresses, the
 * same as these, passed it — tcpw_parse() checks them too. */
static tcpw_conn *conn_for_v4(tcpw_stack *s, uint32_t src, uint32_t dst, uint16_t sport,
                              uint16_t dport) {
    tcpw_conn *c = s->last_conn;
    if (c && c->state != TCPW_CLOSED && c->local.port == dport && c->remote.port == sport &&
        c->local.addr.family == 4 && load32(c->local.addr.ip) == dst &&
        load32(c->remote.addr.ip) == src)
        return c;
    if (tcpw_ipv4_is_bad(addr_number(src)) || tcpw_ipv4_is_bad(addr_number(dst))) return NULL;
    tcpw_endpoint local = {.addr = {.family = 4}, .port = dport};
    tcpw_endpoint remote = {.addr = {.family = 4}, .port = sport};
    memcpy(local.addr.ip, &dst, 4);
    memcpy(remote.addr.ip, &src, 4);
    c = table_find_conn(s, &local, &remote);
    if (c) s->last_conn = c;
    return c;
}

/* Reads the usual segment at pkt into *seg and finds its connection; *sum is the raw sum of
 * its pseudo-header and TCP header (TCPW_PARSE_PAYLOAD_SUM). NULL: not the usual segment. */
static tcpw_conn *parse_usual(tcpw_stack *s, const uint8_t *pkt, size_t len, tcpw_seg *seg,
                              uint64_t *sum) {
    /* RFC 791 §3.1: version 4 with IHL 5, the total length the buffer's, neither More
     * Fragments nor a fragment offset, protocol TCP (RFC 9293 §3.1). */
    if (len < 40 || pkt[0] != 0x45 || tcpw_get16(pkt + 2) != len ||
        (tcpw_get16(pkt + 6) & 0x3fff) || pkt[9] != 6)
        return NULL;
    /* RFC 791 §3.1 / RFC 1071: the header checksum, as five 32-bit words (host order: the
     * sum of byte-swapped words is the byte-swapped sum, RFC 1071 §2 (B)). */
    uint32_t src = load32(pkt + 12), dst = load32(pkt + 16);
    uint64_t addrs = (uint64_t)src + dst;
    if (!tcpw_csum_verifies((uint64_t)load32(pkt) + load32(pkt + 4) + load32(pkt + 8) + addrs))
        return NULL;
    /* RFC 9293 §3.10.7.1: the addresses TCP ignores are tested in conn_for_v4(). */

    /* RFC 9293 §3.1: data offset 5, or 8 with NOP NOP TS (RFC 7323 §3.2, Appendix A). */
    const uint8_t *t = pkt + 20;
    uint32_t tcp_len = (uint32_t)len - 20, doff = (uint32_t)(t[12] >> 4) * 4;
    uint64_t hsum =
        (uint64_t)load32(t) + load32(t + 4) + load32(t + 8) + load32(t + 12) + load32(t + 16);
    memset(&seg->opts, 0, sizeof seg->opts);
    if (doff == 32 && tcp_len >= 32 && tcpw_get32(t + 20) == 0x0101080au) {
        hsum += (uint64_t)load32(t + 20) + load32(t + 24) + load32(t + 28);
        seg->opts.has_ts = true;
        seg->opts.tsval = tcpw_get32(t + 24);
        seg->opts.tsecr = tcpw_get32(t + 28);
    } else if (doff != 20) {
        return NULL;
    }
    tcpw_conn *c = conn_for_v4(s, src, dst, tcpw_get16(t), tcpw_get16(t + 2));
    if (!c) return NULL;

    seg->seq = tcpw_get32(t + 4);
    seg->ack = tcpw_get32(t + 8);
    seg->flags = t[13] & 0x3f;
    seg->wnd = tcpw_get16(t + 14);
    seg->data = t + doff;
    seg->data_len = tcp_len - doff;
    seg->in_rcvbuf = false;
    seg->len = seg->data_len + (seg->flags >> 1 & 1u) + (seg->flags & 1u);
    /* RFC 9293 §3.1: the pseudo-header (addresses, zero, PTCL, TCP length) and the header */
    *sum = tcpw_csum_num(6u + tcp_len) + addrs + hsum;
    return c;
}

/* Any packet but the usual segment of a known connection: read whole by tcpw_parse(), then
 * for a connection, a TIME_WAIT record, a listener, or no one (RFC 9293 §3.10.7.1). Out of
 * line: the usual segment's way in saves no registers for it. */
static TCPW_NOINLINE void input_general(tcpw_stack *s, const uint8_t *pkt, size_t len) {
    tcpw_packet p;
    int err = tcpw_parse(pkt, len, TCPW_PARSE_PAYLOAD_SUM, &p);
    if (err != TCPW_WIRE_OK) {
        count_bad_packet(s, err);
        return;
    }
    /* The connection is named from our side: local = destination, remote = source. */
    tcpw_conn *c = conn_for(s, &p);
    tcpw_seg seg;
    seg_from_packet(&p, &seg);
    if (!payload_verifies(s, c, &seg, p.hdr_sum)) return;

    if (c) {
        conn_segment_arrives(c, &seg);
        conn_reap(c);
        return;
    }
    tw_ref tw;
    if (table_find_tw(s, &p.dst, &p.src, &tw)) {
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

void tcpw_input(tcpw_stack *s, const uint8_t *pkt, size_t len, uint64_t now) {
    if (now > s->now) s->now = now;
    tcpw_seg seg;
    uint64_t sum;
    tcpw_conn *c = parse_usual(s, pkt, len, &seg, &sum);
    if (!c) {
        input_general(s, pkt, len);
        return;
    }
    if (!payload_verifies(s, c, &seg, sum)) return;
    conn_segment_arrives(c, &seg);
    conn_reap(c);
}

void tcpw_tick(tcpw_stack *s, uint64_t now) {
    if (now > s->now) s->now = now;
    if (s->ack_queue && s->ack_due <= s->now) stack_flush_acks(s); /* nobody polled */
    timers_run(s, s->now);
    tw_expire_due(s, s->now);
}

uint64_t tcpw_next_deadline(const tcpw_stack *cs) {
    /* Re-keying stale heap entries (timer.c) changes nothing anyone can observe; the stack
     * itself is never a const object. */
    tcpw_stack *s = (tcpw_stack *)cs;
    uint64_t d = TCPW_NEVER;
    /* a top keyed TCPW_NEVER: no timer is armed (keys are never later than the deadlines) */
    if (s->heap_len && s->heap[0]->deadline != TCPW_NEVER) {
        tcpw_conn *top = s->heap[0];
        uint64_t t = conn_next_timer(top);
        if (t != top->deadline) {
            if (s->heap_len == 1)
                top->deadline = t; /* a lone entry is re-keyed in place (timers_settle) */
            else
                timers_settle(s);
        }
        d = s->heap[0]->deadline;
    }
    if (s->ack_queue && s->ack_due < d) d = s->ack_due;
    uint64_t tw = tw_next_expire(s);
    if (tw < d) d = tw;
    return d;
}

/* ---- listing --------------------------------------------------------------------------------- */

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
    info->deadline = conn_next_timer(c);
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
    return n + tw_list(s, fn, arg);
}

void tcpw_set_userdata(tcpw_conn *c, void *data) {
    c->userdata = data;
}
void *tcpw_userdata(const tcpw_conn *c) {
    return c->userdata;
}
