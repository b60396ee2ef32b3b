/* VMCS field encodings (Intel SDM Vol. 3, Appendix B "Field Encoding in
 * VMCS"), control bits (SDM Vol. 3, "VM-Execution Control Fields", "VM-Exit
 * Control Fields", "VM-Entry Control Fields"), exit reasons (Appendix C)
 * and VMREAD/VMWRITE. */
#ifndef VMM_VMCS_H
#define VMM_VMCS_H

#include <stdint.h>
#include <stdbool.h>

/* 16-bit fields */
#define VMCS_VPID 0x0000
#define VMCS_GUEST_ES_SEL 0x0800
#define VMCS_GUEST_CS_SEL 0x0802
#define VMCS_GUEST_SS_SEL 0x0804
#define VMCS_GUEST_DS_SEL 0x0806
#define VMCS_GUEST_FS_SEL 0x0808
#define VMCS_GUEST_GS_SEL 0x080a
#define VMCS_GUEST_LDTR_SEL 0x080c
#define VMCS_GUEST_TR_SEL 0x080e
#define VMCS_HOST_ES_SEL 0x0c00
#define VMCS_HOST_CS_SEL 0x0c02
#define VMCS_HOST_SS_SEL 0x0c04
#define VMCS_HOST_DS_SEL 0x0c06
#define VMCS_HOST_FS_SEL 0x0c08
#define VMCS_HOST_GS_SEL 0x0c0a
#define VMCS_HOST_TR_SEL 0x0c0c

/* 64-bit fields */
#define VMCS_IO_BITMAP_A 0x2000
#define VMCS_IO_BITMAP_B 0x2002
#define VMCS_MSR_BITMAP 0x2004
#define VMCS_EXIT_MSR_STORE 0x2006
#define VMCS_EXIT_MSR_LOAD 0x2008
#define VMCS_ENTRY_MSR_LOAD 0x200a
#define VMCS_TSC_OFFSET 0x2010
#define VMCS_EPTP 0x201a
#define VMCS_GUEST_PHYS_ADDR 0x2400
#define VMCS_LINK_POINTER 0x2800
#define VMCS_GUEST_DEBUGCTL 0x2802
#define VMCS_GUEST_PERF_GLOBAL_CTRL 0x2808 /* SDM Vol. 3C, App. B.2.3 */
#define VMCS_HOST_PERF_GLOBAL_CTRL 0x2c04  /* SDM Vol. 3C, App. B.2.4 */
#define VMCS_GUEST_PAT 0x2804
#define VMCS_GUEST_EFER 0x2806
#define VMCS_GUEST_PDPTE0 0x280a
#define VMCS_GUEST_PDPTE1 0x280c
#define VMCS_GUEST_PDPTE2 0x280e
#define VMCS_GUEST_PDPTE3 0x2810
#define VMCS_HOST_PAT 0x2c00
#define VMCS_HOST_EFER 0x2c02

