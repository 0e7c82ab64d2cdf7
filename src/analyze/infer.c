/* infer.c — what one connection's packets say about its two endpoints.
 *
 * Steps, in order (tcpw_an_infer):
 *   1. roles      client = the sender of the first SYN (the receiver of the first SYN+ACK,
 *                 else the higher port); Wireshark's relative-number bases.
 *   2. marks      per-direction analysis in capture order, as Wireshark names it:
 *                 retransmission, out-of-order, previous segment not captured (gap), duplicate
 *                 ACK, zero window, keep-alive.
 *   3. lags       each endpoint's response lag seen from the capture point: the shortest time
 *                 from a segment to the acknowledgment that first covers it.
 *   4. losses     a segment its sender had to repeat, with no acknowledgment of it in between,
 *                 never arrived; a pure ACK whose receiver later repeated what it acknowledged
 *                 never arrived either; neither does a RST that its receiver ignored by going
 *                 on sending new segments.
 *   5. endpoints  both RFC 9293 state machines, each fed its own timeline: its sends in
 *                 capture order, and the peer's segments placed where they arrived — before
 *                 its first send whose ACK covers them (evidence), or, for segments with no
 *                 sequence space, once its response lag has passed (timing).
 *   6. verdict    who opened and closed first, the close pattern, final states, anomalies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "core/seq.h"

#define OOO_THRESHOLD_US 3000   /* Wireshark's out-of-order threshold */
#define LOSS_SCAN_MAX    200000 /* how far to look for the evidence of one loss */
#define OOO_RANGES       8

static uint32_t seglen(const tcpw_an_pkt *p) {
    return p->len + ((p->flags & TCPW_SYN) ? 1u : 0u) + ((p->flags & TCPW_FIN) ? 1u : 0u);
}

/* ---- 1. roles and relative numbers -------------------------------------------------------- */

static void swap_sides(tcpw_an_conn *c) {
    tcpw_endpoint t = c->ep[0];
    c->ep[0] = c->ep[1];
    c->ep[1] = t;
    for (size_t i = 0; i < c->npkt; i++)
        c->pkt[i].side ^= 1;
}

static void roles(tcpw_an_conn *c) {
    int client = -1;
    int syn_from[2] = {0, 0};
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        if ((p->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN) {
            if (client < 0) client = p->side;
            syn_from[p->side] = 1;
        }
    }
    c->syn_seen = client >= 0;
    if (client < 0)
        for (size_t i = 0; i < c->npkt && client < 0; i++)
            if ((c->pkt[i].flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK))
                client = 1 - c->pkt[i].side;
    if (client < 0) client = c->ep[1].port > c->ep[0].port ? 1 : 0;
    if (client == 1) {
        swap_sides(c);
        int t = syn_from[0];
        syn_from[0] = syn_from[1];
        syn_from[1] = t;
    }
    c->simultaneous_open = syn_from[0] && syn_from[1];
    c->opened_by = c->simultaneous_open ? 2 : (c->syn_seen ? 0 : -1);

    /* Wireshark: a direction's base is its SYN's sequence number, else the first sequence
     * number seen minus one; the other direction's base may come from an ACK (ack - 1). */
    c->base_known[0] = c->base_known[1] = false;
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        int s = p->side;
        if (!c->base_known[s]) {
            c->base[s] = (p->flags & TCPW_SYN) ? p->seq : p->seq - 1;
            c->base_known[s] = true;
        }
        if (!c->base_known[1 - s] && (p->flags & TCPW_ACK)) {
            c->base[1 - s] = p->ack - 1;
            c->base_known[1 - s] = true;
        }
        if (c->base_known[0] && c->base_known[1]) break;
    }
}

/* ---- 2. per-direction marks ---------------------------------------------------------------- */

static void marks(tcpw_an_conn *c) {
    bool nx_known[2] = {false, false}, ack_known[2] = {false, false};
    bool syn_ack_sent[2] = {false, false};
    uint32_t nextseq[2] = {0, 0}, last_ack[2] = {0, 0}, high_ack[2] = {0, 0};
    uint16_t last_win[2] = {0, 0};
    uint64_t last_t[2] = {0, 0};
    memset(c->st, 0, sizeof c->st);
    for (size_t i = 0; i < c->npkt; i++) {
        tcpw_an_pkt *p = &c->pkt[i];
        int s = p->side, o = 1 - s;
        uint32_t sl = seglen(p);
        bool ctl = p->flags & (TCPW_SYN | TCPW_FIN | TCPW_RST);
        tcpw_an_dirstats *st = &c->st[s];
        st->packets++;
        st->bytes += p->len;
        if (p->win == 0 && !ctl) {
            p->marks |= TCPW_AN_ZERO_WIN;
            st->zero_windows++;
        }
        bool keepalive = false;
        if (!ctl && sl <= 1 && nx_known[s] && p->seq == nextseq[s] - 1) {
            keepalive = true;
            p->marks |= TCPW_AN_KEEPALIVE;
            st->keepalives++;
        }
        if (!(p->flags & TCPW_RST) && nx_known[s] && seq_gt(p->seq, nextseq[s])) {
            p->marks |= TCPW_AN_GAP;
            st->gaps++;
        }
        bool synack_after_syn = (p->flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK) &&
                                nx_known[s] && p->seq + 1 == nextseq[s] && !syn_ack_sent[s];
        if (p->flags & TCPW_SYN && p->flags & TCPW_ACK) syn_ack_sent[s] = true;
        if (sl > 0 && !keepalive && !synack_after_syn && !(p->flags & TCPW_RST) && nx_known[s] &&
            seq_lt(p->seq, nextseq[s])) {
            bool acked = ack_known[o] && seq_ge(high_ack[o], p->seq + sl);
            if (!acked && i > 0 && p->t_us - last_t[s] < OOO_THRESHOLD_US &&
                !(p->marks & TCPW_AN_SNAPLEN) && seq_gt(p->seq + sl, p->seq) &&
                c->pkt[i - 1].side == s && seq_gt(c->pkt[i - 1].seq, p->seq)) {
                p->marks |= TCPW_AN_OOO;
                st->ooo++;
            } else {
                p->marks |= TCPW_AN_RETRANS;
                st->retrans++;
            }
        }
        if (!(p->flags & TCPW_RST) && (!nx_known[s] || seq_gt(p->seq + sl, nextseq[s]))) {
            nextseq[s] = p->seq + sl;
            nx_known[s] = true;
        }
        if (p->flags & TCPW_ACK) {
            if (sl == 0 && !ctl && ack_known[s] && p->ack == last_ack[s] && p->win == last_win[s] &&
                nx_known[o] && seq_gt(nextseq[o], p->ack) && !keepalive) {
                p->marks |= TCPW_AN_DUP_ACK;
                st->dup_acks++;
            }
            if (!ack_known[s] || seq_gt(p->ack, high_ack[s])) high_ack[s] = p->ack;
            last_ack[s] = p->ack;
            last_win[s] = p->win;
            ack_known[s] = true;
        }
        last_t[s] = p->t_us;
    }
}

