/* Benchmark guest: 20000 exits each of CPUID, I/O (OUT to port 0x80, a
 * port nothing emulates beyond swallowing it) and RDTSC, then the exit
 * hypercall. ftvisor's end-of-guest report gives the host cost per exit
 * reason (tests/bench reads it). Real mode is enough: the exits cost the
 * same whatever the guest's mode. */
#include "flat.h"
    FLAT_HEADER
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7000, %sp
    mov $20000, %ecx
1:  push %ecx
    xor %eax, %eax
    cpuid
    pop %ecx
    dec %ecx
    jnz 1b
    mov $20000, %ecx
2:  out %al, $0x80
    dec %ecx
    jnz 2b
    mov $20000, %ecx
3:  rdtsc
    dec %ecx
    jnz 3b
    mov $HC_EXIT, %eax
    xor %ebx, %ebx
    vmcall
    hlt
