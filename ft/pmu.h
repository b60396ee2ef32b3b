/* The PMU landmark backend's pure logic: detection, counter programming,
 * arming arithmetic and the replay approach, with no hardware access (the
 * caller reads CPUID and MSRs and owns the VMCS), so it is unit-tested on
 * the build host (tests/unit/test_pmu.c).
 *
 * Design: count retired conditional branches (BR_INST_RETIRED.CONDITIONAL)
 * in VMX non-root operation only, on general counter 0. In replay, arm the
 * counter to overflow `skid` branches before the target, let the overflow
 * PMI (delivered as an NMI) cause a VM exit, then single-step with the
 * monitor trap flag to the exact point.
 *
 * Why a landmark is (branch count, RIP, RCX, register CRC) and not the count
 * alone: only conditional branches advance the count. Straight-line code
 * and the iterations of a REP string instruction retire none, so many
 * instruction boundaries share one count. RIP picks the instruction within
 * a straight-line run; RCX picks the iteration of a REP-prefixed string
 * instruction (RIP stays on the instruction until RCX reaches 0, and MTF
 * stops between iterations: SDM Vol. 3C, "Monitor Trap Flag"); the CRC of
 * the general registers separates passes through a loop closed by an
 * unconditional jump, which retires no conditional branch either. Memory is
 * not part of the landmark: a loop of unconditional jumps that changes only
 * memory is ambiguous (replay stops at its first pass; the log's next
 * state digest would report a wrong choice as a divergence). */
#ifndef FT_PMU_H
#define FT_PMU_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- MSRs and registers (SDM Vol. 4, "Model-Specific Registers (MSRs)",
 * table "IA-32 Architectural MSRs") ---------------------------------------- */
#define PMU_MSR_PMC0 0x0c1                /* IA32_PMC0: 32-bit sign-extended writes */
#define PMU_MSR_PERFEVTSEL0 0x186         /* IA32_PERFEVTSEL0 */
#define PMU_MSR_PERF_CAPABILITIES 0x345   /* IA32_PERF_CAPABILITIES (if CPUID.01H:ECX.PDCM[15]) */
#define PMU_MSR_PERF_GLOBAL_STATUS 0x38e  /* IA32_PERF_GLOBAL_STATUS (version >= 2) */
#define PMU_MSR_PERF_GLOBAL_CTRL 0x38f    /* IA32_PERF_GLOBAL_CTRL (version >= 2) */
#define PMU_MSR_PERF_GLOBAL_OVF_CTRL 0x390 /* IA32_PERF_GLOBAL_OVF_CTRL; IA32_PERF_GLOBAL_STATUS_RESET on v4+ */
#define PMU_MSR_A_PMC0 0x4c1              /* IA32_A_PMC0: full-width writes */
#define PMU_MSR_DEBUGCTL 0x1d9            /* IA32_DEBUGCTL */

/* IA32_PERF_CAPABILITIES bits (SDM Vol. 4, IA32_PERF_CAPABILITIES; Vol. 3B,
 * "Full-Width Writes to Performance Counter Registers"). */
#define PMU_PERFCAP_SMM_FREEZE (1ull << 12) /* IA32_DEBUGCTL.FREEZE_WHILE_SMM exists */
#define PMU_PERFCAP_FW_WRITE (1ull << 13)   /* IA32_A_PMCx take all width bits */

/* IA32_DEBUGCTL bits (SDM Vol. 3B, "IA32_DEBUGCTL MSR"). */
#define PMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI (1ull << 12)
#define PMU_DEBUGCTL_FREEZE_WHILE_SMM (1ull << 14)

/* IA32_PERFEVTSELx fields (SDM Vol. 3B, "Architectural Performance
 * Monitoring Version 1 Facilities", figure "Layout of IA32_PERFEVTSELx
 * MSRs"; AnyThread: "... Version 3 Facilities"). */
#define PMU_EVTSEL_EVENT_SHIFT 0
#define PMU_EVTSEL_UMASK_SHIFT 8
#define PMU_EVTSEL_USR (1ull << 16)
#define PMU_EVTSEL_OS (1ull << 17)
#define PMU_EVTSEL_EDGE (1ull << 18)
#define PMU_EVTSEL_PC (1ull << 19)
#define PMU_EVTSEL_INT (1ull << 20)
#define PMU_EVTSEL_ANY (1ull << 21)
#define PMU_EVTSEL_EN (1ull << 22)
#define PMU_EVTSEL_INV (1ull << 23)
#define PMU_EVTSEL_CMASK_SHIFT 24

/* BR_INST_RETIRED.CONDITIONAL on the accepted models (see pmu.c). */
#define PMU_EVENT_BR_INST_RETIRED 0xc4
#define PMU_UMASK_CONDITIONAL 0x01

