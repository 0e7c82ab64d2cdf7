/* linux_bench.c — the Linux kernel's TCP over loopback, driven the way tcpwave_bench.c drives
 * tcpwave: client and server in one process, one thread, pinned to one core, one connection
 * lifecycle after another (connect, 1-byte request, 1-byte response, the client closes first
 * so TIME_WAIT lands on the client, the server closes on end of stream), and a one-way bulk
 * stream.
 *
 *   linux_bench lifecycle --pop P --count M [--curve]   conn/s with P sockets in TIME_WAIT,
 *                                                       M lifecycles per round
 *   linux_bench bulk --bytes N --mtu 65536|1500         one-way bulk throughput, Gbit/s, N
 *                                                       bytes per round
 *   (lifecycle and bulk: --rounds R back to back, or --serve: rounds on request, common.h)
 *   linux_bench sizes                                   slab object sizes
 *
 * Every measurement runs in a network namespace of its own (unshare(CLONE_NEWNET)): its
 * loopback starts empty, and its sysctls can be set without touching the machine's —
 * tcp_max_tw_buckets raised (its default caps TIME_WAIT at a fraction of the hash table),
 * tcp_tw_reuse off (the loopback default 2 would recycle TIME_WAIT tuples instead of letting
 * the population grow), the ephemeral range 1024-65535, somaxconn 4096. Clients bind one of
 * 1024 addresses of 127.1.0.0/16 with IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port
 * per 4-tuple. What the kernel does not let a user change: TIME_WAIT lasts 60 s
 * (TCP_TIMEWAIT_LEN), so a population is reachable only if the lifecycles that build it fit
 * in those 60 s. Without permission to make a namespace the program runs in the current one
 * with the machine's settings and says so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define SYS             "linux"
#define N_CLIENT_ADDRS  1024
#define SERVER_PORT     8080
#define TW_FILL_LIMIT_S 50.0 /* TIME_WAIT lasts 60 s: a fill must end well before */

static bool in_own_netns;
static char netns_note[256];

/* ---- the namespace ------------------------------------------------------------------------- */

static bool write_sysctl(const char *path, const char *value) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return false;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value);
}

static uint64_t read_sysctl_u64(const char *path) {
    char buf[64] = "";
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    return strtoull(buf, NULL, 10);
}

static void lo_set(int mtu, bool offloads) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) bench_die("socket: %s", strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (mtu) {
        ifr.ifr_mtu = mtu;
        if (ioctl(fd, SIOCSIFMTU, &ifr) != 0) bench_die("set lo mtu: %s", strerror(errno));
    }
    if (!offloads) {
        /* segmentation offloads off: the stack hands loopback MSS-sized packets, not 64 KiB
         * GSO super-packets */
        uint32_t cmds[] = {ETHTOOL_STSO, ETHTOOL_SGSO};
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
            struct ethtool_value ev = {.cmd = cmds[i], .data = 0};
            ifr.ifr_data = (char *)&ev;
            if (ioctl(fd, SIOCETHTOOL, &ifr) != 0)
                bench_log("lo: could not turn offload %u off: %s", cmds[i], strerror(errno));
        }
    }
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) bench_die("lo flags: %s", strerror(errno));
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) bench_die("lo up: %s", strerror(errno));
    close(fd);
}

/* Moves the process into a fresh network namespace with the benchmark's sysctls. */
static void netns_fresh(int mtu, bool offloads) {
    if (unshare(CLONE_NEWNET) != 0) {
        in_own_netns = false;
        snprintf(netns_note, sizeof netns_note,
                 "no network namespace (%s): the machine's loopback and sysctls, "
                 "tcp_max_tw_buckets %" PRIu64,
                 strerror(errno), read_sysctl_u64("/proc/sys/net/ipv4/tcp_max_tw_buckets"));
        return;
    }
    in_own_netns = true;
    snprintf(netns_note, sizeof netns_note, "own network namespace");
    lo_set(mtu, offloads);
    if (!write_sysctl("/proc/sys/net/ipv4/tcp_max_tw_buckets", "16000000") ||
        !write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535") ||
        !write_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse", "0") ||
        !write_sysctl("/proc/sys/net/core/somaxconn", "4096"))
        bench_die("cannot set the namespace's sysctls: %s", strerror(errno));
}

