/* Minimal test harness: CHECK records a failure and carries on; each test
 * program ends with TP_TEST_END, which prints "N passed, N failed" (", N
 * skipped" when a test left with TP_SKIP: never counted as passed) and sets
 * the exit status. Tests are plain functions registered in main(). */
#ifndef TP_TEST_H
#define TP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tp_test_failed_checks;
static int tp_test_passed;
static int tp_test_failed;
static int tp_test_skipped;
static int tp_test_skipping; /* set by TP_SKIP inside the running test */

/* Leave the running test as skipped (never counted as passed), saying why. */
#define TP_SKIP(why)                                                             \
    do {                                                                         \
        printf("skip: %s\n", why);                                               \
        tp_test_skipping = 1;                                                    \
        return;                                                                  \
    } while (0)

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            tp_test_failed_checks++;                                             \
        }                                                                        \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                       \
    do {                                                                         \
        uint64_t tp_a_ = (uint64_t)(a), tp_b_ = (uint64_t)(b);                   \
        if (tp_a_ != tp_b_) {                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%" PRIu64 " != %" PRIu64 ")\n", \
                    __FILE__, __LINE__, #a, #b, tp_a_, tp_b_);                   \
            tp_test_failed_checks++;                                             \
        }                                                                        \
    } while (0)

#define CHECK_EQ_I64(a, b)                                                       \
    do {                                                                         \
        int64_t tp_a_ = (int64_t)(a), tp_b_ = (int64_t)(b);                      \
        if (tp_a_ != tp_b_) {                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%" PRId64 " != %" PRId64 ")\n", \
                    __FILE__, __LINE__, #a, #b, tp_a_, tp_b_);                   \
            tp_test_failed_checks++;                                             \
        }                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *tp_a_ = (a), *tp_b_ = (b);                                   \
        if (strcmp(tp_a_, tp_b_) != 0) {                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
                    __FILE__, __LINE__, #a, #b, tp_a_, tp_b_);                   \
            tp_test_failed_checks++;                                             \
        }                                                                        \
    } while (0)

/* Run one test function and report it by name. */
#define RUN(fn)                                                                  \
    do {                                                                         \
        int tp_before_ = tp_test_failed_checks;                                  \
        tp_test_skipping = 0;                                                    \
        fn();                                                                    \
        if (tp_test_skipping && tp_test_failed_checks == tp_before_) {           \
            tp_test_skipped++;                                                   \
            printf("SKIP %s\n", #fn);                                            \
        } else if (tp_test_failed_checks == tp_before_) {                        \
            tp_test_passed++;                                                    \
            printf("ok   %s\n", #fn);                                            \
        } else {                                                                 \
            tp_test_failed++;                                                    \
            printf("FAIL %s\n", #fn);                                            \
        }                                                                        \
        fflush(stdout);                                                          \
    } while (0)

#define TP_TEST_END()                                                            \
    do {                                                                         \
        if (tp_test_skipped > 0)                                                 \
            printf("%d passed, %d failed, %d skipped\n", tp_test_passed, tp_test_failed, tp_test_skipped); \
        else                                                                     \
            printf("%d passed, %d failed\n", tp_test_passed, tp_test_failed);    \
        return tp_test_failed == 0 && tp_test_passed > 0 ? 0 : 1;                \
    } while (0)

#endif
