/* The vCPU: VMCS set-up, the enter/exit loop and event injection. */
#include "vcpu.h"
#include "../kernel/profile.h"
#include "vm.h"
#include "vmcs.h"
#include "exit.h"
#include "vmcs_check.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include "../kernel/gdt.h"
#include "../kernel/lapic.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/panic.h"
#include "../kernel/pmm.h"
#include <stdarg.h>
#include <string.h>

#define CR0_PE (1ull << 0)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_VMXE (1ull << 13)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* Names of the controls we ask for, so a missing one is reported in
 * words (bit -> name), per control register. */
struct ctl_name {
    uint32_t bit;
    const char *name;
};
static const struct ctl_name pin_names[] = {
    { PIN_EXT_INT_EXIT, "external-interrupt exiting" }, { PIN_NMI_EXIT, "NMI exiting" },
    { PIN_VIRTUAL_NMI, "virtual NMIs" }, { PIN_PREEMPT_TIMER, "activate VMX-preemption timer" }, { 0, NULL } };
static const struct ctl_name proc_names[] = {
    { PROC_HLT_EXIT, "HLT exiting" }, { PROC_RDTSC_EXIT, "RDTSC exiting" }, { PROC_RDPMC_EXIT, "RDPMC exiting" },
    { PROC_MWAIT_EXIT, "MWAIT exiting" }, { PROC_MONITOR_EXIT, "MONITOR exiting" },
    { PROC_CR8_LOAD_EXIT, "CR8-load exiting" }, { PROC_CR8_STORE_EXIT, "CR8-store exiting" },
    { PROC_UNCOND_IO_EXIT, "unconditional I/O exiting" }, { PROC_MSR_BITMAPS, "use MSR bitmaps" },
    { PROC_SECONDARY, "activate secondary controls" }, { 0, NULL } };
static const struct ctl_name proc2_names[] = {
    { PROC2_EPT, "enable EPT" }, { PROC2_VPID, "enable VPID" }, { PROC2_UNRESTRICTED, "unrestricted guest" },
    { PROC2_RDTSCP, "enable RDTSCP" }, { PROC2_WBINVD_EXIT, "WBINVD exiting" }, { 0, NULL } };
static const struct ctl_name exit_names[] = {
    { EXIT_HOST_64BIT, "host address-space size" }, { EXIT_LOAD_EFER, "load IA32_EFER" },
    { EXIT_SAVE_EFER, "save IA32_EFER" }, { EXIT_LOAD_PAT, "load IA32_PAT" }, { EXIT_SAVE_PAT, "save IA32_PAT" },
    { EXIT_SAVE_DEBUG, "save debug controls" }, { 0, NULL } };
static const struct ctl_name entry_names[] = {
    { ENTRY_LOAD_EFER, "load IA32_EFER" }, { ENTRY_LOAD_PAT, "load IA32_PAT" },
    { ENTRY_LOAD_DEBUG, "load debug controls" }, { 0, NULL } };

/* Compute one control field; append the names of missing bits to err. */
static uint32_t control(uint64_t cap, uint32_t wanted, const struct ctl_name *names, const char *what, char *err,
                        size_t n, int *bad)
{
    uint32_t missing;
    uint32_t v = vmx_adjust_controls(cap, wanted, &missing);
    for (const struct ctl_name *c = names; missing && c->name; c++) {
        if (missing & c->bit) {
            size_t len = strlen(err);
            fmt_snprintf(err + len, n - len, "%s%s control \"%s\"", *bad ? ", " : "the CPU lacks the ", what,
                         c->name);
            (*bad)++;
        }
    }
    return v;
}

static uint64_t rdcap(uint32_t msr)
{
    uint64_t v = 0;
    rdmsr_safe(msr, &v);
    return v;
}

static void host_state(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    vmwrite(VMCS_HOST_CR0, read_cr0());
    vmwrite(VMCS_HOST_CR3, read_cr3());
    vmwrite(VMCS_HOST_CR4, read_cr4());
    vmwrite(VMCS_HOST_CS_SEL, GDT_KCODE);
    vmwrite(VMCS_HOST_SS_SEL, GDT_KDATA);
    vmwrite(VMCS_HOST_DS_SEL, GDT_KDATA);
    vmwrite(VMCS_HOST_ES_SEL, GDT_KDATA);
    vmwrite(VMCS_HOST_FS_SEL, 0);
    vmwrite(VMCS_HOST_GS_SEL, 0);
    vmwrite(VMCS_HOST_TR_SEL, GDT_TSS);
    vmwrite(VMCS_HOST_FS_BASE, 0);
    vmwrite(VMCS_HOST_GS_BASE, 0);
    /* TR base: from the TSS descriptor in the GDT. */
    const uint64_t *gdt = (const uint64_t *)gdtr.base;
    uint64_t lo = gdt[GDT_TSS / 8], hi = gdt[GDT_TSS / 8 + 1];
    vmwrite(VMCS_HOST_TR_BASE, ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | (hi << 32));
    vmwrite(VMCS_HOST_GDTR_BASE, gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, idtr.base);
    vmwrite(VMCS_HOST_SYSENTER_CS, 0);
    vmwrite(VMCS_HOST_SYSENTER_ESP, 0);
    vmwrite(VMCS_HOST_SYSENTER_EIP, 0);
    vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    vmwrite(VMCS_HOST_PAT, rdmsr(MSR_IA32_PAT));
    vmwrite(VMCS_HOST_RIP, (uint64_t)vmx_exit_entry);
}

static void trace_alloc(void);

