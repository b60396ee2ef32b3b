/* The guest's machine state as a blob (vmstate.h). The inventory behind
 * each section is docs/migration-state.md. */
#include "vmstate.h"
#include "vmstate_wire.h"
#include "vm.h"
#include "vmcs.h"
#include "../kernel/build_id.h"
#include "../kernel/cpu.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/strutil.h"
#include <string.h>


/* Virtual time and what the VM was made from. */
struct vs_vm {
    uint64_t tsc_hz, epoch_seconds, vtime, time_now, resets, ram_bytes;
    char cpu_model[32];
};

/* The vCPU's software state. CR0 and CR4 travel as the guest sees them:
 * the real registers carry bits VMX forces, which the destination's own
 * fixed-bit MSRs decide (SDM Vol. 3C, 24.6.6 "Guest/Host Masks and Read
 * Shadows for CR0 and CR4"; A.7, A.8). */
struct vs_cpu {
    uint64_t gpr[16]; /* rax rcx rdx rbx (rsp: the VMCS field) rbp rsi rdi r8..r15 */
    uint64_t cr2, cr0, cr4, efer, xcr0;
    uint64_t mtrr_def_type, misc_enable, sync_exits;
    uint32_t windows; /* PROC_INTR_WINDOW | PROC_NMI_WINDOW requested */
    /* An event whose delivery a VM exit interrupted (SDM Vol. 3C, 27.2.4
     * "Information for VM Exits During Event Delivery"): re-injected by the
     * next entry, from read-only exit fields a fresh VMCS does not have. */
    uint32_t idt_info, idt_err, idt_insn_len;
    uint32_t exc_err;
    uint8_t halted, exc_pending, exc_vector, exc_has_err, nmi_pending, pad[3];
};

/* State VMX leaves in the CPU (docs/migration-state.md, section 3). */
static const uint32_t hw_msrs[6] = { 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103 };
#define FPU_XSAVE 1 /* XSAVE standard format, components x87|SSE|AVX (as XCR0 allows) */
#define FPU_FXSAVE 2 /* FXSAVE64: x87 and SSE, a host without XSAVE */
#define FPU_AREA 1024
struct vs_hw {
    uint64_t msr[6];
    uint64_t dr[4], dr6;
    uint32_t fpu_format, fpu_mask; /* FPU_*, and XSAVE's requested-feature bitmap */
    uint8_t area[FPU_AREA] __attribute__((aligned(64)));
};

struct vs_platform {
    uint64_t next_deadline, nmi_count, blk_reported, net_reported;
    uint32_t pci_addr;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint8_t port92, port61_shadow, has_blk, has_net, pad[6];
    uint8_t host_bridge_cfg[256];
};

/* The VMCS guest-state fields carried as (encoding, value) pairs (SDM Vol.
 * 3C, 24.4 "Guest-State Area"; encodings in App. B). CR0, CR4 and their
 * shadows are not here (struct vs_cpu); nor are fields the destination
 * owns: the host state, controls, EPTP, the preemption timer. A blob may
 * write only these. */
