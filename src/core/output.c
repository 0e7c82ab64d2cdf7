/* output.c — everything the engine sends: SYN, SYN+ACK, data, FIN, ACKs, RSTs and challenge
 * ACKs; the receive window we advertise; and the decision of what to send now (window,
 * congestion window, Nagle).
 */
#include <string.h>

#include "seq.h"
#include "tcb.h"

#define IPV4_DF_WORD 0x00004000u /* identification 0, DF (RFC 791 §3.1, RFC 6864 §4.1) */

/* Builds one packet in the stack's scratch buffer and hands it to the driver. */
void send_segment_raw(tcpw_stack *s, const tcpw_segment_out *o, const tcpw_ring *data,
                      uint32_t data_off, uint32_t data_len) {
    size_t hl = tcpw_build_headers(s->pkt, sizeof s->pkt, o, data_len);
    if (hl == 0 || hl + data_len > sizeof s->pkt) return;
    /* RFC 9293 §3.1 checksum in one pass: the payload is summed as it is copied from the send
     * buffer, the headers after them. */
    uint64_t acc = data_len ? ring_peek_csum(data, data_off, s->pkt + hl, data_len, 0) : 0;
    tcpw_finish_checksums_acc(s->pkt, hl, hl + data_len, acc);
    s->stats.pkts_out++;
    if (o->flags & TCPW_RST) s->stats.rst_sent++;
    s->cfg.output(s->cfg.user, s->pkt, hl + data_len);
}

/* ---- the connection's own segments: headers written field by field ---------------------------
 *
 * Every segment of a connection but its SYN has the same IP header and TCP ports and, as
 * options, either nothing or NOP NOP TS (RFC 7323 Appendix A, the layout tcpw_build_headers()
 * gives them too: the bytes are the same). So they are written directly, and the checksums
 * come from the fields' values and sums taken once per connection — the RFC 1071 one's
 * complement sum of the constant words — instead of a pass over the header. */

/* Big-endian stores as one store each (compilers turn the shifts into a byte swap). */
static inline void put16(uint8_t *p, uint32_t v) {
    uint16_t be = (uint16_t)v;
    if (tcpw_csum_host_le()) be = (uint16_t)((v >> 8 & 0xffu) | (v & 0xffu) << 8);
    memcpy(p, &be, 2);
}

static inline void put32(uint8_t *p, uint32_t v) {
    if (tcpw_csum_host_le()) v = (v >> 24) | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | (v << 24);
    memcpy(p, &v, 4);
}

/* The sum of an address as big-endian 16-bit words. */
static uint32_t addr_words(const tcpw_addr *a) {
    uint32_t sum = 0;
    for (size_t i = 0; i < (a->family == 6 ? 16u : 4u); i += 2)
        sum += (uint32_t)(a->ip[i] << 8 | a->ip[i + 1]);
    return sum;
}

/* RFC 1071 §2 (C): folds a sum below 2^36 to 16 bits, end-around (a non-zero sum stays
 * non-zero). */
