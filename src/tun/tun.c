/* tun.c — the TUN driver: device <-> impairment queue <-> engine, on the monotonic clock
 * (see tun.h).
 */
#define _DEFAULT_SOURCE /* u_char and friends, which pcap.h needs, are BSD types */
#include "tun/tun.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "sim/prng.h"

#define TUN_MTU_MAX 65536

/* A packet held by the impairment queue until `due`. */
typedef struct qpkt {
    uint64_t due;
    uint64_t order; /* FIFO among packets due at the same time */
    tcpw_tun_dir dir;
    size_t len;
    uint8_t data[];
} qpkt;

struct tcpw_tun {
    tcpw_tun_config cfg;
    tcpw_stack *stack;
    tcpw_prng rng;
    bool impair_any;
    uint64_t now;

    qpkt **heap; /* min-heap by (due, order) */
    size_t qlen, qcap;
    uint64_t order;

    pcap_t *pcap;
    pcap_dumper_t *dumper;

    tcpw_tun_stats st;
    uint8_t buf[TUN_MTU_MAX];
};

uint64_t tcpw_tun_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void tick_clock(tcpw_tun *t) {
    uint64_t now = tcpw_tun_clock();
    if (now > t->now) t->now = now;
}

uint64_t tcpw_tun_now(tcpw_tun *t) {
    tick_clock(t);
    return t->now;
}

void tcpw_tun_config_default(tcpw_tun_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->fd = -1;
    tcpw_config_default(&cfg->stack);
    cfg->impair.in = cfg->impair.out = true;
}

/* ---- the capture ----------------------------------------------------------------------------- */

static void pcap_write(tcpw_tun *t, const uint8_t *pkt, size_t len) {
    if (!t->dumper) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts = tv;
    h.caplen = h.len = (bpf_u_int32)len;
    pcap_dump((u_char *)t->dumper, &h, pkt);
    t->st.pcap_packets++;
}

/* ---- the impairment queue -------------------------------------------------------------------- */

static bool q_before(const qpkt *a, const qpkt *b) {
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static int q_push(tcpw_tun *t, const uint8_t *pkt, size_t len, tcpw_tun_dir dir, uint64_t due) {
    if (t->qlen == t->qcap) {
        size_t cap = t->qcap ? t->qcap * 2 : 256;
        qpkt **h = realloc(t->heap, cap * sizeof *h);
        if (!h) return -1;
        t->heap = h;
        t->qcap = cap;
    }
    qpkt *p = malloc(sizeof *p + len);
    if (!p) return -1;
    p->due = due;
    p->order = t->order++;
    p->dir = dir;
    p->len = len;
    memcpy(p->data, pkt, len);
    size_t i = t->qlen++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!q_before(p, t->heap[parent])) break;
        t->heap[i] = t->heap[parent];
        i = parent;
    }
    t->heap[i] = p;
    return 0;
}

static qpkt *q_pop(tcpw_tun *t) {
    qpkt *top = t->heap[0], *last = t->heap[--t->qlen];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const qpkt *mp = last;
        if (l < t->qlen && q_before(t->heap[l], mp)) m = l, mp = t->heap[l];
        if (r < t->qlen && q_before(t->heap[r], mp)) m = r;
        if (m == i) break;
        t->heap[i] = t->heap[m];
        i = m;
    }
    if (t->qlen) t->heap[i] = last;
    return top;
}

size_t tcpw_tun_queued(const tcpw_tun *t) {
    return t->qlen;
}

/* ---- moving packets
 * ------------------------------------------------------------------------------ */

static void device_write(tcpw_tun *t, const uint8_t *pkt, size_t len) {
    pcap_write(t, pkt, len);
    ssize_t n;
    do {
        n = write(t->cfg.fd, pkt, len);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) {
        t->st.pkts_written++;
        t->st.bytes_written += len;
    } else {
        t->st.write_errors++;
    }
}

static void deliver(tcpw_tun *t, const uint8_t *pkt, size_t len, tcpw_tun_dir dir) {
    if (dir == TCPW_TUN_FROM_ENGINE)
        device_write(t, pkt, len);
    else
        tcpw_input(t->stack, pkt, len, t->now);
}

/* Sends a packet down the (possibly impaired) path in direction dir, now. */
static void path_send(tcpw_tun *t, const uint8_t *pkt, size_t len, tcpw_tun_dir dir) {
    const tcpw_tun_impair *im = &t->cfg.impair;
    bool impaired = t->impair_any && (dir == TCPW_TUN_TO_ENGINE ? im->in : im->out);
    tcpw_seg_fate fate = TCPW_FATE_DELIVERED;
    uint64_t arrive = t->now;
    bool dup = false;
    if (impaired) {
        /* three draws per packet, always in this order, as the simulator does */
        double r_loss = tcpw_prng_double(&t->rng);
        double r_dup = tcpw_prng_double(&t->rng);
        double r_reorder = tcpw_prng_double(&t->rng);
        arrive += im->delay_us;
        if (r_loss < im->loss) {
            fate = TCPW_FATE_DROPPED;
            t->st.dropped++;
        } else {
            if (r_reorder < im->reorder) {
                uint64_t extra = im->reorder_delay_us;
                if (extra == 0) extra = im->delay_us > 1000 ? im->delay_us : 1000;
                arrive += extra;
                fate = TCPW_FATE_REORDERED;
                t->st.reordered++;
            }
            if (r_dup < im->dup) {
                dup = true;
                fate = TCPW_FATE_DUPLICATED;
                t->st.duplicated++;
            }
        }
    }
    if (t->cfg.packet) t->cfg.packet(t->cfg.user, pkt, len, dir, t->now, arrive, fate);
    if (fate == TCPW_FATE_DROPPED) return;
    for (int copy = 0; copy < (dup ? 2 : 1); copy++) {
        if (arrive <= t->now) {
            deliver(t, pkt, len, dir);
        } else if (q_push(t, pkt, len, dir, arrive) != 0) {
            t->st.dropped++; /* out of memory: the packet is lost, as on a congested link */
        }
    }
}

