/* The exit dispatch table (SDM Vol. 3, Appendix C) and the handlers small
 * enough to sit here. Every reason has one home: an unknown or unexpected
 * exit stops the guest with a report instead of guessing. */
#include "exit.h"
#include "vm.h"
#include "vmcs.h"
#include "cpuid.h"
#include "../kernel/cpu.h"
#include "../kernel/log.h"

static void exit_cpuid(struct vcpu *v)
{
    uint32_t r[4];
    cpuid_guest(v->vm->cpu, v->vm->tsc_hz, vcpu_guest_cr4(v), v->xcr0, (uint32_t)v->regs.rax, (uint32_t)v->regs.rcx, r);
    v->regs.rax = r[0];
    v->regs.rbx = r[1];
    v->regs.rcx = r[2];
    v->regs.rdx = r[3];
    vcpu_skip_insn(v);
}

static void exit_rdtsc(struct vcpu *v)
{
    /* The one place a guest reads time directly: the value comes from the
     * input source (ft/), which records or replays it. */
    uint64_t t = vm_rdtsc(v->vm);
    v->regs.rax = (uint32_t)t;
    v->regs.rdx = t >> 32;
    vcpu_skip_insn(v);
}

static void exit_rdtscp(struct vcpu *v)
{
    uint64_t t = vm_rdtsc(v->vm);
    v->regs.rax = (uint32_t)t;
    v->regs.rdx = t >> 32;
    /* IA32_TSC_AUX belongs to the guest: the host never uses RDTSCP. */
    v->regs.rcx = (uint32_t)rdmsr(0xc0000103);
    vcpu_skip_insn(v);
}

static void exit_hlt(struct vcpu *v)
{
    vcpu_skip_insn(v);
    if (!(vmread(VMCS_GUEST_RFLAGS) & (1u << 9)) && !vm_interrupt_wakes(v->vm)) {
        /* HLT with interrupts off never ends on real hardware (short of an
         * NMI, which this platform never raises): the guest is finished. */
        vcpu_stop(v, VCPU_STOP_HALTED, "the guest executed HLT with interrupts disabled at RIP 0x%llx",
                  (unsigned long long)(v->rip - v->exit_insn_len));
        return;
    }
    v->halted = true;
}

static void exit_external_interrupt(struct vcpu *v)
{
    /* Nothing to do: "acknowledge interrupt on exit" is off, so the host's
     * interrupt stays pending in its LAPIC and was taken by the host's own
     * handler when vcpu_run() re-enabled interrupts. */
    (void)v;
}

static void exit_interrupt_window(struct vcpu *v)
{
    /* The guest can take an interrupt now: the next entry injects it. */
    (void)v;
}

static void exit_preempt_timer(struct vcpu *v)
{
    /* The run's time limit (ft/engine.c): a device deadline, or the
     * replayer approaching a landmark. The caller decides what follows. */
    (void)v;
}

static void exit_mtf(struct vcpu *v)
{
    /* One instruction stepped (SDM Vol. 3, 26.5.2 "Monitor Trap Flag"):
     * the replayer walking to a landmark; nothing to emulate. */
    (void)v;
}

static void exit_nmi_window(struct vcpu *v)
{
    /* The guest can take its pending NMI: the next entry injects it. */
    (void)v;
}

static void exit_exception_nmi(struct vcpu *v)
{
    uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
    if ((info & (7u << 8)) == INTR_TYPE_NMI) {
        /* The PMU backend's counter overflow (ft/landmark.c), or an NMI
         * for the host that arrived while the guest ran. */
        if (!vcpu_take_pmi(v))
            log_warn("vmm", "host NMI during guest execution");
        return;
    }
    vcpu_stop(v, VCPU_STOP_FAILED, "unexpected exception exit: vector %u", info & 0xff);
}

static void exit_triple_fault(struct vcpu *v)
{
    vcpu_stop(v, VCPU_STOP_TRIPLE_FAULT, "the guest triple-faulted at RIP 0x%llx (a real PC would reset)",
              (unsigned long long)v->rip);
}

