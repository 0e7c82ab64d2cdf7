/* tcb.h — the engine's internal structures: the transmission control block (RFC 9293 §3.3.1),
 * the compact TIME_WAIT record, the stack that owns them, and the functions the core's files
 * share. Nothing here is public; the public API is include/tcpwave/tcpwave.h.
 */
#ifndef TCPW_TCB_H
#define TCPW_TCB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"
#include "buffer.h"
#include "wire.h"

#define TCPW_NEVER UINT64_MAX

/* A function kept out of line: a rare path whose frame should not burden its caller's. */
#if defined(__GNUC__) || defined(__clang__)
#define TCPW_NOINLINE __attribute__((noinline))
#else
#define TCPW_NOINLINE
#endif

/* A function inlined into every caller: one on the path of every usual segment whose call
 * and frame cost more than its copies' size. */
#if defined(__GNUC__) || defined(__clang__)
#define TCPW_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TCPW_ALWAYS_INLINE inline
#endif

/* A segment as the state machine sees it (RFC 9293 §3.3.1 "current segment variables"). */
typedef struct tcpw_seg {
    uint32_t seq, ack;
    uint8_t flags;
    uint32_t wnd; /* raw window field (scaled by the caller where it applies) */
    uint32_t len; /* SEG.LEN: payload + SYN + FIN */
    const uint8_t *data;
    uint32_t data_len;
    bool in_rcvbuf; /* the data already stands in the receive buffer right after the in-order
                       bytes (stack.c copied it there while verifying the checksum) */
    tcpw_tcp_opts opts;
} tcpw_seg;

struct tcpw_conn {
    tcpw_stack *stack;
    uint64_t id;
    tcpw_state state;
    uint32_t tuple_hash; /* tuple_hash() of local and remote while in_table (table.c) */
    tcpw_endpoint local, remote;

    /* demultiplexing: hash chain; all connections: doubly linked list for listing */
    tcpw_conn *hash_next;
    tcpw_conn *all_prev, *all_next;

    /* passive open: a child points at its listener until accepted; a listener keeps the
     * established children in an accept queue and counts children not yet accepted */
    tcpw_conn *listener;
    tcpw_conn *accept_head, *accept_tail, *accept_next;
    int backlog, pending;

    /* the application side */
    void *userdata;
    bool app_holds;   /* the application has a handle to this connection */
    bool passive;     /* created from a listener */
    bool shut_wr;     /* CLOSE of the send direction requested: a FIN follows the data */
    bool rcv_fin;     /* the peer's FIN has been received and processed */
    bool rst_on_data; /* closed with the receive side shut: data in means RST */
    bool in_table;    /* in the connection table, s->conns (table.c) */
    int error;        /* pending error to report: TCPW_ERESET, ... (0 none) */
    uint32_t events;  /* pending TCPW_EV_* not yet polled */
    bool in_event_queue;
    tcpw_conn *event_next;

    /* send sequence space (RFC 9293 §3.3.1) */
    uint32_t iss, snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2;
    uint32_t snd_max;     /* highest sequence number sent + 1 (SND.NXT before a go-back) */
    uint32_t max_snd_wnd; /* largest window the peer offered (RFC 5961 §5.2 MAX.SND.WND) */
    uint32_t buf_seq;     /* sequence number of sndbuf's first byte */
    uint16_t snd_mss;
    uint8_t snd_wscale, rcv_wscale;
    bool ws_ok, ts_ok;
    /* Where the SYN stands. Flags, not sequence comparisons with ISS: after 2^31 bytes a
     * sequence number no longer compares "after" ISS, and after 2^32 SND.UNA equals it. */
    bool syn_sent, syn_acked;

    /* receive sequence space */
    uint32_t irs, rcv_nxt;
    uint32_t rcv_adv; /* right edge of the window we advertised: RCV.NXT + RCV.WND */
    uint32_t last_ack_sent;
    uint32_t ts_recent;    /* RFC 7323 §4.3 TS.Recent */
    uint64_t ts_recent_at; /* when TS.Recent was set (µs) */
    uint32_t ts_offset;

