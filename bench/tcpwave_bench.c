/* tcpwave_bench.c — tcpwave measured the way an embedding application runs it: two stacks (a
 * client and a server) in one process on one core, joined by an in-memory link (a packet
 * queue: the output callback appends, the loop delivers), with a fake monotonic clock as the
 * engine's time and the wall clock (clock_gettime) around the measured loops.
 *
 *   tcpwave_bench lifecycle --pop P --count M [--curve] [--worst]
 *                                                         conn/s with P entries in TIME_WAIT,
 *                                                         M lifecycles per round; --worst: the
 *                                                         longest lifecycle (CPU time) while
 *                                                         the population grows
 *   tcpwave_bench bulk --bytes N [--verify]               one-way bulk throughput, Gbit/s, N
 *                                                         bytes per round
 *   (lifecycle and bulk: --rounds R back to back, or --serve: rounds on request, common.h)
 *   tcpwave_bench cgseg --size 1|1460 --count N           callgrind phases: per-segment cost
 *   tcpwave_bench cglife --count N [--pop P]               callgrind phases: per-lifecycle cost
 *   tcpwave_bench sizes                                   control block and TIME_WAIT sizes
 *
 * Results are JSON rows on stdout (common.h); bench/run.py runs the modes and builds the
 * table. The TIME_WAIT population is held steady: the fake clock advances 1 µs per lifecycle
 * and 2MSL is P µs, so every lifecycle inserts one record and expires one — what a busy
 * client sees in steady state. Client addresses vary (10.1.x.y, 1024 of them) so that the
 * 4-tuple space holds 10M records; the engine picks the ephemeral ports itself.
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
#include "core/tcb.h" /* sizeof the internal control block and TIME_WAIT record */
#include "tcpwave/tcpwave.h"

#define SYS            "tcpwave"
#define N_CLIENT_ADDRS 1024
#define SERVER_PORT    80
#define CHUNK          65536

/* ---- the in-memory link -------------------------------------------------------------------- */

#define ARENA_BYTES (16u << 20)
#define QUEUE_MAX   65536

typedef struct link {
    uint8_t *arena;
    size_t used;
    uint32_t off[QUEUE_MAX], len[QUEUE_MAX];
    uint8_t to[QUEUE_MAX];
    uint32_t head, tail;
    uint64_t pkts[2], data_pkts[2]; /* sent by endpoint 0 (client) / 1 (server) */
} link;

enum { MODE_LIFECYCLE, MODE_STREAM };

typedef struct bench bench;
typedef struct endpoint_ctx {
    bench *b;
    int ep;
} endpoint_ctx;

struct bench {
    tcpw_stack *st[2];
    endpoint_ctx ctx[2];
    tcpw_conn *listener;
    tcpw_conn *client, *server; /* the stream connection (MODE_STREAM) */
    link q;
    uint64_t now;
    int mode;
    tcpw_endpoint server_ep;
    tcpw_endpoint client_eps[N_CLIENT_ADDRS];
    uint64_t done, errors;
    uint64_t rx_bytes, tx_bytes;
    bool verify;
    uint8_t rbuf[CHUNK];
    uint8_t *pattern; /* CHUNK + 251 bytes: byte k of the stream is k % 251 */
};

static int tag_client, tag_server;

static void link_output(void *user, const uint8_t *pkt, size_t len) {
    endpoint_ctx *x = user;
    link *q = &x->b->q;
    CG_PAUSE(); /* the copy onto the wire is the harness's work, not the engine's */
    if (q->tail == QUEUE_MAX || q->used + len > ARENA_BYTES) bench_die("link queue overflow");
    memcpy(q->arena + q->used, pkt, len);
    q->off[q->tail] = (uint32_t)q->used;
    q->len[q->tail] = (uint32_t)len;
    q->to[q->tail] = (uint8_t)(1 - x->ep);
    q->tail++;
    q->used += (len + 15) & ~(size_t)15;
    q->pkts[x->ep]++;
    /* a TCP payload: IPv4 total length beyond the IP and TCP headers */
    size_t ihl = (size_t)(pkt[0] & 15) * 4, doff = (size_t)(pkt[ihl + 12] >> 4) * 4;
    if (len > ihl + doff) q->data_pkts[x->ep]++;
    CG_RESUME();
}

