/* kernel/pmm_core.c: the bitmap page allocator and its setup from a UEFI
 * memory map. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../kernel/pmm.h"
#include "../../kernel/bootinfo.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define PG PAGE_SIZE

/* ------------------------------------------------------------- core ---- */

/* A bitmap for 16 MiB (4096 pages). */
#define CORE_PAGES 4096
static uint64_t core_bits[CORE_PAGES / 64];

static void core(struct pmm *p)
{
    pmm_core_init(p, core_bits, CORE_PAGES);
}

static uint64_t count_free(const struct pmm *p)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < p->npages; i++)
        n += pmm_is_free(p, i * PG);
    return n;
}

TEST(core_init_marks_everything_used)
{
    struct pmm p;
    memset(core_bits, 0, sizeof(core_bits));
    core(&p);
    CHECK_EQ(p.npages, CORE_PAGES);
    CHECK_EQ(p.free_pages, 0);
    CHECK_EQ(p.total_usable, 0);
    CHECK_EQ(count_free(&p), 0);
    for (size_t i = 0; i < CORE_PAGES / 64; i++)
        CHECK_EQ(core_bits[i], ~0ull);
    CHECK_EQ(pmm_alloc_in(&p, 1, 1), PMM_NONE);
}

TEST(core_init_partial_last_word)
{
    /* 100 pages: two words, the bits past page 99 stay "used". */
    uint64_t bits[3] = { 0, 0, 0x1234 };
    struct pmm p;
    pmm_core_init(&p, bits, 100);
    CHECK_EQ(bits[0], ~0ull);
    CHECK_EQ(bits[1], ~0ull);
    CHECK_EQ(bits[2], 0x1234); /* not touched */
    pmm_mark_free(&p, 0, 100 * PG);
    CHECK_EQ(p.free_pages, 0); /* all 100 pages are below 1 MiB */
    CHECK(!pmm_is_free(&p, 99 * PG));
    CHECK(!pmm_is_free(&p, 100 * PG)); /* past the end */
}

TEST(mark_free_shrinks_to_whole_pages)
{
    struct pmm p;
    core(&p);
    /* [2 MiB + 1, 2 MiB + 1 + 3 pages) holds only pages 513 and 514 whole. */
    pmm_mark_free(&p, 2 * MiB + 1, 3 * PG);
    CHECK(!pmm_is_free(&p, 2 * MiB));
    CHECK(pmm_is_free(&p, 2 * MiB + PG));
    CHECK(pmm_is_free(&p, 2 * MiB + 2 * PG));
    CHECK(!pmm_is_free(&p, 2 * MiB + 3 * PG));
    CHECK_EQ(p.free_pages, 2);
    CHECK_EQ(p.total_usable, 2);
    CHECK_EQ(count_free(&p), 2);
}

TEST(mark_free_less_than_a_page_frees_nothing)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 3 * MiB + 1, PG);
    pmm_mark_free(&p, 3 * MiB, PG - 1);
    pmm_mark_free(&p, 3 * MiB, 0);
    CHECK_EQ(p.free_pages, 0);
    CHECK_EQ(count_free(&p), 0);
}

TEST(mark_free_twice_counts_once)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 4 * MiB, 10 * PG);
    pmm_mark_free(&p, 4 * MiB + 5 * PG, 10 * PG);
    CHECK_EQ(p.free_pages, 15);
    CHECK_EQ(p.total_usable, 15);
    CHECK_EQ(count_free(&p), 15);
}

TEST(mark_used_grows_to_whole_pages)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 4 * MiB, 1 * MiB);
    CHECK_EQ(p.free_pages, 256);
    /* [4 MiB + 100, 4 MiB + 5100) touches pages 1024 and 1025. */
    pmm_mark_used(&p, 4 * MiB + 100, 5000);
    CHECK(!pmm_is_free(&p, 4 * MiB));
    CHECK(!pmm_is_free(&p, 4 * MiB + PG));
    CHECK(pmm_is_free(&p, 4 * MiB + 2 * PG));
    CHECK_EQ(p.free_pages, 254);
    CHECK_EQ(count_free(&p), 254);
    /* One byte at the end of a page takes the whole page. */
    pmm_mark_used(&p, 5 * MiB - 1, 1);
    CHECK(!pmm_is_free(&p, 5 * MiB - PG));
    CHECK(pmm_is_free(&p, 5 * MiB - 2 * PG));
    CHECK_EQ(p.free_pages, 253);
}

