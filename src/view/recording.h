/* recording.h — a recorded run: what crossed the wire, each endpoint's state changes and what
 * its application saw, in time order.
 *
 * The simulator, the TUN driver and the capture analyzer fill one; the view draws it (text
 * ladder, mermaid, SVG, JSON). One model for all of them is what keeps their pictures alike.
 */
#ifndef TCPW_RECORDING_H
#define TCPW_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"

#define TCPW_REC_MAX_SIDES 2

typedef enum tcpw_rec_kind {
    TCPW_REC_SEG,   /* a segment left `side` for `peer` */
    TCPW_REC_STATE, /* `side` changed state */
    TCPW_REC_APP,   /* `side`'s application saw something */
    TCPW_REC_NOTE,  /* a protocol note at `side` (retransmission, challenge ACK, ...) */
} tcpw_rec_kind;

typedef enum tcpw_seg_fate {
    TCPW_FATE_DELIVERED,
    TCPW_FATE_DROPPED,
    TCPW_FATE_DUPLICATED,
    TCPW_FATE_REORDERED,
} tcpw_seg_fate;

typedef enum tcpw_app_what {
    TCPW_APP_DATA,
    TCPW_APP_EOF,
    TCPW_APP_RESET,
    TCPW_APP_CLOSED,
    TCPW_APP_REFUSED,
    TCPW_APP_TIMEOUT,
    TCPW_APP_CONNECTED,
} tcpw_app_what;

typedef struct tcpw_rec_event {
    tcpw_rec_kind kind;
    uint64_t t_us; /* when it happened (for a segment: when it was sent) */
    int side;      /* 0 or 1: index into tcpw_recording.names */
    /* TCPW_REC_SEG */
    int peer;           /* receiving side */
    uint64_t arrive_us; /* when it arrived (== t_us + latency); unused when dropped */
    tcpw_seg_fate fate;
    uint8_t flags;
    uint32_t seq, ack, len;    /* absolute numbers */
    uint32_t rel_seq, rel_ack; /* relative to each side's ISN, as Wireshark shows them */
    uint16_t win;
    /* TCPW_REC_STATE */
    tcpw_state from, to;
    tcpw_cause cause; /* user call, timer, or segment */
    tcpw_seg_summary cause_seg;
    /* TCPW_REC_STATE (the user call / timer), TCPW_REC_NOTE (its text) */
    char what[96];
    /* TCPW_REC_APP */
    tcpw_app_what app;
    uint64_t bytes;
    /* any kind: true when inferred rather than observed (analyzer) */
    bool inferred;
    /* TCPW_REC_SEG, set by tcpw_rec_add(): whether rel_seq / rel_ack could be computed (the
     * ISN of the sender / of the peer was known). When false the rel_* field is 0. */
    bool rel_seq_known, rel_ack_known;
} tcpw_rec_event;

typedef struct tcpw_recording {
    const char *names[TCPW_REC_MAX_SIDES]; /* "client", "server" */
    tcpw_endpoint ep[TCPW_REC_MAX_SIDES];
    uint32_t isn[TCPW_REC_MAX_SIDES]; /* each side's ISN, for relative numbers */
    bool isn_known[TCPW_REC_MAX_SIDES];
    tcpw_rec_event *ev;
    size_t count, cap;
    /* Set by tcpw_rec_add() when a FIN or RST is recorded: a later SYN (without ACK) carrying
     * a sequence number other than the sender's ISN then starts a new connection on the same
     * 4-tuple (RFC 6191 reopen, reconnect after a reset), and both ISNs are learnt again. */
    bool conn_ended;
    /* The ISNs before that new connection, while the new one's answer (its peer's SYN+ACK) has
     * not been recorded: what either side sends without SYN meanwhile — the old connection's
     * last segments, a challenge ACK of the new SYN in the old numbers (RFC 5961 §4.2), the RST
     * answering it — still counts from these. */
    uint32_t old_isn[TCPW_REC_MAX_SIDES];
    bool old_isn_known[TCPW_REC_MAX_SIDES];
    int reopened_by; /* the side whose SYN started the new connection, -1 none pending */
} tcpw_recording;

void tcpw_rec_init(tcpw_recording *r, const char *name0, const char *name1);
void tcpw_rec_free(tcpw_recording *r);
/* Appends a copy of e; returns the stored event or NULL when out of memory (or when r or e
 * is NULL). For segments, rel_seq/rel_ack are filled in from the ISNs as Wireshark shows them:
 * the first SYN of each side sets its ISN unless already known; rel_seq = seq - isn[side],
 * rel_ack = ack - isn[peer], 0 when the ACK flag is absent or the ISN unknown. */
tcpw_rec_event *tcpw_rec_add(tcpw_recording *r, const tcpw_rec_event *e);

const char *tcpw_app_what_name(tcpw_app_what w); /* "data", "eof", ... */
const char *tcpw_seg_fate_name(tcpw_seg_fate f); /* "delivered", "dropped", ... */

#endif
