/* tun_trace.c — per-connection recordings of a live TUN run, drawn when each connection is
 * over (see tun_trace.h).
 */
#include "tun/tun_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "util/addr.h"
#include "view/trace_rec.h"

#define TAIL_MAX 16
#define PEND_MAX 8

typedef struct tt_conn {
    struct tt_conn *next;
    uint64_t number;
    tcpw_endpoint eng, peer; /* tcpwave's and the kernel's endpoints */
    int eng_side;
    tcpw_recording rec;
    bool eng_known; /* tcpwave has had a state on this connection */
    tcpw_state eng_state;
    bool rst_seen;
    bool fin_sent[2]; /* side i sent a FIN, ending at fin_end[i] (its seq + 1) */
    uint32_t fin_end[2];
    bool fin_ack_kept[2]; /* the first acknowledgment of side i's FIN is in the picture */
    uint64_t last_t;
    unsigned segs_kept;
    /* brief mode: the run of events being left out */
    uint64_t gap_segs, gap_bytes, gap_other;
    uint64_t gap_t;
    tcpw_rec_event tail[TAIL_MAX];
    unsigned tail_len, tail_pos;
    bool oom;
    /* the kernel's side, inferred from its segments and from what reached it */
    tcpw_state k_state;
    bool k_isn_known, k_got_fin, k_fin_acked;
    uint32_t k_isn;
    bool t_syn_seen; /* tcpwave's SYN reached the kernel, at t_syn_at */
    uint64_t t_syn_at;
    uint64_t t_seq_at;             /* when tcpwave's last segment carrying sequence space did */
    uint64_t last_rel;             /* time of the last event in the recording */
    tcpw_seg_summary t_syn, t_fin; /* tcpwave's SYN and FIN as the kernel received them */
    tcpw_rec_event pend[PEND_MAX]; /* inferred changes waiting for their time, by time */
    unsigned npend;
    struct k_arrival *karr; /* tcpwave's segments on their way to the kernel, by arrival */
    size_t nkarr, capkarr;
} tt_conn;

typedef struct k_arrival {
    uint64_t t; /* when it reaches the kernel (relative time) */
    tcpw_seg_summary seg;
} k_arrival;

struct tcpw_tun_trace {
    tcpw_tun_trace_config cfg;
    tt_conn *conns;
    uint64_t count;
};

void tcpw_tun_trace_config_default(tcpw_tun_trace_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = TCPW_TUN_TRACE_BRIEF;
    cfg->quiet_us = 500000;
    cfg->brief_head = 8;
    cfg->brief_tail = 4;
    cfg->engine_name = "tcpwave";
    cfg->peer_name = "kernel";
}

tcpw_tun_trace *tcpw_tun_trace_new(const tcpw_tun_trace_config *cfg) {
    tcpw_tun_trace *tt = calloc(1, sizeof *tt);
    if (!tt) return NULL;
    tt->cfg = *cfg;
    if (tt->cfg.brief_tail > TAIL_MAX) tt->cfg.brief_tail = TAIL_MAX;
    if (!tt->cfg.engine_name) tt->cfg.engine_name = "tcpwave";
    if (!tt->cfg.peer_name) tt->cfg.peer_name = "kernel";
    return tt;
}

/* ---- connections ----------------------------------------------------------------------------- */

static tt_conn *conn_find(tcpw_tun_trace *tt, const tcpw_endpoint *eng, const tcpw_endpoint *peer) {
    for (tt_conn *c = tt->conns; c; c = c->next)
        if (tcpw_endpoint_equal(&c->eng, eng) && tcpw_endpoint_equal(&c->peer, peer)) return c;
    return NULL;
}

static tt_conn *conn_add(tcpw_tun_trace *tt, const tcpw_endpoint *eng, const tcpw_endpoint *peer,
                         bool engine_is_client, uint64_t t) {
    tt_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->number = ++tt->count;
    c->eng = *eng;
    c->peer = *peer;
    c->eng_side = engine_is_client ? 0 : 1;
    const char *n0 = engine_is_client ? tt->cfg.engine_name : tt->cfg.peer_name;
    const char *n1 = engine_is_client ? tt->cfg.peer_name : tt->cfg.engine_name;
    tcpw_rec_init(&c->rec, n0, n1);
    c->rec.ep[c->eng_side] = *eng;
    c->rec.ep[1 - c->eng_side] = *peer;
    c->last_t = t;
    /* appended at the end: connections are drawn in the order they started */
    tt_conn **pp = &tt->conns;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    return c;
}

