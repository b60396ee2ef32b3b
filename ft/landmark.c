#include "landmark.h"
#include "log.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../kernel/format.h"
#include "../kernel/cpu.h"
#include "../kernel/log.h"
#include "pmu.h"
#include <string.h>

const char *landmark_backend_name(enum lm_backend b)
{
    switch (b) {
    case LM_EMULATOR: return "emulator (exact instruction counts from the TSC, preemption timer + MTF to land)";
    case LM_PMU: return "pmu (retired conditional branches counted in the guest, overflow early, MTF to land)";
    default: return "exits (events wait for the next synchronous exit)";
    }
}

/* The PMU backend: this CPU's PMU must qualify (ft/pmu.c, from CPUID and
 * IA32_PERF_CAPABILITIES), VMX must offer the controls of the plan, and a
 * probe must count exactly the conditional branches of a known loop (an
 * emulator that accepts the MSRs but counts nothing fails here). The probe
 * runs in the guest's place, so the guest is booted again after it. */
static int pmu_select(struct vm *vm, char *why, size_t n)
{
    struct pmu_cpuid c;
    struct pmu_caps caps;
    struct pmu_vmx_plan plan;
    char r[160];
    uint32_t b, d, e;
    memset(&c, 0, sizeof(c));
    cpuid(0, 0, &c.max_leaf, &c.vendor[0], &c.vendor[2], &c.vendor[1]);
    cpuid(1, 0, &c.leaf1_eax, &b, &c.leaf1_ecx, &d);
    if (c.max_leaf >= 0xa)
        cpuid(0xa, 0, &c.leaf0a_eax, &c.leaf0a_ebx, &e, &c.leaf0a_edx);
    if (c.leaf1_ecx & (1u << 15)) /* PDCM: IA32_PERF_CAPABILITIES exists */
        c.perf_caps_valid = rdmsr_safe(PMU_MSR_PERF_CAPABILITIES, &c.perf_caps);
    if (pmu_probe(&c, &caps, r, sizeof(r))) {
        fmt_snprintf(why, n, "the PMU backend cannot count on this CPU: %s", r);
        return -1;
    }
    pmu_vmx_plan(&caps, &plan);
    /* VMX capability MSRs, TRUE_ variants where offered (SDM Vol. 3C,
     * Appendix A.3-A.5). */
    bool t = vm->caps_true;
    uint64_t pin = 0, proc = 0, ex = 0, en = 0;
    rdmsr_safe(t ? 0x48d : 0x481, &pin);
    rdmsr_safe(t ? 0x48e : 0x482, &proc);
    rdmsr_safe(t ? 0x48f : 0x483, &ex);
    rdmsr_safe(t ? 0x490 : 0x484, &en);
    if (pmu_vmx_check(&plan, pin, proc, ex, en, r, sizeof(r))) {
        fmt_snprintf(why, n, "the PMU backend needs a VMX control this CPU lacks: %s", r);
        return -1;
    }
    struct vcpu_pmu_setup s = {
        .pin_set = plan.pin_set, .proc_set = plan.proc_set, .exit_set = plan.exit_set, .entry_set = plan.entry_set,
        .guest_global_ctrl = plan.guest_global_ctrl, .host_global_ctrl = plan.host_global_ctrl,
        .evtsel_msr = plan.evtsel_msr, .evtsel = plan.evtsel, .pmc_msr = plan.pmc_msr,
        .status_msr = plan.global_status_msr, .ovf_msr = plan.ovf_clear_msr, .ovf_clear = plan.ovf_clear,
        .lvt_value = plan.lvt_value, .width = caps.width,
        .guest_debugctl_set = plan.guest_debugctl_set, .guest_debugctl_clear = plan.guest_debugctl_clear,
    };
    if (vcpu_pmu_enable(&vm->vcpu, &s, r, sizeof(r))) {
        fmt_snprintf(why, n, "the PMU backend cannot program the counter: %s", r);
        return -1;
    }
    uint64_t counted = 0;
    int pr = vcpu_probe_pmu(&vm->vcpu, &counted);
    char err[160];
    if (pr || counted != 100) {
        vcpu_pmu_disable(&vm->vcpu);
        if (pr)
            fmt_snprintf(why, n, "the PMU probe could not run its loop (%s %s)", caps.uarch ? caps.uarch : "?",
                         "PMU");
        else
            fmt_snprintf(why, n, "%s PMU version %u qualifies on paper, but PMC0 counted %llu of the probe's 100 "
                                 "conditional branches: it does not count here (an emulator?)",
                         caps.uarch ? caps.uarch : "this", caps.version, (unsigned long long)counted);
        vm_boot(vm, true, err, sizeof(err));
        return -1;
    }
    log_info("record", "PMU: %s, version %u, %u counters of %u bits; the probe counted exactly 100 branches",
             caps.uarch ? caps.uarch : "?", caps.version, caps.counters, caps.width);
    if (vm_boot(vm, true, err, sizeof(err))) {
        vcpu_pmu_disable(&vm->vcpu);
        fmt_snprintf(why, n, "cannot boot the guest again after the PMU probe: %s", err);
        return -1;
    }
    return 0;
}

int landmark_select(struct vm *vm, enum cfg_landmark want, enum lm_backend *out, char *why, size_t n)
{
    bool emu_ok = vm->counting.stub_consistent && vm->counting.mtf_steps_exact;
    switch (want) {
    case CFG_LM_EMULATOR:
        if (!emu_ok) {
            fmt_snprintf(why, n, "the emulator backend needs a TSC that counts instructions (Bochs): the probe "
                                 "found %s", vm->counting.stub_consistent ? "inexact MTF steps" : "an entry/exit path whose tick count varies");
            return -1;
        }
        *out = LM_EMULATOR;
        return 0;
    case CFG_LM_PMU:
        if (pmu_select(vm, why, n))
            return -1;
        *out = LM_PMU;
        return 0;
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
    if (b == LM_PMU)
        return v->pmu_branches;
    return 0;
}

void landmark_gprs(struct vcpu *v, uint64_t gpr[16])
{
    for (unsigned i = 0; i < 16; i++)
        gpr[i] = *vcpu_gpr(v, i);
    gpr[4] = vmread(VMCS_GUEST_RSP);
}

void landmark_of(struct vm *vm, enum lm_backend b, uint64_t rip, const uint64_t gpr[16], struct landmark *l)
{
    l->exit = vm->vcpu.sync_exits;
    l->icount = landmark_icount(vm, b);
    l->rip = rip;
    l->rcx = gpr[1];
    l->regs_crc = log_regs_crc(gpr);
}

void landmark_here(struct vm *vm, enum lm_backend b, struct landmark *l)
{
    uint64_t gpr[16];
    landmark_gprs(&vm->vcpu, gpr);
    landmark_of(vm, b, vmread(VMCS_GUEST_RIP), gpr, l);
}