TEST(mark_used_zero_size_is_noop)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 4 * MiB, 4 * PG);
    pmm_mark_used(&p, 4 * MiB + 10, 0);
    CHECK_EQ(p.free_pages, 4);
    CHECK(pmm_is_free(&p, 4 * MiB));
}

TEST(mark_used_already_used_keeps_counts)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 4 * MiB, 4 * PG);
    pmm_mark_used(&p, 2 * MiB, 2 * MiB + PG); /* 1 free page inside */
    CHECK_EQ(p.free_pages, 3);
    CHECK_EQ(count_free(&p), 3);
}

TEST(pages_below_1mib_never_free)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 0, 4 * MiB);
    CHECK(!pmm_is_free(&p, 0));
    CHECK(!pmm_is_free(&p, PMM_LOW_LIMIT - PG));
    CHECK(pmm_is_free(&p, PMM_LOW_LIMIT));
    CHECK_EQ(p.free_pages, (4 * MiB - PMM_LOW_LIMIT) / PG);
    CHECK_EQ(count_free(&p), p.free_pages);
    for (;;) {
        uint64_t pa = pmm_alloc_in(&p, 1, 1);
        if (pa == PMM_NONE)
            break;
        CHECK(pa >= PMM_LOW_LIMIT);
    }
}

TEST(mark_free_past_the_end_is_clipped)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 8 * MiB, 1ull << 40);
    CHECK_EQ(p.free_pages, CORE_PAGES - 8 * MiB / PG);
    /* base + size wraps around */
    pmm_mark_free(&p, 2 * MiB, ~0ull - PG);
    CHECK_EQ(p.free_pages, CORE_PAGES - 2 * MiB / PG);
    CHECK(!pmm_is_free(&p, CORE_PAGES * PG));
    pmm_mark_used(&p, 12 * MiB, ~0ull);
    CHECK_EQ(p.free_pages, 12 * MiB / PG - 2 * MiB / PG);
}

TEST(alloc_zero_or_too_many_fails)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 2 * MiB, 8 * PG);
    CHECK_EQ(pmm_alloc_in(&p, 0, 1), PMM_NONE);
    CHECK_EQ(pmm_alloc_in(&p, 9, 1), PMM_NONE);
    CHECK_EQ(p.free_pages, 8);
    CHECK_EQ(pmm_alloc_in(&p, 8, 0), 2 * MiB); /* align 0 means 1 */
    CHECK_EQ(p.free_pages, 0);
}

TEST(alloc_respects_alignment)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 1 * MiB, 15 * MiB);
    uint64_t a = pmm_alloc_in(&p, 1, 1);
    CHECK_EQ(a, 1 * MiB);
    uint64_t b = pmm_alloc_in(&p, 1, 512);
    CHECK_EQ(b, 2 * MiB);
    uint64_t c = pmm_alloc_in(&p, 3, 512);
    CHECK_EQ(c, 4 * MiB);
    uint64_t d = pmm_alloc_in(&p, 2, 16);
    CHECK_EQ(d % (16 * PG), 0);
    /* Block the next 2 MiB boundary: the allocation moves past it. */
    pmm_mark_used(&p, 6 * MiB, PG);
    uint64_t e = pmm_alloc_in(&p, 512, 512);
    CHECK_EQ(e, 8 * MiB);
    CHECK_EQ(p.free_pages, 15 * MiB / PG - 1 - 1 - 3 - 2 - 1 - 512);
}