static const uint32_t vmcs_fields[] = {
    VMCS_GUEST_ES_SEL, VMCS_GUEST_CS_SEL, VMCS_GUEST_SS_SEL, VMCS_GUEST_DS_SEL, VMCS_GUEST_FS_SEL,
    VMCS_GUEST_GS_SEL, VMCS_GUEST_LDTR_SEL, VMCS_GUEST_TR_SEL,
    VMCS_GUEST_ES_BASE, VMCS_GUEST_CS_BASE, VMCS_GUEST_SS_BASE, VMCS_GUEST_DS_BASE, VMCS_GUEST_FS_BASE,
    VMCS_GUEST_GS_BASE, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_TR_BASE,
    VMCS_GUEST_ES_LIMIT, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_FS_LIMIT,
    VMCS_GUEST_GS_LIMIT, VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_TR_LIMIT,
    VMCS_GUEST_ES_AR, VMCS_GUEST_CS_AR, VMCS_GUEST_SS_AR, VMCS_GUEST_DS_AR, VMCS_GUEST_FS_AR,
    VMCS_GUEST_GS_AR, VMCS_GUEST_LDTR_AR, VMCS_GUEST_TR_AR,
    VMCS_GUEST_GDTR_BASE, VMCS_GUEST_GDTR_LIMIT, VMCS_GUEST_IDTR_BASE, VMCS_GUEST_IDTR_LIMIT,
    VMCS_GUEST_CR3, VMCS_GUEST_DR7, VMCS_GUEST_RSP, VMCS_GUEST_RIP, VMCS_GUEST_RFLAGS,
    VMCS_GUEST_INTERRUPTIBILITY, VMCS_GUEST_ACTIVITY, VMCS_GUEST_PENDING_DBG,
    VMCS_GUEST_EFER, VMCS_GUEST_PAT, VMCS_GUEST_SYSENTER_CS, VMCS_GUEST_SYSENTER_ESP, VMCS_GUEST_SYSENTER_EIP,
    /* PAE paging without long mode: VM entry loads the PDPTEs from these
     * (SDM Vol. 3C, 26.3.2.4 "Loading Page-Directory-Pointer-Table
     * Entries"); in other modes they are ignored. */
    VMCS_GUEST_PDPTE0, VMCS_GUEST_PDPTE1, VMCS_GUEST_PDPTE2, VMCS_GUEST_PDPTE3,
};
#define NFIELDS (sizeof(vmcs_fields) / sizeof(vmcs_fields[0]))

#define EFER_LMA (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define INTR_TYPE_MASK (7u << 8)

/* ---- the CPU-held state -------------------------------------------------- */

static uint64_t host_xcr0_supported(void)
{
    uint32_t a, b, c, d;
    cpuid(0xd, 0, &a, &b, &c, &d);
    return ((uint64_t)d << 32 | a) & 7; /* x87, SSE, AVX: all a CPU model offers */
}

static uint32_t mxcsr_mask(void)
{
    static uint8_t area[512] __attribute__((aligned(16)));
    __asm__ volatile("fxsave64 %0" : "=m"(area));
    uint32_t m;
    memcpy(&m, area + 28, 4);
    return m ? m : 0xffbf; /* 0: the default mask (SDM Vol. 1, 11.6.6) */
}

/* Read the registers the guest left in the CPU. With XSAVE, XCR0 is set
 * to every supported component for the save (a component keeps its
 * contents while XCR0 hides it, SDM Vol. 1, 13.3) and given back. */
static void hw_save(const struct vcpu *v, struct vs_hw *h)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < 6; i++)
        h->msr[i] = rdmsr(hw_msrs[i]);
    __asm__ volatile("mov %%dr0, %0" : "=r"(h->dr[0]));
    __asm__ volatile("mov %%dr1, %0" : "=r"(h->dr[1]));
    __asm__ volatile("mov %%dr2, %0" : "=r"(h->dr[2]));
    __asm__ volatile("mov %%dr3, %0" : "=r"(h->dr[3]));
    __asm__ volatile("mov %%dr6, %0" : "=r"(h->dr6));
    if (read_cr4() & CR4_OSXSAVE) {
        uint64_t mask = host_xcr0_supported();
        h->fpu_format = FPU_XSAVE;
        h->fpu_mask = (uint32_t)mask;
        xsetbv0(mask);
        __asm__ volatile("xsave64 (%0)" ::"r"(h->area), "a"((uint32_t)mask), "d"(0u) : "memory");
        xsetbv0(v->xcr0);
    } else {
        h->fpu_format = FPU_FXSAVE;
        __asm__ volatile("fxsave64 (%0)" ::"r"(h->area) : "memory");
    }
    /* FXSAVE/XSAVE leave bytes 464-511 (and XSAVE some header bytes) as
     * they were: zeroed above, so two saves of one state are equal. */
}

static bool canonical(uint64_t a) { return (uint64_t)((int64_t)(a << 16) >> 16) == a; }