/* ---- 3. response lags ----------------------------------------------------------------------- */

static void lags(tcpw_an_conn *c) {
    for (int x = 0; x < 2; x++) {
        /* the latest not yet acknowledged segment of the peer, and the highest ack x sent */
        bool have = false, acked_known = false;
        uint32_t end = 0, acked = 0;
        uint64_t t = 0, best = UINT64_MAX;
        for (size_t i = 0; i < c->npkt; i++) {
            const tcpw_an_pkt *p = &c->pkt[i];
            if (p->side != x) {
                uint32_t sl = seglen(p);
                if (sl && !(p->flags & TCPW_RST) && !(p->marks & TCPW_AN_RETRANS) &&
                    (!acked_known || seq_gt(p->seq + sl, acked))) {
                    if (!have) t = p->t_us;
                    end = p->seq + sl;
                    have = true;
                }
                continue;
            }
            if (!(p->flags & TCPW_ACK) || (p->flags & TCPW_RST)) continue;
            if (have && seq_ge(p->ack, end)) {
                uint64_t d = p->t_us >= t ? p->t_us - t : 0;
                if (d < best) best = d;
                have = false;
            }
            if (!acked_known || seq_gt(p->ack, acked)) acked = p->ack;
            acked_known = true;
        }
        c->lag_known[x] = best != UINT64_MAX;
        c->lag_us[x] = c->lag_known[x] ? best : 0;
    }
}

/* ---- 4. losses ----------------------------------------------------------------------------- */

/* Whether the peer's ACK field in q shows that p (with sequence space) arrived. */
static bool ack_covers(const tcpw_an_pkt *q, const tcpw_an_pkt *p) {
    if (!(q->flags & TCPW_ACK) || (q->flags & TCPW_RST)) return false;
    uint32_t first = p->seq + ((p->flags & TCPW_SYN) ? 1u : 0u);
    if (p->flags & TCPW_SYN) return seq_ge(q->ack, first);
    return seq_gt(q->ack, p->seq);
}

/* Whether packet j, which repeats sequence space, left when a retransmission timer would
 * have fired (RFC 6298: the first after about a second, more after the backoff of earlier losses;
 * each later one at most about twice the one before), rather than being
 * an old duplicate or a replay long after the connection was over. */
static bool plausible_retransmission(const tcpw_an_conn *c, size_t j) {
    const tcpw_an_pkt *q = &c->pkt[j];
    uint64_t prev = 0, prevprev = 0;
    int found = 0;
    for (size_t k = j; k-- > 0 && found < 2;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        uint32_t ol = seglen(o);
        if (o->side != q->side || !ol || (o->flags & TCPW_RST)) continue;
        if (seq_le(o->seq, q->seq) && seq_gt(o->seq + ol, q->seq)) {
            if (found == 0)
                prev = o->t_us;
            else
                prevprev = o->t_us;
            found++;
        }
    }
    if (!found) return true;
    uint64_t gap = q->t_us - prev;
    uint64_t limit = 15000000u; /* room for the backoff of earlier losses (1+2+4+8 s) */
    if (found == 2 && prev > prevprev && (prev - prevprev) * 5 / 2 > limit)
        limit = (prev - prevprev) * 5 / 2;
    return gap <= limit;
}