static void *bench_alloc(void *user, size_t size) {
    (void)user;
    return malloc(size);
}

static void bench_free(void *user, void *p) {
    (void)user;
    free(p);
}

/* ---- the applications: a 1-byte request/response server and client; a bulk sink ---------- */

static void server_event(bench *b, tcpw_conn *c, uint32_t ev) {
    if (c == b->listener) {
        for (;;) {
            CG_ENTER(1);
            tcpw_conn *a = tcpw_accept(c);
            CG_LEAVE();
            if (!a) break;
            tcpw_set_userdata(a, &tag_server);
            if (b->mode == MODE_STREAM) b->server = a;
        }
        return;
    }
    if (ev & (TCPW_EV_RESET | TCPW_EV_TIMEOUT)) {
        b->errors++;
        CG_ENTER(1);
        tcpw_close(c, b->now);
        CG_LEAVE();
        return;
    }
    if (!(ev & (TCPW_EV_READABLE | TCPW_EV_EOF))) return;
    for (;;) {
        CG_ENTER(1);
        ptrdiff_t n = tcpw_recv(c, b->rbuf, sizeof b->rbuf, b->now);
        CG_LEAVE();
        if (n > 0) {
            if (b->mode == MODE_LIFECYCLE) {
                CG_ENTER(1);
                ptrdiff_t w = tcpw_send(c, "r", 1, b->now);
                CG_LEAVE();
                if (w != 1) b->errors++;
            } else {
                if (b->verify && memcmp(b->rbuf, b->pattern + b->rx_bytes % 251, (size_t)n) != 0)
                    bench_die("bulk data corrupted at byte %" PRIu64, b->rx_bytes);
                b->rx_bytes += (uint64_t)n;
            }
            continue;
        }
        if (n == 0) { /* end of stream: the client closed first; close our side */
            CG_ENTER(1);
            tcpw_close(c, b->now);
            CG_LEAVE();
            if (c == b->server) b->server = NULL;
            return;
        }
        if (n != TCPW_EAGAIN) {
            b->errors++;
            CG_ENTER(1);
            tcpw_close(c, b->now);
            CG_LEAVE();
        }
        return;
    }
}

static void client_event(bench *b, tcpw_conn *c, uint32_t ev) {
    if (ev & (TCPW_EV_RESET | TCPW_EV_REFUSED | TCPW_EV_TIMEOUT)) {
        b->errors++;
        CG_ENTER(0);
        tcpw_close(c, b->now);
        CG_LEAVE();
        if (c == b->client) b->client = NULL;
        return;
    }
    if (b->mode != MODE_LIFECYCLE) return;
    if (ev & TCPW_EV_CONNECTED) {
        CG_ENTER(0);
        ptrdiff_t w = tcpw_send(c, "q", 1, b->now);
        CG_LEAVE();
        if (w != 1) b->errors++;
    }
    if (ev & TCPW_EV_READABLE) {
        uint8_t r;
        CG_ENTER(0);
        ptrdiff_t n = tcpw_recv(c, &r, 1, b->now);
        CG_LEAVE();
        if (n == 1) {
            b->done++;
            /* the client closes first: TIME_WAIT lands on the client */
            CG_ENTER(0);
            tcpw_close(c, b->now);
            CG_LEAVE();
        }
    }
}

