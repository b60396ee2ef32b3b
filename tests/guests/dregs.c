/* dregs: the guest's debug registers across VM exits. VMX leaves DR0-DR3
 * and DR6 alone, but every VM exit sets DR7 to 0x400 (SDM Vol. 3C,
 * "Loading Host Control Registers, Debug Registers, MSRs"), so the
 * guest's DR7 survives only if the exit saves it into the VMCS ("save
 * debug controls") and the entry loads it back ("load debug controls");
 * with the TRUE capability MSRs a hypervisor can leave both off.
 *  - DR0-DR3 and DR7 (breakpoint conditions and lengths set, none enabled:
 *    they can never fire) read back unchanged after 200 CPUID exits */
#include "rt/rt.h"

static uint64_t get_dr7(void)
{
    uint64_t v;
    __asm__ volatile("mov %%dr7, %0" : "=r"(v));
    return v;
}

int guest_main(void)
{
    /* R/W and LEN fields of all four breakpoints, L/G enables clear:
     * nothing is armed, but every field of the value shows. */
    const uint64_t dr7 = 0x400 | 0xdddd0000ull | (1u << 9) /* GE */;
    const uint64_t addr[4] = { 0x1111000, 0x2222008, 0x3333010, 0x4444018 };
    __asm__ volatile("mov %0, %%dr0" ::"r"(addr[0]));
    __asm__ volatile("mov %0, %%dr1" ::"r"(addr[1]));
    __asm__ volatile("mov %0, %%dr2" ::"r"(addr[2]));
    __asm__ volatile("mov %0, %%dr3" ::"r"(addr[3]));
    __asm__ volatile("mov %0, %%dr7" ::"r"(dr7));
    CHECK(get_dr7() == dr7, "DR7 reads back 0x%llx before any exit", (unsigned long long)get_dr7());
    uint32_t r[4];
    unsigned lost = 0;
    for (int i = 0; i < 200; i++) {
        cpuid(0, 0, r); /* a VM exit */
        if (get_dr7() != dr7)
            lost++;
    }
    CHECK(lost == 0, "DR7 0x%llx unchanged after 200 CPUID exits (%u times lost; now 0x%llx)",
          (unsigned long long)dr7, lost, (unsigned long long)get_dr7());
    uint64_t d[4];
    __asm__ volatile("mov %%dr0, %0" : "=r"(d[0]));
    __asm__ volatile("mov %%dr1, %0" : "=r"(d[1]));
    __asm__ volatile("mov %%dr2, %0" : "=r"(d[2]));
    __asm__ volatile("mov %%dr3, %0" : "=r"(d[3]));
    CHECK(d[0] == addr[0] && d[1] == addr[1] && d[2] == addr[2] && d[3] == addr[3], "DR0-DR3 unchanged");
    __asm__ volatile("mov %0, %%dr7" ::"r"(0x400ull));
    return rt_result("dregs");
}
