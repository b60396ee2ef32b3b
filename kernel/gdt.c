/* The host GDT and TSS. Long mode ignores segment bases and limits, but a
 * TSS is still needed for the interrupt stack table: NMI, #DF and #MC run
 * on stacks of their own, so a corrupt or overflowed kernel stack still
 * yields a report (Intel SDM Vol. 3A, 6.14.5 "Interrupt Stack Table"). */
#include <stdint.h>
#include <string.h>
#include "trap.h"
#include "gdt.h"

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

static struct tss tss;
static uint64_t gdt[5];
static uint8_t ist_stacks[3][16384] __attribute__((aligned(16)));

void gdt_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull; /* 64-bit code, DPL 0 */
    gdt[2] = 0x00cf92000000ffffull; /* data, DPL 0 */
    memset(&tss, 0, sizeof(tss));
    for (int i = 0; i < 3; i++)
        tss.ist[i] = (uint64_t)(uintptr_t)&ist_stacks[i][sizeof(ist_stacks[i])];
    tss.iomap_base = sizeof(tss); /* no I/O bitmap */
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;
    /* 64-bit available TSS descriptor (type 9), 16 bytes (SDM 3A, 8.2.3). */
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
             (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;

    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0\n"
                     "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
                     "xor %%eax, %%eax\n mov %%ax, %%fs\n mov %%ax, %%gs\n"
                     "pushq %2\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:\n"
                     :
                     : "m"(gdtr), "r"((uint64_t)GDT_KDATA), "i"(GDT_KCODE)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" ::"r"(GDT_TSS));
}
