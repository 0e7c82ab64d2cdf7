/* infer.c — what one connection's packets say about its two endpoints.
 *
 * The capture is read whole before anything is reported, so every step may look ahead: the
 * fate of a packet (arrived, lost, held back in the network) and the state a receipt left
 * are decided by what both endpoints sent afterwards, and a packet whose receiver's later
 * behaviour revises an earlier account is marked inferred, with the packet that shows it
 * (tcpw_an_pkt.evidence). Steps, in order (tcpw_an_infer):
 *   1. roles      client = the sender of the first SYN (the receiver of the first SYN+ACK,
 *                 else the higher port); Wireshark's relative-number bases.
 *   2. marks      per-direction analysis in capture order, as Wireshark names it:
 *                 retransmission, out-of-order, previous segment not captured (gap), duplicate
 *                 ACK, zero window, keep-alive.
 *   3. lags       each endpoint's response lag seen from the capture point: the shortest time
 *                 from a segment (or its latest copy sent before) to the acknowledgment that
 *                 first covers it.
 *   4. losses     each packet against what its receiver did next (a forward pass; each rule
 *                 cites what the receiver would have done had it arrived):
 *                   repeat_lost      repeated with no acknowledgment of it in between
 *                   unacked_lost     the receiver's ACK stops exactly at it, well after
 *                   hole_lost        beyond a hole, it drew no immediate duplicate ACK (of
 *                                    its own: out-of-order arrivals of one moment each
 *                                    draw one)
 *                   syn_lost         a SYN never answered with SYN+ACK
 *                   synack_late_lost a SYN+ACK to SYN-SENT answered only at a later copy
 *                   ack_lost         its ACK's receiver retransmitted what it acknowledged
 *                   ts_lost          the receiver's timestamp echo stayed older
 *                   rst_lost         a RST its receiver ignored
 *                 then rto_lost: a handshake ACK whose RTT sample does not give the RTO its
 *                 receiver's timer ran with, when a later segment's does (RFC 6298's);
 *                 then delayed_copies: a copy inferred lost that an unprompted answer (a closed
 *                 port's RST, a duplicate ACK) shows arrived late, held back in the network.
 *   5. endpoints  both RFC 9293 state machines, each fed its own timeline: its sends in
 *                 capture order, and the peer's segments placed where they arrived — before
 *                 its first send whose ACK covers them (evidence), or, for segments with no
 *                 sequence space, once its response lag has passed (timing), never where the
 *                 receiver's next send could not have followed them (impossible_after). A
 *                 receipt answered by a RST is revised at once (rst_answers): data after
 *                 close(), a FIN after an orphaned FIN_WAIT_2 timed out, a closed port.
 *   6. verdict    who opened and closed first, the close pattern, final states, anomalies.
 * Per connection, every look ahead follows precomputed "next packet of that side" links, so
 * the whole is linear in the packets in practice (bounded by LOSS_SCAN_MAX in the worst case).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "core/seq.h"

#define OOO_THRESHOLD_US 3000   /* Wireshark's out-of-order threshold */
#define LOSS_SCAN_MAX    200000 /* how far to look for the evidence of one loss */
#define OOO_RANGES       8
#define SMALL_CONN       64 /* connections up to this many packets need no allocation */

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
        uint64_t t = 0, t_before = 0, best = UINT64_MAX;
        for (size_t i = 0; i < c->npkt; i++) {
            const tcpw_an_pkt *p = &c->pkt[i];
            if (p->side != x) {
                uint32_t sl = seglen(p);
                /* a segment sent again before its acknowledgment: the acknowledgment may
                 * answer the repeat (Karn, RFC 6298 §3), so the time is taken from the repeat
                 * — a bound from below, which is what the shortest lag is */
                bool again = p->marks & (TCPW_AN_RETRANS | TCPW_AN_OOO);
                if (have && sl && again && seq_lt(p->seq, end) && p->t_us > t) {
                    t_before = t;
                    t = p->t_us;
                }
                if (sl && !(p->flags & TCPW_RST) && !again &&
                    (!acked_known || seq_gt(p->seq + sl, acked))) {
                    if (!have) t = t_before = p->t_us;
                    end = p->seq + sl;
                    have = true;
                }
                continue;
            }
            if (!(p->flags & TCPW_ACK) || (p->flags & TCPW_RST)) continue;
            if (have && seq_ge(p->ack, end)) {
                /* (it answers a copy that left before it, not one of the same instant) */
                uint64_t from = t < p->t_us ? t : t_before;
                uint64_t d = p->t_us >= from ? p->t_us - from : 0;
                if (d < best) best = d;
                have = false;
            }
            if (!acked_known || seq_gt(p->ack, acked)) acked = p->ack;
            acked_known = true;
        }
        c->lag_known[x] = best != UINT64_MAX;
        c->lag_us[x] = c->lag_known[x] ? best : 0;
    }
    /* a side that never acknowledged anything: take the other side's lag as the estimate of
     * its own (the same path), for placing what reached it */
    for (int x = 0; x < 2; x++)
        if (!c->lag_known[x] && c->lag_known[1 - x]) c->lag_us[x] = c->lag_us[1 - x];
}

/* ---- 4. losses ----------------------------------------------------------------------------- */

/* Whether the peer's ACK field in q shows that p (with sequence space) arrived. */
static bool ack_covers(const tcpw_an_pkt *q, const tcpw_an_pkt *p) {
    if (!(q->flags & TCPW_ACK) || (q->flags & TCPW_RST)) return false;
    uint32_t first = p->seq + ((p->flags & TCPW_SYN) ? 1u : 0u);
    if (p->flags & TCPW_SYN) return seq_ge(q->ack, first);
    return seq_gt(q->ack, p->seq);
}

/* When a packet of the other side sent at time t had surely reached endpoint b: its response
 * lag after it, and some slack for the queueing a real path and host add to the shortest
 * lag. What b sent of its own accord (sequence space: data, a FIN, a retransmission by its
 * timer) proves something about an arrival only from then on; an answer (no sequence space)
 * leaves only after what it answers. */
static uint64_t surely_arrived(const tcpw_an_conn *c, int b, uint64_t t) {
    return t + c->lag_us[b] + c->lag_us[b] / 2 + 1000;
}

/* When packet j, which repeats sequence space, left compared with when a retransmission
 * timer would have fired (RFC 6298: the first after about a second, more after the backoff of
 * earlier losses; each later one at most about twice the one before): at such a time, or
 * sooner or later than any timer — an old duplicate, or a replay long after the connection
 * was over. `ignore`: an acknowledgment whose own arrival is in question (SIZE_MAX: none). */
typedef enum { RETX_TOO_SOON, RETX_PLAUSIBLE, RETX_TOO_LATE } retx_timing;

static bool is_synack(const tcpw_an_pkt *o) {
    return (o->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == (TCPW_SYN | TCPW_ACK);
}

/* Whether o (not a RST) carries the octet at seq: a copy of it. */
static bool carries(const tcpw_an_pkt *o, uint32_t seq) {
    uint32_t ol = seglen(o);
    return ol && !(o->flags & TCPW_RST) && seq_le(o->seq, seq) && seq_gt(o->seq + ol, seq);
}

/* Whether packet k, a SYN+ACK, answered a copy of the peer's SYN that had just arrived (a
 * SYN repeated into SYN-RECEIVED is answered with the SYN+ACK again, RFC 9293 §3.10.7.4 first
 * and fourth; Linux's request socket does the same) rather than left at its timer's expiry. */
static bool answers_syn_copy(const tcpw_an_conn *c, size_t k) {
    const tcpw_an_pkt *o = &c->pkt[k];
    if (!is_synack(o)) return false;
    uint64_t lag = c->lag_us[o->side], slack = lag / 2 + 1000;
    for (size_t r = k; r-- > 0;) {
        const tcpw_an_pkt *q = &c->pkt[r];
        if (q->t_us + lag + slack < o->t_us) return false;
        if (q->side == o->side || (q->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) != TCPW_SYN ||
            q->t_us + lag > o->t_us)
            continue;
        /* one answer per copy: of two SYN+ACKs that left after it arrived, the other is the
         * timer's */
        for (size_t e = r + 1; e < k; e++)
            if (c->pkt[e].side == o->side && is_synack(&c->pkt[e]) &&
                c->pkt[e].t_us >= q->t_us + lag)
                return false;
        return true;
    }
    return false;
}

/* The longest time, over the last 16 retransmissions of packet j's sender before j, from a
 * segment's first copy to its first copy again: how slow that sender's timer has been. */
static uint64_t slowest_first_retransmission(const tcpw_an_conn *c, size_t j) {
    const tcpw_an_pkt *q = &c->pkt[j];
    uint64_t slowest = 0;
    int n = 0;
    for (size_t k = j; k-- > 0 && n < 16;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != q->side || !seglen(o) || (o->flags & TCPW_RST) ||
            !(o->marks & TCPW_AN_RETRANS))
            continue;
        n++;
        /* its previous copy; a first retransmission when that one has none before it */
        size_t m = k, copies = 0, prev = SIZE_MAX;
        while (m-- > 0 && copies < 2 && k - m < 4096) {
            if (c->pkt[m].side != q->side || !carries(&c->pkt[m], o->seq)) continue;
            if (!copies) prev = m;
            copies++;
        }
        if (copies == 1 && o->t_us - c->pkt[prev].t_us > slowest)
            slowest = o->t_us - c->pkt[prev].t_us;
    }
    return slowest;
}

