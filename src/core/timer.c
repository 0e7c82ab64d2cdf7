/* timer.c — the connection timers: retransmission (RFC 6298) doubling as the persist timer
 * (RFC 9293 §3.8.6.1), delayed ACK (RFC 1122 §4.2.3.2), TIME_WAIT's 2MSL (RFC 9293 §3.6.1)
 * and the orphaned FIN_WAIT_2 timeout; and the heap that finds the next one due.
 *
 * Each control block has at most one entry in the stack's binary min-heap, keyed by the
 * earliest of its timers or an earlier time (lazy re-keying, see conn_update_deadline), so the
 * stack's next deadline is the heap's top or earlier.
 */
#include "seq.h"
#include "tcb.h"

/* ---- the heap -------------------------------------------------------------------------------- */

static void heap_set(tcpw_stack *s, uint32_t i, tcpw_conn *c) {
    s->heap[i] = c;
    c->heap_idx = i;
}

static void heap_up(tcpw_stack *s, uint32_t i) {
    tcpw_conn *c = s->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (s->heap[parent]->deadline <= c->deadline) break;
        heap_set(s, i, s->heap[parent]);
        i = parent;
    }
    heap_set(s, i, c);
}

static void heap_down(tcpw_stack *s, uint32_t i) {
    tcpw_conn *c = s->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t md = c->deadline;
        if (l < s->heap_len && s->heap[l]->deadline < md) m = l, md = s->heap[l]->deadline;
        if (r < s->heap_len && s->heap[r]->deadline < md) m = r;
        if (m == i) break;
        heap_set(s, i, s->heap[m]);
        i = m;
    }
    heap_set(s, i, c);
}

static void heap_remove(tcpw_stack *s, tcpw_conn *c) {
    uint32_t i = c->heap_idx;
    c->heap_idx = UINT32_MAX;
    tcpw_conn *last = s->heap[--s->heap_len];
    if (i == s->heap_len) return;
    heap_set(s, i, last);
    heap_up(s, i);
    heap_down(s, last->heap_idx);
}

TCPW_NOINLINE static bool heap_insert(tcpw_stack *s, tcpw_conn *c) {
    if (s->heap_len == s->heap_cap) {
        uint32_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        tcpw_conn **h = stack_alloc(s, cap * sizeof *h);
        if (!h) return false;
        for (uint32_t i = 0; i < s->heap_len; i++)
            h[i] = s->heap[i];
        stack_free_mem(s, s->heap);
        s->heap = h;
        s->heap_cap = cap;
    }
    heap_set(s, s->heap_len++, c);
    heap_up(s, c->heap_idx);
    return true;
}

/* The heap is keyed lazily. A timer that moves earlier moves the connection up at once; one
 * whose timer moves later (every ACK pushes the retransmission timer back) or stops (the ACK
 * of everything sent stops it, RFC 6298 §5.2) keeps its key, which is then earlier than
 * needed. Only a stale key at the top of the heap matters: timers_settle() re-keys such a
 * connection at its true deadline (conn_rekey) until the top is exact, before anyone reads
 * it. A connection with no timer left keeps its place in the heap with the key TCPW_NEVER,
 * below every armed one, until it is freed (conn_timers_detach): a sender whose every segment
 * starts the retransmission timer and whose every ACK stops it then re-keys one entry instead
 * of inserting and removing it each time. So the heap is not touched on every segment, only
 * when a moved timer comes to the top, and tcpw_next_deadline() stays exact (a top keyed
 * TCPW_NEVER means no timer is armed anywhere). c->deadline is the key in the heap. */
void conn_update_deadline_moved(tcpw_conn *c, uint64_t d) {
    tcpw_stack *s = c->stack;
    if (c->heap_idx != UINT32_MAX) {
        if (d < c->deadline) {
            c->deadline = d;
            if (c->heap_idx) heap_up(s, c->heap_idx); /* the top stays the top */
        }
    } else if (d != TCPW_NEVER) {
        c->deadline = d;
        if (!heap_insert(s, c)) {
            /* Out of memory for the heap: the timer cannot run. Reset rather than hang. */
            c->deadline = TCPW_NEVER;
        }
    }
}

/* Re-keys stale connections at the top of the heap until its top is the true next deadline.
 * A key is never later than its connection's true deadline (a timer that moves earlier moves
 * the key at once, conn_update_deadline), so a stale top only moves down. */
void timers_settle(tcpw_stack *s) {
    while (s->heap_len) {
        tcpw_conn *c = s->heap[0];
        uint64_t d = conn_next_timer(c);
        if (d == c->deadline) return;
        c->deadline = d;
        if (s->heap_len == 1) return; /* a lone entry stays where it is */
        heap_down(s, 0);
    }
}