/* 32-bit fields */
#define VMCS_PIN_CTLS 0x4000
#define VMCS_PROC_CTLS 0x4002
#define VMCS_EXCEPTION_BITMAP 0x4004
#define VMCS_PF_ERR_MASK 0x4006
#define VMCS_PF_ERR_MATCH 0x4008
#define VMCS_CR3_TARGET_COUNT 0x400a
#define VMCS_EXIT_CTLS 0x400c
#define VMCS_EXIT_MSR_STORE_COUNT 0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT 0x4010
#define VMCS_ENTRY_CTLS 0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT 0x4014
#define VMCS_ENTRY_INTR_INFO 0x4016
#define VMCS_ENTRY_EXCEPTION_ERR 0x4018
#define VMCS_ENTRY_INSN_LEN 0x401a
#define VMCS_TPR_THRESHOLD 0x401c
#define VMCS_PROC_CTLS2 0x401e
#define VMCS_VM_INSN_ERROR 0x4400
#define VMCS_EXIT_REASON 0x4402
#define VMCS_EXIT_INTR_INFO 0x4404
#define VMCS_EXIT_INTR_ERR 0x4406
#define VMCS_IDT_VECTORING_INFO 0x4408
#define VMCS_IDT_VECTORING_ERR 0x440a
#define VMCS_EXIT_INSN_LEN 0x440c
#define VMCS_EXIT_INSN_INFO 0x440e
#define VMCS_GUEST_ES_LIMIT 0x4800
#define VMCS_GUEST_CS_LIMIT 0x4802
#define VMCS_GUEST_SS_LIMIT 0x4804
#define VMCS_GUEST_DS_LIMIT 0x4806
#define VMCS_GUEST_FS_LIMIT 0x4808
#define VMCS_GUEST_GS_LIMIT 0x480a
#define VMCS_GUEST_LDTR_LIMIT 0x480c
#define VMCS_GUEST_TR_LIMIT 0x480e
#define VMCS_GUEST_GDTR_LIMIT 0x4810
#define VMCS_GUEST_IDTR_LIMIT 0x4812
#define VMCS_GUEST_ES_AR 0x4814
#define VMCS_GUEST_CS_AR 0x4816
#define VMCS_GUEST_SS_AR 0x4818
#define VMCS_GUEST_DS_AR 0x481a
#define VMCS_GUEST_FS_AR 0x481c
#define VMCS_GUEST_GS_AR 0x481e
#define VMCS_GUEST_LDTR_AR 0x4820
#define VMCS_GUEST_TR_AR 0x4822
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY 0x4826
#define VMCS_GUEST_SYSENTER_CS 0x482a
#define VMCS_PREEMPT_TIMER 0x482e
#define VMCS_HOST_SYSENTER_CS 0x4c00

/* Natural-width fields */
#define VMCS_CR0_MASK 0x6000
#define VMCS_CR4_MASK 0x6002
#define VMCS_CR0_SHADOW 0x6004
#define VMCS_CR4_SHADOW 0x6006
#define VMCS_EXIT_QUALIFICATION 0x6400
#define VMCS_GUEST_LINEAR_ADDR 0x640a
#define VMCS_GUEST_CR0 0x6800
#define VMCS_GUEST_CR3 0x6802
#define VMCS_GUEST_CR4 0x6804
#define VMCS_GUEST_ES_BASE 0x6806
#define VMCS_GUEST_CS_BASE 0x6808
#define VMCS_GUEST_SS_BASE 0x680a
#define VMCS_GUEST_DS_BASE 0x680c
#define VMCS_GUEST_FS_BASE 0x680e
#define VMCS_GUEST_GS_BASE 0x6810
#define VMCS_GUEST_LDTR_BASE 0x6812
#define VMCS_GUEST_TR_BASE 0x6814
#define VMCS_GUEST_GDTR_BASE 0x6816
#define VMCS_GUEST_IDTR_BASE 0x6818
#define VMCS_GUEST_DR7 0x681a
#define VMCS_GUEST_RSP 0x681c
#define VMCS_GUEST_RIP 0x681e
#define VMCS_GUEST_RFLAGS 0x6820
#define VMCS_GUEST_PENDING_DBG 0x6822
#define VMCS_GUEST_SYSENTER_ESP 0x6824
#define VMCS_GUEST_SYSENTER_EIP 0x6826
#define VMCS_HOST_CR0 0x6c00
#define VMCS_HOST_CR3 0x6c02
#define VMCS_HOST_CR4 0x6c04
#define VMCS_HOST_FS_BASE 0x6c06
#define VMCS_HOST_GS_BASE 0x6c08
#define VMCS_HOST_TR_BASE 0x6c0a
#define VMCS_HOST_GDTR_BASE 0x6c0c
#define VMCS_HOST_IDTR_BASE 0x6c0e
#define VMCS_HOST_SYSENTER_ESP 0x6c10
#define VMCS_HOST_SYSENTER_EIP 0x6c12
#define VMCS_HOST_RSP 0x6c14
#define VMCS_HOST_RIP 0x6c16