/* "tw N" of /proc/net/sockstat (this namespace). */
static uint64_t tw_count(void) {
    FILE *f = fopen("/proc/net/sockstat", "r");
    if (!f) return 0;
    char line[256];
    uint64_t tw = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, " tw ");
        if (strncmp(line, "TCP:", 4) == 0 && p) tw = strtoull(p + 4, NULL, 10);
    }
    fclose(f);
    return tw;
}

/* Tcp OutSegs of /proc/net/snmp (this namespace). */
static uint64_t out_segs(void) {
    FILE *f = fopen("/proc/net/snmp", "r");
    if (!f) return 0;
    char names[1024], values[1024];
    uint64_t v = 0;
    while (fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
        if (strncmp(names, "Tcp:", 4) != 0) continue;
        char *sn, *sv;
        char *n = strtok_r(names, " \n", &sn), *val = strtok_r(values, " \n", &sv);
        while (n && val) {
            if (strcmp(n, "OutSegs") == 0) v = strtoull(val, NULL, 10);
            n = strtok_r(NULL, " \n", &sn);
            val = strtok_r(NULL, " \n", &sv);
        }
    }
    fclose(f);
    return v;
}

/* ---- sockets --------------------------------------------------------------------------------- */

static void wait_fd(int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, 5000);
    if (r <= 0) bench_die("poll: %s", r == 0 ? "timed out" : strerror(errno));
}

static struct sockaddr_in sin_of(uint32_t host_order_ip, uint16_t port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(host_order_ip);
    a.sin_port = htons(port);
    return a;
}

static int listener_open(void) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = sin_of(0x7f000001, SERVER_PORT);
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) bench_die("bind: %s", strerror(errno));
    if (listen(l, 4096) != 0) bench_die("listen: %s", strerror(errno));
    return l;
}

static uint32_t client_ip(uint64_t i) {
    uint32_t k = (uint32_t)(i % N_CLIENT_ADDRS);
    return (127u << 24) | (1u << 16) | ((k / 250) << 8) | (1 + k % 250);
}

static int accept_one(int l) {
    for (;;) {
        int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
        if (s >= 0) return s;
        if (errno != EAGAIN) bench_die("accept: %s", strerror(errno));
        wait_fd(l, POLLIN);
    }
}

static void write_all(int fd, const void *buf, size_t n) {
    for (;;) {
        ssize_t w = write(fd, buf, n);
        if (w == (ssize_t)n) return;
        if (w < 0 && errno != EAGAIN) bench_die("write: %s", strerror(errno));
        wait_fd(fd, POLLOUT);
    }
}

static ssize_t read_some(int fd, void *buf, size_t n) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) return r;
        if (errno != EAGAIN) bench_die("read: %s", strerror(errno));
        wait_fd(fd, POLLIN);
    }
}