/* Whether, among the packets [from, to), the peer of `side` sent an acknowledgment beyond the
 * first one it sent there — one that arrived (not inferred lost; not the packet `ignore`). */
static bool new_ack_between(const tcpw_an_conn *c, size_t from, size_t to, int side,
                            size_t ignore) {
    bool known = false;
    uint32_t first = 0;
    for (size_t k = from; k < to; k++) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side == side || !(o->flags & TCPW_ACK) || (o->flags & TCPW_RST) ||
            (o->marks & TCPW_AN_LOST) || k == ignore)
            continue;
        if (!known) {
            first = o->ack;
            known = true;
        } else if (seq_gt(o->ack, first)) {
            return true;
        }
    }
    return false;
}

/* The step of the timer before the copy at kpp of packet j's octets: kpp's time minus the
 * copy before it, when no acknowledgment of new data arrived between them (0: none such). */
static uint64_t older_step(const tcpw_an_conn *c, size_t j, size_t kpp, size_t ignore) {
    const tcpw_an_pkt *q = &c->pkt[j];
    for (size_t k = kpp; k-- > 0 && kpp - k < 4096;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != q->side || !carries(o, q->seq) || answers_syn_copy(c, k)) continue;
        if (new_ack_between(c, k, kpp, q->side, ignore)) return 0;
        return c->pkt[kpp].t_us > o->t_us ? c->pkt[kpp].t_us - o->t_us : 0;
    }
    return 0;
}

static retx_timing retransmission_timing(const tcpw_an_conn *c, size_t j, size_t ignore) {
    const tcpw_an_pkt *q = &c->pkt[j];
    uint64_t prev = 0, prevprev = 0;
    int found = 0;
    size_t kpp = 0;
    for (size_t k = j; k-- > 0 && found < 2;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != q->side || !carries(o, q->seq)) continue;
        /* (a copy that answered the peer's repeated SYN is no step of the timer's backoff) */
        if (answers_syn_copy(c, k)) continue;
        if (found == 0) {
            prev = o->t_us;
        } else {
            prevprev = o->t_us;
            kpp = k;
        }
        found++;
    }
    if (found == 2) {
        /* the backoff holds only while nothing new was acknowledged: a new ACK restarts
         * the timer from a fresh RTO (RFC 6298 5.3, 5.7) — one that arrived (not inferred
         * lost; the losses of packets before j are known by now) */
        if (new_ack_between(c, kpp, j, q->side, ignore)) found = 1;
    }
    if (!found) return RETX_PLAUSIBLE;
    uint64_t gap = q->t_us - prev;
    uint64_t limit = 15000000u; /* room for the backoff of earlier losses (1+2+4+8 s) */
    /* an RTO grown with large RTT samples (RFC 6298 §2.3) shows in the sender's own earlier
     * first retransmissions: the timer may be at least as slow again, and twice that for the
     * smoothing of one more large sample */
    uint64_t seen = slowest_first_retransmission(c, j);
    if (seen * 2 > limit) limit = seen * 2;
    if (found == 2 && prev > prevprev) {
        uint64_t before = prev - prevprev;
        if (before * 5 / 2 > limit) limit = before * 5 / 2;
        /* the timer backs off, doubling (RFC 6298 5.5) up to its ceiling (at least 60 s,
         * 2.5): a third copy sooner than that is no timer's */
        uint64_t least = before >= 60000000u ? before * 9 / 10 : before * 19 / 10;
        if (gap < least) return RETX_TOO_SOON;
        /* a sender seen doubling exactly (the step before within 2% of twice the one before
         * it, with no new acknowledgment between) doubles again (RFC 6298 5.5): a copy more
         * than 5% later than that is no timer's but a replay */
        uint64_t older = older_step(c, j, kpp, ignore);
        if (older && before * 100 >= older * 196 && before * 100 <= older * 204 &&
            gap * 100 > before * 210)
            return RETX_TOO_LATE;
    }
    return gap <= limit ? RETX_PLAUSIBLE : RETX_TOO_LATE;
}

static void mark_lost(tcpw_an_pkt *p, tcpw_an_why why, size_t evidence) {
    p->marks |= TCPW_AN_LOST;
    p->fate_why = (uint8_t)why;
    p->evidence = (uint32_t)(evidence + 1);
}

/* A copy inferred lost that in fact arrived late, held back in the network: after the
 * receiver's packet late_after, just before the packet evidence that shows it. */
static void mark_delayed(tcpw_an_pkt *p, tcpw_an_why why, size_t evidence, size_t late_after) {
    p->marks = (uint16_t)((p->marks & ~TCPW_AN_LOST) | TCPW_AN_DELAYED | TCPW_AN_LATE);
    p->fate_why = (uint8_t)why;
    p->evidence = (uint32_t)(evidence + 1);
    p->late_after = (uint32_t)(late_after + 1);
}

/* A RST its receiver ignored: it goes on sending new sequence space after the RST would have
 * arrived (RFC 9293 §3.10.7.4 second: a RST in the window closes the connection, after which
 * it sends nothing but RSTs). Sent at the very instant of the arrival, a segment may have left
 * before the RST was processed: only a later one counts. */
static void rst_lost(tcpw_an_conn *c, size_t i) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint64_t after = surely_arrived(c, b, p->t_us);
    for (size_t j = i + 1; j < c->npkt && j < i + LOSS_SCAN_MAX; j++) {
        const tcpw_an_pkt *q = &c->pkt[j];
        if (q->side != b || q->t_us <= after) continue;
        if (!(q->flags & TCPW_RST) && seglen(q) > 0) mark_lost(p, TCPW_AN_WHY_LOST_RST, j);
        break;
    }
}

/* A segment with sequence space that its sender repeated, with no acknowledgment of it from
 * the receiver in between, never arrived (RFC 9293 §3.7.2: what arrives is acknowledged;
 * RFC 6298 §5, RFC 5681 §3.2: what is not, is sent again). Repeats within one round trip
 * prove nothing (the sender could not have heard of a loss yet: a SYN+ACK answering a
 * repeated SYN while its own timer fires), and neither does a repeat answered at once with a
 * duplicate ACK below it: the segment arrived beyond a hole (RFC 5681 §4.2). */
static void repeat_lost(tcpw_an_conn *c, size_t i, bool b_ack_known, uint32_t b_ack,
                        const uint32_t *next_b, const uint32_t *next_rep_a) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint64_t lb = c->lag_us[b], rtt = c->lag_us[0] + c->lag_us[1];
    bool beyond_hole = false;
    /* the part of it that was new to the receiver starts at `fresh` */
    uint32_t fresh = b_ack_known && seq_gt(b_ack, p->seq) ? b_ack : p->seq;
    /* the receiver's packets and the sender's repeats (marked retransmission or out of order),
     * in capture order */
    size_t jb = next_b[i + 1], ja = next_rep_a[i + 1];
    while (jb < c->npkt || ja < c->npkt) {
        size_t j = jb < ja ? jb : ja;
        if (j >= i + LOSS_SCAN_MAX) return;
        if (j == jb)
            jb = next_b[j + 1];
        else
            ja = next_rep_a[j + 1];
        const tcpw_an_pkt *q = &c->pkt[j];
        if (q->side == b) {
            if (q->flags & TCPW_RST) return;
            if ((q->flags & TCPW_ACK) &&
                (fresh != p->seq ? seq_gt(q->ack, fresh) : ack_covers(q, p)))
                return;
            /* a pure ACK that acknowledges nothing new, sent as this segment arrived, is the
             * immediate duplicate ACK for data beyond a hole */
            bool dup =
                seglen(q) == 0 && (q->flags & TCPW_ACK) && b_ack_known && seq_le(q->ack, b_ack);
            if (dup && seq_lt(q->ack, p->seq) && q->t_us >= p->t_us + lb &&
                q->t_us <= p->t_us + 2 * lb + 1000)
                beyond_hole = true;
            if ((q->flags & TCPW_ACK) && (!b_ack_known || seq_gt(q->ack, b_ack))) {
                b_ack = q->ack;
                b_ack_known = true;
            }
            /* an acknowledgment that reaches exactly this segment after it would have
             * arrived: everything before it is in, and it is not — a cumulative ACK covers
             * what was queued beyond a hole once the hole is filled (RFC 9293 §3.10.7.4
             * seventh) */
            if ((q->flags & TCPW_ACK) && q->ack == p->seq && q->t_us >= p->t_us + lb)
                beyond_hole = false;
            continue;
        }
        uint32_t ql = seglen(q);
        /* a SYN+ACK after one's own SYN is the simultaneous open's next step
         * (RFC 9293 §3.10.7.3), not a repeat of the SYN */
        if ((p->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN &&
            (q->flags & (TCPW_SYN | TCPW_ACK)) == (TCPW_SYN | TCPW_ACK))
            continue;
        if (ql && !(q->flags & TCPW_RST) && seq_le(q->seq, fresh) && seq_gt(q->seq + ql, fresh) &&
            q->t_us - p->t_us >= rtt) {
            /* behind a hole that is still open nothing beyond it is acknowledged, arrived or
             * not, and the sender sends it again either way: the acknowledgment that follows
             * the filling of the hole decides (unacked_lost) */
            bool hole_open = b_ack_known && seq_lt(b_ack, p->seq) && !(p->flags & TCPW_SYN);
            if (!beyond_hole && !hole_open) mark_lost(p, TCPW_AN_WHY_LOST, j);
            return;
        }
    }
}

