/* test.h — the tiny test harness shared by every unit and scenario test.
 *
 * A test file defines functions `static void test_x(void)` and lists them in main() with
 * RUN(test_x). CHECK() records a failure with its file:line and goes on; REQUIRE() also
 * returns from the test. main() ends with `return test_summary();`, which prints the plain
 * closing line "N passed, N failed" and returns non-zero on any failure.
 */
#ifndef TCPW_TEST_H
#define TCPW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_failed_checks, test_passed, test_failed, test_current_failed;
static const char *test_current_name;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,                   \
                    test_current_name, #cond);                                                     \
            test_failed_checks++;                                                                  \
            test_current_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CHECK(cond);                                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* REQUIRE for functions that return a value: returns `ret` when cond fails. */
#define REQUIRE_RET(cond, ret)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CHECK(cond);                                                                           \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                           \
    do {                                                                                           \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);           \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: %llu != %llu\n", __FILE__, __LINE__,      \
                    test_current_name, #a, #b, va_, vb_);                                          \
            test_failed_checks++;                                                                  \
            test_current_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,  \
                    test_current_name, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");        \
            test_failed_checks++;                                                                  \
            test_current_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_current_name = #fn;                                                                   \
        test_current_failed = 0;                                                                   \
        fn();                                                                                      \
        if (test_current_failed) {                                                                 \
            test_failed++;                                                                         \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        } else {                                                                                   \
            test_passed++;                                                                         \
        }                                                                                          \
    } while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
