/* clihlt: a guest that stops with CLI; HLT, which never ends on a PC (no
 * NMI source exists here). ftvisor ends the guest with "halted with
 * interrupts disabled" and names the RIP, which the guest prints first. */
#include "rt/rt.h"

extern char clihlt_hlt[];

int guest_main(void)
{
    rt_printf("clihlt: executing CLI; HLT at RIP 0x%llx\n", (unsigned long long)(uintptr_t)clihlt_hlt);
    __asm__ volatile("cli\n.globl clihlt_hlt\nclihlt_hlt: hlt" ::: "memory");
    rt_printf("FAIL: HLT with interrupts disabled returned\n");
    return 1;
}
