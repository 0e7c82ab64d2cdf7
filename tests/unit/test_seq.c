/* test_seq.c — unit tests of sequence number arithmetic modulo 2^32 (src/core/seq.h,
 * RFC 9293 §3.4): comparisons, differences, min/max and windows, across the wrap. */
#include <stdint.h>

#include "core/seq.h"
#include "test.h"

static void test_compare_plain(void) {
    CHECK(seq_lt(1, 2));
    CHECK(!seq_lt(2, 1));
    CHECK(!seq_lt(5, 5));
    CHECK(seq_le(5, 5));
    CHECK(seq_le(4, 5));
    CHECK(!seq_le(6, 5));
    CHECK(seq_gt(2, 1));
    CHECK(!seq_gt(5, 5));
    CHECK(seq_ge(5, 5));
    CHECK(seq_ge(6, 5));
    CHECK(!seq_ge(4, 5));
    CHECK_EQ_U((uint32_t)seq_diff(10, 3), 7);
    CHECK(seq_diff(3, 10) == -7);
    CHECK(seq_diff(7, 7) == 0);
}

static void test_compare_across_wrap(void) {
    /* 0xFFFFFFF0 comes 32 numbers before 0x10. */
    CHECK(seq_lt(0xFFFFFFF0u, 0x10u));
    CHECK(seq_le(0xFFFFFFF0u, 0x10u));
    CHECK(!seq_gt(0xFFFFFFF0u, 0x10u));
    CHECK(!seq_ge(0xFFFFFFF0u, 0x10u));
    CHECK(seq_gt(0x10u, 0xFFFFFFF0u));
    CHECK(seq_ge(0x10u, 0xFFFFFFF0u));
    CHECK(seq_diff(0x10u, 0xFFFFFFF0u) == 32);
    CHECK(seq_diff(0xFFFFFFF0u, 0x10u) == -32);
    /* Neighbours at the wrap point. */
    CHECK(seq_lt(0xFFFFFFFFu, 0u));
    CHECK(seq_gt(0u, 0xFFFFFFFFu));
    CHECK(seq_diff(0u, 0xFFFFFFFFu) == 1);
    CHECK(seq_lt(0x7FFFFFFFu, 0x80000000u));
    CHECK(seq_diff(0x80000000u, 0x7FFFFFFFu) == 1);
    /* Just under half the circle apart: still ordered; the other way round reversed. */
    CHECK(seq_lt(0u, 0x7FFFFFFFu));
    CHECK(seq_gt(0u, 0x80000001u));
    CHECK(seq_lt(0xC0000000u, 0x3FFFFFFFu));
    /* Exactly half the circle apart, the signed difference is INT32_MIN both ways: "before"
     * either way (RFC 1982 leaves this case undefined; what matters is that it is stable). */
    CHECK(seq_diff(0x80000000u, 0u) == INT32_MIN);
    CHECK(seq_lt(0x80000000u, 0u));
    CHECK(seq_lt(0u, 0x80000000u));
}

static void test_compare_consistent(void) {
    /* For every pair less than 2^31 apart, exactly one of lt/eq/gt holds, le == lt||eq,
     * ge == gt||eq, and lt(a,b) == gt(b,a). Sampled around interesting bases. */
    static const uint32_t bases[] = {0u,          1u,          0x7FFFFFF0u, 0x80000000u,
                                     0xFFFFFFF0u, 0xFFFFFFFFu, 123456789u};
    static const int32_t steps[] = {0,           1,          -1,         2,      -2,
                                    100,         -100,       65535,      -65535, 0x3FFFFFFF,
                                    -0x3FFFFFFF, 0x7FFFFFFF, -0x7FFFFFFF};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        for (size_t j = 0; j < sizeof steps / sizeof steps[0]; j++) {
            uint32_t a = bases[i], b = a + (uint32_t)steps[j];
            int n = seq_lt(a, b) + (a == b) + seq_gt(a, b);
            CHECK_EQ_U(n, 1);
            CHECK_EQ_U(seq_le(a, b), seq_lt(a, b) || a == b);
            CHECK_EQ_U(seq_ge(a, b), seq_gt(a, b) || a == b);
            CHECK_EQ_U(seq_lt(a, b), seq_gt(b, a));
            CHECK(seq_diff(b, a) == steps[j]);
            CHECK_EQ_U(seq_lt(a, b), steps[j] > 0);
        }
    }
}

static void test_min_max(void) {
    CHECK_EQ_U(seq_max(1, 2), 2);
    CHECK_EQ_U(seq_min(1, 2), 1);
    CHECK_EQ_U(seq_max(7, 7), 7);
    CHECK_EQ_U(seq_min(7, 7), 7);
    /* Across the wrap, the numerically smaller one is the later one. */
    CHECK_EQ_U(seq_max(0xFFFFFFF0u, 0x10u), 0x10u);
    CHECK_EQ_U(seq_min(0xFFFFFFF0u, 0x10u), 0xFFFFFFF0u);
    CHECK_EQ_U(seq_max(0x10u, 0xFFFFFFF0u), 0x10u);
    CHECK_EQ_U(seq_min(0x10u, 0xFFFFFFF0u), 0xFFFFFFF0u);
    CHECK_EQ_U(seq_max(0xFFFFFFFFu, 0u), 0u);
    CHECK_EQ_U(seq_min(0xFFFFFFFFu, 0u), 0xFFFFFFFFu);
}

