/* A minimal host unit-test harness. Each test binary prints one line per
 * case, "ok NAME" or "not ok NAME: why", and exits non-zero when any case
 * failed. tests/run counts the lines.
 *
 *   TEST(parses_mac) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { return test_main(); }
 */
#ifndef TESTS_UNIT_TEST_H
#define TESTS_UNIT_TEST_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

#define TEST_MAX 512
static struct test_case test_cases[TEST_MAX];
static int test_count;
static int test_failed_now;
static char test_why[1024];

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void test_register_##name(void)        \
    {                                                                          \
        if (test_count < TEST_MAX)                                             \
            test_cases[test_count++] = (struct test_case){ #name, test_##name }; \
    }                                                                          \
    static void test_##name(void)

#define TEST_FAIL(...)                                                                     \
    do {                                                                                   \
        if (!test_failed_now) {                                                            \
            int n_ = snprintf(test_why, sizeof(test_why), "%s:%d: ", __FILE__, __LINE__); \
            snprintf(test_why + n_, sizeof(test_why) - (size_t)n_, __VA_ARGS__);          \
        }                                                                                  \
        test_failed_now = 1;                                                               \
    } while (0)

#define CHECK(cond)                                \
    do {                                           \
        if (!(cond))                               \
            TEST_FAIL("check failed: %s", #cond);  \
    } while (0)

#define CHECK_EQ(a, b)                                                                              \
    do {                                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                                         \
        if (a_ != b_)                                                                               \
            TEST_FAIL("%s == %s: %lld != %lld (0x%llx != 0x%llx)", #a, #b, a_, b_,                   \
                      (unsigned long long)a_, (unsigned long long)b_);                              \
    } while (0)

#define CHECK_STR(a, b)                                                             \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                      \
            TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",      \
                      b_ ? b_ : "(null)");                                          \
    } while (0)

static inline int test_main(void)
{
    int failed = 0;
    for (int i = 0; i < test_count; i++) {
        test_failed_now = 0;
        test_cases[i].fn();
        if (test_failed_now) {
            printf("not ok %s: %s\n", test_cases[i].name, test_why);
            failed++;
        } else {
            printf("ok %s\n", test_cases[i].name);
        }
    }
    return failed ? 1 : 0;
}

#endif
