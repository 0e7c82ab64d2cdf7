/* test_addr.c — unit tests of the address text helpers (src/util/addr.c): parsing and
 * formatting addresses and endpoints, round trips, rejects and buffer limits. */
#include <stdint.h>
#include <string.h>

#include "core/wire.h" /* tcpw_addr_v4, tcpw_addr_equal */
#include "test.h"
#include "util/addr.h"

static void test_addr_parse_v4(void) {
    tcpw_addr a;
    CHECK_EQ_U(tcpw_addr_parse("192.0.2.1", &a), 0);
    CHECK_EQ_U(a.family, 4);
    CHECK(a.ip[0] == 192 && a.ip[1] == 0 && a.ip[2] == 2 && a.ip[3] == 1);
    for (int i = 4; i < 16; i++)
        CHECK_EQ_U(a.ip[i], 0);
    CHECK_EQ_U(tcpw_addr_parse("0.0.0.0", &a), 0);
    CHECK_EQ_U(a.family, 4);
    CHECK_EQ_U(tcpw_addr_parse("255.255.255.255", &a), 0);
    CHECK_EQ_U(a.ip[3], 255);
}

static void test_addr_parse_v6(void) {
    tcpw_addr a;
    CHECK_EQ_U(tcpw_addr_parse("fd00::1", &a), 0);
    CHECK_EQ_U(a.family, 6);
    CHECK(a.ip[0] == 0xfd && a.ip[15] == 1);
    for (int i = 1; i < 15; i++)
        CHECK_EQ_U(a.ip[i], 0);
    CHECK_EQ_U(tcpw_addr_parse("::", &a), 0);
    CHECK_EQ_U(a.family, 6);
    CHECK_EQ_U(tcpw_addr_parse("::1", &a), 0);
    CHECK_EQ_U(a.ip[15], 1);
    CHECK_EQ_U(tcpw_addr_parse("2001:DB8:0:0:0:0:0:FFFF", &a), 0);
    CHECK(a.ip[0] == 0x20 && a.ip[1] == 0x01 && a.ip[2] == 0x0d && a.ip[3] == 0xb8);
    CHECK(a.ip[14] == 0xff && a.ip[15] == 0xff);
    /* IPv4-mapped is an IPv6 address. */
    CHECK_EQ_U(tcpw_addr_parse("::ffff:192.0.2.1", &a), 0);
    CHECK_EQ_U(a.family, 6);
    CHECK(a.ip[10] == 0xff && a.ip[11] == 0xff && a.ip[12] == 192 && a.ip[15] == 1);
}

static void test_addr_parse_rejects(void) {
    static const char *const bad[] = {
        "",          " 1.2.3.4",          "1.2.3.4 ",   "1.2.3",      "1.2.3.4.5", "256.0.0.1",
        "1.2.3.-1",  "a.b.c.d",           "1.2.3.4:80", "[::1]",      "::1::2",    "fd00::1%eth0",
        "localhost", "1:2:3:4:5:6:7:8:9", "12345::",    "0x7f.0.0.1", ":::",       "*",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tcpw_addr a = tcpw_addr_v4(9, 9, 9, 9);
        int rc = tcpw_addr_parse(bad[i], &a);
        if (rc != -1) fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK(rc == -1);
        /* *out untouched on failure. */
        CHECK(a.family == 4 && a.ip[0] == 9 && a.ip[3] == 9);
    }
    tcpw_addr a;
    CHECK(tcpw_addr_parse(NULL, &a) == -1);
    CHECK(tcpw_addr_parse("1.2.3.4", NULL) == -1);
}