static int hw_check(const struct vm *vm, const struct vs_hw *h, uint64_t xcr0, char *err, size_t n)
{
    /* WRMSR faults on a non-canonical LSTAR/CSTAR/KERNEL_GS_BASE and on
     * reserved bits of FMASK and TSC_AUX (SDM Vol. 4, table 2-2). */
    for (int i = 1; i < 6; i++) {
        bool bad = (hw_msrs[i] == 0xc0000084 || hw_msrs[i] == 0xc0000103) ? h->msr[i] >> 32 != 0
                                                                            : !canonical(h->msr[i]);
        if (bad) {
            fmt_snprintf(err, n, "MSR 0x%x value 0x%llx would fault", hw_msrs[i], (unsigned long long)h->msr[i]);
            return -1;
        }
    }
    if (h->dr6 >> 32) {
        fmt_snprintf(err, n, "DR6 0x%llx has reserved bits set", (unsigned long long)h->dr6);
        return -1;
    }
    uint64_t sup = host_xcr0_supported();
    bool osxsave = read_cr4() & CR4_OSXSAVE;
    if (!(xcr0 & 1) || ((xcr0 & 4) && !(xcr0 & 2)) || (xcr0 & ~(vm->cpu->xcr0 | 1)) || (xcr0 != 1 && !osxsave) ||
        (osxsave && (xcr0 & ~sup))) {
        fmt_snprintf(err, n, "XCR0 0x%llx is not one this host can load for CPU model %s", (unsigned long long)xcr0,
                     vm->cpu->name);
        return -1;
    }
    uint32_t mxcsr;
    memcpy(&mxcsr, h->area + 24, 4);
    if (mxcsr & ~mxcsr_mask()) {
        fmt_snprintf(err, n, "MXCSR 0x%x has bits this CPU reserves", mxcsr);
        return -1;
    }
    if (h->fpu_format == FPU_XSAVE) {
        /* XRSTOR faults on a header with XSTATE_BV outside the requested
         * mask or XCR0, on XCOMP_BV set (the standard form) and on
         * reserved header bytes (SDM Vol. 1, 13.8.1). */
        uint64_t bv, comp, rest[6];
        memcpy(&bv, h->area + 512, 8);
        memcpy(&comp, h->area + 520, 8);
        memcpy(rest, h->area + 528, sizeof(rest));
        bool rest_zero = !(rest[0] | rest[1] | rest[2] | rest[3] | rest[4] | rest[5]);
        if (!osxsave || (h->fpu_mask & ~sup) || (bv & ~(uint64_t)h->fpu_mask) || comp || !rest_zero) {
            fmt_snprintf(err, n, "the XSAVE area (components 0x%x, XSTATE_BV 0x%llx) cannot be loaded here",
                         h->fpu_mask, (unsigned long long)bv);
            return -1;
        }
    } else if (h->fpu_format != FPU_FXSAVE) {
        fmt_snprintf(err, n, "unknown x87/SSE state format %u", h->fpu_format);
        return -1;
    }
    return 0;
}

/* Load it back, last, just before the next entry. */
static void hw_load(const struct vs_hw *h, uint64_t xcr0)
{
    for (int i = 0; i < 6; i++)
        wrmsr(hw_msrs[i], h->msr[i]);
    __asm__ volatile("mov %0, %%dr0" ::"r"(h->dr[0]));
    __asm__ volatile("mov %0, %%dr1" ::"r"(h->dr[1]));
    __asm__ volatile("mov %0, %%dr2" ::"r"(h->dr[2]));
    __asm__ volatile("mov %0, %%dr3" ::"r"(h->dr[3]));
    __asm__ volatile("mov %0, %%dr6" ::"r"(h->dr6));
    if (h->fpu_format == FPU_XSAVE) {
        xsetbv0(h->fpu_mask);
        __asm__ volatile("xrstor64 (%0)" ::"r"(h->area), "a"(h->fpu_mask), "d"(0u) : "memory");
        xsetbv0(xcr0);
    } else {
        __asm__ volatile("fxrstor64 (%0)" ::"r"(h->area) : "memory");
    }
}

/* ---- the vCPU -------------------------------------------------------------- */

