/* bench_analyze.c — packets per second of `tcpwave analyze`'s summary on one core: writes a
 * large synthetic capture (many short HTTP-like connections: handshake, request, response,
 * four-way close; Ethernet framing), then times reading + inference + the JSON summary of
 * it, keep_packets off as for the summary. Not a test: it prints a number.
 *
 *   bench_analyze [CONNECTIONS]     default 100000 connections (1.1 M packets)
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "analyze/capture.h"
#include "analyze/report.h"
#include "core/wire.h"

static void rec(FILE *f, uint64_t t, const uint8_t *frame, size_t n) {
    uint32_t h[4] = {(uint32_t)(t / 1000000), (uint32_t)(t % 1000000), (uint32_t)n, (uint32_t)n};
    fwrite(h, sizeof h, 1, f);
    fwrite(frame, n, 1, f);
}

static void seg(FILE *f, uint64_t *t, uint32_t conn, bool c2s, uint8_t flags, uint32_t seq,
                uint32_t ack, size_t len) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    tcpw_endpoint cl = {
        .addr = tcpw_addr_v4(10, (uint8_t)(conn >> 16), (uint8_t)(conn >> 8), (uint8_t)conn),
        .port = (uint16_t)(1024 + conn % 60000)};
    tcpw_endpoint sv = {.addr = tcpw_addr_v4(10, 255, 0, 1), .port = 80};
    o.src = c2s ? cl : sv;
    o.dst = c2s ? sv : cl;
    o.seq = seq, o.ack = ack, o.flags = flags, o.win = 65535;
    uint8_t fr[1600];
    memset(fr, 2, 12);
    fr[12] = 0x08, fr[13] = 0x00;
    size_t hl = tcpw_build_headers(fr + 14, sizeof fr - 14, &o, len);
    memset(fr + 14 + hl, 'x', len);
    tcpw_finish_checksums(fr + 14, hl + len);
    *t += 7;
    rec(f, *t, fr, 14 + hl + len);
}

int main(int argc, char **argv) {
    long nconn = argc > 1 ? atol(argv[1]) : 100000;
    char path[] = "/tmp/tcpw-bench-an-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    FILE *f = fdopen(fd, "wb");
    uint32_t gh[6] = {0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 1};
    fwrite(gh, sizeof gh, 1, f);
    uint64_t t = 1700000000ull * 1000000u, npk = 0;
    for (long i = 0; i < nconn; i++) {
        uint32_t c = (uint32_t)i, ci = 1000u + c * 7u, si = 50000u + c * 13u;
        seg(f, &t, c, true, TCPW_SYN, ci, 0, 0);
        seg(f, &t, c, false, TCPW_SYN | TCPW_ACK, si, ci + 1, 0);
        seg(f, &t, c, true, TCPW_ACK, ci + 1, si + 1, 0);
        seg(f, &t, c, true, TCPW_ACK | TCPW_PSH, ci + 1, si + 1, 100);
        seg(f, &t, c, false, TCPW_ACK, si + 1, ci + 101, 0);
        seg(f, &t, c, false, TCPW_ACK | TCPW_PSH, si + 1, ci + 101, 500);
        seg(f, &t, c, true, TCPW_ACK, ci + 101, si + 501, 0);
        seg(f, &t, c, true, TCPW_FIN | TCPW_ACK, ci + 101, si + 501, 0);
        seg(f, &t, c, false, TCPW_ACK, si + 501, ci + 102, 0);
        seg(f, &t, c, false, TCPW_FIN | TCPW_ACK, si + 501, ci + 102, 0);
        seg(f, &t, c, true, TCPW_ACK, ci + 102, si + 502, 0);
        npk += 11;
    }
    fclose(f);
    tcpw_an_config cfg;
    tcpw_an_config_default(&cfg);
    cfg.keep_packets = false;
    struct timespec a0, a1;
    clock_gettime(CLOCK_MONOTONIC, &a0);
    tcpw_analyzer *a = tcpw_an_new(&cfg);
    tcpw_an_read_result r;
    tcpw_an_read_file(a, path, NULL, NULL, NULL, &r);
    tcpw_an_finish(a);
    FILE *sink = fopen("/dev/null", "w");
    tcpw_an_report_opts o = {.name = path};
    tcpw_an_report_json(sink, a, &o);
    fclose(sink);
    clock_gettime(CLOCK_MONOTONIC, &a1);
    double s = (double)(a1.tv_sec - a0.tv_sec) + (double)(a1.tv_nsec - a0.tv_nsec) / 1e9;
    printf("analyze summary: %llu packets, %zu connections in %.3f s: %.2f M packets/s\n",
           (unsigned long long)npk, tcpw_an_conn_count(a), s, (double)npk / s / 1e6);
    tcpw_an_free(a);
    unlink(path);
    return r.status == TCPW_AN_EXIT_OK ? 0 : 1;
}