static void add_event(tt_conn *c, const tcpw_rec_event *e) {
    if (!tcpw_rec_add(&c->rec, e)) c->oom = true;
    if (e->t_us > c->last_rel) c->last_rel = e->t_us;
}

/* Ends a run of left-out events: the note that says how many, then the last few of them. */
static void close_gap(tt_conn *c) {
    if (!c->gap_segs && !c->gap_other) return;
    unsigned shown = c->tail_len;
    uint64_t segs = c->gap_segs, other = c->gap_other;
    for (unsigned i = 0; i < shown; i++) {
        const tcpw_rec_event *e = &c->tail[(c->tail_pos + TAIL_MAX - shown + i) % TAIL_MAX];
        if (e->kind == TCPW_REC_SEG)
            segs--;
        else
            other--;
    }
    if (segs || other) {
        tcpw_rec_event n;
        memset(&n, 0, sizeof n);
        n.kind = TCPW_REC_NOTE;
        n.t_us = c->gap_t;
        n.side = c->eng_side;
        n.peer = 1 - c->eng_side;
        n.from = n.to = c->eng_known ? c->eng_state : TCPW_ESTABLISHED;
        char other_s[40] = "";
        if (other)
            snprintf(other_s, sizeof other_s, " and %llu other events", (unsigned long long)other);
        char data_s[48] = "no data";
        if (c->gap_bytes)
            snprintf(data_s, sizeof data_s, "%.1f KiB of data", (double)c->gap_bytes / 1024.0);
        char text[200];
        snprintf(text, sizeof text, "... %llu segments (%s)%s not shown ...",
                 (unsigned long long)segs, data_s, other_s);
        snprintf(n.what, sizeof n.what, "%.95s", text);
        add_event(c, &n);
    }
    for (unsigned i = 0; i < shown; i++)
        add_event(c, &c->tail[(c->tail_pos + TAIL_MAX - shown + i) % TAIL_MAX]);
    c->gap_segs = c->gap_bytes = c->gap_other = 0;
    c->tail_len = 0;
}

/* Brief mode: whether e belongs to the middle of a transfer (and may be left out). The close
 * is always shown: every FIN, the first acknowledgment of each FIN, and everything once both
 * sides have sent theirs. */
static bool elidable(const tcpw_tun_trace *tt, tt_conn *c, const tcpw_rec_event *e) {
    if (tt->cfg.mode != TCPW_TUN_TRACE_BRIEF || c->rst_seen || (c->fin_sent[0] && c->fin_sent[1]))
        return false;
    switch (e->kind) {
    case TCPW_REC_SEG: {
        if (e->flags & (TCPW_SYN | TCPW_FIN | TCPW_RST)) return false;
        int other = e->peer;
        if (other >= 0 && other < 2 && c->fin_sent[other] && !c->fin_ack_kept[other] &&
            (e->flags & TCPW_ACK) && (int32_t)(e->ack - c->fin_end[other]) >= 0) {
            c->fin_ack_kept[other] = true;
            return false;
        }
        return c->segs_kept >= tt->cfg.brief_head;
    }
    case TCPW_REC_NOTE: return c->segs_kept >= tt->cfg.brief_head;
    case TCPW_REC_APP: return e->app == TCPW_APP_DATA && c->segs_kept >= tt->cfg.brief_head;
    case TCPW_REC_STATE: return false;
    }
    return false;
}

/* Moves the inferred changes due by `upto` (relative time) into the recording. */
static void flush_pending(tt_conn *c, uint64_t upto) {
    while (c->npend && c->pend[0].t_us <= upto) {
        close_gap(c);
        tcpw_rec_event e = c->pend[0];
        if (e.t_us < c->last_rel) e.t_us = c->last_rel; /* after what the gap put in */
        add_event(c, &e);
        c->npend--;
        memmove(c->pend, c->pend + 1, c->npend * sizeof c->pend[0]);
    }
}