/* Takes the connection out of the heap for good (it is being freed). */
void conn_timers_detach(tcpw_conn *c) {
    c->rto_at = c->delack_at = c->close_at = TCPW_NEVER;
    if (c->heap_idx != UINT32_MAX) heap_remove(c->stack, c);
    c->deadline = TCPW_NEVER;
}

void conn_timers_stop(tcpw_conn *c) {
    c->rto_at = c->delack_at = c->close_at = TCPW_NEVER;
    c->persisting = false;
    conn_update_deadline(c);
}

/* ---- RTO (RFC 6298) ---------------------------------------------------------------------------
 */

/* clamp_rto, rtt_sample and rto_recompute are inline in tcb.h (every ACK with timestamps
 * takes a sample). */

/* ---- expiry -------------------------------------------------------------------------------- */

static uint8_t retry_limit(const tcpw_conn *c) {
    return (c->state == TCPW_SYN_SENT || c->state == TCPW_SYN_RCVD) ? c->stack->cfg.syn_retries
                                                                    : c->stack->cfg.retries;
}

/* RFC 6298 §5.4-5.7 and RFC 5681 §3.1: retransmit the earliest unacknowledged segment, back
 * off the timer, shrink the congestion window to one segment. */
static void on_retransmit_timeout(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    c->rto_at = TCPW_NEVER;
    if (c->persisting) {
        /* RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: probe the zero window with one byte; the
         * persist timer backs off like the retransmission timer, and never gives up. */
        c->rto_us = clamp_rto(s, (uint64_t)c->rto_us * 2);
        conn_note(c, "zero-window probe");
        send_first_unacked(c, 1);
        conn_arm_rto(c); /* still persisting */
        return;
    }
    if (c->retries >= retry_limit(c)) {
        conn_note(c, "retransmissions exhausted: connection timed out");
        conn_close_now(c, TCPW_ETIMEDOUT, TCPW_EV_TIMEOUT, TCPW_CAUSE_TIMER, "retransmit", NULL);
        return;
    }
    c->retries++;
    s->stats.retransmits++;
    uint32_t flight = c->snd_max - c->snd_una;
    uint32_t half = flight / 2, two = 2u * c->snd_mss;
    c->ssthresh = half > two ? half : two;
    c->cwnd = c->snd_mss;
    c->dupacks = 0;
    c->recover = c->snd_max;
    c->rtt_timing = false; /* Karn: never time a retransmitted segment */
    c->rto_us = clamp_rto(s, (uint64_t)c->rto_us * 2);
    c->snd_nxt = c->snd_una; /* go back: resend from the first unacknowledged byte */
    conn_note(c, "retransmission timeout: retransmit");
    conn_output(c);
    /* RFC 9293 §3.8.6.1: "the sending TCP must regularly retransmit to the receiving TCP even
     * when the window is zero". A window closed while data is in flight (or closed by a
     * reordered ACK as new as the last one but older, which the SND.WL1/WL2 test of
     * §3.10.7.4 cannot tell apart) lets conn_output() send nothing: send the first
     * unacknowledged octet anyway, so that its ACK reports the window as it is. */
    if (c->snd_nxt == c->snd_una && c->snd_max != c->snd_una) send_first_unacked(c, 1);
    if (c->rto_at == TCPW_NEVER) conn_arm_rto(c);
}

static void on_close_timer(tcpw_conn *c) {
    c->close_at = TCPW_NEVER;
    if (c->state == TCPW_TIME_WAIT) {
        /* RFC 9293 §3.10.8: when the time-wait timeout expires, delete the TCB. */
        conn_close_now(c, 0, 0, TCPW_CAUSE_TIMER, "2msl", NULL);
    } else if (c->state == TCPW_FIN_WAIT_2) {
        /* The peer never sent its FIN and nobody is left to read: give up (Linux
         * tcp_fin_timeout). Nothing is sent; a later segment from the peer gets a RST. */
        conn_close_now(c, TCPW_ETIMEDOUT, 0, TCPW_CAUSE_TIMER, "fin_wait_2", NULL);
    } else {
        conn_update_deadline(c);
    }
}

static void conn_on_timer(tcpw_conn *c, uint64_t now) {
    if (c->rto_at <= now) {
        on_retransmit_timeout(c);
        if (c->state == TCPW_CLOSED) return;
    }
    if (c->delack_at <= now) {
        c->delack_at = TCPW_NEVER;
        c->ack_now = true;
        conn_output(c);
    }
    if (c->close_at <= now) on_close_timer(c);
    conn_update_deadline(c);
}

void timers_run(tcpw_stack *s, uint64_t now) {
    for (;;) {
        timers_settle(s);
        if (!s->heap_len || s->heap[0]->deadline > now) return;
        tcpw_conn *c = s->heap[0];
        conn_on_timer(c, now);
        conn_reap(c); /* every handler clears or moves forward the timer that fired */
    }
}