static void engine_output(void *user, const uint8_t *pkt, size_t len) {
    tcpw_tun *t = user;
    path_send(t, pkt, len, TCPW_TUN_FROM_ENGINE);
}

static void engine_trace(void *user, const tcpw_trace *ev) {
    tcpw_tun *t = user;
    if (t->cfg.trace) t->cfg.trace(t->cfg.user, ev);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static bool all_zero(const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

int tcpw_tun_new(const tcpw_tun_config *cfg, tcpw_tun **out, char *err, size_t errlen) {
    const tcpw_tun_impair *im = &cfg->impair;
    if (cfg->fd < 0 || im->loss < 0 || im->loss > 1 || im->dup < 0 || im->dup > 1 ||
        im->reorder < 0 || im->reorder > 1) {
        snprintf(err, errlen, "bad TUN driver settings");
        return -1;
    }
    tcpw_tun *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->cfg = *cfg;
    t->impair_any = im->loss > 0 || im->dup > 0 || im->reorder > 0 || im->delay_us > 0;
    tcpw_prng_seed(&t->rng, im->seed);
    tcpw_config sc = cfg->stack;
    sc.user = t;
    sc.output = engine_output;
    sc.trace = engine_trace;
    if (!sc.alloc || !sc.free) tcpw_config_use_libc(&sc);
    if (all_zero(sc.secret, sizeof sc.secret) &&
        getrandom(sc.secret, sizeof sc.secret, 0) != (ssize_t)sizeof sc.secret) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        free(t);
        return -1;
    }
    int rc = tcpw_stack_new(&sc, &t->stack);
    if (rc != TCPW_OK) {
        snprintf(err, errlen, "engine settings rejected: %s", tcpw_strerror(rc));
        free(t);
        return -1;
    }
    if (cfg->pcap_path) {
        t->pcap = pcap_open_dead(DLT_RAW, TUN_MTU_MAX);
        t->dumper = t->pcap ? pcap_dump_open(t->pcap, cfg->pcap_path) : NULL;
        if (!t->dumper) {
            snprintf(err, errlen, "pcap %s: %s", cfg->pcap_path,
                     t->pcap ? pcap_geterr(t->pcap) : "cannot create a capture handle");
            tcpw_tun_free(t);
            return -1;
        }
    }
    t->now = tcpw_tun_clock();
    *out = t;
    return 0;
}

void tcpw_tun_free(tcpw_tun *t) {
    if (!t) return;
    tcpw_stack_free(t->stack);
    while (t->qlen)
        free(q_pop(t));
    free(t->heap);
    if (t->dumper) {
        pcap_dump_flush(t->dumper);
        pcap_dump_close(t->dumper);
    }
    if (t->pcap) pcap_close(t->pcap);
    free(t);
}

tcpw_stack *tcpw_tun_stack(tcpw_tun *t) {
    return t->stack;
}

const tcpw_tun_stats *tcpw_tun_get_stats(const tcpw_tun *t) {
    return &t->st;
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void run_due(tcpw_tun *t) {
    tick_clock(t);
    while (t->qlen && t->heap[0]->due <= t->now) {
        qpkt *p = q_pop(t);
        deliver(t, p->data, p->len, p->dir);
        free(p);
    }
    if (tcpw_next_deadline(t->stack) <= t->now) tcpw_tick(t->stack, t->now);
}

int tcpw_tun_run_once(tcpw_tun *t, uint64_t wake_at) {
    tick_clock(t);
    uint64_t wake = wake_at;
    uint64_t d = tcpw_next_deadline(t->stack);
    if (d < wake) wake = d;
    if (t->qlen && t->heap[0]->due < wake) wake = t->heap[0]->due;

    struct pollfd pfd = {.fd = t->cfg.fd, .events = POLLIN, .revents = 0};
    struct timespec ts, *tsp = NULL;
    if (wake != UINT64_MAX) {
        uint64_t wait = wake > t->now ? wake - t->now : 0;
        ts.tv_sec = (time_t)(wait / 1000000u);
        ts.tv_nsec = (long)(wait % 1000000u) * 1000;
        tsp = &ts;
    }
    int n = ppoll(&pfd, 1, tsp, t->cfg.sigmask);
    t->st.wakeups++;
    if (n < 0 && errno != EINTR) return -1;
    if (n > 0 && (pfd.revents & (POLLERR | POLLNVAL))) {
        errno = EIO;
        return -1;
    }
    tick_clock(t);
    if (n > 0 && (pfd.revents & POLLIN)) {
        for (int i = 0; i < TCPW_TUN_BATCH; i++) {
            ssize_t r = read(t->cfg.fd, t->buf, sizeof t->buf);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                return -1;
            }
            if (r == 0) break;
            t->st.pkts_read++;
            t->st.bytes_read += (uint64_t)r;
            pcap_write(t, t->buf, (size_t)r);
            tick_clock(t);
            path_send(t, t->buf, (size_t)r, TCPW_TUN_TO_ENGINE);
        }
    }
    run_due(t);
    return 0;
}
