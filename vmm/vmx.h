/* VMX operation: turning VT-x on, the VMCS of the one guest vCPU, and the
 * entry/exit stub. */
#ifndef VMM_VMX_H
#define VMM_VMX_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "vmx_caps.h"

/* Guest general registers the CPU does not keep in the VMCS, saved and
 * restored by vmx_entry.S (offsets used there: keep in sync). */
struct guest_regs {
    uint64_t rax, rcx, rdx, rbx, rsp_unused, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t cr2;
    /* TSC read by the stub just before VMLAUNCH/VMRESUME and just after the
     * exit: in Bochs with clock sync=none the TSC advances one tick per
     * instruction, so guest instructions = tsc_exit - tsc_entry - a stub
     * constant (ft/landmark.c calibrates it). */
    uint64_t tsc_entry, tsc_exit;
};

/* Enable VMX on this CPU: IA32_FEATURE_CONTROL (set and lock when the
 * firmware left it unlocked), CR0/CR4 fixed bits, VMXON. Returns 0 or -1
 * with the reason in err. */
int vmx_enable(const struct vmx_caps *caps, char *err, size_t n);

/* Allocate, clear and load a VMCS. Returns its physical address. */
uint64_t vmcs_create(const struct vmx_caps *caps);
/* VMCLEAR a VMCS (no longer current) and free its page. */
void vmcs_release(uint64_t pa);

/* Enter the guest (vmx_entry.S). launched selects VMRESUME. Returns 0
 * after a VM exit, 1 on VMfailValid (error in VMCS_VM_INSN_ERROR), 2 on
 * VMfailInvalid (no current VMCS). */
int vmx_enter(struct guest_regs *regs, int launched);
void vmx_exit_entry(void);

/* INVEPT (SDM Vol. 2, "INVEPT"; Vol. 3, "Invalidation of TLBs and
 * Paging-Structure Caches"): drop cached translations derived from the EPT
 * at eptp (single-context, type 1) or from every EPT (all-context, type
 * 2). Needed after software changes EPT entries, including clearing their
 * dirty flags (SDM Vol. 3, "Accessed and Dirty Flags for EPT"). Returns 0,
 * or -1 if the CPU refused (VMfail). */
int vmx_invept(unsigned type, uint64_t eptp);

/* The control value for a capability MSR: wanted bits, forced to what the
 * CPU requires; bits the CPU cannot set are returned in *missing
 * (SDM Vol. 3, Appendix A.3: low half = allowed 0-settings, high half =
 * allowed 1-settings). */
uint32_t vmx_adjust_controls(uint64_t cap_msr, uint32_t wanted, uint32_t *missing);

#endif