    /* a FIN that arrived ahead of a gap: processed when RCV.NXT reaches it */
    bool ooo_fin;
    uint32_t ooo_fin_seq;

    /* RTT estimation and retransmission (RFC 6298) */
    uint32_t srtt_us, rttvar_us, rto_us;
    uint8_t retries; /* consecutive retransmissions of the same data */
    bool rtt_timing; /* a segment is being timed (Karn's rule: never a retransmitted one) */
    uint32_t rtt_seq;
    uint64_t rtt_start;
    bool persisting; /* the retransmission timer is acting as the persist timer */

    /* congestion control (RFC 5681, a later issue refines it) */
    uint32_t cwnd, ssthresh;
    uint8_t dupacks;
    uint32_t recover;

    /* acknowledgment policy */
    bool ack_now;      /* send an ACK at the next output */
    bool ack_deferred; /* an ACK waits for the end of the application's turn (ack_defer) */
    bool in_ack_queue; /* on the stack's list of deferred ACKs */
    tcpw_conn *ack_next;
    uint8_t unacked_segs; /* full segments received since our last ACK (RFC 1122 §4.2.3.2) */

    /* timers: absolute deadlines, TCPW_NEVER when not armed */
    uint64_t rto_at;    /* retransmission or persist */
    uint64_t delack_at; /* delayed ACK */
    uint64_t close_at;  /* TIME_WAIT 2MSL, or orphaned FIN_WAIT_2 timeout */
    uint64_t deadline;  /* the key in the stack's timer heap: the earliest of the three, or
                           earlier (timer.c re-keys lazily) */
    uint32_t heap_idx;  /* position in the timer heap, UINT32_MAX when not in it (a block
                           stays in it, keyed TCPW_NEVER, once its timers stop: timer.c) */

    tcpw_ring sndbuf, rcvbuf;
    tcpw_assembler ooo;

    /* The constant words of our segments' headers, summed once (output.c, RFC 1071): the
     * IPv4 header's, and the TCP pseudo-header's addresses and protocol with the ports. */
    uint32_t ip_sum, tcp_sum;
    bool sums_ready;
};

/* ---- TIME_WAIT records (timewait.c: the protocol; twstore.c: the storage) ----------------
 *
 * The compact TIME_WAIT record: what TIME_WAIT needs once the application has let go of the
 * connection (RFC 9293 §3.6.1, RFC 1337, RFC 6191, Linux tw_reuse), and nothing else. It is
 * the 4-tuple plus this body. Records live in a store per address family (twstore.c): a ring
 * of fixed-size chunks addressed by 32-bit positions, so a record has no pointer in it and no
 * allocation of its own. */
typedef struct tcpw_tw_body {
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ts_recent; /* RFC 7323 §4.3 TS.Recent */
    uint16_t rcv_wnd;   /* raw window field to put in our ACKs */
    uint8_t bits;       /* RCV.WND's scale (TW_WSCALE) and the TW_* flags */
    uint8_t ts_age;     /* when TS.Recent was set, after expire - 2MSL (timewait.c) */
    uint64_t expire;    /* 2MSL after the last ACK of the peer's FIN */
    uint64_t id;        /* the connection's id: the trace and the listing go on naming it */
} tcpw_tw_body;

enum {
    TW_WSCALE = 0x0f,    /* RCV.WND = rcv_wnd << scale (RFC 5961 §3.2 check) */
    TW_TS_OK = 0x10,     /* the connection uses timestamps (RFC 7323) */
    TW_DEAD = 0x20,      /* removed: its slot is reclaimed when the ring's head reaches it */
    TW_IN_HEAP = 0x40,   /* inserted out of expiry order: expires through the store's heap */
    TW_RESTARTED = 0x80, /* 2MSL restarted in place: moves to the ring's tail at the head */
};

