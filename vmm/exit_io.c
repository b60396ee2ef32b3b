/* I/O-instruction exits (SDM Vol. 3, "Exit Qualification for I/O
 * Instructions"): every port access exits (unconditional I/O exiting) and
 * goes to the virtual platform. String forms (INS/OUTS) move one element
 * per exit and re-execute while RCX is not zero, so each REP iteration is
 * one deterministic step of the guest. */
#include "exit.h"
#include "vm.h"
#include "vmcs.h"
#include "../kernel/log.h"

#define RFLAGS_DF (1ull << 10)

static uint64_t seg_base(unsigned seg)
{
    static const uint32_t f[6] = { VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE, VMCS_GUEST_SS_BASE,
                                   VMCS_GUEST_DS_BASE, VMCS_GUEST_FS_BASE, VMCS_GUEST_GS_BASE };
    return seg < 6 ? vmread(f[seg]) : 0;
}

void exit_io(struct vcpu *v)
{
    uint64_t q = v->exit_qual;
    unsigned size = (unsigned)(q & 7) + 1;
    bool in = (q >> 3) & 1, string = (q >> 4) & 1, rep = (q >> 5) & 1;
    uint16_t port = (uint16_t)(q >> 16);
    if (size != 1 && size != 2 && size != 4) {
        vcpu_stop(v, VCPU_STOP_FAILED, "I/O exit with access size %u", size);
        return;
    }
    if (!string) {
        uint32_t val = (uint32_t)v->regs.rax;
        if (in) {
            platform_io_in(v->vm, port, size, &val);
            uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
            /* IN to EAX zero-extends into RAX; AL/AX keep the rest. */
            v->regs.rax = size == 4 ? val : (v->regs.rax & ~mask) | (val & mask);
        } else {
            platform_io_out(v->vm, port, size, val & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1));
        }
        vcpu_skip_insn(v);
        return;
    }

    /* INS/OUTS: address size and segment from the VM-exit instruction-
     * information field (SDM Vol. 3, "Format of the VM-Exit
     * Instruction-Information Field as Used for INS and OUTS"). */
    uint32_t info = (uint32_t)vmread(VMCS_EXIT_INSN_INFO);
    unsigned asz = (info >> 7) & 7; /* 0: 16, 1: 32, 2: 64 bits */
    uint64_t amask = asz == 0 ? 0xffff : asz == 1 ? 0xffffffffull : ~0ull;
    unsigned seg = in ? 0 /* ES, fixed for INS */ : (info >> 15) & 7;
    if (rep && (v->regs.rcx & amask) == 0) {
        vcpu_skip_insn(v);
        return;
    }
    struct guest_paging pg;
    vcpu_paging(v, &pg);
    uint64_t *idx = in ? &v->regs.rdi : &v->regs.rsi;
    uint64_t lin = seg_base(seg) + (*idx & amask);
    uint32_t val = 0;
    if (in) {
        platform_io_in(v->vm, port, size, &val);
        if (guest_write_virt(&v->vm->mem, &pg, lin, &val, size)) {
            vcpu_stop(v, VCPU_STOP_FAILED, "INS to unmapped guest address 0x%llx", (unsigned long long)lin);
            return;
        }
    } else {
        if (guest_read_virt(&v->vm->mem, &pg, lin, &val, size)) {
            vcpu_stop(v, VCPU_STOP_FAILED, "OUTS from unmapped guest address 0x%llx", (unsigned long long)lin);
            return;
        }
        platform_io_out(v->vm, port, size, val);
    }
    uint64_t step = (vmread(VMCS_GUEST_RFLAGS) & RFLAGS_DF) ? -(uint64_t)size : size;
    *idx = (*idx & ~amask) | ((*idx + step) & amask);
    if (rep) {
        uint64_t c = ((v->regs.rcx & amask) - 1) & amask;
        v->regs.rcx = (v->regs.rcx & ~amask) | c;
        if (c)
            return; /* RIP stays: the next iteration exits again */
    }
    vcpu_skip_insn(v);
}