/* Pin-based VM-execution controls (SDM Vol. 3, Table "Definitions of
 * Pin-Based VM-Execution Controls"). */
#define PIN_EXT_INT_EXIT (1u << 0)
#define PIN_NMI_EXIT (1u << 3)
#define PIN_VIRTUAL_NMI (1u << 5)
#define PIN_PREEMPT_TIMER (1u << 6)

/* Primary processor-based controls. */
#define PROC_INTR_WINDOW (1u << 2)
#define PROC_TSC_OFFSET (1u << 3)
#define PROC_HLT_EXIT (1u << 7)
#define PROC_INVLPG_EXIT (1u << 9)
#define PROC_MWAIT_EXIT (1u << 10)
#define PROC_RDPMC_EXIT (1u << 11)
#define PROC_RDTSC_EXIT (1u << 12)
#define PROC_CR3_LOAD_EXIT (1u << 15)
#define PROC_CR3_STORE_EXIT (1u << 16)
#define PROC_CR8_LOAD_EXIT (1u << 19)
#define PROC_CR8_STORE_EXIT (1u << 20)
#define PROC_TPR_SHADOW (1u << 21)
#define PROC_NMI_WINDOW (1u << 22)
#define PROC_MOV_DR_EXIT (1u << 23)
#define PROC_UNCOND_IO_EXIT (1u << 24)
#define PROC_IO_BITMAPS (1u << 25)
#define PROC_MTF (1u << 27)
#define PROC_MSR_BITMAPS (1u << 28)
#define PROC_MONITOR_EXIT (1u << 29)
#define PROC_PAUSE_EXIT (1u << 30)
#define PROC_SECONDARY (1u << 31)

/* Secondary processor-based controls. */
#define PROC2_VIRT_APIC_ACCESS (1u << 0)
#define PROC2_EPT (1u << 1)
#define PROC2_DESC_TABLE_EXIT (1u << 2)
#define PROC2_RDTSCP (1u << 3)
#define PROC2_VIRT_X2APIC (1u << 4)
#define PROC2_VPID (1u << 5)
#define PROC2_WBINVD_EXIT (1u << 6)
#define PROC2_UNRESTRICTED (1u << 7)
#define PROC2_RDRAND_EXIT (1u << 11)
#define PROC2_INVPCID (1u << 12)
#define PROC2_RDSEED_EXIT (1u << 16)
#define PROC2_PML (1u << 17)
#define PROC2_XSAVES (1u << 20)

/* VM-exit controls. */
#define EXIT_SAVE_DEBUG (1u << 2)
#define EXIT_HOST_64BIT (1u << 9)
#define EXIT_LOAD_PERF_GLOBAL (1u << 12)
#define EXIT_ACK_INTR (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define EXIT_SAVE_PREEMPT (1u << 22)

/* VM-entry controls. */
#define ENTRY_LOAD_DEBUG (1u << 2)
#define ENTRY_IA32E_GUEST (1u << 9)
#define ENTRY_LOAD_PERF_GLOBAL (1u << 13)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* VM-entry interruption-information (SDM Vol. 3, "VM-Entry Controls for
 * Event Injection"). */
#define INTR_INFO_VALID (1u << 31)
#define INTR_INFO_DELIVER_ERR (1u << 11)
#define INTR_TYPE_EXT_INT (0u << 8)
#define INTR_TYPE_NMI (2u << 8)
#define INTR_TYPE_HW_EXCEPTION (3u << 8)
#define INTR_TYPE_SW_INT (4u << 8)
#define INTR_TYPE_SW_EXCEPTION (6u << 8)

/* Guest interruptibility state bits. */
#define INTERRUPTIBILITY_STI (1u << 0)
#define INTERRUPTIBILITY_MOV_SS (1u << 1)
#define INTERRUPTIBILITY_NMI (1u << 3)

/* Activity states. */
#define ACTIVITY_ACTIVE 0
#define ACTIVITY_HLT 1