/* An acknowledgment that stops exactly at a segment, sent well after that segment would
 * have arrived, shows that it did not: a segment that arrives in order moves RCV.NXT past it
 * (RFC 9293 §3.10.7.4 seventh), and every ACK carries RCV.NXT. */
static void unacked_lost(tcpw_an_conn *c, size_t i, const uint32_t *next_b) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint64_t lb = c->lag_us[b], after = p->t_us + lb + lb / 2 + 1000;
    for (size_t j = next_b[i + 1]; j < c->npkt && j < i + LOSS_SCAN_MAX; j = next_b[j + 1]) {
        const tcpw_an_pkt *q = &c->pkt[j];
        if (!(q->flags & TCPW_ACK) || (q->flags & TCPW_RST)) continue;
        if (ack_covers(q, p)) return;
        if (q->t_us >= after && q->ack == p->seq) {
            mark_lost(p, TCPW_AN_WHY_LOST_UNACKED, j);
            return;
        }
    }
}

/* Packet i owed its receiver b an immediate answer (why says which), and `owed` earlier
 * arrivals of the same moment were owed one each too: when b sent no more than those answers
 * while this one would have arrived, and its next packet left well after that, b never got
 * it. next_b: b's next packet. */
static void silent_at_arrival(tcpw_an_conn *c, size_t i, const uint32_t *next_b, tcpw_an_why why,
                              unsigned owed) {
    tcpw_an_pkt *p = &c->pkt[i];
    uint64_t lb = c->lag_us[1 - p->side], arrival = p->t_us + lb;
    unsigned answers = 0;
    for (size_t j = next_b[i + 1]; j < c->npkt; j = next_b[j + 1]) {
        const tcpw_an_pkt *q = &c->pkt[j];
        if (q->t_us < arrival) continue;
        if (q->t_us > arrival + lb / 2 + 1000) {
            mark_lost(p, why, j);
            return;
        }
        if (++answers > owed) return;
    }
}

/* How many packets of p's sender before packet i, not inferred lost, arrived beyond the same
 * hole (above hole_seq, the first octet of the lost segment) after the receiver's last packet
 * before i's arrival: each was owed a duplicate ACK of its own (RFC 5681 §4.2) that the
 * receiver had not sent yet, so they share the answers at i's arrival with it. (Segments in
 * order before the hole may draw answers too, at most one for each; they are not counted, so
 * the count is a lower bound.) */
static unsigned owed_dupacks(const tcpw_an_conn *c, size_t i, uint32_t hole_seq,
                             const uint32_t *next_b) {
    const tcpw_an_pkt *p = &c->pkt[i];
    int a = p->side;
    uint64_t la = c->lag_us[1 - a], arrival = p->t_us + la, last_b = 0;
    for (size_t k = i; k-- > 0;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != a && o->t_us < arrival) {
            last_b = o->t_us;
            break;
        }
    }
    for (size_t j = next_b[i + 1]; j < c->npkt && c->pkt[j].t_us < arrival; j = next_b[j + 1])
        last_b = c->pkt[j].t_us;
    unsigned owed = 0;
    for (size_t k = i, seen = 0; k-- > 0 && seen < 64;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != a) continue;
        seen++;
        if (o->t_us + la < last_b || (o->t_us + la == last_b && last_b)) break;
        if (!seglen(o) || (o->flags & (TCPW_SYN | TCPW_RST)) || (o->marks & TCPW_AN_LOST) ||
            !seq_gt(o->seq, hole_seq))
            continue;
        owed++;
    }
    return owed;
}

/* Whether p's sender sent its first octet again after it, among its next 64 repeats of
 * sequence space (next_rep_a: its next retransmission or out-of-order segment). */
static bool sent_again(const tcpw_an_conn *c, size_t i, const uint32_t *next_rep_a) {
    const tcpw_an_pkt *p = &c->pkt[i];
    int seen = 0;
    for (size_t k = next_rep_a[i + 1]; k < c->npkt && seen < 64; k = next_rep_a[k + 1], seen++) {
        if (carries(&c->pkt[k], p->seq)) return true;
    }
    return false;
}

/* A segment that arrives beyond a hole — an earlier segment of its sender was lost and not
 * yet sent again — is answered at once with a duplicate ACK (RFC 5681 §4.2, RFC 9293
 * §3.10.7.4 first: an out-of-order segment is acknowledged). A receiver that went on
 * sending, but sent nothing as this one would have arrived, never got it. */
static void hole_lost(tcpw_an_conn *c, size_t i, uint32_t b_ack, const uint32_t *next_b,
                      const uint32_t *next_rep_a) {
    tcpw_an_pkt *p = &c->pkt[i];
    int a = p->side, b = 1 - a;
    if (!c->lag_known[b] || (p->flags & TCPW_SYN) || !seq_gt(p->seq, b_ack)) return;
    /* the hole: a lost segment of a before it, starting at or after b_ack (hole_seq: the
     * lowest such, where the receiver's queue of out-of-order data begins) */
    bool hole = false;
    uint32_t hole_seq = 0;
    for (size_t k = i, seen = 0; k-- > 0 && seen < 64;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != a || !seglen(o) || (o->flags & TCPW_RST)) continue;
        seen++;
        if (seq_lt(o->seq, b_ack)) break;
        if (!(o->marks & TCPW_AN_LOST)) {
            if (seq_le(o->seq, b_ack)) break; /* it was filled */
            continue;
        }
        if (!hole || seq_lt(o->seq, hole_seq)) hole_seq = o->seq;
        hole = true;
    }
    if (!hole) return;
    /* Sharing the answers with other arrivals says only that one of them drew none; when
     * nothing else ever carried p's octets it reached the receiver at some time anyway (held
     * back, like any of the others), and which one was late changes no state. */
    unsigned owed = owed_dupacks(c, i, hole_seq, next_b);
    if (owed && !sent_again(c, i, next_rep_a)) return;
    silent_at_arrival(c, i, next_b, TCPW_AN_WHY_LOST_NO_DUPACK, owed);
}

/* A segment that fills the receiver's hole — the receiver, holding data beyond it, had been
 * sending duplicate ACKs for exactly its first octet — is acknowledged at once (RFC 5681 §4.2:
 * "a TCP receiver SHOULD send an immediate ACK when the incoming segment fills in all or part
 * of a gap"; RFC 9293 §3.10.7.4 seventh). A receiver whose next packet left well after this one
 * would have arrived never got it. */
static void fill_lost(tcpw_an_conn *c, size_t i, uint32_t b_ack, const uint32_t *next_b) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    if (!c->lag_known[b] || (p->flags & TCPW_SYN) || p->seq != b_ack) return;
    bool dup = false;
    for (size_t k = i, seen = 0; k-- > 0 && seen < 64 && !dup;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != b) continue;
        seen++;
        if (!(o->flags & TCPW_ACK) || o->ack != b_ack) break;
        dup = o->marks & TCPW_AN_DUP_ACK;
    }
    if (!dup) return;
    /* (and the data beyond it: a segment of its sender's above it, not inferred lost) */
    bool beyond = false;
    for (size_t k = i, seen = 0; k-- > 0 && seen < 64 && !beyond;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != p->side || !seglen(o) || (o->flags & TCPW_RST)) continue;
        seen++;
        beyond = seq_gt(o->seq, p->seq) && !(o->marks & TCPW_AN_LOST);
    }
    if (!beyond) return;
    silent_at_arrival(c, i, next_b, TCPW_AN_WHY_LOST_NO_FILL_ACK, 0);
}

/* A SYN reaching LISTEN or SYN-SENT is answered with <SYN,ACK> (RFC 9293 §3.10.7.2 third,
 * §3.10.7.3 fourth: in a simultaneous open too), or at a closed port with RST (§3.10.7.1).
 * A SYN whose receiver went on to acknowledge it with a plain ACK and never with a SYN+ACK
 * never reached it: the receiver learnt the sender's SYN from its SYN+ACK instead. */