/* Delivers every queued packet and runs the applications until nothing moves. */
static void pump(bench *b) {
    for (;;) {
        bool work = false;
        while (b->q.head != b->q.tail) {
            uint32_t i = b->q.head++;
            int to = b->q.to[i];
            CG_ENTER(to);
            tcpw_input(b->st[to], b->q.arena + b->q.off[i], b->q.len[i], b->now);
            CG_LEAVE();
            work = true;
        }
        b->q.head = b->q.tail = 0;
        b->q.used = 0;
        for (int ep = 1; ep >= 0; ep--) {
            for (;;) {
                uint32_t ev;
                CG_ENTER(ep);
                tcpw_conn *c = tcpw_poll_event(b->st[ep], &ev);
                CG_LEAVE();
                if (!c) break;
                work = true;
                if (ep == 1)
                    server_event(b, c, ev);
                else
                    client_event(b, c, ev);
            }
        }
        if (!work) return;
    }
}

/* Runs the timers that are due at b->now. */
static void tick(bench *b) {
    bool any = false;
    for (int ep = 0; ep < 2; ep++) {
        CG_ENTER(ep);
        uint64_t d = tcpw_next_deadline(b->st[ep]);
        if (d <= b->now) {
            tcpw_tick(b->st[ep], b->now);
            any = true;
        }
        CG_LEAVE();
    }
    if (any) pump(b);
}

static void bench_init(bench *b, uint32_t msl_ms, bool nagle) {
    memset(b, 0, sizeof *b);
    b->q.arena = malloc(ARENA_BYTES);
    if (!b->q.arena) bench_die("out of memory");
    b->now = 1000000;
    b->server_ep.addr = tcpw_addr_v4(10, 0, 0, 1);
    b->server_ep.port = SERVER_PORT;
    for (int i = 0; i < N_CLIENT_ADDRS; i++) {
        b->client_eps[i].addr = tcpw_addr_v4(10, 1, (uint8_t)(i / 250), (uint8_t)(1 + i % 250));
        b->client_eps[i].port = 0;
    }
    for (int ep = 0; ep < 2; ep++) {
        tcpw_config cfg;
        tcpw_config_default(&cfg);
        b->ctx[ep].b = b;
        b->ctx[ep].ep = ep;
        cfg.user = &b->ctx[ep];
        cfg.output = link_output;
        cfg.alloc = bench_alloc;
        cfg.free = bench_free;
        for (int i = 0; i < 16; i++)
            cfg.secret[i] = (uint8_t)(0x5a + 17 * i + ep);
        cfg.msl_ms = msl_ms;
        cfg.ephemeral_lo = 1024;
        cfg.ephemeral_hi = 65535;
        cfg.nagle = nagle;
        int err = tcpw_stack_new(&cfg, &b->st[ep]);
        if (err) bench_die("tcpw_stack_new: %s", tcpw_strerror(err));
    }
    int err = tcpw_listen(b->st[1], &b->server_ep, 4096, &b->listener);
    if (err) bench_die("tcpw_listen: %s", tcpw_strerror(err));
    tcpw_set_userdata(b->listener, NULL);
}

static void bench_fini(bench *b) {
    tcpw_stack_free(b->st[0]);
    tcpw_stack_free(b->st[1]);
    free(b->q.arena);
    free(b->pattern);
}

/* ---- connection lifecycle at a TIME_WAIT population ------------------------------------------ */

/* One lifecycle: connect, 1-byte request, 1-byte response, the client closes, four-way close;
 * the client's end goes into TIME_WAIT. The fake clock moves 1 µs per lifecycle. */
static void lifecycle_once(bench *b, uint64_t i) {
    b->now += 1;
    tick(b);
    tcpw_conn *c;
    CG_ENTER(0);
    int err = tcpw_connect(b->st[0], &b->client_eps[i % N_CLIENT_ADDRS], &b->server_ep, b->now, &c);
    CG_LEAVE();
    if (err) bench_die("tcpw_connect (lifecycle %" PRIu64 "): %s", i, tcpw_strerror(err));
    tcpw_set_userdata(c, &tag_client);
    pump(b);
}

static uint64_t tw_count(const bench *b) {
    return tcpw_stack_stats(b->st[0])->time_wait_count;
}

