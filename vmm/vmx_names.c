/* Words for VMX numbers: exit reasons (SDM Vol. 3, Appendix C), VM-instruction
 * error numbers (SDM Vol. 3, "VM Instruction Error Numbers") and VMCS field
 * names, so reports never show a bare number. */
#include "vmcs.h"
#include <stddef.h>

static const char *const exit_names[EXIT_REASON_MAX] = {
    [EXIT_EXCEPTION_NMI] = "exception or NMI",
    [EXIT_EXTERNAL_INTERRUPT] = "external interrupt",
    [EXIT_TRIPLE_FAULT] = "triple fault",
    [EXIT_INIT] = "INIT signal",
    [EXIT_SIPI] = "start-up IPI",
    [EXIT_IO_SMI] = "I/O SMI",
    [EXIT_OTHER_SMI] = "other SMI",
    [EXIT_INTERRUPT_WINDOW] = "interrupt window",
    [EXIT_NMI_WINDOW] = "NMI window",
    [EXIT_TASK_SWITCH] = "task switch",
    [EXIT_CPUID] = "CPUID",
    [EXIT_GETSEC] = "GETSEC",
    [EXIT_HLT] = "HLT",
    [EXIT_INVD] = "INVD",
    [EXIT_INVLPG] = "INVLPG",
    [EXIT_RDPMC] = "RDPMC",
    [EXIT_RDTSC] = "RDTSC",
    [EXIT_RSM] = "RSM",
    [EXIT_VMCALL] = "VMCALL",
    [EXIT_VMCLEAR] = "VMCLEAR",
    [EXIT_VMLAUNCH] = "VMLAUNCH",
    [EXIT_VMPTRLD] = "VMPTRLD",
    [EXIT_VMPTRST] = "VMPTRST",
    [EXIT_VMREAD] = "VMREAD",
    [EXIT_VMRESUME] = "VMRESUME",
    [EXIT_VMWRITE] = "VMWRITE",
    [EXIT_VMXOFF] = "VMXOFF",
    [EXIT_VMXON] = "VMXON",
    [EXIT_CR_ACCESS] = "control-register access",
    [EXIT_DR_ACCESS] = "debug-register access",
    [EXIT_IO] = "I/O instruction",
    [EXIT_RDMSR] = "RDMSR",
    [EXIT_WRMSR] = "WRMSR",
    [EXIT_ENTRY_INVALID_GUEST] = "VM-entry failure: invalid guest state",
    [EXIT_ENTRY_MSR_LOAD] = "VM-entry failure: MSR loading",
    [EXIT_MWAIT] = "MWAIT",
    [EXIT_MTF] = "monitor trap flag",
    [EXIT_MONITOR] = "MONITOR",
    [EXIT_PAUSE] = "PAUSE",
    [EXIT_ENTRY_MACHINE_CHECK] = "VM-entry failure: machine check",
    [EXIT_TPR_BELOW_THRESHOLD] = "TPR below threshold",
    [EXIT_APIC_ACCESS] = "APIC access",
    [EXIT_VIRTUALIZED_EOI] = "virtualized EOI",
    [EXIT_GDTR_IDTR] = "GDTR/IDTR access",
    [EXIT_LDTR_TR] = "LDTR/TR access",
    [EXIT_EPT_VIOLATION] = "EPT violation",
    [EXIT_EPT_MISCONFIG] = "EPT misconfiguration",
    [EXIT_INVEPT] = "INVEPT",
    [EXIT_RDTSCP] = "RDTSCP",
    [EXIT_PREEMPT_TIMER] = "VMX-preemption timer expired",
    [EXIT_INVVPID] = "INVVPID",
    [EXIT_WBINVD] = "WBINVD",
    [EXIT_XSETBV] = "XSETBV",
    [EXIT_APIC_WRITE] = "APIC write",
    [EXIT_RDRAND] = "RDRAND",
    [EXIT_INVPCID] = "INVPCID",
    [EXIT_VMFUNC] = "VMFUNC",
    [EXIT_ENCLS] = "ENCLS",
    [EXIT_RDSEED] = "RDSEED",
    [EXIT_PML_FULL] = "page-modification log full",
    [EXIT_XSAVES] = "XSAVES",
    [EXIT_XRSTORS] = "XRSTORS",
};

