#include "landmark.h"
#include "log.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../kernel/format.h"

const char *landmark_backend_name(enum lm_backend b)
{
    switch (b) {
    case LM_EMULATOR: return "emulator (exact instruction counts from the TSC, preemption timer + MTF to land)";
    case LM_PMU: return "pmu (retired conditional branches)";
    default: return "exits (events wait for the next synchronous exit)";
    }
}

int landmark_select(struct vm *vm, enum cfg_landmark want, enum lm_backend *out, char *why, size_t n)
{
    bool emu_ok = vm->counting.stub_consistent && vm->counting.mtf_steps_exact;
    switch (want) {
    case CFG_LM_EMULATOR:
        if (!emu_ok) {
            fmt_snprintf(why, n, "the emulator backend needs a TSC that counts instructions (Bochs): the probe "
                                 "found %s", vm->counting.stub_consistent ? "inexact MTF steps" : "a varying stub cost");
            return -1;
        }
        *out = LM_EMULATOR;
        return 0;
    case CFG_LM_PMU:
        fmt_snprintf(why, n, "the PMU backend is not built yet");
        return -1;
    case CFG_LM_EXITS:
        *out = LM_EXITS;
        return 0;
    default:
        *out = emu_ok ? LM_EMULATOR : LM_EXITS;
        return 0;
    }
}

uint64_t landmark_icount(struct vm *vm, enum lm_backend b)
{
    const struct vcpu *v = &vm->vcpu;
    if (b == LM_EMULATOR)
        return v->run_ticks - v->runs * vm->counting.stub_ticks;
    return 0;
}

void landmark_gprs(struct vcpu *v, uint64_t gpr[16])
{
    for (unsigned i = 0; i < 16; i++)
        gpr[i] = *vcpu_gpr(v, i);
    gpr[4] = vmread(VMCS_GUEST_RSP);
}

void landmark_here(struct vm *vm, enum lm_backend b, struct landmark *l)
{
    uint64_t gpr[16];
    landmark_gprs(&vm->vcpu, gpr);
    l->exit = vm->vcpu.sync_exits;
    l->icount = landmark_icount(vm, b);
    l->rip = vmread(VMCS_GUEST_RIP);
    l->rcx = gpr[1];
    l->regs_crc = log_regs_crc(gpr);
}
