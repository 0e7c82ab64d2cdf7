/* analyze.h — the capture analyzer: TCP connections out of a packet capture, with both
 * endpoints' RFC 9293 states on every packet, the way each connection closed, Zeek's
 * conn_state/history beside it, and the anomalies each named with the rule it breaks.
 *
 *   tcpw_an_config cfg; tcpw_an_config_default(&cfg);
 *   tcpw_analyzer *a = tcpw_an_new(&cfg);
 *   tcpw_an_read_result res; tcpw_an_read_file(a, "x.pcap", "port 80", &res);   (capture.c)
 *   or, packet by packet: tcpw_an_add_frame(a, dlt, frame, caplen, wirelen, t_us, recno);
 *   tcpw_an_finish(a);                   infers states, close patterns, anomalies
 *   for (i < tcpw_an_conn_count(a)) { const tcpw_an_conn *c = tcpw_an_conn_get(a, i); ... }
 *   tcpw_an_free(a);
 *
 * What an observer can know: the capture shows what crossed one point of the path. The
 * analyzer reads it whole, then decides each packet's fate by what its receiver did next (its
 * ACK numbers, its timestamp echoes, its retransmissions, the answers it owed at once): it
 * places every arrival by evidence (the receiver's next acknowledgment covers it) or, for
 * segments that carry no sequence space, by the receiver's response lag; it decides that a
 * packet never arrived, or arrived late, when the receiver's later packets show it. States that
 * follow from such reasoning, or from packets missing in the capture, are marked inferred with
 * their evidence (the why, and the packet that shows it). Timers (2MSL, tcp_fin_timeout) and
 * user calls that send nothing are invisible; docs/analyze.md lists exactly what follows.
 *
 * Nothing here is global; an analyzer is used by one thread at a time.
 */
#ifndef TCPW_ANALYZE_H
#define TCPW_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"

/* ---- configuration ---------------------------------------------------------------------- */

typedef struct tcpw_an_config {
    uint32_t msl_ms;   /* Maximum Segment Lifetime: TIME_WAIT lasts 2*MSL. 30000 (Linux: 60 s
                          TIME_WAIT) */
    bool rfc1337;      /* endpoints ignore RST in TIME_WAIT (RFC 1337). false: Linux default
                          net.ipv4.tcp_rfc1337=0, where an exact RST ends TIME_WAIT */
    bool keep_packets; /* keep per-packet records after tcpw_an_finish() (needed for
                          --conn/--packets; the summary works without). true */
} tcpw_an_config;

void tcpw_an_config_default(tcpw_an_config *cfg);

/* ---- per packet ------------------------------------------------------------------------- */

/* Marks of one packet (tcpw_an_pkt.marks), Wireshark's tcp.analysis names where they exist. */
enum {
    TCPW_AN_RETRANS = 1u << 0,   /* repeats sequence space sent before */
    TCPW_AN_DUP_ACK = 1u << 1,   /* a duplicate acknowledgment */
    TCPW_AN_OOO = 1u << 2,       /* out of order: fills a hole shortly after later data */
    TCPW_AN_GAP = 1u << 3,       /* sequence gap before it: a segment not in the capture */
    TCPW_AN_ZERO_WIN = 1u << 4,  /* advertises a zero window */
    TCPW_AN_KEEPALIVE = 1u << 5, /* keep-alive (seq = next - 1, at most one byte) */
    TCPW_AN_LOST = 1u << 6,      /* inferred: never reached the receiver */
    TCPW_AN_LATE = 1u << 7,      /* reached the receiver only after the receiver's next packet(s)
                                    (crossed them on the wire) */
    TCPW_AN_SNAPLEN = 1u << 8,   /* payload cut by the capture's snap length */
    TCPW_AN_DELAYED = 1u << 9,   /* inferred: held back in the network, it reached the receiver
                                    long after it was sent — after the receiver's packet
                                    late_after (an old duplicate); evidence: the answer that
                                    shows it (a closed port's RST, a repeated ACK, the ACK that
                                    first covers it) */
};