/* One lifecycle: connect, 1-byte request, 1-byte response, the client closes first. */
static void lifecycle_once(int l, uint64_t i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c < 0) bench_die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = sin_of(client_ip(i), 0), dst = sin_of(0x7f000001, SERVER_PORT);
    if (bind(c, (struct sockaddr *)&src, sizeof src) != 0) bench_die("bind: %s", strerror(errno));
    if (connect(c, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
        bench_die("connect (lifecycle %" PRIu64 "): %s", i, strerror(errno));
    int s = accept_one(l);
    char b;
    write_all(c, "q", 1);
    if (read_some(s, &b, 1) != 1) bench_die("server read");
    write_all(s, "r", 1);
    if (read_some(c, &b, 1) != 1) bench_die("client read");
    close(c);
    if (read_some(s, &b, 1) != 0) bench_die("server: no end of stream");
    close(s);
}

#define N_CHECK 4
static const uint64_t checkpoints[N_CHECK] = {10000, 100000, 1000000, 10000000};

static void run_lifecycle(int argc, char **argv) {
    uint64_t pop = bench_opt_u64(argc, argv, "--pop", 0);
    uint64_t count = bench_opt_u64(argc, argv, "--count", 4000);
    bool curve = bench_opt_flag(argc, argv, "--curve");
    char pname[32], metric[96];
    bench_pop_name(pop, pname, sizeof pname);
    netns_fresh(0, true);
    int l = listener_open();
    uint64_t i = 0;

    uint64_t slab0 = bench_slab_bytes();
    uint64_t win_cpu[N_CHECK] = {0}, win_start[N_CHECK] = {0};
    bench_times f0 = bench_times_now();
    bool cut = false;
    for (uint64_t k = 0; k < pop; k++, i++) {
        if (curve)
            for (int j = 0; j < N_CHECK; j++)
                if (k == checkpoints[j] - checkpoints[j] / 10) win_start[j] = bench_cpu_ns();
        lifecycle_once(l, i);
        if (curve)
            for (int j = 0; j < N_CHECK; j++)
                if (k + 1 == checkpoints[j]) win_cpu[j] = bench_cpu_ns() - win_start[j];
        if ((k & 1023) == 1023 && (bench_now_ns() - f0.wall) / 1e9 > TW_FILL_LIMIT_S) {
            cut = true;
            break;
        }
    }
    bench_times f1 = bench_times_now();
    double fill_wall = (f1.wall - f0.wall) / 1e9;
    uint64_t tw_filled = tw_count();
    uint64_t slab_fill = bench_slab_bytes();
    bench_log("population %" PRIu64 ": %" PRIu64
              " sockets in TIME_WAIT after %.1f s (CPU %.1f s)%s",
              pop, tw_filled, fill_wall, (f1.cpu - f0.cpu) / 1e9, cut ? ", fill cut short" : "");
    if (curve)
        for (int j = 0; j < N_CHECK; j++) {
            if (checkpoints[j] > pop || !win_cpu[j]) continue;
            char cname[32];
            bench_pop_name(checkpoints[j], cname, sizeof cname);
            snprintf(metric, sizeof metric, "tw_insert_lifecycle_ns_%s", cname);
            bench_row(metric, SYS, (double)win_cpu[j] / (double)(checkpoints[j] / 10), "ns",
                      "mean CPU time of a lifecycle (ending in one TIME_WAIT insertion) while "
                      "the population grows from %" PRIu64 " to %" PRIu64,
                      checkpoints[j] - checkpoints[j] / 10, checkpoints[j]);
        }
    snprintf(metric, sizeof metric, "lifecycle_rate_%s", pname);
    if (cut) {
        double rate = (double)i / fill_wall;
        bench_row(metric, SYS, NAN, "conn/s",
                  "not reachable: TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN, fixed) and one core "
                  "makes %.0f lifecycles/s here, so at most ~%.0f sockets are ever in TIME_WAIT "
                  "at once (the fill reached %" PRIu64 " in %.0f s)",
                  rate, rate * 60, tw_filled, fill_wall);
        close(l);
        return;
    }

    /* the measurement: `count` lifecycles per round. With an empty table (pop 0) every round
     * after the first starts in a fresh namespace: TIME_WAIT lasts 60 s of real time, and the
     * previous rounds' sockets would otherwise still be there when run.py asks again. */
    bench_rounds rr;
    bench_rounds_init(&rr, argc, argv);
    uint64_t done = 0, segs = 0, tw_start = tw_count(), tw_end = 0, tw_most = 0;
    double wall = 0;
    while (bench_rounds_next(&rr)) {
        if (pop == 0 && rr.n > 1) {
            close(l);
            netns_fresh(0, true);
            l = listener_open();
        }
        uint64_t seg0 = out_segs();
        bench_times t0 = bench_times_now();
        for (uint64_t k = 0; k < count; k++, i++)
            lifecycle_once(l, i);
        bench_times t1 = bench_times_now();
        segs += out_segs() - seg0;
        done += count;
        wall += (t1.wall - t0.wall) / 1e9;
        tw_end = tw_count();
        if (tw_end > tw_most) tw_most = tw_end;
        bench_round_row(&rr, metric, SYS, count / ((t1.cpu - t0.cpu) / 1e9),
                        count / ((t1.wall - t0.wall) / 1e9), "conn/s");
    }
    if (!done) bench_die("no rounds were run");
    if (pop == 0)
        bench_row(metric, SYS, bench_rounds_median(&rr), "conn/s",
                  "median of %d rounds of %" PRIu64 " lifecycles (CPU time: %.4g to %.4g conn/s; "
                  "wall clock over all: %.0f conn/s); each round in a fresh namespace, TIME_WAIT "
                  "growing from 0 to %" PRIu64 " during it (the kernel's 60 s TIME_WAIT cannot be "
                  "held at a population); %s",
                  rr.n, count, bench_rounds_min(&rr), bench_rounds_max(&rr), done / wall, tw_most,
                  netns_note);
    else
        bench_row(metric, SYS, bench_rounds_median(&rr), "conn/s",
                  "median of %d rounds of %" PRIu64 " lifecycles (CPU time: %.4g to %.4g conn/s; "
                  "wall clock over all: %.0f conn/s); sockets in TIME_WAIT %" PRIu64
                  " at the start of the first round, %" PRIu64 " at the end of the last (the "
                  "kernel's 60 s TIME_WAIT cannot be held at a population: it grows during the "
                  "rounds, and the oldest expire 60 s after the fill began); %s",
                  rr.n, count, bench_rounds_min(&rr), bench_rounds_max(&rr), done / wall, tw_start,
                  tw_end, netns_note);
    if (pop == 0)
        bench_row("segments_per_lifecycle", SYS, (double)segs / done, "segments",
                  "Tcp OutSegs of the namespace (both endpoints)");
    if (pop >= 100000) {
        snprintf(metric, sizeof metric, "rss_mib_%s", pname);
        bench_row(metric, SYS, (slab_fill - slab0) / 1048576.0, "MiB",
                  "kernel slab memory added by %" PRIu64
                  " sockets in TIME_WAIT (Slab: of /proc/meminfo; the process's own RSS does "
                  "not hold them)",
                  tw_filled);
        snprintf(metric, sizeof metric, "tw_bytes_measured_%s", pname);
        bench_row(metric, SYS, (double)(slab_fill - slab0) / (double)tw_filled, "bytes",
                  "(Slab after the fill - before) / sockets in TIME_WAIT: tw sock, bind buckets");
    }
    close(l);
}

/* ---- bulk ------------------------------------------------------------------------------------ */

#define BULK_CHUNK (256u << 10)

/* Writes until the socket is full, reads until nothing is left, again and again until at
 * least `want` bytes have arrived; returns how many did. */
static uint64_t move_bytes(int c, int s, const uint8_t *buf, uint8_t *rbuf, uint64_t want) {
    uint64_t rx = 0;
    while (rx < want) {
        for (;;) {
            ssize_t w = write(c, buf, BULK_CHUNK);
            if (w < 0) {
                if (errno == EAGAIN) break;
                bench_die("write: %s", strerror(errno));
            }
        }
        for (;;) {
            ssize_t r = read(s, rbuf, BULK_CHUNK);
            if (r < 0) {
                if (errno == EAGAIN) break;
                bench_die("read: %s", strerror(errno));
            }
            if (r == 0) bench_die("unexpected end of stream");
            rx += (uint64_t)r;
        }
    }
    return rx;
}

static void run_bulk(int argc, char **argv) {
    uint64_t bytes = bench_opt_u64(argc, argv, "--bytes", 512ull << 20);
    int mtu = (int)bench_opt_u64(argc, argv, "--mtu", 65536);
    bool small = mtu < 65536;
    netns_fresh(small ? mtu : 0, !small);
    int l = listener_open();
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (small && !in_own_netns) {
        /* the machine's loopback keeps its MTU: ask for the MSS on the sockets instead (the
         * segments still travel as 64 KiB GSO packets; the note says so) */
        int mss = mtu - 40 - 12;
        setsockopt(l, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
        setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
    }
    struct sockaddr_in dst = sin_of(0x7f000001, SERVER_PORT);
    if (connect(c, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
        bench_die("connect: %s", strerror(errno));
    int s = accept_one(l);
    wait_fd(c, POLLOUT);
    uint8_t *buf = malloc(BULK_CHUNK), *rbuf = malloc(BULK_CHUNK);
    if (!buf || !rbuf) bench_die("out of memory");
    for (size_t k = 0; k < BULK_CHUNK; k++)
        buf[k] = (uint8_t)k;
    /* a warm-up of 64 MiB, then `bytes` per round */
    move_bytes(c, s, buf, rbuf, 64u << 20);
    uint64_t seg0 = out_segs(), total = 0;
    bench_rounds rr;
    bench_rounds_init(&rr, argc, argv);
    double wall = 0;
    const char *metric = small ? "bulk_gbps_mss1460" : "bulk_gbps_lo_default";
    while (bench_rounds_next(&rr)) {
        bench_times t0 = bench_times_now();
        uint64_t rx = move_bytes(c, s, buf, rbuf, bytes);
        bench_times t1 = bench_times_now();
        total += rx;
        wall += (t1.wall - t0.wall) / 1e9;
        bench_round_row(&rr, metric, SYS, rx * 8.0 / ((t1.cpu - t0.cpu) / 1e9) / 1e9,
                        rx * 8.0 / ((t1.wall - t0.wall) / 1e9) / 1e9, "Gbit/s");
    }
    if (!total) bench_die("no rounds were run");
    uint64_t segs = out_segs() - seg0;
    int mss = 0;
    socklen_t ml = sizeof mss;
    getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, &ml);
    bench_row(metric, SYS, bench_rounds_median(&rr), "Gbit/s",
              "median of %d rounds of %.0f MiB (CPU time: %.4g to %.4g Gbit/s; wall clock over "
              "all: %.2f Gbit/s); loopback MTU %d, MSS %d (%d payload bytes with timestamps)%s; "
              "%.0f bytes per segment counted by OutSegs (data + ACKs); %s",
              rr.n, bytes / 1048576.0, bench_rounds_min(&rr), bench_rounds_max(&rr),
              total * 8.0 / wall / 1e9, in_own_netns ? mtu : 65536, mss + 12, mss,
              small && in_own_netns ? ", TSO/GSO off" : ", TSO/GSO on: 64 KiB segments",
              (double)total / (double)segs, netns_note);
    close(c);
    close(s);
    close(l);
    free(buf);
    free(rbuf);
}

/* ---- sizes ----------------------------------------------------------------------------------- */

static uint64_t slab_objsize(const char *name) {
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f) return 0;
    char line[512], n[64];
    unsigned long active, num, size;
    uint64_t v = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %lu %lu %lu", n, &active, &num, &size) == 4 && strcmp(n, name) == 0)
            v = size;
    fclose(f);
    return v;
}

static void run_sizes(void) {
    uint64_t tcp = slab_objsize("TCP"), tw = slab_objsize("tw_sock_TCP");
    uint64_t inode = slab_objsize("sock_inode_cache");
    bench_row("bytes_per_established_conn", SYS, tcp ? (double)tcp : NAN, "bytes",
              tcp ? "slab object size of struct tcp_sock (cache TCP, /proc/slabinfo); the socket's "
                    "inode (sock_inode_cache, %" PRIu64 " bytes) and struct file come on top"
                  : "/proc/slabinfo not readable%" PRIu64,
              inode);
    bench_row("bytes_per_tw_entry", SYS, tw ? (double)tw : NAN, "bytes",
              tw ? "slab object size of struct tcp_timewait_sock (cache tw_sock_TCP)"
                 : "/proc/slabinfo not readable");
}

int main(int argc, char **argv) {
    static const bench_mode modes[] = {{"lifecycle", run_lifecycle}, {"bulk", run_bulk}};
    return bench_main(argc, argv, run_sizes, modes, sizeof modes / sizeof modes[0]);
}