int vcpu_init(struct vcpu *v, struct vm *vm, const struct vmx_caps *caps, char *err, size_t n)
{
    trace_alloc();
    memset(v, 0, sizeof(*v));
    v->vm = vm;
    err[0] = 0;
    int bad = 0;
    v->vmcs_pa = vmcs_create(caps);

    bool t = caps->true_ctls;
    uint32_t pin = control(rdcap(t ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED), PIN_EXT_INT_EXIT | PIN_NMI_EXIT | PIN_VIRTUAL_NMI | PIN_PREEMPT_TIMER,
                           pin_names, "pin-based", err, n, &bad);
    /* CR8 accesses must exit: without a TPR shadow, MOV to CR8 in the guest
     * would write the host's own APIC TPR (SDM Vol. 3, "CR8 and TPR"). */
    uint32_t proc = control(rdcap(t ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED),
                            PROC_HLT_EXIT | PROC_RDTSC_EXIT | PROC_RDPMC_EXIT | PROC_MWAIT_EXIT | PROC_MONITOR_EXIT |
                                PROC_CR8_LOAD_EXIT | PROC_CR8_STORE_EXIT | PROC_UNCOND_IO_EXIT | PROC_MSR_BITMAPS |
                                PROC_SECONDARY,
                            proc_names, "processor-based", err, n, &bad);
    uint32_t proc2 = control(rdcap(MSR_VMX_PROCBASED2),
                             PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_RDTSCP | PROC2_WBINVD_EXIT,
                             proc2_names, "secondary", err, n, &bad);
    /* RDRAND/RDSEED are hidden from the guest's CPUID; exit on them when the
     * CPU can, so a guest that uses them anyway gets #UD, not host entropy. */
    uint32_t unused;
    proc2 |= vmx_adjust_controls(rdcap(MSR_VMX_PROCBASED2), PROC2_RDRAND_EXIT | PROC2_RDSEED_EXIT, &unused) &
             (PROC2_RDRAND_EXIT | PROC2_RDSEED_EXIT);
    /* "Save debug controls" / "load debug controls" (SDM Vol. 3C, 24.7.1
     * and 24.8.1): every VM exit sets DR7 to 400H (27.5.1), so without
     * them the guest's DR7 (its hardware breakpoints) is gone after the
     * first exit; the TRUE capability MSRs allow leaving them off, the
     * guest needs them on. They carry IA32_DEBUGCTL the same way. */
    uint32_t exit = control(rdcap(t ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT),
                            EXIT_HOST_64BIT | EXIT_LOAD_EFER | EXIT_SAVE_EFER | EXIT_LOAD_PAT | EXIT_SAVE_PAT |
                                EXIT_SAVE_DEBUG,
                            exit_names, "VM-exit", err, n, &bad);
    uint32_t entry = control(rdcap(t ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY),
                             ENTRY_LOAD_EFER | ENTRY_LOAD_PAT | ENTRY_LOAD_DEBUG, entry_names, "VM-entry", err, n,
                             &bad);
    if (bad)
        return -1;

    vmwrite(VMCS_PIN_CTLS, pin);
    vmwrite(VMCS_PROC_CTLS, proc);
    vmwrite(VMCS_PROC_CTLS2, proc2);
    vmwrite(VMCS_EXIT_CTLS, exit);
    vmwrite(VMCS_ENTRY_CTLS, entry);
    v->proc_ctls = v->proc_ctls_live = proc;
    vmwrite(VMCS_EXCEPTION_BITMAP, 0);
    vmwrite(VMCS_PF_ERR_MASK, 0);
    vmwrite(VMCS_PF_ERR_MATCH, 0);
    vmwrite(VMCS_CR3_TARGET_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    vmwrite(VMCS_MSR_BITMAP, vm->msr_bitmap_pa);
    vmwrite(VMCS_EPTP, vm->mem.eptp);
    vmwrite(VMCS_VPID, 1);
    vmwrite(VMCS_LINK_POINTER, ~0ull);
    host_state();

    /* CR0/CR4 bits the hypervisor owns: those VMX forces (except PE and
     * PG, which an unrestricted guest controls), and in CR4 also every bit
     * the guest's CPU model does not offer, so setting one faults as on a
     * CPU without the feature (SDM Vol. 3, "Guest/Host Masks and Read
     * Shadows for CR0 and CR4"). */
    uint64_t f0 = rdcap(MSR_VMX_CR0_FIXED0), f1 = rdcap(MSR_VMX_CR0_FIXED1);
    v->cr0_host_owned = ((f0 & ~(CR0_PE | CR0_PG)) | ~f1) & 0xffffffffull;
    f0 = rdcap(MSR_VMX_CR4_FIXED0);
    f1 = rdcap(MSR_VMX_CR4_FIXED1);
    v->cr4_host_owned = (f0 | ~f1 | ~vm->cpu_cr4_allowed) & 0xffffffffull;
    vmwrite(VMCS_CR0_MASK, v->cr0_host_owned);
    vmwrite(VMCS_CR4_MASK, v->cr4_host_owned);
    v->xcr0 = 1;
    return 0;
}

/* Guest state that lives in the CPU, not the VMCS (the hypervisor leaves
 * it alone: -mgeneral-regs-only, and its one vector routine saves and
 * restores it, kernel/simd.h): x87/SSE/AVX registers, XCR0, debug
 * registers and the MSRs passed through. A guest (re)start sets it to the
 * power-on values, so every run from the same image starts identically. */
static void reset_live_state(struct vcpu *v)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (read_cr4() & (1ull << 18)) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
        if (lo & 4)
            __asm__ volatile("vzeroall"); /* AVX state to its init value */
        __asm__ volatile("xsetbv" ::"a"(1u), "d"(0u), "c"(0u)); /* XCR0 = x87 */
    }
    v->xcr0 = 1;
    static const uint32_t mxcsr = 0x1f80;
    /* FNINIT only marks the x87 registers empty; FXSAVE/XSAVE still store
     * their contents, so a guest would see whatever the last user left
     * there. Eight FLDZ write +0.0 into every physical register (the
     * power-on value, SDM Vol. 3 Table 9-1), and FNINIT then empties the
     * stack and clears the instruction and data pointers. */
    __asm__ volatile("fninit\n"
                     "fldz\n fldz\n fldz\n fldz\n fldz\n fldz\n fldz\n fldz\n"
                     "fninit\n"
                     "ldmxcsr %0\n"
                     "pxor %%xmm0, %%xmm0\n pxor %%xmm1, %%xmm1\n pxor %%xmm2, %%xmm2\n pxor %%xmm3, %%xmm3\n"
                     "pxor %%xmm4, %%xmm4\n pxor %%xmm5, %%xmm5\n pxor %%xmm6, %%xmm6\n pxor %%xmm7, %%xmm7\n"
                     "pxor %%xmm8, %%xmm8\n pxor %%xmm9, %%xmm9\n pxor %%xmm10, %%xmm10\n pxor %%xmm11, %%xmm11\n"
                     "pxor %%xmm12, %%xmm12\n pxor %%xmm13, %%xmm13\n pxor %%xmm14, %%xmm14\n pxor %%xmm15, %%xmm15\n"
                     ::"m"(mxcsr));
    uint64_t zero = 0;
    __asm__ volatile("mov %0, %%dr0\n mov %0, %%dr1\n mov %0, %%dr2\n mov %0, %%dr3\n" ::"r"(zero));
    __asm__ volatile("mov %0, %%dr6" ::"r"(0xffff0ff0ull));
    static const uint32_t msrs[] = { 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103 };
    for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++)
        wrmsr(msrs[i], 0);
}