TEST(alloc_fails_when_fragmented)
{
    struct pmm p;
    core(&p);
    /* Every other page free: 1-page allocations work, 2-page ones don't. */
    for (uint64_t i = 0; i < 64; i++)
        pmm_mark_free(&p, 2 * MiB + 2 * i * PG, PG);
    CHECK_EQ(p.free_pages, 64);
    CHECK_EQ(pmm_alloc_in(&p, 2, 1), PMM_NONE);
    CHECK_EQ(p.free_pages, 64);
    uint64_t a = pmm_alloc_in(&p, 1, 1);
    CHECK(a != PMM_NONE);
    CHECK_EQ((a - 2 * MiB) / PG % 2, 0);
}

/* Allocate with mixed sizes and alignments until nothing fits, then single
 * pages until exhausted: no page twice, only free pages, every free page. */
TEST(allocations_never_overlap_and_use_every_page)
{
    static uint8_t owner[CORE_PAGES];
    memset(owner, 0, sizeof(owner));
    struct pmm p;
    core(&p);
    /* A ragged free set: several ranges with odd edges. */
    pmm_mark_free(&p, 1 * MiB + 123, 3 * MiB);
    pmm_mark_free(&p, 5 * MiB, 37 * PG);
    pmm_mark_free(&p, 6 * MiB + 5 * PG, 1 * MiB + 77);
    pmm_mark_free(&p, 9 * MiB, 7 * MiB);
    pmm_mark_used(&p, 10 * MiB + 3 * PG, 5 * PG);
    bool was_free[CORE_PAGES];
    for (uint64_t i = 0; i < CORE_PAGES; i++)
        was_free[i] = pmm_is_free(&p, i * PG);
    uint64_t initial = p.free_pages, got = 0;
    CHECK_EQ(count_free(&p), initial);

    uint32_t seed = 12345;
    int fails = 0;
    while (fails < 50) {
        seed = seed * 1103515245u + 12345u;
        uint64_t n = 1 + (seed >> 16) % 17, align = 1ull << ((seed >> 8) % 4);
        uint64_t pa = pmm_alloc_in(&p, n, align);
        if (pa == PMM_NONE) {
            fails++;
            continue;
        }
        CHECK_EQ(pa % (align * PG), 0);
        for (uint64_t j = 0; j < n; j++) {
            uint64_t i = pa / PG + j;
            if (i >= CORE_PAGES || owner[i] || !was_free[i]) {
                TEST_FAIL("page %llu handed out wrongly", (unsigned long long)i);
                return;
            }
            owner[i] = 1;
        }
        got += n;
    }
    for (;;) {
        uint64_t pa = pmm_alloc_in(&p, 1, 1);
        if (pa == PMM_NONE)
            break;
        uint64_t i = pa / PG;
        if (i >= CORE_PAGES || owner[i] || !was_free[i]) {
            TEST_FAIL("page %llu handed out wrongly", (unsigned long long)i);
            return;
        }
        owner[i] = 1;
        got++;
    }
    CHECK_EQ(got, initial);
    CHECK_EQ(p.free_pages, 0);
    CHECK_EQ(count_free(&p), 0);
    for (uint64_t i = 0; i < CORE_PAGES; i++)
        CHECK_EQ(owner[i], was_free[i]);
}

TEST(free_then_reallocate)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 2 * MiB, 16 * PG);
    uint64_t a = pmm_alloc_in(&p, 4, 1);
    uint64_t b = pmm_alloc_in(&p, 12, 1);
    CHECK(a != PMM_NONE && b != PMM_NONE);
    CHECK_EQ(p.free_pages, 0);
    CHECK_EQ(pmm_free_in(&p, a, 4), 0);
    CHECK_EQ(p.free_pages, 4);
    CHECK(pmm_is_free(&p, a));
    CHECK_EQ(pmm_alloc_in(&p, 4, 1), a); /* the only place left */
    CHECK_EQ(pmm_free_in(&p, b + 5 * PG, 1), 0);
    CHECK_EQ(pmm_alloc_in(&p, 1, 1), b + 5 * PG);
    CHECK_EQ(p.free_pages, 0);
}