static inline uint16_t fold16(uint64_t sum) {
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

#define TTL_DEFAULT 64

static void conn_header_sums(tcpw_conn *c) {
    uint32_t addrs = addr_words(&c->local.addr) + addr_words(&c->remote.addr);
    /* RFC 791 §3.1: version/IHL 0x45, identification 0, DF, TTL and protocol TCP; the
     * total length and the checksum vary. */
    c->ip_sum = 0x4500u + 0x4000u + (TTL_DEFAULT << 8 | 6u) + addrs;
    /* RFC 9293 §3.1 / RFC 8200 §8.1: the pseudo-header's addresses and protocol, and the
     * ports; the length varies. */
    c->tcp_sum = addrs + 6u + c->local.port + c->remote.port;
    c->sums_ready = true;
}

/* Sends a segment without SYN: [seq, seq+len) from the send buffer with these flags. */
static TCPW_NOINLINE void send_fast(tcpw_conn *c, uint32_t seq, uint8_t flags, uint32_t len,
                                    uint16_t win) {
    tcpw_stack *s = c->stack;
    uint8_t *pkt = s->pkt;
    if (!c->sums_ready) conn_header_sums(c);
    bool v4 = c->local.addr.family == 4;
    uint32_t ip_hdr = v4 ? 20u : 40u, tcp_hdr = c->ts_ok ? 32u : 20u;
    uint32_t hl = ip_hdr + tcp_hdr, tcp_len = tcp_hdr + len;
    if (v4) {
        /* RFC 791 §3.1, as tcpw_build_headers() writes it */
        uint32_t total = hl + len;
        put32(pkt, 0x45000000u | total);
        put32(pkt + 4, IPV4_DF_WORD);
        pkt[8] = TTL_DEFAULT;
        pkt[9] = 6;
        put16(pkt + 10, (uint16_t)~fold16(c->ip_sum + total));
        memcpy(pkt + 12, c->local.addr.ip, 4);
        memcpy(pkt + 16, c->remote.addr.ip, 4);
    } else {
        /* RFC 8200 §3 */
        put32(pkt, 0x60000000u);
        put16(pkt + 4, tcp_len);
        pkt[6] = 6;
        pkt[7] = TTL_DEFAULT;
        memcpy(pkt + 8, c->local.addr.ip, 16);
        memcpy(pkt + 24, c->remote.addr.ip, 16);
    }
    /* RFC 9293 §3.1: the TCP header. */
    uint8_t *t = pkt + ip_hdr;
    uint32_t ack = (flags & TCPW_ACK) ? c->rcv_nxt : 0;
    uint32_t off_flags = (tcp_hdr / 4) << 12 | flags;
    put16(t, c->local.port);
    put16(t + 2, c->remote.port);
    put32(t + 4, seq);
    put32(t + 8, ack);
    put16(t + 12, off_flags);
    put16(t + 14, win);
    put32(t + 16, 0); /* checksum (below), urgent pointer */
    /* A 32-bit field is two 16-bit words, hi * 2^16 + lo, and 2^16 = 1 modulo 0xffff (RFC
     * 1071 §2 (C)): it is added whole, and fold16 brings the sum (below 2^36) to 16 bits. */
    uint64_t sum = (uint64_t)c->tcp_sum + tcp_len + seq + ack + off_flags + win;
    if (c->ts_ok) {
        /* RFC 7323 §3.2: TSecr is TS.Recent when ACK is set. */
        uint32_t tsval = ts_now(s, c->ts_offset), tsecr = (flags & TCPW_ACK) ? c->ts_recent : 0;
        put32(t + 20, 0x0101080au);
        put32(t + 24, tsval);
        put32(t + 28, tsecr);
        sum += 0x0101u + 0x080au + (uint64_t)tsval + tsecr;
    }
    uint16_t csum;
    if (len) {
        /* the payload is summed as it is copied out of the send buffer: one pass */
        uint64_t acc = ring_peek_csum(&c->sndbuf, seq - c->buf_seq, pkt + hl, len, 0);
        uint64_t words = tcpw_csum_num_wide(sum);
        acc += words;
        acc += acc < words;
        csum = tcpw_csum_finish(acc);
    } else {
        csum = fold16(sum);
    }
    put16(t + 16, (uint16_t)~csum);
    s->stats.pkts_out++;
    s->cfg.output(s->cfg.user, pkt, hl + len);
}

/* RFC 9293 §3.8.6.2.2 / RFC 1122 §4.2.3.3 receiver-side silly window avoidance: the right
 * edge moves only by at least min(buffer/2, MSS); and it never moves left (§3.8.6). */
static uint32_t window_to_advertise(tcpw_conn *c, bool syn) {
    uint32_t free = ring_free(&c->rcvbuf);
    uint32_t edge = c->rcv_nxt + free;
    uint32_t step = c->rcvbuf.cap / 2 < c->snd_mss ? c->rcvbuf.cap / 2 : c->snd_mss;
    if (!syn && seq_ge(c->rcv_adv, c->rcv_nxt) && seq_lt(edge, c->rcv_adv + step) &&
        seq_lt(c->rcv_nxt, c->rcv_adv))
        edge = c->rcv_adv; /* keep the edge where it was */
    if (seq_lt(edge, c->rcv_adv)) edge = c->rcv_adv;
    uint32_t wnd = edge - c->rcv_nxt;
    /* RFC 7323 §2.2: the window in a SYN is never scaled. */
    uint8_t shift = syn ? 0 : c->rcv_wscale;
    uint32_t field = wnd >> shift;
    if (field > 0xffff) field = 0xffff;
    /* Rounding down by the scale must not move the edge left of what we advertised. */
    if (seq_lt(c->rcv_nxt + (field << shift), c->rcv_adv) && field < 0xffff) field++;
    uint32_t adv = c->rcv_nxt + (field << shift);
    if (seq_gt(adv, c->rcv_adv) || syn) c->rcv_adv = adv;
    return field;
}

/* window_to_advertise(c, false) written for segments without SYN, inline: the same tests on
 * the same modular differences, taken from RCV.NXT (told = RCV.ADV - RCV.NXT, the window still
 * advertised; the new right edge less RCV.ADV is free - told). window_field_check() lets the
 * tests compare the two. */
static inline uint32_t window_field(tcpw_conn *c) {
    uint32_t free = ring_free(&c->rcvbuf), told = c->rcv_adv - c->rcv_nxt;
    uint8_t shift = c->rcv_wscale;
    /* The usual case of a connection that receives nothing or reads everything at once: the
     * edge is where we advertised it, the window whole scale units that fit the field. */
    if (free == told && told >> shift <= 0xffff && (told >> shift) << shift == told)
        return told >> shift;
    uint32_t half = c->rcvbuf.cap / 2, step = half < c->snd_mss ? half : c->snd_mss;
    /* RFC 9293 §3.8.6.2.2: the edge moves right only by at least `step`; never left. */
    uint32_t wnd = free;
    if (((int32_t)told > 0 && (int32_t)(free - told - step) < 0) || (int32_t)(free - told) < 0)
        wnd = told;
    uint32_t field = wnd >> shift;
    if (field > 0xffff) field = 0xffff;
    /* RFC 7323 §2.3: rounding down by the scale must not move the edge left. */
    if ((int32_t)((field << shift) - told) < 0 && field < 0xffff) field++;
    if ((int32_t)((field << shift) - told) > 0) c->rcv_adv = c->rcv_nxt + (field << shift);
    return field;
}

uint32_t window_field_check(tcpw_conn *c, bool general) {
    return general ? window_to_advertise(c, false) : window_field(c);
}

/* Fills the header of a segment of this connection (options per RFC 9293 §3.7.1, RFC 7323). */
static void segment_init(tcpw_conn *c, tcpw_segment_out *o, uint32_t seq, uint8_t flags) {
    tcpw_stack *s = c->stack;
    memset(o, 0, sizeof *o);
    o->src = c->local;
    o->dst = c->remote;
    o->seq = seq;
    o->flags = flags;
    bool syn = flags & TCPW_SYN;
    if (flags & TCPW_ACK) o->ack = c->rcv_nxt;
    o->win = (uint16_t)window_to_advertise(c, syn);
    if (syn) {
        uint16_t hdr = c->local.addr.family == 6 ? 60 : 40;
        o->opts.has_mss = true;
        o->opts.mss = s->cfg.mss;
        /* the MSS must leave room for the headers in our 64 KiB scratch buffer too */
        if (o->opts.mss > 65535 - hdr) o->opts.mss = (uint16_t)(65535 - hdr);
        if (c->ws_ok) {
            o->opts.has_wscale = true;
            o->opts.wscale = c->rcv_wscale;
        }
    }
    if (c->ts_ok) {
        /* RFC 7323 §3.2: TSecr is TS.Recent when ACK is set; zero in an initial SYN. */
        o->opts.has_ts = true;
        o->opts.tsval = ts_now(s, c->ts_offset);
        o->opts.tsecr = (flags & TCPW_ACK) ? c->ts_recent : 0;
    }
}

/* Every segment we send with ACK carries the latest ACK: nothing is owed any more. */
static inline void ack_sent(tcpw_conn *c) {
    c->last_ack_sent = c->rcv_nxt;
    c->ack_now = false;
    c->ack_deferred = false;
    c->unacked_segs = 0;
    c->delack_at = TCPW_NEVER;
}

/* A SYN or SYN+ACK of this connection, with its options: out of line, so that the other
 * segments need no room on the stack for the header description of a SYN. */
static TCPW_NOINLINE void send_syn(tcpw_conn *c, uint32_t seq, uint8_t flags, uint32_t len) {
    tcpw_segment_out o;
    segment_init(c, &o, seq, flags);
    uint32_t off = len ? seq - c->buf_seq : 0;
    send_segment_raw(c->stack, &o, &c->sndbuf, off, len);
    if (flags & TCPW_ACK) ack_sent(c);
}

/* Sends a segment of this connection carrying data [seq, seq+len) from the send buffer. */
static inline void conn_send(tcpw_conn *c, uint32_t seq, uint8_t flags, uint32_t len) {
    if (flags & TCPW_SYN) {
        send_syn(c, seq, flags, len);
        return;
    }
    send_fast(c, seq, flags, len, (uint16_t)window_field(c));
    if (flags & TCPW_ACK) ack_sent(c);
}

/* conn_ack_owed() is inline in tcb.h (every in-order segment received owes an ACK). */

/* The application's turn is over: every deferred ACK that no segment has carried leaves. */
void stack_flush_acks(tcpw_stack *s) {
    while (s->ack_queue) {
        tcpw_conn *c = s->ack_queue;
        s->ack_queue = c->ack_next;
        c->in_ack_queue = false;
        if (!c->ack_deferred) continue;
        c->ack_deferred = false;
        send_ack(c);
    }
}

void send_ack(tcpw_conn *c) {
    /* A pure ACK carries the highest sequence number sent so far, so the peer always finds
     * it acceptable even while we are going back to retransmit. */
    conn_send(c, c->snd_max, TCPW_ACK, 0);
    conn_update_deadline(c);
}

/* RFC 5961 §7: challenge ACKs are rate-limited per stack (a fixed budget per second). Takes
 * one from this second's budget; false (and counted as suppressed) when it is spent. Shared
 * with the compact TIME_WAIT records (timewait.c). */
bool challenge_ack_budget(tcpw_stack *s) {
    uint64_t slot = s->now / 1000000u;
    if (slot != s->challenge_slot) {
        s->challenge_slot = slot;
        s->challenge_count = 0;
    }
    if (s->challenge_count >= s->cfg.challenge_ack_per_s) {
        s->stats.challenge_acks_suppressed++;
        return false;
    }
    s->challenge_count++;
    s->stats.challenge_acks++;
    return true;
}

void send_challenge_ack(tcpw_conn *c) {
    if (!challenge_ack_budget(c->stack)) {
        conn_note(c, "challenge ACK suppressed by rate limit (RFC 5961 §7)");
        return;
    }
    conn_note(c, "challenge ACK (RFC 5961)");
    send_ack(c);
}

void send_rst(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote, uint32_t seq,
              uint32_t ack, bool with_ack) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = *local;
    o.dst = *remote;
    o.seq = seq;
    o.ack = with_ack ? ack : 0;
    o.flags = TCPW_RST | (with_ack ? TCPW_ACK : 0);
    send_segment_raw(s, &o, NULL, 0, 0);
}