static void set_seg(uint32_t sel_f, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
    /* Fields of one segment are 2 apart in each width's block (B.1-B.4). */
    uint32_t idx = (sel_f - VMCS_GUEST_ES_SEL) / 2;
    vmwrite(sel_f, sel);
    vmwrite(VMCS_GUEST_ES_BASE + 2 * idx, base);
    vmwrite(VMCS_GUEST_ES_LIMIT + 2 * idx, limit);
    vmwrite(VMCS_GUEST_ES_AR + 2 * idx, ar);
}

/* The register state every start shares (SDM Vol. 3, "Initialization of
 * the VMX guest state": reset values where they matter). */
static void common_guest_state(struct vcpu *v, uint64_t cr0)
{
    memset(&v->regs, 0, sizeof(v->regs));
    v->efer = 0;
    vmwrite(VMCS_GUEST_CR0, cr0 | (v->cr0_host_owned & rdcap(MSR_VMX_CR0_FIXED0)));
    vmwrite(VMCS_CR0_SHADOW, cr0);
    vmwrite(VMCS_GUEST_CR4, rdcap(MSR_VMX_CR4_FIXED0));
    vmwrite(VMCS_CR4_SHADOW, 0);
    vmwrite(VMCS_GUEST_CR3, 0);
    vmwrite(VMCS_GUEST_EFER, 0);
    vmwrite(VMCS_GUEST_PAT, 0x0007040600070406ull);
    vmwrite(VMCS_GUEST_DEBUGCTL, 0);
    vmwrite(VMCS_GUEST_DR7, 0x400);
    vmwrite(VMCS_GUEST_RFLAGS, 0x2);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
    vmwrite(VMCS_GUEST_PENDING_DBG, 0);
    vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    vmwrite(VMCS_GUEST_FS_BASE, 0);
    vmwrite(VMCS_GUEST_GS_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_LDTR_SEL, 0);
    vmwrite(VMCS_GUEST_LDTR_BASE, 0);
    vmwrite(VMCS_GUEST_LDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_LDTR_AR, 0x82); /* present LDT */
    vmwrite(VMCS_GUEST_TR_SEL, 0);
    vmwrite(VMCS_GUEST_TR_BASE, 0);
    vmwrite(VMCS_GUEST_TR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_TR_AR, 0x8b); /* busy 32-bit TSS, as VM entry requires */
    vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) & ~ENTRY_IA32E_GUEST);
    v->halted = false;
    v->exc_pending = false;
    v->stop = VCPU_RUNNING;
    reset_live_state(v);
    v->nmi_pending = false;
    v->mtrr_def_type = 0xc06; /* MTRRs on, default type write-back */
    v->misc_enable = 1;       /* fast strings */
    /* A reset discards an event an exit interrupted (the VMCS stays
     * launched, so its IDT-vectoring field would otherwise be replayed). */
    v->discard_vectoring = true;
    v->carried_idt = 0;
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
}

void vcpu_set_real_mode(struct vcpu *v, uint16_t cs, uint16_t ip, uint16_t sp)
{
    common_guest_state(v, 0x60000010); /* CD, NW, ET: the reset value */
    /* Real-mode segments: base = selector * 16, 64 KiB, read/write data
     * and execute/read code, accessed (type 3 and 11), present, S=1. */
    set_seg(VMCS_GUEST_CS_SEL, cs, (uint64_t)cs << 4, 0xffff, 0x9b);
    set_seg(VMCS_GUEST_DS_SEL, 0, 0, 0xffff, 0x93);
    set_seg(VMCS_GUEST_ES_SEL, 0, 0, 0xffff, 0x93);
    set_seg(VMCS_GUEST_SS_SEL, 0, 0, 0xffff, 0x93);
    set_seg(VMCS_GUEST_FS_SEL, 0, 0, 0xffff, 0x93);
    set_seg(VMCS_GUEST_GS_SEL, 0, 0, 0xffff, 0x93);
    vmwrite(VMCS_GUEST_GDTR_BASE, 0);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_RIP, ip);
    vmwrite(VMCS_GUEST_RSP, sp);
}

