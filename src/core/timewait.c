/* timewait.c — TIME_WAIT once the application has let go: a compact record in place of the
 * control block (RFC 9293 §3.6.1: the state only has to answer a retransmitted FIN and keep
 * old duplicates out of a new incarnation for 2MSL).
 *
 * The record (tcb.h) keeps the 4-tuple, SND.NXT, RCV.NXT, the receive window it advertised,
 * TS.Recent and the expiry; twstore.c stores it in 48 bytes (IPv4) with O(1) insertion and
 * expiry. What the record leaves out is derived when needed:
 *   - the timestamp offset of our TSval is ts_offset_for() of the 4-tuple, as for the control
 *     block (RFC 7323 §5.4 via RFC 6528), computed when an ACK goes out (rarely);
 *   - when TS.Recent was set (for tw_reuse's one-second rule) is the moment the 2MSL clock
 *     last (re)started — expiry minus 2MSL, the ACK of the peer's FIN — plus ts_age, a small
 *     delay kept for a control block whose TS.Recent moved after it entered TIME_WAIT.
 */
#include <string.h>

#include "seq.h"
#include "tcb.h"

/* ts_age counts 1/64 s, rounded up. TS_AGE_UNKNOWN: TS.Recent was set too long after the 2MSL
 * clock started to say when; the record is then never taken over by tw_reuse. */
#define TS_AGE_UNIT_US 15625u
#define TS_AGE_UNKNOWN 255

static uint64_t two_msl_us(const tcpw_stack *s) {
    return 2ull * s->cfg.msl_ms * 1000u;
}

/* When the record's 2MSL clock last (re)started: its last ACK of the peer's FIN. */
static uint64_t clock_started(const tcpw_stack *s, const tcpw_tw_body *b) {
    uint64_t d = two_msl_us(s);
    return b->expire > d ? b->expire - d : 0;
}

/* TS.Recent's time as a delay after the clock's start. A TS.Recent set before the start
 * counts as set at the start: tw_reuse then waits a little longer than it must, never less. */
static uint8_t ts_age_encode(uint64_t ts_recent_at, uint64_t started) {
    if (ts_recent_at <= started) return 0;
    uint64_t units = (ts_recent_at - started + TS_AGE_UNIT_US - 1) / TS_AGE_UNIT_US;
    return units >= TS_AGE_UNKNOWN ? TS_AGE_UNKNOWN : (uint8_t)units;
}

/* Replaces a control block in TIME_WAIT by a record. The caller destroys the block. */
int tw_from_conn(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    tcpw_tw_body b;
    memset(&b, 0, sizeof b);
    b.id = c->id;
    b.expire = c->close_at;
    b.snd_nxt = c->snd_max;
    b.rcv_nxt = c->rcv_nxt;
    b.ts_recent = c->ts_recent;
    uint32_t wnd = conn_rcv_wnd(c) >> c->rcv_wscale;
    b.rcv_wnd = (uint16_t)(wnd > 0xffff ? 0xffff : wnd);
    b.bits = (uint8_t)((c->rcv_wscale & TW_WSCALE) | (c->ts_ok ? TW_TS_OK : 0));
    b.ts_age = ts_age_encode(c->ts_recent_at, clock_started(s, &b));
    uint32_t h = c->in_table ? c->tuple_hash : tuple_hash(s, &c->local, &c->remote);
    int err = tw_store_add(s, &c->local, &c->remote, h, &b);
    if (err) return err; /* out of memory: the full control block stays */
    table_remove_conn(s, c);
    s->stats.time_wait_count++;
    return TCPW_OK;
}

void tw_kill(tcpw_stack *s, tw_ref tw, tcpw_cause cause, const char *what, const tcpw_seg *seg) {
    /* the 4-tuple is unpacked from the record only for a trace (trace_state_change reads it
     * only then) */
    tcpw_endpoint local, remote, *l = NULL, *r = NULL;
    if (s->cfg.trace) {
        tw_endpoints(tw.st, tw.pos, &local, &remote);
        l = &local;
        r = &remote;
    }
    trace_state_change(s, tw_body(tw.st, tw.pos)->id, l, r, TCPW_TIME_WAIT, TCPW_CLOSED, cause,
                       what, seg);
    tw_store_remove(s, tw);
    s->stats.time_wait_count--;
}