static void test_window_plain(void) {
    /* lo <= x < hi */
    CHECK(seq_in(100, 100, 200));
    CHECK(seq_in(150, 100, 200));
    CHECK(seq_in(199, 100, 200));
    CHECK(!seq_in(200, 100, 200));
    CHECK(!seq_in(99, 100, 200));
    CHECK(!seq_in(0, 100, 200));
    CHECK(!seq_in(0x80000000u, 100, 200));
    /* One-number window. */
    CHECK(seq_in(5, 5, 6));
    CHECK(!seq_in(6, 5, 6));
    CHECK(!seq_in(4, 5, 6));
}

static void test_window_across_wrap(void) {
    /* [0xFFFFFFF0, 0x10) spans the wrap: 32 numbers. */
    uint32_t lo = 0xFFFFFFF0u, hi = 0x10u;
    CHECK(seq_in(0xFFFFFFF0u, lo, hi));
    CHECK(seq_in(0xFFFFFFFFu, lo, hi));
    CHECK(seq_in(0u, lo, hi));
    CHECK(seq_in(0xFu, lo, hi));
    CHECK(!seq_in(0x10u, lo, hi));
    CHECK(!seq_in(0xFFFFFFEFu, lo, hi));
    CHECK(!seq_in(0x11u, lo, hi));
    CHECK(!seq_in(0x80000000u, lo, hi));
    int count = 0;
    for (uint32_t x = 0xFFFFFF00u; x != 0x100u; x++)
        count += seq_in(x, lo, hi);
    CHECK_EQ_U(count, 32);
    /* A window ending exactly at the wrap, and one starting at 0. */
    CHECK(seq_in(0xFFFFFFFFu, 0xFFFFFF00u, 0u));
    CHECK(!seq_in(0u, 0xFFFFFF00u, 0u));
    CHECK(seq_in(0u, 0u, 1u));
    CHECK(!seq_in(0xFFFFFFFFu, 0u, 1u));
}

static void test_window_empty_and_huge(void) {
    /* lo == hi is empty, wherever it is: nothing is inside. */
    static const uint32_t at[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        CHECK(!seq_in(at[i], at[i], at[i]));
        CHECK(!seq_in(at[i] + 1, at[i], at[i]));
        CHECK(!seq_in(at[i] - 1, at[i], at[i]));
    }
    /* A window of 2^32 - 1 numbers contains everything but hi. */
    CHECK(seq_in(0x7FFFFFFFu, 0x80000000u, 0x7FFFFFFFu) == false);
    CHECK(seq_in(0x7FFFFFFEu, 0x80000000u, 0x7FFFFFFFu));
    CHECK(seq_in(0x80000000u, 0x80000000u, 0x7FFFFFFFu));
    CHECK(seq_in(0u, 0x80000000u, 0x7FFFFFFFu));
}

static void test_window_matches_rfc_test(void) {
    /* RFC 9293 §3.10.7.4's acceptability test RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND written
     * as seq_le && seq_lt agrees with seq_in for windows below 2^31, across the wrap. */
    static const uint32_t nxts[] = {0u, 0x7FFFFF00u, 0xFFFFFF00u, 0xFFFFFFFFu};
    static const uint32_t wnds[] = {0u, 1u, 1000u, 65535u, 1u << 30};
    static const int32_t offs[] = {-1000, -1,   0,     1,     255,   256,    999,
                                   1000,  1001, 65534, 65535, 65536, 1 << 30};
    for (size_t i = 0; i < sizeof nxts / sizeof nxts[0]; i++)
        for (size_t j = 0; j < sizeof wnds / sizeof wnds[0]; j++)
            for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
                uint32_t nxt = nxts[i], wnd = wnds[j], seq = nxt + (uint32_t)offs[k];
                bool by_cmp = seq_le(nxt, seq) && seq_lt(seq, nxt + wnd);
                CHECK_EQ_U(seq_in(seq, nxt, nxt + wnd), by_cmp);
                CHECK_EQ_U(by_cmp, offs[k] >= 0 && (uint32_t)offs[k] < wnd);
            }
}

int main(void) {
    RUN(test_compare_plain);
    RUN(test_compare_across_wrap);
    RUN(test_compare_consistent);
    RUN(test_min_max);
    RUN(test_window_plain);
    RUN(test_window_across_wrap);
    RUN(test_window_empty_and_huge);
    RUN(test_window_matches_rfc_test);
    return test_summary();
}