static void record(tcpw_tun_trace *tt, tt_conn *c, const tcpw_rec_event *e) {
    flush_pending(c, e->t_us);
    c->last_t = e->t_us + tt->cfg.t0;
    if (e->kind == TCPW_REC_SEG && e->arrive_us && e->arrive_us + tt->cfg.t0 > c->last_t)
        c->last_t = e->arrive_us + tt->cfg.t0;
    if (elidable(tt, c, e)) {
        if (!c->gap_segs && !c->gap_other) c->gap_t = e->t_us;
        if (e->kind == TCPW_REC_SEG) {
            c->gap_segs++;
            c->gap_bytes += e->len;
        } else {
            c->gap_other++;
        }
        if (tt->cfg.brief_tail) {
            c->tail[c->tail_pos] = *e;
            c->tail_pos = (c->tail_pos + 1) % TAIL_MAX;
            if (c->tail_len < tt->cfg.brief_tail) c->tail_len++;
        }
        return;
    }
    close_gap(c);
    if (e->kind == TCPW_REC_SEG) c->segs_kept++;
    add_event(c, e);
}

static bool conn_over(const tt_conn *c) {
    if (c->eng_known) return c->eng_state == TCPW_CLOSED || c->eng_state == TCPW_TIME_WAIT;
    return c->rst_seen;
}

static void k_drain(tt_conn *c, uint64_t upto);

static void draw(tcpw_tun_trace *tt, tt_conn *c) {
    k_drain(c, UINT64_MAX);
    flush_pending(c, UINT64_MAX);
    close_gap(c);
    char e0[TCPW_EPSTRLEN], e1[TCPW_EPSTRLEN], title[200];
    tcpw_endpoint_format(&c->rec.ep[0], e0, sizeof e0);
    tcpw_endpoint_format(&c->rec.ep[1], e1, sizeof e1);
    snprintf(title, sizeof title, "connection %llu: %s %s -> %s %s%s",
             (unsigned long long)c->number, c->rec.names[0], e0, c->rec.names[1], e1,
             c->oom ? " (out of memory: events missing)" : "");
    if (tt->cfg.draw) tt->cfg.draw(tt->cfg.user, &c->rec, title);
}

static void conn_free(tt_conn *c) {
    tcpw_rec_free(&c->rec);
    free(c->karr);
    free(c);
}

/* Draws and forgets one connection. */
static void conn_retire(tcpw_tun_trace *tt, tt_conn *c) {
    tt_conn **pp = &tt->conns;
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    draw(tt, c);
    conn_free(c);
}

void tcpw_tun_trace_flush(tcpw_tun_trace *tt, uint64_t now, bool all) {
    if (!tt) return;
    tt_conn **pp = &tt->conns;
    while (*pp) {
        tt_conn *c = *pp;
        if (all || (conn_over(c) && now >= c->last_t + tt->cfg.quiet_us)) {
            *pp = c->next;
            draw(tt, c);
            conn_free(c);
        } else {
            pp = &c->next;
        }
    }
}

uint64_t tcpw_tun_trace_deadline(const tcpw_tun_trace *tt) {
    uint64_t d = UINT64_MAX;
    for (const tt_conn *c = tt ? tt->conns : NULL; c; c = c->next)
        if (conn_over(c) && c->last_t + tt->cfg.quiet_us < d) d = c->last_t + tt->cfg.quiet_us;
    return d;
}

uint64_t tcpw_tun_trace_count(const tcpw_tun_trace *tt) {
    return tt ? tt->count : 0;
}

void tcpw_tun_trace_free(tcpw_tun_trace *tt) {
    if (!tt) return;
    tcpw_tun_trace_flush(tt, 0, true);
    free(tt);
}

