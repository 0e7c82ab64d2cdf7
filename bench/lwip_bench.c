/* lwip_bench.c — the lwIP baseline: Debian's liblwip (2.1.3, built for the GNU Hurd with
 * NO_SYS=0) driven single-threaded through its raw API, in the same harness shape as
 * tcpwave_bench.c: a client and a server in one process on one core, an in-memory link (the
 * netif output callback copies each packet into a queue, the loop delivers it into
 * ip_input()), a fake clock (sys_now() is ours) and the wall clock around the measured loops.
 *
 *   lwip_bench lifecycle --pop P --count M [--curve]   conn/s with P pcbs in TIME_WAIT, M
 *                                                      lifecycles per round
 *   lwip_bench bulk --bytes N [--verify]               one-way bulk throughput, Gbit/s, N
 *                                                      bytes per round
 *   (lifecycle and bulk: --rounds R back to back, or --serve: rounds on request, common.h)
 *   lwip_bench cgseg --size 1|1460 --count N           callgrind phases: per-segment cost
 *   lwip_bench cglife --count N                        callgrind phases: per-lifecycle cost
 *   lwip_bench sizes                                   sizeof(struct tcp_pcb)
 *
 * How Debian's build is driven. The library was compiled with its own lwipopts.h (NO_SYS=0,
 * core locking, malloc-backed pools), so this program includes exactly those headers — a
 * lwipopts.h of our own would change the structure layouts under the compiled code. NO_SYS=0
 * only matters through the tcpip thread, which we never start: lwip_init() brings up the core
 * alone, and with no tcpip thread marked sys_check_core_locking() checks nothing, so the raw
 * API may be called from this one thread. The library calls sys_now() through its PLT, so the
 * definition below (exported with -rdynamic) replaces the port's clock_gettime one; timers
 * run from sys_check_timeouts() as the fake clock advances.
 *
 * lwIP has one global stack per process, so client and server share it: one netif per
 * address (10.0.0.1 for the server, 10.1.0.x for clients, /32 each) accepts packets, and a
 * "wire" netif (mask 0.0.0.0, added last so it heads netif_list) is the route to every
 * destination; its output callback is the link. TIME_WAIT pcbs are full pcbs on one linked
 * list that every connect() (SO_REUSEADDR 4-tuple check) and every SYN (tcp_input demux)
 * walks — lwIP's own ephemeral allocator (tcp_new_port) would in addition cap the whole
 * stack at 16,384 client ports, so the client binds its ports itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#define SYS            "lwip"
#define N_CLIENT_ADDRS 16
#define SERVER_PORT    80
#define CHUNK          65536
/* TIME_WAIT ends in tcp_slowtmr() once tcp_ticks - pcb->tmr > 2*TCP_MSL/TCP_SLOW_INTERVAL:
 * 241 slow ticks of 500 ms after the pcb entered it. */
#define TW_LIFETIME_US (241ull * 500000ull)

/* ---- fake clock ----------------------------------------------------------------------------- */

static uint64_t fake_us = 1000000;

u32_t sys_now(void);
u32_t sys_now(void) {
    return (u32_t)(fake_us / 1000u);
}

/* ---- the in-memory link --------------------------------------------------------------------- */

#define ARENA_BYTES (16u << 20)
#define QUEUE_MAX   65536

static struct {
    uint8_t *arena;
    size_t used;
    uint32_t off[QUEUE_MAX], len[QUEUE_MAX];
    uint8_t to[QUEUE_MAX];
    uint32_t head, tail;
    uint64_t pkts[2], data_pkts[2]; /* sent by endpoint 0 (client) / 1 (server) */
} q;

static struct netif wire, server_if, client_ifs[N_CLIENT_ADDRS];
static ip4_addr_t server_ip, client_ips[N_CLIENT_ADDRS];