#define TW_NIL UINT32_MAX /* no record: the end of an overflow chain */

/* The IPv4 record: 48 bytes. The key (chain link, ports, addresses) fills its first 16. */
typedef struct tcpw_tw4 {
    uint32_t hash_next; /* next record in its index bucket's overflow chain (TW_NIL: the end) */
    uint16_t lport, rport;
    uint8_t laddr[4], raddr[4];
    tcpw_tw_body b;
} tcpw_tw4;

/* The IPv6 record: 72 bytes, the same layout with 16-byte addresses. */
typedef struct tcpw_tw6 {
    uint32_t hash_next;
    uint16_t lport, rport;
    uint8_t laddr[16], raddr[16];
    tcpw_tw_body b;
} tcpw_tw6;

_Static_assert(sizeof(tcpw_tw4) == 48, "an IPv4 TIME_WAIT record is 48 bytes (issue 6)");
_Static_assert(sizeof(tcpw_tw6) == 72, "an IPv6 TIME_WAIT record is 72 bytes");

/* Hash index from 4-tuple to record position (twstore.c). A bucket is one cache line: the
 * 32-bit tuple hash and the position of up to TW_BUCKET_SLOTS records, so a lookup reads a
 * record only when its hash matches; records beyond those chain through hash_next from
 * `over`. It doubles incrementally: during a rehash b[0] is the old array, b[1] the new one,
 * and b[0]'s buckets below `moved` have been split into b[1]. */
#define TW_BUCKET_SLOTS 7
#define TW_BUCKET_LOAD  5u /* records per bucket (on average) before the index doubles */
typedef struct tw_bucket {
    uint32_t n;    /* slots in use: [0, n) */
    uint32_t over; /* first record of the overflow chain, TW_NIL when none */
    uint32_t hash[TW_BUCKET_SLOTS];
    uint32_t pos[TW_BUCKET_SLOTS];
} tw_bucket;

_Static_assert(sizeof(tw_bucket) == 64, "a TIME_WAIT index bucket is one cache line");

typedef struct tw_index {
    tw_bucket *b[2]; /* aligned to a cache line within mem[] (twstore.c, buckets_alloc) */
    void *mem[2];
    uint32_t mask[2];
    uint32_t moved;
    uint32_t count;
} tw_index;

/* The records of one address family. Positions are 31-bit and wrap; the ring holds
 * positions [head, tail) in insertion order, which is expiry order except for the few
 * records kept in the heap (see twstore.c). */
typedef struct tcpw_tw_store {
    uint8_t **chunks;    /* chunk of position p: chunks[(p >> TW_CHUNK_SHIFT) & chunk_mask] */
    uint32_t chunk_mask; /* chunk table size - 1 (a power of two), 0 before the first chunk */
    uint8_t *spare;      /* one emptied chunk kept for the next one needed */
    uint32_t head, tail;
    uint64_t last_expire; /* expiry of the last record appended in order */
    uint32_t *heap;       /* positions of records out of expiry order, a binary min-heap */
    uint32_t heap_len, heap_cap;
    uint32_t live;         /* records not dead */
    uint32_t first_pos;    /* the next record to expire (TW_NIL: none), kept by twstore.c */
    uint64_t first_expire; /* its expiry, TCPW_NEVER when none */
    uint8_t addr_len;      /* 4 or 16 */
    uint8_t rec_size;      /* sizeof(tcpw_tw4) or sizeof(tcpw_tw6) */
    tw_index index;
} tcpw_tw_store;

/* A reference to one record. Valid until the next change to its store. */
typedef struct tw_ref {
    tcpw_tw_store *st;
    uint32_t pos;
} tw_ref;

/* The connection table: chained through tcpw_conn.hash_next, doubling incrementally like
 * tw_index (table.c). */
typedef struct tcpw_table {
    tcpw_conn **b[2];
    size_t mask[2];
    size_t moved;
    size_t count;
} tcpw_table;

