/* report.h — what `tcpwave analyze` prints: the human table, the per-packet rows, the
 * per-host report of sockets left in CLOSE_WAIT and TIME_WAIT, JSON (schema in
 * docs/analyze.md), and a connection as a recording for the shared ladder renderer (view.h).
 */
#ifndef TCPW_AN_REPORT_H
#define TCPW_AN_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "analyze/analyze.h"
#include "view/recording.h"

typedef struct tcpw_an_report_opts {
    const char *name; /* capture name for the heading */
    bool packets;     /* include every packet (rows, or JSON records) */
    bool absolute;    /* absolute sequence numbers instead of Wireshark's relative ones */
    long conn;        /* only this connection id (0: all) */
    bool color;
} tcpw_an_report_opts;

/* The summary table, the details of each connection and the per-host report. */
void tcpw_an_report_text(FILE *out, const tcpw_analyzer *a, const tcpw_an_report_opts *o);
/* One connection's packets as rows: number, time, direction, flags, Seq/Ack/Len as
 * Wireshark shows them, and both endpoints' states after the packet. */
void tcpw_an_report_packets(FILE *out, const tcpw_analyzer *a, const tcpw_an_conn *c,
                            const tcpw_an_report_opts *o);
/* One JSON object per connection, one per line. */
void tcpw_an_report_json(FILE *out, const tcpw_analyzer *a, const tcpw_an_report_opts *o);
/* Fills r (initialized by the caller with tcpw_rec_init) with c's segments and both
 * endpoints' state changes, inferred ones marked; times relative to c's first packet.
 * 0, or TCPW_ENOMEM. */
int tcpw_an_conn_recording(const tcpw_an_conn *c, tcpw_recording *r);
/* The relative sequence / acknowledgment number of packet p as Wireshark shows it. */
uint32_t tcpw_an_rel_seq(const tcpw_an_conn *c, const tcpw_an_pkt *p);
uint32_t tcpw_an_rel_ack(const tcpw_an_conn *c, const tcpw_an_pkt *p);
/* "[FIN, ACK]" as Wireshark writes the flags. */
const char *tcpw_an_flags_text(uint8_t flags, char *buf, size_t cap);

#endif