static void test_endpoint_parse(void) {
    tcpw_endpoint e;
    CHECK_EQ_U(tcpw_endpoint_parse("1.2.3.4:80", &e), 0);
    CHECK_EQ_U(e.addr.family, 4);
    CHECK(e.addr.ip[0] == 1 && e.addr.ip[3] == 4);
    CHECK_EQ_U(e.port, 80);
    CHECK_EQ_U(tcpw_endpoint_parse("[fd00::1]:80", &e), 0);
    CHECK_EQ_U(e.addr.family, 6);
    CHECK(e.addr.ip[0] == 0xfd && e.addr.ip[15] == 1);
    CHECK_EQ_U(e.port, 80);
    CHECK_EQ_U(tcpw_endpoint_parse("10.0.0.1:65535", &e), 0);
    CHECK_EQ_U(e.port, 65535);
    CHECK_EQ_U(tcpw_endpoint_parse("10.0.0.1:0", &e), 0);
    CHECK_EQ_U(e.port, 0);
    CHECK_EQ_U(tcpw_endpoint_parse("[::]:443", &e), 0);
    CHECK_EQ_U(e.addr.family, 6);
    CHECK_EQ_U(e.port, 443);
    CHECK_EQ_U(tcpw_endpoint_parse("[::ffff:10.0.0.1]:8080", &e), 0);
    CHECK_EQ_U(e.addr.family, 6);
    CHECK_EQ_U(e.port, 8080);
}

static void test_endpoint_parse_rejects(void) {
    static const char *const bad[] = {
        "",
        "1.2.3.4",       /* no port */
        "1.2.3.4:",      /* empty port */
        "1.2.3.4:65536", /* port out of range */
        "1.2.3.4:99999",
        "1.2.3.4:123456",
        "1.2.3.4:-1",
        "1.2.3.4:+80",
        "1.2.3.4:8a",
        "1.2.3.4:80 ",
        "1.2.3.4: 80",
        ":80",        /* no address */
        "fd00::1:80", /* IPv6 needs brackets */
        "fd00::1",
        "[fd00::1]", /* no port */
        "[fd00::1]:",
        "[fd00::1]80",
        "[fd00::1:80",
        "fd00::1]:80",
        "[1.2.3.4]:80", /* brackets are for IPv6 */
        "[]:80",
        "[[fd00::1]]:80",
        "[fd00::1]:80:80",
        "1.2.3.4:80:80",
        "host:80",
        "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:ffff]:80", /* too long */
        "1.2.3.4:80\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tcpw_endpoint e;
        memset(&e, 0x5a, sizeof e);
        int rc = tcpw_endpoint_parse(bad[i], &e);
        if (rc != -1) fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK(rc == -1);
        CHECK_EQ_U(e.port, 0x5a5a); /* untouched */
    }
    tcpw_endpoint e;
    CHECK(tcpw_endpoint_parse(NULL, &e) == -1);
    CHECK(tcpw_endpoint_parse("1.2.3.4:80", NULL) == -1);
}

static void test_format(void) {
    char buf[TCPW_EPSTRLEN];
    tcpw_addr a = tcpw_addr_v4(192, 0, 2, 1);
    CHECK_STR(tcpw_addr_format(&a, buf, sizeof buf), "192.0.2.1");
    CHECK(tcpw_addr_format(&a, buf, sizeof buf) == buf);
    tcpw_endpoint e;
    memset(&e, 0, sizeof e);
    e.addr = a;
    e.port = 80;
    CHECK_STR(tcpw_endpoint_format(&e, buf, sizeof buf), "192.0.2.1:80");
    CHECK_EQ_U(tcpw_endpoint_parse("[fd00::1]:80", &e), 0);
    CHECK_STR(tcpw_endpoint_format(&e, buf, sizeof buf), "[fd00::1]:80");
    CHECK_STR(tcpw_addr_format(&e.addr, buf, sizeof buf), "fd00::1");
    /* Canonical RFC 5952 text from inet_ntop: lower case, longest zero run compressed. */
    CHECK_EQ_U(tcpw_addr_parse("2001:DB8:0:0:1:0:0:1", &a), 0);
    CHECK_STR(tcpw_addr_format(&a, buf, sizeof buf), "2001:db8::1:0:0:1");
    /* Family 0 ("any") and an invalid family. */
    memset(&e, 0, sizeof e);
    e.port = 8080;
    CHECK_STR(tcpw_addr_format(&e.addr, buf, sizeof buf), "*");
    CHECK_STR(tcpw_endpoint_format(&e, buf, sizeof buf), "*:8080");
    e.addr.family = 9;
    CHECK_STR(tcpw_addr_format(&e.addr, buf, sizeof buf), "?");
}

