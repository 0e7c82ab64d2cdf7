/* input.c — SEGMENT ARRIVES (RFC 9293 §3.10.7), in the RFC's order of checks.
 *
 *   §3.10.7.2  LISTEN                         listen_segment_arrives()
 *   §3.10.7.3  SYN-SENT                       syn_sent_arrives()
 *   §3.10.7.4  every other state:             synchronized_arrives()
 *              first   sequence number check  (with PAWS, RFC 7323 §5.3)
 *              second  RST bit                (RFC 5961 §3)
 *              fourth  SYN bit                (RFC 5961 §4)
 *              fifth   ACK field              (RFC 5961 §5)
 *              sixth   URG bit
 *              seventh segment text
 *              eighth  FIN bit
 * §3.10.7.1 (CLOSED: no connection at all) lives in stack.c/output.c, TIME_WAIT records in
 * timewait.c.
 */
#include <string.h>

#include "seq.h"
#include "tcb.h"

/* ---- options and initial state -------------------------------------------------------------- */

/* RFC 7323 §2.3: the shift we ask for, the smallest that lets our buffer fit in 16 bits. */
static uint8_t wscale_for(uint32_t buffer) {
    uint8_t shift = 0;
    while (shift < 14 && (buffer >> shift) > 0xffff)
        shift++;
    return shift;
}

/* Options of the peer's SYN (or SYN+ACK): RFC 9293 §3.7.1 MSS, RFC 7323 §2.2 window scale
 * and §3.2 timestamps. An option counts only when both sides sent it. */
void apply_syn_options(tcpw_conn *c, const tcpw_seg *seg) {
    const tcpw_config *cfg = &c->stack->cfg;
    /* RFC 9293 §3.7.1: without the option, 536 (IPv4) or 1220 (IPv6, RFC 8200 §5). */
    uint32_t mss = seg->opts.has_mss ? seg->opts.mss : (c->local.addr.family == 6 ? 1220u : 536u);
    if (mss > cfg->mss) mss = cfg->mss;
    if (mss < 64) mss = 64; /* a peer's tiny MSS must not make us send a segment per byte */
    c->snd_mss = (uint16_t)mss;

    c->ws_ok = cfg->window_scale && seg->opts.has_wscale;
    if (c->ws_ok) {
        c->snd_wscale = seg->opts.wscale > 14 ? 14 : seg->opts.wscale;
        c->rcv_wscale = wscale_for(c->rcvbuf.cap);
    } else {
        c->snd_wscale = c->rcv_wscale = 0;
    }
    c->ts_ok = cfg->timestamps && seg->opts.has_ts;
    if (c->ts_ok) {
        c->ts_recent = seg->opts.tsval;
        c->ts_recent_at = c->stack->now;
        /* RFC 9293 §3.7.1 (Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize) and RFC 6691 §2:
         * the MSS counts the fixed 20-byte header only, so the 12 bytes of the timestamp
         * option that every segment carries come out of the payload (1448, not 1460, on a
         * 1500-byte MTU). */
        if (c->snd_mss > 64 + 12) c->snd_mss -= 12;
    }
    /* RFC 5681 §3.1 initial window. */
    uint32_t iw = 4 * c->snd_mss;
    if (iw > 4380 && 2 * c->snd_mss < 4380) iw = 4380;
    if (iw < 2 * c->snd_mss) iw = 2 * c->snd_mss;
    c->cwnd = iw;
    c->ssthresh = 1u << 30;
}

/* The send window from a non-SYN segment (RFC 7323 §2.2: scaled), RFC 9293 §3.10.7.4 fifth. */
static inline void update_send_window(tcpw_conn *c, const tcpw_seg *seg) {
    uint32_t wnd = (seg->flags & TCPW_SYN) ? seg->wnd : seg->wnd << c->snd_wscale;
    bool was_zero = c->snd_wnd == 0;
    c->snd_wnd = wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    if (wnd > c->max_snd_wnd) c->max_snd_wnd = wnd;
    if (was_zero && wnd && c->persisting) {
        /* the window opened: the persist timer has done its job. Probe octets the peer did
         * not take go again from SND.UNA (RFC 9293 §3.8.6 SHLD-16), and the probes' backoff
         * is no retransmission backoff (RFC 6298 (5.5)): the RTO comes from the estimates. */
        c->persisting = false;
        c->rto_at = TCPW_NEVER;
        c->snd_nxt = c->snd_una;
        rto_recompute(c);
        if (c->snd_max != c->snd_una) conn_arm_rto(c);
    }
}

/* ---- LISTEN (RFC 9293 §3.10.7.2) ------------------------------------------------------------ */

/* Creates the SYN_RCVD child of listener l for this SYN. iss_floor, when nonzero, is the
 * sequence number the new incarnation must start beyond (reopen from TIME_WAIT, RFC 6191). */