static void syn_lost(tcpw_an_conn *c, size_t i) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint64_t arrival = p->t_us + c->lag_us[b];
    /* a new connection's SYN (its sender's earlier SYN here had another ISN) that met the old
     * connection still open at b (resplit in analyze.c): b answers with a challenge ACK in the
     * old numbers (RFC 5961 §4.2), not a SYN+ACK */
    bool reopening = false;
    for (size_t k = 0; k < i && !reopening; k++)
        reopening = c->pkt[k].side == p->side &&
                    (c->pkt[k].flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN &&
                    c->pkt[k].seq != p->seq;
    for (size_t j = i + 1; j < c->npkt && j < i + LOSS_SCAN_MAX; j++) {
        const tcpw_an_pkt *q = &c->pkt[j];
        if (q->side != b) continue;
        if ((q->flags & TCPW_ACK) && (q->flags & (TCPW_SYN | TCPW_RST)) && q->ack == p->seq + 1)
            return; /* the answer: <SYN,ACK>, or a closed port's <RST,ACK> */
        /* (sent before the SYN could have arrived; its own SYN, a send of its own, only
         * once the SYN had surely arrived) */
        if (q->t_us <= arrival || (seglen(q) && q->t_us <= surely_arrived(c, b, p->t_us))) continue;
        if (reopening && (q->flags & (TCPW_ACK | TCPW_SYN | TCPW_RST)) == TCPW_ACK &&
            q->ack != p->seq + 1)
            return;
        /* anything else after the arrival — an ACK of the SYN learnt from a SYN+ACK, a RST
         * answering another segment, its own SYN sent again bare (in SYN-RECEIVED it would
         * repeat a SYN+ACK) — shows the receiver never got it */
        mark_lost(p, TCPW_AN_WHY_LOST_SYN, j);
        return;
    }
}

/* An acceptable SYN+ACK reaching SYN-SENT is acknowledged at once (RFC 9293 §3.10.7.3
 * fourth: "form an ACK segment ... and send it"). When the receiver — still in SYN-SENT: it
 * never sent a SYN+ACK of its own — acknowledged the SYN only well after this copy would have
 * arrived, just as a later copy arrived, it answered that one: this copy never got there. */
static void synack_late_lost(tcpw_an_conn *c, size_t i) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint64_t lb = c->lag_us[b];
    if (!c->lag_known[b]) return;
    size_t later = SIZE_MAX;
    for (size_t j = i + 1; j < c->npkt && j < i + LOSS_SCAN_MAX; j++) {
        const tcpw_an_pkt *q = &c->pkt[j];
        if (q->side != b) {
            if (later == SIZE_MAX &&
                (q->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == (TCPW_SYN | TCPW_ACK) &&
                q->seq == p->seq)
                later = j;
            continue;
        }
        /* (its own bare SYN sent again before this one could arrive: still in SYN-SENT) */
        if ((q->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN && q->t_us < p->t_us + lb)
            continue;
        if (q->flags & (TCPW_SYN | TCPW_RST)) return; /* not in SYN-SENT, or gone */
        if (!(q->flags & TCPW_ACK) || !seq_gt(q->ack, p->seq)) continue;
        /* the first acknowledgment of the SYN */
        if (q->t_us > p->t_us + lb + lb / 2 + 1000 && later != SIZE_MAX &&
            q->t_us >= c->pkt[later].t_us + lb)
            mark_lost(p, TCPW_AN_WHY_LOST_LATE_ANSWER, j);
        return;
    }
}

/* p = pkt[i] acknowledges the FIN that b sent again in q = pkt[j], a FIN b sent after it had
 * received p's sender's FIN (it acknowledges it): b was in LAST_ACK, and p, had it arrived,
 * closed it (RFC 9293 §3.10.7.4 fifth, LAST-ACK). A closed endpoint answers every segment but
 * a RST with a RST (§3.10.7.1), an endpoint still in LAST_ACK takes the peer's ACK of the FIN
 * quietly. So the peer's answer to q tells: a RST from b for it (CLOSED_RST: b had closed, p
 * arrived and q was an old duplicate held in the network), or nothing of the kind — b sent
 * nothing more, or something else (CLOSED_SILENT: b had not closed, p never arrived). *answer:
 * the index of that answer. */
typedef enum { CLOSED_NO_SIGN, CLOSED_RST, CLOSED_SILENT } closed_sign;

static closed_sign answer_to_fin_copy(const tcpw_an_conn *c, size_t i, size_t j, size_t *answer) {
    const tcpw_an_pkt *p = &c->pkt[i], *q = &c->pkt[j];
    int a = p->side, b = q->side;
    if (!(q->flags & TCPW_FIN) || !(q->flags & TCPW_ACK) || p->ack != q->seq + q->len + 1)
        return CLOSED_NO_SIGN;
    bool a_fin = false;
    for (size_t k = i + 1; k-- > 0 && !a_fin;) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side == a && (o->flags & TCPW_FIN) && !(o->flags & TCPW_RST)) {
            if (!seq_ge(q->ack, o->seq + o->len + 1)) return CLOSED_NO_SIGN;
            a_fin = true;
        }
    }
    if (!a_fin) return CLOSED_NO_SIGN;
    size_t k = j + 1;
    while (k < c->npkt && c->pkt[k].side != a)
        k++;
    if (k >= c->npkt || (c->pkt[k].flags & TCPW_RST) || !(c->pkt[k].flags & TCPW_ACK))
        return CLOSED_NO_SIGN;
    *answer = k;
    for (size_t m = k + 1; m < c->npkt; m++)
        if (c->pkt[m].side == b)
            return (c->pkt[m].flags & (TCPW_RST | TCPW_ACK)) == TCPW_RST &&
                           c->pkt[m].seq == c->pkt[k].ack
                       ? CLOSED_RST
                       : CLOSED_SILENT;
    /* b sent nothing more: silence only if the capture went on past when its RST would have
     * left (a capture may stop at any moment, and then shows nothing either way) */
    uint64_t rst_by = surely_arrived(c, b, c->pkt[k].t_us);
    return c->capture_end > rst_by ? CLOSED_SILENT : CLOSED_NO_SIGN;
}

/* A segment whose ACK field acknowledged something new of its receiver never arrived when
 * the receiver, having had time to get it, sent again what it acknowledged at a plausible
 * retransmission time (RFC 6298 §5: only what is unacknowledged is retransmitted) — or, at
 * another time before its timer would have fired (an old duplicate of its FIN, held in the
 * network), when the ACK would have closed it and it did not answer like a closed port
 * (answer_to_fin_copy). A closed port's RST for the answer to that FIN shows it arrived,
 * whenever the copy came.
 * next_seq[j]: the first packet at or after j of the receiver's side with sequence space. */
static void ack_lost(tcpw_an_conn *c, size_t i, const uint32_t *next_seq) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint64_t after = surely_arrived(c, b, p->t_us);
    for (size_t j = next_seq[i + 1]; j < c->npkt; j = next_seq[j + 1]) {
        const tcpw_an_pkt *q = &c->pkt[j];
        if (q->side != b) continue;
        /* (sent at the very instant of the arrival, it may have left before: a timer's) */
        if (q->t_us <= after) continue;
        if ((q->flags & TCPW_RST) || !seq_lt(q->seq, p->ack) || (q->marks & TCPW_AN_KEEPALIVE))
            return;
        /* (a copy later than the timer would have fired shows the timer had stopped) */
        retx_timing when = retransmission_timing(c, j, i);
        size_t k = SIZE_MAX;
        closed_sign sign = answer_to_fin_copy(c, i, j, &k);
        if (sign == CLOSED_RST) return;
        if (when == RETX_PLAUSIBLE)
            mark_lost(p, TCPW_AN_WHY_LOST_ACK, j);
        else if (when == RETX_TOO_SOON && sign == CLOSED_SILENT)
            mark_lost(p, TCPW_AN_WHY_LOST_NO_RST, k);
        return;
    }
}

/* Whether the receiver of packet j shows that it never held j's first octet after packet i:
 * its first acknowledgment after i that reaches j's sequence number stops exactly there —
 * everything before had arrived, j's octets had not (an out-of-order segment it held would
 * have moved RCV.NXT past them as soon as the gap before them closed, RFC 9293 §3.10.7.4
 * seventh). */
static bool never_held(const tcpw_an_conn *c, size_t j, size_t i) {
    const tcpw_an_pkt *q = &c->pkt[j];
    for (size_t k = i + 1; k < c->npkt && k < i + LOSS_SCAN_MAX; k++) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side == q->side || !(o->flags & TCPW_ACK) || (o->flags & TCPW_RST) ||
            seq_lt(o->ack, q->seq))
            continue;
        return o->ack == q->seq;
    }
    return false;
}