TEST(free_detects_double_free)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 2 * MiB, 16 * PG);
    uint64_t a = pmm_alloc_in(&p, 4, 1);
    CHECK_EQ(pmm_free_in(&p, a, 4), 0);
    CHECK_EQ(pmm_free_in(&p, a, 4), -1);
    CHECK_EQ(pmm_free_in(&p, a + PG, 1), -1);
    CHECK_EQ(p.free_pages, 16);
}

TEST(free_partially_free_range_changes_nothing)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 2 * MiB, 16 * PG);
    uint64_t a = pmm_alloc_in(&p, 4, 1);
    CHECK_EQ(pmm_free_in(&p, a + 2 * PG, 1), 0);
    /* Pages a, a+1 used, a+2 free, a+3 used: freeing all four must fail
     * and leave a, a+1 and a+3 allocated. */
    CHECK_EQ(pmm_free_in(&p, a, 4), -1);
    CHECK(!pmm_is_free(&p, a));
    CHECK(!pmm_is_free(&p, a + PG));
    CHECK(!pmm_is_free(&p, a + 3 * PG));
    CHECK_EQ(p.free_pages, 13);
}

TEST(free_rejects_misaligned_and_out_of_range)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 2 * MiB, 16 * PG);
    uint64_t a = pmm_alloc_in(&p, 4, 1);
    CHECK_EQ(pmm_free_in(&p, a + 1, 1), -1);
    CHECK_EQ(pmm_free_in(&p, a + PG / 2, 1), -1);
    CHECK_EQ(pmm_free_in(&p, CORE_PAGES * PG, 1), -1);
    CHECK_EQ(pmm_free_in(&p, (CORE_PAGES - 1) * PG, 2), -1);
    CHECK_EQ(pmm_free_in(&p, a, ~0ull), -1);            /* first + n wraps */
    CHECK_EQ(pmm_free_in(&p, ~0ull & ~(PG - 1), 2), -1); /* first + n wraps */
    CHECK_EQ(p.free_pages, 12);
    CHECK(!pmm_is_free(&p, a));
}

TEST(alloc_wraps_around_to_find_freed_low_pages)
{
    struct pmm p;
    core(&p);
    pmm_mark_free(&p, 2 * MiB, 64 * PG);
    uint64_t first = pmm_alloc_in(&p, 8, 1);
    while (pmm_alloc_in(&p, 8, 1) != PMM_NONE)
        ;
    CHECK_EQ(p.free_pages, 0);
    CHECK_EQ(pmm_free_in(&p, first, 8), 0);
    CHECK_EQ(pmm_alloc_in(&p, 8, 1), first);
}

/* ----------------------------------------------------- pmm_init_efi ---- */

#define FAKE_MEM (64 * MiB)
#define DESC_SIZE 48 /* firmware stride, larger than struct efi_memdesc */
#define MAX_DESC 32

static uint8_t *fake_mem;
static int to_virt_bad;

static void *to_virt(uint64_t pa)
{
    if (!fake_mem)
        fake_mem = aligned_alloc(PG, FAKE_MEM);
    if (pa >= FAKE_MEM - PG) {
        to_virt_bad = 1;
        return fake_mem;
    }
    return fake_mem + pa;
}

struct map {
    uint8_t raw[MAX_DESC * DESC_SIZE];
    uint32_t n;
};

static void add(struct map *m, uint32_t type, uint64_t phys, uint64_t bytes)
{
    uint8_t *slot = m->raw + m->n++ * DESC_SIZE;
    memset(slot, 0xa5, DESC_SIZE); /* junk in the padding */
    struct efi_memdesc d = { .type = type, .pad = 0, .phys = phys, .virt = 0, .pages = bytes / PG, .attr = 0xf };
    memcpy(slot, &d, sizeof(d));
}

static const struct efi_memdesc *desc(const struct map *m, uint32_t i)
{
    return (const struct efi_memdesc *)(m->raw + i * DESC_SIZE);
}