void vcpu_set_protected_flat(struct vcpu *v, uint32_t eip, uint32_t esi, uint32_t gdt_base)
{
    common_guest_state(v, CR0_PE | 0x10);
    /* Flat 4 GiB segments: G=1, D/B=1, present, code type 11 / data 3. */
    set_seg(VMCS_GUEST_CS_SEL, 0x10, 0, 0xffffffff, 0xc09b);
    set_seg(VMCS_GUEST_DS_SEL, 0x18, 0, 0xffffffff, 0xc093);
    set_seg(VMCS_GUEST_ES_SEL, 0x18, 0, 0xffffffff, 0xc093);
    set_seg(VMCS_GUEST_SS_SEL, 0x18, 0, 0xffffffff, 0xc093);
    set_seg(VMCS_GUEST_FS_SEL, 0x18, 0, 0xffffffff, 0xc093);
    set_seg(VMCS_GUEST_GS_SEL, 0x18, 0, 0xffffffff, 0xc093);
    vmwrite(VMCS_GUEST_GDTR_BASE, gdt_base);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, 4 * 8 - 1);
    vmwrite(VMCS_GUEST_RIP, eip);
    vmwrite(VMCS_GUEST_RSP, 0);
    v->regs.rsi = esi;
}

uint64_t vcpu_guest_cr0(struct vcpu *v)
{
    return (vmread(VMCS_GUEST_CR0) & ~v->cr0_host_owned) | (vmread(VMCS_CR0_SHADOW) & v->cr0_host_owned);
}

uint64_t vcpu_guest_cr4(struct vcpu *v)
{
    return (vmread(VMCS_GUEST_CR4) & ~v->cr4_host_owned) | (vmread(VMCS_CR4_SHADOW) & v->cr4_host_owned);
}

uint64_t *vcpu_gpr(struct vcpu *v, unsigned i)
{
    static uint64_t sink;
    switch (i & 15) {
    case 0: return &v->regs.rax;
    case 1: return &v->regs.rcx;
    case 2: return &v->regs.rdx;
    case 3: return &v->regs.rbx;
    case 4: return &v->rsp;
    case 5: return &v->regs.rbp;
    case 6: return &v->regs.rsi;
    case 7: return &v->regs.rdi;
    case 8: return &v->regs.r8;
    case 9: return &v->regs.r9;
    case 10: return &v->regs.r10;
    case 11: return &v->regs.r11;
    case 12: return &v->regs.r12;
    case 13: return &v->regs.r13;
    case 14: return &v->regs.r14;
    case 15: return &v->regs.r15;
    }
    return &sink;
}

