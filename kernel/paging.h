/* The kernel's own page tables (layout.h): W^X image, NX physmap. */
#ifndef KERNEL_PAGING_H
#define KERNEL_PAGING_H

#include <stdint.h>

struct bootinfo;

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* Memory types through PAT entries 0..3, which paging_init() programs as
 * WB, WC, UC-, UC (SDM Vol. 3A, 12.12 "Page Attribute Table"). */
enum map_type { MAP_WB = 0, MAP_WC = PTE_PWT, MAP_UC = PTE_PCD | PTE_PWT };

void paging_init(const struct bootinfo *bi);

/* Give [pa, pa+size) the memory type in the physmap (mapping it first if
 * it lies above the RAM the physmap covers) and return its address. */
void *paging_map_mmio(uint64_t pa, uint64_t size, enum map_type type);

/* The physical address behind a hypervisor virtual address: the physmap
 * or the image (a static buffer). For handing buffers to DMA engines;
 * a buffer spanning pages is physically contiguous in either region. */
uint64_t virt_to_phys(const void *va);

/* The physical top of the physmap. */
uint64_t paging_physmap_top(void);

#endif
