/* tun.h — the TUN driver: a tcpwave stack behind a Linux TUN device, run on the real clock.
 *
 *   tcpw_tun_config tc; tcpw_tun_config_default(&tc);
 *   tc.fd = tcpw_tun_open_device("tcpw0", name, err, sizeof err);   // netns.h
 *   tcpw_tun *t; tcpw_tun_new(&tc, &t);
 *   tcpw_stack *s = tcpw_tun_stack(t);  ... tcpw_listen(s, ...) ...
 *   for (;;) { tcpw_tun_run_once(t, UINT64_MAX); ...poll the stack's events... }
 *   tcpw_tun_free(t);
 *
 * What it does:
 * - moves IP packets between the device and the engine: what the kernel routes into the
 *   device is read (in batches of up to TCPW_TUN_BATCH per wake-up) and given to tcpw_input();
 *   every packet the engine sends is written to the device, where the kernel receives it;
 * - runs the engine's timers from CLOCK_MONOTONIC (microseconds): it sleeps in ppoll() until
 *   the engine's next deadline, the next delayed packet, or the next packet of the device —
 *   whichever comes first;
 * - impairs the traffic between the device and the engine when asked (loss, duplication,
 *   reordering, delay; both directions, from one seeded PRNG), since the kernel at hand may
 *   have no netem;
 * - writes every packet that crossed the device to a pcap file (LINKTYPE_RAW), stamped with
 *   the wall clock: packets read from it (also those the impairment then drops) and packets
 *   written to it (each copy of a duplicate), as tcpdump on the device would show them;
 * - reports each packet (with its fate on the impaired path) and the engine's trace to an
 *   observer (tun_trace.h draws them as ladders).
 *
 * The driver keeps no global state; signals are the caller's business (ppoll() is given the
 * caller's signal mask so that a signal wakes it, see tcpw_tun_config.sigmask).
 */
#ifndef TCPW_TUN_TUN_H
#define TCPW_TUN_TUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpwave/tcpwave.h"
#include "view/recording.h"

/* Packets read from the device per wake-up at most, before timers and the application run. */
#define TCPW_TUN_BATCH 64

/* The impairments of the path between the device and the engine (each direction alike). */
typedef struct tcpw_tun_impair {
    double loss;               /* probability a packet is lost, 0..1 */
    double dup;                /* probability a packet is delivered twice */
    double reorder;            /* probability a packet is held back so later ones overtake it */
    uint64_t delay_us;         /* one-way delay of every packet */
    uint64_t reorder_delay_us; /* extra hold of a reordered packet; 0 means max(delay, 1 ms) */
    uint64_t seed;             /* PRNG seed: the same seed draws the same fates */
    bool in, out;              /* which directions: device->engine, engine->device */
} tcpw_tun_impair;

/* Where a packet went. */
typedef enum tcpw_tun_dir {
    TCPW_TUN_TO_ENGINE,   /* read from the device: the kernel sent it */
    TCPW_TUN_FROM_ENGINE, /* the engine sent it, for the device */
} tcpw_tun_dir;

typedef struct tcpw_tun_config {
    int fd;                  /* an open TUN descriptor (IFF_TUN | IFF_NO_PI), non-blocking */
    tcpw_config stack;       /* engine settings; output, trace, user, alloc/free are the
                                driver's (alloc/free: libc when unset) */
    tcpw_tun_impair impair;  /* all zero: none */
    const char *pcap_path;   /* NULL: no capture */
    const sigset_t *sigmask; /* the mask for ppoll() (signals to wake on unblocked); NULL:
                                the current mask */
    /* Optional observers. `packet` sees every packet that crossed the device, at the time it
     * left its sender (t_us) with the time it reached the other side (arrive_us) and its fate;
     * `trace` sees the engine's trace. */
    void (*packet)(void *user, const uint8_t *pkt, size_t len, tcpw_tun_dir dir, uint64_t t_us,
                   uint64_t arrive_us, tcpw_seg_fate fate);
    void (*trace)(void *user, const tcpw_trace *ev);
    void *user;
} tcpw_tun_config;

/* Counters. */
typedef struct tcpw_tun_stats {
    uint64_t pkts_read, bytes_read;          /* from the device */
    uint64_t pkts_written, bytes_written;    /* to the device */
    uint64_t write_errors;                   /* write() to the device failed (packet lost) */
    uint64_t dropped, duplicated, reordered; /* by the impairment */
    uint64_t wakeups;                        /* returns from ppoll() */
    uint64_t pcap_packets;
} tcpw_tun_stats;

typedef struct tcpw_tun tcpw_tun;

/* fd -1, engine defaults, no impairment, no capture, no observers. */
void tcpw_tun_config_default(tcpw_tun_config *cfg);

/* Creates the driver and its stack. 0, or -1 with a message in err (bad settings, pcap file
 * that cannot be written, out of memory). The descriptor stays the caller's to close. */
int tcpw_tun_new(const tcpw_tun_config *cfg, tcpw_tun **out, char *err, size_t errlen);
/* Frees the stack (without sending anything), queued packets, and closes the capture. */
void tcpw_tun_free(tcpw_tun *t);

tcpw_stack *tcpw_tun_stack(tcpw_tun *t);
const tcpw_tun_stats *tcpw_tun_get_stats(const tcpw_tun *t);

/* CLOCK_MONOTONIC in microseconds: the engine's clock. */
uint64_t tcpw_tun_clock(void);

/* One round: waits until a packet arrives, a timer of the engine or of the impairment queue
 * is due, `wake_at` (µs, tcpw_tun_clock() time; UINT64_MAX for none) passes, or a signal
 * arrives; then reads a batch from the device into the engine, runs due timers and delivers
 * due delayed packets. Returns 0, or -1 when the device failed (errno set). */
int tcpw_tun_run_once(tcpw_tun *t, uint64_t wake_at);

/* Time now for the engine (never behind what it was told before): calls made between rounds
 * (tcpw_send, tcpw_close...) use it. */
uint64_t tcpw_tun_now(tcpw_tun *t);

/* Packets held by the impairment queue. */
size_t tcpw_tun_queued(const tcpw_tun *t);

#endif