/* RFC 9293 §3.10.7.1: a segment for no connection. A RST is never answered. Otherwise, with
 * ACK: <SEQ=SEG.ACK><CTL=RST>; without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
void send_rst_for(tcpw_stack *s, const tcpw_packet *p, const tcpw_seg *seg) {
    if (seg->flags & TCPW_RST) return;
    if (seg->flags & TCPW_ACK)
        send_rst(s, &p->dst, &p->src, seg->ack, 0, false);
    else
        send_rst(s, &p->dst, &p->src, 0, seg->seq + seg->len, true);
}

/* ---- what to send now -------------------------------------------------------------------- */

/* The sequence number our FIN takes (valid once shut_wr is set): right after the data. */
static uint32_t fin_seq(const tcpw_conn *c) {
    return c->buf_seq + c->sndbuf.len;
}

/* Our SYN is unacknowledged and due (first send, or going back after a timeout). This also
 * holds in FIN_WAIT_1 entered from SYN_RCVD: the SYN still goes before the FIN. */
static bool syn_needed(const tcpw_conn *c) {
    return !c->syn_acked && c->snd_nxt == c->iss;
}

/* One segment starting at `seq`: up to `room` bytes of data, a FIN if it reaches the end and
 * the application shut down. Returns the sequence space it used (0 when nothing to send). */
