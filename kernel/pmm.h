/* Physical page allocator: one bit per 4 KiB page (1 = in use) over
 * [0, top of allocatable memory). Only memory UEFI reports as conventional,
 * boot-services or loader memory is ever handed out, minus what the loader
 * reserved (kernel image, boot-info, loaded files) and minus the first MiB.
 * Firmware runtime, ACPI and MMIO regions are never touched.
 *
 * The core works on a caller-provided bitmap so host unit tests run it. */
#ifndef KERNEL_PMM_H
#define KERNEL_PMM_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define PAGE_SIZE 4096ull
#define PMM_NONE (~0ull)
#define PMM_LOW_LIMIT (1ull << 20)

struct bootinfo;

struct pmm {
    uint64_t *bitmap;
    uint64_t npages; /* pages covered by the bitmap */
    uint64_t free_pages;
    uint64_t total_usable; /* pages ever marked free */
    uint64_t hint;
    uint64_t bitmap_phys, bitmap_bytes;
};

/* Summary of the firmware memory map, for the boot log. */
struct pmm_summary {
    uint64_t total, usable, reserved_by_loader, firmware_runtime, acpi, mmio, other;
};

/* Pure core. */
void pmm_core_init(struct pmm *p, uint64_t *bitmap, uint64_t npages);
void pmm_mark_free(struct pmm *p, uint64_t base, uint64_t size); /* shrinks to whole pages */
void pmm_mark_used(struct pmm *p, uint64_t base, uint64_t size); /* grows to whole pages */
uint64_t pmm_alloc_in(struct pmm *p, uint64_t npages, uint64_t align_pages);
int pmm_free_in(struct pmm *p, uint64_t pa, uint64_t npages); /* -1: double free or out of range */
bool pmm_is_free(const struct pmm *p, uint64_t pa);

/* Set up from a UEFI memory map. to_virt maps a physical address to a
 * pointer (the kernel's physmap; a test's fake memory). Returns 0 or -1
 * when no room was found for the bitmap. */
int pmm_init_efi(struct pmm *p, const void *map, uint32_t map_size, uint32_t desc_size,
                 const struct bootinfo *bi, void *(*to_virt)(uint64_t), struct pmm_summary *sum);

/* The kernel's allocator. */
extern struct pmm kernel_pmm;
void pmm_init(const struct bootinfo *bi);
uint64_t pmm_alloc(uint64_t npages, uint64_t align_pages); /* panics when out of memory */
uint64_t pmm_try_alloc(uint64_t npages, uint64_t align_pages);
void pmm_free(uint64_t pa, uint64_t npages);
/* A zeroed page, returned as a kernel pointer. */
void *pmm_alloc_zeroed(uint64_t npages);

#endif
