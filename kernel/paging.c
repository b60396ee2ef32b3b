#include "paging.h"
#include "bootinfo.h"
#include "layout.h"
#include "pmm.h"
#include "cpu.h"
#include "log.h"
#include "panic.h"
#include <string.h>

/* Where the image is linked and where it lies (virt_to_phys). */
static uint64_t image_base, image_phys;

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __data_end[];
extern char __image_start[], boot_stack_guard[];

static uint64_t *pml4;
static uint64_t pml4_phys;
static uint64_t physmap_top;
static bool have_1g, have_nx;

static uint64_t *table(uint64_t entry) { return phys_to_virt(entry & PTE_ADDR); }

static uint64_t new_table(void)
{
    uint64_t pa = pmm_alloc(1, 1);
    memset(phys_to_virt(pa), 0, PAGE_SIZE);
    return pa;
}

/* Replace a large-page entry at `level` (2 = 1 GiB, 1 = 2 MiB) by a table
 * of the next size down with the same attributes. */
static void split(uint64_t *entry, int level)
{
    uint64_t e = *entry, pa = e & PTE_ADDR & ~((1ull << (12 + 9 * level)) - 1);
    uint64_t flags = e & ~PTE_ADDR;
    uint64_t child = new_table();
    uint64_t *t = phys_to_virt(child);
    uint64_t step = 1ull << (12 + 9 * (level - 1));
    for (int i = 0; i < 512; i++)
        t[i] = (pa + i * step) | (level == 1 ? flags & ~PTE_PS : flags);
    *entry = child | PTE_P | PTE_W;
}

/* Map [va, va+size) to pa with flags (P is implied), using the largest
 * pages alignment allows, splitting large pages that are in the way. */
static void map_range(uint64_t va, uint64_t pa, uint64_t size, uint64_t flags)
{
    if (!have_nx)
        flags &= ~PTE_NX;
    while (size) {
        uint64_t *t = pml4;
        int level = 3; /* 3: PML4, 2: PDPT, 1: PD, 0: PT */
        for (;;) {
            uint64_t idx = (va >> (12 + 9 * level)) & 511;
            uint64_t span = 1ull << (12 + 9 * level);
            bool leaf_ok = level == 0 || ((level == 1 || (level == 2 && have_1g)) && !(va & (span - 1)) &&
                                          !(pa & (span - 1)) && size >= span);
            if (leaf_ok) {
                /* A table already here (from an earlier, finer mapping) is
                 * kept: descend and overwrite its entries instead. */
                if (level > 0 && (t[idx] & PTE_P) && !(t[idx] & PTE_PS)) {
                    t = table(t[idx]);
                    level--;
                    continue;
                }
                t[idx] = pa | flags | PTE_P | (level ? PTE_PS : 0);
                va += span;
                pa += span;
                size -= span;
                break;
            }
            if (!(t[idx] & PTE_P))
                t[idx] = new_table() | PTE_P | PTE_W;
            else if (t[idx] & PTE_PS)
                split(&t[idx], level);
            t = table(t[idx]);
            level--;
        }
    }
}

static void unmap_page(uint64_t va)
{
    uint64_t *t = pml4;
    for (int level = 3; level > 0; level--) {
        uint64_t *e = &t[(va >> (12 + 9 * level)) & 511];
        if (!(*e & PTE_P))
            return;
        if (*e & PTE_PS)
            split(e, level);
        t = table(*e);
    }
    t[(va >> 12) & 511] = 0;
}

uint64_t paging_physmap_top(void) { return physmap_top; }

void paging_init(const struct bootinfo *bi)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (d & (1u << 16)) /* PAT */
        wrmsr(MSR_IA32_PAT, 0x0007010600070106ull); /* WB WC UC- UC, twice */
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a >= 0x80000001) {
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        have_nx = (d >> 20) & 1;
        have_1g = (d >> 26) & 1;
    }
    if (have_nx)
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr0(read_cr0() | CR0_WP); /* write protection applies to ring 0 too */

    physmap_top = 4ull << 30;
    for (uint32_t off = 0; off + bi->desc_size <= bi->memmap_size; off += bi->desc_size) {
        const struct efi_memdesc *m = (const void *)((const uint8_t *)bi->memmap + off);
        uint64_t end = m->phys + m->pages * PAGE_SIZE;
        if (end > physmap_top)
            physmap_top = end;
    }
    physmap_top = (physmap_top + (1ull << 30) - 1) & ~((1ull << 30) - 1);

    pml4_phys = new_table();
    pml4 = phys_to_virt(pml4_phys);
    map_range(PHYSMAP_BASE, 0, physmap_top, PTE_W | PTE_NX);

    /* The image, section by section. */
    uint64_t base = (uint64_t)__image_start, kp = bi->kernel_phys;
    image_base = base;
    image_phys = kp;
#define KMAP(start, end, flags) map_range((uint64_t)(start), kp + ((uint64_t)(start) - base), \
                                          (uint64_t)(end) - (uint64_t)(start), flags)
    KMAP(__text_start, __text_end, 0);
    KMAP(__rodata_start, __rodata_end, PTE_NX);
    KMAP(__data_start, __data_end, PTE_W | PTE_NX);
    unmap_page((uint64_t)boot_stack_guard);
    /* No writable alias of code or constants through the physmap. */
    map_range(PHYSMAP_BASE + kp, kp, (uint64_t)__rodata_end - base, PTE_NX);
    unmap_page(PHYSMAP_BASE + kp + ((uint64_t)boot_stack_guard - base));

    write_cr3(pml4_phys);

    for (uint32_t i = 0; i < bi->nreserved; i++)
        if (strcmp(bi->reserved[i].name, "boot-pagetables") == 0)
            pmm_mark_free(&kernel_pmm, bi->reserved[i].base, bi->reserved[i].size);
    log_info("paging", "own page tables: physmap 0-%llu GiB (%s pages), image W^X, NX %s, stack guard page",
             (unsigned long long)(physmap_top >> 30), have_1g ? "1 GiB" : "2 MiB", have_nx ? "on" : "unavailable");
}

uint64_t virt_to_phys(const void *va)
{
    uint64_t v = (uint64_t)va;
    if (v >= KERNEL_VBASE)
        return image_phys + (v - image_base);
    return v - PHYSMAP_BASE;
}

void *paging_map_mmio(uint64_t pa, uint64_t size, enum map_type type)
{
    if (!size || pa + size < pa || pa + size > (1ull << 46))
        return NULL;
    uint64_t start = pa & ~(PAGE_SIZE - 1), end = (pa + size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    map_range(PHYSMAP_BASE + start, start, end - start, PTE_W | PTE_NX | (uint64_t)type);
    write_cr3(pml4_phys); /* flush: attributes of existing mappings changed */
    return phys_to_virt(pa);
}