static const unsigned gpr_index[16] = { 0, 1, 2, 3, 99, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static uint64_t *gpr(struct guest_regs *r, unsigned i)
{
    uint64_t *base[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp_unused, &r->rbp, &r->rsi, &r->rdi,
                           &r->r8,  &r->r9,  &r->r10, &r->r11, &r->r12,        &r->r13, &r->r14, &r->r15 };
    return base[i];
}

static void cpu_save(struct vcpu *v, struct vs_cpu *c)
{
    memset(c, 0, sizeof(*c));
    for (unsigned i = 0; i < 16; i++)
        c->gpr[i] = gpr_index[i] == 99 ? 0 : *gpr(&v->regs, i);
    c->cr2 = v->regs.cr2;
    c->cr0 = vcpu_guest_cr0(v);
    c->cr4 = vcpu_guest_cr4(v);
    c->efer = v->efer;
    c->xcr0 = v->xcr0;
    c->mtrr_def_type = v->mtrr_def_type;
    c->misc_enable = v->misc_enable;
    c->sync_exits = v->sync_exits;
    c->windows = v->proc_ctls & (PROC_INTR_WINDOW | PROC_NMI_WINDOW);
    if (v->carried_idt & INTR_INFO_VALID) {
        c->idt_info = v->carried_idt;
        c->idt_err = v->carried_idt_err;
        c->idt_insn_len = v->carried_insn_len;
    } else if (v->launched && !v->discard_vectoring) {
        uint32_t idt = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
        if (idt & INTR_INFO_VALID) {
            c->idt_info = idt;
            c->idt_err = idt & INTR_INFO_DELIVER_ERR ? (uint32_t)vmread(VMCS_IDT_VECTORING_ERR) : 0;
            c->idt_insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
        }
    }
    c->halted = v->halted;
    c->exc_pending = v->exc_pending;
    c->exc_vector = v->exc_vector;
    c->exc_has_err = v->exc_has_err;
    c->exc_err = v->exc_err;
    c->nmi_pending = v->nmi_pending;
}

static int cpu_check(const struct vm *vm, const struct vs_cpu *c, char *err, size_t n)
{
    if (c->cr4 & ~vm->cpu_cr4_allowed) {
        fmt_snprintf(err, n, "CR4 0x%llx has bits CPU model %s does not offer", (unsigned long long)c->cr4,
                     vm->cpu->name);
        return -1;
    }
    if (c->windows & ~(PROC_INTR_WINDOW | PROC_NMI_WINDOW)) {
        fmt_snprintf(err, n, "unknown window-exit bits 0x%x", c->windows);
        return -1;
    }
    if (c->exc_vector > 31 || c->halted > 1 || c->exc_pending > 1 || c->nmi_pending > 1 || c->exc_has_err > 1) {
        fmt_snprintf(err, n, "pending-event fields out of range");
        return -1;
    }
    return 0;
}

static void cpu_load(struct vcpu *v, const struct vs_cpu *c)
{
    for (unsigned i = 0; i < 16; i++)
        if (gpr_index[i] != 99)
            *gpr(&v->regs, i) = c->gpr[i];
    v->regs.cr2 = c->cr2;
    /* The guest's CR0/CR4 under this host's masks, as vcpu.c and
     * exit_cr.c build them: owned bits from the fixed-bit MSRs underneath,
     * the guest's value in the shadow. */
    uint64_t f0 = rdmsr(MSR_VMX_CR0_FIXED0), f4 = rdmsr(MSR_VMX_CR4_FIXED0);
    vmwrite(VMCS_GUEST_CR0, (c->cr0 & ~v->cr0_host_owned) | (f0 & v->cr0_host_owned));
    vmwrite(VMCS_CR0_SHADOW, c->cr0);
    vmwrite(VMCS_GUEST_CR4, (c->cr4 & ~v->cr4_host_owned) | (f4 & v->cr4_host_owned & ~v->vm->cpu_cr4_allowed) |
                                (c->cr4 & v->cr4_host_owned & v->vm->cpu_cr4_allowed));
    vmwrite(VMCS_CR4_SHADOW, c->cr4);
    v->efer = c->efer;
    v->xcr0 = c->xcr0;
    v->mtrr_def_type = c->mtrr_def_type;
    v->misc_enable = c->misc_enable;
    v->sync_exits = c->sync_exits;
    v->proc_ctls |= c->windows;
    vmwrite(VMCS_PROC_CTLS, v->proc_ctls);
    v->proc_ctls_live = v->proc_ctls;
    /* IA-32e mode guest follows EFER.LMA (SDM Vol. 3C, 24.8.1). */
    uint64_t entry = vmread(VMCS_ENTRY_CTLS);
    vmwrite(VMCS_ENTRY_CTLS, c->efer & EFER_LMA ? entry | ENTRY_IA32E_GUEST : entry & ~(uint64_t)ENTRY_IA32E_GUEST);
    v->carried_idt = c->idt_info;
    v->carried_idt_err = c->idt_err;
    v->carried_insn_len = c->idt_insn_len;
    v->discard_vectoring = false;
    v->halted = c->halted;
    v->exc_pending = c->exc_pending;
    v->exc_vector = c->exc_vector;
    v->exc_has_err = c->exc_has_err;
    v->exc_err = c->exc_err;
    v->nmi_pending = c->nmi_pending;
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
}

/* ---- devices -------------------------------------------------------------- */

/* Pointer fields zeroed (saving) or taken from the destination's freshly
 * wired device (loading): each raw section's list. */
#define KEEP_UART(t, d) ((t)->irq = (d)->irq, (t)->tx = (d)->tx, (t)->tx_ctx = (d)->tx_ctx)
#define KEEP_PIC(t, d) ((t)->intr = (d)->intr)
#define KEEP_PIT(t, d) ((t)->irq0 = (d)->irq0)
#define KEEP_RTC(t, d) ((t)->irq = (d)->irq)
#define KEEP_LAPIC(t, d) ((t)->cb = (d)->cb)
#define KEEP_IOAPIC(t, d) ((t)->deliver = (d)->deliver, (t)->ctx = (d)->ctx)

static void keep_virtio(struct virtio_dev *t, const struct virtio_dev *d)
{
    t->pci.bar_access = d->pci.bar_access;
    t->pci.ctx = d->pci.ctx;
    t->mem = d->mem;
    t->irq = d->irq;
    t->ops = d->ops;
    t->ops_ctx = d->ops_ctx;
    t->name = d->name;
}

static void keep_blk(struct vblk *t, const struct vblk *d)
{
    keep_virtio(&t->dev, &d->dev);
    t->backend = d->backend;
    for (unsigned i = 0; i < VBLK_SLOTS; i++) {
        t->slot[i].bounce = d->slot[i].bounce;
        t->slot[i].req.buf = d->slot[i].req.buf;
    }
}

static void keep_net(struct vnet *t, const struct vnet *d)
{
    keep_virtio(&t->dev, &d->dev);
    t->backend = d->backend;
}

/* A saved copy of a device: the same struct with no pointers in it. */
#define PUT_RAW(w, id, dev, KEEP)                                                                                      \
    do {                                                                                                               \
        static __typeof__(dev) t_, zero_;                                                                              \
        t_ = (dev);                                                                                                    \
        KEEP(&t_, &zero_);                                                                                             \
        vs_put_sec(w, id, &t_, sizeof(t_));                                                                               \
    } while (0)

/* Why a virtio device stopped is a string in .rodata: the same image has
 * it at the same address, anything else is damage. */
extern const char __rodata_start[], __rodata_end[];
static bool rodata_or_null(const char *p) { return !p || (p >= __rodata_start && p < __rodata_end); }

static int virtio_check(const struct virtio_dev *d, const struct virtio_dev *mine, const char *what, char *err,
                        size_t n)
{
    bool ok = d->type == mine->type && d->features == mine->features && d->nqueues == mine->nqueues &&
              d->nqueues <= VIRTIO_QUEUES_MAX && rodata_or_null(d->broken);
    for (unsigned i = 0; ok && i < VIRTIO_QUEUES_MAX; i++) {
        uint16_t s = d->q[i].size;
        ok = s <= VIRTIO_QUEUE_SIZE && (s & (s - 1)) == 0;
    }
    if (!ok)
        fmt_snprintf(err, n, "the %s device's state does not fit this host's (type, features, queues)", what);
    return ok ? 0 : -1;
}

static int need(const struct vs_sec *s, unsigned id, size_t size, char *err, size_t n)
{
    if (!s[id].data || s[id].len != size) {
        fmt_snprintf(err, n, "section %s is %s (%u bytes, want %llu)", vs_section_name(id),
                     s[id].data ? "of the wrong size" : "missing", s[id].len, (unsigned long long)size);
        return -1;
    }
    return 0;
}

/* ---- the interface ------------------------------------------------------------ */

size_t vmstate_save(struct vm *vm, uint64_t vtime, uint8_t *buf, size_t cap, char *err, size_t n)
{
    struct vcpu *v = &vm->vcpu;
    struct platform *p = &vm->plat;
    if (v->stop != VCPU_RUNNING) {
        fmt_snprintf(err, n, "the guest is not running");
        return 0;
    }
    if (vm_disk_busy(vm)) {
        fmt_snprintf(err, n, "a disk request is in flight");
        return 0;
    }
    if (p->request != PLAT_REQ_NONE) {
        fmt_snprintf(err, n, "a power-off or reset request waits");
        return 0;
    }
    struct vs_writer w;
    vs_begin(&w, buf, cap);

    struct vs_vm m = { vm->tsc_hz, vm->config.epoch_seconds, vtime, vm->time_now, vm->resets, vm->mem.ram_bytes,
                       { 0 } };
    if (m.vtime < m.time_now)
        m.vtime = m.time_now;
    str_copy(m.cpu_model, vm->cpu->name, sizeof(m.cpu_model));
    vs_put_sec(&w, VS_VM, &m, sizeof(m));

    static struct vs_cpu c;
    cpu_save(v, &c);
    vs_put_sec(&w, VS_CPU, &c, sizeof(c));

    vs_sec_begin(&w, VS_VMCS);
    for (size_t i = 0; i < NFIELDS; i++) {
        uint8_t pair[12];
        uint32_t enc = vmcs_fields[i];
        uint64_t val = vmread(enc);
        memcpy(pair, &enc, 4);
        memcpy(pair + 4, &val, 8);
        vs_put(&w, pair, sizeof(pair));
    }
    vs_sec_end(&w);

    static struct vs_hw h;
    hw_save(v, &h);
    vs_put_sec(&w, VS_HW, &h, sizeof(h));

    PUT_RAW(&w, VS_UART, p->com1, KEEP_UART);
    PUT_RAW(&w, VS_PIC, p->pic, KEEP_PIC);
    PUT_RAW(&w, VS_PIT, p->pit, KEEP_PIT);
    PUT_RAW(&w, VS_RTC, p->rtc, KEEP_RTC);
    PUT_RAW(&w, VS_LAPIC, p->lapic, KEEP_LAPIC);
    PUT_RAW(&w, VS_IOAPIC, p->ioapic, KEEP_IOAPIC);

    static struct vs_platform pl;
    memset(&pl, 0, sizeof(pl));
    pl.next_deadline = p->next_deadline;
    pl.nmi_count = p->nmi_count;
    pl.blk_reported = p->blk_reported;
    pl.net_reported = p->net_reported;
    pl.pci_addr = p->pci.addr;
    pl.pm1_sts = p->pm1_sts;
    pl.pm1_en = p->pm1_en;
    pl.pm1_cnt = p->pm1_cnt;
    pl.port92 = p->port92;
    pl.port61_shadow = p->port61_shadow;
    pl.has_blk = p->has_blk;
    pl.has_net = p->has_net;
    memcpy(pl.host_bridge_cfg, p->host_bridge.cfg, 256);
    vs_put_sec(&w, VS_PLATFORM, &pl, sizeof(pl));

    if (p->has_blk)
        PUT_RAW(&w, VS_BLK, p->blk, keep_blk);
    if (p->has_net)
        PUT_RAW(&w, VS_NET, p->net, keep_net);

    size_t len = vs_finish(&w, build_id());
    if (!len)
        fmt_snprintf(err, n, "the machine state does not fit %llu bytes", (unsigned long long)cap);
    return len;
}

int vmstate_check(const struct vm *vm, const uint8_t *buf, size_t len, char *err, size_t n)
{
    struct vs_sec s[VS_IDS];
    if (vs_parse(buf, len, build_id(), s, err, n))
        return -1;
    for (unsigned id = VS_VM; id <= VS_PLATFORM; id++)
        if (!s[id].data) {
            fmt_snprintf(err, n, "section %s is missing", vs_section_name(id));
            return -1;
        }
    const struct platform *p = &vm->plat;
    static struct vs_vm m;
    static struct vs_cpu c;
    static struct vs_hw h;
    static struct vs_platform pl;
    if (need(s, VS_VM, sizeof(m), err, n) || need(s, VS_CPU, sizeof(c), err, n) ||
        need(s, VS_HW, sizeof(h), err, n) || need(s, VS_PLATFORM, sizeof(pl), err, n) ||
        need(s, VS_VMCS, NFIELDS * 12, err, n) || need(s, VS_UART, sizeof(struct vuart), err, n) ||
        need(s, VS_PIC, sizeof(struct vpic), err, n) || need(s, VS_PIT, sizeof(struct vpit), err, n) ||
        need(s, VS_RTC, sizeof(struct vrtc), err, n) || need(s, VS_LAPIC, sizeof(struct vlapic), err, n) ||
        need(s, VS_IOAPIC, sizeof(struct vioapic), err, n))
        return -1;
    memcpy(&m, s[VS_VM].data, sizeof(m));
    memcpy(&c, s[VS_CPU].data, sizeof(c));
    memcpy(&h, s[VS_HW].data, sizeof(h));
    memcpy(&pl, s[VS_PLATFORM].data, sizeof(pl));
    m.cpu_model[sizeof(m.cpu_model) - 1] = 0;
    if (m.ram_bytes != vm->mem.ram_bytes || strcmp(m.cpu_model, vm->cpu->name) != 0) {
        fmt_snprintf(err, n, "the guest had %llu MiB and CPU model %s; this host's [guest] has %llu MiB and %s",
                     (unsigned long long)(m.ram_bytes >> 20), m.cpu_model,
                     (unsigned long long)(vm->mem.ram_bytes >> 20), vm->cpu->name);
        return -1;
    }
    if (!m.tsc_hz || m.tsc_hz != vm->tsc_hz) {
        fmt_snprintf(err, n, "virtual TSC %llu Hz, this VM's is %llu Hz", (unsigned long long)m.tsc_hz,
                     (unsigned long long)vm->tsc_hz);
        return -1;
    }
    if (cpu_check(vm, &c, err, n) || hw_check(vm, &h, c.xcr0, err, n))
        return -1;
    for (size_t i = 0; i < NFIELDS; i++) {
        uint32_t enc;
        memcpy(&enc, s[VS_VMCS].data + 12 * i, 4);
        if (enc != vmcs_fields[i]) {
            fmt_snprintf(err, n, "VMCS field %llu is 0x%x, expected 0x%x", (unsigned long long)i, enc,
                         vmcs_fields[i]);
            return -1;
        }
    }
    /* The raw device sections: the indices the models use as array
     * subscripts (a damaged value would be a wild access here). */
    static struct vuart u;
    static struct vrtc r;
    memcpy(&u, s[VS_UART].data, sizeof(u));
    memcpy(&r, s[VS_RTC].data, sizeof(r));
    if (u.head >= VUART_FIFO_SIZE || u.count > VUART_FIFO_SIZE || r.index >= VRTC_NVRAM_SIZE) {
        fmt_snprintf(err, n, "UART or RTC index out of range");
        return -1;
    }
    if (pl.has_blk != p->has_blk || pl.has_net != p->has_net) {
        fmt_snprintf(err, n, "the guest had %s disk and %s NIC; this host's [guest] has %s disk and %s NIC",
                     pl.has_blk ? "a" : "no", pl.has_net ? "a" : "no", p->has_blk ? "a" : "no",
                     p->has_net ? "a" : "no");
        return -1;
    }
    if (p->has_blk) {
        static struct vblk b;
        if (need(s, VS_BLK, sizeof(b), err, n))
            return -1;
        memcpy(&b, s[VS_BLK].data, sizeof(b));
        if (virtio_check(&b.dev, &p->blk.dev, "virtio-blk", err, n))
            return -1;
        if (b.sectors != p->blk.sectors || b.read_only != p->blk.read_only) {
            fmt_snprintf(err, n, "the guest's disk had %llu sectors%s; this host's has %llu%s",
                         (unsigned long long)b.sectors, b.read_only ? " (read-only)" : "",
                         (unsigned long long)p->blk.sectors, p->blk.read_only ? " (read-only)" : "");
            return -1;
        }
        for (unsigned i = 0; i < VBLK_SLOTS; i++)
            if (b.slot[i].busy || b.slot[i].chain.n > VIRTIO_SG_MAX) {
                fmt_snprintf(err, n, "virtio-blk slot %u: a request in flight or a damaged chain", i);
                return -1;
            }
    }
    if (p->has_net) {
        static struct vnet e;
        if (need(s, VS_NET, sizeof(e), err, n))
            return -1;
        memcpy(&e, s[VS_NET].data, sizeof(e));
        if (virtio_check(&e.dev, &p->net.dev, "virtio-net", err, n))
            return -1;
        if (memcmp(e.mac, p->net.mac, 6) != 0) {
            fmt_snprintf(err, n, "the guest's NIC had another MAC than this host's [guest] gives it");
            return -1;
        }
    }
    return 0;
}

int vmstate_load(struct vm *vm, const uint8_t *buf, size_t len, char *err, size_t n)
{
    if (vmstate_check(vm, buf, len, err, n))
        return -1;
    struct vs_sec s[VS_IDS];
    vs_parse(buf, len, build_id(), s, err, n);
    struct vcpu *v = &vm->vcpu;
    struct platform *p = &vm->plat;

    static struct vs_vm m;
    memcpy(&m, s[VS_VM].data, sizeof(m));
    vm->time_now = m.time_now;
    vm->time_valid = false;
    vm->resets = m.resets;
    vm->config.epoch_seconds = m.epoch_seconds;

    for (size_t i = 0; i < NFIELDS; i++) {
        uint64_t val;
        memcpy(&val, s[VS_VMCS].data + 12 * i + 4, 8);
        vmwrite(vmcs_fields[i], val);
    }
    static struct vs_cpu c;
    memcpy(&c, s[VS_CPU].data, sizeof(c));
    cpu_load(v, &c);
    v->rip = vmread(VMCS_GUEST_RIP);
    v->rsp = vmread(VMCS_GUEST_RSP);
    v->rflags = vmread(VMCS_GUEST_RFLAGS);

#define LOAD_RAW(id, dev, KEEP)                                                                                        \
    do {                                                                                                               \
        static __typeof__(dev) t_;                                                                                     \
        memcpy(&t_, s[id].data, sizeof(t_));                                                                           \
        KEEP(&t_, &(dev));                                                                                             \
        (dev) = t_;                                                                                                    \
    } while (0)
    LOAD_RAW(VS_UART, p->com1, KEEP_UART);
    LOAD_RAW(VS_PIC, p->pic, KEEP_PIC);
    LOAD_RAW(VS_PIT, p->pit, KEEP_PIT);
    LOAD_RAW(VS_RTC, p->rtc, KEEP_RTC);
    LOAD_RAW(VS_LAPIC, p->lapic, KEEP_LAPIC);
    LOAD_RAW(VS_IOAPIC, p->ioapic, KEEP_IOAPIC);
    if (p->has_blk)
        LOAD_RAW(VS_BLK, p->blk, keep_blk);
    if (p->has_net)
        LOAD_RAW(VS_NET, p->net, keep_net);
#undef LOAD_RAW

    static struct vs_platform pl;
    memcpy(&pl, s[VS_PLATFORM].data, sizeof(pl));
    p->next_deadline = pl.next_deadline;
    p->nmi_count = pl.nmi_count;
    p->blk_reported = pl.blk_reported;
    p->net_reported = pl.net_reported;
    p->pci.addr = pl.pci_addr;
    p->pm1_sts = pl.pm1_sts;
    p->pm1_en = pl.pm1_en;
    p->pm1_cnt = pl.pm1_cnt;
    p->port92 = pl.port92;
    p->port61_shadow = pl.port61_shadow;
    memcpy(p->host_bridge.cfg, pl.host_bridge_cfg, 256);

    /* Last: what lives in the CPU (nothing below touches it). */
    static struct vs_hw h;
    memcpy(&h, s[VS_HW].data, sizeof(h));
    hw_load(&h, c.xcr0);
    return 0;
}

uint64_t vmstate_vtime(const uint8_t *buf, size_t len)
{
    struct vs_sec s[VS_IDS];
    char err[8];
    if (vs_parse(buf, len, build_id(), s, err, sizeof(err)) || !s[VS_VM].data || s[VS_VM].len != sizeof(struct vs_vm))
        return 0;
    struct vs_vm m;
    memcpy(&m, s[VS_VM].data, sizeof(m));
    return m.vtime;
}

int vmstate_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, char *err, size_t n)
{
    return vs_compare(a, alen, b, blen, build_id(), err, n);
}