/* Answers to a copy held back in the network. Two kinds of segment are only ever sent in
 * answer to one that arrived: a RST <SEQ=X> without ACK, a closed port's answer to a segment
 * whose ACK field was X (RFC 9293 §3.10.7.1), from a side whose FIN had been acknowledged
 * (nothing left of it: CLOSED after LAST-ACK); and a pure ACK repeating the previous one
 * exactly (same acknowledgment, same window: not a delayed ACK of new data, not a window
 * update), the answer to an old duplicate (§3.10.7.4 first). When the other side sent
 * nothing that could have arrived just before, what arrived was an old duplicate (§3.4): a copy
 * of that side that had not arrived in time (inferred lost) — for the RST, one whose ACK field
 * was X — arrived then, just before the answer. Returns how many such copies it found. */
static size_t delayed_copies(tcpw_an_conn *c) {
    size_t found = 0;
    bool fin_known[2] = {false, false}, fin_acked[2] = {false, false}, prev_known[2] = {0, 0};
    uint32_t fin_end[2] = {0, 0}, prev_ack[2] = {0, 0};
    uint16_t prev_win[2] = {0, 0};
    for (size_t i = 0; i < c->npkt; i++) {
        const tcpw_an_pkt *p = &c->pkt[i];
        int b = p->side, a = 1 - b;
        bool is_rst = (p->flags & (TCPW_RST | TCPW_ACK)) == TCPW_RST && fin_acked[b];
        bool is_dup = (p->flags & (TCPW_SYN | TCPW_FIN | TCPW_RST | TCPW_ACK)) == TCPW_ACK &&
                      p->len == 0 && !(p->marks & TCPW_AN_KEEPALIVE) && prev_known[b] &&
                      p->ack == prev_ack[b] && p->win == prev_win[b];
        if (is_rst || is_dup) {
            /* the other side's last segment that could have prompted it (for the RST: one
             * acknowledging X; for the ACK: one with sequence space), and the latest copy
             * inferred lost that could have */
            size_t prompt = SIZE_MAX, cand = SIZE_MAX, before = SIZE_MAX;
            for (size_t j = i; j-- > 0 && j + LOSS_SCAN_MAX > i;) {
                const tcpw_an_pkt *q = &c->pkt[j];
                if (q->side == b) {
                    if (before == SIZE_MAX) before = j;
                    continue;
                }
                /* (a RST prompts an ACK too: the challenge ACK of RFC 5961 §3.2; and so does a
                 * keep-alive, RFC 1122 §4.2.3.6) */
                if (is_rst
                        ? (q->flags & TCPW_RST) || !(q->flags & TCPW_ACK) || q->ack != p->seq
                        : !seglen(q) && !(q->flags & TCPW_RST) && !(q->marks & TCPW_AN_KEEPALIVE))
                    continue;
                if (prompt == SIZE_MAX) {
                    prompt = j;
                    if (q->t_us + 2 * c->lag_us[b] + 1000 >= p->t_us) break; /* it answers it */
                }
                /* (a SYN arriving late in a synchronized state draws a challenge ACK that
                 * differs, RFC 5961 §4.2; a copy its receiver's later ACK shows it never
                 * held did not arrive late either) */
                if (!(q->flags & TCPW_RST) && !(is_dup && (q->flags & TCPW_SYN)) &&
                    (q->marks & TCPW_AN_LOST) && seglen(q) && !never_held(c, j, i)) {
                    cand = j;
                    break;
                }
            }
            if (cand != SIZE_MAX && before != SIZE_MAX) {
                mark_delayed(&c->pkt[cand], TCPW_AN_WHY_DELAYED, i, before);
                found++;
            }
        }
        if ((p->flags & TCPW_FIN) && !(p->flags & TCPW_RST)) {
            fin_end[b] = p->seq + p->len + 1;
            fin_known[b] = true;
        }
        if ((p->flags & TCPW_ACK) && !(p->flags & TCPW_RST)) {
            if (fin_known[a] && seq_ge(p->ack, fin_end[a])) fin_acked[a] = true;
            prev_ack[b] = p->ack;
            prev_win[b] = p->win;
            prev_known[b] = true;
        }
    }
    return found;
}

/* A segment inferred lost whose sequence space its receiver acknowledged later, when no other
 * copy of any of it was sent before that acknowledgment (or only copies inferred lost
 * themselves): only this, the first, can have brought it (RFC 9293 §3.10.7.4 seventh: what is
 * acknowledged arrived). Held back in the network (§3.4: segments may be delayed and arrive out of
 * order), it reached the receiver late, just before the acknowledgment that first covers it.
 * Returns how many it found. */
static size_t late_arrivals(tcpw_an_conn *c) {
    size_t found = 0;
    for (size_t i = 0; i < c->npkt; i++) {
        tcpw_an_pkt *p = &c->pkt[i];
        uint32_t sl = seglen(p);
        /* (a repeat, or a segment below what its sender had sent: an earlier copy exists) */
        if (!(p->marks & TCPW_AN_LOST) || !sl || (p->flags & (TCPW_RST | TCPW_SYN)) ||
            (p->marks & (TCPW_AN_RETRANS | TCPW_AN_OOO | TCPW_AN_KEEPALIVE)))
            continue;
        int a = p->side;
        uint32_t end = p->seq + sl;
        size_t before = SIZE_MAX;
        for (size_t j = i + 1; j < c->npkt && j < i + LOSS_SCAN_MAX; j++) {
            const tcpw_an_pkt *q = &c->pkt[j];
            if (q->side == a) {
                uint32_t ql = seglen(q);
                if (ql && !(q->flags & TCPW_RST) && !(q->marks & TCPW_AN_LOST) &&
                    seq_lt(q->seq, end) && seq_gt(q->seq + ql, p->seq))
                    break; /* another copy that may have brought them */
                continue;
            }
            if ((q->flags & TCPW_RST) || !(q->flags & TCPW_ACK) || !seq_ge(q->ack, end)) {
                before = j;
                continue;
            }
            if (before == SIZE_MAX) break; /* acknowledged at once: not a late arrival */
            mark_delayed(p, TCPW_AN_WHY_DELAYED_ACKED, j, before);
            found++;
            break;
        }
    }
    return found;
}

/* An in-sequence segment carrying a timestamp becomes its receiver's TS.Recent, which the
 * receiver echoes in every segment it sends (RFC 7323 §4.3: TS.Recent takes SEG.TSval when
 * SEG.SEQ =< Last.ACK.sent, and TSecr carries TS.Recent). When the receiver's first segment
 * sent after this one would have arrived echoes an older timestamp, it never got it.
 * b_ack: the highest acknowledgment the receiver had sent before this one left. */
static void ts_lost(tcpw_an_conn *c, size_t i, uint32_t b_ack, const uint32_t *next_b) {
    tcpw_an_pkt *p = &c->pkt[i];
    int b = 1 - p->side;
    uint32_t sl = seglen(p);
    if (!p->has_ts || (p->flags & TCPW_SYN) || seq_gt(p->seq, b_ack)) return;
    uint64_t arrival = p->t_us + c->lag_us[b];
    for (size_t j = next_b[i + 1]; j < c->npkt; j = next_b[j + 1]) {
        const tcpw_an_pkt *q = &c->pkt[j];
        /* only an acceptable segment is recorded (RFC 7323 §5.3 R2 before R3): one whose
         * sequence space the receiver had all acknowledged before it came is an old duplicate */
        if (sl && (q->flags & TCPW_ACK) && !(q->flags & TCPW_RST) && q->t_us <= arrival &&
            seq_ge(q->ack, p->seq + sl))
            return;
        if (q->t_us < arrival || !q->has_ts || (q->flags & (TCPW_SYN | TCPW_RST))) continue;
        /* an answer (no sequence space of its own) leaves after what it answers; a send of
         * its own counts only once the segment had surely arrived */
        if (seglen(q) && q->t_us <= surely_arrived(c, b, p->t_us)) continue;
        if (seq_lt(q->tsecr, p->tsval)) mark_lost(p, TCPW_AN_WHY_LOST_TS, j);
        return;
    }
}

/* ---- an RTO that only one RTT sample explains ---------------------------------------------- */

/* An RTT estimator as RFC 6298 §2 runs it (µs): the first sample R gives SRTT = R and RTTVAR =
 * R/2 (§2.2), each later one RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| and SRTT = 7/8 SRTT + 1/8 R'
 * (§2.3); RTO = SRTT + max(G, 4 RTTVAR) with a clock granularity G of 1 ms, rounded up to §2.4's
 * one second (and at most 120 s). */
typedef struct rto_est {
    uint64_t srtt, rttvar;
} rto_est;

static rto_est est_first(uint64_t r) {
    rto_est e = {r ? r : 1, r / 2};
    return e;
}

