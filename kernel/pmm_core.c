/* The allocator's core (pmm.h): pure, no I/O, host-testable. */
#include "pmm.h"
#include "bootinfo.h"
#include <string.h>

#define BITS 64

static inline bool used(const struct pmm *p, uint64_t i) { return p->bitmap[i / BITS] >> (i % BITS) & 1; }
static inline void set_used(struct pmm *p, uint64_t i) { p->bitmap[i / BITS] |= 1ull << (i % BITS); }
static inline void set_free(struct pmm *p, uint64_t i) { p->bitmap[i / BITS] &= ~(1ull << (i % BITS)); }

void pmm_core_init(struct pmm *p, uint64_t *bitmap, uint64_t npages)
{
    memset(p, 0, sizeof(*p));
    p->bitmap = bitmap;
    p->npages = npages;
    memset(bitmap, 0xff, (npages + BITS - 1) / BITS * 8);
}

void pmm_mark_free(struct pmm *p, uint64_t base, uint64_t size)
{
    uint64_t first = (base + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t end = (base + size) / PAGE_SIZE;
    if (base + size < base)
        end = ~0ull / PAGE_SIZE;
    if (first < PMM_LOW_LIMIT / PAGE_SIZE)
        first = PMM_LOW_LIMIT / PAGE_SIZE;
    if (end > p->npages)
        end = p->npages;
    for (uint64_t i = first; i < end; i++) {
        if (used(p, i)) {
            set_free(p, i);
            p->free_pages++;
            p->total_usable++;
        }
    }
}

void pmm_mark_used(struct pmm *p, uint64_t base, uint64_t size)
{
    if (!size)
        return;
    uint64_t first = base / PAGE_SIZE;
    uint64_t end = (base + size + PAGE_SIZE - 1) / PAGE_SIZE;
    if (base + size < base)
        end = p->npages;
    if (end > p->npages)
        end = p->npages;
    for (uint64_t i = first; i < end; i++) {
        if (!used(p, i)) {
            set_used(p, i);
            p->free_pages--;
            p->total_usable--;
        }
    }
}

bool pmm_is_free(const struct pmm *p, uint64_t pa)
{
    uint64_t i = pa / PAGE_SIZE;
    return i < p->npages && !used(p, i);
}

static uint64_t search(struct pmm *p, uint64_t from, uint64_t to, uint64_t n, uint64_t align)
{
    uint64_t i = (from + align - 1) / align * align;
    while (i + n <= to) {
        /* Skip whole used words quickly. */
        if (i % BITS == 0 && p->bitmap[i / BITS] == ~0ull) {
            i += BITS;
            i = (i + align - 1) / align * align;
            continue;
        }
        uint64_t j = 0;
        while (j < n && !used(p, i + j))
            j++;
        if (j == n)
            return i;
        i = (i + j + 1 + align - 1) / align * align;
    }
    return PMM_NONE;
}

uint64_t pmm_alloc_in(struct pmm *p, uint64_t npages, uint64_t align_pages)
{
    if (!npages || npages > p->free_pages)
        return PMM_NONE;
    if (!align_pages)
        align_pages = 1;
    uint64_t i = search(p, p->hint, p->npages, npages, align_pages);
    if (i == PMM_NONE)
        i = search(p, 0, p->npages, npages, align_pages);
    if (i == PMM_NONE)
        return PMM_NONE;
    for (uint64_t j = 0; j < npages; j++)
        set_used(p, i + j);
    p->free_pages -= npages;
    p->hint = i + npages;
    return i * PAGE_SIZE;
}

int pmm_free_in(struct pmm *p, uint64_t pa, uint64_t npages)
{
    uint64_t first = pa / PAGE_SIZE;
    if (pa % PAGE_SIZE || first + npages > p->npages || first + npages < first)
        return -1;
    for (uint64_t j = 0; j < npages; j++)
        if (!used(p, first + j))
            return -1;
    for (uint64_t j = 0; j < npages; j++)
        set_free(p, first + j);
    p->free_pages += npages;
    return 0;
}

static bool allocatable(uint32_t type)
{
    switch (type) {
    case EFI_CONVENTIONAL:
    case EFI_BS_CODE:
    case EFI_BS_DATA:
    case EFI_LOADER_CODE:
    case EFI_LOADER_DATA:
        return true;
    default:
        return false;
    }
}

#define DESC(i) ((const struct efi_memdesc *)((const uint8_t *)map + (uint64_t)(i) * desc_size))

int pmm_init_efi(struct pmm *p, const void *map, uint32_t map_size, uint32_t desc_size, const struct bootinfo *bi,
                 void *(*to_virt)(uint64_t), struct pmm_summary *sum)
{
    uint32_t n = map_size / desc_size;
    uint64_t top = 0;
    memset(sum, 0, sizeof(*sum));
    for (uint32_t i = 0; i < n; i++) {
        const struct efi_memdesc *d = DESC(i);
        uint64_t bytes = d->pages * PAGE_SIZE, end = d->phys + bytes;
        if (allocatable(d->type)) {
            if (end > top)
                top = end;
            sum->usable += bytes;
        } else if (d->type == EFI_RT_CODE || d->type == EFI_RT_DATA) {
            sum->firmware_runtime += bytes;
        } else if (d->type == EFI_ACPI_RECLAIM || d->type == EFI_ACPI_NVS) {
            sum->acpi += bytes;
        } else if (d->type == EFI_MMIO || d->type == EFI_MMIO_PORT) {
            sum->mmio += bytes;
        } else {
            sum->other += bytes;
        }
        if (d->type != EFI_MMIO && d->type != EFI_MMIO_PORT && d->type != EFI_RESERVED && d->type != EFI_UNUSABLE)
            sum->total += bytes;
    }
    for (uint32_t i = 0; i < bi->nreserved; i++)
        sum->reserved_by_loader += (bi->reserved[i].size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (sum->usable >= sum->reserved_by_loader)
        sum->usable -= sum->reserved_by_loader;

    uint64_t npages = top / PAGE_SIZE;
    uint64_t bytes = ((npages + BITS - 1) / BITS * 8 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    /* Place the bitmap in the first allocatable range above 1 MiB that
     * holds it and overlaps nothing the loader reserved. */
    uint64_t where = PMM_NONE;
    for (uint32_t i = 0; i < n && where == PMM_NONE; i++) {
        const struct efi_memdesc *d = DESC(i);
        if (!allocatable(d->type))
            continue;
        uint64_t lo = d->phys < PMM_LOW_LIMIT ? PMM_LOW_LIMIT : d->phys, hi = d->phys + d->pages * PAGE_SIZE;
        for (uint64_t cand = lo; cand + bytes <= hi;) {
            uint64_t bump = 0;
            for (uint32_t r = 0; r < bi->nreserved; r++) {
                const struct bi_region *g = &bi->reserved[r];
                if (cand < g->base + g->size && g->base < cand + bytes) {
                    uint64_t e = (g->base + g->size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
                    if (e > bump)
                        bump = e;
                }
            }
            /* Nor over a range the map also describes as unusable. */
            for (uint32_t j = 0; j < n; j++) {
                const struct efi_memdesc *u = DESC(j);
                uint64_t ue = u->phys + u->pages * PAGE_SIZE;
                if (!allocatable(u->type) && cand < ue && u->phys < cand + bytes && ue > bump)
                    bump = (ue + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
            }
            if (!bump) {
                where = cand;
                break;
            }
            cand = bump;
        }
    }
    if (where == PMM_NONE)
        return -1;
    pmm_core_init(p, to_virt(where), npages);
    for (uint32_t i = 0; i < n; i++) {
        const struct efi_memdesc *d = DESC(i);
        if (allocatable(d->type))
            pmm_mark_free(p, d->phys, d->pages * PAGE_SIZE);
    }
    /* A page described twice (once usable, once not) stays unusable. */
    for (uint32_t i = 0; i < n; i++) {
        const struct efi_memdesc *d = DESC(i);
        if (!allocatable(d->type))
            pmm_mark_used(p, d->phys, d->pages * PAGE_SIZE);
    }
    for (uint32_t r = 0; r < bi->nreserved; r++)
        pmm_mark_used(p, bi->reserved[r].base, bi->reserved[r].size);
    pmm_mark_used(p, where, bytes);
    p->bitmap_phys = where;
    p->bitmap_bytes = bytes;
    return 0;
}