/* ---- the kernel's states ----------------------------------------------------------------------
 *
 * The kernel's state is not observed, but it follows from RFC 9293 (and Linux keeps to it)
 * and from facts the driver knows exactly: every segment the kernel sent, and every segment
 * of tcpwave's that reached the kernel, with the time it did. Those changes are recorded as
 * inferred (the view marks them so):
 *   the kernel sends SYN: CLOSED -> SYN_SENT (connect());  sends SYN+ACK: LISTEN -> SYN_RCVD
 *   (when tcpwave's SYN reached it); tcpwave's SYN+ACK / ACK of its SYN reaches it:
 *   -> ESTABLISHED; it sends its FIN: ESTABLISHED -> FIN_WAIT_1 or CLOSE_WAIT -> LAST_ACK
 *   (close()); an ACK of that FIN reaches it: FIN_WAIT_1 -> FIN_WAIT_2, CLOSING -> TIME_WAIT,
 *   LAST_ACK -> CLOSED; its first acknowledgment of tcpwave's FIN shows it took the FIN:
 *   ESTABLISHED -> CLOSE_WAIT, FIN_WAIT_1 -> CLOSING, FIN_WAIT_2 -> TIME_WAIT (as Linux's
 *   tcp_rcv_state_process does, a FIN+ACK in FIN_WAIT_1 passes FIN_WAIT_2 on the way); a RST
 *   it sends or that reaches it: -> CLOSED. The end of its TIME_WAIT (60 s) is not seen. */

static void summary_of(const tcpw_packet *p, tcpw_seg_summary *out) {
    memset(out, 0, sizeof *out);
    out->flags = p->flags;
    out->seq = p->seq;
    out->ack = p->ack;
    out->len = (uint32_t)p->payload_len;
    out->win = p->win;
}

static void pend_add(tt_conn *c, const tcpw_rec_event *e) {
    if (c->npend == PEND_MAX) flush_pending(c, c->pend[0].t_us);
    unsigned i = c->npend++;
    uint64_t t = e->t_us < c->last_rel ? c->last_rel : e->t_us; /* time never runs back */
    while (i > 0 && c->pend[i - 1].t_us > t) {
        c->pend[i] = c->pend[i - 1];
        i--;
    }
    c->pend[i] = *e;
    c->pend[i].t_us = t;
}

static void k_change(tt_conn *c, tcpw_state to, uint64_t t_rel, const tcpw_seg_summary *cause,
                     const char *what) {
    if (c->k_state == to) return;
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_STATE;
    e.t_us = t_rel;
    e.side = 1 - c->eng_side;
    e.peer = c->eng_side;
    e.from = c->k_state;
    e.to = to;
    e.cause = cause ? TCPW_CAUSE_SEGMENT : TCPW_CAUSE_USER;
    if (cause) e.cause_seg = *cause;
    snprintf(e.what, sizeof e.what, "%s", what ? what : "");
    e.inferred = true;
    pend_add(c, &e);
    c->k_state = to;
}

static bool seq_ge32(uint32_t a, uint32_t b) {
    return (int32_t)(a - b) >= 0;
}