static bool allocatable_type(uint32_t t)
{
    return t == EFI_CONVENTIONAL || t == EFI_BS_CODE || t == EFI_BS_DATA || t == EFI_LOADER_CODE ||
           t == EFI_LOADER_DATA;
}

static void reserve(struct bootinfo *bi, const char *name, uint64_t base, uint64_t size)
{
    struct bi_region *r = &bi->reserved[bi->nreserved++];
    strncpy(r->name, name, sizeof(r->name) - 1);
    r->base = base;
    r->size = size;
}

/* Whether page i should be allocatable, decided independently of the
 * allocator from the map, the loader's regions and the bitmap. */
static bool should_be_usable(const struct map *m, const struct bootinfo *bi, const struct pmm *p, uint64_t i)
{
    uint64_t lo = i * PG, hi = lo + PG;
    if (lo < PMM_LOW_LIMIT)
        return false;
    bool in_usable = false;
    for (uint32_t k = 0; k < m->n; k++) {
        const struct efi_memdesc *d = desc(m, k);
        uint64_t end = d->phys + d->pages * PG;
        if (lo < end && d->phys < hi) {
            if (!allocatable_type(d->type))
                return false;
            in_usable = true;
        }
    }
    for (uint32_t r = 0; r < bi->nreserved; r++)
        if (lo < bi->reserved[r].base + bi->reserved[r].size && bi->reserved[r].base < hi)
            return false;
    if (lo < p->bitmap_phys + p->bitmap_bytes && p->bitmap_phys < hi)
        return false;
    return in_usable;
}

/* Allocate every page one at a time and compare with should_be_usable. */
static void check_every_page(const struct map *m, const struct bootinfo *bi, struct pmm *p)
{
    static uint8_t got[FAKE_MEM / PG];
    memset(got, 0, sizeof(got));
    uint64_t initial = p->free_pages, n = 0;
    for (;;) {
        uint64_t pa = pmm_alloc_in(p, 1, 1);
        if (pa == PMM_NONE)
            break;
        uint64_t i = pa / PG;
        if (i >= FAKE_MEM / PG || got[i]) {
            TEST_FAIL("page 0x%llx out of range or handed out twice", (unsigned long long)pa);
            return;
        }
        if (!should_be_usable(m, bi, p, i)) {
            TEST_FAIL("page 0x%llx handed out but must not be", (unsigned long long)pa);
            return;
        }
        got[i] = 1;
        n++;
    }
    CHECK_EQ(n, initial);
    for (uint64_t i = 0; i < p->npages; i++)
        if (should_be_usable(m, bi, p, i) && !got[i]) {
            TEST_FAIL("usable page 0x%llx never handed out", (unsigned long long)(i * PG));
            return;
        }
}

/* A PC-like map over 64 MiB with every kind of range. */
static void pc_map(struct map *m, struct bootinfo *bi)
{
    memset(m, 0, sizeof(*m));
    memset(bi, 0, sizeof(*bi));
    add(m, EFI_CONVENTIONAL, 0, 0x9f000);
    add(m, EFI_RESERVED, 0x9f000, 0x1000);
    add(m, EFI_RESERVED, 0xa0000, 0x60000);
    add(m, EFI_CONVENTIONAL, 1 * MiB, 7 * MiB);
    add(m, EFI_LOADER_CODE, 8 * MiB, 2 * MiB);
    add(m, EFI_LOADER_DATA, 10 * MiB, 2 * MiB);
    add(m, EFI_BS_CODE, 12 * MiB, 4 * MiB);
    add(m, EFI_BS_DATA, 16 * MiB, 4 * MiB);
    add(m, EFI_RT_CODE, 20 * MiB, 1 * MiB);
    add(m, EFI_RT_DATA, 21 * MiB, 1 * MiB);
    add(m, EFI_ACPI_RECLAIM, 22 * MiB, 1 * MiB);
    add(m, EFI_ACPI_NVS, 23 * MiB, 1 * MiB);
    add(m, EFI_CONVENTIONAL, 24 * MiB, 16 * MiB);
    add(m, EFI_RESERVED, 30 * MiB, 1 * MiB); /* overlaps the range above */
    add(m, EFI_UNUSABLE, 40 * MiB, 1 * MiB);
    add(m, EFI_CONVENTIONAL, 41 * MiB, 19 * MiB);
    add(m, EFI_RESERVED, 60 * MiB, 4 * MiB);
    add(m, EFI_MMIO, 0xfec00000, 0x1000);
    add(m, EFI_MMIO, 0xfee00000, 0x1000);
    add(m, EFI_MMIO_PORT, 0xffc00000, 0x400000);
    reserve(bi, "kernel", 8 * MiB, 2 * MiB);
    reserve(bi, "boot-info", 10 * MiB + 0x123, 5000);   /* two pages, unaligned */
    reserve(bi, "guest-kernel", 45 * MiB, 4 * MiB + 1); /* 1025 pages */
}