static void test_format_buffer_limits(void) {
    /* The longest texts fit the advertised sizes exactly. */
    char abuf[TCPW_ADDRSTRLEN], ebuf[TCPW_EPSTRLEN];
    tcpw_endpoint e;
    CHECK_EQ_U(tcpw_endpoint_parse("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", &e), 0);
    CHECK_STR(tcpw_addr_format(&e.addr, abuf, sizeof abuf),
              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK_STR(tcpw_endpoint_format(&e, ebuf, sizeof ebuf),
              "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    CHECK_EQ_U(tcpw_endpoint_parse("[::ffff:255.255.255.255]:65535", &e), 0);
    CHECK(tcpw_addr_format(&e.addr, abuf, sizeof abuf) != NULL);
    CHECK(tcpw_endpoint_format(&e, ebuf, sizeof ebuf) != NULL);
    CHECK_EQ_U(tcpw_endpoint_parse("255.255.255.255:65535", &e), 0);
    CHECK_STR(tcpw_endpoint_format(&e, ebuf, sizeof ebuf), "255.255.255.255:65535");
    /* Too small: NULL and an empty string; exactly enough: the text. */
    char small[21];
    CHECK(tcpw_endpoint_format(&e, small, 21) == NULL);
    CHECK_STR(small, "");
    char exact[22];
    CHECK_STR(tcpw_endpoint_format(&e, exact, sizeof exact), "255.255.255.255:65535");
    CHECK(tcpw_addr_format(&e.addr, small, 15) == NULL);
    CHECK_STR(small, "");
    CHECK_STR(tcpw_addr_format(&e.addr, small, 16), "255.255.255.255");
    CHECK(tcpw_addr_format(&e.addr, small, 0) == NULL);
    CHECK(tcpw_addr_format(&e.addr, NULL, 0) == NULL);
}

static void test_round_trips(void) {
    static const char *const eps[] = {
        "1.2.3.4:80",
        "10.0.0.1:0",
        "127.0.0.1:65535",
        "[fd00::1]:80",
        "[::]:1",
        "[::1]:443",
        "[2001:db8::1:0:0:1]:22",
        "[fe80::1:2:3:4]:5",
        "[::ffff:192.0.2.1]:8080",
        "0.0.0.0:1",
    };
    char buf[TCPW_EPSTRLEN];
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        tcpw_endpoint e, f;
        CHECK_EQ_U(tcpw_endpoint_parse(eps[i], &e), 0);
        CHECK_STR(tcpw_endpoint_format(&e, buf, sizeof buf), eps[i]);
        CHECK_EQ_U(tcpw_endpoint_parse(buf, &f), 0);
        CHECK(tcpw_endpoint_equal(&e, &f));
    }
    /* Every byte pattern of an IPv6 address survives format -> parse. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 2000; round++) {
        tcpw_addr a, b;
        memset(&a, 0, sizeof a);
        a.family = (round & 1) ? 6 : 4;
        for (int i = 0; i < (a.family == 4 ? 4 : 16); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* Plenty of zero runs to exercise "::" compression. */
            a.ip[i] = (x & 3) == 0 ? 0 : (uint8_t)(x >> 24);
        }
        char t[TCPW_ADDRSTRLEN];
        REQUIRE(tcpw_addr_format(&a, t, sizeof t) != NULL);
        CHECK_EQ_U(tcpw_addr_parse(t, &b), 0);
        CHECK(tcpw_addr_equal(&a, &b));
    }
}

int main(void) {
    RUN(test_addr_parse_v4);
    RUN(test_addr_parse_v6);
    RUN(test_addr_parse_rejects);
    RUN(test_endpoint_parse);
    RUN(test_endpoint_parse_rejects);
    RUN(test_format);
    RUN(test_format_buffer_limits);
    RUN(test_round_trips);
    return test_summary();
}
