/* What the CPU offers for VT-x, read once from CPUID and the VMX capability
 * MSRs (Intel SDM Vol. 3, Appendix A "VMX Capability Reporting Facility"). */
#ifndef VMM_VMX_CAPS_H
#define VMM_VMX_CAPS_H

#include <stdint.h>
#include <stdbool.h>

struct vmx_caps {
    bool present;       /* CPUID.1:ECX.VMX[bit 5] */
    bool msr_readable;  /* the capability MSRs answered */
    uint64_t feature_control;
    bool locked, enabled_outside_smx;
    uint64_t basic, pinbased, procbased, procbased2, exit, entry, misc, ept_vpid, vmfunc;
    bool true_ctls;     /* IA32_VMX_BASIC bit 55 */
    bool ept, ug, vpid, preempt_timer, mtf, pml, secondary;
    bool ept_2m, ept_1g, ept_ad, ept_wb, invept, invept_single, invept_all, invvpid;
    int pmu_version, pmu_counters;
    bool under_hypervisor;
    char hypervisor[13];
};

/* Fill caps; never faults, never touches CR4.VMXE. */
void vmx_caps_read(struct vmx_caps *caps);
/* The one-line report: "vmx: present=yes locked=..." (without "vmx: "). */
void vmx_caps_format(const struct vmx_caps *caps, char *buf, int size);

#endif
