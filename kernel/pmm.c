/* The kernel's page allocator over the UEFI memory map (pmm.h). */
#include "pmm.h"
#include "bootinfo.h"
#include "layout.h"
#include "log.h"
#include "panic.h"
#include <string.h>

struct pmm kernel_pmm;

static void *physmap(uint64_t pa) { return phys_to_virt(pa); }

static unsigned long long mib(uint64_t b) { return (unsigned long long)(b >> 20); }

void pmm_init(const struct bootinfo *bi)
{
    struct pmm_summary s;
    if (pmm_init_efi(&kernel_pmm, bi->memmap, bi->memmap_size, bi->desc_size, bi, physmap, &s))
        panic("pmm: no room for the page bitmap in the memory map");
    log_info("mm", "memory: %llu MiB RAM, %llu MiB usable, loader reserved %llu KiB, firmware runtime %llu KiB, "
             "ACPI %llu KiB, other reserved %llu KiB",
             mib(s.total), mib(s.usable), (unsigned long long)(s.reserved_by_loader >> 10),
             (unsigned long long)(s.firmware_runtime >> 10), (unsigned long long)(s.acpi >> 10),
             (unsigned long long)(s.other >> 10));
    log_info("mm", "page allocator: %llu MiB free in %llu pages, bitmap %llu KiB at 0x%llx",
             mib(kernel_pmm.free_pages * PAGE_SIZE), (unsigned long long)kernel_pmm.free_pages,
             (unsigned long long)(kernel_pmm.bitmap_bytes >> 10), (unsigned long long)kernel_pmm.bitmap_phys);
}

uint64_t pmm_try_alloc(uint64_t npages, uint64_t align_pages)
{
    return pmm_alloc_in(&kernel_pmm, npages, align_pages);
}

uint64_t pmm_alloc(uint64_t npages, uint64_t align_pages)
{
    uint64_t pa = pmm_alloc_in(&kernel_pmm, npages, align_pages);
    if (pa == PMM_NONE)
        panic("out of memory: %llu pages (aligned %llu) requested, %llu free", (unsigned long long)npages,
              (unsigned long long)align_pages, (unsigned long long)kernel_pmm.free_pages);
    return pa;
}

void pmm_free(uint64_t pa, uint64_t npages)
{
    if (pmm_free_in(&kernel_pmm, pa, npages))
        panic("pmm: bad free of %llu pages at 0x%llx", (unsigned long long)npages, (unsigned long long)pa);
}

void *pmm_alloc_zeroed(uint64_t npages)
{
    void *p = phys_to_virt(pmm_alloc(npages, 1));
    memset(p, 0, npages * PAGE_SIZE);
    return p;
}
