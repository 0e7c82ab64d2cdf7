/* test_tun.c — unit tests of the TUN driver (src/tun/tun.c) and of the per-connection
 * recorder (src/tun/tun_trace.c) that need neither root nor /dev/net/tun: the driver runs on a
 * SOCK_SEQPACKET socket pair, which keeps packet boundaries as a TUN descriptor does, and the
 * recorder is fed packets and engine traces by hand. (The real device is exercised by the
 * interop tests, tests/interop_*.sh.) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/wire.h"
#include "test.h"
#include "tun/tun.h"
#include "tun/tun_trace.h"

static const tcpw_endpoint kernel_ep = {{4, {198, 18, 0, 1}}, 40000};
static const tcpw_endpoint tcpwave_ep = {{4, {198, 18, 0, 2}}, 80};

/* Builds a segment from -> to into buf; returns its length. */
static size_t build(uint8_t *buf, const tcpw_endpoint *from, const tcpw_endpoint *to, uint8_t flags,
                    uint32_t seq, uint32_t ack, uint32_t len) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    o.src = *from;
    o.dst = *to;
    o.seq = seq;
    o.ack = ack;
    o.flags = flags;
    o.win = 65535;
    if (flags & TCPW_SYN) {
        o.opts.has_mss = true;
        o.opts.mss = 1460;
    }
    size_t hl = tcpw_build_headers(buf, 2048, &o, len);
    memset(buf + hl, 'x', len);
    tcpw_finish_checksums(buf, hl + len);
    return hl + len;
}

typedef struct seen {
    int packets, dropped;
} seen;

static void count_packet(void *user, const uint8_t *pkt, size_t len, tcpw_tun_dir dir, uint64_t t,
                         uint64_t arrive, tcpw_seg_fate fate) {
    (void)pkt, (void)len, (void)dir, (void)t, (void)arrive;
    seen *s = user;
    s->packets++;
    if (fate == TCPW_FATE_DROPPED) s->dropped++;
}

/* A driver on a socket pair: sv[0] is "the device", sv[1] the kernel's end. */
static tcpw_tun *driver(int sv[2], const tcpw_tun_impair *im, seen *s) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) != 0) return NULL;
    tcpw_tun_config tc;
    tcpw_tun_config_default(&tc);
    tc.fd = sv[0];
    if (im) tc.impair = *im;
    tc.packet = count_packet;
    tc.user = s;
    char err[128];
    tcpw_tun *t = NULL;
    if (tcpw_tun_new(&tc, &t, err, sizeof err) != 0) return NULL;
    tcpw_conn *l;
    tcpw_endpoint any;
    memset(&any, 0, sizeof any);
    any.port = 80;
    if (tcpw_listen(tcpw_tun_stack(t), &any, 8, &l) != TCPW_OK) return NULL;
    return t;
}

/* Runs rounds until the kernel's end has a packet or `ms` pass; returns its length. */
static ssize_t await(tcpw_tun *t, int fd, uint8_t *buf, uint64_t ms) {
    uint64_t end = tcpw_tun_clock() + ms * 1000;
    while (tcpw_tun_clock() < end) {
        ssize_t n = read(fd, buf, 2048);
        if (n > 0) return n;
        tcpw_tun_run_once(t, tcpw_tun_clock() + 2000);
    }
    return -1;
}

static void test_driver_answers_syn(void) {
    int sv[2];
    seen s = {0, 0};
    tcpw_tun *t = driver(sv, NULL, &s);
    REQUIRE(t != NULL);
    uint8_t buf[2048];
    size_t n = build(buf, &kernel_ep, &tcpwave_ep, TCPW_SYN, 1000, 0, 0);
    REQUIRE(write(sv[1], buf, n) == (ssize_t)n);
    ssize_t got = await(t, sv[1], buf, 1000);
    REQUIRE(got > 0);
    tcpw_packet p;
    REQUIRE(tcpw_parse(buf, (size_t)got, 0, &p) == TCPW_WIRE_OK);
    CHECK_EQ_U(p.flags & (TCPW_SYN | TCPW_ACK | TCPW_RST), TCPW_SYN | TCPW_ACK);
    CHECK_EQ_U(p.ack, 1001);
    CHECK_EQ_U(p.dst.port, 40000);
    CHECK(p.opts.has_mss);
    const tcpw_tun_stats *st = tcpw_tun_get_stats(t);
    CHECK_EQ_U(st->pkts_read, 1);
    CHECK_EQ_U(st->pkts_written, 1);
    CHECK_EQ_U(s.packets, 2);
    /* a segment for a port with no listener is refused: <SEQ=0><ACK=SEG.SEQ+1><RST,ACK> */
    tcpw_endpoint other = tcpwave_ep;
    other.port = 81;
    n = build(buf, &kernel_ep, &other, TCPW_SYN, 5000, 0, 0);
    REQUIRE(write(sv[1], buf, n) == (ssize_t)n);
    got = await(t, sv[1], buf, 1000);
    REQUIRE(got > 0);
    REQUIRE(tcpw_parse(buf, (size_t)got, 0, &p) == TCPW_WIRE_OK);
    CHECK_EQ_U(p.flags, TCPW_RST | TCPW_ACK);
    CHECK_EQ_U(p.seq, 0);
    CHECK_EQ_U(p.ack, 5001);
    tcpw_tun_free(t);
    close(sv[0]);
    close(sv[1]);
}

