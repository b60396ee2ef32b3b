/* kernel/format.c (fmt_snprintf, fmt_vsnprintf) against the host C
 * library's snprintf, and kernel/log_format.c (log_format_line). */
#include "test.h"
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include "../../kernel/format.h"
#include "../../kernel/log.h"

/* Format with both fmt_vsnprintf and the C library; fail the test when the
 * text or the returned length differ. Not declared with the printf format
 * attribute on purpose: the tables below hold flag/conversion combinations
 * gcc would warn about. */
static void same_at(int line, const char *fmt, ...)
{
    char ours[256], libc[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    memset(ours, 'X', sizeof(ours));
    int n_ours = fmt_vsnprintf(ours, sizeof(ours), fmt, ap);
    int n_libc = vsnprintf(libc, sizeof(libc), fmt, ap2);
    va_end(ap2);
    va_end(ap);
    if (n_ours != n_libc || strcmp(ours, libc) != 0)
        TEST_FAIL("line %d: format \"%.40s\": got \"%.100s\" (%d), libc \"%.100s\" (%d)", line, fmt, ours, n_ours, libc,
                  n_libc);
}
#define SAME(...) same_at(__LINE__, __VA_ARGS__)

/* fmt_snprintf's result as a string (static buffer, one at a time). */
static const char *ours(const char *fmt, ...)
{
    static char buf[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

TEST(plain_text_and_percent)
{
    SAME("hello, world", 0);
    SAME("", 0);
    SAME("100%%", 0);
    SAME("%%d", 0);
    SAME("a%%b%%c", 0);
}

TEST(signed_decimal_matches_libc)
{
    static const char *const fmts[] = {
        "%d", "%i", "%5d", "%-5d|", "%05d", "%+d", "% d", "%+5d", "%-+6d|", "% 06d", "%.3d", "%8.3d", "%-8.3d|",
        "%08.3d", "%.0d", "%5.0d", "%+.0d", "%+05d", "%-05d|", "%+ d", "%1d", "%0d",
    };
    static const int vals[] = { 0, 1, -1, 42, -42, 12345, -12345, 1000000, INT_MAX, INT_MIN };
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
        for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++)
            SAME(fmts[f], vals[v]);
}

TEST(unsigned_hex_octal_matches_libc)
{
    static const char *const fmts[] = {
        "%u",  "%x",    "%X",   "%o",    "%8x",   "%-8x|", "%08X", "%.4x", "%8.4x", "%#x",  "%#X", "%#10x",
        "%#-10x|", "%#010x", "%#o", "%#8o", "%.0u", "%.0x", "%6.0x", "%010u", "%-010u|",
    };
    static const unsigned vals[] = { 1, 7, 8, 9, 15, 16, 255, 4096, 0xdeadbeefu, UINT_MAX };
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
        for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++)
            SAME(fmts[f], vals[v]);
}

TEST(unsigned_zero_matches_libc)
{
    static const char *const fmts[] = { "%u", "%x", "%X", "%o", "%5u", "%#x", "%#X", "%#5x", "%.0u", "%.0x", "%#.0x",
                                        "%#.0o", "%05x" };
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
        SAME(fmts[f], 0u);
}

/* C11 7.21.6.1: '#' with o "increases the precision, if and only if
 * necessary, to force the first digit of the result to be a zero"; a zero
 * value already starts with one. */
TEST(alt_octal_of_zero_is_single_zero)
{
    /* Regression (was a bug in kernel/format.c:148): '#' always adds a "0" prefix for %o, so
     * 0 prints as "00" and "%#.3o" of 8 as "0010" (libc: "0" and "010"). */
    SAME("%#o", 0u);
    SAME("%#5o", 0u);
    SAME("%#.3o", 8u);
}

/* C11 7.21.6.1: '+' and ' ' apply to signed conversions only. */
TEST(plus_and_space_ignored_for_unsigned)
{
    /* Regression (was a bug in kernel/format.c:40): emit_number adds the '+' or ' ' sign for
     * unsigned conversions too: "%+u" of 5 gives "+5", "% x" of 255 " ff". */
    SAME("%+u", 5u);
    SAME("% u", 5u);
    SAME("%+x", 255u);
    SAME("% X", 255u);
    SAME("%+o", 8u);
}

TEST(length_modifiers_match_libc)
{
    SAME("%hhd", 300);
    SAME("%hhd", 200);
    SAME("%hhd", -129);
    SAME("%hhu", 300);
    SAME("%hhx", 0x1ff);
    SAME("%hd", 70000);
    SAME("%hd", 40000);
    SAME("%hu", 70000);
    SAME("%hx", -1);
    SAME("%ld", LONG_MIN);
    SAME("%ld", LONG_MAX);
    SAME("%lu", ULONG_MAX);
    SAME("%lx", 0x123456789abcdefUL);
    SAME("%lld", LLONG_MIN);
    SAME("%lld", LLONG_MAX);
    SAME("%llu", ULLONG_MAX);
    SAME("%llx", ULLONG_MAX);
    SAME("%llo", ULLONG_MAX);
    SAME("%#llo", ULLONG_MAX);
    SAME("%#llX", 0xabcdef0123456789ULL);
    SAME("%zu", (size_t)SIZE_MAX);
    SAME("%zd", (ssize_t)-5);
    SAME("%zx", (size_t)0x1234);
    SAME("%jd", (intmax_t)INT64_MIN);
    SAME("%ju", (uintmax_t)UINT64_MAX);
    SAME("%td", (ptrdiff_t)-77);
    SAME("%25lld|%-25lld|", LLONG_MIN, LLONG_MIN);
    SAME("%+lld", LLONG_MAX);
    SAME("%030llu", ULLONG_MAX);
}

TEST(int_extremes_match_libc)
{
    SAME("%d", INT_MIN);
    SAME("%d", INT_MAX);
    SAME("%u", 0x80000000u);
    SAME("%x", INT_MIN);
    SAME("%12d|%-12d|%012d", INT_MIN, INT_MIN, INT_MIN);
    SAME("%i", -1);
}

TEST(char_matches_libc)
{
    SAME("%c", 'a');
    SAME("%c%c%c", 'x', 'y', 'z');
    SAME("%3c|", 'q');
    SAME("%-3c|", 'q');
    SAME("[%c]", ' ');
    SAME("%c", 0x1ff); /* converted to unsigned char */
}

TEST(string_matches_libc)
{
    static const char *const fmts[] = { "%s", "%10s|", "%-10s|", "%.3s", "%10.3s|", "%-10.3s|", "%.0s|", "%2s|",
                                        "%.20s|" };
    static const char *const strs[] = { "", "a", "hello", "a longer string than ten" };
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
        for (size_t s = 0; s < sizeof(strs) / sizeof(strs[0]); s++)
            SAME(fmts[f], strs[s]);
    SAME("%s=%s;", "key", "value");
}

TEST(null_string_prints_null)
{
    const char *volatile nul = NULL;
    CHECK_STR(ours("%s", nul), "(null)");
    CHECK_STR(ours("[%8s]", nul), "[  (null)]");
    CHECK_STR(ours("[%-8s]", nul), "[(null)  ]");
}

TEST(pointer_matches_libc)
{
    int x;
    void *p = &x;
    SAME("%p", p);
    SAME("%30p|", p);
    SAME("%-30p|", p);
    SAME("%p", (void *)0x1000);
    SAME("%p", (void *)UINTPTR_MAX);
}

TEST(star_width_and_precision_match_libc)
{
    SAME("%*d|", 6, 42);
    SAME("%*d|", -6, 42);
    SAME("%-*d|", 6, 42);
    SAME("%.*d|", 4, 42);
    SAME("%.*d|", -1, 42);
    SAME("%*.*d|", 8, 4, -42);
    SAME("%*s|", 7, "ab");
    SAME("%*s|", -7, "ab");
    SAME("%.*s|", 2, "abcdef");
    SAME("%.*s|", -1, "abcdef");
    SAME("%*.*s|", 5, 2, "abcdef");
    SAME("%*x|%*x|", 4, 0xa, -4, 0xb);
    SAME("%0*d|", 5, -3);
}

TEST(mixed_conversions_match_libc)
{
    SAME("%s:%d: %s (%u/%x) %c%%", "ftvisor.conf", 12, "bad value", 3u, 0xffu, '!');
    SAME("%02x:%02x:%02x:%02x:%02x:%02x", 0x52, 0x54, 0, 0x12, 0xab, 0xff);
    SAME("[%5llu.%06llu]", 1ULL, 234567ULL);
}

TEST(truncation_size_zero_writes_nothing)
{
    char buf[4] = { 'A', 'B', 'C', 'D' };
    CHECK_EQ(fmt_snprintf(buf, 0, "hello %d", 12345), 11);
    CHECK(memcmp(buf, "ABCD", 4) == 0);
    CHECK_EQ(fmt_snprintf(NULL, 0, "%s", "abc"), 3);
}

TEST(truncation_size_one_is_empty_string)
{
    char buf[4] = { 'A', 'B', 'C', 'D' };
    CHECK_EQ(fmt_snprintf(buf, 1, "hello %d", 12345), 11);
    CHECK_EQ(buf[0], 0);
    CHECK(memcmp(buf + 1, "BCD", 3) == 0);
}

TEST(truncation_small_buffer_terminates_and_returns_full_length)
{
    for (size_t size = 2; size <= 20; size++) {
        char buf[32], want[32];
        memset(buf, 'Z', sizeof(buf));
        int n = fmt_snprintf(buf, size, "%s=%05d %x", "key", -42, 0xbeefu);
        int m = snprintf(want, size, "%s=%05d %x", "key", -42, 0xbeefu);
        CHECK_EQ(n, m);
        CHECK_STR(buf, want);
        CHECK_EQ(strlen(buf), size - 1 < (size_t)m ? size - 1 : (size_t)m);
        CHECK_EQ(buf[size], 'Z'); /* nothing written past size */
    }
}

TEST(truncation_inside_padding)
{
    char buf[6];
    CHECK_EQ(fmt_snprintf(buf, sizeof(buf), "%20s", "x"), 20);
    CHECK_STR(buf, "     ");
    CHECK_EQ(fmt_snprintf(buf, sizeof(buf), "%-20s", "xy"), 20);
    CHECK_STR(buf, "xy   ");
    CHECK_EQ(fmt_snprintf(buf, sizeof(buf), "%020d", -1), 20);
    CHECK_STR(buf, "-0000");
}

/* ---------------------------------------------------------------- log ---- */

static const char *logline(uint64_t ns, enum log_level lvl, const char *sub, const char *msg, size_t *len)
{
    static char buf[512];
    memset(buf, 'Z', sizeof(buf));
    size_t n = log_format_line(buf, sizeof(buf), ns, lvl, sub, msg);
    if (len)
        *len = n;
    return buf;
}

TEST(log_line_info)
{
    size_t n;
    CHECK_STR(logline(1234567890ull, LOG_INFO, "mm", "hello", &n), "[    1.234567] mm: hello\n");
    CHECK_EQ(n, strlen("[    1.234567] mm: hello\n"));
}

TEST(log_line_level_tags)
{
    CHECK_STR(logline(1234567890ull, LOG_WARN, "mm", "low", NULL), "[    1.234567] WARNING: mm: low\n");
    CHECK_STR(logline(1234567890ull, LOG_ERROR, "acpi", "no RSDP", NULL), "[    1.234567] ERROR: acpi: no RSDP\n");
    CHECK_STR(logline(1234567890ull, LOG_DEBUG, "vmx", "exit 12", NULL), "[    1.234567] debug: vmx: exit 12\n");
}

TEST(log_line_time_zero_and_rounding_down)
{
    CHECK_STR(logline(0, LOG_INFO, "boot", "start", NULL), "[    0.000000] boot: start\n");
    /* Sub-microsecond parts are dropped, not rounded. */
    CHECK_STR(logline(999, LOG_INFO, "t", "x", NULL), "[    0.000000] t: x\n");
    CHECK_STR(logline(1999, LOG_INFO, "t", "x", NULL), "[    0.000001] t: x\n");
    CHECK_STR(logline(59999999999ull, LOG_INFO, "t", "x", NULL), "[   59.999999] t: x\n");
}

TEST(log_line_large_time_widens)
{
    CHECK_STR(logline(100000ull * 1000000000ull + 5000, LOG_INFO, "t", "x", NULL), "[100000.000005] t: x\n");
    CHECK_STR(logline(99999ull * 1000000000ull, LOG_INFO, "t", "x", NULL), "[99999.000000] t: x\n");
}

TEST(log_line_trailing_newlines_collapse_to_one)
{
    CHECK_STR(logline(0, LOG_INFO, "s", "msg\n", NULL), "[    0.000000] s: msg\n");
    CHECK_STR(logline(0, LOG_INFO, "s", "msg\n\n\n", NULL), "[    0.000000] s: msg\n");
    CHECK_STR(logline(0, LOG_INFO, "s", "two\nlines\n", NULL), "[    0.000000] s: two\nlines\n");
}

TEST(log_line_empty_message)
{
    CHECK_STR(logline(0, LOG_INFO, "s", "", NULL), "[    0.000000] s: \n");
}

TEST(log_line_truncated_ends_in_newline)
{
    const char *full = "[    1.234567] WARNING: subsystem: a message that is too long for the buffer";
    for (size_t size = 2; size < strlen(full) + 4; size++) {
        char buf[128];
        memset(buf, 'Z', sizeof(buf));
        size_t n = log_format_line(buf, size, 1234567890ull, LOG_WARN, "subsystem",
                                   "a message that is too long for the buffer");
        size_t want = strlen(full) + 1 < size - 1 ? strlen(full) + 1 : size - 1;
        CHECK_EQ(n, want);
        CHECK_EQ(strlen(buf), n);
        CHECK_EQ(buf[n - 1], '\n');
        CHECK_EQ(buf[n], 0);
        CHECK(memcmp(buf, full, n - 1) == 0);
        CHECK_EQ(buf[size], 'Z');
    }
}

TEST(log_line_truncated_message_with_newline_still_one_newline)
{
    /* The cut falls right after the message's own newline. */
    char buf[64];
    const char *prefix = "[    0.000000] s: ";
    size_t size = strlen(prefix) + 4 + 1; /* room for "abc\n" */
    size_t n = log_format_line(buf, size, 0, LOG_INFO, "s", "abc\ndef");
    CHECK_EQ(n, strlen(prefix) + 4);
    CHECK_STR(buf, "[    0.000000] s: abc\n");
}

/* With a one-byte buffer there is only room for the terminator. The buffer
 * sits inside a larger array so a stray write shows up as a failed check
 * instead of an ASan abort that would hide the other results. */
TEST(log_line_size_one_stays_in_bounds)
{
    /* Regression (was a bug in kernel/log_format.c:15-17): with size 1, len = 0 and then
     * len = size - 2 = SIZE_MAX, so '\n' is written to buf[-1]. */
    char area[8];
    memset(area, 'Z', sizeof(area));
    size_t n = log_format_line(area + 4, 1, 0, LOG_INFO, "s", "msg");
    CHECK_EQ(area[3], 'Z');
    CHECK_EQ(area[4], 0);
    CHECK_EQ(area[5], 'Z');
    CHECK_EQ(n, 0);
}

TEST(log_line_size_zero_writes_nothing)
{
    /* Regression (was a bug in kernel/log_format.c:11-18): with size 0, len = size - 1 =
     * SIZE_MAX: buf[-2] is read, then '\n' and NUL go to buf[-2], buf[-1]. */
    char area[8];
    memset(area, 'Z', sizeof(area));
    log_format_line(area + 4, 0, 0, LOG_INFO, "s", "msg");
    for (size_t i = 0; i < sizeof(area); i++)
        CHECK_EQ(area[i], 'Z');
}

int main(void) { return test_main(); }
