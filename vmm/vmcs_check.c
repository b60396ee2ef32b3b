/* After a failed VM entry the CPU says only "invalid control fields",
 * "invalid host state" or "invalid guest state". This re-runs the checks
 * of SDM Vol. 3, "Checks on VMX Controls and Host-State Area" and "Checks on
 * the Guest State Area", on the current VMCS and names the first field
 * that breaks one, in words. */
#include "vmcs_check.h"
#include "vmcs.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

static uint64_t cap(uint32_t msr)
{
    uint64_t v = 0;
    rdmsr_safe(msr, &v);
    return v;
}

static bool canonical(uint64_t a) { return (uint64_t)((int64_t)(a << 16) >> 16) == a; }

#define FAIL(...)                                  \
    do {                                           \
        fmt_snprintf(why, n, __VA_ARGS__);         \
        return 1;                                  \
    } while (0)

static int check_ctl(const char *name, uint32_t field, uint64_t capv, char *why, size_t n)
{
    uint32_t v = (uint32_t)vmread(field), must = (uint32_t)capv, may = (uint32_t)(capv >> 32);
    if ((v & must) != must)
        FAIL("%s 0x%x lacks bits 0x%x the CPU requires", name, v, must & ~v);
    if (v & ~may)
        FAIL("%s 0x%x sets bits 0x%x the CPU does not allow", name, v, v & ~may);
    return 0;
}

static int check_controls(char *why, size_t n)
{
    bool t = (cap(0x480) >> 55) & 1;
    if (check_ctl("pin-based controls", VMCS_PIN_CTLS, cap(t ? 0x48d : 0x481), why, n) ||
        check_ctl("primary processor-based controls", VMCS_PROC_CTLS, cap(t ? 0x48e : 0x482), why, n) ||
        check_ctl("VM-exit controls", VMCS_EXIT_CTLS, cap(t ? 0x48f : 0x483), why, n) ||
        check_ctl("VM-entry controls", VMCS_ENTRY_CTLS, cap(t ? 0x490 : 0x484), why, n))
        return 1;
    uint32_t proc = (uint32_t)vmread(VMCS_PROC_CTLS);
    if ((proc & PROC_SECONDARY) && check_ctl("secondary controls", VMCS_PROC_CTLS2, cap(0x48b), why, n))
        return 1;
    uint32_t p2 = (proc & PROC_SECONDARY) ? (uint32_t)vmread(VMCS_PROC_CTLS2) : 0;
    if ((p2 & PROC2_UNRESTRICTED) && !(p2 & PROC2_EPT))
        FAIL("secondary controls: unrestricted guest requires enable EPT");
    if ((p2 & PROC2_VPID) && vmread(VMCS_VPID) == 0)
        FAIL("VPID is 0 while enable VPID is set");
    if (proc & PROC_MSR_BITMAPS) {
        uint64_t b = vmread(VMCS_MSR_BITMAP);
        if (b & 0xfff)
            FAIL("MSR bitmap address 0x%llx is not 4 KiB aligned", (unsigned long long)b);
    }
    if (p2 & PROC2_EPT) {
        uint64_t e = vmread(VMCS_EPTP);
        if ((e & 7) != 6 && (e & 7) != 0)
            FAIL("EPT pointer 0x%llx: memory type must be WB (6) or UC (0)", (unsigned long long)e);
        if (((e >> 3) & 7) != 3)
            FAIL("EPT pointer 0x%llx: page-walk length must be 4 (encoded 3)", (unsigned long long)e);
        if ((e & (1u << 6)) && !((cap(0x48c) >> 21) & 1))
            FAIL("EPT pointer enables accessed/dirty flags, which the CPU lacks");
    }
    uint32_t ei = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
    if (ei & INTR_INFO_VALID) {
        uint32_t type = (ei >> 8) & 7, vec = ei & 0xff;
        if (type == 1 || (type == 2 && vec != 2) || (type == 3 && vec > 31))
            FAIL("VM-entry interruption-information 0x%x: invalid type/vector", ei);
    }
    return 0;
}

