/* boot_jump(cr3, entry, fdt): the loader's last act, after ExitBootServices.
 * Switches to the page tables the loader built (which identity-map this
 * code, so the next fetch still works) and enters the hypervisor with the
 * boot-info FDT's physical address in %rdi (System V ABI). */
    .text
    .globl boot_jump
boot_jump:
    cli
    mov %rdi, %cr3
    mov %rdx, %rdi
    xor %ebp, %ebp
    jmp *%rsi

    .section .note.GNU-stack, "", @progbits
