/* The guest's one virtual CPU: its VMCS, registers, pending events and
 * the state the exit handlers share. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <stdint.h>
#include <stdbool.h>
#include "vmx.h"
#include "vmx_caps.h"
#include "guest_mem.h"

struct vm;

/* Why the vCPU stopped for good. */
enum vcpu_stop {
    VCPU_RUNNING = 0,
    VCPU_STOP_POWEROFF,   /* guest ACPI S5 */
    VCPU_STOP_HYPERCALL,  /* test guest asked to exit with a code */
    VCPU_STOP_RESET,      /* guest asked for a reset (0xCF9, i8042, triple fault policy) */
    VCPU_STOP_TRIPLE_FAULT,
    VCPU_STOP_HALTED,     /* HLT with interrupts disabled: nothing can wake it */
    VCPU_STOP_FAILED,     /* entry failure or unhandled exit: reported */
    VCPU_STOP_PAUSED,     /* ft/ ended the run (a recording's span, a log's end) */
};

struct vcpu {
    struct vm *vm;
    uint32_t injected; /* the VM-entry interruption info the next entry delivers */
    uint64_t vmcs_pa;
    bool launched;
    struct guest_regs regs;

    /* Exit information, read once per exit. */
    uint32_t exit_reason;
    uint64_t exit_qual;
    uint32_t exit_insn_len;
    uint64_t rip, rsp, rflags;

    /* CR0/CR4 bits the hypervisor owns (guest/host masks); the guest sees
     * those bits from the read shadows, the rest from the real register. */
    uint64_t cr0_host_owned, cr4_host_owned;
    uint64_t efer;
    uint64_t xcr0;

    bool halted;
    /* An exception to inject at the next entry (vector, error code). */
    bool exc_pending;
    uint8_t exc_vector;
    bool exc_has_err;
    uint32_t exc_err;

    enum vcpu_stop stop;
    int exit_code; /* with VCPU_STOP_HYPERCALL */

    /* Controls as wanted (window exits) and as last written (plus MTF). */
    uint32_t proc_ctls, proc_ctls_live;
    /* Synchronous exits so far: the event log's exit ordinal. */
    uint64_t sync_exits;

    uint64_t exits, exits_by_reason[80];
    /* Host TSC ticks spent handling each exit reason, from the exit to the
     * next entry (in Bochs with sync=none one tick is one instruction). */
    uint64_t host_ticks_by_reason[80];
    uint64_t exit_tsc;
    uint32_t last_reason;
    /* Raw guest progress for ft/landmark.c: TSC ticks between the stub's
     * entry and exit timestamps, summed, and the number of runs. */
    uint64_t run_ticks, runs;
    /* An NMI for the guest waits here until it can be delivered. */
    bool nmi_pending;
    bool discard_vectoring;
    /* An event a VM exit interrupted on another VMCS (a restored machine
     * state, vmm/vmstate.c): the next entry re-injects it, as it would
     * from this VMCS's own IDT-vectoring fields. */
    uint32_t carried_idt, carried_idt_err, carried_insn_len;
    /* The PMU landmark backend (ft/landmark.c, ft/pmu.c): PMC0 counts the
     * guest's retired conditional branches in VMX non-root operation only
     * (IA32_PERF_GLOBAL_CTRL loaded on entry and exit); pmc_preset is
     * written before every entry (an armed value overflows into a PMI,
     * delivered as an NMI that exits), the count read back after it. */
    bool pmu_on, pmi;
    uint32_t pmc_msr, pmu_status_msr, pmu_ovf_msr, pmu_lvt;
    uint64_t pmu_ovf_clear, pmc_mask;
    uint64_t pmc_preset, pmu_branches;
    /* Guest MSRs with no hardware behind them (vmm/exit_msr.c). */
    uint64_t mtrr_def_type, misc_enable;
};

/* Build the VMCS for a fresh vCPU of vm: controls from the capability
 * MSRs, host state, guest state in real mode at CS:IP = 0:0. Returns 0 or
 * -1 with err naming each control the CPU lacks. */
int vcpu_init(struct vcpu *v, struct vm *vm, const struct vmx_caps *caps, char *err, size_t n);

/* Guest register state for the two ways a guest starts. */
void vcpu_set_real_mode(struct vcpu *v, uint16_t cs, uint16_t ip, uint16_t sp);
/* Flat 32-bit protected mode, paging off (the Linux 32-bit boot protocol):
 * CS = 0x10, DS = ES = SS = 0x18 with base 0, limit 4 GiB. */
