/* tcpwave.h — the public API of the tcpwave TCP engine.
 *
 * tcpwave is a sans-I/O TCP (RFC 9293): the engine never reads a clock, never does I/O and
 * keeps no global state. A driver hands it IP packets and the current time; it hands back IP
 * packets through an output callback, application events through tcpw_poll_event(), and
 * every state change through an optional trace callback.
 *
 *   tcpw_config cfg; tcpw_config_default(&cfg);  cfg.output = ...; cfg.alloc = ...;
 *   tcpw_stack *s; tcpw_stack_new(&cfg, &s);
 *   loop: tcpw_input(s, pkt, len, now) for every packet that arrives,
 *         tcpw_tick(s, now) when now >= tcpw_next_deadline(s),
 *         while ((c = tcpw_poll_event(s, &ev))) { ... tcpw_recv / tcpw_send / tcpw_close ... }
 *
 * Times are monotonic microseconds (uint64_t) chosen by the driver. Sequence numbers in this
 * API are absolute 32-bit TCP sequence numbers.
 *
 * Connection handles (tcpw_conn *) follow socket semantics: a handle stays valid until the
 * application gives it up with tcpw_close() or tcpw_abort(), whatever happens to the
 * connection meanwhile (a reset connection sits in CLOSED until then). After tcpw_close()
 * the stack finishes the close on its own and frees everything itself.
 */
#ifndef TCPWAVE_TCPWAVE_H
#define TCPWAVE_TCPWAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- states (RFC 9293 §3.3.2) ------------------------------------------------------------ */

typedef enum tcpw_state {
    TCPW_CLOSED = 0,
    TCPW_LISTEN,
    TCPW_SYN_SENT,
    TCPW_SYN_RCVD,
    TCPW_ESTABLISHED,
    TCPW_FIN_WAIT_1,
    TCPW_FIN_WAIT_2,
    TCPW_CLOSE_WAIT,
    TCPW_CLOSING,
    TCPW_LAST_ACK,
    TCPW_TIME_WAIT,
    TCPW_STATE_COUNT
} tcpw_state;

/* "FIN_WAIT_1" etc., as netstat and the seeds spell them. */
const char *tcpw_state_name(tcpw_state st);

/* ---- errors --------------------------------------------------------------------------------- */

enum {
    TCPW_OK = 0,
    TCPW_EAGAIN = -1,        /* nothing to read now / no buffer space now */
    TCPW_EINVAL = -2,        /* bad argument */
    TCPW_ENOMEM = -3,        /* "insufficient resources" */
    TCPW_EADDRINUSE = -4,    /* local endpoint already bound / 4-tuple in use */
    TCPW_EADDRNOTAVAIL = -5, /* no free ephemeral port */
    TCPW_ENOTCONN = -6,      /* "connection does not exist" */
    TCPW_ECLOSING = -7,      /* "connection closing": send after shutdown/close */
    TCPW_ERESET = -8,        /* "connection reset" */
    TCPW_EREFUSED = -9,      /* "connection refused" */
    TCPW_ETIMEDOUT = -10,    /* retransmissions exhausted, or FIN_WAIT_2 timeout */
    TCPW_ESTATE = -11,       /* call not valid in this state (e.g. accept on a non-listener) */
};
const char *tcpw_strerror(int err);

/* ---- addresses ------------------------------------------------------------------------------ */

typedef struct tcpw_addr {
    uint8_t family; /* 4 or 6; 0 = unspecified (listen on any) */
    uint8_t ip[16]; /* network byte order; IPv4 uses ip[0..3], the rest zero */
} tcpw_addr;

typedef struct tcpw_endpoint {
    tcpw_addr addr;
    uint16_t port; /* host byte order */
} tcpw_endpoint;

/* ---- configuration -------------------------------------------------------------------------- */

typedef struct tcpw_trace tcpw_trace;