static void check_quiescent(bench *b, uint64_t expect_done) {
    const tcpw_stats *cs = tcpw_stack_stats(b->st[0]), *ss = tcpw_stack_stats(b->st[1]);
    if (b->errors || b->done != expect_done || cs->conn_count != 0 || ss->conn_count != 1)
        bench_die("lifecycles went wrong: done %" PRIu64 " of %" PRIu64 ", errors %" PRIu64
                  ", client blocks %" PRIu64 ", server blocks %" PRIu64,
                  b->done, expect_done, b->errors, cs->conn_count, ss->conn_count);
}

/* The fill curve: the mean CPU time of the lifecycles just below each checkpoint population
 * (records only inserted, none expiring yet), and the CPU time of each lifecycle whose
 * insertion starts doubling the TIME_WAIT hash index (before the index grew incrementally, it
 * rehashed every record at once). */
#define N_CHECK 4
static const uint64_t checkpoints[N_CHECK] = {10000, 100000, 1000000, 10000000};
#define MAX_DOUBLINGS 40

static void run_lifecycle(int argc, char **argv) {
    uint64_t pop = bench_opt_u64(argc, argv, "--pop", 0);
    uint64_t count = bench_opt_u64(argc, argv, "--count", 100000);
    bool curve = bench_opt_flag(argc, argv, "--curve");
    bool worst = bench_opt_flag(argc, argv, "--worst");
    char pname[32], metric[96];
    bench_pop_name(pop, pname, sizeof pname);
    if (pop % 2000) bench_die("--pop must be a multiple of 2000 (2MSL = pop us, MSL in ms)");

    bench *b = calloc(1, sizeof *b);
    if (!b) bench_die("out of memory");
    bench_init(b, (uint32_t)(pop / 2000), true);
    b->mode = MODE_LIFECYCLE;

    /* warm-up, then the base memory reading */
    uint64_t warm = 2000, i = 0;
    for (; i < warm; i++)
        lifecycle_once(b, i);
    uint64_t rss0 = bench_rss_bytes();

    /* fill to the population: the records of the last `pop` lifecycles are alive */
    uint64_t win_cpu[N_CHECK] = {0}, win_start[N_CHECK] = {0};
    uint64_t dbl_at[MAX_DOUBLINGS], dbl_ns[MAX_DOUBLINGS];
    int n_dbl = 0;
    uint64_t worst_ns[5] = {0}, worst_at[5] = {0};
    bench_times f0 = bench_times_now();
    for (uint64_t k = 0; k < pop; k++, i++) {
        if (worst) {
            /* every lifecycle timed (a CPU-clock read each side), the five longest kept */
            uint64_t n = tw_count(b), c0 = bench_cpu_ns();
            lifecycle_once(b, i);
            uint64_t dt = bench_cpu_ns() - c0;
            for (int j = 0; j < 5; j++)
                if (dt > worst_ns[j]) {
                    for (int m = 4; m > j; m--)
                        worst_ns[m] = worst_ns[m - 1], worst_at[m] = worst_at[m - 1];
                    worst_ns[j] = dt;
                    worst_at[j] = n;
                    break;
                }
            continue;
        }
        if (!curve) {
            lifecycle_once(b, i);
            continue;
        }
        for (int j = 0; j < N_CHECK; j++)
            if (k == checkpoints[j] - checkpoints[j] / 10) win_start[j] = bench_cpu_ns();
        uint64_t n = tw_count(b);
        if (n >= 64 && (n & (n - 1)) == 0 && n_dbl < MAX_DOUBLINGS) {
            uint64_t c0 = bench_cpu_ns();
            lifecycle_once(b, i);
            dbl_ns[n_dbl] = bench_cpu_ns() - c0;
            dbl_at[n_dbl++] = n;
        } else {
            lifecycle_once(b, i);
        }
        for (int j = 0; j < N_CHECK; j++)
            if (k + 1 == checkpoints[j]) win_cpu[j] = bench_cpu_ns() - win_start[j];
    }
    bench_times f1 = bench_times_now();
    uint64_t rss_fill = bench_rss_bytes();
    uint64_t tw_filled = tw_count(b);
    bench_log("population %" PRIu64 ": filled to %" PRIu64
              " TIME_WAIT records in %.2f s (CPU %.2f s), RSS %.1f MiB",
              pop, tw_filled, (f1.wall - f0.wall) / 1e9, (f1.cpu - f0.cpu) / 1e9,
              rss_fill / 1048576.0);

    /* the measurement: steady state, one insertion and one expiry per lifecycle; `count`
     * lifecycles per round */
    uint64_t pk0 = b->q.pkts[0] + b->q.pkts[1];
    bench_rounds rr;
    bench_rounds_init(&rr, argc, argv);
    snprintf(metric, sizeof metric, "lifecycle_rate_%s", pname);
    uint64_t done = 0, tw_start = tw_count(b);
    double wall = 0;
    while (bench_rounds_next(&rr)) {
        bench_times t0 = bench_times_now();
        for (uint64_t k = 0; k < count; k++, i++)
            lifecycle_once(b, i);
        bench_times t1 = bench_times_now();
        done += count;
        wall += (t1.wall - t0.wall) / 1e9;
        bench_round_row(&rr, metric, SYS, count / ((t1.cpu - t0.cpu) / 1e9),
                        count / ((t1.wall - t0.wall) / 1e9), "conn/s");
    }
    uint64_t segs = b->q.pkts[0] + b->q.pkts[1] - pk0;
    uint64_t tw_end = tw_count(b);
    check_quiescent(b, i);
    if (!done) bench_die("no rounds were run");
    bench_row(metric, SYS, bench_rounds_median(&rr), "conn/s",
              "median of %d rounds of %" PRIu64 " lifecycles (CPU time: %.4g to %.4g conn/s; "
              "wall clock over all: %.0f conn/s); TIME_WAIT records %" PRIu64 " at start, %" PRIu64
              " at end (steady: 2MSL = %" PRIu64 " us of fake time, 1 us per lifecycle)",
              rr.n, count, bench_rounds_min(&rr), bench_rounds_max(&rr), done / wall, tw_start,
              tw_end, pop);
    if (pop == 0)
        bench_row("segments_per_lifecycle", SYS, (double)segs / done, "segments",
                  "both directions, counted on the link");

    if (pop >= 100000) {
        snprintf(metric, sizeof metric, "rss_mib_%s", pname);
        bench_row(metric, SYS, rss_fill / 1048576.0, "MiB",
                  "VmRSS of the process (both stacks, harness) with %" PRIu64 " TIME_WAIT records",
                  tw_filled);
        snprintf(metric, sizeof metric, "tw_bytes_measured_%s", pname);
        bench_row(metric, SYS, (double)(rss_fill - rss0) / (double)tw_filled, "bytes",
                  "(VmRSS at %" PRIu64 " records - VmRSS before) / records: record, malloc "
                  "overhead and hash buckets",
                  tw_filled);
    }
    if (curve) {
        for (int j = 0; j < N_CHECK; j++) {
            if (checkpoints[j] > pop) continue;
            bench_pop_name(checkpoints[j], pname, sizeof pname);
            snprintf(metric, sizeof metric, "tw_insert_lifecycle_ns_%s", pname);
            bench_row(metric, SYS, (double)win_cpu[j] / (double)(checkpoints[j] / 10), "ns",
                      "mean CPU time of a lifecycle (ending in one TIME_WAIT insertion, no "
                      "expiry) while the population grows from %" PRIu64 " to %" PRIu64,
                      checkpoints[j] - checkpoints[j] / 10, checkpoints[j]);
        }
        char list[400] = "";
        size_t used = 0;
        for (int d = n_dbl - 1; d >= 0 && d >= n_dbl - 5; d--)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%" PRIu64 ": %.2f ms",
                                     used ? ", " : "", dbl_at[d], dbl_ns[d] / 1e6);
        if (n_dbl)
            bench_row("tw_rehash_pause_ms", SYS, dbl_ns[n_dbl - 1] / 1e6, "ms",
                      "CPU time of the lifecycle whose insertion starts doubling the TIME_WAIT "
                      "hash index at %" PRIu64 " records (the doubling is incremental: this "
                      "insertion allocates the new bucket array and splits two buckets, later "
                      "insertions and removals two more each); largest doublings: %s",
                      dbl_at[n_dbl - 1], list);
    }

    if (worst && pop) {
        char list[400] = "";
        size_t used = 0;
        for (int j = 0; j < 5 && worst_ns[j]; j++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%.3f ms at %" PRIu64,
                                     used ? ", " : "", worst_ns[j] / 1e6, worst_at[j]);
        bench_row("tw_fill_worst_lifecycle_ms", SYS, worst_ns[0] / 1e6, "ms",
                  "CPU time of the longest lifecycle while the population grows from 0 to %" PRIu64
                  " (five longest, with the records in TIME_WAIT before each: %s)",
                  pop, list);
    }

    /* expiry: jump the fake clock past 2MSL; one tick deletes every record */
    if (pop >= 10000) {
        uint64_t n = tw_count(b);
        b->now += 2ull * (pop / 2000) * 1000u + 1;
        uint64_t e0 = bench_cpu_ns();
        tcpw_tick(b->st[0], b->now);
        uint64_t e1 = bench_cpu_ns();
        if (tw_count(b) != 0) bench_die("expiry left %" PRIu64 " records", tw_count(b));
        bench_pop_name(pop, pname, sizeof pname);
        snprintf(metric, sizeof metric, "tw_expire_ns_%s", pname);
        bench_row(metric, SYS, (double)(e1 - e0) / (double)n, "ns",
                  "CPU time of one tcpw_tick() expiring all %" PRIu64 " records, per record", n);
    }
    bench_fini(b);
    free(b);
}

