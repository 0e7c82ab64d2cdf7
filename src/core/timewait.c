/* timewait.c — TIME_WAIT once the application has let go: a compact record in place of the
 * control block (RFC 9293 §3.6.1: the state only has to answer a retransmitted FIN and keep
 * old duplicates out of a new incarnation for 2MSL).
 *
 * Every record lives exactly 2MSL from the last ACK it sent, so the records form a FIFO in
 * expiry order: insertion at the tail and expiry at the head are O(1).
 */
#include <string.h>

#include "seq.h"
#include "tcb.h"

static void fifo_unlink(tcpw_stack *s, tcpw_tw *tw) {
    if (tw->fifo_prev)
        tw->fifo_prev->fifo_next = tw->fifo_next;
    else
        s->tw_head = tw->fifo_next;
    if (tw->fifo_next)
        tw->fifo_next->fifo_prev = tw->fifo_prev;
    else
        s->tw_tail = tw->fifo_prev;
    tw->fifo_prev = tw->fifo_next = NULL;
}

/* Inserts in expiry order, searching from the tail: nearly always the tail itself. */
static void fifo_insert(tcpw_stack *s, tcpw_tw *tw) {
    tcpw_tw *after = s->tw_tail;
    while (after && after->expire > tw->expire)
        after = after->fifo_prev;
    tw->fifo_prev = after;
    tw->fifo_next = after ? after->fifo_next : s->tw_head;
    if (tw->fifo_next)
        tw->fifo_next->fifo_prev = tw;
    else
        s->tw_tail = tw;
    if (after)
        after->fifo_next = tw;
    else
        s->tw_head = tw;
}

/* Replaces a control block in TIME_WAIT by a record. The caller destroys the block. */
int tw_from_conn(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    tcpw_tw *tw = stack_alloc(s, sizeof *tw);
    if (!tw) return TCPW_ENOMEM;
    memset(tw, 0, sizeof *tw);
    tw->id = c->id;
    tw->expire = c->close_at;
    tw->local = c->local;
    tw->remote = c->remote;
    tw->snd_nxt = c->snd_max;
    tw->rcv_nxt = c->rcv_nxt;
    tw->ts_ok = c->ts_ok;
    tw->ts_recent = c->ts_recent;
    tw->ts_recent_at = c->ts_recent_at;
    tw->ts_offset = c->ts_offset;
    uint32_t wnd = conn_rcv_wnd(c) >> c->rcv_wscale;
    tw->rcv_wnd = (uint16_t)(wnd > 0xffff ? 0xffff : wnd);
    tw->rcv_wscale = c->rcv_wscale;
    table_remove_conn(s, c);
    if (table_insert_tw(s, tw) != TCPW_OK) {
        table_insert_conn(s, c); /* keep the full block instead */
        stack_free_mem(s, tw);
        return TCPW_ENOMEM;
    }
    fifo_insert(s, tw);
    s->stats.time_wait_count++;
    return TCPW_OK;
}

void tw_kill(tcpw_stack *s, tcpw_tw *tw, tcpw_cause cause, const char *what, const tcpw_seg *seg) {
    trace_state_change(s, tw->id, &tw->local, &tw->remote, TCPW_TIME_WAIT, TCPW_CLOSED, cause, what,
                       seg);
    table_remove_tw(s, tw);
    fifo_unlink(s, tw);
    stack_free_mem(s, tw);
    s->stats.time_wait_count--;
}

/* RFC 9293 §3.10.8: the time-wait timeout deletes the record. */
void tw_expire_due(tcpw_stack *s, uint64_t now) {
    while (s->tw_head && s->tw_head->expire <= now)
        tw_kill(s, s->tw_head, TCPW_CAUSE_TIMER, "2msl", NULL);
}

static void tw_send_ack(tcpw_stack *s, const tcpw_tw *tw) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = tw->local;
    o.dst = tw->remote;
    o.seq = tw->snd_nxt;
    o.ack = tw->rcv_nxt;
    o.flags = TCPW_ACK;
    o.win = tw->rcv_wnd;
    if (tw->ts_ok) {
        o.opts.has_ts = true;
        o.opts.tsval = ts_now(s, tw->ts_offset);
        o.opts.tsecr = tw->ts_recent;
    }
    send_segment_raw(s, &o, NULL, 0, 0);
}

static void tw_note(tcpw_stack *s, const tcpw_tw *tw, const char *text) {
    stack_note(s, &tw->local, &tw->remote, tw->id, TCPW_TIME_WAIT, text);
}

/* A SYN may start a new incarnation of the 4-tuple when it is provably newer than everything
 * of the old one: by timestamp when both used them (RFC 6191 §2), else by sequence number
 * (RFC 1122 §4.2.2.13). */
