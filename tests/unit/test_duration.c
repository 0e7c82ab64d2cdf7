/* test_duration.c — the one parser of durations typed on a command line (src/util/duration.h):
 * what `tcpwave sim --msl`, `--delay`, the drop rules' @hold= and `tcpwave analyze --msl` all
 * read, so that "0.5", "500ms", "2s" and "300us" mean the same everywhere.
 */
#include <stdint.h>

#include "test.h"
#include "util/duration.h"

static uint64_t parsed(const char *s, uint64_t unit, bool *ok) {
    uint64_t us = 12345;
    *ok = tcpw_duration_parse(s, unit, &us);
    return us;
}

static void test_units(void) {
    bool ok;
    CHECK_EQ_U(parsed("30", TCPW_DUR_S, &ok), 30000000);
    CHECK(ok);
    CHECK_EQ_U(parsed("0.5", TCPW_DUR_S, &ok), 500000);
    CHECK(ok);
    CHECK_EQ_U(parsed("500ms", TCPW_DUR_S, &ok), 500000);
    CHECK(ok);
    CHECK_EQ_U(parsed("2s", TCPW_DUR_MS, &ok), 2000000);
    CHECK(ok);
    CHECK_EQ_U(parsed("300us", TCPW_DUR_S, &ok), 300);
    CHECK(ok);
    CHECK_EQ_U(parsed("20", TCPW_DUR_MS, &ok), 20000);
    CHECK(ok);
    CHECK_EQ_U(parsed("1.5", TCPW_DUR_MS, &ok), 1500);
    CHECK(ok);
    CHECK_EQ_U(parsed("0.1s", TCPW_DUR_MS, &ok), 100000); /* exact: no floating point */
    CHECK(ok);
    CHECK_EQ_U(parsed("0", TCPW_DUR_S, &ok), 0);
    CHECK(ok);
    CHECK_EQ_U(parsed("1.0000009", TCPW_DUR_S, &ok), 1000000); /* below 1 us: ignored */
    CHECK(ok);
    CHECK_EQ_U(parsed("2.25ms", TCPW_DUR_S, &ok), 2250);
    CHECK(ok);
}

static void test_refused(void) {
    static const char *const bad[] = {
        "",     "abc", "-1", "+1",    "1e3", ".5", "5 s", "5m",
        "5sec", "1.",  "s",  "1.5.2", "ms",  "3 ", " 3",  "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool ok;
        uint64_t us = parsed(bad[i], TCPW_DUR_S, &ok);
        if (ok) fprintf(stderr, "accepted '%s'\n", bad[i]);
        CHECK(!ok);
        CHECK_EQ_U(us, 12345); /* left alone */
    }
    uint64_t us;
    CHECK(!tcpw_duration_parse(NULL, TCPW_DUR_S, &us));
    CHECK(!tcpw_duration_parse("18446744073709551615s", TCPW_DUR_S, &us)); /* overflow */
}

static void test_scan(void) {
    const char *p = "70ms@drop";
    uint64_t us = 0;
    CHECK(tcpw_duration_scan(&p, TCPW_DUR_MS, &us));
    CHECK_EQ_U(us, 70000);
    CHECK_STR(p, "@drop");
    p = "x";
    CHECK(!tcpw_duration_scan(&p, TCPW_DUR_MS, &us));
    CHECK_STR(p, "x");
}

int main(void) {
    RUN(test_units);
    RUN(test_refused);
    RUN(test_scan);
    return test_summary();
}