/* Freed blocks of one size kept for reuse (stack.c), linked through their first bytes. */
typedef struct tcpw_pool {
    void *head;
    uint32_t count;
} tcpw_pool;

/* The RFC 6056 port offset of the last destination (isn.c). */
typedef struct port_offset_cache {
    tcpw_addr local;
    tcpw_endpoint remote;
    uint32_t offset;
    bool valid;
} port_offset_cache;

struct tcpw_stack {
    tcpw_config cfg;
    uint64_t now;
    uint64_t next_id;
    tcpw_stats stats;

    tcpw_table conns;     /* synchronized and half-open connections, by 4-tuple */
    tcpw_tw_store tw4;    /* compact TIME_WAIT records, IPv4 */
    tcpw_tw_store tw6;    /* compact TIME_WAIT records, IPv6 */
    tcpw_conn *listeners; /* chained through hash_next */
    tcpw_conn *all;       /* every control block, for listing and freeing */

    /* timer heap of control blocks keyed by deadline; TIME_WAIT records expire from their
     * stores' rings in expiry order, since every one of them lives exactly 2MSL */
    tcpw_conn **heap;
    uint32_t heap_len, heap_cap;

    tcpw_conn *event_head, *event_tail;
    tcpw_conn *ack_queue; /* connections with a deferred ACK (output.c) */
    tcpw_conn *last_conn; /* the connection the last segment was for (stack.c) */
    uint64_t ack_due;     /* when tcpw_tick sends them if nobody polled (the backstop) */

    /* control blocks and buffers of ended connections, for the next ones (stack.c) */
    tcpw_pool pool_conns, pool_sndbufs, pool_rcvbufs;

    /* RFC 5961 §7 challenge ACK rate limit: count in the current one-second slot */
    uint64_t challenge_slot;
    uint32_t challenge_count;

    uint32_t port_hint;           /* RFC 6056 Algorithm 3 counter */
    port_offset_cache port_cache; /* the last destination's port offset (isn.c) */
    tcpw_seg_summary arrived;     /* header of the segment being processed, as it arrived */
    uint8_t pkt[TCPW_MAX_HEADERS + 65536]; /* output packet under construction */
};

/* ---- stack.c -------------------------------------------------------------------------------- */
void *stack_alloc(tcpw_stack *s, size_t size);
void stack_free_mem(tcpw_stack *s, void *p);
void conn_raise_queue(tcpw_conn *c);
/* Reports events to the application holding the connection: they accumulate until it polls;
 * the connection joins the stack's event queue once (conn_raise_queue). */
static inline void conn_raise(tcpw_conn *c, uint32_t events) {
    if (!c->app_holds) return;
    c->events |= events;
    if (!c->in_event_queue) conn_raise_queue(c);
}
/* conn_set_state(): at the end of this file (it needs transition_find). */
void conn_trace_state(tcpw_conn *c, tcpw_state from, tcpw_cause cause, const char *what,
                      const tcpw_seg *seg, int idx);
void conn_note(tcpw_conn *c, const char *text);
void trace_state_change(tcpw_stack *s, uint64_t id, const tcpw_endpoint *local,
                        const tcpw_endpoint *remote, tcpw_state from, tcpw_state to,
                        tcpw_cause cause, const char *what, const tcpw_seg *seg);
void stack_note(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote, uint64_t id,
                tcpw_state st, const char *text);
tcpw_conn *conn_new(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote);
int conn_alloc_buffers(tcpw_conn *c);
void conn_start_sequence(tcpw_conn *c, uint32_t iss, uint32_t ts_offset);
void conn_reap(tcpw_conn *c);
void conn_destroy(tcpw_conn *c);
void conn_close_now(tcpw_conn *c, int error, uint32_t event, tcpw_cause cause, const char *what,
                    const tcpw_seg *seg);
