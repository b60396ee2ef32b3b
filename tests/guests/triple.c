/* triple: a guest that triple-faults on purpose. It loads an IDT with no
 * usable gate (limit 0) and executes UD2: #UD cannot be delivered (#GP),
 * the #GP cannot either (#DF), nor the #DF: a triple fault, which on a PC
 * resets the machine and under ftvisor ends the guest with a register
 * report. It prints the RIP of the UD2 first so that the system test can
 * check ftvisor's report points at it. */
#include "rt/rt.h"

extern char triple_ud2[];

int guest_main(void)
{
    rt_printf("triple: loading an empty IDT and executing UD2 at RIP 0x%llx\n",
              (unsigned long long)(uintptr_t)triple_ud2);
    rt_load_idt(0);
    __asm__ volatile(".globl triple_ud2\ntriple_ud2: ud2" ::: "memory");
    rt_printf("FAIL: still running after the triple fault\n");
    return 1;
}