/* ---- streams: bulk throughput and the per-segment phases for callgrind ----------------------- */

static void stream_open(bench *b) {
    b->mode = MODE_STREAM;
    b->pattern = malloc(CHUNK + 251);
    if (!b->pattern) bench_die("out of memory");
    for (size_t k = 0; k < CHUNK + 251; k++)
        b->pattern[k] = (uint8_t)(k % 251);
    tcpw_conn *c;
    int err = tcpw_connect(b->st[0], &b->client_eps[0], &b->server_ep, b->now, &c);
    if (err) bench_die("tcpw_connect: %s", tcpw_strerror(err));
    b->client = c;
    pump(b);
    if (!b->server) bench_die("stream connection not accepted");
}

/* One step of a stream: the client writes `size` bytes (one segment for small writes, a
 * window's worth of full segments for CHUNK), everything is delivered and read. */
static void stream_step(bench *b, size_t size) {
    b->now += 1;
    tick(b);
    size_t n = size;
    CG_ENTER(0);
    ptrdiff_t w = tcpw_send(b->client, b->pattern + b->tx_bytes % 251, n, b->now);
    CG_LEAVE();
    if (w > 0) b->tx_bytes += (uint64_t)w;
    pump(b);
}

/* Dies if a stream stops moving: nothing received for 3 s of fake time, long enough for a
 * retransmission timeout to have fired. */
