/* The hypervisor's virtual address space, shared by the loader (which builds
 * the first page tables) and the kernel (which replaces them).
 *
 *   0xffff800000000000  physmap: all physical memory, linearly (NX)
 *   0xffffffff80000000  the hypervisor image, linked by linker.ld
 *
 * The lower half is unmapped once the kernel runs on its own tables, so a
 * stray NULL or guest-physical pointer faults instead of corrupting. */
#ifndef KERNEL_LAYOUT_H
#define KERNEL_LAYOUT_H

#define PHYSMAP_BASE 0xffff800000000000ull
#define KERNEL_VBASE 0xffffffff80000000ull

#ifndef __ASSEMBLER__
#include <stdint.h>
static inline void *phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)(pa + PHYSMAP_BASE); }
#endif

#endif