static err_t wire_output(struct netif *nif, struct pbuf *p, const ip4_addr_t *next_hop) {
    (void)nif;
    (void)next_hop;
    CG_PAUSE();
    size_t len = p->tot_len;
    if (q.tail == QUEUE_MAX || q.used + len > ARENA_BYTES) bench_die("link queue overflow");
    uint8_t *dst = q.arena + q.used;
    pbuf_copy_partial(p, dst, (u16_t)len, 0);
    /* the destination decides the endpoint: 10.0.0.1 is the server */
    int to = memcmp(dst + 16, &server_ip.addr, 4) == 0 ? 1 : 0;
    q.off[q.tail] = (uint32_t)q.used;
    q.len[q.tail] = (uint32_t)len;
    q.to[q.tail] = (uint8_t)to;
    q.tail++;
    q.used += (len + 15) & ~(size_t)15;
    q.pkts[1 - to]++;
    size_t ihl = (size_t)(dst[0] & 15) * 4, doff = (size_t)(dst[ihl + 12] >> 4) * 4;
    if (len > ihl + doff) q.data_pkts[1 - to]++;
    CG_RESUME();
    return ERR_OK;
}

static err_t drop_output_ip6(struct netif *nif, struct pbuf *p, const ip6_addr_t *a) {
    (void)nif;
    (void)p;
    (void)a;
    return ERR_OK;
}

static err_t nif_init(struct netif *nif) {
    nif->output = wire_output;
    nif->output_ip6 = drop_output_ip6;
    nif->mtu = 1500;
    nif->flags = NETIF_FLAG_LINK_UP;
    nif->name[0] = 'b';
    nif->name[1] = 'n';
    return ERR_OK;
}

static void add_netif(struct netif *nif, const ip4_addr_t *ip, const ip4_addr_t *mask) {
    ip4_addr_t gw;
    ip4_addr_set_zero(&gw);
    if (!netif_add(nif, ip, mask, &gw, NULL, nif_init, ip_input)) bench_die("netif_add failed");
    netif_set_up(nif);
    netif_set_link_up(nif);
}

/* Runs lwIP's timers that are due at the fake time. Timer work belongs to no one endpoint:
 * it is counted only in the phases that count both. */
static void run_timers(void) {
    CG_ENTER(2);
    sys_check_timeouts();
    CG_LEAVE();
}

/* ---- the applications --------------------------------------------------------------------- */

enum { MODE_LIFECYCLE, MODE_STREAM };

static struct {
    int mode;
    struct tcp_pcb *listener, *client, *server;
    uint64_t done, errors, rx_bytes, tx_bytes;
    bool verify;
    uint8_t rbuf[CHUNK];
    uint8_t *pattern;
    uint64_t next_tuple;
} app;

static void detach(struct tcp_pcb *pcb) {
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
}

static void close_or_abort(struct tcp_pcb *pcb) {
    detach(pcb);
    if (tcp_close(pcb) != ERR_OK) {
        app.errors++;
        tcp_abort(pcb);
    }
}

static void on_err(void *arg, err_t err) {
    (void)arg;
    (void)err;
    app.errors++;
}