static void stream_check_progress(bench *b, uint64_t *last_rx, uint64_t *idle) {
    if (b->rx_bytes != *last_rx) {
        *last_rx = b->rx_bytes;
        *idle = 0;
    } else if (++*idle > 3000000) {
        bench_die("stream stalled after %" PRIu64 " bytes sent, %" PRIu64
                  " received: nothing moved for 3 s of fake time",
                  b->tx_bytes, b->rx_bytes);
    }
}

static void run_bulk(int argc, char **argv) {
    uint64_t bytes = bench_opt_u64(argc, argv, "--bytes", 256ull << 20);
    bench *b = calloc(1, sizeof *b);
    if (!b) bench_die("out of memory");
    bench_init(b, 30000, true);
    b->verify = bench_opt_flag(argc, argv, "--verify");
    stream_open(b);
    uint64_t last_rx = 0, idle = 0;
    while (b->rx_bytes < (16u << 20)) { /* warm-up */
        stream_step(b, CHUNK);
        stream_check_progress(b, &last_rx, &idle);
    }
    /* `bytes` per round */
    uint64_t rx0 = b->rx_bytes, seg0 = b->q.data_pkts[0];
    bench_rounds rr;
    bench_rounds_init(&rr, argc, argv);
    double wall = 0;
    while (bench_rounds_next(&rr)) {
        uint64_t start = b->rx_bytes;
        bench_times t0 = bench_times_now();
        while (b->rx_bytes - start < bytes) {
            stream_step(b, CHUNK);
            stream_check_progress(b, &last_rx, &idle);
        }
        bench_times t1 = bench_times_now();
        double bits = (b->rx_bytes - start) * 8.0;
        wall += (t1.wall - t0.wall) / 1e9;
        bench_round_row(&rr, "bulk_gbps_mss1460", SYS, bits / ((t1.cpu - t0.cpu) / 1e9) / 1e9,
                        bits / ((t1.wall - t0.wall) / 1e9) / 1e9, "Gbit/s");
    }
    uint64_t got = b->rx_bytes - rx0, segs = b->q.data_pkts[0] - seg0;
    if (b->errors) bench_die("bulk transfer had %" PRIu64 " errors", b->errors);
    if (!got) bench_die("no rounds were run");
    bench_row("bulk_gbps_mss1460", SYS, bench_rounds_median(&rr), "Gbit/s",
              "median of %d rounds of %.0f MiB (CPU time: %.4g to %.4g Gbit/s; wall clock over "
              "all: %.2f Gbit/s); %.0f payload bytes per segment (MSS 1460 less 12 bytes of "
              "timestamps); 64 KiB send/receive buffers%s",
              rr.n, bytes / 1048576.0, bench_rounds_min(&rr), bench_rounds_max(&rr),
              got * 8.0 / wall / 1e9, (double)got / (double)segs,
              b->verify ? "; data verified" : "");
    bench_fini(b);
    free(b);
}