static uint32_t send_from(tcpw_conn *c, uint32_t seq, uint32_t room, bool force) {
    uint32_t off = seq - c->buf_seq;
    uint32_t unsent = off < c->sndbuf.len ? c->sndbuf.len - off : 0;
    uint32_t len = unsent < room ? unsent : room;
    if (len > c->snd_mss) len = c->snd_mss;
    bool fin =
        c->shut_wr && len == unsent && seq_le(seq + len, fin_seq(c)) && seq + len == fin_seq(c);
    if (!len && !fin) return 0;
    /* RFC 1122 §4.2.3.4 Nagle: while data is unacknowledged, hold back a short segment. */
    if (!force && c->stack->cfg.nagle && len < c->snd_mss && !fin && seq_gt(seq, c->snd_una))
        return 0;
    uint8_t flags = TCPW_ACK | (fin ? TCPW_FIN : 0) | (len && len == unsent ? TCPW_PSH : 0);
    conn_send(c, seq, flags, len);
    return len + (fin ? 1 : 0);
}

static void start_rtt_timing(tcpw_conn *c, uint32_t seq) {
    /* RFC 6298 §3 (Karn): time only new data, one segment at a time. */
    if (c->rtt_timing || c->ts_ok || seq_lt(seq, c->snd_max)) return;
    c->rtt_timing = true;
    c->rtt_seq = seq;
    c->rtt_start = c->stack->now;
}