static void listen_accept_syn(tcpw_conn *l, const tcpw_packet *p, tcpw_seg *seg, bool has_floor,
                              uint32_t iss_floor) {
    tcpw_stack *s = l->stack;
    if (l->pending >= l->backlog) {
        stack_note(s, &p->dst, &p->src, l->id, TCPW_LISTEN, "SYN dropped: backlog full");
        return;
    }
    tcpw_conn *c = conn_new(s, &p->dst, &p->src);
    if (!c) return;
    if (conn_alloc_buffers(c) != TCPW_OK || table_insert_conn(s, c) != TCPW_OK) {
        conn_destroy(c);
        return;
    }
    c->passive = true;
    c->listener = l;
    l->pending++;
    uint32_t iss, ts_offset;
    isn_and_ts_offset(s, &c->local, &c->remote, &iss, &ts_offset);
    /* RFC 6191 §2 / RFC 1122 §4.2.2.13: the new ISN is beyond the old connection's. */
    if (has_floor && !seq_gt(iss, iss_floor)) iss = iss_floor + 65537u;
    conn_start_sequence(c, iss, ts_offset);
    /* The child starts as a copy of the listener's LISTEN TCB. */
    c->state = TCPW_LISTEN;
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    apply_syn_options(c, seg);
    c->rcv_adv = c->rcv_nxt;
    update_send_window(c, seg);
    conn_set_state(c, TCPW_SYN_RCVD, TCPW_CAUSE_SEGMENT, NULL, seg);
    /* Data or FIN on the SYN is not acknowledged: the peer sends it again once we are
     * synchronized (RFC 9293 §3.10.7.2 allows queueing it; we keep no state for it). */
    conn_output(c);
}

void listen_segment_arrives(tcpw_conn *l, const tcpw_packet *p, tcpw_seg *seg) {
    /* first: an incoming RST is ignored. */
    if (seg->flags & TCPW_RST) return;
    /* second: any acknowledgment is bad: <SEQ=SEG.ACK><CTL=RST>. */
    if (seg->flags & TCPW_ACK) {
        send_rst(l->stack, &p->dst, &p->src, seg->ack, 0, false);
        return;
    }
    /* third: a SYN starts a connection. */
    if (seg->flags & TCPW_SYN) {
        listen_accept_syn(l, p, seg, false, 0);
        return;
    }
    /* fourth: anything else is dropped. */
}

/* Reopen from a TIME_WAIT record: the caller already removed the record. */
void listen_reopen(tcpw_conn *l, const tcpw_packet *p, tcpw_seg *seg, uint32_t old_snd_nxt) {
    listen_accept_syn(l, p, seg, true, old_snd_nxt);
}

/* ---- SYN-SENT (RFC 9293 §3.10.7.3) ---------------------------------------------------------- */

static void text_and_fin(tcpw_conn *c, tcpw_seg *seg, bool fin_in_order);