/* Local APIC LVT performance monitoring counters register (SDM Vol. 3A,
 * chapter "Advanced Programmable Interrupt Controller (APIC)", "Local
 * Vector Table"; x2APIC: "x2APIC Register Address Space"). */
#define PMU_LAPIC_LVT_PMC 0x340       /* xAPIC MMIO offset */
#define PMU_X2APIC_MSR_LVT_PMC 0x834  /* x2APIC MSR */
#define PMU_LVT_DELIVERY_NMI (4u << 8) /* delivery mode 100b; the vector is ignored */
#define PMU_LVT_MASKED (1u << 16)     /* set by the CPU when it delivers a PMI */

/* The VMX bits and fields of the plan, with the SDM's values (vmm/vmcs.h
 * has the same ones; the unit test checks that they agree). */
#define PMU_PIN_NMI_EXITING (1u << 3)          /* Vol. 3C, "Pin-Based VM-Execution Controls" */
#define PMU_PROC_RDPMC_EXITING (1u << 11)      /* Vol. 3C, "Processor-Based VM-Execution Controls" */
#define PMU_EXIT_LOAD_PERF_GLOBAL_CTRL (1u << 12) /* Vol. 3C, "VM-Exit Controls" */
#define PMU_ENTRY_LOAD_PERF_GLOBAL_CTRL (1u << 13) /* Vol. 3C, "VM-Entry Controls" */
#define PMU_VMCS_GUEST_PERF_GLOBAL_CTRL 0x2808 /* Vol. 3C, App. B "Field Encoding in VMCS": 64-bit guest state */
#define PMU_VMCS_HOST_PERF_GLOBAL_CTRL 0x2c04  /* ... 64-bit host state */

/* The largest period one arming uses: 2^31 events (see pmu_counter_preset). */
#define PMU_MAX_PERIOD (1ull << 31)
/* A conservative default margin: more conditional branches than any
 * accepted model is expected to retire between the overflow and the NMI VM
 * exit. Not measured here (no PMU on the test machines): measure per host. */
#define PMU_DEFAULT_SKID 100u

/* ---- 1. Detection -------------------------------------------------------- */

/* What the caller read; pmu_probe interprets it (no CPUID here). */
struct pmu_cpuid {
    uint32_t max_leaf;        /* CPUID.00H:EAX */
    uint32_t vendor[3];       /* CPUID.00H: EBX, EDX, ECX ("Genu" "ineI" "ntel") */
    uint32_t leaf1_eax;       /* CPUID.01H:EAX version information */
    uint32_t leaf1_ecx;       /* CPUID.01H:ECX (bit 15 PDCM: IA32_PERF_CAPABILITIES exists) */
    uint32_t leaf0a_eax, leaf0a_ebx, leaf0a_edx; /* CPUID.0AH (valid if max_leaf >= 0xA) */
    bool perf_caps_valid;     /* the caller could read IA32_PERF_CAPABILITIES */
    uint64_t perf_caps;       /* its value */
};

struct pmu_caps {
    unsigned version;         /* CPUID.0AH:EAX[7:0] */
    unsigned counters;        /* CPUID.0AH:EAX[15:8]: general-purpose counters */
    unsigned width;           /* CPUID.0AH:EAX[23:16]: their bit width */
    unsigned fixed_counters;  /* CPUID.0AH:EDX[4:0] (reported only) */
    unsigned fixed_width;     /* CPUID.0AH:EDX[12:5] (reported only) */
    unsigned family, model, stepping; /* DisplayFamily, DisplayModel */
    const char *uarch;        /* the accepted model's name, or NULL */
    bool full_width_write;    /* IA32_PERF_CAPABILITIES.FW_WRITE[13] */
    bool smm_freeze;          /* IA32_PERF_CAPABILITIES.SMM_FREEZE[12] */
    bool status_reset;        /* version >= 4: 0x390 is IA32_PERF_GLOBAL_STATUS_RESET */
    uint32_t pmc_msr;         /* where to write the preset: IA32_A_PMC0 or IA32_PMC0 */
    uint64_t counter_mask;    /* 2^width - 1 */
};

/* 0 and *out filled when the PMU backend can run here; -1 with the reason
 * in why (always NUL-terminated when n > 0; why may be NULL). *out is
 * filled as far as the checks got, for reports. */
int pmu_probe(const struct pmu_cpuid *c, struct pmu_caps *out, char *why, size_t n);

/* ---- 2. Programming ------------------------------------------------------ */

/* IA32_PERFEVTSEL0: BR_INST_RETIRED.CONDITIONAL, USR|OS|INT|EN. */
uint64_t pmu_evtsel(void);

/* What the VMCS owner and the host set up so counter 0 counts in VMX
 * non-root operation only and its overflow becomes an NMI VM exit. */