static void est_update(rto_est *e, uint64_t r) {
    uint64_t delta = e->srtt > r ? e->srtt - r : r - e->srtt;
    e->rttvar = (3 * e->rttvar + delta) / 4;
    e->srtt = (7 * e->srtt + r) / 8;
    if (!e->srtt) e->srtt = 1;
}

static uint64_t est_rto(const rto_est *e) {
    uint64_t k = 4 * e->rttvar, rto = e->srtt + (k > 1000 ? k : 1000);
    return rto < 1000000u ? 1000000u : rto > 120000000u ? 120000000u : rto;
}

/* The RTO with the timer backed off `back` times over (§5.5: doubled at each expiry, up to
 * the 120 s maximum). */
static uint64_t rto_backed(const rto_est *e, uint64_t back) {
    uint64_t rto = est_rto(e) * back;
    return rto > 120000000u ? 120000000u : rto;
}

/* Whether a timer armed at `armed` and still running at `t`, with no expiry in between, ran
 * past RTO p1 (by more than 5 ms) but not p0 (by 2 ms to spare): p0 was the one. */
static bool outlived(uint64_t armed, uint64_t t, uint64_t p1, uint64_t p0) {
    return t > armed + p1 + 5000 && t + 2000 <= armed + p0;
}

/* Endpoint b's timestamp clock, taken to count milliseconds: its offset from the capture's
 * clock, as b's first packet with timestamps shows it. */
static bool ts_clock(const tcpw_an_conn *c, int b, uint32_t *off) {
    for (size_t k = 0; k < c->npkt; k++) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side != b || !o->has_ts) continue;
        *off = o->tsval - (uint32_t)(o->t_us / 1000u);
        return true;
    }
    return false;
}

/* The RTT sample (µs) an endpoint with timestamp clock offset `off` takes from packet q of its
 * peer arriving at `arr`: its clock then minus the TSval that q echoes (RFC 7323 §4.1). */
static bool ts_sample(const tcpw_an_pkt *q, uint32_t off, uint64_t arr, uint64_t *r) {
    if (!q->has_ts || !q->tsecr) return false;
    uint32_t d = (uint32_t)(arr / 1000u) + off - q->tsecr;
    if (d > 600000u) return false; /* not this clock, or not milliseconds */
    *r = (uint64_t)d * 1000u;
    return true;
}

/* Whether o is an acknowledgment that arrived (not a RST, not inferred lost). */
static bool ack_arrived(const tcpw_an_pkt *o) {
    return (o->flags & TCPW_ACK) && !(o->flags & TCPW_RST) && !(o->marks & TCPW_AN_LOST);
}

/* The first packet of b's peer taken for delivered that acknowledges b's SYN, when it is a
 * pure ACK, or in a simultaneous open a SYN+ACK (packet i): had it arrived, b's first RTT sample
 * came from it; lost, from the next of its sender's segments that acknowledged the SYN. The first
 * time b's timer then ran out for the data it sent next tells which: when its length is the RTO of
 * one sample and not of the other, that one was taken. A stack whose RTO is not RFC 6298's (Linux's
 * 200 ms minimum) matches neither, and nothing is decided. */
static void rto_lost(tcpw_an_conn *c, int b) {
    int a = 1 - b;
    /* b's SYN, and the first packet of a taken for delivered that acknowledges it */
    size_t syn = SIZE_MAX, i = SIZE_MAX;
    bool simultaneous = false; /* a sent a SYN of its own (no ACK) before i */
    for (size_t k = 0; k < c->npkt && i == SIZE_MAX; k++) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side == b && (o->flags & TCPW_SYN) && !(o->flags & TCPW_RST)) syn = k;
        if (o->side == a && (o->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN)
            simultaneous = true;
        if (o->side == a && syn != SIZE_MAX && ack_arrived(o) && seq_gt(o->ack, c->pkt[syn].seq))
            i = k;
    }
    if (i == SIZE_MAX || !c->lag_known[b]) return;
    tcpw_an_pkt *p = &c->pkt[i];
    /* (in a simultaneous open, a's SYN+ACK is what acknowledges b's SYN in SYN-RECEIVED,
     * RFC 9293 §3.10.7.4 fifth, and b's first sample comes from it just the same) */
    if ((p->flags & (TCPW_FIN | TCPW_RST | TCPW_ACK)) != TCPW_ACK || p->len ||
        ((p->flags & TCPW_SYN) && !simultaneous) || (p->marks & TCPW_AN_DELAYED) ||
        p->ack != c->pkt[syn].seq + 1)
        return;
    uint64_t lag = c->lag_us[b], arr_p = p->t_us + lag;
    /* the next segment of a that acknowledges the SYN and arrived */
    size_t q = SIZE_MAX;
    for (size_t k = i + 1; k < c->npkt && q == SIZE_MAX; k++) {
        const tcpw_an_pkt *o = &c->pkt[k];
        if (o->side == a && ack_arrived(o) && seq_gt(o->ack, c->pkt[syn].seq)) q = k;
    }
    if (q == SIZE_MAX) return;
    uint64_t arr_q = c->pkt[q].t_us + lag, r1, r0;
    uint32_t off;
    if (!ts_clock(c, b, &off) || !ts_sample(p, off, arr_p, &r1) ||
        !ts_sample(&c->pkt[q], off, arr_q, &r0))
        return;
    /* From q's arrival on, b's estimator under each hypothesis (RFC 6298 §2.3: every later
     * segment of a that arrived and acknowledged new data of b takes a sample) and b's timer
     * (§5.1: started by sequence space sent with nothing outstanding; §5.3: restarted by an
     * acknowledgment of new data with some still outstanding), until b's first copy again of
     * something it had sent: the time its timer had run then is the RTO of one of them. Or
     * until b is seen doing anything else (its next send, an acknowledgment reaching it) when
     * the timer had run past the shorter RTO with no copy sent but not yet the longer: only
     * the longer was running (§5.4: at expiry the earliest segment goes again at once). The
     * second reading takes the estimator's RTO as a floor as well; a stack whose RTO is longer
     * than RFC 6298's could be misread by it. An expiry both RTOs explain decides nothing: the
     * timer, backed off (§5.5, §5.6), runs on to the next, until an acknowledgment of new data
     * ends the backoff (the RTO comes from the estimates again). */
    rto_est h1 = est_first(r1), h0 = est_first(r0);
    uint32_t una = c->pkt[syn].seq + 1, max = una;
    uint64_t armed = 0, back = 1;
    bool running = false, sent = false;
    size_t kb = i + 1, ka = q + 1; /* (b sending before q arrived refutes h0 at once) */
    for (;;) {
        while (kb < c->npkt && c->pkt[kb].side != b)
            kb++;
        while (ka < c->npkt && (c->pkt[ka].side != a || !ack_arrived(&c->pkt[ka])))
            ka++;
        if (kb >= c->npkt) return;
        const tcpw_an_pkt *ob = &c->pkt[kb];
        if (ka < c->npkt && c->pkt[ka].t_us + lag <= ob->t_us) {
            const tcpw_an_pkt *oa = &c->pkt[ka++];
            uint64_t ta = oa->t_us + lag, r;
            if (running && outlived(armed, ta, rto_backed(&h1, back), rto_backed(&h0, back))) {
                mark_lost(p, TCPW_AN_WHY_LOST_RTO, (size_t)(oa - c->pkt));
                return;
            }
            if (!sent || !seq_gt(oa->ack, una) || seq_gt(oa->ack, max)) continue;
            if (ts_sample(oa, off, ta, &r)) {
                est_update(&h1, r);
                est_update(&h0, r);
            }
            una = oa->ack;
            running = seq_lt(una, max);
            armed = ta;
            back = 1;
            continue;
        }
        kb++;
        uint32_t ol = seglen(ob);
        if (!ol || (ob->flags & (TCPW_SYN | TCPW_RST))) continue;
        if (!sent && ob->t_us < arr_q) return;
        bool again = sent && seq_lt(ob->seq, max);
        uint64_t p1 = rto_backed(&h1, back), p0 = rto_backed(&h0, back);
        if (running && !again && outlived(armed, ob->t_us, p1, p0)) {
            mark_lost(p, TCPW_AN_WHY_LOST_RTO, (size_t)(ob - c->pkt));
            return;
        }
        if (again) {
            if (!running) return;
            uint64_t seen = ob->t_us - armed;
            uint64_t e1 = seen > p1 ? seen - p1 : p1 - seen, e0 = seen > p0 ? seen - p0 : p0 - seen;
            if (e0 <= 2000 && e1 > 5000) mark_lost(p, TCPW_AN_WHY_LOST_RTO, (size_t)(ob - c->pkt));
            if (e0 > 2000 || e1 > 2000 || ob->seq != una) return;
            armed = ob->t_us; /* both explain it: backed off, the timer runs on */
            back *= 2;
            continue;
        }
        if (!running) {
            running = true;
            armed = ob->t_us;
        }
        if (!sent || seq_gt(ob->seq + ol, max)) max = ob->seq + ol;
        sent = true;
    }
}