const char *vmx_exit_reason_name(uint32_t reason)
{
    reason &= 0xffff;
    return reason < EXIT_REASON_MAX && exit_names[reason] ? exit_names[reason] : "unknown exit reason";
}

const char *vmx_insn_error_name(uint32_t err)
{
    switch (err) {
    case 1: return "VMCALL executed in VMX root operation";
    case 2: return "VMCLEAR with invalid physical address";
    case 3: return "VMCLEAR with VMXON pointer";
    case 4: return "VMLAUNCH with non-clear VMCS";
    case 5: return "VMRESUME with non-launched VMCS";
    case 6: return "VMRESUME after VMXOFF";
    case 7: return "VM entry with invalid control field(s)";
    case 8: return "VM entry with invalid host-state field(s)";
    case 9: return "VMPTRLD with invalid physical address";
    case 10: return "VMPTRLD with VMXON pointer";
    case 11: return "VMPTRLD with incorrect VMCS revision identifier";
    case 12: return "VMREAD/VMWRITE from/to unsupported VMCS component";
    case 13: return "VMWRITE to read-only VMCS component";
    case 15: return "VMXON executed in VMX root operation";
    case 16: return "VM entry with invalid executive-VMCS pointer";
    case 17: return "VM entry with non-launched executive VMCS";
    case 18: return "VM entry with executive-VMCS pointer not VMXON pointer";
    case 19: return "VMCALL with non-clear VMCS";
    case 20: return "VMCALL with invalid VM-exit control fields";
    case 22: return "VMCALL with incorrect MSEG revision identifier";
    case 23: return "VMXOFF under dual-monitor treatment of SMIs and SMM";
    case 24: return "VMCALL with invalid SMM-monitor features";
    case 25: return "VM entry with invalid VM-execution control fields in executive VMCS";
    case 26: return "VM entry with events blocked by MOV SS";
    case 28: return "invalid operand to INVEPT/INVVPID";
    default: return "unknown VM-instruction error";
    }
}

struct field_name {
    uint32_t field;
    const char *name;
};