void conn_enter_time_wait(tcpw_conn *c);
/* RCV.WND (RFC 9293 §3.3.1): what is left of the window we advertised, RCV.ADV - RCV.NXT. */
static inline uint32_t conn_rcv_wnd(const tcpw_conn *c) {
    int32_t wnd = (int32_t)(c->rcv_adv - c->rcv_nxt); /* seq.h: RCV.ADV after RCV.NXT */
    return wnd > 0 ? (uint32_t)wnd : 0;
}

/* ---- table.c -------------------------------------------------------------------------------- */
uint32_t tuple_hash(const tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote);
int table_insert_conn(tcpw_stack *s, tcpw_conn *c);
int table_insert_conn_hashed(tcpw_stack *s, tcpw_conn *c, uint32_t h);
void table_remove_conn(tcpw_stack *s, tcpw_conn *c);
tcpw_conn *table_find_conn(const tcpw_stack *s, const tcpw_endpoint *local,
                           const tcpw_endpoint *remote);
tcpw_conn *table_find_conn_hashed(const tcpw_stack *s, const tcpw_endpoint *local,
                                  const tcpw_endpoint *remote, uint32_t h);
uint32_t tuple_hash_raw(const tcpw_stack *s, uint8_t addr_len, const uint8_t *laddr,
                        const uint8_t *raddr, uint16_t lport, uint16_t rport);
tcpw_conn *listener_find(const tcpw_stack *s, const tcpw_endpoint *local);
void table_free(tcpw_stack *s, tcpw_table *t);

/* ---- timer.c -------------------------------------------------------------------------------- */
void conn_timers_detach(tcpw_conn *c);
void timers_settle(tcpw_stack *s);
/* The earliest of the connection's timers (TCPW_NEVER when none is armed). */
static inline uint64_t conn_next_timer(const tcpw_conn *c) {
    uint64_t d = c->rto_at;
    if (c->delack_at < d) d = c->delack_at;
    if (c->close_at < d) d = c->close_at;
    return d;
}
void conn_update_deadline_moved(tcpw_conn *c, uint64_t d);
/* After a timer changed: the heap is touched only when the earliest timer moved earlier than
 * the connection's key, or one is armed on a connection not in the heap (timer.c,
 * conn_update_deadline_moved); a timer that moved later or stopped leaves the key as it is. */
static inline void conn_update_deadline(tcpw_conn *c) {
    uint64_t d = conn_next_timer(c);
    if (c->heap_idx != UINT32_MAX ? d >= c->deadline : d == TCPW_NEVER) return;
    if (c->heap_idx == 0) { /* earlier at the top of the heap: it stays the top */
        c->deadline = d;
        return;
    }
    conn_update_deadline_moved(c, d);
}
void timers_run(tcpw_stack *s, uint64_t now);
void conn_timers_stop(tcpw_conn *c);
/* RFC 6298 §5.1: (re)start the timer so it expires after RTO (times any backoff). */
static inline void conn_arm_rto(tcpw_conn *c) {
    c->rto_at = c->stack->now + c->rto_us;
    conn_update_deadline(c);
}
/* ---- RTO (RFC 6298), inline: every ACK with timestamps takes a sample ---- */
static inline uint32_t clamp_rto(const tcpw_stack *s, uint64_t rto) {
    uint64_t lo = s->cfg.rto_min_ms * 1000ull, hi = s->cfg.rto_max_ms * 1000ull;
    return (uint32_t)(rto < lo ? lo : rto > hi ? hi : rto);
}

/* RTO from the current estimates without a new sample: after new data is acknowledged the
 * backed-off RTO of a retransmission episode is dropped (as Linux does), RFC 6298 §2.3. */
static inline void rto_recompute(tcpw_conn *c) {
    if (c->srtt_us == 0) return;
    const uint64_t G = 1000;
    uint64_t k = 4ull * c->rttvar_us;
    c->rto_us = clamp_rto(c->stack, c->srtt_us + (k > G ? k : G));
}

