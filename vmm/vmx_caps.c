#include "vmx_caps.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include <string.h>

/* Capability MSRs (SDM Vol. 4, Table 2-2; Vol. 3, Appendix A). */

/* "Allowed 1-settings" are the high 32 bits of a control MSR (A.3). */
static bool allowed1(uint64_t msr_value, int bit) { return (msr_value >> (32 + bit)) & 1; }

void vmx_caps_read(struct vmx_caps *c)
{
    memset(c, 0, sizeof(*c));
    uint32_t a, b, cx, d, max;
    cpuid(0, 0, &max, &b, &cx, &d);
    cpuid(1, 0, &a, &b, &cx, &d);
    c->present = (cx >> 5) & 1;
    c->under_hypervisor = (cx >> 31) & 1;
    if (c->under_hypervisor) {
        uint32_t sig[3];
        cpuid(0x40000000, 0, &a, &sig[0], &sig[1], &sig[2]);
        memcpy(c->hypervisor, sig, 12);
        for (int i = 0; i < 12; i++)
            if (c->hypervisor[i] < 0x20 || c->hypervisor[i] > 0x7e)
                c->hypervisor[i] = '.';
    }
    if (max >= 0xa) {
        cpuid(0xa, 0, &a, &b, &cx, &d);
        c->pmu_version = a & 0xff;
        c->pmu_counters = (a >> 8) & 0xff;
    }
    if (!c->present)
        return; /* without VMX the MSRs below raise #GP: do not even try */

    /* IA32_FEATURE_CONTROL: bit 0 lock, bit 2 VMXON outside SMX (SDM
     * Vol. 3, "Enabling and Entering VMX Operation"). */
    rdmsr_safe(MSR_IA32_FEATURE_CONTROL, &c->feature_control);
    c->locked = c->feature_control & 1;
    c->enabled_outside_smx = (c->feature_control >> 2) & 1;

    if (!rdmsr_safe(MSR_VMX_BASIC, &c->basic))
        return;
    c->msr_readable = true;
    c->true_ctls = (c->basic >> 55) & 1; /* A.1 */
    rdmsr_safe(c->true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED, &c->pinbased);
    rdmsr_safe(c->true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED, &c->procbased);
    rdmsr_safe(c->true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT, &c->exit);
    rdmsr_safe(c->true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY, &c->entry);
    rdmsr_safe(MSR_VMX_MISC, &c->misc);
    c->preempt_timer = allowed1(c->pinbased, 6); /* A.3.1: activate VMX-preemption timer */
    c->mtf = allowed1(c->procbased, 27);         /* A.3.2: monitor trap flag */
    c->secondary = allowed1(c->procbased, 31);   /* A.3.2: activate secondary controls */
    if (c->secondary) {
        rdmsr_safe(MSR_VMX_PROCBASED2, &c->procbased2);
        c->ept = allowed1(c->procbased2, 1);  /* A.3.3: enable EPT */
        c->vpid = allowed1(c->procbased2, 5); /* enable VPID */
        c->ug = allowed1(c->procbased2, 7);   /* unrestricted guest */
        c->pml = allowed1(c->procbased2, 17); /* enable PML */
        if (c->ept || c->vpid) {
            /* A.10: bit 16 2-MByte pages, 17 1-GByte pages, 14 WB, 20
             * INVEPT, 21 accessed/dirty flags, 25/26 single-context/
             * all-context INVEPT, 32 INVVPID. */
            rdmsr_safe(MSR_VMX_EPT_VPID_CAP, &c->ept_vpid);
            c->ept_wb = (c->ept_vpid >> 14) & 1;
            c->ept_2m = (c->ept_vpid >> 16) & 1;
            c->ept_1g = (c->ept_vpid >> 17) & 1;
            c->invept = (c->ept_vpid >> 20) & 1;
            c->invept_single = (c->ept_vpid >> 25) & 1;
            c->invept_all = (c->ept_vpid >> 26) & 1;
            c->ept_ad = (c->ept_vpid >> 21) & 1;
            c->invvpid = (c->ept_vpid >> 32) & 1;
        }
    }
}

static const char *yn(bool v) { return v ? "yes" : "no"; }

void vmx_caps_format(const struct vmx_caps *c, char *buf, int size)
{
    fmt_snprintf(buf, (size_t)size,
                 "present=%s locked=%s ept=%s ug=%s vpid=%s preempt_timer=%s mtf=%s pml=%s pmu=v%d",
                 yn(c->present), yn(c->locked), yn(c->ept), yn(c->ug), yn(c->vpid), yn(c->preempt_timer),
                 yn(c->mtf), yn(c->pml), c->pmu_version);
}