TEST(efi_hands_out_only_usable_pages)
{
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    pc_map(&m, &bi);
    to_virt_bad = 0;
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    CHECK(!to_virt_bad);
    CHECK_EQ(p.npages, 60 * MiB / PG); /* top of the last allocatable range */
    CHECK(p.bitmap == (uint64_t *)(fake_mem + p.bitmap_phys));
    CHECK(p.bitmap_bytes >= p.npages / 8);
    CHECK_EQ(p.bitmap_bytes % PG, 0);
    CHECK(p.bitmap_phys >= PMM_LOW_LIMIT);
    CHECK_EQ(p.free_pages, count_free(&p));
    check_every_page(&m, &bi, &p);
}

TEST(efi_expected_free_page_count)
{
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    pc_map(&m, &bi);
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    /* Allocatable: 1..8 (7), 8..20 (12), 24..40 (16), 41..60 (19) MiB = 54 MiB;
     * minus 30..31 (reserved overlap), kernel 2 MiB, boot-info 2 pages,
     * guest-kernel 1025 pages and the one bitmap page. */
    uint64_t want = 54 * MiB / PG - 256 - 512 - 2 - 1025 - 1;
    CHECK_EQ(p.bitmap_bytes, PG);
    CHECK_EQ(p.free_pages, want);
}

TEST(efi_summary)
{
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    pc_map(&m, &bi);
    memset(&sum, 0x5a, sizeof(sum));
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    uint64_t loader = 2 * MiB + 2 * PG + 4 * MiB + PG;
    CHECK_EQ(sum.reserved_by_loader, loader);
    CHECK_EQ(sum.usable, 0x9f000 + 54 * MiB - loader);
    CHECK_EQ(sum.firmware_runtime, 2 * MiB);
    CHECK_EQ(sum.acpi, 2 * MiB);
    CHECK_EQ(sum.mmio, 0x1000 + 0x1000 + 0x400000);
    CHECK_EQ(sum.other, 0x1000 + 0x60000 + 1 * MiB + 1 * MiB + 4 * MiB);
    /* total: everything but MMIO, reserved and unusable */
    CHECK_EQ(sum.total, 0x9f000 + 54 * MiB + 2 * MiB + 2 * MiB);
}

TEST(efi_bitmap_avoids_loader_regions)
{
    /* The first range above 1 MiB is taken by the loader, and the second
     * starts with a region that ends mid-page: the bitmap goes after it. */
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    memset(&m, 0, sizeof(m));
    memset(&bi, 0, sizeof(bi));
    add(&m, EFI_CONVENTIONAL, 0, 640 * KiB);
    add(&m, EFI_LOADER_DATA, 1 * MiB, 3 * MiB);
    add(&m, EFI_CONVENTIONAL, 4 * MiB, 60 * MiB);
    reserve(&bi, "kernel", 1 * MiB, 3 * MiB);
    reserve(&bi, "boot-info", 4 * MiB, PG + 0x800);
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    CHECK_EQ(p.bitmap_phys, 4 * MiB + 2 * PG);
    check_every_page(&m, &bi, &p);
}

