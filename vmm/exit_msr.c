/* Guest MSRs. The MSR bitmap (SDM Vol. 3, "MSR-Bitmap Address") lets the
 * guest touch, without exits, only MSRs whose state the VMCS switches or the
 * host never uses (FS/GS bases, SYSCALL/SYSENTER targets, PAT, TSC_AUX).
 * Everything else exits and is looked up in an allowlist; an MSR not on it
 * raises #GP, as on a CPU without that MSR, and is reported once. */
#include "exit.h"
#include "vm.h"
#include "vmcs.h"
#include "../kernel/cpu.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include <string.h>

#define MSR_TSC 0x10
#define MSR_APIC_BASE 0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_BIOS_SIGN_ID 0x8b
#define MSR_MTRRCAP 0xfe
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_MCG_CAP 0x179
#define MSR_MCG_STATUS 0x17a
#define MSR_MISC_ENABLE 0x1a0
#define MSR_DEBUGCTL 0x1d9
#define MSR_PAT 0x277
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define GUEST_EFER_NXE (1ull << 11)

/* Passed through (reads and writes). */
static const uint32_t passthrough[] = {
    MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP, MSR_PAT, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK,
    MSR_FS_BASE,     MSR_GS_BASE,      MSR_KERNEL_GS_BASE, MSR_TSC_AUX,
};

/* The bitmap is one page: read-low, read-high, write-low, write-high,
 * 1 KiB each; a set bit means "exit". */
uint64_t msr_bitmap_create(void)
{
    uint64_t pa = pmm_alloc(1, 1);
    uint8_t *b = phys_to_virt(pa);
    memset(b, 0xff, PAGE_SIZE);
    for (size_t i = 0; i < sizeof(passthrough) / sizeof(passthrough[0]); i++) {
        uint32_t m = passthrough[i];
        uint32_t off = m >= 0xc0000000 ? 1024 : 0, bit = m & 0x1fff;
        b[off + bit / 8] &= (uint8_t)~(1u << (bit % 8));
        b[2048 + off + bit / 8] &= (uint8_t)~(1u << (bit % 8));
    }
    return pa;
}

/* 0 on success, -1 to raise #GP. */
static int msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    switch (msr) {
    case MSR_TSC:
        *val = vm_rdtsc(v->vm);
        return 0;
    case MSR_EFER:
        *val = v->efer;
        return 0;
    case MSR_FEATURE_CONTROL:
        *val = 1; /* locked, VMX off: the guest's CPU has no VT-x */
        return 0;
    case MSR_BIOS_SIGN_ID:
        *val = 0; /* no microcode update loaded */
        return 0;
    case MSR_MTRRCAP:
        *val = 0; /* no variable or fixed ranges, no WC: all memory WB */
        return 0;
    case MSR_MTRR_DEF_TYPE:
        *val = v->mtrr_def_type;
        return 0;
    case MSR_MCG_CAP:
    case MSR_MCG_STATUS:
        *val = 0; /* no machine-check banks */
        return 0;
    case MSR_MISC_ENABLE:
        *val = v->misc_enable;
        return 0;
    case MSR_DEBUGCTL:
        *val = 0;
        return 0;
    default:
        return platform_msr_read(v->vm, msr, val);
    }
}

static int msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    switch (msr) {
    case MSR_EFER:
        /* SCE, LME, NXE only; LMA is the CPU's (SDM Vol. 3A, 2.2.1). LME
         * may not change while paging is on. */
        if (val & ~(EFER_SCE | EFER_LME | EFER_LMA | GUEST_EFER_NXE))
            return -1;
        if ((vmread(VMCS_GUEST_CR0) & (1ull << 31)) && ((val ^ v->efer) & EFER_LME))
            return -1;
        v->efer = (val & ~EFER_LMA) | (v->efer & EFER_LMA);
        vmwrite(VMCS_GUEST_EFER, v->efer);
        return 0;
    case MSR_BIOS_SIGN_ID:
    case MSR_MCG_STATUS:
        return 0;
    case MSR_MTRR_DEF_TYPE:
        if (val & ~0xcffull)
            return -1;
        v->mtrr_def_type = val;
        return 0;
    case MSR_MISC_ENABLE:
        v->misc_enable = val & 1;
        return 0;
    case MSR_DEBUGCTL:
        return val == 0 ? 0 : -1; /* no branch tracing for guests */
    case MSR_TSC:
        /* Changing the TSC would make virtual time guest-writable; no OS
         * ftvisor runs needs it. Refused with a report. */
        vm_report_once(v->vm, REPORT_TSC_WRITE, msr, "guest wrote IA32_TSC (ignored)");
        return 0;
    default:
        return platform_msr_write(v->vm, msr, val);
    }
}

void exit_rdmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->regs.rcx;
    uint64_t val = 0;
    if (msr_read(v, msr, &val)) {
        vm_report_once(v->vm, REPORT_MSR_READ, msr, "guest read MSR 0x%x, which its CPU model lacks: #GP", msr);
        vcpu_inject_gp(v);
        return;
    }
    v->regs.rax = (uint32_t)val;
    v->regs.rdx = val >> 32;
    vcpu_skip_insn(v);
}

void exit_wrmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->regs.rcx;
    uint64_t val = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;
    if (msr_write(v, msr, val)) {
        vm_report_once(v->vm, REPORT_MSR_WRITE, msr, "guest wrote 0x%llx to MSR 0x%x: refused with #GP",
                       (unsigned long long)val, msr);
        vcpu_inject_gp(v);
        return;
    }
    vcpu_skip_insn(v);
}