static void losses(tcpw_an_conn *c) {
    size_t n = c->npkt;
    for (size_t i = 0; i < n; i++) {
        tcpw_an_pkt *p = &c->pkt[i];
        int a = p->side, b = 1 - a;
        uint32_t sl = seglen(p);
        if (p->flags & TCPW_RST) {
            /* a RST its receiver ignored: it goes on sending new sequence space */
            uint64_t after = p->t_us + c->lag_us[b];
            for (size_t j = i + 1; j < n && j < i + LOSS_SCAN_MAX; j++) {
                const tcpw_an_pkt *q = &c->pkt[j];
                if (q->side != b || q->t_us < after) continue;
                if (!(q->flags & TCPW_RST) && seglen(q) > 0) p->marks |= TCPW_AN_LOST;
                break;
            }
            continue;
        }
        if (sl > 0) {
            /* a segment repeated by its sender with no acknowledgment of it in between —
             * unless it arrived beyond a hole: the receiver then answers at once with a
             * duplicate ACK below it (RFC 5681 §4.2) */
            uint64_t lb = c->lag_us[b];
            for (size_t j = i + 1; j < n && j < i + LOSS_SCAN_MAX; j++) {
                const tcpw_an_pkt *q = &c->pkt[j];
                if (q->side == b) {
                    if (ack_covers(q, p) || (q->flags & TCPW_RST)) break;
                    if (c->lag_known[b] && seglen(q) == 0 && (q->flags & TCPW_ACK) &&
                        seq_lt(q->ack, p->seq) && q->t_us >= p->t_us + lb &&
                        q->t_us <= p->t_us + 2 * lb + 1000)
                        break;
                    continue;
                }
                uint32_t ql = seglen(q);
                /* a SYN+ACK after one's own SYN is the simultaneous open's next step
                 * (RFC 9293 §3.10.7.3), not a repeat of the SYN */
                if ((p->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN &&
                    (q->flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK))
                    continue;
                if (ql && !(q->flags & TCPW_RST) && seq_le(q->seq, p->seq) &&
                    seq_gt(q->seq + ql, p->seq)) {
                    p->marks |= TCPW_AN_LOST;
                    break;
                }
            }
            continue;
        }
        if (!(p->flags & TCPW_ACK)) continue;
        /* a pure ACK: lost when its receiver, having had time to get it, repeats what it
         * acknowledged */
        uint64_t after = p->t_us + c->lag_us[b];
        for (size_t j = i + 1; j < n && j < i + LOSS_SCAN_MAX; j++) {
            const tcpw_an_pkt *q = &c->pkt[j];
            if (q->side != b || q->t_us < after) continue;
            uint32_t ql = seglen(q);
            if (!ql) continue;
            if (!(q->flags & TCPW_RST) && seq_lt(q->seq, p->ack) &&
                !(q->marks & TCPW_AN_KEEPALIVE) && plausible_retransmission(c, j))
                p->marks |= TCPW_AN_LOST;
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (c->pkt[i].marks & TCPW_AN_LOST) c->st[c->pkt[i].side].lost++;
}

/* ---- 5. the endpoints ---------------------------------------------------------------------- */

typedef struct ep {
    tcpw_state st;
    uint64_t since;
    bool iss_known, snd_known, una_known, rcv_known, wnd_known;
    uint32_t iss, snd_nxt, snd_una, rcv_nxt, wnd;
    bool fin_sent, fin_rcvd, ooo_fin;
    uint32_t fin_seq, ooo_fin_seq;
    uint32_t ool[OOO_RANGES], oor[OOO_RANGES];
    int nooo;
    int wscale; /* shift of its window field, -1 until known */
    bool passive;
    uint64_t data_rcvd;            /* payload bytes received */
    uint64_t data_rcvd_since_send; /* payload bytes received since its last data/FIN send */
    /* the last event applied: a receipt of packet last_recv (for RST-as-answer reasoning) */
    bool last_was_recv;
    size_t last_recv;
    size_t last_recv_trans; /* index + 1 of the transition it caused, 0 none */
    tcpw_state before_last_recv;
    /* pending receipts: indexes of the peer's packets seen but not yet arrived */
    size_t *q;
    size_t qh, qt, qcap;
} ep;

typedef struct run {
    tcpw_an_conn *c;
    const tcpw_an_config *cfg;
    ep e[2];
    int err;
    uint32_t high_end[2]; /* highest sequence end sent by each side so far (capture order) */
    bool high_known[2];
    int wscale_opt[2]; /* window scale option on each side's SYN, -1 none */
    bool syn_opts_seen[2];
} run;

static void trans(run *r, int side, tcpw_state to, uint64_t t, size_t pkt, tcpw_cause cause,
                  tcpw_an_why why) {
    ep *x = &r->e[side];
    if (x->st == to) return;
    tcpw_an_trans tr = {.t_us = t,
                        .pkt = pkt == SIZE_MAX ? UINT32_MAX : (uint32_t)pkt,
                        .side = (uint8_t)side,
                        .from = (uint8_t)x->st,
                        .to = (uint8_t)to,
                        .cause = (uint8_t)cause,
                        .why = (uint8_t)why};
    if (tcpw_an_conn_add_trans(r->c, &tr)) r->err = TCPW_ENOMEM;
    x->st = to;
    x->since = t;
}

/* RFC 9293 §3.10.8 / RFC 1122 §4.2.2.13: TIME-WAIT ends 2MSL after it began (or after the
 * last retransmitted FIN restarted it). */
static void timewait_expire(run *r, int side, uint64_t now) {
    ep *x = &r->e[side];
    uint64_t two = 2ull * r->cfg->msl_ms * 1000u;
    if (x->st == TCPW_TIME_WAIT && now >= x->since + two)
        trans(r, side, TCPW_CLOSED, x->since + two, SIZE_MAX, TCPW_CAUSE_TIMER,
              TCPW_AN_WHY_TIMEWAIT_EXPIRED);
}

static void set_state(run *r, size_t i, int side, uint8_t why) {
    r->c->pkt[i].st[side] = (uint8_t)r->e[side].st;
    r->c->pkt[i].why[side] = why;
}

static bool synchronized(tcpw_state s) {
    return s != TCPW_CLOSED && s != TCPW_LISTEN && s != TCPW_SYN_SENT;
}

/* Out-of-order data the receiver holds: merged ranges, so that a filled hole moves RCV.NXT
 * past what arrived early (RFC 9293 §3.10.7.4 seventh, RFC 5681 §4.2). */
static void ooo_add(ep *x, uint32_t l, uint32_t rr) {
    for (int k = 0; k < x->nooo; k++)
        if (seq_le(l, x->oor[k]) && seq_ge(rr, x->ool[k])) {
            if (seq_lt(l, x->ool[k])) x->ool[k] = l;
            if (seq_gt(rr, x->oor[k])) x->oor[k] = rr;
            return;
        }
    if (x->nooo < OOO_RANGES) {
        x->ool[x->nooo] = l;
        x->oor[x->nooo] = rr;
        x->nooo++;
    }
}

static void ooo_advance(ep *x) {
    bool moved = true;
    while (moved) {
        moved = false;
        for (int k = 0; k < x->nooo; k++)
            if (seq_le(x->ool[k], x->rcv_nxt)) {
                if (seq_gt(x->oor[k], x->rcv_nxt)) x->rcv_nxt = x->oor[k];
                x->ool[k] = x->ool[x->nooo - 1];
                x->oor[k] = x->oor[x->nooo - 1];
                x->nooo--;
                moved = true;
                break;
            }
    }
}

static bool own_fin_acked(const ep *x) {
    return x->fin_sent && x->una_known && seq_gt(x->snd_una, x->fin_seq);
}

/* RFC 9293 §3.10.7.4 eighth: the peer's FIN, once everything before it has arrived. */
static void process_fin(run *r, int xs, size_t i, uint64_t t) {
    ep *x = &r->e[xs];
    x->rcv_nxt++;
    x->fin_rcvd = true;
    x->ooo_fin = false;
    switch (x->st) {
    case TCPW_SYN_RCVD:
    case TCPW_ESTABLISHED: trans(r, xs, TCPW_CLOSE_WAIT, t, i, TCPW_CAUSE_SEGMENT, 0); break;
    case TCPW_FIN_WAIT_1:
        /* our FIN acknowledged too: TIME-WAIT; else both closing at once: CLOSING */
        trans(r, xs, own_fin_acked(x) ? TCPW_TIME_WAIT : TCPW_CLOSING, t, i, TCPW_CAUSE_SEGMENT, 0);
        break;
    case TCPW_FIN_WAIT_2: trans(r, xs, TCPW_TIME_WAIT, t, i, TCPW_CAUSE_SEGMENT, 0); break;
    case TCPW_TIME_WAIT: x->since = t; break; /* restart the 2MSL timeout */
    default: break;                           /* CLOSE-WAIT, CLOSING, LAST-ACK: remain */
    }
}

/* SEGMENT ARRIVES at endpoint xs: packet i of the peer (RFC 9293 §3.10.7). */
static void ep_recv(run *r, int xs, size_t i, uint64_t t) {
    tcpw_an_conn *c = r->c;
    const tcpw_an_pkt *p = &c->pkt[i];
    ep *x = &r->e[xs];
    uint8_t fl = p->flags;
    uint32_t seq = p->seq, len = p->len, sl = seglen(p);
    timewait_expire(r, xs, t);
    x->last_was_recv = true;
    x->last_recv = i;
    x->before_last_recv = x->st;
    size_t ntr = c->ntrans;

    switch (x->st) {
    case TCPW_CLOSED: break; /* §3.10.7.1: no connection; a RST would answer */
    case TCPW_LISTEN:
        /* §3.10.7.2: RST ignored; an ACK is answered with RST; a SYN starts a connection */
        if ((fl & (TCPW_RST | TCPW_ACK)) || !(fl & TCPW_SYN)) break;
        x->rcv_nxt = seq + 1;
        x->rcv_known = true;
        x->passive = true;
        trans(r, xs, TCPW_SYN_RCVD, t, i, TCPW_CAUSE_SEGMENT, 0);
        break;
    case TCPW_SYN_SENT:
        /* §3.10.7.3 first: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT */
        if ((fl & TCPW_ACK) && x->iss_known &&
            (seq_le(p->ack, x->iss) || (x->snd_known && seq_gt(p->ack, x->snd_nxt))))
            break;
        /* second: a RST with an acceptable ACK refuses the connection */
        if (fl & TCPW_RST) {
            if (fl & TCPW_ACK) trans(r, xs, TCPW_CLOSED, t, i, TCPW_CAUSE_SEGMENT, 0);
            break;
        }
        /* fourth: the SYN */
        if (!(fl & TCPW_SYN)) break;
        x->rcv_nxt = seq + 1;
        x->rcv_known = true;
        if (fl & TCPW_ACK) {
            x->snd_una = p->ack;
            x->una_known = true;
            trans(r, xs, TCPW_ESTABLISHED, t, i, TCPW_CAUSE_SEGMENT, 0);
            if (len && seq + 1 == x->rcv_nxt) x->rcv_nxt += len;
            if (fl & TCPW_FIN) process_fin(r, xs, i, t);
        } else {
            /* simultaneous open (§3.10.7.3 fourth, RFC 9293 Figure 8) */
            trans(r, xs, TCPW_SYN_RCVD, t, i, TCPW_CAUSE_SEGMENT, 0);
        }
        break;
    default: {
        /* §3.10.7.4: the synchronized states */
        if (x->st == TCPW_SYN_RCVD && (fl & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN &&
            x->rcv_known && seq + 1 == x->rcv_nxt)
            break; /* the SYN again: our SYN+ACK was lost */
        if (!x->rcv_known) {
            /* mid-stream: take the segment as in order */
            x->rcv_nxt = seq + ((fl & TCPW_SYN) ? 1u : 0u);
            x->rcv_known = true;
        }
        /* an old SYN (the peer's SYN+ACK of a simultaneous open, RFC 9293 Figure 8) is
         * trimmed off; its ACK still counts */
        if ((fl & TCPW_SYN) && x->rcv_known && seq + 1 == x->rcv_nxt) {
            fl &= (uint8_t)~TCPW_SYN;
            seq++;
            sl--;
        }
        /* first: the acceptability test. Wholly old segments (before RCV.NXT) are duplicates:
         * dropped with an ACK, except that a repeated FIN restarts TIME-WAIT (eighth step).
         * A zero window takes only the controls. Beyond the right edge is an anomaly; the
         * segment is still followed, since the window the receiver holds may have grown
         * past the one it last advertised. */
        bool text_ok = true;
        if (sl == 0 ? seq_lt(seq, x->rcv_nxt) && !(fl & TCPW_RST) : seq_le(seq + sl, x->rcv_nxt)) {
            if (x->st == TCPW_TIME_WAIT && (fl & TCPW_FIN)) x->since = t;
            break;
        }
        if (x->wnd_known) {
            uint32_t wnd = x->wnd;
            if (wnd == 0 && sl && seq == x->rcv_nxt) text_ok = false;
            if (sl && !(fl & TCPW_RST) && seq_ge(seq, x->rcv_nxt + wnd) && wnd > 0) {
                char d[120];
                snprintf(d, sizeof d, "packet #%u: seq %u..%u beyond the receiver's window %u..%u",
                         p->recno, seq - c->base[p->side], seq + sl - c->base[p->side],
                         x->rcv_nxt - c->base[p->side], x->rcv_nxt + wnd - c->base[p->side]);
                tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_OUT_OF_WINDOW, (uint32_t)i, p->side, d);
            }
        }
        /* second: RST — exactly RCV.NXT resets; elsewhere in the window it only earns a
         * challenge ACK (RFC 5961 §3.2) */
        if (fl & TCPW_RST) {
            if (seq != x->rcv_nxt) break;
            if (x->st == TCPW_TIME_WAIT && r->cfg->rfc1337) break; /* RFC 1337 */
            trans(r, xs, TCPW_CLOSED, t, i, TCPW_CAUSE_SEGMENT, 0);
            break;
        }
        /* fourth: SYN — a challenge ACK (RFC 5961 §4); a passive half-open one starts over */
        if (fl & TCPW_SYN) {
            if (x->st == TCPW_SYN_RCVD && x->passive && seq + 1 != x->rcv_nxt)
                trans(r, xs, TCPW_CLOSED, t, i, TCPW_CAUSE_SEGMENT, 0);
            break;
        }
        /* fifth: the ACK field */
        if (!(fl & TCPW_ACK)) break;
        if (x->st == TCPW_SYN_RCVD) {
            bool ok = (!x->una_known || seq_gt(p->ack, x->snd_una)) &&
                      (!x->snd_known || seq_le(p->ack, x->snd_nxt));
            if (!ok) break; /* <SEQ=SEG.ACK><CTL=RST> */
            trans(r, xs, TCPW_ESTABLISHED, t, i, TCPW_CAUSE_SEGMENT, 0);
        }
        if (x->snd_known && seq_gt(p->ack, x->snd_nxt)) break; /* RFC 5961 §5.2 */
        bool fin_was_acked = own_fin_acked(x);
        if (!x->una_known || seq_gt(p->ack, x->snd_una)) {
            x->snd_una = p->ack;
            x->una_known = true;
        }
        bool fin_now_acked = !fin_was_acked && own_fin_acked(x);
        bool fin_follows = (fl & TCPW_FIN) && seq == x->rcv_nxt && text_ok;
        switch (x->st) {
        case TCPW_FIN_WAIT_1:
            if (fin_now_acked && !fin_follows)
                trans(r, xs, TCPW_FIN_WAIT_2, t, i, TCPW_CAUSE_SEGMENT, 0);
            break;
        case TCPW_CLOSING:
            if (fin_now_acked) trans(r, xs, TCPW_TIME_WAIT, t, i, TCPW_CAUSE_SEGMENT, 0);
            break;
        case TCPW_LAST_ACK:
            if (fin_now_acked) trans(r, xs, TCPW_CLOSED, t, i, TCPW_CAUSE_SEGMENT, 0);
            break;
        default: break;
        }
        if (x->st == TCPW_CLOSED) break;
        /* seventh: the text */
        bool data_state =
            x->st == TCPW_ESTABLISHED || x->st == TCPW_FIN_WAIT_1 || x->st == TCPW_FIN_WAIT_2;
        if (len && text_ok && data_state) {
            uint32_t s0 = seq, e0 = seq + len;
            if (seq_le(s0, x->rcv_nxt) && seq_gt(e0, x->rcv_nxt)) {
                x->data_rcvd += e0 - x->rcv_nxt;
                x->data_rcvd_since_send += e0 - x->rcv_nxt;
                x->rcv_nxt = e0;
                ooo_advance(x);
            } else if (seq_gt(s0, x->rcv_nxt)) {
                ooo_add(x, s0, e0);
            }
        }
        /* eighth: the FIN */
        if ((fl & TCPW_FIN) && text_ok) {
            uint32_t fseq = seq + len;
            if (fseq == x->rcv_nxt && !x->fin_rcvd)
                process_fin(r, xs, i, t);
            else if (seq_gt(fseq, x->rcv_nxt)) {
                x->ooo_fin = true;
                x->ooo_fin_seq = fseq;
            }
        } else if (x->ooo_fin && x->ooo_fin_seq == x->rcv_nxt && !x->fin_rcvd) {
            process_fin(r, xs, i, t);
        }
        break;
    }
    }
    x->last_recv_trans = c->ntrans > ntr ? c->ntrans : 0;
    set_state(r, i, xs, (c->pkt[i].marks & TCPW_AN_LOST) ? TCPW_AN_WHY_LOST : 0);
}

/* Endpoint xs sends packet i: the user calls and timers behind it (RFC 9293 §3.10.1-§3.10.5),
 * and what its header proves about what it had received. */
static void ep_send(run *r, int xs, size_t i) {
    tcpw_an_conn *c = r->c;
    tcpw_an_pkt *p = &c->pkt[i];
    ep *x = &r->e[xs];
    uint8_t fl = p->flags;
    uint64_t t = p->t_us;
    uint32_t sl = seglen(p);
    uint8_t why = 0;
    timewait_expire(r, xs, t);

    if (fl & TCPW_RST) {
        /* §3.10.5 ABORT, or the answer of a closed port (§3.10.7.1). A RST right after a
         * receipt answers that receipt: data after close() (RFC 2525 §2.17), or a FIN reaching
         * an endpoint that had already given up its FIN_WAIT_2 (Linux tcp_fin_timeout). */
        bool answer = x->last_was_recv && x->last_recv < i &&
                      t <= c->pkt[x->last_recv].t_us + c->lag_us[xs] + c->lag_us[xs] / 2 + 1000;
        const tcpw_an_pkt *rp = answer ? &c->pkt[x->last_recv] : NULL;
        bool data_after_close =
            rp && rp->len > 0 &&
            (x->before_last_recv == TCPW_FIN_WAIT_1 || x->before_last_recv == TCPW_FIN_WAIT_2);
        bool fin_after_timeout = rp && !data_after_close && x->last_recv_trans &&
                                 x->before_last_recv == TCPW_FIN_WAIT_2 && x->st == TCPW_TIME_WAIT;
        if (data_after_close || fin_after_timeout) {
            /* RFC 2525 §2.17: data for an application that closed: RST, and CLOSED at its
             * arrival; or a FIN reaching an endpoint whose orphaned FIN_WAIT_2 had already
             * timed out (it was CLOSED before the FIN came) */
            size_t k = x->last_recv;
            uint8_t w = data_after_close ? TCPW_AN_WHY_DATA_AFTER_CLOSE : TCPW_AN_WHY_FIN_TIMEOUT;
            if (x->last_recv_trans) {
                tcpw_an_trans *tr = &c->trans[x->last_recv_trans - 1];
                tr->to = TCPW_CLOSED;
                tr->why = w;
                if (fin_after_timeout) {
                    tr->cause = TCPW_CAUSE_TIMER;
                    tr->pkt = UINT32_MAX;
                }
                x->st = TCPW_CLOSED;
            } else {
                trans(r, xs, TCPW_CLOSED, c->pkt[k].t_us + c->lag_us[xs], k, TCPW_CAUSE_SEGMENT, w);
            }
            c->pkt[k].st[xs] = TCPW_CLOSED;
            c->pkt[k].why[xs] = w;
        } else if (x->st != TCPW_CLOSED && x->st != TCPW_LISTEN) {
            trans(r, xs, TCPW_CLOSED, t, i, TCPW_CAUSE_USER, 0);
        }
        x->last_was_recv = false;
        set_state(r, i, xs, why);
        return;
    }

    if (fl & TCPW_SYN) {
        if (!(fl & TCPW_ACK)) {
            /* §3.10.1 OPEN (active): SYN_SENT; a repeated SYN changes nothing */
            if (x->st == TCPW_CLOSED || x->st == TCPW_LISTEN)
                trans(r, xs, TCPW_SYN_SENT, t, i, TCPW_CAUSE_USER, 0);
        } else if (x->st == TCPW_LISTEN || x->st == TCPW_CLOSED || x->st == TCPW_SYN_SENT) {
            /* a SYN+ACK: it must have received a SYN the capture does not show arriving */
            x->rcv_nxt = p->ack;
            x->rcv_known = true;
            x->passive = x->st != TCPW_SYN_SENT;
            trans(r, xs, TCPW_SYN_RCVD, t, i, TCPW_CAUSE_SEGMENT, TCPW_AN_WHY_SYN_UNSEEN);
            why = TCPW_AN_WHY_SYN_UNSEEN;
        }
        x->iss = p->seq;
        x->iss_known = true;
    } else if (!synchronized(x->st) && x->st != TCPW_CLOSED) {
        /* a segment without SYN from an endpoint not yet synchronized */
        if (x->st == TCPW_SYN_SENT && (fl & TCPW_ACK)) {
            trans(r, xs, TCPW_ESTABLISHED, t, i, TCPW_CAUSE_SEGMENT, TCPW_AN_WHY_SYNACK_UNSEEN);
            why = TCPW_AN_WHY_SYNACK_UNSEEN;
            x->rcv_nxt = p->ack;
            x->rcv_known = true;
        } else if (x->st == TCPW_LISTEN) {
            trans(r, xs, TCPW_ESTABLISHED, t, i, TCPW_CAUSE_SEGMENT, TCPW_AN_WHY_MIDSTREAM);
            why = TCPW_AN_WHY_MIDSTREAM;
        }
    }

    if (!(fl & TCPW_SYN) && (fl & TCPW_ACK) && synchronized(x->st)) {
        /* its ACK tells what it had received: beyond the model, the capture missed some */
        if (!x->rcv_known || seq_gt(p->ack, x->rcv_nxt)) {
            x->rcv_nxt = p->ack;
            x->rcv_known = true;
            ooo_advance(x);
        }
    }

    /* data beyond its own FIN (RFC 9293 §3.10.2: no SEND after CLOSE) */
    if (x->fin_sent && p->len && seq_gt(p->seq + p->len, x->fin_seq) &&
        seq_ge(p->seq + p->len, x->fin_seq + 1)) {
        char d[120];
        snprintf(d, sizeof d, "packet #%u: %u bytes at seq %u, after its FIN at seq %u", p->recno,
                 p->len, p->seq - c->base[xs], x->fin_seq - c->base[xs]);
        tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_DATA_AFTER_FIN, (uint32_t)i, xs, d);
    }

    if (fl & TCPW_FIN) {
        uint32_t fseq = p->seq + p->len;
        if (x->fin_sent && fseq != x->fin_seq) {
            char d[120];
            snprintf(d, sizeof d, "packet #%u: FIN at seq %u, earlier FIN at seq %u", p->recno,
                     fseq - c->base[xs], x->fin_seq - c->base[xs]);
            tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_FIN_SEQ_CHANGED, (uint32_t)i, xs, d);
        }
        if (!x->fin_sent || seq_gt(fseq, x->fin_seq)) x->fin_seq = fseq;
        x->fin_sent = true;
        /* §3.10.4 CLOSE */
        switch (x->st) {
        case TCPW_SYN_RCVD:
        case TCPW_ESTABLISHED: trans(r, xs, TCPW_FIN_WAIT_1, t, i, TCPW_CAUSE_USER, 0); break;
        case TCPW_CLOSE_WAIT: trans(r, xs, TCPW_LAST_ACK, t, i, TCPW_CAUSE_USER, 0); break;
        default: break;
        }
    }
    if (sl) {
        if (!x->snd_known || seq_gt(p->seq + sl, x->snd_nxt)) {
            x->snd_nxt = p->seq + sl;
            x->snd_known = true;
        }
        if (p->len || (fl & TCPW_FIN)) x->data_rcvd_since_send = 0;
    } else if (!x->snd_known) {
        x->snd_nxt = p->seq;
        x->snd_known = true;
    }
    if (!x->una_known && !(fl & TCPW_SYN)) {
        /* mid-stream: what the peer acknowledges is unknown until it says */
        x->snd_una = p->seq;
        x->una_known = true;
    }
    /* its receive window, scaled once both SYNs agreed on scaling (RFC 7323 §2.2) */
    if (fl & TCPW_SYN) {
        x->wnd = p->win; /* never scaled on a SYN (RFC 7323 §2.2) */
        x->wnd_known = true;
    } else if (x->wscale >= 0) {
        x->wnd = (uint32_t)p->win << x->wscale;
        x->wnd_known = true;
    } else {
        x->wnd_known = false;
    }
    x->last_was_recv = false;
    set_state(r, i, xs, why);
}

/* ---- the timeline merge -------------------------------------------------------------------- */

static bool q_push(ep *x, size_t i) {
    if (x->qt == x->qcap) {
        if (x->qh > 0) {
            memmove(x->q, x->q + x->qh, (x->qt - x->qh) * sizeof *x->q);
            x->qt -= x->qh;
            x->qh = 0;
        }
        if (x->qt == x->qcap) {
            size_t cap = x->qcap ? x->qcap * 2 : 64;
            size_t *n = realloc(x->q, cap * sizeof *n);
            if (!n) return false;
            x->q = n;
            x->qcap = cap;
        }
    }
    x->q[x->qt++] = i;
    return true;
}

/* Delivers (or, for a lost one, passes) the oldest pending packet at endpoint xs. */
static void arrive(run *r, int xs, uint64_t at_most, size_t before) {
    ep *x = &r->e[xs];
    size_t i = x->q[x->qh++];
    tcpw_an_pkt *p = &r->c->pkt[i];
    uint64_t t = p->t_us + r->c->lag_us[xs];
    if (t > at_most) t = at_most;
    if (t < p->t_us) t = p->t_us;
    if (before != SIZE_MAX && before > i) {
        /* it crossed the receiver's packets sent after it was captured */
        for (size_t k = before; k-- > i + 1;)
            if (r->c->pkt[k].side == xs) {
                p->marks |= TCPW_AN_LATE;
                p->late_after = (uint32_t)(k + 1);
                break;
            }
    }
    if (p->marks & TCPW_AN_LOST) {
        timewait_expire(r, xs, t);
        set_state(r, i, xs, TCPW_AN_WHY_LOST);
        return;
    }
    ep_recv(r, xs, i, t);
}

/* Before endpoint xs sends packet qi: which pending packets had arrived? */
static void arrivals_before(run *r, int xs, size_t qi) {
    ep *x = &r->e[xs];
    const tcpw_an_pkt *q = &r->c->pkt[qi];
    if (x->qh == x->qt) return;
    /* evidence: the last pending segment that q's ACK covers for the first time */
    size_t last_yes = SIZE_MAX;
    bool has_ack = (q->flags & TCPW_ACK) && !(q->flags & TCPW_RST);
    if (has_ack) {
        /* only a segment that brings something new is proven by the ACK covering it: a
         * repeat of what already arrived (or arrives before it) proves nothing */
        bool cov_known = x->rcv_known;
        uint32_t cov = x->rcv_nxt;
        for (size_t k = x->qh; k < x->qt; k++) {
            const tcpw_an_pkt *p = &r->c->pkt[x->q[k]];
            if ((p->marks & TCPW_AN_LOST) || (p->flags & TCPW_RST) || seglen(p) == 0) continue;
            uint32_t end = p->seq + seglen(p);
            if (cov_known && !seq_gt(end, cov)) continue;
            if (seq_ge(q->ack, end)) last_yes = k;
            cov = end;
            cov_known = true;
        }
    }
    if (last_yes != SIZE_MAX)
        while (x->qh <= last_yes)
            arrive(r, xs, q->t_us, qi);
    /* then by evidence or timing, in order, up to the first that had not arrived */
    while (x->qh < x->qt) {
        const tcpw_an_pkt *p = &r->c->pkt[x->q[x->qh]];
        uint32_t sl = seglen(p);
        bool yes;
        if (has_ack && sl && !(p->flags & TCPW_RST) && !(p->marks & TCPW_AN_LOST) &&
            seq_le(p->seq, q->ack) && (!x->rcv_known || seq_gt(p->seq + sl, x->rcv_nxt)))
            yes = seq_ge(q->ack, p->seq + sl);
        else
            yes = q->t_us >= p->t_us + r->c->lag_us[xs];
        if (!yes) break;
        arrive(r, xs, q->t_us, qi);
    }
}

static void initial_states(run *r) {
    tcpw_an_conn *c = r->c;
    const tcpw_an_pkt *p0 = &c->pkt[0];
    for (int s = 0; s < 2; s++) {
        r->e[s].wscale = -1;
        r->e[s].since = c->t_first;
    }
    if ((p0->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN) {
        /* a SYN first: its sender was CLOSED; the other side listened — unless its first
         * answer is a RST (no listener: CLOSED, §3.10.7.1) */
        int s = p0->side;
        r->e[s].st = TCPW_CLOSED;
        r->e[1 - s].st = TCPW_LISTEN;
        for (size_t i = 1; i < c->npkt; i++)
            if (c->pkt[i].side != s) {
                if (c->pkt[i].flags & TCPW_RST) r->e[1 - s].st = TCPW_CLOSED;
                break;
            }
    } else if ((p0->flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK)) {
        r->e[1 - p0->side].st = TCPW_SYN_SENT;
        r->e[p0->side].st = TCPW_LISTEN;
    } else {
        /* mid-stream: both synchronized before the capture began */
        for (int s = 0; s < 2; s++)
            r->e[s].st = TCPW_ESTABLISHED;
    }
    /* window scaling (RFC 7323 §2.2): in effect when both SYNs carried the option */
    int opt[2] = {-2, -2};
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        if ((p->flags & TCPW_SYN) && opt[p->side] == -2)
            opt[p->side] = p->wscale == 0xff ? -1 : (p->wscale > 14 ? 14 : p->wscale);
    }
    if (opt[0] >= -1 && opt[1] >= -1) {
        bool on = opt[0] >= 0 && opt[1] >= 0;
        for (int s = 0; s < 2; s++)
            r->e[s].wscale = on ? opt[s] : 0;
    }
}

static void run_endpoints(run *r) {
    tcpw_an_conn *c = r->c;
    initial_states(r);
    bool midstream = r->e[0].st == TCPW_ESTABLISHED;
    for (size_t i = 0; i < c->npkt && !r->err; i++) {
        int s = c->pkt[i].side;
        arrivals_before(r, s, i);
        ep_send(r, s, i);
        if (!q_push(&r->e[1 - s], i)) r->err = TCPW_ENOMEM;
    }
    for (int s = 0; s < 2; s++)
        while (r->e[s].qh < r->e[s].qt)
            arrive(r, s, UINT64_MAX, SIZE_MAX);
    /* a mid-stream start is an inference about both sides */
    if (midstream)
        for (int s = 0; s < 2; s++)
            if (c->pkt[0].st[s] == TCPW_ESTABLISHED && !c->pkt[0].why[s])
                c->pkt[0].why[s] = TCPW_AN_WHY_MIDSTREAM;
}

/* ---- 6. the verdict ------------------------------------------------------------------------ */

static void verdict(run *r, uint64_t capture_end) {
    tcpw_an_conn *c = r->c;
    /* first FIN of each side, and whether the other side's FIN acknowledged it */
    size_t fin[2] = {SIZE_MAX, SIZE_MAX}, rst = SIZE_MAX;
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        if ((p->flags & TCPW_FIN) && fin[p->side] == SIZE_MAX) fin[p->side] = i;
        if ((p->flags & TCPW_RST) && rst == SIZE_MAX && !(p->marks & TCPW_AN_LOST)) rst = i;
    }
    size_t first_fin = fin[0] < fin[1] ? fin[0] : fin[1];
    c->rst_by = -1;
    c->close = TCPW_AN_CLOSE_NONE;
    c->closed_first_by = -1;
    bool both_fins_before_rst = fin[0] != SIZE_MAX && fin[1] != SIZE_MAX &&
                                (rst == SIZE_MAX || (fin[0] < rst && fin[1] < rst));
    if (rst != SIZE_MAX && !both_fins_before_rst) {
        c->close = TCPW_AN_CLOSE_RST;
        c->rst_by = c->pkt[rst].side;
        c->rst_pkt = (uint32_t)rst;
        c->closed_first_by = first_fin < rst ? c->pkt[first_fin].side : c->rst_by;
    } else if (first_fin != SIZE_MAX) {
        int a = c->pkt[first_fin].side, b = 1 - a;
        const tcpw_an_pkt *fa = &c->pkt[first_fin];
        uint32_t afin_end = fa->seq + fa->len + 1;
        c->closed_first_by = a;
        c->t_first_fin = fa->t_us;
        if (fin[b] == SIZE_MAX) {
            c->close = TCPW_AN_CLOSE_HALF;
        } else {
            const tcpw_an_pkt *fb = &c->pkt[fin[b]];
            c->t_second_fin = fb->t_us;
            bool b_acks = (fb->flags & TCPW_ACK) && seq_ge(fb->ack, afin_end);
            if (!b_acks) {
                c->close = TCPW_AN_CLOSE_SIMULTANEOUS;
                c->closed_first_by = 2;
            } else {
                /* what the other side sent between the first FIN and its own FIN */
                bool separate_ack = false;
                uint64_t bytes = 0;
                uint32_t hi = 0;
                bool hi_known = false;
                for (size_t i = 0; i < c->npkt; i++) {
                    const tcpw_an_pkt *p = &c->pkt[i];
                    if (p->side != b) continue;
                    if (i < first_fin) {
                        if (p->len && (!hi_known || seq_gt(p->seq + p->len, hi))) {
                            hi = p->seq + p->len;
                            hi_known = true;
                        }
                        continue;
                    }
                    if (i > fin[b]) break;
                    if (i < fin[b] && (p->flags & TCPW_ACK) && seq_ge(p->ack, afin_end))
                        separate_ack = true;
                    if (p->len) {
                        uint32_t e = p->seq + p->len;
                        if (!hi_known) {
                            bytes += p->len;
                            hi = e;
                            hi_known = true;
                        } else if (seq_gt(e, hi)) {
                            bytes += seq_gt(p->seq, hi) ? p->len : e - hi;
                            hi = e;
                        }
                    }
                }
                c->half_bytes = bytes;
                if (bytes > 0)
                    c->close = TCPW_AN_CLOSE_HALF;
                else
                    c->close = separate_ack ? TCPW_AN_CLOSE_FOUR_WAY : TCPW_AN_CLOSE_THREE_SEGMENT;
            }
        }
        if (c->close == TCPW_AN_CLOSE_HALF && c->half_bytes == 0) {
            /* count what b sent after the first FIN when it never closed */
            for (size_t i = first_fin + 1; i < c->npkt; i++)
                if (c->pkt[i].side == b && !(c->pkt[i].marks & TCPW_AN_RETRANS))
                    c->half_bytes += c->pkt[i].len;
        }
    }

    /* anomalies about resets */
    if (rst != SIZE_MAX) {
        const tcpw_an_pkt *p = &c->pkt[rst];
        int s = p->side;
        if (first_fin < rst) {
            char d[120];
            snprintf(d, sizeof d, "packet #%u: RST from the %s after the %s's FIN (packet #%u)",
                     p->recno, tcpw_an_side_name(s), tcpw_an_side_name(c->pkt[first_fin].side),
                     c->pkt[first_fin].recno);
            tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_RST_AFTER_FIN, (uint32_t)rst, s, d);
        }
    }
    /* a RST instead of a FIN from an endpoint holding data it never read (RFC 2525 §2.17):
     * its state was CLOSE_WAIT or ESTABLISHED, it had received data since it last sent */
    for (size_t i = 0; i < c->ntrans; i++) {
        const tcpw_an_trans *tr = &c->trans[i];
        if (tr->to != TCPW_CLOSED || tr->cause != TCPW_CAUSE_USER || tr->pkt == UINT32_MAX)
            continue;
        const tcpw_an_pkt *p = &c->pkt[tr->pkt];
        if (!(p->flags & TCPW_RST)) continue;
        if (tr->from != TCPW_CLOSE_WAIT && tr->from != TCPW_ESTABLISHED) continue;
        /* did the peer send payload after this side's last payload/FIN? */
        bool unread = false;
        for (size_t k = tr->pkt; k-- > 0;) {
            const tcpw_an_pkt *q = &c->pkt[k];
            if (q->side == p->side && (q->len || (q->flags & TCPW_FIN))) break;
            if (q->side != p->side && q->len && !(q->marks & TCPW_AN_LOST)) {
                unread = true;
                break;
            }
        }
        if (unread) {
            char d[120];
            snprintf(d, sizeof d,
                     "packet #%u: the %s reset in %s right after receiving data it had not "
                     "answered: closed with unread data",
                     p->recno, tcpw_an_side_name(p->side), tcpw_state_name(tr->from));
            tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_RST_UNREAD_DATA, tr->pkt, p->side, d);
        }
    }
    /* ACK of data never sent: beyond everything the peer had sent, and the peer's later
     * segments stay below it (else the capture just missed the data) */
    {
        bool hk[2] = {false, false};
        uint32_t hi[2] = {0, 0};
        for (size_t i = 0; i < c->npkt; i++) {
            const tcpw_an_pkt *p = &c->pkt[i];
            int s = p->side, o = 1 - s;
            if ((p->flags & TCPW_ACK) && !(p->flags & TCPW_RST) && hk[o] && seq_gt(p->ack, hi[o])) {
                bool later_below = false, later_any = false;
                for (size_t k = i + 1; k < c->npkt; k++)
                    if (c->pkt[k].side == o && !(c->pkt[k].flags & TCPW_RST)) {
                        later_any = true;
                        later_below = seq_lt(c->pkt[k].seq, p->ack) &&
                                      !(c->pkt[k].marks & TCPW_AN_RETRANS) &&
                                      seq_ge(c->pkt[k].seq, hi[o]);
                        break;
                    }
                if (later_any && later_below) {
                    char d[120];
                    snprintf(d, sizeof d, "packet #%u: ack %u, but the %s had sent only up to %u",
                             p->recno, p->ack - c->base[o], tcpw_an_side_name(o),
                             hi[o] - c->base[o]);
                    tcpw_an_conn_add_anomaly(c, TCPW_AN_RULE_ACK_UNSENT, (uint32_t)i, s, d);
                }
            }
            uint32_t sl = seglen(p);
            if (!(p->flags & TCPW_RST) && (!hk[s] || seq_gt(p->seq + sl, hi[s]))) {
                hi[s] = p->seq + sl;
                hk[s] = true;
            }
        }
    }

    for (int s = 0; s < 2; s++) {
        timewait_expire(r, s, capture_end);
        c->final[s] = r->e[s].st;
        c->final_since[s] = r->e[s].since;
        c->final_why[s] = 0;
        if (c->ntrans)
            for (size_t k = c->ntrans; k-- > 0;)
                if (c->trans[k].side == s) {
                    c->final_why[s] = c->trans[k].why;
                    if (c->trans[k].why == TCPW_AN_WHY_TIMEWAIT_EXPIRED)
                        c->final_since[s] = c->trans[k].t_us + 2ull * r->cfg->msl_ms * 1000u;
                    break;
                }
    }
}

/* Sorts the transitions by time (stable: equal times keep the order they were found in). */
static void sort_trans(tcpw_an_conn *c) {
    for (size_t i = 1; i < c->ntrans; i++) {
        tcpw_an_trans t = c->trans[i];
        size_t j = i;
        while (j > 0 && c->trans[j - 1].t_us > t.t_us) {
            c->trans[j] = c->trans[j - 1];
            j--;
        }
        c->trans[j] = t;
    }
}

int tcpw_an_infer(tcpw_an_conn *c, const tcpw_an_config *cfg, uint64_t capture_end) {
    if (c->npkt == 0) return 0;
    roles(c);
    marks(c);
    lags(c);
    losses(c);
    run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.cfg = cfg;
    run_endpoints(&r);
    if (!r.err) verdict(&r, capture_end);
    for (int s = 0; s < 2; s++)
        free(r.e[s].q);
    sort_trans(c);
    return r.err;
}
