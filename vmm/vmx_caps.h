/* What the CPU offers for VT-x, read once from CPUID and the VMX capability
 * MSRs (Intel SDM Vol. 3, Appendix A "VMX Capability Reporting Facility"). */
#ifndef VMM_VMX_CAPS_H
#define VMM_VMX_CAPS_H

#include <stdint.h>
#include <stdbool.h>

/* The VMX capability MSRs (SDM Vol. 4, table 2-2; Vol. 3C, Appendix A). */
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PINBASED 0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT 0x48f
#define MSR_VMX_TRUE_ENTRY 0x490
#define MSR_VMX_VMFUNC 0x491

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