void vcpu_skip_insn(struct vcpu *v)
{
    v->rip += v->exit_insn_len;
    vmwrite(VMCS_GUEST_RIP, v->rip);
    /* Completing an instruction ends STI/MOV-SS blocking (SDM Vol. 3,
     * "Interruptibility State"). */
    uint64_t is = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (is & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, is & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
}

void vcpu_inject_exception(struct vcpu *v, uint8_t vector, bool has_err, uint32_t err)
{
    v->exc_pending = true;
    v->exc_vector = vector;
    v->exc_has_err = has_err;
    v->exc_err = err;
}

void vcpu_paging(struct vcpu *v, struct guest_paging *pg)
{
    pg->cr0 = vmread(VMCS_GUEST_CR0);
    pg->cr3 = vmread(VMCS_GUEST_CR3);
    pg->cr4 = vmread(VMCS_GUEST_CR4);
    pg->efer = vmread(VMCS_GUEST_EFER);
}

void vcpu_dump(struct vcpu *v, const char *why)
{
    kprintf("guest vCPU state (%s):\n", why);
    kprintf("  RIP=%016llx RSP=%016llx RFLAGS=%016llx\n", (unsigned long long)vmread(VMCS_GUEST_RIP),
            (unsigned long long)vmread(VMCS_GUEST_RSP), (unsigned long long)vmread(VMCS_GUEST_RFLAGS));
    kprintf("  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", (unsigned long long)v->regs.rax,
            (unsigned long long)v->regs.rbx, (unsigned long long)v->regs.rcx, (unsigned long long)v->regs.rdx);
    kprintf("  RSI=%016llx RDI=%016llx RBP=%016llx R8 =%016llx\n", (unsigned long long)v->regs.rsi,
            (unsigned long long)v->regs.rdi, (unsigned long long)v->regs.rbp, (unsigned long long)v->regs.r8);
    kprintf("  CR0=%016llx (guest sees %016llx) CR3=%016llx CR4=%016llx (guest sees %016llx)\n",
            (unsigned long long)vmread(VMCS_GUEST_CR0), (unsigned long long)vcpu_guest_cr0(v),
            (unsigned long long)vmread(VMCS_GUEST_CR3), (unsigned long long)vmread(VMCS_GUEST_CR4),
            (unsigned long long)vcpu_guest_cr4(v));
    kprintf("  EFER=%016llx CS=%04llx base %llx ar %llx  SS=%04llx  CR2=%016llx\n",
            (unsigned long long)vmread(VMCS_GUEST_EFER), (unsigned long long)vmread(VMCS_GUEST_CS_SEL),
            (unsigned long long)vmread(VMCS_GUEST_CS_BASE), (unsigned long long)vmread(VMCS_GUEST_CS_AR),
            (unsigned long long)vmread(VMCS_GUEST_SS_SEL), (unsigned long long)v->regs.cr2);
    kprintf("  exits: %llu\n", (unsigned long long)v->exits);
}

void vcpu_stop(struct vcpu *v, enum vcpu_stop why, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (why == VCPU_STOP_FAILED || why == VCPU_STOP_TRIPLE_FAULT) {
        log_error("vmm", "guest stopped: %s", msg);
        vcpu_dump(v, msg);
    } else {
        log_info("vmm", "guest stopped: %s", msg);
    }
    v->stop = why;
}

static void set_window_exit(struct vcpu *v, bool on)
{
    uint32_t p = on ? v->proc_ctls | PROC_INTR_WINDOW : v->proc_ctls & ~PROC_INTR_WINDOW;
    if (p != v->proc_ctls) {
        v->proc_ctls = p;
        vmwrite(VMCS_PROC_CTLS, p);
        v->proc_ctls_live = p;
    }
}

static void set_nmi_window(struct vcpu *v, bool on)
{
    uint32_t p = on ? v->proc_ctls | PROC_NMI_WINDOW : v->proc_ctls & ~PROC_NMI_WINDOW;
    if (p != v->proc_ctls) {
        v->proc_ctls = p;
        vmwrite(VMCS_PROC_CTLS, p);
        v->proc_ctls_live = p;
    }
}

/* Re-inject an event whose delivery an exit interrupted (SDM Vol. 3C,
 * 26.6.1.1 and 27.2.4): from this VMCS's IDT-vectoring fields or carried. */
static void reinject(struct vcpu *v, uint32_t idt, uint32_t err, uint32_t insn_len)
{
    v->injected = idt & ~(1u << 12);
    vmwrite(VMCS_ENTRY_INTR_INFO, v->injected);
    if (idt & INTR_INFO_DELIVER_ERR)
        vmwrite(VMCS_ENTRY_EXCEPTION_ERR, err);
    uint32_t type = idt & (7u << 8);
    if (type == INTR_TYPE_SW_INT || type == INTR_TYPE_SW_EXCEPTION || type == (5u << 8))
        vmwrite(VMCS_ENTRY_INSN_LEN, insn_len);
}

/* Put one event into the VM-entry interruption-information field: first
 * an event whose delivery an exit interrupted, then a pending exception,
 * then an external interrupt when the guest can take one (SDM Vol. 3,
 * "Event Injection"). */
static void inject_events(struct vcpu *v)
{
    v->injected = 0;
    if (v->carried_idt & INTR_INFO_VALID) {
        reinject(v, v->carried_idt, v->carried_idt_err, v->carried_insn_len);
        v->carried_idt = 0;
        return;
    }
    uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    if (v->discard_vectoring) {
        v->discard_vectoring = false;
        idt = 0;
    }
    if (v->launched && (idt & INTR_INFO_VALID)) {
        reinject(v, idt, idt & INTR_INFO_DELIVER_ERR ? (uint32_t)vmread(VMCS_IDT_VECTORING_ERR) : 0,
                 (uint32_t)vmread(VMCS_EXIT_INSN_LEN));
        /* The interrupted event wins; a pending exception waits. */
        return;
    }
    if (v->exc_pending) {
        v->exc_pending = false;
        uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | v->exc_vector;
        bool real = !(vmread(VMCS_GUEST_CR0) & CR0_PE);
        if (v->exc_has_err && !real) {
            info |= INTR_INFO_DELIVER_ERR;
            vmwrite(VMCS_ENTRY_EXCEPTION_ERR, v->exc_err);
        }
        v->injected = info;
        vmwrite(VMCS_ENTRY_INTR_INFO, v->injected);
        return;
    }
    if (v->nmi_pending) {
        /* Blocked while an earlier NMI's handler runs (until its IRET):
         * ask for an exit when the guest can take one (SDM Vol. 3, "NMI-
         * Window Exiting"). */
        if (vmread(VMCS_GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_NMI | INTERRUPTIBILITY_MOV_SS |
                                                   INTERRUPTIBILITY_STI)) {
            set_nmi_window(v, true);
        } else {
            v->nmi_pending = false;
            set_nmi_window(v, false);
            v->injected = INTR_INFO_VALID | INTR_TYPE_NMI | 2;
            vmwrite(VMCS_ENTRY_INTR_INFO, v->injected);
            return;
        }
    }
    int vec = vm_pending_interrupt(v->vm);
    if (vec < 0) {
        set_window_exit(v, false);
        return;
    }
    uint64_t rflags = vmread(VMCS_GUEST_RFLAGS);
    uint64_t is = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if ((rflags & (1u << 9)) && !(is & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))) {
        vec = vm_ack_interrupt(v->vm);
        if (vec >= 0) {
            v->injected = INTR_INFO_VALID | INTR_TYPE_EXT_INT | (uint32_t)vec;
            vmwrite(VMCS_ENTRY_INTR_INFO, v->injected);
        }
        set_window_exit(v, false);
    } else {
        set_window_exit(v, true); /* exit as soon as the guest can take it */
    }
}