TEST(efi_bitmap_skips_range_too_small)
{
    /* 4 GiB of RAM above the 4 GiB line needs a 256 KiB bitmap: the
     * 16 KiB range at 1 MiB cannot hold it. */
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    memset(&m, 0, sizeof(m));
    memset(&bi, 0, sizeof(bi));
    add(&m, EFI_CONVENTIONAL, 1 * MiB, 16 * KiB);
    add(&m, EFI_CONVENTIONAL, 2 * MiB, 30 * MiB);
    add(&m, EFI_CONVENTIONAL, 4096 * MiB, 4096 * MiB);
    to_virt_bad = 0;
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    CHECK(!to_virt_bad);
    CHECK_EQ(p.npages, 8192 * MiB / PG);
    CHECK_EQ(p.bitmap_bytes, 256 * KiB);
    CHECK_EQ(p.bitmap_phys, 2 * MiB);
    CHECK_EQ(p.free_pages, (16 * KiB + 30 * MiB + 4096 * MiB - 256 * KiB) / PG);
    CHECK(pmm_is_free(&p, 1 * MiB));
    CHECK(!pmm_is_free(&p, 2 * MiB));
    CHECK(!pmm_is_free(&p, 2 * MiB + 256 * KiB - PG));
    CHECK(pmm_is_free(&p, 2 * MiB + 256 * KiB));
}

TEST(efi_range_straddling_1mib_starts_bitmap_at_1mib)
{
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    memset(&m, 0, sizeof(m));
    memset(&bi, 0, sizeof(bi));
    add(&m, EFI_CONVENTIONAL, 0, 16 * MiB);
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    CHECK_EQ(p.bitmap_phys, PMM_LOW_LIMIT);
    CHECK_EQ(p.free_pages, 15 * MiB / PG - 1);
    check_every_page(&m, &bi, &p);
}

/* The allocator already treats a page that the map describes twice (once
 * usable, once not) as unusable; the bitmap must not be put there either,
 * or the kernel writes over firmware runtime memory. */
TEST(efi_bitmap_not_placed_in_overlapping_unusable_range)
{
    /* Regression (was a bug in kernel/pmm_core.c:166-188): the bitmap placement only checks
     * bi->reserved, not non-allocatable descriptors overlapping the
     * allocatable one, so here the bitmap lands at 1 MiB, inside the
     * runtime-data range [1 MiB, 2 MiB), and pmm_core_init memsets it. */
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    memset(&m, 0, sizeof(m));
    memset(&bi, 0, sizeof(bi));
    add(&m, EFI_CONVENTIONAL, 1 * MiB, 31 * MiB);
    add(&m, EFI_RT_DATA, 1 * MiB, 1 * MiB);
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), 0);
    CHECK(p.bitmap_phys >= 2 * MiB);
    check_every_page(&m, &bi, &p);
}

TEST(efi_no_room_for_bitmap)
{
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    memset(&m, 0, sizeof(m));
    memset(&bi, 0, sizeof(bi));
    /* Usable memory only below 1 MiB and inside a loader region. */
    add(&m, EFI_CONVENTIONAL, 0, 640 * KiB);
    add(&m, EFI_RESERVED, 640 * KiB, 384 * KiB);
    add(&m, EFI_LOADER_DATA, 1 * MiB, 4 * MiB);
    add(&m, EFI_ACPI_NVS, 5 * MiB, 1 * MiB);
    reserve(&bi, "kernel", 1 * MiB, 4 * MiB);
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), -1);
}

TEST(efi_no_usable_memory_at_all)
{
    struct map m;
    struct bootinfo bi;
    struct pmm p;
    struct pmm_summary sum;
    memset(&m, 0, sizeof(m));
    memset(&bi, 0, sizeof(bi));
    add(&m, EFI_RESERVED, 0, 1 * MiB);
    add(&m, EFI_MMIO, 0xfec00000, 0x1000);
    CHECK_EQ(pmm_init_efi(&p, m.raw, m.n * DESC_SIZE, DESC_SIZE, &bi, to_virt, &sum), -1);
}

int main(void) { return test_main(); }