typedef struct tcpw_config {
    void *user; /* passed back to every callback */

    /* Called for every IP packet the stack sends. The buffer is only valid during the call. */
    void (*output)(void *user, const uint8_t *pkt, size_t len);
    /* Optional observer of every state change and notable protocol event. It must not call
     * back into the stack. */
    void (*trace)(void *user, const tcpw_trace *ev);
    /* Memory. The core has no allocator of its own; tcpw_config_use_libc() sets malloc/free. */
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);

    /* Secret for ISNs (RFC 6528) and timestamp offsets: fill from a real entropy source
     * (getrandom) in production, from a seed in simulations. */
    uint8_t secret[16];

    uint32_t msl_ms;              /* Maximum Segment Lifetime; TIME_WAIT lasts 2*MSL. 30000 */
    uint32_t fin_timeout_ms;      /* orphaned FIN_WAIT_2 lifetime (Linux tcp_fin_timeout). 60000 */
    uint32_t rto_initial_ms;      /* RFC 6298 (2.1): 1000 */
    uint32_t rto_min_ms;          /* RFC 6298 (2.4): 1000; Linux uses 200 */
    uint32_t rto_max_ms;          /* RFC 6298 (2.5): at least 60000. 120000 */
    uint32_t delayed_ack_ms;      /* RFC 1122 §4.2.3.2 (< 500 ms); 0 disables delayed ACK. 40 */
    uint32_t send_buffer;         /* per-connection send buffer, bytes. 65536 */
    uint32_t recv_buffer;         /* per-connection receive buffer, bytes. 65536 */
    uint16_t mss;                 /* MSS we advertise and the largest segment we send. 1460 */
    uint8_t syn_retries;          /* SYN / SYN+ACK retransmissions before giving up. 6 */
    uint8_t retries;              /* data and FIN retransmissions before aborting (R2). 15 */
    uint32_t challenge_ack_per_s; /* RFC 5961 §7 rate limit for challenge ACKs. 1000 */
    uint16_t ephemeral_lo, ephemeral_hi; /* ephemeral port range. 32768..60999 as Linux */
    bool nagle;                          /* RFC 1122 §4.2.3.4 Nagle algorithm. true */
    bool timestamps;                     /* RFC 7323 timestamps (and PAWS). true */
    bool window_scale;                   /* RFC 7323 window scale. true */
    bool rfc1337;                        /* ignore RST in TIME_WAIT (RFC 1337). true */
    bool tw_reuse;                       /* reuse a TIME_WAIT 4-tuple for outgoing connections with
                                            Linux tcp_tw_reuse semantics. false */
    bool ack_defer; /* an ACK owed at once for data received in order waits for the
                       end of the application's turn (tcpw_poll_event() returning
                       NULL), so that its reply carries it; delayed_ack_ms is the
                       backstop when the driver does not poll. Handshake ACKs and
                       the ACKs of out-of-order data, duplicates, window probes and
                       challenges stay immediate. true */
} tcpw_config;

/* Fill every field with the defaults named above; output and alloc stay NULL. */
void tcpw_config_default(tcpw_config *cfg);
/* Set alloc/free to the C library's malloc/free (not part of the libc-free core). */
void tcpw_config_use_libc(tcpw_config *cfg);

/* ---- the stack ------------------------------------------------------------------------------ */

typedef struct tcpw_stack tcpw_stack;
typedef struct tcpw_conn tcpw_conn;

int tcpw_stack_new(const tcpw_config *cfg, tcpw_stack **out);
/* Frees every connection and TIME_WAIT record without sending anything. */
void tcpw_stack_free(tcpw_stack *s);

/* One IP packet arrived (IPv4 or IPv6, starting at the IP header). */
void tcpw_input(tcpw_stack *s, const uint8_t *pkt, size_t len, uint64_t now);
/* Run every timer due at `now`. */
void tcpw_tick(tcpw_stack *s, uint64_t now);
/* The earliest time tcpw_tick() has work to do; UINT64_MAX when no timer is armed. */
uint64_t tcpw_next_deadline(const tcpw_stack *s);

/* ---- application events --------------------------------------------------------------------- */