bool vcpu_would_inject(struct vcpu *v)
{
    /* inject_events()'s decisions, without making them. */
    if (v->carried_idt & INTR_INFO_VALID)
        return true;
    if (v->launched && !v->discard_vectoring && (vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID))
        return true;
    if (v->exc_pending)
        return true;
    uint64_t is = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (v->nmi_pending && !(is & (INTERRUPTIBILITY_NMI | INTERRUPTIBILITY_MOV_SS | INTERRUPTIBILITY_STI)))
        return true;
    return vm_pending_interrupt(v->vm) >= 0 && (vmread(VMCS_GUEST_RFLAGS) & (1u << 9)) &&
           !(is & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
}

static void entry_failed(struct vcpu *v, int r)
{
    char why[300];
    if (r == 2) {
        vcpu_stop(v, VCPU_STOP_FAILED, "VM entry failed: no current VMCS (VMfailInvalid)");
        return;
    }
    uint32_t e = (uint32_t)vmread(VMCS_VM_INSN_ERROR);
    vmcs_check_all(v, why, sizeof(why));
    vcpu_stop(v, VCPU_STOP_FAILED, "VM entry failed: %s (VM-instruction error %u)%s%s", vmx_insn_error_name(e), e,
              why[0] ? ": " : "", why);
}

/* The counting probe (vcpu.h). A throwaway real-mode program at 0x8000:
 * 32 CPUIDs, then a NOP sled under MTF, then HLT. */
int vcpu_probe_counting(struct vcpu *v, struct count_probe *out)
{
    struct guest_mem *m = &v->vm->mem;
    uint8_t code[64 + 40 + 1];
    for (int i = 0; i < 32; i++) {
        code[2 * i] = 0x0f;
        code[2 * i + 1] = 0xa2; /* CPUID: exits, executes nothing in the guest */
    }
    for (int i = 0; i < 40; i++)
        code[64 + i] = 0x90; /* NOP */
    code[104] = 0xf4;        /* HLT */
    memset(out, 0, sizeof(*out));
    if (guest_write(m, 0x8000, code, sizeof(code)))
        return -1;
    vcpu_set_real_mode(v, 0x800, 0, 0x7000);
    uint64_t first = 0;
    bool consistent = true;
    /* A host interrupt exits before the guest's next instruction (SDM Vol.
     * 3C, 26.2 "Other Causes of VM Exits": with external-interrupt exiting,
     * whatever the guest's RFLAGS.IF), having run nothing: such a run is
     * taken again, a bounded number of times. */
    unsigned interrupted = 0;
    /* CPUID runs: run k > 1 executes only the stub, so its ticks are the
     * constant (the first one takes VMLAUNCH's path and is excluded). */
    for (int i = 0; i < 32; i++) {
        vmwrite(VMCS_PREEMPT_TIMER, 0xffffffffu); /* no timer exits here */
        cli();
        int r = vmx_enter(&v->regs, v->launched);
        sti();
        if (r)
            return -1;
        v->launched = true;
        uint32_t why = (uint32_t)vmread(VMCS_EXIT_REASON) & 0xffff;
        if (why == EXIT_EXTERNAL_INTERRUPT && interrupted++ < 1000) {
            i--;
            continue;
        }
        if (why != EXIT_CPUID)
            return -1;
        uint64_t d = v->regs.tsc_exit - v->regs.tsc_entry;
        if (i == 1)
            first = d;
        else if (i > 1 && d != first)
            consistent = false;
        vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + vmread(VMCS_EXIT_INSN_LEN));
    }
    out->stub_ticks = first;
    out->stub_consistent = consistent;
    /* MTF over the NOPs: each step must be exactly one instruction more. */
    uint32_t proc = (uint32_t)vmread(VMCS_PROC_CTLS);
    uint32_t missing;
    uint64_t cap = 0;
    rdmsr_safe(v->vm->caps_true ? 0x48e : 0x482, &cap);
    if (vmx_adjust_controls(cap, PROC_MTF, &missing) & PROC_MTF) {
        vmwrite(VMCS_PROC_CTLS, proc | PROC_MTF);
        out->mtf_steps_exact = true;
        for (int i = 0; i < 40; i++) {
            vmwrite(VMCS_PREEMPT_TIMER, 0xffffffffu);
            uint64_t rip = vmread(VMCS_GUEST_RIP);
            cli();
            int r = vmx_enter(&v->regs, v->launched);
            sti();
            uint32_t why = (uint32_t)vmread(VMCS_EXIT_REASON) & 0xffff;
            if (!r && why == EXIT_EXTERNAL_INTERRUPT && vmread(VMCS_GUEST_RIP) == rip && interrupted++ < 1000) {
                i--; /* taken before the step's NOP ran */
                continue;
            }
            if (r || why != EXIT_MTF) {
                out->mtf_steps_exact = false;
                break;
            }
            out->mtf_steps++;
            if (v->regs.tsc_exit - v->regs.tsc_entry != first + 1)
                out->mtf_steps_exact = false;
        }
        vmwrite(VMCS_PROC_CTLS, proc);
    }
    return 0;
}

/* ---- the PMU landmark backend's hardware side ---------------------------- */

int vcpu_pmu_enable(struct vcpu *v, const struct vcpu_pmu_setup *s, char *why, size_t n)
{
    /* IA32_PERF_GLOBAL_CTRL = 0 in root operation from here on (the exit
     * control loads the host value, 0, after every exit), so only guest
     * execution is counted (SDM Vol. 3B, "Performance Monitoring and VMX";
     * Vol. 3C, "VM-Entry Controls" bit 13, "VM-Exit Controls" bit 12). */
    if (!wrmsr_safe(0x38f, s->host_global_ctrl) || !wrmsr_safe(s->evtsel_msr, s->evtsel) ||
        !wrmsr_safe(s->pmc_msr, 0)) {
        fmt_snprintf(why, n, "a performance-monitoring MSR write was refused (#GP)");
        return -1;
    }
    vmwrite(VMCS_PIN_CTLS, vmread(VMCS_PIN_CTLS) | s->pin_set);
    v->proc_ctls |= s->proc_set;
    vmwrite(VMCS_PROC_CTLS, v->proc_ctls);
    v->proc_ctls_live = v->proc_ctls;
    vmwrite(VMCS_EXIT_CTLS, vmread(VMCS_EXIT_CTLS) | s->exit_set);
    vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) | s->entry_set);
    vmwrite(VMCS_GUEST_PERF_GLOBAL_CTRL, s->guest_global_ctrl);
    vmwrite(VMCS_HOST_PERF_GLOBAL_CTRL, s->host_global_ctrl);
    /* Guest IA32_DEBUGCTL, loaded at entry ("load debug controls"):
     * FREEZE_WHILE_SMM where offered, never FREEZE_PERFMON_ON_PMI (SDM
     * Vol. 3B, "IA32_DEBUGCTL MSR"). */
    if (s->guest_debugctl_set || s->guest_debugctl_clear) {
        vmwrite(VMCS_GUEST_DEBUGCTL, (vmread(VMCS_GUEST_DEBUGCTL) | s->guest_debugctl_set) & ~s->guest_debugctl_clear);
    }
    /* The overflow interrupt as an NMI: with NMI exiting it ends the run
     * (SDM Vol. 3A, "Local Vector Table"; Vol. 3C, "Pin-Based VM-Execution
     * Controls"). */
    lapic_set_lvt_pmc(s->lvt_value);
    v->pmu_on = true;
    v->pmc_msr = s->pmc_msr;
    v->pmu_status_msr = s->status_msr;
    v->pmu_ovf_msr = s->ovf_msr;
    v->pmu_ovf_clear = s->ovf_clear;
    v->pmu_lvt = s->lvt_value;
    v->pmc_mask = s->width >= 64 ? ~0ull : (1ull << s->width) - 1;
    v->pmc_preset = v->pmu_branches = 0;
    return 0;
}

