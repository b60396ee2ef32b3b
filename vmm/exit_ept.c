/* EPT violations: the guest touched guest-physical memory that is not RAM.
 * That is either a device (local APIC, I/O APIC, and later PCI BARs), whose
 * access is emulated by decoding the faulting instruction (vmm/decode.c),
 * or nothing at all, which reads as all-ones and drops writes like an
 * unclaimed bus cycle on a PC, reported once per page. Executing from
 * non-RAM stops the guest with a report (SDM Vol. 3, "Exit Qualification
 * for EPT Violations"). */
#include "exit.h"
#include "vm.h"
#include "vmcs.h"
#include "decode.h"
#include "../kernel/log.h"

#define Q_READ (1u << 0)
#define Q_WRITE (1u << 1)
#define Q_FETCH (1u << 2)

struct mmio_ctx {
    struct vcpu *v;
    struct guest_paging pg;
};

/* An access that starts in RAM and runs into the MMIO page (or the other
 * way round) is split: the RAM bytes go to memory, the rest to the
 * platform, as the bus would split it. */
static bool all_mmio(struct mmio_ctx *m, uint64_t gpa, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        if (guest_ram_contains(&m->v->vm->mem, gpa + i, 1))
            return false;
    return true;
}

static int mmio_read(void *c, uint64_t gpa, unsigned size, uint64_t *val)
{
    struct mmio_ctx *m = c;
    if (all_mmio(m, gpa, size)) {
        platform_mmio(m->v->vm, gpa, size, false, val);
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t b = 0;
        if (guest_ram_contains(&m->v->vm->mem, gpa + i, 1))
            guest_read(&m->v->vm->mem, gpa + i, &b, 1);
        else
            platform_mmio(m->v->vm, gpa + i, 1, false, &b);
        v |= (b & 0xff) << (8 * i);
    }
    *val = v;
    return 0;
}

static int mmio_write(void *c, uint64_t gpa, unsigned size, uint64_t val)
{
    struct mmio_ctx *m = c;
    if (all_mmio(m, gpa, size)) {
        platform_mmio(m->v->vm, gpa, size, true, &val);
        return 0;
    }
    for (unsigned i = 0; i < size; i++) {
        uint64_t b = (val >> (8 * i)) & 0xff;
        if (guest_ram_contains(&m->v->vm->mem, gpa + i, 1))
            guest_write(&m->v->vm->mem, gpa + i, &b, 1);
        else
            platform_mmio(m->v->vm, gpa + i, 1, true, &b);
    }
    return 0;
}

static int mem_read(void *c, uint64_t gva, unsigned size, uint64_t *val)
{
    struct mmio_ctx *m = c;
    *val = 0;
    return guest_read_virt(&m->v->vm->mem, &m->pg, gva, val, size) ? -100 : 0;
}

static int mem_write(void *c, uint64_t gva, unsigned size, uint64_t val)
{
    struct mmio_ctx *m = c;
    return guest_write_virt(&m->v->vm->mem, &m->pg, gva, &val, size) ? -100 : 0;
}

static const struct insn_mem_ops ops = { mmio_read, mmio_write, mem_read, mem_write };

