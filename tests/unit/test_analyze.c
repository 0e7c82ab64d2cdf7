/* test_analyze.c — the capture analyzer on captures built here: every link type it decodes,
 * the seeds' numbers (Wireshark's relative Seq/Ack of the close), close patterns and final
 * states, the bad inputs of docs/analyze.md with their exit codes, and a fuzz loop that
 * mutates a valid capture and runs the whole analyzer on it in-process (it must never crash;
 * ASan/UBSan builds check the rest). Randomized parts print their seed on failure.
 */
#define _DEFAULT_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "analyze/capture.h"
#include "analyze/linklayer.h"
#include "analyze/report.h"
#include "core/wire.h"
#include "sim/scenario.h"
#include "test.h"

/* ---- building captures ---------------------------------------------------------------------- */

typedef struct cap {
    int dlt;
    uint8_t *buf;
    size_t len, cap;
    uint64_t t;
} cap;

static void put(cap *c, const void *p, size_t n) {
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2 + 1024;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

static void put32(cap *c, uint32_t v) {
    put(c, &v, 4); /* host order, as pcap files written on this host are */
}

static void cap_init(cap *c, int linktype) {
    memset(c, 0, sizeof *c);
    c->dlt = linktype;
    put32(c, 0xa1b2c3d4);
    uint16_t v[2] = {2, 4};
    put(c, v, 4);
    put32(c, 0);
    put32(c, 0);
    put32(c, 65535);
    put32(c, (uint32_t)linktype);
}

static void cap_frame(cap *c, const uint8_t *f, size_t n) {
    c->t += 1000;
    put32(c, (uint32_t)(c->t / 1000000));
    put32(c, (uint32_t)(c->t % 1000000));
    put32(c, (uint32_t)n);
    put32(c, (uint32_t)n);
    put(c, f, n);
}

/* One TCP segment between 10.0.0.1:40000 (client) and 10.0.0.2:80, framed for c->dlt. */
static void cap_seg(cap *c, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, size_t len,
                    int v6) {
    tcpw_segment_out o;
    memset(&o, 0, sizeof o);
    tcpw_endpoint cl = {.port = 40000}, sv = {.port = 80};
    if (v6) {
        cl.addr.family = sv.addr.family = 6;
        cl.addr.ip[0] = sv.addr.ip[0] = 0xfd;
        cl.addr.ip[15] = 1;
        sv.addr.ip[15] = 2;
    } else {
        cl.addr = tcpw_addr_v4(10, 0, 0, 1);
        sv.addr = tcpw_addr_v4(10, 0, 0, 2);
    }
    o.src = from_client ? cl : sv;
    o.dst = from_client ? sv : cl;
    o.seq = seq;
    o.ack = ack;
    o.flags = flags;
    o.win = 65535;
    uint8_t ip[2000];
    size_t hl = tcpw_build_headers(ip, sizeof ip, &o, len);
    memset(ip + hl, 'x', len);
    tcpw_finish_checksums(ip, hl + len);
    size_t n = hl + len;
    uint8_t f[2100];
    size_t off = 0;
    uint16_t et = v6 ? 0x86dd : 0x0800;
    switch (c->dlt) {
    case DLT_EN10MB:
        memset(f, 0x02, 12);
        f[12] = 0x81, f[13] = 0x00, f[14] = 0, f[15] = 7; /* a VLAN tag */
        f[16] = (uint8_t)(et >> 8), f[17] = (uint8_t)et;
        off = 18;
        break;
    case DLT_LINUX_SLL:
        memset(f, 0, 16);
        f[14] = (uint8_t)(et >> 8), f[15] = (uint8_t)et;
        off = 16;
        break;
    case 276: /* LINKTYPE_LINUX_SLL2 */
        memset(f, 0, 20);
        f[0] = (uint8_t)(et >> 8), f[1] = (uint8_t)et;
        off = 20;
        break;
    case DLT_NULL: {
        uint32_t fam = v6 ? 30 : 2;
        memcpy(f, &fam, 4);
        off = 4;
        break;
    }
    default: off = 0; break; /* raw */
    }
    memcpy(f + off, ip, n);
    cap_frame(c, f, off + n);
}

/* The seeds' close: the client sent 160 bytes, the server 733; the client closes first. */
static void seeds_close(cap *c, int v6) {
    uint32_t ci = 1000, si = 5000;
    cap_seg(c, true, TCPW_SYN, ci, 0, 0, v6);
    cap_seg(c, false, TCPW_SYN | TCPW_ACK, si, ci + 1, 0, v6);
    cap_seg(c, true, TCPW_ACK, ci + 1, si + 1, 0, v6);
    cap_seg(c, true, TCPW_ACK | TCPW_PSH, ci + 1, si + 1, 160, v6);
    cap_seg(c, false, TCPW_ACK | TCPW_PSH, si + 1, ci + 161, 733, v6);
    cap_seg(c, true, TCPW_ACK, ci + 161, si + 734, 0, v6);
    cap_seg(c, true, TCPW_FIN | TCPW_ACK, ci + 161, si + 734, 0, v6);  /* Seq=161 Ack=734 */
    cap_seg(c, false, TCPW_ACK, si + 734, ci + 162, 0, v6);            /* Seq=734 Ack=162 */
    cap_seg(c, false, TCPW_FIN | TCPW_ACK, si + 734, ci + 162, 0, v6); /* Seq=734 Ack=162 */
    cap_seg(c, true, TCPW_ACK, ci + 162, si + 735, 0, v6);             /* Seq=162 Ack=735 */
}

static tcpw_analyzer *analyse(const cap *c, int *status) {
    tcpw_analyzer *a = tcpw_an_new(NULL);
    tcpw_an_read_result r;
    *status = tcpw_an_read_mem(a, c->buf, c->len, NULL, &r);
    tcpw_an_finish(a);
    return a;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_seeds_numbers_every_link_type(void) {
    const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_RAW, 101, DLT_NULL};
    for (size_t d = 0; d < sizeof dlts / sizeof dlts[0]; d++)
        for (int v6 = 0; v6 < 2; v6++) {
            cap c;
            cap_init(&c, dlts[d]);
            seeds_close(&c, v6);
            int st;
            tcpw_analyzer *a = analyse(&c, &st);
            CHECK_EQ_U(st, TCPW_AN_EXIT_OK);
            REQUIRE(tcpw_an_conn_count(a) == 1);
            const tcpw_an_conn *k = tcpw_an_conn_get(a, 0);
            REQUIRE(k->npkt == 10);
            const tcpw_an_pkt *fin = &k->pkt[6];
            CHECK_EQ_U(tcpw_an_rel_seq(k, fin), 161);
            CHECK_EQ_U(tcpw_an_rel_ack(k, fin), 734);
            CHECK_EQ_U(tcpw_an_rel_seq(k, &k->pkt[7]), 734);
            CHECK_EQ_U(tcpw_an_rel_ack(k, &k->pkt[7]), 162);
            CHECK_EQ_U(tcpw_an_rel_ack(k, &k->pkt[9]), 735);
            /* the seeds' states: 1st wave FIN_WAIT_1 / CLOSE_WAIT, 2nd FIN_WAIT_2, 3rd
             * TIME_WAIT / LAST_ACK, 4th CLOSED */
            CHECK_EQ_U(fin->st[0], TCPW_FIN_WAIT_1);
            CHECK_EQ_U(fin->st[1], TCPW_CLOSE_WAIT);
            CHECK_EQ_U(k->pkt[7].st[0], TCPW_FIN_WAIT_2);
            CHECK_EQ_U(k->pkt[8].st[0], TCPW_TIME_WAIT);
            CHECK_EQ_U(k->pkt[8].st[1], TCPW_LAST_ACK);
            CHECK_EQ_U(k->pkt[9].st[1], TCPW_CLOSED);
            CHECK_EQ_U(k->close, TCPW_AN_CLOSE_FOUR_WAY);
            CHECK_EQ_U(k->closed_first_by, 0);
            CHECK_EQ_U(k->final[0], TCPW_TIME_WAIT);
            CHECK_EQ_U(k->final[1], TCPW_CLOSED);
            CHECK_STR(k->zeek_state, "SF");
            CHECK_STR(k->zeek_history, "ShADdFaf");
            CHECK_EQ_U(k->ep[0].port, 40000);
            tcpw_an_free(a);
            free(c.buf);
        }
}

static void test_patterns(void) {
    struct {
        const char *name;
        tcpw_an_close close;
        int first;
        tcpw_state fc, fs;
    } want[] = {
        {"four-way", TCPW_AN_CLOSE_FOUR_WAY, 0, TCPW_TIME_WAIT, TCPW_CLOSED},
        {"server-first", TCPW_AN_CLOSE_FOUR_WAY, 1, TCPW_CLOSED, TCPW_TIME_WAIT},
        {"half-close", TCPW_AN_CLOSE_HALF, 0, TCPW_TIME_WAIT, TCPW_CLOSED},
        {"three-way-close", TCPW_AN_CLOSE_THREE_SEGMENT, 0, TCPW_TIME_WAIT, TCPW_CLOSED},
        {"simultaneous-close", TCPW_AN_CLOSE_SIMULTANEOUS, 2, TCPW_TIME_WAIT, TCPW_TIME_WAIT},
        {"abort", TCPW_AN_CLOSE_RST, 0, TCPW_CLOSED, TCPW_CLOSED},
        {"rst-on-unread-data", TCPW_AN_CLOSE_RST, 1, TCPW_CLOSED, TCPW_CLOSED},
        {"close-wait-leak", TCPW_AN_CLOSE_HALF, 0, TCPW_FIN_WAIT_2, TCPW_CLOSE_WAIT},
        {"lost-last-ack", TCPW_AN_CLOSE_FOUR_WAY, 0, TCPW_TIME_WAIT, TCPW_CLOSED},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[] = "/tmp/tcpw-an-pat-XXXXXX";
        int fd = mkstemp(path);
        REQUIRE(fd >= 0);
        close(fd);
        tcpw_scn_options o;
        tcpw_scn_options_init(&o);
        o.set |= TCPW_SCN_OPT_PCAP;
        o.pcap_path = path;
        tcpw_scn_result res;
        CHECK(tcpw_scn_run_named(want[i].name, &o, &res) == TCPW_OK);
        tcpw_scn_result_free(&res);
        tcpw_an_config cfg;
        tcpw_an_config_default(&cfg);
        cfg.rfc1337 = true;
        tcpw_analyzer *a = tcpw_an_new(&cfg);
        tcpw_an_read_result rr;
        CHECK_EQ_U(tcpw_an_read_file(a, path, NULL, NULL, NULL, &rr), TCPW_AN_EXIT_OK);
        tcpw_an_finish(a);
        unlink(path);
        if (tcpw_an_conn_count(a) < 1) {
            CHECK(tcpw_an_conn_count(a) >= 1);
            tcpw_an_free(a);
            continue;
        }
        const tcpw_an_conn *k = tcpw_an_conn_get(a, 0);
        if (k->close != want[i].close || k->closed_first_by != want[i].first ||
            k->final[0] != want[i].fc || k->final[1] != want[i].fs)
            fprintf(stderr, "%s: close %s first %s final %s/%s\n", want[i].name,
                    tcpw_an_close_name(k->close), tcpw_an_side_name(k->closed_first_by),
                    tcpw_state_name(k->final[0]), tcpw_state_name(k->final[1]));
        CHECK_EQ_U(k->close, want[i].close);
        CHECK_EQ_U((unsigned)(k->closed_first_by + 1), (unsigned)(want[i].first + 1));
        CHECK_EQ_U(k->final[0], want[i].fc);
        CHECK_EQ_U(k->final[1], want[i].fs);
        if (!strcmp(want[i].name, "rst-on-unread-data")) {
            bool named = false;
            for (size_t j = 0; j < k->nanom; j++)
                if (k->anom[j].rule == TCPW_AN_RULE_RST_UNREAD_DATA) named = true;
            CHECK(named);
        }
        if (!strcmp(want[i].name, "half-close")) CHECK_EQ_U(k->half_bytes, 5000);
        tcpw_an_free(a);
    }
}

static void test_port_reuse_and_2msl(void) {
    cap c;
    cap_init(&c, DLT_RAW);
    seeds_close(&c, 0);
    /* the same 4-tuple again right away: a new connection, within 2MSL of the client's
     * TIME_WAIT */
    cap_seg(&c, true, TCPW_SYN, 900000, 0, 0, 0);
    cap_seg(&c, false, TCPW_SYN | TCPW_ACK, 77, 900001, 0, 0);
    int st;
    tcpw_analyzer *a = analyse(&c, &st);
    REQUIRE(tcpw_an_conn_count(a) == 2);
    const tcpw_an_conn *k = tcpw_an_conn_get(a, 1);
    CHECK_EQ_U(k->npkt, 2);
    CHECK_EQ_U(k->nanom, 1);
    if (k->nanom) CHECK_EQ_U(k->anom[0].rule, TCPW_AN_RULE_SYN_IN_2MSL);
    CHECK_EQ_U(tcpw_an_conn_get(a, 0)->final[0], TCPW_CLOSED); /* reopened */
    tcpw_an_free(a);
    free(c.buf);
}

static void test_midstream_and_anomalies(void) {
    cap c;
    cap_init(&c, DLT_RAW);
    /* no SYN: data both ways, then the server sends data after its own FIN */
    cap_seg(&c, true, TCPW_ACK, 100, 500, 10, 0);
    cap_seg(&c, false, TCPW_ACK, 500, 110, 20, 0);
    cap_seg(&c, false, TCPW_FIN | TCPW_ACK, 520, 110, 0, 0);
    cap_seg(&c, false, TCPW_ACK, 521, 110, 5, 0);
    cap_seg(&c, true, TCPW_RST, 110, 0, 0, 0);
    int st;
    tcpw_analyzer *a = analyse(&c, &st);
    REQUIRE(tcpw_an_conn_count(a) == 1);
    const tcpw_an_conn *k = tcpw_an_conn_get(a, 0);
    CHECK_EQ_U(k->opened_by + 1, 0);
    CHECK_EQ_U(k->pkt[0].why[0], TCPW_AN_WHY_MIDSTREAM);
    CHECK_EQ_U(k->close, TCPW_AN_CLOSE_RST);
    CHECK_EQ_U(k->rst_by, 0);
    bool daf = false, raf = false;
    for (size_t i = 0; i < k->nanom; i++) {
        daf |= k->anom[i].rule == TCPW_AN_RULE_DATA_AFTER_FIN;
        raf |= k->anom[i].rule == TCPW_AN_RULE_RST_AFTER_FIN;
    }
    CHECK(daf);
    CHECK(raf);
    CHECK_STR(k->zeek_state, "RSTO");
    tcpw_an_free(a);
    free(c.buf);
}

static void test_bad_input(void) {
    tcpw_an_read_result r;
    tcpw_analyzer *a = tcpw_an_new(NULL);
    /* empty */
    CHECK_EQ_U(tcpw_an_read_mem(a, (const uint8_t *)"", 0, NULL, &r), TCPW_AN_EXIT_UNREADABLE);
    CHECK(strstr(r.message, "empty") != NULL);
    /* wrong magic */
    uint8_t junk[64];
    memset(junk, 'J', sizeof junk);
    CHECK_EQ_U(tcpw_an_read_mem(a, junk, sizeof junk, NULL, &r), TCPW_AN_EXIT_UNREADABLE);
    CHECK(strstr(r.message, "not a pcap") != NULL);
    tcpw_an_free(a);

    /* truncated in the middle of record 8: the 7 before it are analysed */
    cap c;
    cap_init(&c, DLT_RAW);
    seeds_close(&c, 0);
    size_t cut = c.len - 70;
    a = tcpw_an_new(NULL);
    CHECK_EQ_U(tcpw_an_read_mem(a, c.buf, cut, NULL, &r), TCPW_AN_EXIT_DAMAGED);
    CHECK(r.bad_record >= 8);
    CHECK(strstr(r.message, "record") != NULL);
    tcpw_an_finish(a);
    CHECK_EQ_U(tcpw_an_get_totals(a)->tcp, r.bad_record - 1);
    tcpw_an_free(a);

    /* a malformed TCP header (data offset 3) in record 2: skipped and named */
    size_t rec2 = 24 + 16 + (c.buf[24 + 8] | c.buf[24 + 9] << 8); /* after record 1 */
    uint8_t *ip2 = c.buf + rec2 + 16;
    ip2[20 + 12] = 0x30;
    a = tcpw_an_new(NULL);
    CHECK_EQ_U(tcpw_an_read_mem(a, c.buf, c.len, NULL, &r), TCPW_AN_EXIT_DAMAGED);
    CHECK_EQ_U(r.bad_record, 2);
    CHECK(strstr(r.message, "data offset") != NULL);
    tcpw_an_free(a);
    free(c.buf);

    /* no TCP at all: one UDP-ish IPv4 packet */
    cap_init(&c, DLT_RAW);
    uint8_t udp[28] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
    cap_frame(&c, udp, sizeof udp);
    a = tcpw_an_new(NULL);
    CHECK_EQ_U(tcpw_an_read_mem(a, c.buf, c.len, NULL, &r), TCPW_AN_EXIT_NO_TCP);
    tcpw_an_free(a);
    free(c.buf);

    /* a filter that does not compile */
    cap_init(&c, DLT_RAW);
    seeds_close(&c, 0);
    a = tcpw_an_new(NULL);
    CHECK_EQ_U(tcpw_an_read_mem(a, c.buf, c.len, "port port", &r), TCPW_AN_EXIT_USAGE);
    tcpw_an_free(a);
    /* a filter that keeps nothing */
    a = tcpw_an_new(NULL);
    CHECK_EQ_U(tcpw_an_read_mem(a, c.buf, c.len, "port 81", &r), TCPW_AN_EXIT_NO_TCP);
    tcpw_an_free(a);
    free(c.buf);
}

/* Mutates a valid capture at random and runs read + inference + every output on it. */
static void test_fuzz(void) {
    cap base;
    cap_init(&base, DLT_EN10MB);
    seeds_close(&base, 0);
    seeds_close(&base, 1);
    uint64_t seed = 0x7cb1u;
    FILE *sink = fopen("/dev/null", "w");
    REQUIRE(sink);
    for (int iter = 0; iter < 3000; iter++) {
        uint64_t s = seed + (uint64_t)iter;
        uint8_t *b = malloc(base.len);
        memcpy(b, base.buf, base.len);
        uint64_t x = s * 6364136223846793005ull + 1442695040888963407ull;
        int nmut = 1 + (int)(x % 8);
        size_t len = base.len;
        for (int m = 0; m < nmut; m++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(x >> 33) % len;
            switch ((x >> 8) % 4) {
            case 0: b[pos] ^= (uint8_t)(1u << ((x >> 20) % 8)); break;
            case 1: b[pos] = (uint8_t)(x >> 40); break;
            case 2:
                if (pos > 24) len = pos;
                break; /* truncate */
            default: b[pos] = 0xff; break;
            }
        }
        tcpw_analyzer *a = tcpw_an_new(NULL);
        tcpw_an_read_result r;
        tcpw_an_read_mem(a, b, len, NULL, &r);
        tcpw_an_finish(a);
        tcpw_an_report_opts o = {.name = "fuzz", .packets = true};
        tcpw_an_report_text(sink, a, &o);
        tcpw_an_report_json(sink, a, &o);
        for (size_t i = 0; i < tcpw_an_conn_count(a); i++) {
            tcpw_recording rec;
            tcpw_rec_init(&rec, NULL, NULL);
            tcpw_an_conn_recording(tcpw_an_conn_get(a, i), &rec);
            tcpw_rec_free(&rec);
        }
        tcpw_an_free(a);
        free(b);
    }
    fclose(sink);
    free(base.buf);
}

int main(void) {
    RUN(test_seeds_numbers_every_link_type);
    RUN(test_patterns);
    RUN(test_port_reuse_and_2msl);
    RUN(test_midstream_and_anomalies);
    RUN(test_bad_input);
    RUN(test_fuzz);
    return test_summary();
}