static int check_host(char *why, size_t n)
{
    uint64_t cr0 = vmread(VMCS_HOST_CR0), cr4 = vmread(VMCS_HOST_CR4);
    if ((cr0 & cap(0x486)) != cap(0x486) || (cr0 & ~cap(0x487)))
        FAIL("host CR0 0x%llx violates the VMX fixed bits", (unsigned long long)cr0);
    if ((cr4 & cap(0x488)) != cap(0x488) || (cr4 & ~cap(0x489)))
        FAIL("host CR4 0x%llx violates the VMX fixed bits", (unsigned long long)cr4);
    static const uint32_t sels[] = { VMCS_HOST_ES_SEL, VMCS_HOST_CS_SEL, VMCS_HOST_SS_SEL, VMCS_HOST_DS_SEL,
                                     VMCS_HOST_FS_SEL, VMCS_HOST_GS_SEL, VMCS_HOST_TR_SEL };
    for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
        if (vmread(sels[i]) & 7)
            FAIL("%s has RPL or TI bits set", vmcs_field_name(sels[i]));
    if (!vmread(VMCS_HOST_CS_SEL) || !vmread(VMCS_HOST_TR_SEL))
        FAIL("host CS and TR selectors must not be null");
    if (!(vmread(VMCS_EXIT_CTLS) & EXIT_HOST_64BIT))
        FAIL("VM-exit controls: host address-space size must be set for a 64-bit host");
    static const uint32_t bases[] = { VMCS_HOST_FS_BASE, VMCS_HOST_GS_BASE, VMCS_HOST_TR_BASE, VMCS_HOST_GDTR_BASE,
                                      VMCS_HOST_IDTR_BASE, VMCS_HOST_RIP, VMCS_HOST_SYSENTER_ESP,
                                      VMCS_HOST_SYSENTER_EIP };
    for (unsigned i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
        if (!canonical(vmread(bases[i])))
            FAIL("%s 0x%llx is not canonical", vmcs_field_name(bases[i]), (unsigned long long)vmread(bases[i]));
    return 0;
}

struct seg {
    const char *name;
    uint32_t sel, base, limit, ar;
};
static const struct seg segs[] = {
    { "CS", VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
    { "SS", VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
    { "DS", VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
    { "ES", VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
    { "FS", VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
    { "GS", VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
};

static int check_guest(char *why, size_t n)
{
    uint32_t p2 = (vmread(VMCS_PROC_CTLS) & PROC_SECONDARY) ? (uint32_t)vmread(VMCS_PROC_CTLS2) : 0;
    bool ug = p2 & PROC2_UNRESTRICTED;
    uint64_t cr0 = vmread(VMCS_GUEST_CR0), cr4 = vmread(VMCS_GUEST_CR4), f0 = cap(0x486);
    if (ug)
        f0 &= ~(CR0_PE | CR0_PG);
    if ((cr0 & f0) != f0 || (cr0 & ~cap(0x487)))
        FAIL("guest CR0 0x%llx violates the VMX fixed bits (required 0x%llx, allowed 0x%llx)",
             (unsigned long long)cr0, (unsigned long long)f0, (unsigned long long)cap(0x487));
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
        FAIL("guest CR0 0x%llx has PG without PE", (unsigned long long)cr0);
    if ((cr4 & cap(0x488)) != cap(0x488) || (cr4 & ~cap(0x489)))
        FAIL("guest CR4 0x%llx violates the VMX fixed bits", (unsigned long long)cr4);
    bool ia32e = vmread(VMCS_ENTRY_CTLS) & ENTRY_IA32E_GUEST;
    if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
        FAIL("IA-32e mode guest entry control set but guest CR0.PG or CR4.PAE is clear");
    if (vmread(VMCS_ENTRY_CTLS) & ENTRY_LOAD_EFER) {
        uint64_t efer = vmread(VMCS_GUEST_EFER);
        if (!!(efer & EFER_LMA) != ia32e)
            FAIL("guest IA32_EFER.LMA (0x%llx) disagrees with the IA-32e mode guest entry control",
                 (unsigned long long)efer);
        if ((cr0 & CR0_PG) && !!(efer & EFER_LMA) != !!(efer & EFER_LME))
            FAIL("guest IA32_EFER 0x%llx: LMA and LME differ while paging is on", (unsigned long long)efer);
    }
    if (vmread(VMCS_GUEST_DR7) >> 32)
        FAIL("guest DR7 has bits set above 31");
    uint64_t rf = vmread(VMCS_GUEST_RFLAGS);
    if (!(rf & 2) || (rf & ((1ull << 3) | (1ull << 5) | (1ull << 15) | ~0x3fffffull)))
        FAIL("guest RFLAGS 0x%llx: reserved bits wrong (bit 1 must be 1; 3, 5, 15, 22-63 must be 0)",
             (unsigned long long)rf);
    bool v86 = rf & (1u << 17);
    for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        const struct seg *s = &segs[i];
        uint32_t ar = (uint32_t)vmread(s->ar), lim = (uint32_t)vmread(s->limit);
        if (v86 || (ar & (1u << 16)))
            continue; /* unusable segments are not checked */
        if (!(ar & (1u << 7)))
            FAIL("guest %s access rights 0x%x: usable but not present", s->name, ar);
        if (!(ar & (1u << 4)))
            FAIL("guest %s access rights 0x%x: S (descriptor type) must be 1 for code/data", s->name, ar);
        if (ar & 0xfffe0f00u) /* bits 11:8 and 31:17 */
            FAIL("guest %s access rights 0x%x: reserved bits set", s->name, ar);
        bool g = ar & (1u << 15);
        if ((lim & 0xfff) != 0xfff && g)
            FAIL("guest %s limit 0x%x: with G=1 the low 12 bits must be all ones", s->name, lim);
        if ((lim >> 20) && !g)
            FAIL("guest %s limit 0x%x: above 1 MiB requires G=1", s->name, lim);
        if (i == 0) {
            uint32_t type = ar & 15;
            if (!ug && !(type == 9 || type == 11 || type == 13 || type == 15))
                FAIL("guest CS access rights 0x%x: type must be executable and accessed", ar);
            if (ug && !(type == 3 || type == 9 || type == 11 || type == 13 || type == 15))
                FAIL("guest CS access rights 0x%x: type must be code (or read/write accessed data)", ar);
            if (ia32e && (ar & (1u << 13)) && (ar & (1u << 14)))
                FAIL("guest CS access rights 0x%x: L and D/B both set in IA-32e mode", ar);
        }
        if (!canonical(vmread(s->base)) || (i < 4 && !ia32e && (vmread(s->base) >> 32)))
            FAIL("guest %s base 0x%llx is out of range", s->name, (unsigned long long)vmread(s->base));
    }
    uint32_t tr = (uint32_t)vmread(VMCS_GUEST_TR_AR);
    if ((tr & (1u << 16)) || !(tr & (1u << 7)) || (tr & (1u << 4)) || !((tr & 15) == 11 || (!ia32e && (tr & 15) == 3)))
        FAIL("guest TR access rights 0x%x: must be a present busy TSS (type 11, or 3 outside IA-32e mode)", tr);
    uint32_t ldtr = (uint32_t)vmread(VMCS_GUEST_LDTR_AR);
    if (!(ldtr & (1u << 16)) && ((ldtr & 15) != 2 || !(ldtr & (1u << 7)) || (ldtr & (1u << 4))))
        FAIL("guest LDTR access rights 0x%x: must be unusable or a present LDT (type 2)", ldtr);
    if (vmread(VMCS_GUEST_GDTR_LIMIT) >> 16 || vmread(VMCS_GUEST_IDTR_LIMIT) >> 16)
        FAIL("guest GDTR/IDTR limit above 0xffff");
    if (!canonical(vmread(VMCS_GUEST_GDTR_BASE)) || !canonical(vmread(VMCS_GUEST_IDTR_BASE)))
        FAIL("guest GDTR/IDTR base not canonical");
    uint64_t act = vmread(VMCS_GUEST_ACTIVITY);
    if (act > 3)
        FAIL("guest activity state %llu is invalid", (unsigned long long)act);
    uint64_t is = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (is >> 5 || ((is & 3) == 3))
        FAIL("guest interruptibility state 0x%llx: reserved bits, or STI and MOV-SS blocking together",
             (unsigned long long)is);
    if ((is & 1) && !(rf & (1u << 9)))
        FAIL("guest interruptibility: blocking by STI while RFLAGS.IF = 0");
    if (vmread(VMCS_LINK_POINTER) != ~0ull)
        FAIL("VMCS link pointer must be all ones");
    if (!ia32e && !canonical(vmread(VMCS_GUEST_RIP)))
        FAIL("guest RIP not canonical");
    if (!ia32e && (vmread(VMCS_GUEST_RIP) >> 32))
        FAIL("guest RIP 0x%llx has bits above 31 outside IA-32e mode", (unsigned long long)vmread(VMCS_GUEST_RIP));
    return 0;
}

void vmcs_check_all(struct vcpu *v, char *why, size_t n)
{
    (void)v;
    why[0] = 0;
    if (check_controls(why, n) || check_host(why, n) || check_guest(why, n))
        return;
    fmt_snprintf(why, n, "no field breaks a rule ftvisor checks (see SDM Vol. 3, \"Checks on Guest State\")");
}
