/* VMCALL: a tiny hypercall interface for ftvisor's own test guests.
 *
 *   RAX = 0x46540001  print: RBX = guest-physical address, RCX = length
 *                     (at most 4096 bytes), shown as guest console output
 *   RAX = 0x46540002  exit: RBX = exit code; the guest ends
 *
 * RAX returns 0 on success, all-ones for an unknown function or bad
 * arguments. Only ring 0 may call; elsewhere VMCALL raises #UD, as it does
 * on the guest's CPU model, which has no VT-x. */
#include "exit.h"
#include "vm.h"
#include "vmcs.h"

#define HC_PRINT 0x46540001u
#define HC_EXIT 0x46540002u

void exit_vmcall(struct vcpu *v)
{
    unsigned cpl = (unsigned)(vmread(VMCS_GUEST_SS_AR) >> 5) & 3;
    if (cpl != 0 && (vmread(VMCS_GUEST_CR0) & 1)) {
        vcpu_inject_ud(v);
        return;
    }
    switch ((uint32_t)v->regs.rax) {
    case HC_PRINT: {
        uint64_t gpa = v->regs.rbx, len = v->regs.rcx;
        uint8_t buf[4096];
        if (len > sizeof(buf) || guest_read(&v->vm->mem, gpa, buf, len)) {
            v->regs.rax = ~0ull;
            break;
        }
        for (uint64_t i = 0; i < len; i++)
            vm_console_out(v->vm, buf[i]);
        v->regs.rax = 0;
        break;
    }
    case HC_EXIT:
        vcpu_skip_insn(v);
        v->exit_code = (int)(uint32_t)v->regs.rbx;
        vcpu_stop(v, VCPU_STOP_HYPERCALL, "exit hypercall with code %d", v->exit_code);
        return;
    default:
        v->regs.rax = ~0ull;
        break;
    }
    vcpu_skip_insn(v);
}