struct pmu_vmx_plan {
    /* Controls to set (OR into the current values). */
    uint32_t pin_set;         /* NMI exiting: the PMI NMI exits instead of reaching the guest */
    uint32_t proc_set;        /* RDPMC exiting: the guest must not read our counter */
    uint32_t exit_set;        /* VM exit loads IA32_PERF_GLOBAL_CTRL from host state */
    uint32_t entry_set;       /* VM entry loads IA32_PERF_GLOBAL_CTRL from guest state */
    /* VMCS fields and their values. */
    uint32_t guest_global_ctrl_field;
    uint64_t guest_global_ctrl; /* bit 0: PMC0 enabled while the guest runs */
    uint32_t host_global_ctrl_field;
    uint64_t host_global_ctrl;  /* 0: nothing counts in root operation */
    /* Guest IA32_DEBUGCTL (VMCS_GUEST_DEBUGCTL, loaded by "load debug
     * controls"): bits to set and bits that must stay clear. */
    uint64_t guest_debugctl_set, guest_debugctl_clear;
    /* MSRs. */
    uint32_t evtsel_msr;
    uint64_t evtsel;
    uint32_t pmc_msr;         /* write presets here (and read the count back) */
    uint32_t global_status_msr;
    uint32_t ovf_clear_msr;   /* IA32_PERF_GLOBAL_OVF_CTRL / _STATUS_RESET */
    uint64_t ovf_clear;       /* write this to clear PMC0's overflow bit */
    /* LAPIC LVT performance counter entry. */
    uint32_t lvt_offset;      /* xAPIC MMIO offset */
    uint32_t lvt_msr;         /* x2APIC MSR */
    uint32_t lvt_value;       /* NMI delivery, unmasked: write after each PMI */
    uint32_t lvt_masked;      /* the bit the CPU sets on delivering a PMI */
};

void pmu_vmx_plan(const struct pmu_caps *caps, struct pmu_vmx_plan *out);

/* Can this CPU's VMX take the plan? Pass the capability MSR values in
 * struct vmx_caps (pinbased, procbased, exit, entry: the TRUE_ ones where
 * they exist); their high halves are the allowed 1-settings (SDM Vol. 3C,
 * Appendix A "VMX Capability Reporting Facility"). 0, or -1 with the
 * missing control named in why. */
int pmu_vmx_check(const struct pmu_vmx_plan *p, uint64_t pin_msr, uint64_t proc_msr, uint64_t exit_msr,
                  uint64_t entry_msr, char *why, size_t n);

/* ---- 3. Arming and accounting -------------------------------------------- */

/* The value to write to pmc_msr so that the counter overflows `skid`
 * events before `remaining` events from now. *armed = false (and 0) when
 * remaining <= skid: the caller single-steps with MTF instead. The period
 * is at most PMU_MAX_PERIOD, so one value serves both the full-width write
 * and IA32_PMC0's 32-bit sign-extended one; a longer distance takes more
 * than one overflow (each PMI exit is then an intermediate stop). */
uint64_t pmu_counter_preset(uint64_t remaining, uint32_t skid, unsigned width, bool *armed);

/* Events counted since the counter was set to preset, now read back as
 * now; wrap-around at width bits is handled (at most one wrap: the
 * overflow PMI stops the guest long before a second). */
uint64_t pmu_counted(uint64_t preset, uint64_t now, unsigned width);

/* The guest's branch count so far. */
struct pmu_progress {
    uint64_t branches;
};

/* Adds the events counted since preset to p; returns them. */
uint64_t pmu_account(struct pmu_progress *p, uint64_t preset, uint64_t read_back, unsigned width);

/* ---- 4. The replay approach ---------------------------------------------- */

enum pmu_step {
    PMU_ARM_COUNTER,  /* more than skid branches away: arm pmu_counter_preset() and run */
    PMU_SINGLE_STEP,  /* within skid, or at the count but not at the point: one MTF step */
    PMU_AT_TARGET,    /* count, RIP, RCX and register CRC all match: deliver the event */
    PMU_OVERSHOT,     /* count > target: the replay ran past the landmark (fatal) */
    PMU_DIVERGED,     /* at the count, but max_steps steps did not reach the point (fatal) */
};

/* The next move towards a landmark. count/rip/rcx/crc are now; target_* the
 * landmark's. steps_at_count: single steps taken since the count reached
 * target (0 on first arrival); beyond max_steps without a match the replay
 * has diverged. The caller also checks the synchronous-exit ordinal. */
enum pmu_step pmu_next_step(uint64_t count, uint64_t target, uint32_t skid, uint64_t rip, uint64_t target_rip,
                            uint64_t rcx, uint64_t target_rcx, uint32_t crc, uint32_t target_crc,
                            uint32_t steps_at_count, uint32_t max_steps);

const char *pmu_step_name(enum pmu_step s);

#endif