/* Why a state was inferred rather than seen (tcpw_an_pkt.why[side], tcpw_an_trans.why). */
typedef enum tcpw_an_why {
    TCPW_AN_WHY_NONE = 0,
    TCPW_AN_WHY_MIDSTREAM,        /* the capture starts inside the connection: no SYN seen */
    TCPW_AN_WHY_LISTENER,         /* the peer answered a SYN: a listener was there */
    TCPW_AN_WHY_SYN_UNSEEN,       /* it sent a SYN+ACK for a SYN that is not in the capture */
    TCPW_AN_WHY_SYNACK_UNSEEN,    /* it acknowledged a SYN+ACK that is not in the capture */
    TCPW_AN_WHY_LOST,             /* the packet was inferred lost: the receiver did not change */
    TCPW_AN_WHY_TIMEWAIT_EXPIRED, /* 2MSL passed since it entered TIME_WAIT */
    TCPW_AN_WHY_FIN_TIMEOUT,      /* it answered a FIN with RST: it had already closed (orphaned
                                     FIN_WAIT_2 timeout, Linux tcp_fin_timeout) */
    TCPW_AN_WHY_DATA_AFTER_CLOSE, /* answered data with RST after closing (RFC 2525 §2.17) */
    TCPW_AN_WHY_REOPENED,         /* a new SYN on the 4-tuple ended TIME_WAIT (RFC 6191) */
    TCPW_AN_WHY_ACK_UNSEEN,       /* its peer's acknowledgments show a packet not captured */
    TCPW_AN_WHY_LOST_ACK,         /* lost: its receiver later retransmitted what it acknowledged */
    TCPW_AN_WHY_LOST_SYN,         /* lost: a SYN its receiver never answered with SYN+ACK */
    TCPW_AN_WHY_LOST_RST,         /* lost: a RST its receiver ignored, going on sending */
    TCPW_AN_WHY_LOST_TS,          /* lost: its receiver's timestamp echo stayed older (RFC 7323) */
    TCPW_AN_WHY_LOST_UNACKED,     /* lost: its receiver's acknowledgment stopped right before it */
    TCPW_AN_WHY_LOST_LATE_ANSWER, /* lost: its receiver answered only a later copy */
    TCPW_AN_WHY_LOST_NO_DUPACK,   /* lost: beyond a hole, it drew no duplicate ACK */
    TCPW_AN_WHY_CLOSED_UNSEEN,    /* it answered with a closed port's RST: it had closed before
                                     (a close() or abort() that sent nothing) */
    TCPW_AN_WHY_DELAYED,          /* a copy that arrived late, after the connection had closed:
                                     the receiver's closed-port RST answered it */
    TCPW_AN_WHY_LOST_NO_RST,      /* lost: the ACK of a FIN in LAST_ACK, yet its receiver did not
                                     answer a later segment with a closed port's RST */
    TCPW_AN_WHY_DELAYED_ACKED,    /* a copy that arrived late: its receiver acknowledged its bytes,
                                     which no other copy carried, long after it was sent */
    TCPW_AN_WHY_LOST_NO_FILL_ACK, /* lost: filling the receiver's hole, it drew no immediate ACK */
    TCPW_AN_WHY_RESET,            /* closed by the peer's RST (in its final state: CLOSED) */
    TCPW_AN_WHY_LOST_RTO,         /* lost: its receiver's later RTO follows a later RTT sample */
    TCPW_AN_WHY_COUNT
} tcpw_an_why;

typedef struct tcpw_an_pkt {
    uint64_t t_us;       /* capture timestamp, µs since the Unix epoch */
    uint32_t recno;      /* record number in the capture, 1-based (Wireshark's frame number) */
    uint32_t seq, ack;   /* absolute */
    uint32_t len;        /* TCP payload bytes (from the IP length, even when the capture cut it) */
    uint16_t win;        /* raw window field */
    uint16_t marks;      /* TCPW_AN_* */
    uint8_t flags;       /* TCP flags as on the wire (low 8 bits) */
    uint8_t side;        /* sender: 0 client, 1 server */
    uint8_t wscale;      /* window scale option on a SYN, 0xff none */
    uint8_t st[2];       /* each side's state after this packet: the sender's after sending
                            it, the receiver's after receiving it (or where it would have,
                            when lost) — tcpw_state values */
    uint8_t why[2];      /* tcpw_an_why behind each side's state, NONE when observed */
    uint8_t fate_why;    /* TCPW_AN_LOST: the tcpw_an_why of the loss */
    uint8_t has_ts;      /* carries the timestamps option (RFC 7323) */
    uint32_t late_after; /* TCPW_AN_LATE: index + 1 of the receiver's last packet it crossed */
    uint32_t evidence;   /* index + 1 of the later packet that shows this one's fate (its loss,
                            its late arrival) or the inferred state beside it, 0 none */
    uint32_t tsval, tsecr; /* the timestamps option, when has_ts */
} tcpw_an_pkt;

/* ---- per connection --------------------------------------------------------------------- */