static void exit_cache_flush(struct vcpu *v)
{
    /* INVD/WBINVD: guest memory is write-back and coherent; the host's
     * caches need nothing. Just complete the instruction. */
    vcpu_skip_insn(v);
}

static void exit_ud(struct vcpu *v)
{
    /* Instructions the guest's CPU model does not have (VMX, SMX, RDRAND,
     * RDSEED, MONITOR/MWAIT, XSAVES...): invalid opcode, as on such a CPU. */
    vcpu_inject_ud(v);
}

static void exit_rdpmc(struct vcpu *v)
{
    /* No PMU in the model: RDPMC faults (#GP) as for an invalid counter. */
    vcpu_inject_gp(v);
}

static void exit_task_switch(struct vcpu *v)
{
    vcpu_stop(v, VCPU_STOP_FAILED, "the guest attempted a hardware task switch, which ftvisor does not emulate");
}

static void exit_ignore_signal(struct vcpu *v)
{
    /* INIT/SIPI for a uniprocessor guest in VMX non-root: ignored. */
    (void)v;
}

static const exit_handler_t handlers[EXIT_REASON_MAX] = {
    [EXIT_EXCEPTION_NMI] = exit_exception_nmi,
    [EXIT_EXTERNAL_INTERRUPT] = exit_external_interrupt,
    [EXIT_TRIPLE_FAULT] = exit_triple_fault,
    [EXIT_INIT] = exit_ignore_signal,
    [EXIT_SIPI] = exit_ignore_signal,
    [EXIT_INTERRUPT_WINDOW] = exit_interrupt_window,
    [EXIT_NMI_WINDOW] = exit_nmi_window,
    [EXIT_TASK_SWITCH] = exit_task_switch,
    [EXIT_CPUID] = exit_cpuid,
    [EXIT_GETSEC] = exit_ud,
    [EXIT_HLT] = exit_hlt,
    [EXIT_INVD] = exit_cache_flush,
    [EXIT_RDPMC] = exit_rdpmc,
    [EXIT_RDTSC] = exit_rdtsc,
    [EXIT_VMCALL] = exit_vmcall,
    [EXIT_VMCLEAR] = exit_ud,
    [EXIT_VMLAUNCH] = exit_ud,
    [EXIT_VMPTRLD] = exit_ud,
    [EXIT_VMPTRST] = exit_ud,
    [EXIT_VMREAD] = exit_ud,
    [EXIT_VMRESUME] = exit_ud,
    [EXIT_VMWRITE] = exit_ud,
    [EXIT_VMXOFF] = exit_ud,
    [EXIT_VMXON] = exit_ud,
    [EXIT_CR_ACCESS] = exit_cr_access,
    [EXIT_IO] = exit_io,
    [EXIT_RDMSR] = exit_rdmsr,
    [EXIT_WRMSR] = exit_wrmsr,
    [EXIT_MWAIT] = exit_ud,
    [EXIT_MONITOR] = exit_ud,
    [EXIT_EPT_VIOLATION] = exit_ept_violation,
    [EXIT_EPT_MISCONFIG] = exit_ept_misconfig,
    [EXIT_INVEPT] = exit_ud,
    [EXIT_RDTSCP] = exit_rdtscp,
    [EXIT_PREEMPT_TIMER] = exit_preempt_timer,
    [EXIT_MTF] = exit_mtf,
    [EXIT_INVVPID] = exit_ud,
    [EXIT_WBINVD] = exit_cache_flush,
    [EXIT_XSETBV] = exit_xsetbv,
    [EXIT_RDRAND] = exit_ud,
    [EXIT_RDSEED] = exit_ud,
    [EXIT_VMFUNC] = exit_ud,
    [EXIT_XSAVES] = exit_ud,
    [EXIT_XRSTORS] = exit_ud,
};

void exit_dispatch(struct vcpu *v, uint32_t reason)
{
    exit_handler_t h = reason < EXIT_REASON_MAX ? handlers[reason] : NULL;
    if (!h) {
        vcpu_stop(v, VCPU_STOP_FAILED, "unhandled VM exit: %s (reason %u, qualification 0x%llx)",
                  vmx_exit_reason_name(reason), reason, (unsigned long long)v->exit_qual);
        return;
    }
    h(v);
}
