/* The smallest test guest: real mode, prints through the UART and the
 * print hypercall, exits with code 7. */
#include "flat.h"
    FLAT_HEADER
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7000, %sp
    /* UART: one byte at a time on COM1's THR. */
    mov $COM1, %dx
    mov $msg_uart, %si
2:  lodsb
    test %al, %al
    jz 3f
    out %al, %dx
    jmp 2b
3:  mov $HC_PRINT, %eax
    mov $msg_hc, %ebx
    mov $(msg_hc_end - msg_hc), %ecx
    vmcall
    mov $HC_EXIT, %eax
    mov $7, %ebx
    vmcall
    hlt

msg_uart: .asciz "hello from a real-mode guest via the UART\n"
msg_hc: .ascii "hello via the print hypercall\n"
msg_hc_end:
