/* kernel/string.c (compiled here under other names, so the host's C
 * library stays in charge of the harness): the copy and fill routines the
 * hypervisor moves log data, disk blocks and frames with, at every length
 * and alignment around their 8-byte fast paths, and memmove's overlaps in
 * both directions, against a byte-by-byte reference. */
#include "test.h"
#include <stdint.h>

void *k_memcpy(void *dst, const void *src, size_t n);
void *k_memmove(void *dst, const void *src, size_t n);
void *k_memset(void *dst, int c, size_t n);
int k_memcmp(const void *a, const void *b, size_t n);

static uint8_t a[600], b[600], ref[600];

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed * 7 + 1);
}

TEST(memcpy_every_length_and_alignment)
{
    for (size_t so = 0; so < 9; so++)
        for (size_t doff = 0; doff < 9; doff++)
            for (size_t n = 0; n < 200; n++) {
                fill(a, sizeof(a), (unsigned)(so + n));
                memset(b, 0xee, sizeof(b));
                memcpy(ref, b, sizeof(b));
                for (size_t i = 0; i < n; i++)
                    ref[doff + i] = a[so + i];
                CHECK(k_memcpy(b + doff, a + so, n) == b + doff);
                if (memcmp(b, ref, sizeof(b)) != 0) {
                    TEST_FAIL("memcpy n=%zu src+%zu dst+%zu", n, so, doff);
                    return;
                }
            }
}

TEST(memmove_overlaps_both_ways)
{
    for (size_t from = 0; from < 80; from++)
        for (size_t to = 0; to < 80; to++)
            for (size_t n = 0; n < 300; n += n < 20 ? 1 : 37) {
                fill(a, sizeof(a), (unsigned)(from * 3 + to + n));
                memcpy(ref, a, sizeof(a));
                for (size_t i = 0; i < n; i++) /* the reference: through a copy */
                    b[i] = ref[from + i];
                for (size_t i = 0; i < n; i++)
                    ref[to + i] = b[i];
                CHECK(k_memmove(a + to, a + from, n) == a + to);
                if (memcmp(a, ref, sizeof(a)) != 0) {
                    TEST_FAIL("memmove n=%zu from %zu to %zu", n, from, to);
                    return;
                }
            }
}

TEST(memmove_leaves_the_direction_flag_clear)
{
    fill(a, sizeof(a), 1);
    k_memmove(a + 10, a, 100);
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0" : "=r"(flags));
    CHECK(!(flags & (1u << 10)));
}

TEST(memset_every_length_and_alignment)
{
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 200; n++) {
            memset(b, 0x11, sizeof(b));
            memcpy(ref, b, sizeof(b));
            memset(ref + off, 0xc3, n);
            CHECK(k_memset(b + off, 0xc3, n) == b + off);
            if (memcmp(b, ref, sizeof(b)) != 0) {
                TEST_FAIL("memset n=%zu +%zu", n, off);
                return;
            }
        }
}

static int sign(int v) { return (v > 0) - (v < 0); }

TEST(memcmp_finds_the_first_difference)
{
    for (size_t n = 0; n < 40; n++)
        for (size_t at = 0; at <= n; at++)
            for (int d = -1; d <= 1; d += 2) {
                fill(a, n, 3);
                memcpy(b, a, n);
                if (at < n)
                    b[at] = (uint8_t)(b[at] + d);
                if (at + 1 < n) /* a later difference the other way must not decide */
                    b[at + 1] = (uint8_t)(b[at + 1] - d);
                int want = sign(memcmp(a, b, n)), got = sign(k_memcmp(a, b, n));
                if (want != got) {
                    TEST_FAIL("n=%zu differ at %zu by %d: %d, want %d", n, at, d, got, want);
                    return;
                }
            }
}

int main(void) { return test_main(); }
