/* tun_trace.h — one recording (view/recording.h) per connection of a live run: the segments
 * that crossed the device, tcpwave's state changes and notes, and what its application saw;
 * each drawn (by the caller, with view.h) once the connection is over.
 *
 * A live run may carry thousands of connections and megabytes each, so:
 * - connections are told apart by 4-tuple, and each gets its own ladder, titled with its
 *   number and both endpoints; side 0 is the client (the sender of the first SYN);
 * - a connection is over when tcpwave's side reaches CLOSED or TIME_WAIT (or, when tcpwave
 *   never had a connection — a SYN refused with RST — once a RST crossed); it is drawn when
 *   nothing more happened on it for `quiet_us`, so that a FIN retransmitted into TIME_WAIT
 *   still makes it into the picture;
 * - in brief mode, the middle of a bulk transfer is left out: the first segments, every SYN,
 *   FIN and RST, everything from the first FIN on, every state change and application event
 *   other than data are kept, and the run of segments left out is replaced by one note saying
 *   how many (and how many bytes) — followed by the last few of them, to show how the data
 *   ended.
 *
 * The other side is the Linux kernel: its states are not observed, but they follow from the
 * segments it sent and from those of tcpwave that reached it (the driver knows both exactly);
 * they are recorded as inferred state changes (tun_trace.c lists the rules).
 */
#ifndef TCPW_TUN_TUN_TRACE_H
#define TCPW_TUN_TUN_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"
#include "tun/tun.h"
#include "view/recording.h"

typedef enum tcpw_tun_trace_mode {
    TCPW_TUN_TRACE_NONE,  /* record nothing */
    TCPW_TUN_TRACE_BRIEF, /* leave out the middle of bulk data */
    TCPW_TUN_TRACE_FULL,  /* every segment */
} tcpw_tun_trace_mode;

typedef struct tcpw_tun_trace_config {
    tcpw_tun_trace_mode mode;
    uint64_t t0;         /* the clock time (µs) shown as 0 */
    uint64_t quiet_us;   /* an ended connection is drawn after this long without events */
    unsigned brief_head; /* brief: segments kept at the start of a connection (default 8) */
    unsigned brief_tail; /* brief: segments shown before the first kept one after a gap (4) */
    const char *engine_name, *peer_name; /* "tcpwave", "kernel" */
    /* Draws one finished recording; title names the connection. */
    void (*draw)(void *user, const tcpw_recording *r, const char *title);
    void *user;
} tcpw_tun_trace_config;

typedef struct tcpw_tun_trace tcpw_tun_trace;

/* mode brief, quiet 500 ms, head 8, tail 4, names tcpwave / kernel. */
void tcpw_tun_trace_config_default(tcpw_tun_trace_config *cfg);
/* NULL when out of memory. */
tcpw_tun_trace *tcpw_tun_trace_new(const tcpw_tun_trace_config *cfg);
/* Draws what is still open (flush) and frees everything. */
void tcpw_tun_trace_free(tcpw_tun_trace *tt);

/* Observers with the signatures of tcpw_tun_config.packet and .trace (user = the trace). */
void tcpw_tun_trace_packet(void *tt, const uint8_t *pkt, size_t len, tcpw_tun_dir dir,
                           uint64_t t_us, uint64_t arrive_us, tcpw_seg_fate fate);
void tcpw_tun_trace_engine(void *tt, const tcpw_trace *ev);
/* What the application of the connection (local = tcpwave's endpoint) saw, at t_us. */
void tcpw_tun_trace_app(tcpw_tun_trace *tt, const tcpw_endpoint *local, const tcpw_endpoint *remote,
                        tcpw_app_what what, uint64_t bytes, uint64_t t_us);

/* Draws the connections that are over and quiet at `now`; with all, every connection. */
void tcpw_tun_trace_flush(tcpw_tun_trace *tt, uint64_t now, bool all);
/* When the next connection becomes due for drawing; UINT64_MAX when none. */
uint64_t tcpw_tun_trace_deadline(const tcpw_tun_trace *tt);
/* Connections seen so far. */
uint64_t tcpw_tun_trace_count(const tcpw_tun_trace *tt);

#endif