void vcpu_pmu_disable(struct vcpu *v)
{
    if (!v->pmu_on)
        return;
    vmwrite(VMCS_EXIT_CTLS, vmread(VMCS_EXIT_CTLS) & ~EXIT_LOAD_PERF_GLOBAL);
    vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) & ~ENTRY_LOAD_PERF_GLOBAL);
    wrmsr_safe(0x38f, 0);
    lapic_set_lvt_pmc(1u << 16); /* masked */
    v->pmu_on = false;
}

/* After an NMI VM exit NMIs stay blocked until the host executes IRET
 * (SDM Vol. 3C, "NMI Exiting" and "Treatment of NMIs"): an IRET to the
 * next instruction unblocks them. */
static void unblock_nmi(void)
{
    __asm__ volatile("mov %%ss, %%rax\n push %%rax\n lea 8(%%rsp), %%rax\n push %%rax\n pushfq\n"
                     "mov %%cs, %%rax\n push %%rax\n lea 1f(%%rip), %%rax\n push %%rax\n iretq\n 1:"
                     ::: "rax", "memory", "cc");
}

bool vcpu_take_pmi(struct vcpu *v)
{
    uint64_t st = 0;
    bool ours = v->pmu_on && rdmsr_safe(v->pmu_status_msr, &st) && (st & 1);
    if (ours) {
        /* Clear PMC0's overflow bit (IA32_PERF_GLOBAL_OVF_CTRL) and unmask
         * the LVT entry, which the CPU masked when it delivered the PMI. */
        wrmsr_safe(v->pmu_ovf_msr, v->pmu_ovf_clear);
        lapic_set_lvt_pmc(v->pmu_lvt);
        v->pmi = true;
    }
    unblock_nmi();
    return ours;
}

int vcpu_probe_pmu(struct vcpu *v, uint64_t *counted)
{
    /* 16-bit: MOV CX, 100; DEC CX; JNZ -3; HLT: exactly 100 conditional
     * branches retired (99 taken, 1 not). */
    static const uint8_t code[] = { 0xb9, 0x64, 0x00, 0x49, 0x75, 0xfd, 0xf4 };
    *counted = 0;
    if (!v->pmu_on || guest_write(&v->vm->mem, 0x8000, code, sizeof(code)))
        return -1;
    vcpu_set_real_mode(v, 0x800, 0, 0x7000);
    uint64_t before = v->pmu_branches;
    for (int i = 0; i < 16; i++) {
        vmwrite(VMCS_PREEMPT_TIMER, 0xffffffffu);
        cli();
        wrmsr(v->pmc_msr, 0);
        int r = vmx_enter(&v->regs, v->launched);
        v->pmu_branches += rdmsr(v->pmc_msr) & v->pmc_mask;
        sti();
        if (r)
            return -1;
        v->launched = true;
        uint32_t why = (uint32_t)vmread(VMCS_EXIT_REASON) & 0xffff;
        if (why == EXIT_HLT) {
            *counted = v->pmu_branches - before;
            return 0;
        }
        if (why == EXIT_EXCEPTION_NMI)
            vcpu_take_pmi(v);
        else if (why != EXIT_EXTERNAL_INTERRUPT)
            return -1;
    }
    return -1;
}

bool exit_is_async(uint32_t reason)
{
    /* Exits at points the guest's own instructions do not determine: a
     * host interrupt, the preemption timer, a single step, a host NMI, and
     * INIT/SIPI. Every other exit happens at the same instruction whenever
     * the guest runs from the same state (SDM Vol. 3, "VM Exits").
     * Interrupt- and NMI-window exits (SDM Vol. 3, 26.7.5 and 26.7.6) are
     * counted here too: whether one happens depends on where the
     * hypervisor entered the guest (a replay single-stepping with the
     * monitor trap flag enters at other places, and in Bochs an MTF exit
     * after the instruction that sets IF takes precedence over the window
     * exit), while the injection that follows happens at the same
     * instruction either way; the event log's exit ordinals must not
     * depend on them. */
    switch (reason) {
    case EXIT_INTERRUPT_WINDOW:
    case EXIT_NMI_WINDOW:
    case EXIT_EXTERNAL_INTERRUPT:
    case EXIT_PREEMPT_TIMER:
    case EXIT_MTF:
    case EXIT_EXCEPTION_NMI:
    case EXIT_INIT:
    case EXIT_SIPI:
        return true;
    default:
        return false;
    }
}

/* The last runs, for divergence reports (vcpu_trace_print()). */
#define TRACE_RUNS 65536
struct run_trace {
    uint64_t ticks;      /* run_ticks after the run */
    uint64_t runs;       /* runs after the run */
    uint64_t rip;        /* where it stopped */
    uint64_t rax, rdx;   /* after the exit was handled */
    uint32_t sync_exits; /* ordinal after the run (low 32 bits) */
    uint32_t preempt;    /* the timer it ran with (0xffffffff: none) */
    uint32_t injected;   /* VM-entry interruption info (0: nothing) */
    uint16_t reason;
    uint8_t flags;       /* 1 MTF, 2 interrupt-window exiting */
};
static struct run_trace *trace;
static uint64_t ntrace;