/* RFC 9293 §3.10.8: the time-wait timeout deletes the record. */
void tw_expire_due(tcpw_stack *s, uint64_t now) {
    tw_ref tw;
    bool any = false;
    while (tw_store_next_due(s, now, &tw)) {
        tw_kill(s, tw, TCPW_CAUSE_TIMER, "2msl", NULL);
        any = true;
    }
    if (any) tw_prefetch_next(s);
}

/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with the timestamps the connection used. */
static void tw_send_ack(tcpw_stack *s, tw_ref tw) {
    const tcpw_tw_body *b = tw_body(tw.st, tw.pos);
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    tw_endpoints(tw.st, tw.pos, &o.src, &o.dst);
    o.seq = b->snd_nxt;
    o.ack = b->rcv_nxt;
    o.flags = TCPW_ACK;
    o.win = b->rcv_wnd;
    if (b->bits & TW_TS_OK) {
        o.opts.has_ts = true;
        o.opts.tsval = ts_now(s, ts_offset_for(s, &o.src, &o.dst));
        o.opts.tsecr = b->ts_recent;
    }
    send_segment_raw(s, &o, NULL, 0, 0);
}

static void tw_note(tcpw_stack *s, tw_ref tw, const char *text) {
    if (!s->cfg.trace) return;
    tcpw_endpoint local, remote;
    tw_endpoints(tw.st, tw.pos, &local, &remote);
    stack_note(s, &local, &remote, tw_body(tw.st, tw.pos)->id, TCPW_TIME_WAIT, text);
}

/* A SYN may start a new incarnation of the 4-tuple when it is provably newer than everything
 * of the old one: by timestamp when both used them (RFC 6191 §2), else by sequence number
 * (RFC 1122 §4.2.2.13). */
static bool syn_may_reopen(const tcpw_stack *s, const tcpw_tw_body *b, const tcpw_seg *seg) {
    /* RFC 6191 §2: "Timestamps would be enabled for the new incarnation" when both ends
     * offer them. */
    bool new_ts = s->cfg.timestamps && seg->opts.has_ts;
    bool newer_seq = seq_gt(seg->seq, b->rcv_nxt);
    if (!(b->bits & TW_TS_OK)) {
        /* The previous incarnation did not use timestamps: a new one that does is protected
         * by PAWS from its first segment on, so it is honoured; one that does not needs a
         * greater sequence number (RFC 1122 §4.2.2.13). */
        return new_ts || newer_seq;
    }
    if (!new_ts) return newer_seq;
    /* Both used timestamps: a greater timestamp, or an equal one and a greater sequence
     * number. */
    if (seg->opts.tsval == b->ts_recent) return newer_seq;
    return seq_gt(seg->opts.tsval, b->ts_recent);
}