static err_t server_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
    (void)arg;
    if (err != ERR_OK) {
        if (p) pbuf_free(p);
        app.errors++;
        return ERR_OK;
    }
    if (!p) { /* the client's FIN: close our side */
        if (pcb == app.server) app.server = NULL;
        close_or_abort(pcb);
        return ERR_OK;
    }
    if (app.mode == MODE_LIFECYCLE) {
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        if (tcp_write(pcb, "r", 1, TCP_WRITE_FLAG_COPY) != ERR_OK) app.errors++;
        tcp_output(pcb);
        return ERR_OK;
    }
    /* the application reads into its own buffer, as tcpw_recv() does */
    uint16_t total = p->tot_len;
    pbuf_copy_partial(p, app.rbuf, total, 0);
    if (app.verify && memcmp(app.rbuf, app.pattern + app.rx_bytes % 251, total) != 0)
        bench_die("bulk data corrupted at byte %" PRIu64, app.rx_bytes);
    app.rx_bytes += total;
    tcp_recved(pcb, total);
    pbuf_free(p);
    return ERR_OK;
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
    (void)arg;
    if (err != ERR_OK || !pcb) {
        app.errors++;
        return ERR_VAL;
    }
    tcp_recv(pcb, server_recv);
    tcp_err(pcb, on_err);
    if (app.mode == MODE_STREAM) {
        tcp_nagle_disable(pcb);
        app.server = pcb;
    }
    return ERR_OK;
}

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
    (void)arg;
    if (err != ERR_OK || !p) {
        if (p) pbuf_free(p);
        if (!p) close_or_abort(pcb);
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (app.mode == MODE_LIFECYCLE) {
        app.done++;
        close_or_abort(pcb); /* the client closes first: TIME_WAIT lands on the client */
    }
    return ERR_OK;
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
    (void)arg;
    if (err != ERR_OK) {
        app.errors++;
        return ERR_OK;
    }
    if (app.mode == MODE_LIFECYCLE) {
        if (tcp_write(pcb, "q", 1, TCP_WRITE_FLAG_COPY) != ERR_OK) app.errors++;
        tcp_output(pcb);
    }
    return ERR_OK;
}

/* Delivers every queued packet (each in a fresh pbuf, as a driver would) until none is left. */
static void pump(void) {
    while (q.head != q.tail) {
        uint32_t i = q.head++;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)q.len[i], PBUF_RAM);
        if (!p) bench_die("pbuf_alloc failed");
        memcpy(p->payload, q.arena + q.off[i], q.len[i]);
        CG_ENTER(q.to[i]);
        wire.input(p, &wire);
        CG_LEAVE();
    }
    q.head = q.tail = 0;
    q.used = 0;
}

static void lwip_setup(void) {
    q.arena = malloc(ARENA_BYTES);
    if (!q.arena) bench_die("out of memory");
    lwip_init();
    ip4_addr_t host_mask, any_mask, wire_ip;
    IP4_ADDR(&host_mask, 255, 255, 255, 255);
    IP4_ADDR(&any_mask, 0, 0, 0, 0);
    IP4_ADDR(&server_ip, 10, 0, 0, 1);
    IP4_ADDR(&wire_ip, 10, 255, 255, 254);
    add_netif(&server_if, &server_ip, &host_mask);
    for (int i = 0; i < N_CLIENT_ADDRS; i++) {
        IP4_ADDR(&client_ips[i], 10, 1, 0, (u8_t)(1 + i));
        add_netif(&client_ifs[i], &client_ips[i], &host_mask);
    }
    add_netif(&wire, &wire_ip, &any_mask); /* last added: first in netif_list, the route */

    struct tcp_pcb *l = tcp_new();
    if (!l || tcp_bind(l, IP_ADDR_ANY, SERVER_PORT) != ERR_OK) bench_die("listener bind");
    app.listener = tcp_listen_with_backlog(l, 255);
    if (!app.listener) bench_die("tcp_listen failed");
    tcp_accept(app.listener, server_accept);
}

/* Opens a client connection from the next (address, port) in turn. */
static struct tcp_pcb *client_open(void) {
    uint64_t j = app.next_tuple++ % (N_CLIENT_ADDRS * 64512ull);
    int a = (int)(j % N_CLIENT_ADDRS);
    u16_t port = (u16_t)(1024 + j / N_CLIENT_ADDRS);
    ip_addr_t sip;
    ip_addr_copy_from_ip4(sip, server_ip);
    ip_addr_t cip;
    ip_addr_copy_from_ip4(cip, client_ips[a]);
    CG_ENTER(0);
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb) bench_die("tcp_new failed");
    ip_set_option(pcb, SOF_REUSEADDR);
    if (tcp_bind(pcb, &cip, port) != ERR_OK) bench_die("tcp_bind %d:%u failed", a, port);
    tcp_recv(pcb, client_recv);
    tcp_err(pcb, on_err);
    err_t e = tcp_connect(pcb, &sip, SERVER_PORT, client_connected);
    CG_LEAVE();
    if (e != ERR_OK) bench_die("tcp_connect failed: %d", e);
    return pcb;
}