static void test_driver_loss_drops_everything(void) {
    int sv[2];
    seen s = {0, 0};
    tcpw_tun_impair im;
    memset(&im, 0, sizeof im);
    im.loss = 1.0;
    im.in = im.out = true;
    tcpw_tun *t = driver(sv, &im, &s);
    REQUIRE(t != NULL);
    uint8_t buf[2048];
    size_t n = build(buf, &kernel_ep, &tcpwave_ep, TCPW_SYN, 1000, 0, 0);
    REQUIRE(write(sv[1], buf, n) == (ssize_t)n);
    CHECK(await(t, sv[1], buf, 100) < 0); /* the SYN never reached the engine */
    CHECK_EQ_U(tcpw_tun_get_stats(t)->dropped, 1);
    CHECK_EQ_U(tcpw_tun_get_stats(t)->pkts_written, 0);
    CHECK_EQ_U(s.dropped, 1);
    tcpw_tun_free(t);
    close(sv[0]);
    close(sv[1]);
}

static void test_driver_delay_holds_both_ways(void) {
    int sv[2];
    seen s = {0, 0};
    tcpw_tun_impair im;
    memset(&im, 0, sizeof im);
    im.delay_us = 30000;
    im.in = im.out = true;
    tcpw_tun *t = driver(sv, &im, &s);
    REQUIRE(t != NULL);
    uint8_t buf[2048];
    size_t n = build(buf, &kernel_ep, &tcpwave_ep, TCPW_SYN, 1000, 0, 0);
    uint64_t t0 = tcpw_tun_clock();
    REQUIRE(write(sv[1], buf, n) == (ssize_t)n);
    ssize_t got = await(t, sv[1], buf, 2000);
    uint64_t waited = tcpw_tun_clock() - t0;
    REQUIRE(got > 0);
    CHECK(waited >= 60000); /* 30 ms in, 30 ms out */
    tcpw_packet p;
    REQUIRE(tcpw_parse(buf, (size_t)got, 0, &p) == TCPW_WIRE_OK);
    CHECK_EQ_U(p.flags & (TCPW_SYN | TCPW_ACK), TCPW_SYN | TCPW_ACK);
    CHECK_EQ_U(tcpw_tun_queued(t), 0);
    tcpw_tun_free(t);
    close(sv[0]);
    close(sv[1]);
}

/* ---- the recorder ---------------------------------------------------------------------------- */

typedef struct drawn {
    int count;
    char kernel[256], tcpwave[256]; /* each side's states, " "-separated */
    int segs, notes, inferred;
    char title[200];
} drawn;

static void on_draw(void *user, const tcpw_recording *r, const char *title) {
    drawn *d = user;
    d->count++;
    snprintf(d->title, sizeof d->title, "%s", title);
    int ks = strcmp(r->names[0], "kernel") == 0 ? 0 : 1;
    for (size_t i = 0; i < r->count; i++) {
        const tcpw_rec_event *e = &r->ev[i];
        if (e->kind == TCPW_REC_SEG) d->segs++;
        if (e->kind == TCPW_REC_NOTE) d->notes++;
        if (e->kind != TCPW_REC_STATE) continue;
        char *dst = e->side == ks ? d->kernel : d->tcpwave;
        size_t len = strlen(dst);
        snprintf(dst + len, 256 - len, "%s%s", len ? " " : "", tcpw_state_name(e->to));
        if (e->inferred) d->inferred++;
    }
}

static void feed(tcpw_tun_trace *tt, bool from_engine, uint8_t flags, uint32_t seq, uint32_t ack,
                 uint32_t len, uint64_t t) {
    uint8_t buf[2048];
    size_t n = from_engine ? build(buf, &tcpwave_ep, &kernel_ep, flags, seq, ack, len)
                           : build(buf, &kernel_ep, &tcpwave_ep, flags, seq, ack, len);
    tcpw_tun_trace_packet(tt, buf, n, from_engine ? TCPW_TUN_FROM_ENGINE : TCPW_TUN_TO_ENGINE, t, t,
                          TCPW_FATE_DELIVERED);
}