enum {
    TCPW_EV_CONNECTED = 1u << 0, /* handshake completed (active or accepted connection) */
    TCPW_EV_ACCEPT = 1u << 1,    /* listener: a connection is waiting in tcpw_accept() */
    TCPW_EV_READABLE = 1u << 2,  /* data to tcpw_recv() */
    TCPW_EV_WRITABLE = 1u << 3,  /* send buffer space became free */
    TCPW_EV_EOF = 1u << 4,       /* peer sent FIN: tcpw_recv() returns 0 once drained */
    TCPW_EV_CLOSED = 1u << 5,    /* both directions closed, the connection is over */
    TCPW_EV_RESET = 1u << 6,     /* the peer reset the connection */
    TCPW_EV_TIMEOUT = 1u << 7,   /* retransmissions exhausted */
    TCPW_EV_REFUSED = 1u << 8,   /* our SYN was answered by RST */
};

/* Returns the next connection with pending events and stores them in *events (clearing
 * them), or NULL when there are none. Connections the application has closed get none.
 *
 * Returning NULL ends the application's turn: with cfg.ack_defer, ACKs owed for data that
 * arrived are held until then, so that what the application sends in answer (a reply, a
 * FIN) carries them, and leave now if nothing did. A driver therefore polls until NULL after
 * delivering packets or running timers, and the application answers each event inside that
 * loop; one that acts only afterwards makes the ACK and its answer two segments. */
tcpw_conn *tcpw_poll_event(tcpw_stack *s, uint32_t *events);

/* ---- user calls (RFC 9293 §3.9.1) ------------------------------------------------------------ */

/* Active OPEN. local may be NULL or have port 0 for an ephemeral port (and family 0 for the
 * address of `remote`'s family chosen by the driver: then local->addr must be given). */
int tcpw_connect(tcpw_stack *s, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                 uint64_t now, tcpw_conn **out);
/* Passive OPEN. local->addr.family 0 listens on any address. backlog bounds the connections
 * in SYN_RCVD plus those established and not yet accepted. */
int tcpw_listen(tcpw_stack *s, const tcpw_endpoint *local, int backlog, tcpw_conn **out);
/* Takes the next established connection off a listener; NULL when none. */
tcpw_conn *tcpw_accept(tcpw_conn *listener);

/* SEND: queues up to len bytes; returns bytes queued, or an error (TCPW_EAGAIN when the
 * buffer is full, TCPW_ECLOSING after shutdown, ...). */
ptrdiff_t tcpw_send(tcpw_conn *c, const void *buf, size_t len, uint64_t now);
/* RECEIVE: returns bytes copied, 0 at end of stream (peer's FIN, buffer drained), or an error
 * (TCPW_EAGAIN when nothing has arrived yet, TCPW_ERESET, ...). */
ptrdiff_t tcpw_recv(tcpw_conn *c, void *buf, size_t len, uint64_t now);
/* RFC 9293 CLOSE of the send direction (socket shutdown(SHUT_WR)): a FIN follows the data
 * already queued; receiving goes on. */
int tcpw_shutdown(tcpw_conn *c, uint64_t now);
/* Gives up the handle (socket close()). Like CLOSE, a FIN follows queued data — but if
 * received data was never read, the connection is reset instead (RFC 2525 §2.17), and data
 * arriving afterwards is answered with RST. On a listener: closes it and resets its
 * not-yet-accepted connections. */
int tcpw_close(tcpw_conn *c, uint64_t now);
/* ABORT (RFC 9293 §3.10.5): sends RST where the state calls for it, gives up the handle. */
int tcpw_abort(tcpw_conn *c, uint64_t now);

void tcpw_set_userdata(tcpw_conn *c, void *data);
void *tcpw_userdata(const tcpw_conn *c);

/* ---- STATUS and listing -----------------------------------------------------------------------
 */