static uint64_t tw_count(void) {
    uint64_t n = 0;
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        n++;
    return n;
}

static uint64_t active_count(void) {
    uint64_t n = 0;
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        n++;
    return n;
}

/* ---- connection lifecycle -------------------------------------------------------------------- */

static uint64_t dt_us; /* fake time per lifecycle */
static bool purge_tw;  /* population 0: remove the TIME_WAIT pcb after each lifecycle */

static void lifecycle_once(void) {
    fake_us += dt_us;
    run_timers();
    client_open();
    pump();
    if (purge_tw) {
        CG_ENTER(0);
        while (tcp_tw_pcbs)
            tcp_abort(tcp_tw_pcbs);
        CG_LEAVE();
    }
}

static void check_quiescent(uint64_t expect) {
    if (app.errors || app.done != expect || active_count() != 0)
        bench_die("lifecycles went wrong: done %" PRIu64 " of %" PRIu64 ", errors %" PRIu64
                  ", active pcbs %" PRIu64,
                  app.done, expect, app.errors, active_count());
}

#define N_CHECK 4
static const uint64_t checkpoints[N_CHECK] = {10000, 100000, 1000000, 10000000};

static void run_lifecycle(int argc, char **argv) {
    uint64_t pop = bench_opt_u64(argc, argv, "--pop", 0);
    uint64_t count = bench_opt_u64(argc, argv, "--count", 20000);
    bool curve = bench_opt_flag(argc, argv, "--curve");
    char pname[32], metric[96];
    bench_pop_name(pop, pname, sizeof pname);
    lwip_setup();
    app.mode = MODE_LIFECYCLE;
    purge_tw = pop == 0;
    dt_us = pop ? TW_LIFETIME_US / pop : 1;

    uint64_t i = 0, warm = 1000;
    bool saved = purge_tw;
    purge_tw = true;
    for (; i < warm; i++)
        lifecycle_once();
    purge_tw = saved;
    uint64_t rss0 = bench_rss_bytes();

    uint64_t win_cpu[N_CHECK] = {0}, win_start[N_CHECK] = {0};
    bench_times f0 = bench_times_now();
    for (uint64_t k = 0; k < pop; k++, i++) {
        if (curve)
            for (int j = 0; j < N_CHECK; j++)
                if (k == checkpoints[j] - checkpoints[j] / 10) win_start[j] = bench_cpu_ns();
        lifecycle_once();
        if (curve)
            for (int j = 0; j < N_CHECK; j++)
                if (k + 1 == checkpoints[j]) win_cpu[j] = bench_cpu_ns() - win_start[j];
    }
    bench_times f1 = bench_times_now();
    double fill_cpu = (f1.cpu - f0.cpu) / 1e9;
    uint64_t rss_fill = bench_rss_bytes();
    uint64_t tw_filled = tw_count();
    bench_log("population %" PRIu64 ": filled to %" PRIu64 " TIME_WAIT pcbs in %.2f s (CPU %.2f s)",
              pop, tw_filled, (f1.wall - f0.wall) / 1e9, fill_cpu);

    /* the measurement: `count` lifecycles per round */
    uint64_t pk0 = q.pkts[0] + q.pkts[1];
    bench_rounds rr;
    bench_rounds_init(&rr, argc, argv);
    snprintf(metric, sizeof metric, "lifecycle_rate_%s", pname);
    uint64_t done = 0, tw_start = tw_count();
    double wall = 0;
    while (bench_rounds_next(&rr)) {
        bench_times t0 = bench_times_now();
        for (uint64_t k = 0; k < count; k++, i++)
            lifecycle_once();
        bench_times t1 = bench_times_now();
        done += count;
        wall += (t1.wall - t0.wall) / 1e9;
        bench_round_row(&rr, metric, SYS, count / ((t1.cpu - t0.cpu) / 1e9),
                        count / ((t1.wall - t0.wall) / 1e9), "conn/s");
    }
    uint64_t segs = q.pkts[0] + q.pkts[1] - pk0;
    check_quiescent(i);
    if (!done) bench_die("no rounds were run");
    uint64_t tw_end = tw_count();
    if (pop == 0)
        bench_row(metric, SYS, bench_rounds_median(&rr), "conn/s",
                  "median of %d rounds of %" PRIu64 " lifecycles (CPU time: %.4g to %.4g conn/s; "
                  "wall clock over all: %.0f conn/s); the harness removes each TIME_WAIT pcb "
                  "(tcp_abort) right after its lifecycle: lwIP's TIME_WAIT lasts 2*TCP_MSL = "
                  "120 s, compiled in",
                  rr.n, count, bench_rounds_min(&rr), bench_rounds_max(&rr), done / wall);
    else
        bench_row(metric, SYS, bench_rounds_median(&rr), "conn/s",
                  "median of %d rounds of %" PRIu64 " lifecycles (CPU time: %.4g to %.4g conn/s; "
                  "wall clock over all: %.0f conn/s); TIME_WAIT pcbs %" PRIu64 " at start, %" PRIu64
                  " at end (steady: fake clock %" PRIu64 " us per lifecycle, 120.5 s TIME_WAIT); "
                  "the fill took %.1f s of CPU",
                  rr.n, count, bench_rounds_min(&rr), bench_rounds_max(&rr), done / wall, tw_start,
                  tw_end, dt_us, fill_cpu);
    if (pop == 0)
        bench_row("segments_per_lifecycle", SYS, (double)segs / done, "segments",
                  "both directions, counted on the link");
    if (pop >= 100000) {
        snprintf(metric, sizeof metric, "rss_mib_%s", pname);
        bench_row(metric, SYS, rss_fill / 1048576.0, "MiB", "VmRSS with %" PRIu64 " TIME_WAIT pcbs",
                  tw_filled);
        snprintf(metric, sizeof metric, "tw_bytes_measured_%s", pname);
        bench_row(metric, SYS, (double)(rss_fill - rss0) / (double)tw_filled, "bytes",
                  "(VmRSS at %" PRIu64 " pcbs - VmRSS before) / pcbs", tw_filled);
    }
    if (curve)
        for (int j = 0; j < N_CHECK; j++) {
            if (checkpoints[j] > pop) continue;
            bench_pop_name(checkpoints[j], pname, sizeof pname);
            snprintf(metric, sizeof metric, "tw_insert_lifecycle_ns_%s", pname);
            bench_row(metric, SYS, (double)win_cpu[j] / (double)(checkpoints[j] / 10), "ns",
                      "mean CPU time of a lifecycle (ending in one TIME_WAIT insertion; expiry "
                      "running) while the population grows from %" PRIu64 " to %" PRIu64,
                      checkpoints[j] - checkpoints[j] / 10, checkpoints[j]);
        }
    if (pop >= 10000) {
        /* expiry: tcp_slowtmr() deletes the pcbs whose 2MSL is over; step the clock through
         * 2MSL in the timer's own 250 ms steps and time the timer work alone */
        uint64_t n = tw_count(), spent = 0;
        for (uint64_t t = 0; t <= TW_LIFETIME_US + 1000000; t += 250000) {
            fake_us += 250000;
            uint64_t e0 = bench_cpu_ns();
            sys_check_timeouts();
            spent += bench_cpu_ns() - e0;
        }
        if (tw_count() != 0) bench_die("expiry left %" PRIu64 " pcbs", tw_count());
        bench_pop_name(pop, pname, sizeof pname);
        snprintf(metric, sizeof metric, "tw_expire_ns_%s", pname);
        bench_row(metric, SYS, (double)spent / (double)n, "ns",
                  "timer work over one 2MSL (tcp_slowtmr walks the TIME_WAIT list every 500 ms) "
                  "per pcb expired, %" PRIu64 " pcbs",
                  n);
    }
}