/* What the windows let go now from SND.NXT on: the peer's window and the congestion window,
 * which RFC 3042 §2 Limited Transmit widens by one segment for each of the first two duplicate
 * ACKs (not beyond the peer's window), so that a loss in a small window still draws the three
 * duplicates fast retransmit needs. */
static inline uint32_t send_room(const tcpw_conn *c) {
    uint32_t cw = c->cwnd + (c->dupacks < 3 ? c->dupacks * (uint32_t)c->snd_mss : 0);
    uint32_t wnd = c->snd_wnd < cw ? c->snd_wnd : cw;
    int32_t usable = seq_diff(c->snd_una + wnd, c->snd_nxt);
    return usable > 0 ? (uint32_t)usable : 0;
}

/* After `used` sequence numbers left from `seq` (= SND.NXT): SND.NXT and SND.MAX move, and the
 * retransmission timer starts when data leaves and it is not running (RFC 6298 §5.1). */
static inline void sent_from(tcpw_conn *c, uint32_t seq, uint32_t used) {
    start_rtt_timing(c, seq);
    c->snd_nxt += used;
    if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
    if (c->rto_at == TCPW_NEVER || c->persisting) {
        c->persisting = false;
        conn_arm_rto(c);
    }
}

/* The usual output of a synchronized connection that has not closed its side: at most one
 * segment's worth of data waits (an application's small write, or the rest of a larger one),
 * the windows let all of it go and Nagle (RFC 1122 §4.2.3.4) does not hold it back. What
 * conn_output_any's general path does then — one segment <SEQ=SND.NXT><ACK=RCV.NXT>
 * <CTL=ACK,PSH> with all of it, the bookkeeping of sent_from — without its general tests.
 * False, with nothing done, for anything else. */
static bool output_one_segment(tcpw_conn *c) {
    uint32_t seq = c->snd_nxt, unsent = c->buf_seq + c->sndbuf.len - seq;
    if (!c->syn_acked || !c->syn_sent || c->shut_wr || unsent - 1 >= c->snd_mss ||
        send_room(c) < unsent)
        return false;
    if (c->stack->cfg.nagle && unsent < c->snd_mss && seq_gt(seq, c->snd_una)) return false;
    conn_send(c, seq, TCPW_ACK | TCPW_PSH, unsent);
    /* the only timer that may move earlier here is the retransmission timer, and arming it
     * updates the deadline (conn_arm_rto); conn_send only stops the delayed ACK */
    sent_from(c, seq, unsent);
    return true;
}