/* RFC 6298 §2.2 and §2.3, with clock granularity G = 1 ms. */
static inline void rtt_sample(tcpw_conn *c, uint32_t r) {
    if (c->srtt_us == 0) {
        c->srtt_us = r ? r : 1;
        c->rttvar_us = r / 2;
    } else {
        uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
        c->rttvar_us = (3 * c->rttvar_us + delta) / 4;
        c->srtt_us = (7 * c->srtt_us + r) / 8;
        if (c->srtt_us == 0) c->srtt_us = 1;
    }
    rto_recompute(c);
}

/* ---- output.c ------------------------------------------------------------------------------- */
void conn_output_any(tcpw_conn *c);
/* conn_output_any() without a call in the usual end of processing an ACK or a read: an
 * ESTABLISHED connection whose data is all sent and that owes no ACK only settles its timers'
 * deadline (as conn_output_any() does then). */
static inline void conn_output(tcpw_conn *c) {
    if (c->state == TCPW_ESTABLISHED && c->syn_acked && !c->ack_now && !c->shut_wr &&
        c->snd_nxt == c->buf_seq + c->sndbuf.len) {
        conn_update_deadline(c);
        return;
    }
    conn_output_any(c);
}
void send_ack(tcpw_conn *c);
/* An ACK is owed for data that arrived in order. Without ack_defer it leaves at once. With it,
 * it waits for the end of the application's turn — tcpw_poll_event() returning NULL, when the
 * application has answered every event (stack_flush_acks) — unless a segment leaves on the
 * connection before (conn_send: it carries the ACK). The backstop, for a driver that does not
 * poll, is the delayed-ACK time counted from the first ACK deferred (s->ack_due, run by
 * tcpw_tick; due at once when delayed ACKs are off). RFC 1122 §4.2.3.2 lets an ACK wait up to
 * 0.5 s; this one waits for the application, which is there (it holds the connection or will
 * accept it). */
static inline void conn_ack_owed(tcpw_conn *c) {
    tcpw_stack *s = c->stack;
    if (!s->cfg.ack_defer || (!c->app_holds && !c->listener)) {
        c->ack_now = true;
        return;
    }
    c->ack_deferred = true;
    if (c->in_ack_queue) return;
    if (!s->ack_queue) s->ack_due = s->now + s->cfg.delayed_ack_ms * 1000ull;
    c->in_ack_queue = true;
    c->ack_next = s->ack_queue;
    s->ack_queue = c;
}
void stack_flush_acks(tcpw_stack *s);
void send_first_unacked(tcpw_conn *c, uint32_t room);
void send_challenge_ack(tcpw_conn *c);
bool challenge_ack_budget(tcpw_stack *s);
void send_rst_for(tcpw_stack *s, const tcpw_packet *p, const tcpw_seg *seg);
void send_rst(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote, uint32_t seq,
              uint32_t ack, bool with_ack);
void send_segment_raw(tcpw_stack *s, const tcpw_segment_out *o, const tcpw_ring *data,
                      uint32_t data_off, uint32_t data_len);
/* RFC 7323 §4.1: the timestamp clock ticks once per millisecond, from a per-address-pair
 * offset (§7.1). */
static inline uint32_t ts_now(const tcpw_stack *s, uint32_t offset) {
    return (uint32_t)(s->now / 1000u) + offset;
}
/* For the tests: the window field of a segment without SYN as the general computation gives it
 * (general) or as the inline one segments use does; both update RCV.ADV alike. */
uint32_t window_field_check(tcpw_conn *c, bool general);

/* ---- input.c -------------------------------------------------------------------------------- */
void conn_segment_arrives(tcpw_conn *c, tcpw_seg *seg);
void listen_segment_arrives(tcpw_conn *l, const tcpw_packet *p, tcpw_seg *seg);
void apply_syn_options(tcpw_conn *c, const tcpw_seg *seg);
void listen_reopen(tcpw_conn *l, const tcpw_packet *p, tcpw_seg *seg, uint32_t old_snd_nxt);