typedef struct tcpw_conn_info {
    uint64_t id; /* unique per stack, never reused */
    tcpw_state state;
    tcpw_endpoint local, remote;
    bool orphan;  /* the application has closed its handle */
    bool compact; /* a compact TIME_WAIT record, no longer a full control block */
    uint32_t iss, snd_una, snd_nxt, snd_wnd;
    uint32_t irs, rcv_nxt, rcv_wnd;
    uint32_t send_queued; /* bytes in the send buffer, sent or not */
    uint32_t recv_queued; /* bytes received in order and not yet read */
    uint32_t srtt_us, rto_us, cwnd;
    uint16_t snd_mss;
    uint64_t deadline; /* next timer of this connection, UINT64_MAX when none */
} tcpw_conn_info;

int tcpw_status(const tcpw_conn *c, tcpw_conn_info *info);
/* Calls fn for every connection, listener and TIME_WAIT record (like `ss -tan`); returns how
 * many there were. */
size_t tcpw_list(const tcpw_stack *s, void (*fn)(void *arg, const tcpw_conn_info *info), void *arg);

/* ---- trace --------------------------------------------------------------------------------- */

typedef enum tcpw_cause {
    TCPW_CAUSE_USER,    /* a user call: what = "connect()", "listen()", "close()", ... */
    TCPW_CAUSE_TIMER,   /* a timer: what = "2msl", "retransmit", "fin_wait_2", ... */
    TCPW_CAUSE_SEGMENT, /* a segment arrived: seg holds its header */
} tcpw_cause;

typedef enum tcpw_trace_kind {
    TCPW_TRACE_STATE, /* from -> to */
    TCPW_TRACE_NOTE,  /* a protocol event worth showing: challenge ACK, retransmission, RST
                         ignored per RFC 1337, ... (from == to == current state) */
} tcpw_trace_kind;

/* TCP header flags as on the wire. */
enum {
    TCPW_FIN = 0x01,
    TCPW_SYN = 0x02,
    TCPW_RST = 0x04,
    TCPW_PSH = 0x08,
    TCPW_ACK = 0x10,
    TCPW_URG = 0x20,
};

typedef struct tcpw_seg_summary {
    uint8_t flags;
    uint32_t seq, ack, len; /* len: payload bytes (SYN/FIN not counted) */
    uint16_t win;           /* raw window field */
} tcpw_seg_summary;

struct tcpw_trace {
    tcpw_trace_kind kind;
    uint64_t now;
    uint64_t conn_id;
    tcpw_endpoint local, remote;
    tcpw_state from, to;
    tcpw_cause cause;
    const char *what;     /* user call or timer name; for notes, the note text */
    tcpw_seg_summary seg; /* the causing segment, when cause == TCPW_CAUSE_SEGMENT */
    int transition;       /* index into the transition registry, -1 for notes */
};

/* The registry of named transitions (RFC 9293 Figure 5 and the refinements of RFC 1122,
 * 5961, 1337, 6191): tests report which they covered. */
typedef struct tcpw_transition {
    tcpw_state from, to;
    tcpw_cause cause;
    const char *name; /* e.g. "rcv ACK of FIN" */
    const char *ref;  /* e.g. "RFC 9293 §3.10.7.4" */
} tcpw_transition;

size_t tcpw_transition_count(void);
const tcpw_transition *tcpw_transition_get(size_t i);

/* ---- statistics ------------------------------------------------------------------------------ */

typedef struct tcpw_stats {
    uint64_t pkts_in, pkts_out;
    uint64_t bad_packets[32]; /* by -error code of tcpw_parse (see wire.h) */
    uint64_t rst_sent, rst_received, challenge_acks, challenge_acks_suppressed;
    uint64_t retransmits, dup_acks, out_of_order, paws_rejected;
    uint64_t time_wait_count; /* live TIME_WAIT records */
    uint64_t conn_count;      /* live control blocks (including listeners) */
    uint64_t transitions[64]; /* times each registry transition was taken */
} tcpw_stats;

const tcpw_stats *tcpw_stack_stats(const tcpw_stack *s);

#ifdef __cplusplus
}
#endif
#endif