typedef enum tcpw_an_close {
    TCPW_AN_CLOSE_NONE,          /* never closed in the capture */
    TCPW_AN_CLOSE_FOUR_WAY,      /* FIN, ACK, FIN, ACK */
    TCPW_AN_CLOSE_THREE_SEGMENT, /* FIN, FIN+ACK, ACK: 2nd and 3rd wave combined */
    TCPW_AN_CLOSE_SIMULTANEOUS,  /* both FINs crossed (RFC 9293 Figure 13) */
    TCPW_AN_CLOSE_HALF,          /* data flowed after the first FIN, or the peer never closed */
    TCPW_AN_CLOSE_RST,           /* a reset ended it */
} tcpw_an_close;

/* Anomaly rules. */
typedef enum tcpw_an_rule {
    TCPW_AN_RULE_DATA_AFTER_FIN,  /* data beyond the sender's own FIN */
    TCPW_AN_RULE_FIN_SEQ_CHANGED, /* a FIN whose sequence number moved */
    TCPW_AN_RULE_ACK_UNSENT,      /* acknowledges data the peer never sent */
    TCPW_AN_RULE_RST_AFTER_FIN,   /* RST after a FIN exchange began */
    TCPW_AN_RULE_RST_UNREAD_DATA, /* RST instead of FIN: closed with unread data */
    TCPW_AN_RULE_SYN_IN_2MSL,     /* SYN on a 4-tuple within 2MSL of its last close */
    TCPW_AN_RULE_OUT_OF_WINDOW,   /* segment outside the receiver's window */
    TCPW_AN_RULE_COUNT
} tcpw_an_rule;

typedef struct tcpw_an_anomaly {
    tcpw_an_rule rule;
    uint32_t pkt; /* index into the connection's packets */
    uint8_t side; /* the side that sent the offending packet */
    char detail[120];
} tcpw_an_anomaly;

/* A state change of one endpoint: seen (its packet is in the capture) or inferred. */
typedef struct tcpw_an_trans {
    uint64_t t_us; /* when (for a receiver: the estimated arrival) */
    uint32_t pkt;  /* the packet behind it (index), UINT32_MAX for none */
    uint8_t side;
    uint8_t from, to; /* tcpw_state */
    uint8_t cause;    /* tcpw_cause: USER for a send the application asked for, SEGMENT for
                         a receipt, TIMER */
    uint8_t why;      /* tcpw_an_why, NONE when observed */
} tcpw_an_trans;

typedef struct tcpw_an_dirstats {
    uint64_t packets, bytes;
    uint32_t retrans, dup_acks, ooo, gaps, zero_windows, keepalives, lost;
} tcpw_an_dirstats;

typedef struct tcpw_an_conn {
    uint32_t id;         /* 1-based, in order of first packet */
    tcpw_endpoint ep[2]; /* 0 client, 1 server */
    bool syn_seen;       /* the client's SYN is in the capture */
    bool simultaneous_open;
    uint64_t t_first, t_last; /* first and last packet */
    uint64_t capture_end;     /* the capture's last packet, of any connection (set by infer) */
    uint32_t rec_first;       /* record number of the first packet */
    uint32_t base[2];         /* Wireshark's relative-number base of each side */
    bool base_known[2];

    tcpw_an_pkt *pkt; /* the connection's packets (NULL after finish when not kept) */
    size_t npkt, pkt_cap;
    tcpw_an_trans *trans; /* both endpoints' state changes in time order */
    size_t ntrans, trans_cap;
    tcpw_an_anomaly *anom;
    size_t nanom, anom_cap;

    tcpw_state final[2];     /* each side's state at the end of the capture */
    uint8_t final_why[2];    /* tcpw_an_why when the final state is inferred */
    uint64_t final_since[2]; /* when it entered that state */
    int opened_by;           /* 0 client, 2 both (simultaneous open), -1 unknown (no SYN) */
    int closed_first_by;     /* 0, 1, 2 both, -1 none */
    tcpw_an_close close;
    int rst_by; /* side whose RST closed it, -1 none */
    uint32_t rst_pkt;
    uint64_t t_first_fin;  /* half-close: the first FIN ... */
    uint64_t t_second_fin; /* ... and the other side's FIN (0 when never) */
    uint64_t half_bytes;   /* payload bytes the other side sent after the first FIN */
    tcpw_an_dirstats st[2];
    char zeek_state[8];
    char zeek_history[48];
    uint64_t lag_us[2]; /* each side's response lag as seen from the capture point */
    bool lag_known[2];
    int prev_conn;   /* index of the previous connection on this 4-tuple, -1 none */
    size_t ndelayed; /* packets marked TCPW_AN_DELAYED */
    bool finished;
} tcpw_an_conn;