static void syn_sent_arrives(tcpw_conn *c, tcpw_seg *seg) {
    bool ack = seg->flags & TCPW_ACK;
    /* first: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT. */
    if (ack && (seq_le(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max))) {
        if (!(seg->flags & TCPW_RST)) send_rst(c->stack, &c->local, &c->remote, seg->ack, 0, false);
        return;
    }
    /* second: a RST with an acceptable ACK refuses the connection (RFC 5961 §3.2 keeps this
     * rule for SYN-SENT); one without an ACK is dropped. */
    if (seg->flags & TCPW_RST) {
        if (ack) conn_close_now(c, TCPW_EREFUSED, TCPW_EV_REFUSED, TCPW_CAUSE_SEGMENT, NULL, seg);
        return;
    }
    /* fourth: the SYN. */
    if (!(seg->flags & TCPW_SYN)) return;
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    apply_syn_options(c, seg);
    if (ack) {
        c->snd_una = seg->ack;
        c->syn_acked = true; /* ISS < SEG.ACK was checked above */
        c->retries = 0;
        c->rto_at = TCPW_NEVER;
        if (c->rtt_timing && seq_gt(seg->ack, c->rtt_seq)) {
            rtt_sample(c, (uint32_t)(c->stack->now - c->rtt_start));
            c->rtt_timing = false;
        } else if (c->ts_ok && seg->opts.has_ts && seg->opts.tsecr) {
            rtt_sample(c, (ts_now(c->stack, c->ts_offset) - seg->opts.tsecr) * 1000u);
        }
    }
    if (c->syn_acked) {
        /* Our SYN is acknowledged: ESTABLISHED, and <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. */
        update_send_window(c, seg);
        conn_set_state(c, TCPW_ESTABLISHED, TCPW_CAUSE_SEGMENT, NULL, seg);
        conn_raise(c, TCPW_EV_CONNECTED | TCPW_EV_WRITABLE);
        c->ack_now = true;
        /* "continue processing at the sixth step": text and FIN on the SYN+ACK */
        seg->seq++;
        seg->flags &= (uint8_t)~TCPW_SYN;
        text_and_fin(c, seg, true);
    } else {
        /* Simultaneous open: SYN_RCVD, and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
        update_send_window(c, seg);
        conn_set_state(c, TCPW_SYN_RCVD, TCPW_CAUSE_SEGMENT, NULL, seg);
        c->snd_nxt = c->iss;
    }
    conn_output(c);
}

/* ---- the synchronized states (RFC 9293 §3.10.7.4) ------------------------------------------ */

/* first: the acceptability test of the segment's sequence numbers against our window. */
static bool seq_acceptable(const tcpw_conn *c, uint32_t seq, uint32_t len) {
    uint32_t wnd = conn_rcv_wnd(c);
    if (len == 0) {
        if (wnd == 0) return seq == c->rcv_nxt;
        return seq_in(seq, c->rcv_nxt, c->rcv_nxt + wnd);
    }
    if (wnd == 0) return false;
    return seq_in(seq, c->rcv_nxt, c->rcv_nxt + wnd) ||
           seq_in(seq + len - 1, c->rcv_nxt, c->rcv_nxt + wnd);
}

/* Trims the segment to the window: what lies before RCV.NXT (including an old SYN) or beyond
 * the right edge goes. Returns whether anything old was cut (then an ACK is owed). (A segment
 * whose FIN is old is wholly old and never gets here: it fails the acceptability test, and a
 * repeated FIN in TIME_WAIT is handled there.) */
static bool trim_to_window(tcpw_conn *c, tcpw_seg *seg) {
    bool old = false;
    if ((seg->flags & TCPW_SYN) && seq_lt(seg->seq, c->rcv_nxt)) {
        seg->flags &= (uint8_t)~TCPW_SYN;
        seg->seq++;
        seg->len--;
        old = true;
    }
    if (seq_lt(seg->seq, c->rcv_nxt)) {
        uint32_t cut = c->rcv_nxt - seg->seq;
        if (cut >= seg->data_len) {
            cut = seg->data_len;
            /* the FIN sits right after the data: old too when before RCV.NXT */
            if ((seg->flags & TCPW_FIN) && seq_lt(seg->seq + seg->data_len, c->rcv_nxt)) {
                seg->flags &= (uint8_t)~TCPW_FIN;
                seg->len--;
            }
        }
        seg->data += cut;
        seg->data_len -= cut;
        seg->len -= cut;
        seg->seq += cut;
        old = true;
    }
    uint32_t right = c->rcv_nxt + conn_rcv_wnd(c);
    if (seq_gt(seg->seq + seg->data_len, right)) {
        uint32_t keep = seq_gt(right, seg->seq) ? right - seg->seq : 0;
        seg->len -= seg->data_len - keep;
        seg->data_len = keep;
        if (seg->flags & TCPW_FIN) {
            seg->flags &= (uint8_t)~TCPW_FIN; /* the FIN lies beyond the window too */
            seg->len--;
        }
    }
    return old;
}

/* RFC 7323 §5.3 R1: PAWS. A segment whose timestamp is older than TS.Recent is an old
 * duplicate (unless TS.Recent itself is more than 24 days old, §5.5). */
static bool paws_reject(tcpw_conn *c, const tcpw_seg *seg) {
    if (!c->ts_ok || !seg->opts.has_ts || (seg->flags & TCPW_RST)) return false;
    if (!seq_lt(seg->opts.tsval, c->ts_recent)) return false;
    if (c->stack->now - c->ts_recent_at > 24ull * 24 * 3600 * 1000000) return false;
    return true;
}

static void reset_by_peer(tcpw_conn *c, const tcpw_seg *seg) {
    if (c->state == TCPW_SYN_RCVD && c->passive) {
        /* RFC 9293 §3.10.7.4 second: from a passive OPEN, back to LISTEN — the listener stays;
         * this half-open child goes. The user need not be informed. */
        conn_close_now(c, 0, 0, TCPW_CAUSE_SEGMENT, NULL, seg);
        return;
    }
    if (c->state == TCPW_SYN_RCVD) {
        conn_close_now(c, TCPW_EREFUSED, TCPW_EV_REFUSED, TCPW_CAUSE_SEGMENT, NULL, seg);
        return;
    }
    /* ESTABLISHED, FIN_WAIT_1/2, CLOSE_WAIT: "connection reset"; CLOSING, LAST_ACK and
     * TIME_WAIT just close (the application, if it still holds the handle, hears of it). */
    conn_close_now(c, TCPW_ERESET, TCPW_EV_RESET, TCPW_CAUSE_SEGMENT, NULL, seg);
}

/* Handles the acknowledgment of new data, our SYN or our FIN (SND.UNA < SEG.ACK =< SND.NXT). */
static TCPW_ALWAYS_INLINE void ack_new_data(tcpw_conn *c, const tcpw_seg *seg) {
    tcpw_stack *s = c->stack;
    uint32_t acked = seg->ack - c->snd_una;
    /* RTT (RFC 6298 §3 with Karn's rule; RFC 7323 §4 with timestamps). A sample recomputes
     * the RTO (rtt_sample). */
    bool sampled = true;
    if (c->ts_ok && seg->opts.has_ts && seg->opts.tsecr) {
        rtt_sample(c, (ts_now(s, c->ts_offset) - seg->opts.tsecr) * 1000u);
    } else if (c->rtt_timing && seq_gt(seg->ack, c->rtt_seq)) {
        rtt_sample(c, (uint32_t)(s->now - c->rtt_start));
        c->rtt_timing = false;
    } else {
        sampled = false;
    }
    /* Remove what is acknowledged from the retransmission queue (the send buffer). */
    if (seq_gt(seg->ack, c->buf_seq)) {
        uint32_t data = seg->ack - c->buf_seq;
        if (data > c->sndbuf.len) data = c->sndbuf.len;
        ring_consume(&c->sndbuf, data);
        c->buf_seq += data;
        if (data) conn_raise(c, TCPW_EV_WRITABLE);
    }
    c->snd_una = seg->ack;
    c->syn_acked = true; /* the SYN is the first octet: any new acknowledgment covers it */
    if (seq_lt(c->snd_nxt, c->snd_una)) c->snd_nxt = c->snd_una;
    c->retries = 0;
    /* RFC 5681 §3.1 slow start / congestion avoidance, §3.2 leaving fast recovery. */
    if (c->dupacks >= 3 && seq_lt(seg->ack, c->recover)) {
        /* RFC 6582 §3.2 step 5 (NewReno): a partial ACK — more of the window was lost.
         * Retransmit the next unacknowledged segment now instead of waiting for the RTO,
         * deflate the window by what was acknowledged (adding back one segment), and stay in
         * fast recovery until everything sent before it began is acknowledged. */
        c->cwnd = (c->cwnd > acked ? c->cwnd - acked : 0) + c->snd_mss;
        s->stats.retransmits++;
        conn_note(c, "partial ACK: retransmit the next hole (NewReno, RFC 6582)");
        send_first_unacked(c, c->snd_mss);
        rto_recompute(c);
        conn_arm_rto(c);
        return;
    } else if (c->dupacks >= 3) {
        /* RFC 6582 §3.2 step 5 full acknowledgment: deflate to ssthresh, or to what is still
         * in flight plus one segment when that is less (no burst). */
        uint32_t flight = c->snd_max - c->snd_una + c->snd_mss;
        c->cwnd = c->ssthresh < flight ? c->ssthresh : flight;
    } else if (c->cwnd < c->ssthresh) {
        c->cwnd += acked < c->snd_mss ? acked : c->snd_mss;
    } else {
        uint32_t inc = (uint32_t)((uint64_t)c->snd_mss * c->snd_mss / (c->cwnd ? c->cwnd : 1));
        c->cwnd += inc ? inc : 1;
    }
    c->dupacks = 0;
    /* RFC 6298 §5.2/5.3: all acknowledged: stop the timer; else restart it. Backoff ends
     * with new data acknowledged: the RTO is recomputed from SRTT (a sample just did). */
    if (!sampled) rto_recompute(c);
    if (c->snd_una == c->snd_max) {
        c->rto_at = TCPW_NEVER;
        c->persisting = false;
    } else {
        conn_arm_rto(c);
    }
}

/* RFC 5681 §3.2: the third duplicate ACK retransmits the first unacknowledged segment. */
static void duplicate_ack(tcpw_conn *c, const tcpw_seg *seg) {
    /* An ACK offering a zero window answers a zero-window probe (RFC 9293 §3.8.6.1); it tells
     * of no loss, and a fast retransmit would push data into the closed window (§3.8.6:
     * "the sender SHOULD NOT send new data"). */
    if (seg->data_len || (seg->flags & (TCPW_SYN | TCPW_FIN)) || c->snd_max == c->snd_una ||
        (seg->wnd << c->snd_wscale) != c->snd_wnd || c->snd_wnd == 0)
        return;
    c->stack->stats.dup_acks++;
    if (++c->dupacks == 3) {
        uint32_t flight = c->snd_max - c->snd_una;
        uint32_t half = flight / 2, two = 2u * c->snd_mss;
        c->ssthresh = half > two ? half : two;
        c->recover = c->snd_max;
        c->rtt_timing = false;
        c->stack->stats.retransmits++;
        conn_note(c, "fast retransmit (3 duplicate ACKs)");
        send_first_unacked(c, c->snd_mss);
        c->cwnd = c->ssthresh + 3u * c->snd_mss;
    } else if (c->dupacks > 3) {
        c->cwnd += c->snd_mss; /* each further duplicate: one segment left the network */
    }
}

static bool our_fin_acked(const tcpw_conn *c) {
    return c->shut_wr && c->snd_una == c->buf_seq + c->sndbuf.len + 1;
}

/* The FIN of the peer (RFC 9293 §3.10.7.4 eighth), once every byte before it arrived. */
static void process_fin(tcpw_conn *c, const tcpw_seg *seg) {
    tcpw_stack *s = c->stack;
    c->rcv_nxt++;
    c->rcv_fin = true;
    c->ooo_fin = false;
    conn_raise(c, TCPW_EV_EOF | TCPW_EV_READABLE);
    switch (c->state) {
    case TCPW_SYN_RCVD:
    case TCPW_ESTABLISHED:
        conn_set_state(c, TCPW_CLOSE_WAIT, TCPW_CAUSE_SEGMENT, NULL, seg);
        /* RFC 1122 §4.2.3.2 allows delaying this ACK; an application that closes at once
         * then sends its FIN with it: the three-segment close. */
        if (s->cfg.delayed_ack_ms == 0)
            c->ack_now = true;
        else if (c->delack_at == TCPW_NEVER)
            c->delack_at = s->now + s->cfg.delayed_ack_ms * 1000ull;
        break;
    case TCPW_FIN_WAIT_1:
        if (our_fin_acked(c)) {
            conn_set_state(c, TCPW_TIME_WAIT, TCPW_CAUSE_SEGMENT, NULL, seg);
            conn_enter_time_wait(c);
            conn_raise(c, TCPW_EV_CLOSED);
        } else {
            conn_set_state(c, TCPW_CLOSING, TCPW_CAUSE_SEGMENT, NULL, seg);
        }
        c->ack_now = true;
        break;
    case TCPW_FIN_WAIT_2:
        conn_set_state(c, TCPW_TIME_WAIT, TCPW_CAUSE_SEGMENT, NULL, seg);
        conn_enter_time_wait(c);
        conn_raise(c, TCPW_EV_CLOSED);
        c->ack_now = true;
        break;
    case TCPW_TIME_WAIT:
        /* a retransmitted FIN: acknowledge it and restart the 2MSL timeout */
        conn_enter_time_wait(c);
        c->ack_now = true;
        break;
    default: /* CLOSE_WAIT, CLOSING, LAST_ACK: remain */ c->ack_now = true; break;
    }
}

/* The acknowledgment of `len` octets of text taken in order, with nothing held out of order
 * beyond them (seventh step). */
static inline void ack_in_order_text(tcpw_conn *c, uint32_t len) {
    tcpw_stack *s = c->stack;
    if (s->cfg.delayed_ack_ms == 0 || ++c->unacked_segs >= 2 || len < c->snd_mss / 2u) {
        /* RFC 1122 §4.2.3.2: at least every second full-sized segment. Small segments
         * (requests, the last piece of a message) are answered at once — with ack_defer, at
         * the end of the application's turn, so that the reply it makes to them carries the
         * ACK. */
        conn_ack_owed(c);
    } else if (c->delack_at == TCPW_NEVER) {
        c->delack_at = s->now + s->cfg.delayed_ack_ms * 1000ull;
    }
}

/* Seventh and eighth steps: the segment text and the FIN. */
static void text_and_fin(tcpw_conn *c, tcpw_seg *seg, bool fin_in_order) {
    tcpw_stack *s = c->stack;
    bool data_state =
        c->state == TCPW_ESTABLISHED || c->state == TCPW_FIN_WAIT_1 || c->state == TCPW_FIN_WAIT_2;
    if (seg->data_len && data_state) {
        if (c->rst_on_data) {
            /* RFC 2525 §2.17 (and Linux): the application closed and will never read this.
             * Tell the peer at once: RST, and the connection is gone. */
            conn_note(c, "data after close(): RST (RFC 2525 §2.17)");
            conn_close_now(c, TCPW_ERESET, 0, TCPW_CAUSE_SEGMENT, NULL, seg);
            send_rst(s, &c->local, &c->remote, c->snd_max, 0, false);
            return;
        }
        if (seg->seq == c->rcv_nxt) {
            uint32_t n;
            if (seg->in_rcvbuf) {
                /* the bytes were copied in as their checksum was verified: take them */
                n = seg->data_len < ring_free(&c->rcvbuf) ? seg->data_len : ring_free(&c->rcvbuf);
                c->rcvbuf.len += n;
            } else {
                n = ring_write(&c->rcvbuf, seg->data, seg->data_len);
            }
            uint32_t more = asm_empty(&c->ooo) ? 0 : asm_advance(&c->ooo, n);
            c->rcvbuf.len += more;
            c->rcv_nxt += n + more;
            conn_raise(c, TCPW_EV_READABLE);
            if (more || !asm_empty(&c->ooo))
                c->ack_now = true; /* RFC 5681 §4.2: a segment that fills a gap: ACK now */
            else
                ack_in_order_text(c, seg->data_len);
        } else {
            /* Out of order: keep it in the receive buffer beyond the in-order data, and send
             * a duplicate ACK at once (RFC 5681 §4.2). */
            uint32_t off = seg->seq - c->rcv_nxt;
            if (off + seg->data_len <= ring_free(&c->rcvbuf) &&
                asm_add(&c->ooo, off, seg->data_len))
                ring_put_at(&c->rcvbuf, c->rcvbuf.len + off, seg->data, seg->data_len);
            s->stats.out_of_order++;
            c->ack_now = true;
        }
    }
    /* eighth: the FIN. Only once everything before it has arrived. */
    if (seg->flags & TCPW_FIN) {
        uint32_t fseq = seg->seq + seg->data_len;
        if (fin_in_order && fseq == c->rcv_nxt) {
            process_fin(c, seg);
        } else if (seq_gt(fseq, c->rcv_nxt)) {
            c->ooo_fin = true;
            c->ooo_fin_seq = fseq;
            c->ack_now = true;
        }
    } else if (c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt && !c->rcv_fin) {
        process_fin(c, seg); /* the gap before an earlier FIN just closed */
    }
}

/* fifth step, SYN-RECEIVED: the ACK of our SYN completes the handshake. */
static bool syn_rcvd_ack(tcpw_conn *c, tcpw_seg *seg) {
    if (!(seq_lt(c->snd_una, seg->ack) && seq_le(seg->ack, c->snd_max))) {
        /* "If the segment acknowledgment is not acceptable, form a reset segment
         * <SEQ=SEG.ACK><CTL=RST> and send it." */
        send_rst(c->stack, &c->local, &c->remote, seg->ack, 0, false);
        return false;
    }
    update_send_window(c, seg);
    tcpw_state after = c->state == TCPW_SYN_RCVD ? TCPW_ESTABLISHED : c->state;
    if (after == TCPW_ESTABLISHED)
        conn_set_state(c, TCPW_ESTABLISHED, TCPW_CAUSE_SEGMENT, NULL, seg);
    if (c->listener) {
        /* a passive connection is ready for accept() */
        tcpw_conn *l = c->listener;
        c->accept_next = NULL;
        if (l->accept_tail)
            l->accept_tail->accept_next = c;
        else
            l->accept_head = c;
        l->accept_tail = c;
        conn_raise(l, TCPW_EV_ACCEPT);
    } else {
        conn_raise(c, TCPW_EV_CONNECTED | TCPW_EV_WRITABLE);
    }
    return true;
}

static void synchronized_arrives(tcpw_conn *c, tcpw_seg *seg) {
    tcpw_stack *s = c->stack;
    uint32_t orig_seq = seg->seq;

    /* A retransmitted SYN in SYN_RCVD: our SYN+ACK was lost. Send it again now. */
    if (c->state == TCPW_SYN_RCVD && (seg->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == TCPW_SYN &&
        seg->seq == c->irs) {
        send_first_unacked(c, 0);
        return;
    }
    /* Simultaneous open (RFC 9293 §3.5 Figure 8, line 6): while our SYN is unacknowledged
     * (SYN_RCVD, or FIN_WAIT_1 entered from it) the peer's SYN+ACK repeats its SYN at IRS.
     * That SYN is old, but the ACK completes the handshake: take the segment from IRS+1 on,
     * so the sequence check accepts it and the ACK takes us to ESTABLISHED (as Linux does). */
    if (!c->syn_acked && (seg->flags & (TCPW_SYN | TCPW_ACK | TCPW_RST)) == (TCPW_SYN | TCPW_ACK) &&
        seg->seq == c->irs) {
        seg->flags &= (uint8_t)~TCPW_SYN;
        seg->seq++;
        seg->len--;
        orig_seq = seg->seq;
    }

    /* first: sequence number check (RFC 7323 §5.3 PAWS before it). */
    if (paws_reject(c, seg)) {
        s->stats.paws_rejected++;
        conn_note(c, "old timestamp: dropped by PAWS (RFC 7323 §5.3)");
        send_ack(c);
        return;
    }
    uint32_t wnd_len = seg->len;
    bool acceptable = seq_acceptable(c, seg->seq, wnd_len);
    if (!acceptable && conn_rcv_wnd(c) == 0 && seg->seq == c->rcv_nxt) {
        /* zero window: "special allowance should be made to accept valid ACKs, URGs, and
         * RSTs" — the text is dropped, the controls are processed. The segment with text
         * (a zero-window probe) still gets "an acknowledgment showing its next expected
         * sequence number and current window (zero)" (RFC 9293 §3.8.6.1). */
        if (seg->len && !(seg->flags & TCPW_RST)) c->ack_now = true;
        seg->len -= seg->data_len + ((seg->flags & TCPW_FIN) ? 1 : 0);
        seg->data_len = 0;
        seg->flags &= (uint8_t)~TCPW_FIN;
        acceptable = true;
    }
    if (!acceptable && (seg->flags & TCPW_RST)) {
        /* "If the RST bit is set and the sequence number is outside the current receive
         * window, silently drop the segment" (RFC 5961 §3.2). */
        conn_note(c, "RST outside the window: dropped (RFC 9293 §3.10.7.4)");
        return;
    }
    if (!acceptable) {
        if (c->state == TCPW_TIME_WAIT &&
            (seg->flags & (TCPW_FIN | TCPW_SYN | TCPW_RST)) == TCPW_FIN &&
            seg->seq + seg->data_len + 1 == c->rcv_nxt) {
            /* RFC 9293 §3.10.7.4 fifth and eighth, TIME-WAIT: the peer's FIN again (our last
             * ACK was lost) lies wholly before RCV.NXT; "Acknowledge it, and restart the 2 MSL
             * timeout" — as the compact record does (timewait.c). */
            conn_note(c, "retransmitted FIN in TIME_WAIT: ACK again, restart 2MSL");
            conn_enter_time_wait(c);
        }
        if (!(seg->flags & TCPW_RST)) send_ack(c);
        return;
    }
    if (trim_to_window(c, seg)) c->ack_now = true;
    /* RFC 7323 §4.3 R3: remember the newest timestamp of an in-sequence segment. */
    if (c->ts_ok && seg->opts.has_ts && seq_ge(seg->opts.tsval, c->ts_recent) &&
        seq_le(orig_seq, c->last_ack_sent)) {
        c->ts_recent = seg->opts.tsval;
        c->ts_recent_at = s->now;
    }

    /* second: RST (RFC 5961 §3.2). Exactly RCV.NXT resets; elsewhere in the window it only
     * earns a challenge ACK. */
    if (seg->flags & TCPW_RST) {
        if (c->state == TCPW_TIME_WAIT && s->cfg.rfc1337) {
            /* RFC 1337 §3 (F1): "ignore RST segments in TIME-WAIT state" — all of them, so
             * no challenge ACK either (as the compact record, timewait.c). */
            conn_note(c, "RST ignored in TIME_WAIT (RFC 1337)");
            return;
        }
        if (orig_seq != c->rcv_nxt) {
            send_challenge_ack(c);
            return;
        }
        reset_by_peer(c, seg);
        return;
    }

    /* fourth: SYN (RFC 5961 §4). A SYN in a synchronized state earns a challenge ACK; in a
     * passive SYN_RCVD the peer started over, so this half-open child goes. */
    if (seg->flags & TCPW_SYN) {
        if (c->state == TCPW_SYN_RCVD && c->passive) {
            conn_close_now(c, 0, 0, TCPW_CAUSE_SEGMENT, NULL, seg);
            return;
        }
        send_challenge_ack(c);
        return;
    }

    /* fifth: the ACK field. */
    if (!(seg->flags & TCPW_ACK)) {
        if (c->ack_now) conn_output(c);
        return;
    }
    if (c->state == TCPW_SYN_RCVD || !c->syn_acked) {
        if (!syn_rcvd_ack(c, seg)) return;
    }
    /* RFC 5961 §5.2: acceptable acknowledgments lie in [SND.UNA - MAX.SND.WND, SND.NXT]. */
    if (seq_gt(seg->ack, c->snd_max)) {
        send_challenge_ack(c);
        return;
    }
    if (seq_lt(seg->ack, c->snd_una - c->max_snd_wnd)) {
        send_challenge_ack(c);
        return;
    }
    bool fin_was_acked = our_fin_acked(c);
    if (seq_lt(c->snd_una, seg->ack))
        ack_new_data(c, seg);
    else if (seg->ack == c->snd_una)
        duplicate_ack(c, seg);
    /* Window update (fifth step): SND.UNA =< SEG.ACK, and only from a segment newer than the
     * last one that set it. */
    if (seq_ge(seg->ack, c->snd_una) &&
        (seq_lt(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && seq_le(c->snd_wl2, seg->ack))))
        update_send_window(c, seg);

    /* The peer answers with a zero window: it is alive and merely full. Probing it must go
     * on for as long as it keeps answering (RFC 1122 §4.2.2.17), so its answers are not
     * counted against the retransmission limit. */
    if (c->snd_wnd == 0) c->retries = 0;

    bool fin_now_acked = !fin_was_acked && our_fin_acked(c);
    /* the FIN is processed at the eighth step when the segment is in order and its text fits
     * (and, after close(), carries no text: that text is answered with RST, RFC 2525 §2.17).
     * A bare FIN+ACK after close() takes FIN_WAIT_1 straight to TIME_WAIT (RFC 9293
     * §3.10.7.4 eighth: "if our FIN has been ACKed (perhaps in this segment)"). */
    bool fin_follows = (seg->flags & TCPW_FIN) && seg->seq == c->rcv_nxt &&
                       seg->data_len <= ring_free(&c->rcvbuf) && !(c->rst_on_data && seg->data_len);
    switch (c->state) {
    case TCPW_FIN_WAIT_1:
        /* Our FIN is acknowledged: FIN_WAIT_2 — unless the peer's FIN rides on this very
         * segment, which takes us straight to TIME_WAIT at the eighth step. */
        if (fin_now_acked && !fin_follows) {
            conn_set_state(c, TCPW_FIN_WAIT_2, TCPW_CAUSE_SEGMENT, NULL, seg);
            if (!c->app_holds) {
                c->close_at = s->now + s->cfg.fin_timeout_ms * 1000ull;
                conn_update_deadline(c);
            }
        }
        break;
    case TCPW_CLOSING:
        if (fin_now_acked) {
            conn_set_state(c, TCPW_TIME_WAIT, TCPW_CAUSE_SEGMENT, NULL, seg);
            conn_enter_time_wait(c);
            conn_raise(c, TCPW_EV_CLOSED);
        }
        break;
    case TCPW_LAST_ACK:
        if (fin_now_acked) {
            conn_close_now(c, 0, 0, TCPW_CAUSE_SEGMENT, NULL, seg);
            return;
        }
        break;
    case TCPW_TIME_WAIT:
        /* "The only thing that can arrive in this state is a retransmission of the remote
         * FIN. Acknowledge it" (RFC 9293 §3.10.7.4 fifth): text is ignored (seventh) but
         * acknowledged — as the compact record does (timewait.c). */
        if (seg->data_len) c->ack_now = true;
        break;
    default: break;
    }

    /* sixth: URG. tcpwave implements no urgent data (RFC 6093 advises against its use);
     * the urgent pointer is ignored and the bytes are delivered in line. */

    /* seventh and eighth. */
    text_and_fin(c, seg, true);
    if (c->state != TCPW_CLOSED) conn_output(c);
}

/* Header prediction (as BSD's tcp_input): the segment of an ESTABLISHED connection that is
 * the next one expected, with nothing but ACK among SYN, RST, FIN and ACK, a timestamp no older
 * than TS.Recent (when timestamps are on), an acknowledgment in [SND.UNA, SND.NXT] and text
 * that fits in the window. For it the steps of RFC 9293 §3.10.7.4 that synchronized_arrives()
 * takes reduce to what follows: it passes the sequence number check (first) and PAWS
 * (RFC 7323 §5.3) and needs no trimming; the second and fourth steps (RST, SYN) do not apply;
 * at the fifth the acknowledgment is acceptable (RFC 5961 §5.2) and no FIN of ours is pending
 * (close() leaves ESTABLISHED). Any other segment takes synchronized_arrives(); false then,
 * with nothing changed. */
static bool established_predicted(tcpw_conn *c, tcpw_seg *seg) {
    if ((seg->flags & (TCPW_SYN | TCPW_RST | TCPW_FIN | TCPW_ACK)) != TCPW_ACK ||
        seg->seq != c->rcv_nxt || !c->syn_acked || seq_lt(seg->ack, c->snd_una) ||
        seq_gt(seg->ack, c->snd_max))
        return false;
    if (c->ts_ok && (!seg->opts.has_ts || seq_lt(seg->opts.tsval, c->ts_recent))) return false;
    if (seg->data_len && seg->data_len > conn_rcv_wnd(c)) return false;

    /* first: RFC 7323 §4.3 R3, the newest timestamp of an in-sequence segment. */
    if (c->ts_ok && seq_le(seg->seq, c->last_ack_sent)) {
        c->ts_recent = seg->opts.tsval;
        c->ts_recent_at = c->stack->now;
    }
    /* fifth: the ACK field, and the window update (SND.UNA =< SEG.ACK holds). A segment with
     * text is never a duplicate ACK (duplicate_ack). */
    if (seg->ack != c->snd_una)
        ack_new_data(c, seg);
    else if (!seg->data_len)
        duplicate_ack(c, seg);
    if (seq_lt(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && seq_le(c->snd_wl2, seg->ack)))
        update_send_window(c, seg);
    if (c->snd_wnd == 0) c->retries = 0;
    /* seventh and eighth (a pure ACK has no text and no FIN: only an earlier FIN waiting for
     * RCV.NXT could be due, and RCV.NXT did not move). Text that payload_verifies() copied in
     * place (stack.c: SEG.SEQ = RCV.NXT, nothing held out of order, room for all of it, none
     * of which the steps above changed) is taken here, as text_and_fin() takes it, unless a
     * FIN that arrived early waits for RCV.NXT. */
    if (seg->in_rcvbuf && !c->ooo_fin) {
        c->rcvbuf.len += seg->data_len;
        c->rcv_nxt += seg->data_len;
        conn_raise(c, TCPW_EV_READABLE);
        ack_in_order_text(c, seg->data_len);
    } else if (seg->data_len || c->ooo_fin) {
        text_and_fin(c, seg, true);
    }
    if (c->state != TCPW_CLOSED) conn_output(c);
    return true;
}

void conn_segment_arrives(tcpw_conn *c, tcpw_seg *seg) {
    if (c->state == TCPW_ESTABLISHED && established_predicted(c, seg)) return;
    switch (c->state) {
    case TCPW_CLOSED:
    case TCPW_LISTEN: return; /* not in the table in these states */
    case TCPW_SYN_SENT: syn_sent_arrives(c, seg); return;
    default: synchronized_arrives(c, seg); return;
    }
}