static void trace_alloc(void)
{
    if (!trace)
        trace = phys_to_virt(pmm_alloc(TRACE_RUNS * sizeof(struct run_trace) / PAGE_SIZE, 1));
}

void vcpu_trace_print(const struct vcpu *v, uint64_t from_exit, uint64_t to_exit, unsigned max)
{
    if (!trace)
        return;
    uint64_t n = ntrace < TRACE_RUNS ? ntrace : TRACE_RUNS, shown = 0;
    kprintf("  runs with exit ordinals %llu..%llu (of the last %llu runs): ordinal, instructions, stop reason, RIP, "
            "timer, injected, flags, RAX and RDX after the exit\n",
            (unsigned long long)from_exit, (unsigned long long)to_exit, (unsigned long long)n);
    for (uint64_t i = ntrace - n; i < ntrace && shown < max; i++) {
        const struct run_trace *t = &trace[i % TRACE_RUNS];
        if (t->sync_exits < (uint32_t)from_exit || t->sync_exits > (uint32_t)to_exit)
            continue;
        shown++;
        kprintf("    %u %llu %u %llx t=%d inj=%x f=%x a=%llx d=%llx\n", t->sync_exits,
                (unsigned long long)(t->ticks - t->runs * v->vm->counting.stub_ticks), t->reason,
                (unsigned long long)t->rip, t->preempt == 0xffffffffu ? -1 : (int)t->preempt, t->injected, t->flags,
                (unsigned long long)t->rax, (unsigned long long)t->rdx);
    }
}

enum run_result vcpu_run(struct vcpu *v, const struct run_opts *o)
{
    if (v->stop != VCPU_RUNNING)
        return RUN_STOPPED;
    if (v->halted) {
        if (!vm_interrupt_wakes(v->vm))
            return RUN_HALTED;
        v->halted = false;
    }
    cli();
    inject_events(v);
    vmwrite(VMCS_PREEMPT_TIMER, o->preempt_ticks > 0xffffffffull ? 0xffffffffull : o->preempt_ticks);
    uint32_t proc = o->mtf ? v->proc_ctls | PROC_MTF : v->proc_ctls;
    if (proc != v->proc_ctls_live) {
        vmwrite(VMCS_PROC_CTLS, proc);
        v->proc_ctls_live = proc;
    }
    if (v->exit_tsc && v->last_reason < 80)
        v->host_ticks_by_reason[v->last_reason] += rdtsc() - v->exit_tsc;
    v->pmi = false;
    if (v->pmu_on)
        wrmsr(v->pmc_msr, v->pmc_preset & v->pmc_mask);
    /* What this run was asked to do, from what the entry path set anyway
     * (no extra VMCS reads). */
    struct run_trace *tr = &trace[ntrace++ % TRACE_RUNS];
    tr->preempt = o->preempt_ticks > 0xffffffffull ? 0xffffffffu : (uint32_t)o->preempt_ticks;
    tr->injected = v->injected;
    tr->flags = (uint8_t)((o->mtf ? 1 : 0) | (proc & PROC_INTR_WINDOW ? 2 : 0));
    profile_guest(true);
    int r = vmx_enter(&v->regs, v->launched);
    v->exit_tsc = rdtsc();
    if (v->pmu_on) {
        /* Branches this run: the counter's distance from its preset, at
         * most one wrap (an overflow ends the run long before a second). */
        v->pmu_branches += (rdmsr(v->pmc_msr) - v->pmc_preset) & v->pmc_mask;
        v->pmc_preset = 0;
    }
    /* Raw progress: TSC ticks inside the guest (plus the stub's constant
     * share) and the number of runs; ft/landmark.c turns them into guest
     * instruction counts where the TSC counts instructions. */
    v->run_ticks += v->regs.tsc_exit - v->regs.tsc_entry;
    v->runs++;
    tr->ticks = v->run_ticks;
    tr->runs = v->runs;
    if (r) {
        sti();
        profile_guest(false);
        entry_failed(v, r);
        return RUN_STOPPED;
    }
    v->launched = true;
    v->exits++;
    v->exit_reason = (uint32_t)vmread(VMCS_EXIT_REASON);
    v->exit_qual = vmread(VMCS_EXIT_QUALIFICATION);
    v->exit_insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
    v->rip = vmread(VMCS_GUEST_RIP);
    v->rsp = vmread(VMCS_GUEST_RSP);
    /* Host interrupts that arrived in the guest (external-interrupt exits)
     * are taken here, by the host's own handlers (the profiler counts a
     * tick taken here as the guest's). */
    sti();
    profile_guest(false);
    if (v->exit_reason & EXIT_REASON_ENTRY_FAILURE) {
        char why[300];
        vmcs_check_all(v, why, sizeof(why));
        vcpu_stop(v, VCPU_STOP_FAILED, "VM entry failed: %s (exit qualification %llu)%s%s",
                  vmx_exit_reason_name(v->exit_reason), (unsigned long long)v->exit_qual, why[0] ? ": " : "", why);
        return RUN_STOPPED;
    }
    uint32_t reason = v->exit_reason & 0xffff;
    if (reason < 80)
        v->exits_by_reason[reason]++;
    v->last_reason = reason;
    bool async = exit_is_async(reason);
    if (!async)
        v->sync_exits++; /* the exit ordinal of the event log */
    tr->reason = (uint16_t)reason;
    tr->rip = v->rip;
    tr->sync_exits = (uint32_t)v->sync_exits;
    exit_dispatch(v, reason);
    tr->rax = v->regs.rax; /* what the exit gave the guest (RDTSC: the low half) */
    tr->rdx = v->regs.rdx;
    vmwrite(VMCS_GUEST_RSP, v->rsp);
    if (v->stop != VCPU_RUNNING)
        return RUN_STOPPED;
    return async ? RUN_ASYNC : RUN_SYNC;
}