/* ---- streams ------------------------------------------------------------------------------ */

static void stream_open(void) {
    app.mode = MODE_STREAM;
    app.pattern = malloc(CHUNK + 251);
    if (!app.pattern) bench_die("out of memory");
    for (size_t k = 0; k < CHUNK + 251; k++)
        app.pattern[k] = (uint8_t)(k % 251);
    app.client = client_open();
    tcp_nagle_disable(app.client);
    pump();
    if (!app.server || app.client->state != ESTABLISHED) bench_die("stream not established");
}

/* The client writes what fits of `size` bytes, everything is delivered and read. */
static void stream_step(size_t size) {
    fake_us += 1;
    run_timers();
    CG_ENTER(0);
    size_t room = tcp_sndbuf(app.client);
    size_t n = size < room ? size : room;
    if (n > 0 && tcp_write(app.client, app.pattern + app.tx_bytes % 251, (u16_t)n,
                           TCP_WRITE_FLAG_COPY) == ERR_OK)
        app.tx_bytes += n;
    tcp_output(app.client);
    CG_LEAVE();
    pump();
}

/* Dies if a stream stops moving: nothing received for 3 s of fake time. */
static void stream_check_progress(uint64_t *last_rx, uint64_t *idle) {
    if (app.rx_bytes != *last_rx) {
        *last_rx = app.rx_bytes;
        *idle = 0;
    } else if (++*idle > 3000000) {
        bench_die("stream stalled after %" PRIu64 " bytes sent, %" PRIu64
                  " received: nothing moved for 3 s of fake time",
                  app.tx_bytes, app.rx_bytes);
    }
}