static const struct field_name fields[] = {
    { VMCS_VPID, "VPID" },
    { VMCS_GUEST_ES_SEL, "guest ES selector" }, { VMCS_GUEST_CS_SEL, "guest CS selector" },
    { VMCS_GUEST_SS_SEL, "guest SS selector" }, { VMCS_GUEST_DS_SEL, "guest DS selector" },
    { VMCS_GUEST_FS_SEL, "guest FS selector" }, { VMCS_GUEST_GS_SEL, "guest GS selector" },
    { VMCS_GUEST_LDTR_SEL, "guest LDTR selector" }, { VMCS_GUEST_TR_SEL, "guest TR selector" },
    { VMCS_HOST_ES_SEL, "host ES selector" }, { VMCS_HOST_CS_SEL, "host CS selector" },
    { VMCS_HOST_SS_SEL, "host SS selector" }, { VMCS_HOST_DS_SEL, "host DS selector" },
    { VMCS_HOST_FS_SEL, "host FS selector" }, { VMCS_HOST_GS_SEL, "host GS selector" },
    { VMCS_HOST_TR_SEL, "host TR selector" },
    { VMCS_IO_BITMAP_A, "I/O bitmap A" }, { VMCS_IO_BITMAP_B, "I/O bitmap B" },
    { VMCS_MSR_BITMAP, "MSR bitmap" }, { VMCS_TSC_OFFSET, "TSC offset" }, { VMCS_EPTP, "EPT pointer" },
    { VMCS_GUEST_PHYS_ADDR, "guest-physical address" }, { VMCS_LINK_POINTER, "VMCS link pointer" },
    { VMCS_GUEST_DEBUGCTL, "guest IA32_DEBUGCTL" }, { VMCS_GUEST_PAT, "guest IA32_PAT" },
    { VMCS_GUEST_EFER, "guest IA32_EFER" }, { VMCS_HOST_PAT, "host IA32_PAT" }, { VMCS_HOST_EFER, "host IA32_EFER" },
    { VMCS_PIN_CTLS, "pin-based VM-execution controls" }, { VMCS_PROC_CTLS, "primary processor-based controls" },
    { VMCS_EXCEPTION_BITMAP, "exception bitmap" }, { VMCS_CR3_TARGET_COUNT, "CR3-target count" },
    { VMCS_EXIT_CTLS, "VM-exit controls" }, { VMCS_ENTRY_CTLS, "VM-entry controls" },
    { VMCS_ENTRY_INTR_INFO, "VM-entry interruption-information" },
    { VMCS_ENTRY_EXCEPTION_ERR, "VM-entry exception error code" },
    { VMCS_ENTRY_INSN_LEN, "VM-entry instruction length" },
    { VMCS_PROC_CTLS2, "secondary processor-based controls" },
    { VMCS_GUEST_ES_LIMIT, "guest ES limit" }, { VMCS_GUEST_CS_LIMIT, "guest CS limit" },
    { VMCS_GUEST_SS_LIMIT, "guest SS limit" }, { VMCS_GUEST_DS_LIMIT, "guest DS limit" },
    { VMCS_GUEST_FS_LIMIT, "guest FS limit" }, { VMCS_GUEST_GS_LIMIT, "guest GS limit" },
    { VMCS_GUEST_LDTR_LIMIT, "guest LDTR limit" }, { VMCS_GUEST_TR_LIMIT, "guest TR limit" },
    { VMCS_GUEST_GDTR_LIMIT, "guest GDTR limit" }, { VMCS_GUEST_IDTR_LIMIT, "guest IDTR limit" },
    { VMCS_GUEST_ES_AR, "guest ES access rights" }, { VMCS_GUEST_CS_AR, "guest CS access rights" },
    { VMCS_GUEST_SS_AR, "guest SS access rights" }, { VMCS_GUEST_DS_AR, "guest DS access rights" },
    { VMCS_GUEST_FS_AR, "guest FS access rights" }, { VMCS_GUEST_GS_AR, "guest GS access rights" },
    { VMCS_GUEST_LDTR_AR, "guest LDTR access rights" }, { VMCS_GUEST_TR_AR, "guest TR access rights" },
    { VMCS_GUEST_INTERRUPTIBILITY, "guest interruptibility state" },
    { VMCS_GUEST_ACTIVITY, "guest activity state" }, { VMCS_PREEMPT_TIMER, "VMX-preemption timer value" },
    { VMCS_CR0_MASK, "CR0 guest/host mask" }, { VMCS_CR4_MASK, "CR4 guest/host mask" },
    { VMCS_CR0_SHADOW, "CR0 read shadow" }, { VMCS_CR4_SHADOW, "CR4 read shadow" },
    { VMCS_GUEST_CR0, "guest CR0" }, { VMCS_GUEST_CR3, "guest CR3" }, { VMCS_GUEST_CR4, "guest CR4" },
    { VMCS_GUEST_ES_BASE, "guest ES base" }, { VMCS_GUEST_CS_BASE, "guest CS base" },
    { VMCS_GUEST_SS_BASE, "guest SS base" }, { VMCS_GUEST_DS_BASE, "guest DS base" },
    { VMCS_GUEST_FS_BASE, "guest FS base" }, { VMCS_GUEST_GS_BASE, "guest GS base" },
    { VMCS_GUEST_LDTR_BASE, "guest LDTR base" }, { VMCS_GUEST_TR_BASE, "guest TR base" },
    { VMCS_GUEST_GDTR_BASE, "guest GDTR base" }, { VMCS_GUEST_IDTR_BASE, "guest IDTR base" },
    { VMCS_GUEST_DR7, "guest DR7" }, { VMCS_GUEST_RSP, "guest RSP" }, { VMCS_GUEST_RIP, "guest RIP" },
    { VMCS_GUEST_RFLAGS, "guest RFLAGS" }, { VMCS_GUEST_PENDING_DBG, "guest pending debug exceptions" },
    { VMCS_HOST_CR0, "host CR0" }, { VMCS_HOST_CR3, "host CR3" }, { VMCS_HOST_CR4, "host CR4" },
    { VMCS_HOST_FS_BASE, "host FS base" }, { VMCS_HOST_GS_BASE, "host GS base" },
    { VMCS_HOST_TR_BASE, "host TR base" }, { VMCS_HOST_GDTR_BASE, "host GDTR base" },
    { VMCS_HOST_IDTR_BASE, "host IDTR base" }, { VMCS_HOST_RSP, "host RSP" }, { VMCS_HOST_RIP, "host RIP" },
};

const char *vmcs_field_name(uint32_t field)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].field == field)
            return fields[i].name;
    return "unnamed VMCS field";
}
