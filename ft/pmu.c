/* The PMU landmark backend's pure logic (ft/pmu.h). Freestanding: no kernel
 * calls, so the same file builds into the hypervisor and the host test. */
#include "pmu.h"
#include <string.h>

/* ---- reasons --------------------------------------------------------------- */

/* A bounded string builder for `why` (no formatter here: the kernel's is a
 * kernel call). Truncates, always NUL-terminates when n > 0. */
struct msg {
    char *buf;
    size_t n, len;
};

static void put(struct msg *m, const char *s)
{
    for (; *s; s++) {
        if (m->buf && m->len + 1 < m->n)
            m->buf[m->len] = *s;
        m->len++;
    }
    if (m->buf && m->n)
        m->buf[m->len < m->n ? m->len : m->n - 1] = 0;
}

static void put_dec(struct msg *m, uint64_t v)
{
    char t[24];
    int i = (int)sizeof(t) - 1;
    t[i] = 0;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(m, t + i);
}

static void put_hex(struct msg *m, uint64_t v)
{
    char t[24];
    int i = (int)sizeof(t) - 1;
    t[i] = 0;
    do {
        t[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    t[--i] = 'x';
    t[--i] = '0';
    put(m, t + i);
}

static uint64_t mask_of(unsigned width)
{
    if (width == 0)
        return 0;
    return width >= 64 ? ~0ull : (1ull << width) - 1;
}

/* ---- 1. detection ------------------------------------------------------------ */

/* Family-6 models (DisplayModel, SDM Vol. 4, table "CPUID Signature Values
 * of DisplayFamily_DisplayModel") whose core counts BR_INST_RETIRED
 * .CONDITIONAL as event C4H umask 01H: the "big" cores from Sandy Bridge
 * to Comet Lake (Sandy Bridge, Ivy Bridge, Haswell, Broadwell and the
 * Skylake core with its derivatives Kaby/Coffee/Whiskey/Amber/Comet Lake
 * and Cascade/Cooper Lake), per Intel's model-specific event lists (SDM
 * Vol. 3B, chapter "Performance-Monitoring Events", now published at
 * perfmon-events.intel.com). Retired conditional branches are counted at
 * retirement, so the count is a function of the instruction stream. */
static const struct {
    uint8_t model;
    const char *name;
} accepted[] = {
    { 0x2a, "Sandy Bridge" },        { 0x2d, "Sandy Bridge-E/EP" },
    { 0x3a, "Ivy Bridge" },          { 0x3e, "Ivy Bridge-E/EP/EX" },
    { 0x3c, "Haswell" },             { 0x3f, "Haswell-E/EP/EX" },
    { 0x45, "Haswell ULT" },         { 0x46, "Haswell GT3e" },
    { 0x3d, "Broadwell" },           { 0x47, "Broadwell GT3e" },
    { 0x4f, "Broadwell-E/EP/EX" },   { 0x56, "Broadwell-DE" },
    { 0x4e, "Skylake (mobile)" },    { 0x5e, "Skylake (desktop)" },
    { 0x55, "Skylake-SP/Cascade Lake/Cooper Lake" },
    { 0x8e, "Kaby/Coffee/Whiskey/Amber Lake (mobile)" },
    { 0x9e, "Kaby/Coffee Lake (desktop)" },
    { 0xa5, "Comet Lake" },          { 0xa6, "Comet Lake (mobile)" },
};

/* Known family-6 models refused for a known reason; anything else is
 * refused as unknown. */
enum refusal { R_NEWER_UMASK, R_OLDER, R_ATOM };
static const struct {
    uint8_t model;
    uint8_t why;
    const char *name;
} refused[] = {
    /* Sunny Cove and later big cores: umask 01H became COND_TAKEN and
     * all conditional branches are umask 11H (BR_INST_RETIRED.COND); the
     * hybrids' Atom cores differ again. */
    { 0x6a, R_NEWER_UMASK, "Ice Lake-SP" },   { 0x6c, R_NEWER_UMASK, "Ice Lake-D" },
    { 0x7d, R_NEWER_UMASK, "Ice Lake" },      { 0x7e, R_NEWER_UMASK, "Ice Lake (mobile)" },
    { 0x9d, R_NEWER_UMASK, "Ice Lake NNPI" }, { 0x8c, R_NEWER_UMASK, "Tiger Lake (mobile)" },
    { 0x8d, R_NEWER_UMASK, "Tiger Lake" },    { 0xa7, R_NEWER_UMASK, "Rocket Lake" },
    { 0x8f, R_NEWER_UMASK, "Sapphire Rapids" }, { 0xcf, R_NEWER_UMASK, "Emerald Rapids" },
    { 0xad, R_NEWER_UMASK, "Granite Rapids" }, { 0xae, R_NEWER_UMASK, "Granite Rapids-D" },
    { 0x8a, R_NEWER_UMASK, "Lakefield (hybrid)" }, { 0x97, R_NEWER_UMASK, "Alder Lake (hybrid)" },
    { 0x9a, R_NEWER_UMASK, "Alder Lake (mobile, hybrid)" }, { 0xb7, R_NEWER_UMASK, "Raptor Lake (hybrid)" },
    { 0xba, R_NEWER_UMASK, "Raptor Lake (mobile, hybrid)" }, { 0xbf, R_NEWER_UMASK, "Raptor Lake-S (hybrid)" },
    { 0xaa, R_NEWER_UMASK, "Meteor Lake (hybrid)" }, { 0xac, R_NEWER_UMASK, "Meteor Lake (hybrid)" },
    /* Before Sandy Bridge: not validated for deterministic counting. */
    { 0x0f, R_OLDER, "Core 2 (Merom)" },      { 0x17, R_OLDER, "Core 2 (Penryn)" },
    { 0x1d, R_OLDER, "Xeon 7400 (Dunnington)" },
    { 0x1a, R_OLDER, "Nehalem-EP" },          { 0x1e, R_OLDER, "Nehalem" },
    { 0x1f, R_OLDER, "Nehalem" },             { 0x2e, R_OLDER, "Nehalem-EX" },
    { 0x25, R_OLDER, "Westmere" },            { 0x2c, R_OLDER, "Westmere-EP" },
    { 0x2f, R_OLDER, "Westmere-EX" },
    /* Atom-family cores (and Xeon Phi, built on them): conditional
     * branches are a different umask (7EH where listed as JCC/COND). */
    { 0x1c, R_ATOM, "Atom (Bonnell)" },       { 0x26, R_ATOM, "Atom (Bonnell)" },
    { 0x27, R_ATOM, "Atom (Saltwell)" },      { 0x35, R_ATOM, "Atom (Saltwell)" },
    { 0x36, R_ATOM, "Atom (Saltwell)" },      { 0x37, R_ATOM, "Atom (Silvermont)" },
    { 0x4a, R_ATOM, "Atom (Silvermont)" },    { 0x4d, R_ATOM, "Atom (Silvermont)" },
    { 0x5d, R_ATOM, "Atom (Silvermont)" },    { 0x4c, R_ATOM, "Atom (Airmont)" },
    { 0x5a, R_ATOM, "Atom (Airmont)" },       { 0x5c, R_ATOM, "Atom (Goldmont)" },
    { 0x5f, R_ATOM, "Atom (Goldmont)" },      { 0x7a, R_ATOM, "Atom (Goldmont Plus)" },
    { 0x86, R_ATOM, "Atom (Tremont)" },       { 0x96, R_ATOM, "Atom (Tremont)" },
    { 0x9c, R_ATOM, "Atom (Tremont)" },       { 0xbe, R_ATOM, "Atom (Gracemont)" },
    { 0xaf, R_ATOM, "Sierra Forest" },        { 0xb6, R_ATOM, "Grand Ridge" },
    { 0x57, R_ATOM, "Xeon Phi (Knights Landing)" }, { 0x85, R_ATOM, "Xeon Phi (Knights Mill)" },
};

int pmu_probe(const struct pmu_cpuid *c, struct pmu_caps *out, char *why, size_t n)
{
    struct msg m = { why, n, 0 };
    memset(out, 0, sizeof(*out));
    if (why && n)
        why[0] = 0;

    /* CPUID.00H: the vendor string in EBX, EDX, ECX (SDM Vol. 2A, CPUID,
     * "Basic CPUID Information"). The event is Intel's. */
    char vendor[13];
    memcpy(vendor, c->vendor, 12);
    vendor[12] = 0;
    if (memcmp(vendor, "GenuineIntel", 12) != 0) {
        for (int i = 0; i < 12; i++)
            if (vendor[i] < 0x20 || vendor[i] > 0x7e)
                vendor[i] = '?';
        put(&m, "CPU vendor \"");
        put(&m, vendor);
        put(&m, "\" is not GenuineIntel: the PMU backend counts Intel's BR_INST_RETIRED.CONDITIONAL event");
        return -1;
    }

    /* CPUID.01H:EAX version information (SDM Vol. 2A, CPUID, "Version
     * Information: Type, Family, Model, and Stepping ID"): DisplayFamily
     * adds the extended family only for family 0FH; DisplayModel prepends
     * the extended model for families 06H and 0FH. Decoded first so that
     * every later refusal can name the CPU. */
    uint32_t v = c->leaf1_eax;
    out->stepping = v & 0xf;
    out->family = (v >> 8) & 0xf;
    out->model = (v >> 4) & 0xf;
    if (out->family == 0xf)
        out->family += (v >> 20) & 0xff;
    if (out->family == 0x6 || out->family == 0xf)
        out->model |= ((v >> 16) & 0xf) << 4;

    /* CPUID leaf 0AH, "Architectural Performance Monitoring Leaf" (SDM
     * Vol. 2A, CPUID; Vol. 3B, "Architectural Performance Monitoring"). */
    if (c->max_leaf < 0xa) {
        put(&m, "CPUID maximum basic leaf is ");
        put_hex(&m, c->max_leaf);
        put(&m, ": no leaf 0xA, no architectural performance monitoring");
        return -1;
    }
    uint32_t a = c->leaf0a_eax;
    out->version = a & 0xff;
    out->counters = (a >> 8) & 0xff;
    out->width = (a >> 16) & 0xff;
    unsigned ebx_len = (a >> 24) & 0xff; /* how many EBX bits are meaningful */
    if (out->version > 1) {
        out->fixed_counters = c->leaf0a_edx & 0x1f;
        out->fixed_width = (c->leaf0a_edx >> 5) & 0xff;
    }
    if (out->version == 0) {
        put(&m, "CPUID leaf 0xA reports PMU version 0: no architectural performance monitoring");
        return -1;
    }
    /* Version 2 brings IA32_PERF_GLOBAL_CTRL/STATUS/OVF_CTRL (Vol. 3B,
     * "Architectural Performance Monitoring Version 2 Facilities"): the
     * global enable that VM entry and VM exit load, so that the counter
     * runs only while the guest does. */
    if (out->version < 2) {
        put(&m, "CPUID leaf 0xA reports PMU version ");
        put_dec(&m, out->version);
        put(&m, ": version 2 or later is needed for IA32_PERF_GLOBAL_CTRL, which VM entry and exit load "
                "to count in the guest only");
        return -1;
    }
    if (out->counters == 0) {
        put(&m, "CPUID leaf 0xA reports no general-purpose counters");
        return -1;
    }
    /* At least 32 bits: IA32_PMC0 writes are 32 bits sign-extended (Vol.
     * 3B, "Full-Width Writes to Performance Counter Registers"), and the
     * arming arithmetic relies on bit 31 being a counter bit. */
    if (out->width < 32 || out->width > 64) {
        put(&m, "CPUID leaf 0xA reports ");
        put_dec(&m, out->width);
        put(&m, "-bit counters: 32 to 64 bits are needed");
        return -1;
    }
    out->counter_mask = mask_of(out->width);
    /* EBX bit 5 set: "branch instructions retired" is not available; bits
     * at or beyond the length in EAX[31:24] say nothing, so a short vector
     * counts as unavailable (Vol. 3B, "Pre-defined Architectural
     * Performance Events"). */
    if (ebx_len <= 5) {
        put(&m, "CPUID leaf 0xA enumerates only ");
        put_dec(&m, ebx_len);
        put(&m, " architectural events: branch instructions retired (EBX bit 5) is not among them");
        return -1;
    }
    if (c->leaf0a_ebx & (1u << 5)) {
        put(&m, "CPUID leaf 0xA EBX bit 5 is set: the branch instructions retired event is not available");
        return -1;
    }
    out->status_reset = out->version >= 4; /* Vol. 3B, "... Version 4 Facilities" */

    /* IA32_PERF_CAPABILITIES exists when CPUID.01H:ECX.PDCM[15] is set;
     * the caller read it. FW_WRITE (bit 13): IA32_A_PMCx accept all width
     * bits; SMM_FREEZE (bit 12): IA32_DEBUGCTL.FREEZE_WHILE_SMM exists
     * (SDM Vol. 4, IA32_PERF_CAPABILITIES). */
    if (c->perf_caps_valid && (c->leaf1_ecx & (1u << 15))) {
        out->full_width_write = (c->perf_caps & PMU_PERFCAP_FW_WRITE) != 0;
        out->smm_freeze = (c->perf_caps & PMU_PERFCAP_SMM_FREEZE) != 0;
    }
    out->pmc_msr = out->full_width_write ? PMU_MSR_A_PMC0 : PMU_MSR_PMC0;

    if (out->family != 6) {
        put(&m, "CPU family ");
        put_dec(&m, out->family);
        put(&m, " is not family 6: BR_INST_RETIRED.CONDITIONAL (event 0xC4 umask 0x01) is validated only on "
                "family-6 Sandy Bridge to Comet Lake cores");
        return -1;
    }
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        if (accepted[i].model == out->model) {
            out->uarch = accepted[i].name;
            return 0;
        }
    put(&m, "CPU family 6 model ");
    put_hex(&m, out->model);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (refused[i].model != out->model)
            continue;
        put(&m, " (");
        put(&m, refused[i].name);
        switch (refused[i].why) {
        case R_NEWER_UMASK:
            put(&m, ") is newer than Comet Lake: there event 0xC4 umask 0x01 counts only taken conditional "
                    "branches (all of them are umask 0x11); not supported yet");
            break;
        case R_OLDER:
            put(&m, ") predates Sandy Bridge: its conditional-branch counting is not validated for replay");
            break;
        default:
            put(&m, ") is an Atom-family core: it encodes retired conditional branches differently; "
                    "not supported");
            break;
        }
        return -1;
    }
    put(&m, " is not a known Sandy Bridge to Comet Lake core: BR_INST_RETIRED.CONDITIONAL (event 0xC4 umask "
            "0x01) is not validated there");
    return -1;
}

/* ---- 2. programming ----------------------------------------------------------- */

uint64_t pmu_evtsel(void)
{
    /* Event C4H umask 01H. USR and OS: the guest's user and kernel code
     * both count (CPL is the guest's in VMX non-root operation). INT: a
     * PMI on overflow, the arming mechanism. EN: counting on (the global
     * enable, loaded by VM entry and exit, gates it further). Zero:
     *  - EDGE: would count only asserting edges of the event signal, not
     *    every retired branch;
     *  - PC: pin control, meaningless here;
     *  - AnyThread: would add the sibling hyper-thread's branches, which
     *    the guest does not determine;
     *  - INV and CMASK: a non-zero CMASK counts cycles with at least CMASK
     *    events instead of events, INV inverts that comparison.
     * (SDM Vol. 3B, "Architectural Performance Monitoring Version 1
     * Facilities", "... Version 3 Facilities".) Bits 32 and up (IN_TX,
     * IN_TXCP on TSX parts) stay zero: the guest's CPUID shows no TSX. */
    return (uint64_t)PMU_EVENT_BR_INST_RETIRED << PMU_EVTSEL_EVENT_SHIFT |
           (uint64_t)PMU_UMASK_CONDITIONAL << PMU_EVTSEL_UMASK_SHIFT | PMU_EVTSEL_USR | PMU_EVTSEL_OS |
           PMU_EVTSEL_INT | PMU_EVTSEL_EN;
}

void pmu_vmx_plan(const struct pmu_caps *caps, struct pmu_vmx_plan *p)
{
    memset(p, 0, sizeof(*p));
    /* Counting only in VMX non-root operation: VM entry loads the guest
     * IA32_PERF_GLOBAL_CTRL (PMC0 enabled), VM exit loads the host one (0),
     * so neither the host nor VMRESUME itself counts (SDM Vol. 3C,
     * "VM-Entry Controls" bit 13 and "VM-Exit Controls" bit 12 "load
     * IA32_PERF_GLOBAL_CTRL"; Vol. 3B, "Architectural Performance
     * Monitoring Version 2 Facilities": bit 0 enables IA32_PMC0). */
    p->entry_set = PMU_ENTRY_LOAD_PERF_GLOBAL_CTRL;
    p->exit_set = PMU_EXIT_LOAD_PERF_GLOBAL_CTRL;
    p->guest_global_ctrl_field = PMU_VMCS_GUEST_PERF_GLOBAL_CTRL;
    p->guest_global_ctrl = 1;
    p->host_global_ctrl_field = PMU_VMCS_HOST_PERF_GLOBAL_CTRL;
    p->host_global_ctrl = 0;
    /* The PMI: the LVT performance counter entry in NMI delivery mode
     * (vector ignored) makes it an NMI, and "NMI exiting" turns that NMI
     * into a VM exit (basic reason 0, interruption type NMI) instead of a
     * guest event (SDM Vol. 3A, "Local Vector Table"; Vol. 3C, "Pin-Based
     * VM-Execution Controls"). The CPU sets the LVT mask bit when it
     * delivers a PMI: write lvt_value again after each one. After an NMI
     * VM exit NMIs stay blocked in root operation until the next IRET
     * (Vol. 3C, "Architectural State Before a VM Exit"). A PMI whose NMI
     * arrives after the VM exit is a host NMI: its handler must check
     * IA32_PERF_GLOBAL_STATUS bit 0. */
    p->pin_set = PMU_PIN_NMI_EXITING;
    p->lvt_offset = PMU_LAPIC_LVT_PMC;
    p->lvt_msr = PMU_X2APIC_MSR_LVT_PMC;
    p->lvt_value = PMU_LVT_DELIVERY_NMI;
    p->lvt_masked = PMU_LVT_MASKED;
    /* RDPMC would show the guest our counter, whose value differs between
     * record and replay (Vol. 3C, "Processor-Based VM-Execution Controls"
     * bit 11). The PMU MSRs stay intercepted by the MSR bitmap. */
    p->proc_set = PMU_PROC_RDPMC_EXITING;
    /* Guest IA32_DEBUGCTL: FREEZE_PERFMON_ON_PMI would stop the counter at
     * the overflow and lose the skid branches; FREEZE_WHILE_SMM keeps SMI
     * handlers that run while the guest runs out of the count (SDM Vol.
     * 3B, "IA32_DEBUGCTL MSR"), where IA32_PERF_CAPABILITIES.SMM_FREEZE
     * says the bit exists. Without it, an SMI adds branches: replay then
     * reports a divergence, never a silent mismatch. */
    p->guest_debugctl_clear = PMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI;
    p->guest_debugctl_set = caps->smm_freeze ? PMU_DEBUGCTL_FREEZE_WHILE_SMM : 0;
    p->evtsel_msr = PMU_MSR_PERFEVTSEL0;
    p->evtsel = pmu_evtsel();
    p->pmc_msr = caps->pmc_msr ? caps->pmc_msr : PMU_MSR_PMC0;
    p->global_status_msr = PMU_MSR_PERF_GLOBAL_STATUS;
    /* IA32_PERF_GLOBAL_OVF_CTRL (v2, v3) and IA32_PERF_GLOBAL_STATUS_RESET
     * (v4+) are the same MSR, 0x390: writing 1 to bit 0 clears PMC0's
     * overflow bit in IA32_PERF_GLOBAL_STATUS (Vol. 3B, "... Version 2
     * Facilities", "... Version 4 Facilities"). */
    p->ovf_clear_msr = PMU_MSR_PERF_GLOBAL_OVF_CTRL;
    p->ovf_clear = 1;
}

/* Appendix A: bit i of a control may be 1 if bit 32+i of its MSR is 1. */
static bool may_set(uint64_t msr, uint32_t bits) { return ((uint32_t)(msr >> 32) & bits) == bits; }

int pmu_vmx_check(const struct pmu_vmx_plan *p, uint64_t pin_msr, uint64_t proc_msr, uint64_t exit_msr,
                  uint64_t entry_msr, char *why, size_t n)
{
    struct msg m = { why, n, 0 };
    if (why && n)
        why[0] = 0;
    const char *missing = NULL;
    if (!may_set(entry_msr, p->entry_set))
        missing = "the VM-entry control \"load IA32_PERF_GLOBAL_CTRL\" (bit 13)";
    else if (!may_set(exit_msr, p->exit_set))
        missing = "the VM-exit control \"load IA32_PERF_GLOBAL_CTRL\" (bit 12)";
    else if (!may_set(pin_msr, p->pin_set))
        missing = "the pin-based control \"NMI exiting\" (bit 3)";
    else if (!may_set(proc_msr, p->proc_set))
        missing = "the processor-based control \"RDPMC exiting\" (bit 11)";
    if (!missing)
        return 0;
    put(&m, "this CPU's VMX does not allow ");
    put(&m, missing);
    put(&m, ", which the PMU backend needs");
    return -1;
}

/* ---- 3. arming and accounting ----------------------------------------------- */

uint64_t pmu_counter_preset(uint64_t remaining, uint32_t skid, unsigned width, bool *armed)
{
    *armed = false;
    if (width == 0 || remaining <= skid)
        return 0;
    /* The counter overflows (all ones to zero, setting the overflow bit and
     * raising the PMI) after `period` events from 2^width - period (Vol.
     * 3B, "Architectural Performance Monitoring Version 1 Facilities").
     * The cap keeps bits 31..width-1 of the preset all ones, which is
     * exactly what IA32_PMC0's sign extension from bit 31 produces, so
     * writing the low 32 bits there gives the same counter value as the
     * full-width write to IA32_A_PMC0. */
    uint64_t period = remaining - skid;
    uint64_t cap = width >= 32 ? PMU_MAX_PERIOD : 1ull << (width - 1);
    if (period > cap)
        period = cap;
    *armed = true;
    return (0 - period) & mask_of(width);
}

uint64_t pmu_counted(uint64_t preset, uint64_t now, unsigned width)
{
    /* Modular difference: right across one wrap through zero. */
    return (now - preset) & mask_of(width);
}

uint64_t pmu_account(struct pmu_progress *p, uint64_t preset, uint64_t read_back, unsigned width)
{
    uint64_t d = pmu_counted(preset, read_back, width);
    p->branches += d;
    return d;
}

/* ---- 4. the replay approach ---------------------------------------------------- */

enum pmu_step pmu_next_step(uint64_t count, uint64_t target, uint32_t skid, uint64_t rip, uint64_t target_rip,
                            uint64_t rcx, uint64_t target_rcx, uint32_t crc, uint32_t target_crc,
                            uint32_t steps_at_count, uint32_t max_steps)
{
    if (count > target)
        return PMU_OVERSHOT;
    if (count < target)
        return target - count > skid ? PMU_ARM_COUNTER : PMU_SINGLE_STEP;
    /* At the count: straight-line code, REP iterations and unconditional
     * jumps move the guest without moving the count; step until the whole
     * landmark matches. The next conditional branch makes count > target. */
    if (rip == target_rip && rcx == target_rcx && crc == target_crc)
        return PMU_AT_TARGET;
    return steps_at_count >= max_steps ? PMU_DIVERGED : PMU_SINGLE_STEP;
}

const char *pmu_step_name(enum pmu_step s)
{
    switch (s) {
    case PMU_ARM_COUNTER: return "arm the counter";
    case PMU_SINGLE_STEP: return "single-step";
    case PMU_AT_TARGET: return "at the landmark";
    case PMU_OVERSHOT: return "overshot the landmark";
    case PMU_DIVERGED: return "diverged at the landmark's branch count";
    }
    return "?";
}
