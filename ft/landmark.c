#include "landmark.h"
#include "log.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../kernel/format.h"
#include "../kernel/cpu.h"
#include "pmu.h"
#include <string.h>

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
    case CFG_LM_PMU: {
        /* Whether this CPU's PMU could count for it (ft/pmu.c, unit-
         * tested); the vCPU side (the PMI as an NMI exit, counter save and
         * restore around entries) is not built, so it is refused either
         * way, with the reason that matters first. */
        struct pmu_cpuid c;
        struct pmu_caps caps;
        char r[160];
        uint32_t a, b, d, e;
        memset(&c, 0, sizeof(c));
        cpuid(0, 0, &c.max_leaf, &c.vendor[0], &c.vendor[2], &c.vendor[1]);
        cpuid(1, 0, &c.leaf1_eax, &b, &c.leaf1_ecx, &d);
        if (c.max_leaf >= 0xa)
            cpuid(0xa, 0, &c.leaf0a_eax, &c.leaf0a_ebx, &e, &c.leaf0a_edx);
        (void)a;
        if (c.leaf1_ecx & (1u << 15))
            c.perf_caps_valid = rdmsr_safe(0x345, &c.perf_caps); /* IA32_PERF_CAPABILITIES */
        if (pmu_probe(&c, &caps, r, sizeof(r)))
            fmt_snprintf(why, n, "the PMU backend cannot count on this CPU: %s", r);
        else
            fmt_snprintf(why, n, "this CPU's PMU qualifies (%s, PMU version %u, %u counters of %u bits), but this build "
                                 "does not drive it from the vCPU yet: use landmark = emulator or exits",
                         caps.uarch ? caps.uarch : "?", caps.version, caps.counters, caps.width);
        return -1;
    }
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