/* ---- timewait.c ----------------------------------------------------------------------------- */
int tw_from_conn(tcpw_conn *c);
void tw_segment_arrives(tcpw_stack *s, tw_ref tw, const tcpw_packet *p, tcpw_seg *seg);
void tw_expire_due(tcpw_stack *s, uint64_t now);
void tw_kill(tcpw_stack *s, tw_ref tw, tcpw_cause cause, const char *what, const tcpw_seg *seg);
bool tw_reusable(const tcpw_stack *s, tw_ref tw);
void tw_info(const tcpw_tw_store *st, uint32_t pos, tcpw_conn_info *info);

/* ---- twstore.c ------------------------------------------------------------------------------ */
void tw_stores_init(tcpw_stack *s);
void tw_stores_free(tcpw_stack *s);
tcpw_tw_store *tw_store_for(tcpw_stack *s, uint8_t family);
tcpw_tw_body *tw_body(const tcpw_tw_store *st, uint32_t pos);
void tw_endpoints(const tcpw_tw_store *st, uint32_t pos, tcpw_endpoint *local,
                  tcpw_endpoint *remote);
bool table_find_tw(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                   tw_ref *out);
bool table_find_tw_hashed(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                          uint32_t h, tw_ref *out);
int tw_store_add(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote, uint32_t h,
                 const tcpw_tw_body *body);
void tw_store_remove(tcpw_stack *s, tw_ref r);
void tw_store_restart(tcpw_stack *s, tw_ref r, uint64_t expire);
bool tw_store_next_due(tcpw_stack *s, uint64_t now, tw_ref *out);
/* The earliest expiry of any record, TCPW_NEVER when none (kept by twstore.c). */
static inline uint64_t tw_next_expire(const tcpw_stack *s) {
    return s->tw6.first_expire < s->tw4.first_expire ? s->tw6.first_expire : s->tw4.first_expire;
}
void tw_prefetch_next(tcpw_stack *s);
size_t tw_list(const tcpw_stack *s, void (*fn)(void *arg, const tcpw_conn_info *info), void *arg);

/* ---- isn.c ---------------------------------------------------------------------------------- */
uint64_t tcpw_siphash24(const uint8_t key[16], const void *data, size_t len);
uint64_t tcpw_tuple_siphash(const uint8_t key[16], uint8_t tag, const tcpw_endpoint *local,
                            const tcpw_endpoint *remote);
void isn_and_ts_offset(const tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                       uint32_t *isn, uint32_t *ts_offset);
uint32_t ts_offset_for(const tcpw_stack *s, const tcpw_endpoint *local,
                       const tcpw_endpoint *remote);
uint32_t port_offset_for(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote);

/* ---- transitions.c -------------------------------------------------------------------------- */
extern const uint8_t transition_lookup[TCPW_STATE_COUNT][TCPW_STATE_COUNT][3];
/* The registry's index of the transition (from, to, cause), -1 when it has none. Inline: it
 * runs at every state change. */
static inline int transition_find(tcpw_state from, tcpw_state to, tcpw_cause cause) {
    if ((unsigned)from >= TCPW_STATE_COUNT || (unsigned)to >= TCPW_STATE_COUNT ||
        (unsigned)cause > 2)
        return -1;
    return (int)transition_lookup[from][to][cause] - 1;
}

/* DESIGN §2: every state change of a control block goes through here, with its cause: it is
 * counted (tcpw_stats.transitions) and, with a trace callback, traced (conn_trace_state).
 * Inline: the cause and the new state are constants where it is called. */
static inline void conn_set_state(tcpw_conn *c, tcpw_state to, tcpw_cause cause, const char *what,
                                  const tcpw_seg *seg) {
    tcpw_state from = c->state;
    if (from == to) return;
    c->state = to;
    int idx = transition_find(from, to, cause);
    if (idx >= 0) c->stack->stats.transitions[idx]++;
    if (c->stack->cfg.trace) conn_trace_state(c, from, cause, what, seg, idx);
}

#endif
