#include "vmx.h"
#include "vmcs.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/panic.h"
#include "../kernel/pmm.h"
#include <string.h>

/* CR4.VMXE: VMX operation (SDM Vol. 3C, 23.7 "Enabling and Entering VMX Operation"). */
#define CR4_VMXE (1ull << 13)

uint32_t vmx_adjust_controls(uint64_t cap, uint32_t wanted, uint32_t *missing)
{
    uint32_t must = (uint32_t)cap, may = (uint32_t)(cap >> 32);
    *missing = wanted & ~may;
    return (wanted | must) & may;
}

void vmcs_fail(const char *op, uint32_t field)
{
    uint64_t err = 0;
    /* Reading the error field itself cannot use vmread() (recursion). */
    __asm__ volatile("vmread %1, %0" : "=r"(err) : "r"((uint64_t)VMCS_VM_INSN_ERROR) : "cc");
    panic("%s of %s (0x%x) failed: %s", op, vmcs_field_name(field), field, vmx_insn_error_name((uint32_t)err));
}

int vmx_enable(const struct vmx_caps *caps, char *err, size_t n)
{
    if (!caps->present || !caps->msr_readable) {
        fmt_snprintf(err, n, "VT-x not available");
        return -1;
    }
    /* IA32_FEATURE_CONTROL: bit 0 lock, bit 2 enable VMXON outside SMX
     * (SDM Vol. 3, "Enabling and Entering VMX Operation"). OVMF leaves it
     * unlocked; a locked MSR without bit 2 means VT-x is off in firmware. */
    uint64_t fc = caps->feature_control;
    if (!(fc & 1)) {
        if (!wrmsr_safe(MSR_IA32_FEATURE_CONTROL, fc | 1 | 4)) {
            fmt_snprintf(err, n, "cannot write IA32_FEATURE_CONTROL");
            return -1;
        }
        log_info("vmx", "IA32_FEATURE_CONTROL was unlocked: enabled VMX outside SMX and locked it");
    } else if (!(fc & 4)) {
        fmt_snprintf(err, n, "VT-x disabled by firmware (IA32_FEATURE_CONTROL locked without VMX)");
        return -1;
    }
    uint64_t f0, f1;
    rdmsr_safe(MSR_VMX_CR0_FIXED0, &f0);
    rdmsr_safe(MSR_VMX_CR0_FIXED1, &f1);
    write_cr0((read_cr0() | f0) & f1);
    rdmsr_safe(MSR_VMX_CR4_FIXED0, &f0);
    rdmsr_safe(MSR_VMX_CR4_FIXED1, &f1);
    write_cr4(((read_cr4() | CR4_VMXE) | f0) & f1);
    /* CR4.OSXSAVE on the host: XSETBV, which sets the guest's XCR0 from
     * its exit handler, raises #UD without it (SDM Vol. 2C, XSETBV).
     * simd_init() (kernel/simd.c) has set it already when the CPU has
     * XSAVE; the host's own XSAVE use is confined to simd_begin/end(). */
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 26))
        write_cr4(read_cr4() | (1ull << 18));

    uint64_t region = pmm_alloc(1, 1);
    memset(phys_to_virt(region), 0, PAGE_SIZE);
    *(uint32_t *)phys_to_virt(region) = (uint32_t)(caps->basic & 0x7fffffff); /* revision (A.1) */
    uint8_t bad;
    __asm__ volatile("vmxon %1; setbe %0" : "=qm"(bad) : "m"(region) : "cc", "memory");
    if (bad) {
        fmt_snprintf(err, n, "VMXON failed");
        return -1;
    }
    return 0;
}

int vmx_invept(unsigned type, uint64_t eptp)
{
    struct {
        uint64_t eptp, reserved;
    } __attribute__((aligned(16))) desc = { eptp, 0 };
    uint8_t bad;
    __asm__ volatile("invept %1, %2; setbe %0" : "=qm"(bad) : "m"(desc), "r"((uint64_t)type) : "cc", "memory");
    return bad ? -1 : 0;
}

uint64_t vmcs_create(const struct vmx_caps *caps)
{
    uint64_t pa = pmm_alloc(1, 1);
    memset(phys_to_virt(pa), 0, PAGE_SIZE);
    *(uint32_t *)phys_to_virt(pa) = (uint32_t)(caps->basic & 0x7fffffff);
    uint8_t bad;
    __asm__ volatile("vmclear %1; setbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
    if (bad)
        panic("VMCLEAR of a fresh VMCS failed");
    __asm__ volatile("vmptrld %1; setbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
    if (bad)
        panic("VMPTRLD failed: %s", vmx_insn_error_name((uint32_t)vmread(VMCS_VM_INSN_ERROR)));
    return pa;
}

void vmcs_release(uint64_t pa)
{
    /* VMCLEAR writes the VMCS's cached state back to its region and makes
     * it neither current nor active (SDM Vol. 3C, 24.11.3 "Initializing a
     * VMCS"; Vol. 2, VMCLEAR): the page can then go back to the allocator. */
    uint8_t bad;
    __asm__ volatile("vmclear %1; setbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
    if (bad)
        panic("VMCLEAR of the guest's VMCS failed");
    pmm_free(pa, 1);
}