/* Per-segment instruction counts: a warm-up, then one phase counting the sender (client)
 * and one counting the receiver (server), each followed by a callgrind dump. */
static void run_cgseg(int argc, char **argv) {
    uint64_t size = bench_opt_u64(argc, argv, "--size", 1);
    uint64_t count = bench_opt_u64(argc, argv, "--count", 2000);
    bench *b = calloc(1, sizeof *b);
    if (!b) bench_die("out of memory");
    /* small segments: an interactive stream (TCP_NODELAY), one write per segment; full
     * segments: bulk writes of 64 KiB, cut into MSS-sized segments by the engine */
    bool small = size < 1000;
    bench_init(b, 30000, !small);
    stream_open(b);
    size_t step = small ? (size_t)size : CHUNK;
    uint64_t steps = small ? count : (count * 1448 + CHUNK - 1) / CHUNK;
    uint64_t last_rx = 0, idle = 0;
    for (uint64_t k = 0; k < steps / 4 + 10; k++) {
        stream_step(b, step);
        stream_check_progress(b, &last_rx, &idle);
    }
    static const char *phase_names[2] = {"sender", "receiver"};
    for (int ep = 0; ep < 2; ep++) {
        uint64_t seg0 = b->q.data_pkts[0], pk0 = b->q.pkts[0] + b->q.pkts[1];
        bench_cg = (bench_cg_state){.phase = true, .endpoint = ep};
        for (uint64_t k = 0; k < steps; k++) {
            stream_step(b, step);
            stream_check_progress(b, &last_rx, &idle);
        }
        bench_cg.phase = false;
        CG_LEAVE();
        CALLGRIND_DUMP_STATS_AT(phase_names[ep]);
        char metric[64];
        snprintf(metric, sizeof metric, "cgphase_%s", phase_names[ep]);
        bench_row(metric, SYS, (double)(b->q.data_pkts[0] - seg0), "segments",
                  "%" PRIu64 " packets in all", b->q.pkts[0] + b->q.pkts[1] - pk0);
    }
    if (b->errors) bench_die("stream had %" PRIu64 " errors", b->errors);
    bench_fini(b);
    free(b);
}