/* Sends what the state, the windows and the queue allow, then an ACK if one is owed (the
 * usual case of nothing to send is handled inline, tcb.h conn_output). */
/* conn_output_any() beyond one segment's worth of waiting data: out of line, so that the
 * usual one segment saves no registers for it. */
static TCPW_NOINLINE void conn_output_general(tcpw_conn *c) {
    bool sent = false;
    switch (c->state) {
    case TCPW_CLOSED:
    case TCPW_LISTEN: return;
    case TCPW_TIME_WAIT:
        if (c->ack_now) send_ack(c);
        return;
    default: break;
    }

    /* Everything is sent, FIN included, and no ACK is owed: the usual end of processing an
     * ACK or of a read. Only the timers may have changed. */
    if (c->syn_acked && !c->ack_now &&
        c->snd_nxt == c->buf_seq + c->sndbuf.len + (c->shut_wr ? 1u : 0u)) {
        conn_update_deadline(c);
        return;
    }

    if (syn_needed(c)) {
        /* RFC 9293 §3.10.1 (SYN) and §3.10.7.2 (SYN+ACK). */
        uint8_t flags = TCPW_SYN | (c->state == TCPW_SYN_SENT ? 0 : TCPW_ACK);
        start_rtt_timing(c, c->iss);
        conn_send(c, c->iss, flags, 0);
        c->syn_sent = true;
        c->snd_nxt = c->iss + 1;
        if (seq_gt(c->snd_nxt, c->snd_max)) c->snd_max = c->snd_nxt;
        if (c->rto_at == TCPW_NEVER) conn_arm_rto(c);
        return;
    }

    /* Data and FIN only once our SYN is out and the peer's is known. Until our SYN is
     * acknowledged, data waits for ESTABLISHED (RFC 9293 §3.10.2, SYN-RECEIVED: "Queue the
     * data for transmission after entering ESTABLISHED state"); a FIN may go from SYN_RCVD
     * only with nothing before it (§3.10.4: "If no SENDs have been issued and there is no
     * pending data to send, then form a FIN segment and send it"). */
    bool data_waits = !c->syn_acked && c->sndbuf.len;
    if (c->state != TCPW_SYN_SENT && c->syn_sent && !data_waits) {
        for (;;) {
            /* everything, FIN included, is out: send_from() would find nothing to send */
            if (c->snd_nxt == fin_seq(c) + (c->shut_wr ? 1u : 0u)) break;
            uint32_t seq = c->snd_nxt;
            uint32_t used = send_from(c, seq, send_room(c), false);
            if (!used) break;
            sent_from(c, seq, used);
            sent = true;
        }
        /* RFC 9293 §3.8.6.1: data waits behind a zero window and nothing is in flight that
         * would bring a window update: the persist timer probes. */
        uint32_t off = c->snd_nxt - c->buf_seq;
        bool waiting = off < c->sndbuf.len;
        if (waiting && c->snd_wnd == 0 && c->snd_max == c->snd_una && c->rto_at == TCPW_NEVER) {
            c->persisting = true;
            conn_arm_rto(c);
        }
    }

    if (!sent && c->ack_now && c->state != TCPW_SYN_SENT) send_ack(c);
    conn_update_deadline(c);
}

void conn_output_any(tcpw_conn *c) {
    if (c->state == TCPW_ESTABLISHED && output_one_segment(c)) return;
    conn_output_general(c);
}

/* The zero-window probe and fast retransmit send one segment at snd_una regardless of the
 * window, without moving snd_nxt. */
void send_first_unacked(tcpw_conn *c, uint32_t room) {
    if (syn_needed(c) || !c->syn_acked) {
        uint32_t saved = c->snd_nxt;
        c->snd_nxt = c->iss;
        conn_output(c);
        if (seq_gt(saved, c->snd_nxt)) c->snd_nxt = saved;
        return;
    }
    uint32_t used = send_from(c, c->snd_una, room, true);
    if (used && seq_gt(c->snd_una + used, c->snd_max)) c->snd_max = c->snd_una + used;
    if (used && seq_gt(c->snd_una + used, c->snd_nxt)) c->snd_nxt = c->snd_una + used;
}