static void run_bulk(int argc, char **argv) {
    uint64_t bytes = bench_opt_u64(argc, argv, "--bytes", 256ull << 20);
    app.verify = bench_opt_flag(argc, argv, "--verify");
    lwip_setup();
    dt_us = 1;
    stream_open();
    uint64_t last_rx = 0, idle = 0;
    while (app.rx_bytes < (16u << 20)) {
        stream_step(CHUNK);
        stream_check_progress(&last_rx, &idle);
    }
    /* `bytes` per round */
    uint64_t rx0 = app.rx_bytes, seg0 = q.data_pkts[0];
    bench_rounds rr;
    bench_rounds_init(&rr, argc, argv);
    double wall = 0;
    while (bench_rounds_next(&rr)) {
        uint64_t start = app.rx_bytes;
        bench_times t0 = bench_times_now();
        while (app.rx_bytes - start < bytes) {
            stream_step(CHUNK);
            stream_check_progress(&last_rx, &idle);
        }
        bench_times t1 = bench_times_now();
        double bits = (app.rx_bytes - start) * 8.0;
        wall += (t1.wall - t0.wall) / 1e9;
        bench_round_row(&rr, "bulk_gbps_mss1460", SYS, bits / ((t1.cpu - t0.cpu) / 1e9) / 1e9,
                        bits / ((t1.wall - t0.wall) / 1e9) / 1e9, "Gbit/s");
    }
    uint64_t got = app.rx_bytes - rx0, segs = q.data_pkts[0] - seg0;
    if (app.errors) bench_die("bulk transfer had %" PRIu64 " errors", app.errors);
    if (!got) bench_die("no rounds were run");
    bench_row("bulk_gbps_mss1460", SYS, bench_rounds_median(&rr), "Gbit/s",
              "median of %d rounds of %.0f MiB (CPU time: %.4g to %.4g Gbit/s; wall clock over "
              "all: %.2f Gbit/s); %.0f payload bytes per segment; TCP_WND = TCP_SND_BUF = 65535 "
              "(Debian's build)%s",
              rr.n, bytes / 1048576.0, bench_rounds_min(&rr), bench_rounds_max(&rr),
              got * 8.0 / wall / 1e9, (double)got / (double)segs,
              app.verify ? "; data verified" : "");
}