static bool syn_may_reopen(const tcpw_stack *s, const tcpw_tw *tw, const tcpw_seg *seg) {
    /* RFC 6191 §2: "Timestamps would be enabled for the new incarnation" when both ends
     * offer them. */
    bool new_ts = s->cfg.timestamps && seg->opts.has_ts;
    bool newer_seq = seq_gt(seg->seq, tw->rcv_nxt);
    if (!tw->ts_ok) {
        /* The previous incarnation did not use timestamps: a new one that does is protected
         * by PAWS from its first segment on, so it is honoured; one that does not needs a
         * greater sequence number (RFC 1122 §4.2.2.13). */
        return new_ts || newer_seq;
    }
    if (!new_ts) return newer_seq;
    /* Both used timestamps: a greater timestamp, or an equal one and a greater sequence
     * number. */
    if (seg->opts.tsval == tw->ts_recent) return newer_seq;
    return seq_gt(seg->opts.tsval, tw->ts_recent);
}

void tw_segment_arrives(tcpw_stack *s, tcpw_tw *tw, const tcpw_packet *p, tcpw_seg *seg) {
    /* RST: RFC 1337 says ignore it (TIME-WAIT assassination); with that off, RFC 9293's
     * rule applies: an exact match ends TIME_WAIT, one elsewhere in the window earns a
     * challenge ACK (RFC 5961 §3.2), one outside it is dropped. */
    if (seg->flags & TCPW_RST) {
        uint32_t wnd = (uint32_t)tw->rcv_wnd << tw->rcv_wscale;
        bool in_window =
            seg->seq == tw->rcv_nxt || seq_in(seg->seq, tw->rcv_nxt, tw->rcv_nxt + wnd);
        if (!in_window) {
            /* fails the sequence check (§3.10.7.4 first): dropped, RFC 1337 or not */
            tw_note(s, tw, "RST outside the window: dropped (RFC 9293 §3.10.7.4)");
        } else if (s->cfg.rfc1337) {
            tw_note(s, tw, "RST ignored in TIME_WAIT (RFC 1337)");
        } else if (seg->seq == tw->rcv_nxt) {
            tw_kill(s, tw, TCPW_CAUSE_SEGMENT, NULL, seg);
        } else if (challenge_ack_budget(s)) {
            tw_note(s, tw, "challenge ACK (RFC 5961)");
            tw_send_ack(s, tw);
        }
        return;
    }
    if ((seg->flags & (TCPW_SYN | TCPW_ACK)) == TCPW_SYN) {
        tcpw_conn *l = listener_find(s, &p->dst);
        if (l && syn_may_reopen(s, tw, seg)) {
            uint32_t old_snd_nxt = tw->snd_nxt;
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
    bool paws = tw->ts_ok && seg->opts.has_ts && seq_lt(seg->opts.tsval, tw->ts_recent);
    if ((seg->flags & TCPW_FIN) && seg->seq + seg->data_len + 1 == tw->rcv_nxt && !paws) {
        /* RFC 9293 §3.10.7.4 eighth: the peer retransmitted its FIN (our last ACK was lost):
         * acknowledge it again and restart the 2MSL timeout. */
        tw_note(s, tw, "retransmitted FIN in TIME_WAIT: ACK again, restart 2MSL");
        tw->expire = s->now + 2ull * s->cfg.msl_ms * 1000u;
        if (seg->opts.has_ts && tw->ts_ok) tw->ts_recent = seg->opts.tsval;
        fifo_unlink(s, tw);
        fifo_insert(s, tw);
        tw_send_ack(s, tw);
        return;
    }
    /* Anything else carrying sequence space is an old duplicate: not acceptable, so answered
     * with an ACK (RFC 9293 §3.10.7.4 first). A bare ACK is acceptable and changes nothing —
     * unless it acknowledges what was never sent: "send an ACK, drop the segment" (fifth
     * step; RFC 5961 §5.2). */
    if (seg->len > 0 || seg->seq != tw->rcv_nxt || paws ||
        ((seg->flags & TCPW_ACK) && seq_gt(seg->ack, tw->snd_nxt))) {
        tw_note(s, tw, "old duplicate in TIME_WAIT: rejected, ACK sent");
        tw_send_ack(s, tw);
    }
}

/* Linux tcp_tw_reuse: an outgoing connection may take over a TIME_WAIT 4-tuple when the old
 * connection used timestamps and its last one is at least a second old — the new
 * connection's timestamps are then provably newer (PAWS protects it). */
bool tw_reusable(const tcpw_stack *s, const tcpw_tw *tw) {
    return s->cfg.tw_reuse && tw->ts_ok && s->now - tw->ts_recent_at >= 1000000u;
}

void tw_info(const tcpw_tw *tw, tcpw_conn_info *info) {
    memset(info, 0, sizeof *info);
    info->id = tw->id;
    info->state = TCPW_TIME_WAIT;
    info->local = tw->local;
    info->remote = tw->remote;
    info->orphan = true;
    info->compact = true;
    info->snd_una = info->snd_nxt = tw->snd_nxt;
    info->rcv_nxt = tw->rcv_nxt;
    info->deadline = tw->expire;
}
