/* The test-guest runtime's entry: the flat header, then real mode ->
 * 32-bit protected mode -> 64-bit long mode (own GDT, identity paging of
 * the first 4 GiB with 2 MiB pages), SSE on, .bss zeroed, a stack, then
 * rt_start() (rt.c), which calls guest_main() and exits through the exit
 * hypercall. Each stage records CR0/EFER/CR4/CS into rt_boot (rt.h) so a
 * guest can report the transitions it went through.
 *
 * No firmware runs before us: the vCPU starts at 0000:8000 with SP 0x7000
 * and interrupts off (vmm/load_flat.c). */
#include "flat.h"
#include "rt_layout.h"

#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_ET (1 << 4)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_PGE (1 << 7)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)

    .section .text.entry, "ax"
    FLAT_HEADER
    /* ---- real mode (16-bit code, CS = 0) ---- */
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x7000, %sp
    movl %cr0, %eax
    movl %eax, rt_boot + RT_BOOT_REAL_CR0
    movw %cs, %ax
    movw %ax, rt_boot + RT_BOOT_REAL_CS
    movb $1, rt_boot + RT_BOOT_STAGES
    lgdtl rt_gdt_desc
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl $RT_SEL_CODE32, $pm32

    .code32
pm32:
    /* ---- 32-bit protected mode, flat segments, paging off ---- */
    movw $RT_SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $0x7000, %esp
    movl %cr0, %eax
    movl %eax, rt_boot + RT_BOOT_PM_CR0
    movw %cs, %ax
    movw %ax, rt_boot + RT_BOOT_PM_CS
    movl $MSR_EFER, %ecx
    rdmsr
    movl %eax, rt_boot + RT_BOOT_PM_EFER
    movb $2, rt_boot + RT_BOOT_STAGES + 1

    /* Zero .bss (page tables, stack, C globals). */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    /* Identity map 0-4 GiB with 2 MiB pages: PML4[0] -> PDPT,
     * PDPT[0..3] -> 4 page directories of 512 large pages each. */
    movl $rt_pml4, %edi
    movl $rt_pdpt, %eax
    orl $3, %eax
    movl %eax, (%edi)
    movl $rt_pdpt, %edi
    movl $rt_pd, %eax
    orl $3, %eax
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    movl $rt_pd, %edi
    movl $0x83, %eax            /* present, writable, 2 MiB */
    xorl %edx, %edx             /* bits 63:32 of the address */
    movl $2048, %ecx
2:  movl %eax, (%edi)
    movl %edx, 4(%edi)
    addl $0x200000, %eax
    adcl $0, %edx
    addl $8, %edi
    loop 2b

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $rt_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $(EFER_LME | EFER_NXE), %eax
    wrmsr
    /* Paging on (activates IA-32e mode), caches on, FPU native errors. */
    movl %cr0, %eax
    andl $~(CR0_CD | CR0_NW | CR0_EM), %eax
    orl $(CR0_PG | CR0_WP | CR0_NE | CR0_MP | CR0_ET), %eax
    movl %eax, %cr0
    ljmpl $RT_SEL_CODE64, $lm64

    .code64
lm64:
    /* ---- 64-bit long mode ---- */
    movw $RT_SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movabsq $__stack_top, %rsp
    xorl %ebp, %ebp
    movq %cr0, %rax
    movq %rax, rt_boot + RT_BOOT_LM_CR0
    movq %cr4, %rax
    movq %rax, rt_boot + RT_BOOT_LM_CR4
    movl $MSR_EFER, %ecx
    rdmsr
    movl %eax, rt_boot + RT_BOOT_LM_EFER
    movw %cs, %ax
    movw %ax, rt_boot + RT_BOOT_LM_CS
    movb $3, rt_boot + RT_BOOT_STAGES + 2

    /* SSE: CR0.EM clear and MP set (done above), CR4.OSFXSR and
     * OSXMMEXCPT; a clean x87/SSE state. */
    movq %cr4, %rax
    orq $(CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
    movq %rax, %cr4
    fninit
    movl $0x1f80, rt_boot + RT_BOOT_MXCSR
    ldmxcsr rt_boot + RT_BOOT_MXCSR

    call rt_start
    /* rt_start never returns; if it did, stop here. */
3:  cli
    hlt
    jmp 3b

    /* ---- data the 16-bit code must reach: inside the first 64 KiB ---- */
    .section .data.entry, "aw"
    .balign 16
rt_gdt:
    .quad 0                     /* 0x00 null */
    .quad 0x00cf9a000000ffff    /* 0x08 32-bit code, flat */
    .quad 0x00cf92000000ffff    /* 0x10 data, flat */
    .quad 0x00af9a000000ffff    /* 0x18 64-bit code */
rt_gdt_end:
    .balign 8
    .globl rt_gdt_desc
rt_gdt_desc:
    .word rt_gdt_end - rt_gdt - 1
    .long rt_gdt
    .balign 16
    .globl rt_boot
rt_boot:
    .fill RT_BOOT_SIZE, 1, 0

    /* ---- page tables (zeroed with .bss) ---- */
    .section .bss.pagetables, "aw", @nobits
    .balign 4096
    .globl rt_pml4, rt_pdpt, rt_pd, rt_pd_spare
rt_pml4: .skip 4096
rt_pdpt: .skip 4096
rt_pd: .skip 4 * 4096
rt_pd_spare: .skip RT_PD_SPARE * 4096

    .section .note.GNU-stack, "", @progbits