void exit_ept_violation(struct vcpu *v)
{
    uint64_t gpa = vmread(VMCS_GUEST_PHYS_ADDR);
    uint64_t q = v->exit_qual;
    if (guest_ram_contains(&v->vm->mem, gpa, 1)) {
        vcpu_stop(v, VCPU_STOP_FAILED, "EPT violation inside guest RAM at 0x%llx (qualification 0x%llx)",
                  (unsigned long long)gpa, (unsigned long long)q);
        return;
    }
    if (q & Q_FETCH) {
        vcpu_stop(v, VCPU_STOP_FAILED, "the guest jumped to 0x%llx, which is not RAM", (unsigned long long)gpa);
        return;
    }

    struct mmio_ctx ctx = { .v = v };
    vcpu_paging(v, &ctx.pg);
    uint64_t cs_ar = vmread(VMCS_GUEST_CS_AR);
    enum cpu_mode mode = insn_cpu_mode(ctx.pg.cr0 & 1, (vmread(VMCS_GUEST_RFLAGS) >> 17) & 1,
                                       (ctx.pg.efer >> 10) & 1, (cs_ar >> 13) & 1, (cs_ar >> 14) & 1);
    uint64_t lin = vmread(VMCS_GUEST_CS_BASE) + v->rip;
    if (mode != CPU_MODE_64)
        lin &= 0xffffffffull;
    uint8_t bytes[INSN_MAX_LEN];
    size_t avail = 0;
    /* Fetch what is readable of the next 15 bytes (the instruction may end
     * right before an unmapped page): the rest of this page in one read, the
     * start of the next in another (a page walk each, not one per byte). */
    size_t first = 4096 - (size_t)(lin & 4095);
    if (first > sizeof(bytes))
        first = sizeof(bytes);
    if (guest_read_virt(&v->vm->mem, &ctx.pg, lin, bytes, first) == 0) {
        avail = first;
        if (avail < sizeof(bytes) &&
            guest_read_virt(&v->vm->mem, &ctx.pg, lin + avail, bytes + avail, sizeof(bytes) - avail) == 0)
            avail = sizeof(bytes);
    }
    struct insn in;
    int r = decode_insn(bytes, avail, mode, &in);
    if (r) {
        vcpu_stop(v, VCPU_STOP_FAILED,
                  "cannot emulate the instruction at RIP 0x%llx touching 0x%llx: %s (bytes %02x %02x %02x %02x)",
                  (unsigned long long)v->rip, (unsigned long long)gpa, insn_error_name(r), bytes[0], bytes[1],
                  bytes[2], bytes[3]);
        return;
    }
    struct insn_regs regs;
    for (unsigned i = 0; i < 16; i++)
        regs.gpr[i] = *vcpu_gpr(v, i);
    regs.rflags = vmread(VMCS_GUEST_RFLAGS);
    regs.rip = v->rip;
    regs.seg_base[INSN_SEG_ES] = vmread(VMCS_GUEST_ES_BASE);
    regs.seg_base[INSN_SEG_CS] = vmread(VMCS_GUEST_CS_BASE);
    regs.seg_base[INSN_SEG_SS] = vmread(VMCS_GUEST_SS_BASE);
    regs.seg_base[INSN_SEG_DS] = vmread(VMCS_GUEST_DS_BASE);
    regs.seg_base[INSN_SEG_FS] = vmread(VMCS_GUEST_FS_BASE);
    regs.seg_base[INSN_SEG_GS] = vmread(VMCS_GUEST_GS_BASE);
    /* The exit names the first byte outside RAM; an operand that began in
     * the RAM page before it starts earlier (SDM Vol. 3: the guest-physical
     * address is that of the access that faulted, not of the operand). */
    uint64_t op_gpa = gpa, lin_op;
    if (insn_linear_address(&in, &regs, (q & Q_WRITE) != 0, &lin_op) == 0) {
        uint64_t g;
        if (guest_translate(&v->vm->mem, &ctx.pg, lin_op, false, &g, NULL) == 0 && g < gpa && gpa - g < 16)
            op_gpa = g;
    }
    r = insn_emulate(&in, &regs, op_gpa, (q & Q_WRITE) != 0, &ops, &ctx);
    if (r) {
        char what[64];
        insn_format(&in, what, sizeof(what));
        vcpu_stop(v, VCPU_STOP_FAILED, "emulating '%s' at RIP 0x%llx on 0x%llx failed: %s", what,
                  (unsigned long long)v->rip, (unsigned long long)gpa, insn_error_name(r));
        return;
    }
    for (unsigned i = 0; i < 16; i++)
        *vcpu_gpr(v, i) = regs.gpr[i];
    vmwrite(VMCS_GUEST_RFLAGS, regs.rflags);
    if (regs.rip != v->rip) {
        /* The instruction completed: like vcpu_skip_insn(), with the length
         * the decoder found (EPT exits report no instruction length). */
        v->exit_insn_len = in.len; /* not regs.rip - rip: IP may wrap */
        vcpu_skip_insn(v);
    }
}

void exit_ept_misconfig(struct vcpu *v)
{
    vcpu_stop(v, VCPU_STOP_FAILED, "EPT misconfiguration at guest-physical 0x%llx: a hypervisor bug",
              (unsigned long long)vmread(VMCS_GUEST_PHYS_ADDR));
}