/* A segment the kernel sent (observed leaving it at t). */
static void k_sent(tt_conn *c, const tcpw_packet *p, uint64_t t) {
    int ks = 1 - c->eng_side, es = c->eng_side;
    if (p->flags & TCPW_RST) {
        if (c->k_state != TCPW_LISTEN) k_change(c, TCPW_CLOSED, t, NULL, "abort() (RST)");
        return;
    }
    if ((p->flags & TCPW_SYN) && !c->k_isn_known) {
        c->k_isn = p->seq;
        c->k_isn_known = true;
    }
    if ((p->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN && c->k_state == TCPW_CLOSED)
        k_change(c, TCPW_SYN_SENT, t, NULL, "connect()");
    if ((p->flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK) && c->t_syn_seen &&
        (c->k_state == TCPW_CLOSED || c->k_state == TCPW_LISTEN)) {
        c->k_state = TCPW_LISTEN;
        k_change(c, TCPW_SYN_RCVD, c->t_syn_at, &c->t_syn, NULL);
    }
    /* its first acknowledgment of tcpwave's FIN: it took the FIN — when the FIN, or the
     * retransmission that filled the last hole before it, arrived (the ACK itself may have
     * been delayed) */
    if ((p->flags & TCPW_ACK) && c->fin_sent[es] && !c->k_got_fin &&
        seq_ge32(p->ack, c->fin_end[es])) {
        uint64_t tf = c->t_seq_at && c->t_seq_at < t ? c->t_seq_at : t;
        c->k_got_fin = true;
        switch (c->k_state) {
        case TCPW_SYN_RCVD:
        case TCPW_ESTABLISHED: k_change(c, TCPW_CLOSE_WAIT, tf, &c->t_fin, NULL); break;
        case TCPW_FIN_WAIT_1: k_change(c, TCPW_CLOSING, tf, &c->t_fin, NULL); break;
        case TCPW_FIN_WAIT_2: k_change(c, TCPW_TIME_WAIT, tf, &c->t_fin, NULL); break;
        default: break;
        }
    }
    if ((p->flags & TCPW_FIN) && !c->fin_sent[ks]) {
        if (c->k_state == TCPW_ESTABLISHED || c->k_state == TCPW_SYN_RCVD)
            k_change(c, TCPW_FIN_WAIT_1, t, NULL, "close()");
        else if (c->k_state == TCPW_CLOSE_WAIT)
            k_change(c, TCPW_LAST_ACK, t, NULL, "close()");
    }
}

/* A segment of tcpwave's that reached the kernel at t. */
static void k_received(tt_conn *c, const tcpw_seg_summary *p, uint64_t t) {
    int ks = 1 - c->eng_side;
    tcpw_seg_summary sum = *p;
    if (p->flags & TCPW_RST) {
        if (c->k_state != TCPW_CLOSED && c->k_state != TCPW_LISTEN)
            k_change(c, TCPW_CLOSED, t, &sum, NULL);
        return;
    }
    if ((p->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN && !c->t_syn_seen) {
        c->t_syn_seen = true;
        c->t_syn_at = t;
        c->t_syn = sum;
    }
    if ((p->flags & TCPW_FIN) && !(c->t_fin.flags & TCPW_FIN)) c->t_fin = sum;
    if (p->len || (p->flags & (TCPW_SYN | TCPW_FIN))) c->t_seq_at = t;
    if (!(p->flags & TCPW_ACK) || !c->k_isn_known) return;
    if (p->ack == c->k_isn + 1) {
        if (c->k_state == TCPW_SYN_SENT && (p->flags & TCPW_SYN))
            k_change(c, TCPW_ESTABLISHED, t, &sum, NULL);
        else if (c->k_state == TCPW_SYN_RCVD && !(p->flags & TCPW_SYN))
            k_change(c, TCPW_ESTABLISHED, t, &sum, NULL);
    }
    if (c->fin_sent[ks] && !c->k_fin_acked && seq_ge32(p->ack, c->fin_end[ks])) {
        c->k_fin_acked = true;
        switch (c->k_state) {
        case TCPW_FIN_WAIT_1: k_change(c, TCPW_FIN_WAIT_2, t, &sum, NULL); break;
        case TCPW_CLOSING: k_change(c, TCPW_TIME_WAIT, t, &sum, NULL); break;
        case TCPW_LAST_ACK: k_change(c, TCPW_CLOSED, t, &sum, NULL); break;
        default: break;
        }
    }
}

/* Applies, in the order they reach the kernel, tcpwave's segments that have by `upto`: the
 * kernel's state follows arrivals, not sends (with a delay, what tcpwave sends next may get
 * there before what the kernel sends meanwhile). */
static void k_drain(tt_conn *c, uint64_t upto) {
    size_t i = 0;
    while (i < c->nkarr && c->karr[i].t <= upto) {
        k_received(c, &c->karr[i].seg, c->karr[i].t);
        i++;
    }
    if (i) {
        c->nkarr -= i;
        memmove(c->karr, c->karr + i, c->nkarr * sizeof *c->karr);
    }
}

static void k_arrive(tt_conn *c, const tcpw_packet *p, uint64_t t) {
    if (c->nkarr == c->capkarr) {
        size_t cap = c->capkarr ? c->capkarr * 2 : 16;
        k_arrival *a = realloc(c->karr, cap * sizeof *a);
        if (!a) {
            c->oom = true;
            return;
        }
        c->karr = a;
        c->capkarr = cap;
    }
    size_t i = c->nkarr++;
    while (i > 0 && c->karr[i - 1].t > t) { /* stable: equal times keep their order */
        c->karr[i] = c->karr[i - 1];
        i--;
    }
    c->karr[i].t = t;
    summary_of(p, &c->karr[i].seg);
}

/* ---- observers ------------------------------------------------------------------------------- */

void tcpw_tun_trace_packet(void *user, const uint8_t *pkt, size_t len, tcpw_tun_dir dir,
                           uint64_t t_us, uint64_t arrive_us, tcpw_seg_fate fate) {
    tcpw_tun_trace *tt = user;
    if (!tt || tt->cfg.mode == TCPW_TUN_TRACE_NONE) return;
    tcpw_packet p;
    if (tcpw_parse(pkt, len, TCPW_PARSE_NO_CHECKSUM, &p) != TCPW_WIRE_OK) return;
    bool from_engine = dir == TCPW_TUN_FROM_ENGINE;
    const tcpw_endpoint *eng = from_engine ? &p.src : &p.dst;
    const tcpw_endpoint *peer = from_engine ? &p.dst : &p.src;
    bool new_syn = (p.flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN;
    tt_conn *c = conn_find(tt, eng, peer);
    if (c && new_syn && conn_over(c)) {
        /* a new connection on the same 4-tuple: the old one is drawn first */
        conn_retire(tt, c);
        c = NULL;
    }
    if (!c) c = conn_add(tt, eng, peer, from_engine && new_syn, t_us);
    if (!c) return;
    int side = from_engine ? c->eng_side : 1 - c->eng_side;
    tcpw_rec_event e;
    tcpw_rec_event_from_packet(&e, &p, side, 1 - side, t_us - tt->cfg.t0, arrive_us - tt->cfg.t0,
                               fate);
    /* what the kernel did before it sent this comes before the arrow; what a segment did to
     * it, after */
    uint64_t now_rel = t_us - tt->cfg.t0;
    k_drain(c, now_rel);
    if (!from_engine) k_sent(c, &p, now_rel);
    record(tt, c, &e);
    if (from_engine && fate != TCPW_FATE_DROPPED) {
        k_arrive(c, &p, arrive_us - tt->cfg.t0);
        k_drain(c, now_rel);
    }
    if ((p.flags & TCPW_FIN) && !c->fin_sent[side]) {
        c->fin_sent[side] = true;
        c->fin_end[side] = p.seq + (uint32_t)p.payload_len + ((p.flags & TCPW_SYN) ? 1u : 0u) + 1u;
    }
    if (p.flags & TCPW_RST) c->rst_seen = true;
}

void tcpw_tun_trace_engine(void *user, const tcpw_trace *ev) {
    tcpw_tun_trace *tt = user;
    if (!tt || tt->cfg.mode == TCPW_TUN_TRACE_NONE) return;
    if (ev->remote.addr.family == 0) return; /* a listener: not a connection */
    tt_conn *c = conn_find(tt, &ev->local, &ev->remote);
    if (c && ev->kind == TCPW_TRACE_STATE && ev->from == TCPW_CLOSED && conn_over(c) &&
        c->eng_known) {
        conn_retire(tt, c); /* a new incarnation: the old one is drawn on its own */
        c = NULL;
    }
    if (!c) {
        /* only the start of a connection opens a recording: the end of one already drawn
         * (TIME_WAIT's 2MSL, say) is left out */
        if (ev->kind != TCPW_TRACE_STATE || ev->from != TCPW_CLOSED) return;
        c = conn_add(tt, &ev->local, &ev->remote, ev->to == TCPW_SYN_SENT, ev->now);
        if (!c) return;
    }
    tcpw_rec_event e;
    tcpw_rec_event_from_trace(&e, ev, c->eng_side);
    e.t_us = ev->now - tt->cfg.t0;
    k_drain(c, e.t_us);
    record(tt, c, &e);
    if (ev->kind == TCPW_TRACE_STATE) {
        c->eng_known = true;
        c->eng_state = ev->to;
    }
}

void tcpw_tun_trace_app(tcpw_tun_trace *tt, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                        tcpw_app_what what, uint64_t bytes, uint64_t t_us) {
    if (!tt || tt->cfg.mode == TCPW_TUN_TRACE_NONE) return;
    tt_conn *c = conn_find(tt, local, remote);
    if (!c) return;
    tcpw_rec_event e;
    memset(&e, 0, sizeof e);
    e.kind = TCPW_REC_APP;
    e.t_us = t_us - tt->cfg.t0;
    e.side = c->eng_side;
    e.peer = 1 - c->eng_side;
    e.app = what;
    e.bytes = bytes;
    k_drain(c, e.t_us);
    record(tt, c, &e);
}