/* Basic exit reasons (SDM Vol. 3, Appendix C). */
enum exit_reason {
    EXIT_EXCEPTION_NMI = 0,
    EXIT_EXTERNAL_INTERRUPT = 1,
    EXIT_TRIPLE_FAULT = 2,
    EXIT_INIT = 3,
    EXIT_SIPI = 4,
    EXIT_IO_SMI = 5,
    EXIT_OTHER_SMI = 6,
    EXIT_INTERRUPT_WINDOW = 7,
    EXIT_NMI_WINDOW = 8,
    EXIT_TASK_SWITCH = 9,
    EXIT_CPUID = 10,
    EXIT_GETSEC = 11,
    EXIT_HLT = 12,
    EXIT_INVD = 13,
    EXIT_INVLPG = 14,
    EXIT_RDPMC = 15,
    EXIT_RDTSC = 16,
    EXIT_RSM = 17,
    EXIT_VMCALL = 18,
    EXIT_VMCLEAR = 19,
    EXIT_VMLAUNCH = 20,
    EXIT_VMPTRLD = 21,
    EXIT_VMPTRST = 22,
    EXIT_VMREAD = 23,
    EXIT_VMRESUME = 24,
    EXIT_VMWRITE = 25,
    EXIT_VMXOFF = 26,
    EXIT_VMXON = 27,
    EXIT_CR_ACCESS = 28,
    EXIT_DR_ACCESS = 29,
    EXIT_IO = 30,
    EXIT_RDMSR = 31,
    EXIT_WRMSR = 32,
    EXIT_ENTRY_INVALID_GUEST = 33,
    EXIT_ENTRY_MSR_LOAD = 34,
    EXIT_MWAIT = 36,
    EXIT_MTF = 37,
    EXIT_MONITOR = 39,
    EXIT_PAUSE = 40,
    EXIT_ENTRY_MACHINE_CHECK = 41,
    EXIT_TPR_BELOW_THRESHOLD = 43,
    EXIT_APIC_ACCESS = 44,
    EXIT_VIRTUALIZED_EOI = 45,
    EXIT_GDTR_IDTR = 46,
    EXIT_LDTR_TR = 47,
    EXIT_EPT_VIOLATION = 48,
    EXIT_EPT_MISCONFIG = 49,
    EXIT_INVEPT = 50,
    EXIT_RDTSCP = 51,
    EXIT_PREEMPT_TIMER = 52,
    EXIT_INVVPID = 53,
    EXIT_WBINVD = 54,
    EXIT_XSETBV = 55,
    EXIT_APIC_WRITE = 56,
    EXIT_RDRAND = 57,
    EXIT_INVPCID = 58,
    EXIT_VMFUNC = 59,
    EXIT_ENCLS = 60,
    EXIT_RDSEED = 61,
    EXIT_PML_FULL = 62,
    EXIT_XSAVES = 63,
    EXIT_XRSTORS = 64,
    EXIT_REASON_MAX = 80,
};
#define EXIT_REASON_ENTRY_FAILURE (1u << 31)

/* VMREAD/VMWRITE. A failure here is a hypervisor bug (a field this CPU
 * lacks or a read-only one): vmcs_fail() reports it with the field. */
void vmcs_fail(const char *op, uint32_t field) __attribute__((noreturn));

static inline uint64_t vmread(uint32_t field)
{
    uint64_t v;
    uint8_t bad;
    __asm__ volatile("vmread %2, %0; setbe %1" : "=r"(v), "=qm"(bad) : "r"((uint64_t)field) : "cc");
    if (bad)
        vmcs_fail("vmread", field);
    return v;
}

static inline void vmwrite(uint32_t field, uint64_t v)
{
    uint8_t bad;
    __asm__ volatile("vmwrite %1, %2; setbe %0" : "=qm"(bad) : "r"(v), "r"((uint64_t)field) : "cc");
    if (bad)
        vmcs_fail("vmwrite", field);
}

/* Names for reports (vmm/vmx_names.c). */
const char *vmx_exit_reason_name(uint32_t reason);
const char *vmx_insn_error_name(uint32_t err);
const char *vmcs_field_name(uint32_t field);

#endif