/* Per-lifecycle instruction counts: client phase, server phase. With --pop P the TIME_WAIT
 * population is first filled to P and held there as in `lifecycle` (run.py uses P = 0, the
 * empty table; a large P under `valgrind --cache-sim=yes` shows the cache misses the table
 * costs). */
static void run_cglife(int argc, char **argv) {
    uint64_t count = bench_opt_u64(argc, argv, "--count", 2000);
    uint64_t pop = bench_opt_u64(argc, argv, "--pop", 0);
    if (pop % 2000) bench_die("--pop must be a multiple of 2000 (2MSL = pop us, MSL in ms)");
    bench *b = calloc(1, sizeof *b);
    if (!b) bench_die("out of memory");
    bench_init(b, (uint32_t)(pop / 2000), true);
    b->mode = MODE_LIFECYCLE;
    uint64_t i = 0;
    for (; i < count / 2 + 100 + pop; i++)
        lifecycle_once(b, i);
    static const char *phase_names[2] = {"client", "server"};
    for (int ep = 0; ep < 2; ep++) {
        uint64_t pk0 = b->q.pkts[0] + b->q.pkts[1];
        bench_cg = (bench_cg_state){.phase = true, .endpoint = ep};
        for (uint64_t k = 0; k < count; k++, i++)
            lifecycle_once(b, i);
        bench_cg.phase = false;
        CG_LEAVE();
        CALLGRIND_DUMP_STATS_AT(phase_names[ep]);
        char metric[64];
        snprintf(metric, sizeof metric, "cgphase_%s", phase_names[ep]);
        bench_row(metric, SYS, (double)count, "lifecycles", "%" PRIu64 " packets in all",
                  b->q.pkts[0] + b->q.pkts[1] - pk0);
    }
    check_quiescent(b, i);
    bench_fini(b);
    free(b);
}

/* ---- sizes ----------------------------------------------------------------------------------- */

static size_t malloc_chunk(size_t n) {
    /* glibc x86-64: an 8-byte header, 16-byte granules, 32 bytes at least */
    size_t c = (n + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static void run_sizes(void) {
    tcpw_config cfg;
    tcpw_config_default(&cfg);
    bench_row("bytes_per_established_conn", SYS, (double)sizeof(tcpw_conn), "bytes",
              "sizeof(struct tcpw_conn) without buffers (%zu-byte malloc chunk); the send and "
              "receive buffers (%u + %u bytes by default) are allocated at connect/SYN",
              malloc_chunk(sizeof(tcpw_conn)), cfg.send_buffer, cfg.recv_buffer);
#ifdef TW_NIL /* the engine's chunked TIME_WAIT store (twstore.c) */
    bench_row("bytes_per_tw_entry", SYS, (double)sizeof(tcpw_tw4), "bytes",
              "sizeof(tcpw_tw4), the compact IPv4 TIME_WAIT record (IPv6: %zu), stored in "
              "chunks of 1024 records: no allocation per record; plus 4-8 bytes of hash bucket "
              "per record at load 0.5-1",
              sizeof(tcpw_tw6));
#else
    bench_row("bytes_per_tw_entry", SYS, (double)sizeof(tcpw_tw), "bytes",
              "sizeof(tcpw_tw), the compact TIME_WAIT record (%zu-byte malloc chunk, plus "
              "8-16 bytes of hash bucket per record at load 0.5-1)",
              malloc_chunk(sizeof(tcpw_tw)));
#endif
}

int main(int argc, char **argv) {
    static const bench_mode modes[] = {{"lifecycle", run_lifecycle},
                                       {"bulk", run_bulk},
                                       {"cgseg", run_cgseg},
                                       {"cglife", run_cglife}};
    return bench_main(argc, argv, run_sizes, modes, sizeof modes / sizeof modes[0]);
}
