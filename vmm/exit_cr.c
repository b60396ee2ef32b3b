/* Control-register exits (SDM Vol. 3, "Exit Qualification for
 * Control-Register Accesses"): CR0/CR4 writes that touch bits the
 * hypervisor owns, CR8 (the task-priority register, backed by the virtual
 * local APIC), and XSETBV. */
#include "exit.h"
#include "vm.h"
#include "vmcs.h"
#include "../kernel/log.h"

#define CR0_PE (1ull << 0)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

static void write_cr0(struct vcpu *v, uint64_t val)
{
    /* Invalid combinations raise #GP as on hardware (SDM Vol. 3A, 2.5). */
    if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD))) {
        vcpu_inject_gp(v);
        return;
    }
    uint64_t old = vmread(VMCS_GUEST_CR0);
    uint64_t real = (val & ~v->cr0_host_owned) | (old & v->cr0_host_owned);
    /* Entering paging with EFER.LME set activates long mode; the exit took
     * the write, so do what the CPU would have done (SDM Vol. 3A, 9.8.5). */
    if ((val & CR0_PG) && !(old & CR0_PG) && (v->efer & EFER_LME)) {
        if (!(vmread(VMCS_GUEST_CR4) & CR4_PAE)) {
            vcpu_inject_gp(v);
            return;
        }
        v->efer |= EFER_LMA;
        vmwrite(VMCS_GUEST_EFER, v->efer);
        vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) | ENTRY_IA32E_GUEST);
    } else if (!(val & CR0_PG) && (old & CR0_PG) && (v->efer & EFER_LMA)) {
        v->efer &= ~EFER_LMA;
        vmwrite(VMCS_GUEST_EFER, v->efer);
        vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) & ~ENTRY_IA32E_GUEST);
    }
    vmwrite(VMCS_CR0_SHADOW, val);
    vmwrite(VMCS_GUEST_CR0, real);
}

static void write_cr4(struct vcpu *v, uint64_t val)
{
    /* Bits outside the CPU model fault (the guest's CPUID does not offer
     * them); VMXE is kept set underneath and hidden by the shadow. */
    if (val & ~v->vm->cpu_cr4_allowed) {
        vcpu_inject_gp(v);
        return;
    }
    uint64_t old = vmread(VMCS_GUEST_CR4);
    vmwrite(VMCS_GUEST_CR4, (val & ~v->cr4_host_owned) | (old & v->cr4_host_owned & ~v->vm->cpu_cr4_allowed) |
                                (val & v->cr4_host_owned & v->vm->cpu_cr4_allowed));
    vmwrite(VMCS_CR4_SHADOW, val);
}

void exit_cr_access(struct vcpu *v)
{
    uint64_t q = v->exit_qual;
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    uint64_t *gpr = vcpu_gpr(v, reg);
    switch (type) {
    case 0: /* MOV to CR */
        if (cr == 0)
            write_cr0(v, *gpr);
        else if (cr == 4)
            write_cr4(v, *gpr);
        else if (cr == 8)
            platform_set_tpr(v->vm, (uint8_t)(*gpr & 15));
        else {
            vcpu_stop(v, VCPU_STOP_FAILED, "unexpected MOV to CR%u exit", cr);
            return;
        }
        break;
    case 1: /* MOV from CR: only CR8 exits */
        if (cr == 8)
            *gpr = platform_get_tpr(v->vm);
        else {
            vcpu_stop(v, VCPU_STOP_FAILED, "unexpected MOV from CR%u exit", cr);
            return;
        }
        break;
    case 3: { /* LMSW: loads CR0 bits 0-3, can set but not clear PE */
        uint64_t src = (q >> 16) & 0xf;
        uint64_t cr0 = vcpu_guest_cr0(v);
        uint64_t val = (cr0 & ~0xfull) | (src & 0xe) | ((cr0 | src) & 1);
        write_cr0(v, val);
        break;
    }
    default: /* CLTS exits only when CR0.TS is host-owned, which it is not */
        vcpu_stop(v, VCPU_STOP_FAILED, "unexpected CLTS exit");
        return;
    }
    if (!v->exc_pending)
        vcpu_skip_insn(v);
}

void exit_xsetbv(struct vcpu *v)
{
    /* XSETBV (SDM Vol. 2C): only XCR0; bit 0 must be set, AVX needs SSE,
     * and only components the CPU model offers. */
    uint64_t val = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;
    uint64_t allowed = v->vm->cpu->xcr0;
    if (!(vcpu_guest_cr4(v) & CR4_OSXSAVE) || !allowed) {
        vcpu_inject_ud(v);
        return;
    }
    if ((uint32_t)v->regs.rcx != 0 || !(val & 1) || (val & ~allowed) || ((val & 4) && !(val & 2))) {
        vcpu_inject_gp(v);
        return;
    }
    /* The guest's XCR0 lives in the CPU; the host's vector code changes
     * it only between simd_begin() and simd_end(), which put it back
     * (kernel/simd.c). */
    __asm__ volatile("xsetbv" ::"a"((uint32_t)val), "d"((uint32_t)(val >> 32)), "c"(0));
    v->xcr0 = val;
    vcpu_skip_insn(v);
}