/* ---- the analyzer --------------------------------------------------------------------- */

typedef struct tcpw_analyzer tcpw_analyzer;

/* NULL when out of memory; cfg NULL means the defaults. */
tcpw_analyzer *tcpw_an_new(const tcpw_an_config *cfg);
void tcpw_an_free(tcpw_analyzer *a);
const tcpw_an_config *tcpw_an_get_config(const tcpw_analyzer *a);

/* Outcome of adding one packet. */
typedef enum tcpw_an_add_status {
    TCPW_AN_ADDED = 0,     /* a TCP segment, now part of a connection */
    TCPW_AN_NOT_TCP = 1,   /* another protocol, or a link type we do not decode: skipped */
    TCPW_AN_MALFORMED = 2, /* claims to be TCP but its headers are malformed: skipped */
    TCPW_AN_NOMEM = 3,
} tcpw_an_add_status;

/* One captured frame of link type dlt (pcap DLT_* value): link layer decoded down to IP.
 * wirelen is the frame's length on the wire (may exceed caplen). recno is the record number
 * (1-based) used in messages. On TCPW_AN_MALFORMED, *why (when not NULL) names the problem. */
tcpw_an_add_status tcpw_an_add_frame(tcpw_analyzer *a, int dlt, const uint8_t *frame, size_t caplen,
                                     size_t wirelen, uint64_t t_us, uint32_t recno,
                                     const char **why);
/* One IP packet (IPv4 or IPv6 header first); iplen_wire: its length on the wire. */
tcpw_an_add_status tcpw_an_add_ip(tcpw_analyzer *a, const uint8_t *ip, size_t caplen,
                                  size_t wirelen, uint64_t t_us, uint32_t recno, const char **why);

/* Runs the inference on every connection. Returns 0, or TCPW_ENOMEM. Call once, after the
 * last packet. */
int tcpw_an_finish(tcpw_analyzer *a);

size_t tcpw_an_conn_count(const tcpw_analyzer *a);
const tcpw_an_conn *tcpw_an_conn_get(const tcpw_analyzer *a, size_t i);

/* Counters over the whole capture. */
typedef struct tcpw_an_totals {
    uint64_t records;   /* records read */
    uint64_t tcp;       /* TCP segments added */
    uint64_t not_tcp;   /* skipped: other protocols / link types */
    uint64_t malformed; /* skipped: malformed TCP/IP headers */
    uint32_t first_malformed_rec;
    char first_malformed_why[96];
    uint64_t t_first, t_last;
} tcpw_an_totals;
const tcpw_an_totals *tcpw_an_get_totals(const tcpw_analyzer *a);

/* ---- names ------------------------------------------------------------------------------ */

const char *tcpw_an_close_name(tcpw_an_close c); /* "four-way", ... */
const char *tcpw_an_rule_name(tcpw_an_rule r);   /* "data-after-fin", ... */
const char *tcpw_an_rule_ref(tcpw_an_rule r);    /* "RFC 9293 §3.10.7.4", ... */
const char *tcpw_an_why_text(tcpw_an_why w);     /* evidence in words */
/* "client", "server", "both", "none" for 0, 1, 2, -1. */
const char *tcpw_an_side_name(int side);
/* What a final state means for this side of this connection, in words. */
void tcpw_an_final_meaning(const tcpw_an_conn *c, int side, const tcpw_an_config *cfg,
                           uint64_t capture_end, char *buf, size_t cap);

/* ---- internal entry points shared by the analyzer's files --------------------------------- */

/* infer.c: client/server, relative bases, lags, losses, both endpoints' state machines,
 * close pattern, anomalies and per-direction counters for one connection. */
int tcpw_an_infer(tcpw_an_conn *c, const tcpw_an_config *cfg, uint64_t capture_end);
/* zeek.c: Zeek's conn_state and history for one connection (after tcpw_an_infer). */
void tcpw_an_zeek(tcpw_an_conn *c);
/* Appends to a connection's arrays; 0 or TCPW_ENOMEM. */
int tcpw_an_conn_add_trans(tcpw_an_conn *c, const tcpw_an_trans *t);
int tcpw_an_conn_add_anomaly(tcpw_an_conn *c, tcpw_an_rule rule, uint32_t pkt, int side,
                             const char *detail);
/* The previous connection on the same 4-tuple, for the 2MSL rule (NULL when none). */
const tcpw_an_conn *tcpw_an_prev_conn(const tcpw_analyzer *a, const tcpw_an_conn *c);

#endif