static void state(tcpw_tun_trace *tt, tcpw_state from, tcpw_state to, uint64_t t) {
    tcpw_trace ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = TCPW_TRACE_STATE;
    ev.now = t;
    ev.local = tcpwave_ep;
    ev.remote = kernel_ep;
    ev.from = from;
    ev.to = to;
    ev.cause = TCPW_CAUSE_SEGMENT;
    tcpw_tun_trace_engine(tt, &ev);
}

/* The kernel connects, tcpwave sends `data` segments and closes first. */
static void run_close(tcpw_tun_trace *tt, int data) {
    uint32_t k = 1000, w = 5000;
    uint64_t t = 1000;
    feed(tt, false, TCPW_SYN, k, 0, 0, t++);
    state(tt, TCPW_LISTEN, TCPW_SYN_RCVD, t);
    feed(tt, true, TCPW_SYN | TCPW_ACK, w, k + 1, 0, t++);
    feed(tt, false, TCPW_ACK, k + 1, w + 1, 0, t++);
    state(tt, TCPW_SYN_RCVD, TCPW_ESTABLISHED, t++);
    uint32_t s = w + 1;
    for (int i = 0; i < data; i++, s += 100) {
        feed(tt, true, TCPW_ACK, s, k + 1, 100, t++);
        feed(tt, false, TCPW_ACK, k + 1, s + 100, 0, t++);
    }
    state(tt, TCPW_ESTABLISHED, TCPW_FIN_WAIT_1, t);
    feed(tt, true, TCPW_FIN | TCPW_ACK, s, k + 1, 0, t++);
    feed(tt, false, TCPW_ACK, k + 1, s + 1, 0, t++); /* 2nd wave */
    state(tt, TCPW_FIN_WAIT_1, TCPW_FIN_WAIT_2, t++);
    feed(tt, false, TCPW_FIN | TCPW_ACK, k + 1, s + 1, 0, t++); /* 3rd */
    state(tt, TCPW_FIN_WAIT_2, TCPW_TIME_WAIT, t);
    feed(tt, true, TCPW_ACK, s + 1, k + 2, 0, t++); /* 4th */
}

static void test_trace_four_way_close_both_sides(void) {
    drawn d;
    memset(&d, 0, sizeof d);
    tcpw_tun_trace_config cfg;
    tcpw_tun_trace_config_default(&cfg);
    cfg.mode = TCPW_TUN_TRACE_FULL;
    cfg.quiet_us = 1000;
    cfg.draw = on_draw;
    cfg.user = &d;
    tcpw_tun_trace *tt = tcpw_tun_trace_new(&cfg);
    REQUIRE(tt != NULL);
    run_close(tt, 3);
    tcpw_tun_trace_flush(tt, 1000, false); /* not quiet yet */
    CHECK_EQ_U(d.count, 0);
    tcpw_tun_trace_flush(tt, 100000, false);
    CHECK_EQ_U(d.count, 1);
    CHECK_STR(d.tcpwave, "SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT");
    CHECK_STR(d.kernel, "SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    CHECK_EQ_U(d.inferred, 5);
    CHECK_EQ_U(d.segs, 3 + 6 + 4);
    CHECK(strstr(d.title, "connection 1: kernel 198.18.0.1:40000 -> tcpwave 198.18.0.2:80"));
    CHECK_EQ_U(tcpw_tun_trace_count(tt), 1);
    tcpw_tun_trace_free(tt);
}

static void test_trace_brief_leaves_out_the_middle(void) {
    drawn d;
    memset(&d, 0, sizeof d);
    tcpw_tun_trace_config cfg;
    tcpw_tun_trace_config_default(&cfg);
    cfg.draw = on_draw;
    cfg.user = &d;
    tcpw_tun_trace *tt = tcpw_tun_trace_new(&cfg); /* brief */
    REQUIRE(tt != NULL);
    run_close(tt, 200);
    tcpw_tun_trace_free(tt); /* draws what is open */
    CHECK_EQ_U(d.count, 1);
    CHECK(d.segs < 30);     /* handshake, 8 first, 4 before the FIN, the close */
    CHECK_EQ_U(d.notes, 1); /* "... N segments ... not shown ..." */
    CHECK_STR(d.tcpwave, "SYN_RCVD ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT");
    CHECK_STR(d.kernel, "SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
}

int main(void) {
    RUN(test_driver_answers_syn);
    RUN(test_driver_loss_drops_everything);
    RUN(test_driver_delay_holds_both_ways);
    RUN(test_trace_four_way_close_both_sides);
    RUN(test_trace_brief_leaves_out_the_middle);
    return test_summary();
}