void vcpu_set_protected_flat(struct vcpu *v, uint32_t eip, uint32_t esi, uint32_t gdt_base);

/* One VM entry and exit, with the exit handled. The caller (ft/engine.c)
 * decides the run's limits: the VMX-preemption timer value (in its ticks;
 * >= 2^32 means none) and single-stepping with the monitor trap flag. */
struct run_opts {
    uint64_t preempt_ticks;
    bool mtf;
};
enum run_result {
    RUN_SYNC,    /* a synchronous exit, handled */
    RUN_ASYNC,   /* an asynchronous exit (host interrupt, timer, step) */
    RUN_HALTED,  /* not entered: the guest waits in HLT for an interrupt */
    RUN_STOPPED, /* the guest ended or failed (v->stop says why) */
};
enum run_result vcpu_run(struct vcpu *v, const struct run_opts *o);
/* The next VM entry would deliver an event (a re-injected one, an
 * exception, an NMI or an interrupt the guest can take now). */
bool vcpu_would_inject(struct vcpu *v);
/* Print the traced runs (the last 65536) whose exit ordinal after the run
 * lies in [from, to], at most max lines: divergence reports. */
void vcpu_trace_print(const struct vcpu *v, uint64_t from_exit, uint64_t to_exit, unsigned max);
bool exit_is_async(uint32_t reason);

/* The PMU backend's hardware set-up, from ft/pmu.c's plan (the VMX side
 * owns the VMCS; ft/ owns the policy). */
struct vcpu_pmu_setup {
    uint32_t pin_set, proc_set, exit_set, entry_set;
    uint64_t guest_global_ctrl, host_global_ctrl;
    uint32_t evtsel_msr;
    uint64_t evtsel;
    uint32_t pmc_msr, status_msr, ovf_msr;
    uint64_t ovf_clear;
    uint32_t lvt_value;
    unsigned width;
    uint64_t guest_debugctl_set, guest_debugctl_clear; /* IA32_DEBUGCTL freeze bits */
};
/* Program the counter and the controls; 0, or -1 with the reason. */
int vcpu_pmu_enable(struct vcpu *v, const struct vcpu_pmu_setup *s, char *why, size_t n);
void vcpu_pmu_disable(struct vcpu *v);
/* Before the guest is loaded: a real-mode loop of exactly 100 conditional
 * branches (DEC CX; JNZ) and HLT; *counted gets what PMC0 saw. 0, or -1
 * when the probe could not run. Leaves the vCPU to be set up again. */
int vcpu_probe_pmu(struct vcpu *v, uint64_t *counted);
/* At an NMI exit: was it our counter's overflow (then cleared and re-armed,
 * v->pmi set)? Unblocks NMIs either way. */
bool vcpu_take_pmi(struct vcpu *v);

/* Helpers for exit handlers. */
void vcpu_skip_insn(struct vcpu *v);
void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_err, uint32_t err);
#define vcpu_inject_gp(v) vcpu_inject_exception((v), 13, true, 0)
#define vcpu_inject_ud(v) vcpu_inject_exception((v), 6, false, 0)
uint64_t *vcpu_gpr(struct vcpu *v, unsigned index); /* SDM register number 0-15; 4 = RSP */
void vcpu_stop(struct vcpu *v, enum vcpu_stop why, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* CR0 and CR4 as the guest reads them (SDM Vol. 3, "Guest/Host Masks and
 * Read Shadows for CR0 and CR4"). */
uint64_t vcpu_guest_cr0(struct vcpu *v);
uint64_t vcpu_guest_cr4(struct vcpu *v);
/* The guest's paging registers, for walking its page tables. */
void vcpu_paging(struct vcpu *v, struct guest_paging *pg);
/* Does the TSC count guest instructions exactly (Bochs with clock
 * sync=none or slowdown)? Runs a throwaway program in guest memory (call
 * before the guest is loaded): back-to-back exiting CPUIDs must each cost
 * the same number of ticks (the entry/exit stub's constant), and MTF steps
 * over NOPs exactly one tick more. */
struct count_probe {
    uint64_t stub_ticks;
    bool stub_consistent;
    int mtf_steps;
    bool mtf_steps_exact;
};
int vcpu_probe_counting(struct vcpu *v, struct count_probe *out);
/* Full register dump on the consoles (reports). */
void vcpu_dump(struct vcpu *v, const char *why);

#endif