static int losses(tcpw_an_conn *c) {
    size_t n = c->npkt;
    /* for each side, the next packet with sequence space (n: none) */
    /* and for each side, its next packet at all, and its next repeat of sequence space */
    uint32_t *next_seq[2], *next_any[2], *next_rep[2];
    uint32_t small[6 * (SMALL_CONN + 2)]; /* most connections are short: no allocation */
    uint32_t *buf = n <= SMALL_CONN ? small : malloc(6 * (n + 2) * sizeof(uint32_t));
    if (!buf) return TCPW_ENOMEM;
    for (int s = 0; s < 2; s++) {
        next_seq[s] = buf + (size_t)s * (n + 2);
        next_any[s] = buf + (size_t)(2 + s) * (n + 2);
        next_rep[s] = buf + (size_t)(4 + s) * (n + 2);
        next_seq[s][n] = next_seq[s][n + 1] = next_any[s][n] = next_any[s][n + 1] = (uint32_t)n;
        next_rep[s][n] = next_rep[s][n + 1] = (uint32_t)n;
    }
    for (size_t i = n; i-- > 0;) {
        const tcpw_an_pkt *p = &c->pkt[i];
        bool rep = p->marks & (TCPW_AN_RETRANS | TCPW_AN_OOO);
        for (int s = 0; s < 2; s++) {
            next_seq[s][i] = p->side == s && seglen(p) ? (uint32_t)i : next_seq[s][i + 1];
            next_any[s][i] = p->side == s ? (uint32_t)i : next_any[s][i + 1];
            next_rep[s][i] = p->side == s && rep ? (uint32_t)i : next_rep[s][i + 1];
        }
    }
    /* the highest acknowledgment each side sent, and the highest that (as far as is known
     * yet) arrived */
    bool ack_known[2] = {false, false}, got_known[2] = {false, false};
    bool synack_sent[2] = {false, false};
    uint32_t high_ack[2] = {0, 0}, high_got[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        tcpw_an_pkt *p = &c->pkt[i];
        int a = p->side, b = 1 - a;
        if (p->flags & TCPW_RST) {
            rst_lost(c, i);
            continue;
        }
        /* what the segment brings its receiver: sequence space beyond what the receiver had
         * acknowledged before it was sent (else it owes no acknowledgment of its own), an
         * acknowledgment beyond what the receiver had got from earlier ones */
        bool new_seq = seglen(p) > 0 && (!ack_known[b] || seq_lt(high_ack[b], p->seq + seglen(p)));
        bool new_ack = (p->flags & TCPW_ACK) && (!got_known[a] || seq_gt(p->ack, high_got[a]));
        if (new_seq) repeat_lost(c, i, ack_known[b], high_ack[b], next_any[b], next_rep[a]);
        if (!(p->marks & TCPW_AN_LOST) && new_seq && !(p->flags & TCPW_SYN))
            unacked_lost(c, i, next_any[b]);
        if (!(p->marks & TCPW_AN_LOST) && new_seq && ack_known[b])
            hole_lost(c, i, high_ack[b], next_any[b], next_rep[a]);
        if (!(p->marks & TCPW_AN_LOST) && new_seq && ack_known[b])
            fill_lost(c, i, high_ack[b], next_any[b]);
        /* (a SYN its receiver had acknowledged before is a repeat: not a first contact) */
        if (!(p->marks & TCPW_AN_LOST) && (p->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN && new_seq)
            syn_lost(c, i);
        if (!(p->marks & TCPW_AN_LOST) && !synack_sent[b] &&
            (p->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == (TCPW_SYN | TCPW_ACK))
            synack_late_lost(c, i);
        if ((p->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == (TCPW_SYN | TCPW_ACK))
            synack_sent[a] = true;
        if (!(p->marks & TCPW_AN_LOST) && new_ack) ack_lost(c, i, next_seq[b]);
        if (!(p->marks & TCPW_AN_LOST) && ack_known[b] && (new_seq || !seglen(p)))
            ts_lost(c, i, high_ack[b], next_any[b]);
        if (p->flags & TCPW_ACK) {
            if (!ack_known[a] || seq_gt(p->ack, high_ack[a])) high_ack[a] = p->ack;
            ack_known[a] = true;
            if (!(p->marks & TCPW_AN_LOST) && (!got_known[a] || seq_gt(p->ack, high_got[a]))) {
                high_got[a] = p->ack;
                got_known[a] = true;
            }
        }
    }
    if (buf != small) free(buf);
    for (int b = 0; b < 2; b++)
        rto_lost(c, b);
    c->ndelayed = late_arrivals(c) + delayed_copies(c);
    for (size_t i = 0; i < n; i++)
        if (c->pkt[i].marks & TCPW_AN_LOST) c->st[c->pkt[i].side].lost++;
    return 0;
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
    tcpw_state before_last_recv;   /* its state before its latest receipt (rst_answers) */
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
    size_t next_send[2]; /* the packet each endpoint sends next (capture order), SIZE_MAX none */
    uint64_t reopened_at[2]; /* when the side sent a new connection's SYN, 0 never (ep_send) */
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
    /* (a segment arriving at the very instant the timer expires is still taken in TIME-WAIT:
     * a stack takes in what arrived before it runs the timers due then, as the simulator does) */
    if (x->st == TCPW_TIME_WAIT && now > x->since + two)
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

/* Lookahead at a receipt: when the receiver's next packet is a RST that answers this one, the
 * receipt did not go the way the states so far suggest. ntr: the transitions before it.
 *   - data reaching an application that had closed (FIN_WAIT_1 or _2 after close()) is
 *     answered with RST, and the connection is CLOSED at its arrival (RFC 2525 §2.17);
 *   - a FIN answered with RST instead of an ACK reached an endpoint whose orphaned FIN_WAIT_2
 *     had timed out (Linux tcp_fin_timeout): it was CLOSED before the FIN came;
 *   - an acceptable SYN+ACK in SYN-SENT (or a SYN in LISTEN) obliges an immediate ACK (SYN+ACK)
 *     (RFC 9293 §3.10.7.3 fourth, §3.10.7.2 third); a RST in the form of a closed port's answer
 *     (<SEQ=SEG.ACK><CTL=RST>, §3.10.7.1) instead shows that it had closed (close() or abort()
 *     in SYN-SENT deletes the TCB, §3.10.4, §3.10.5) before the segment came.
 * Returns the tcpw_an_why of the revision, 0 for none. */
static uint8_t rst_answers(run *r, int xs, size_t i, size_t ntr) {
    tcpw_an_conn *c = r->c;
    ep *x = &r->e[xs];
    size_t nx = r->next_send[xs];
    if (nx == SIZE_MAX || nx <= i) return 0;
    const tcpw_an_pkt *p = &c->pkt[i], *q = &c->pkt[nx];
    /* (with no response time measured at all, the next packet answers whenever it left) */
    bool timed = c->lag_known[0] || c->lag_known[1];
    if (!(q->flags & TCPW_RST) || q->side != xs ||
        (timed && q->t_us > p->t_us + c->lag_us[xs] + c->lag_us[xs] / 2 + 1000))
        return 0;
    tcpw_state before = x->before_last_recv;
    bool changed = c->ntrans > ntr;
    tcpw_an_trans *tr = changed ? &c->trans[ntr] : NULL;
    if (p->len > 0 && (before == TCPW_FIN_WAIT_1 || before == TCPW_FIN_WAIT_2)) {
        if (tr) {
            tr->to = TCPW_CLOSED;
            tr->why = TCPW_AN_WHY_DATA_AFTER_CLOSE;
            c->ntrans = ntr + 1;
            x->st = TCPW_CLOSED;
        } else {
            trans(r, xs, TCPW_CLOSED, x->since > p->t_us ? x->since : p->t_us + c->lag_us[xs], i,
                  TCPW_CAUSE_SEGMENT, TCPW_AN_WHY_DATA_AFTER_CLOSE);
        }
        return TCPW_AN_WHY_DATA_AFTER_CLOSE;
    }
    if (tr && before == TCPW_FIN_WAIT_2 && x->st == TCPW_TIME_WAIT) {
        tr->to = TCPW_CLOSED;
        tr->why = TCPW_AN_WHY_FIN_TIMEOUT;
        tr->cause = TCPW_CAUSE_TIMER;
        tr->pkt = UINT32_MAX;
        c->ntrans = ntr + 1;
        x->st = TCPW_CLOSED;
        return TCPW_AN_WHY_FIN_TIMEOUT;
    }
    bool closed_port_answer = (p->flags & TCPW_ACK)
                                  ? !(q->flags & TCPW_ACK) && q->seq == p->ack
                                  : (q->flags & TCPW_ACK) && q->ack == p->seq + seglen(p);
    if (tr && (before == TCPW_SYN_SENT || before == TCPW_LISTEN) && closed_port_answer) {
        tr->to = TCPW_CLOSED;
        tr->why = TCPW_AN_WHY_CLOSED_UNSEEN;
        tr->cause = TCPW_CAUSE_USER;
        tr->pkt = UINT32_MAX;
        c->ntrans = ntr + 1;
        x->st = TCPW_CLOSED;
        return TCPW_AN_WHY_CLOSED_UNSEEN;
    }
    return 0;
}

/* SEGMENT ARRIVES at endpoint xs: packet i of the peer (RFC 9293 §3.10.7). */
static void ep_recv(run *r, int xs, size_t i, uint64_t t) {
    tcpw_an_conn *c = r->c;
    const tcpw_an_pkt *p = &c->pkt[i];
    ep *x = &r->e[xs];
    uint8_t fl = p->flags;
    uint32_t seq = p->seq, len = p->len, sl = seglen(p);
    timewait_expire(r, xs, t);
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
            /* (a SYN in a synchronized state is challenged whatever its number, RFC 5961
             * §4.2: a new connection's, not a segment outside this one's window) */
            if (sl && !(fl & (TCPW_RST | TCPW_SYN)) && seq_ge(seq, x->rcv_nxt + wnd) && wnd > 0) {
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
    uint8_t why = rst_answers(r, xs, i, ntr);
    set_state(r, i, xs, why ? why : (c->pkt[i].marks & TCPW_AN_LOST) ? c->pkt[i].fate_why : 0);
    if (why) c->pkt[i].evidence = (uint32_t)(r->next_send[xs] + 1);
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
        /* §3.10.5 ABORT, or the answer of a closed port (§3.10.7.1); a RST that answered a
         * receipt was looked at when that arrived (rst_answers). In SYN-SENT an ABORT sends
         * nothing: a RST from there answered an unacceptable ACK (§3.10.7.3 first), and the
         * endpoint stays in SYN-SENT. */
        if (x->st != TCPW_CLOSED && x->st != TCPW_LISTEN && x->st != TCPW_SYN_SENT)
            trans(r, xs, TCPW_CLOSED, t, i, TCPW_CAUSE_USER, 0);
        set_state(r, i, xs, why);
        return;
    }

    if (fl & TCPW_SYN) {
        if (!(fl & TCPW_ACK)) {
            /* §3.10.1 OPEN (active): SYN_SENT; a repeated SYN changes nothing. A SYN with
             * another ISN from an endpoint past its close is a new connection's (its
             * TIME-WAIT over, or reused, RFC 6191): one the other end, still in the old
             * connection, answered as such (resplit in analyze.c). */
            bool reopen = x->st == TCPW_TIME_WAIT && x->iss_known && p->seq != x->iss;
            if (reopen) r->reopened_at[xs] = t ? t : 1;
            if (x->st == TCPW_CLOSED || x->st == TCPW_LISTEN || reopen)
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
        /* it crossed the receiver's packets sent after it was captured: it arrived after the
         * last of them left */
        for (size_t k = before; k-- > i + 1;)
            if (r->c->pkt[k].side == xs) {
                p->marks |= TCPW_AN_LATE;
                p->late_after = (uint32_t)(k + 1);
                if (t < r->c->pkt[k].t_us) t = r->c->pkt[k].t_us;
                break;
            }
    }
    if (p->marks & TCPW_AN_DELAYED) return; /* it arrives later (deliver_delayed) */
    if (p->marks & TCPW_AN_LOST) {
        timewait_expire(r, xs, t);
        set_state(r, i, xs, p->fate_why);
        return;
    }
    ep_recv(r, xs, i, t);
}

/* The copies held back in the network that reached endpoint xs just before it sent packet
 * qi (the RST or ACK that answered them). */
static void deliver_delayed(run *r, int xs, size_t qi) {
    tcpw_an_conn *c = r->c;
    for (size_t k = 0; k < qi; k++) {
        tcpw_an_pkt *p = &c->pkt[k];
        if (!(p->marks & TCPW_AN_DELAYED) || p->evidence != qi + 1 || p->side == xs) continue;
        ep_recv(r, xs, k, c->pkt[qi].t_us);
        p->why[xs] = p->fate_why;
    }
}

/* At the very instant of the estimated arrival the order of an arrival p and a send q of the
 * receiver is open; p is taken to come after q when q could not have been sent after it:
 *   - p a RST: an endpoint a RST has closed sends nothing but RSTs (RFC 9293 §3.10.7.4
 *     second, §3.10.7.1);
 *   - p acknowledging the receiver's FIN in LAST-ACK: that closes it (§3.10.7.4 fifth), and a
 *     closed port answers with RST only;
 *   - q a retransmission of what p acknowledges: only what is unacknowledged is sent again
 *     (RFC 6298 §5) — it was the receiver's timer that fired first. */
static bool impossible_after(const run *r, int xs, const tcpw_an_pkt *p, const tcpw_an_pkt *q) {
    const ep *x = &r->e[xs];
    if (q->flags & TCPW_RST) return false;
    if (p->flags & TCPW_RST) return true;
    if (!(p->flags & TCPW_ACK)) return false;
    if (x->st == TCPW_LAST_ACK && x->fin_sent && seq_gt(p->ack, x->fin_seq)) return true;
    return seglen(q) && (q->marks & TCPW_AN_RETRANS) && seq_lt(q->seq, p->ack);
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
    if (last_yes != SIZE_MAX) {
        uint64_t sent = r->c->pkt[x->q[last_yes]].t_us;
        while (x->qh <= last_yes)
            arrive(r, xs, q->t_us, qi);
        /* a copy that left with the last of them, bringing nothing new, arrived with it
         * (one path, in order); what brings something new q's ACK would show */
        while (x->qh < x->qt) {
            const tcpw_an_pkt *p = &r->c->pkt[x->q[x->qh]];
            uint32_t sl = seglen(p);
            if (p->t_us > sent || !sl || (p->flags & TCPW_RST) || !x->rcv_known ||
                seq_gt(p->seq + sl, x->rcv_nxt))
                break;
            arrive(r, xs, q->t_us, qi);
        }
    }
    /* then by evidence or timing, in order, up to the first that had not arrived */
    while (x->qh < x->qt) {
        const tcpw_an_pkt *p = &r->c->pkt[x->q[x->qh]];
        uint32_t sl = seglen(p);
        bool yes;
        if (has_ack && sl && !(p->flags & TCPW_RST) && !(p->marks & TCPW_AN_LOST) &&
            seq_le(p->seq, q->ack) && (!x->rcv_known || seq_gt(p->seq + sl, x->rcv_nxt)))
            yes = seq_ge(q->ack, p->seq + sl);
        else /* (nothing arrives the very instant it left) */
            yes = q->t_us >= p->t_us + (r->c->lag_us[xs] ? r->c->lag_us[xs] : 1);
        if (yes && q->t_us == p->t_us + r->c->lag_us[xs] && !(p->marks & TCPW_AN_LOST) &&
            impossible_after(r, xs, p, q))
            yes = false;
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
                /* a RST: no listener (§3.10.7.1); a SYN of its own: it opened actively too
                 * (a simultaneous open, RFC 9293 Figure 8), from CLOSED */
                if ((c->pkt[i].flags & TCPW_RST) ||
                    (c->pkt[i].flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN)
                    r->e[1 - s].st = TCPW_CLOSED;
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
        r->next_send[s] = i;
        arrivals_before(r, s, i);
        if (c->ndelayed) deliver_delayed(r, s, i);
        ep_send(r, s, i);
        if (!q_push(&r->e[1 - s], i)) r->err = TCPW_ENOMEM;
    }
    r->next_send[0] = r->next_send[1] = SIZE_MAX;
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
        if (r->reopened_at[s]) {
            /* its new SYN ended this connection at its end (RFC 6191); the rest of its story
             * is the next connection's */
            c->final[s] = TCPW_CLOSED;
            c->final_since[s] = r->reopened_at[s];
            c->final_why[s] = TCPW_AN_WHY_REOPENED;
            continue;
        }
        if (c->ntrans)
            for (size_t k = c->ntrans; k-- > 0;)
                if (c->trans[k].side == s) {
                    c->final_why[s] = c->trans[k].why;
                    uint32_t tp = c->trans[k].pkt;
                    if (!c->final_why[s] && c->trans[k].to == TCPW_CLOSED && tp < c->npkt &&
                        (c->pkt[tp].flags & TCPW_RST) && c->pkt[tp].side != s)
                        c->final_why[s] = TCPW_AN_WHY_RESET;
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
    c->capture_end = capture_end > c->t_last ? capture_end : c->t_last;
    roles(c);
    marks(c);
    lags(c);
    run r;
    memset(&r, 0, sizeof r);
    if (losses(c)) return TCPW_ENOMEM;
    r.c = c;
    r.cfg = cfg;
    run_endpoints(&r);
    if (!r.err) verdict(&r, capture_end);
    for (int s = 0; s < 2; s++)
        free(r.e[s].q);
    sort_trans(c);
    return r.err;
}
