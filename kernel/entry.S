/* _start: where the UEFI loader jumps, on the loader's page tables, with
 * interrupts off and the boot-info FDT's physical address in %rdi. */
    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    lea boot_stack_top(%rip), %rsp
    xor %ebp, %ebp          /* ends stack traces */
    call kernel_main
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 4096
    /* Left unmapped by paging_init(): a stack overflow faults (#PF, then #DF
     * on its own IST stack) instead of silently corrupting .bss. */
    .globl boot_stack_guard
boot_stack_guard:
    .skip 4096
    .globl boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