void tw_segment_arrives(tcpw_stack *s, tw_ref tw, const tcpw_packet *p, tcpw_seg *seg) {
    tcpw_tw_body *b = tw_body(tw.st, tw.pos);
    /* RST: RFC 1337 says ignore it (TIME-WAIT assassination); with that off, RFC 9293's
     * rule applies: an exact match ends TIME_WAIT, one elsewhere in the window earns a
     * challenge ACK (RFC 5961 §3.2), one outside it is dropped. */
    if (seg->flags & TCPW_RST) {
        uint32_t wnd = (uint32_t)b->rcv_wnd << (b->bits & TW_WSCALE);
        bool in_window = seg->seq == b->rcv_nxt || seq_in(seg->seq, b->rcv_nxt, b->rcv_nxt + wnd);
        if (!in_window) {
            /* fails the sequence check (§3.10.7.4 first): dropped, RFC 1337 or not */
            tw_note(s, tw, "RST outside the window: dropped (RFC 9293 §3.10.7.4)");
        } else if (s->cfg.rfc1337) {
            tw_note(s, tw, "RST ignored in TIME_WAIT (RFC 1337)");
        } else if (seg->seq == b->rcv_nxt) {
            tw_kill(s, tw, TCPW_CAUSE_SEGMENT, NULL, seg);
        } else if (challenge_ack_budget(s)) {
            tw_note(s, tw, "challenge ACK (RFC 5961)");
            tw_send_ack(s, tw);
        }
        return;
    }
    if ((seg->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN) {
        tcpw_conn *l = listener_find(s, &p->dst);
        if (l && syn_may_reopen(s, b, seg)) {
            uint32_t old_snd_nxt = b->snd_nxt;
            tw_note(s, tw, "new SYN is newer than the old connection: reopen (RFC 6191)");
            tw_kill(s, tw, TCPW_CAUSE_SEGMENT, "reopen", seg);
            listen_reopen(l, p, seg, old_snd_nxt);
            return;
        }
        /* RFC 9293 §3.10.7.4 fourth (RFC 5961 §4.2): a challenge ACK, rate-limited (§7) */
        if (!challenge_ack_budget(s)) return;
        tw_note(s, tw, "SYN in TIME_WAIT not newer than the old connection: ACK");
        tw_send_ack(s, tw);
        return;
    }
    /* RFC 7323 §5.3: an old timestamp marks an old duplicate. */
    bool ts_ok = b->bits & TW_TS_OK;
    bool paws = ts_ok && seg->opts.has_ts && seq_lt(seg->opts.tsval, b->ts_recent);
    if ((seg->flags & TCPW_FIN) && seg->seq + seg->data_len + 1 == b->rcv_nxt && !paws) {
        /* RFC 9293 §3.10.7.4 eighth: the peer retransmitted its FIN (our last ACK was lost):
         * acknowledge it again and restart the 2MSL timeout. TS.Recent takes the FIN's
         * timestamp (RFC 7323 §4.3), set now, as the clock restarts: ts_age 0. */
        tw_note(s, tw, "retransmitted FIN in TIME_WAIT: ACK again, restart 2MSL");
        if (seg->opts.has_ts && ts_ok) b->ts_recent = seg->opts.tsval;
        b->ts_age = 0;
        tw_send_ack(s, tw);
        tw_store_restart(s, tw, s->now + two_msl_us(s)); /* may move the record */
        return;
    }
    /* Anything else carrying sequence space is an old duplicate: not acceptable, so answered
     * with an ACK (RFC 9293 §3.10.7.4 first). A bare ACK is acceptable and changes nothing —
     * unless it acknowledges what was never sent: "send an ACK, drop the segment" (fifth
     * step; RFC 5961 §5.2). */
    if (seg->len > 0 || seg->seq != b->rcv_nxt || paws ||
        ((seg->flags & TCPW_ACK) && seq_gt(seg->ack, b->snd_nxt))) {
        tw_note(s, tw, "old duplicate in TIME_WAIT: rejected, ACK sent");
        tw_send_ack(s, tw);
    }
}

/* Linux tcp_tw_reuse: an outgoing connection may take over a TIME_WAIT 4-tuple when the old
 * connection used timestamps and its last one is at least a second old — the new
 * connection's timestamps are then provably newer (PAWS protects it). */
bool tw_reusable(const tcpw_stack *s, tw_ref tw) {
    const tcpw_tw_body *b = tw_body(tw.st, tw.pos);
    if (!s->cfg.tw_reuse || !(b->bits & TW_TS_OK) || b->ts_age == TS_AGE_UNKNOWN) return false;
    uint64_t ts_recent_at = clock_started(s, b) + (uint64_t)b->ts_age * TS_AGE_UNIT_US;
    return s->now >= ts_recent_at && s->now - ts_recent_at >= 1000000u;
}

void tw_info(const tcpw_tw_store *st, uint32_t pos, tcpw_conn_info *info) {
    const tcpw_tw_body *b = tw_body(st, pos);
    memset(info, 0, sizeof *info);
    info->id = b->id;
    info->state = TCPW_TIME_WAIT;
    tw_endpoints(st, pos, &info->local, &info->remote);
    info->orphan = true;
    info->compact = true;
    info->snd_una = info->snd_nxt = b->snd_nxt;
    info->rcv_nxt = b->rcv_nxt;
    info->deadline = b->expire;
}