static void run_cgseg(int argc, char **argv) {
    uint64_t size = bench_opt_u64(argc, argv, "--size", 1);
    uint64_t count = bench_opt_u64(argc, argv, "--count", 2000);
    lwip_setup();
    bool small = size < 1000;
    stream_open();
    size_t step = small ? (size_t)size : CHUNK;
    uint64_t steps = small ? count : (count * 1460 + CHUNK - 1) / CHUNK;
    uint64_t last_rx = 0, idle = 0;
    for (uint64_t k = 0; k < steps / 4 + 10; k++) {
        stream_step(step);
        stream_check_progress(&last_rx, &idle);
    }
    static const char *phase_names[2] = {"sender", "receiver"};
    for (int ep = 0; ep < 2; ep++) {
        uint64_t seg0 = q.data_pkts[0], pk0 = q.pkts[0] + q.pkts[1];
        bench_cg = (bench_cg_state){.phase = true, .endpoint = ep};
        for (uint64_t k = 0; k < steps; k++) {
            stream_step(step);
            stream_check_progress(&last_rx, &idle);
        }
        bench_cg.phase = false;
        CG_LEAVE();
        CALLGRIND_DUMP_STATS_AT(phase_names[ep]);
        char metric[64];
        snprintf(metric, sizeof metric, "cgphase_%s", phase_names[ep]);
        bench_row(metric, SYS, (double)(q.data_pkts[0] - seg0), "segments",
                  "%" PRIu64 " packets in all", q.pkts[0] + q.pkts[1] - pk0);
    }
    if (app.errors) bench_die("stream had %" PRIu64 " errors", app.errors);
}

static void run_cglife(int argc, char **argv) {
    uint64_t count = bench_opt_u64(argc, argv, "--count", 2000);
    lwip_setup();
    app.mode = MODE_LIFECYCLE;
    purge_tw = true;
    dt_us = 1;
    uint64_t i = 0;
    for (; i < count / 2 + 100; i++)
        lifecycle_once();
    static const char *phase_names[2] = {"client", "server"};
    for (int ep = 0; ep < 2; ep++) {
        uint64_t pk0 = q.pkts[0] + q.pkts[1];
        bench_cg = (bench_cg_state){.phase = true, .endpoint = ep};
        for (uint64_t k = 0; k < count; k++, i++)
            lifecycle_once();
        bench_cg.phase = false;
        CG_LEAVE();
        CALLGRIND_DUMP_STATS_AT(phase_names[ep]);
        char metric[64];
        snprintf(metric, sizeof metric, "cgphase_%s", phase_names[ep]);
        bench_row(metric, SYS, (double)count, "lifecycles", "%" PRIu64 " packets in all",
                  q.pkts[0] + q.pkts[1] - pk0);
    }
    check_quiescent(i);
}

static void run_sizes(void) {
    size_t n = sizeof(struct tcp_pcb);
    size_t chunk = (n + 8 + 15) & ~(size_t)15;
    bench_row("bytes_per_established_conn", SYS, (double)n, "bytes",
              "sizeof(struct tcp_pcb) in Debian's build (%zu-byte malloc chunk); data lives in "
              "pbufs allocated per segment",
              chunk);
    bench_row("bytes_per_tw_entry", SYS, (double)n, "bytes",
              "a TIME_WAIT connection keeps its full struct tcp_pcb (%zu-byte malloc chunk)",
              chunk);
}

int main(int argc, char **argv) {
    static const bench_mode modes[] = {{"lifecycle", run_lifecycle},
                                       {"bulk", run_bulk},
                                       {"cgseg", run_cgseg},
                                       {"cglife", run_cglife}};
    return bench_main(argc, argv, run_sizes, modes, sizeof modes / sizeof modes[0]);
}
