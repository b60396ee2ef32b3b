/* isolation: a misbehaving guest. ftvisor must contain every access and
 * keep running (the system test also checks what it reported):
 *  - guest-physical memory outside the guest's 32 MiB of RAM reads all
 *    ones at every width and drops writes: just past the end of RAM,
 *    0xd0000000, where a host's hypervisor image typically sits
 *    (0x3db00000-0x3dc00000 in Bochs with 1 GiB), beside the APICs, above
 *    4 GiB (0x1_0000_0000, 0x1_2345_6000) and at 256 GiB; guest RAM itself
 *    reads back what was written (and its far end started zeroed);
 *  - 20 MSRs the guest's CPU model lacks (VMX capabilities, PMU, RAPL,
 *    MTRR ranges, speculation control, other hypervisors' MSRs...): RDMSR
 *    and WRMSR each raise #GP; x2APIC MSRs #GP while the APIC is in xAPIC
 *    mode;
 *  - 20 unassigned ports (Bochs' 0xe9 debug port and 0x8900 shutdown
 *    port, the host's PIIX4 PM block at 0xb000, fw_cfg, VGA, IDE, COM2...)
 *    read 0xff; writes to them (including "Shutdown" to 0x8900 and S5 to
 *    the host's PM1a_CNT) are dropped;
 *  - VMX and SMX instructions raise #UD; CR4.VMXE/SMXE/PCIDE/OSXSAVE
 *    (not in the model) cannot be set (#GP);
 *  - bad hypercalls (unknown function, length > 4096, buffer outside RAM)
 *    return all ones;
 * and then exits with 0. */
#include "rt/rt.h"

#define RAM_END (32ull << 20)

static unsigned bad_reads;

/* Every width at `a` must read all ones. */
static bool all_ones(uint64_t a)
{
    uint8_t b = mmio_read8(a);
    uint16_t w = mmio_read16(a + 2);
    uint32_t d = mmio_read32(a + 4);
    uint64_t q = mmio_read64(a + 8);
    bool ok = b == 0xff && w == 0xffff && d == 0xffffffffu && q == ~0ull;
    if (!ok) {
        bad_reads++;
        rt_printf("isolation: 0x%llx read 0x%x 0x%x 0x%x 0x%llx\n", (unsigned long long)a, b, w, d,
                  (unsigned long long)q);
    }
    return ok;
}

static void memory(void)
{
    /* Guest RAM: the last page is RAM, zeroed at start, and keeps data. */
    uint64_t last = RAM_END - 8;
    CHECK(mmio_read64(last) == 0, "last qword of guest RAM (0x%llx) starts zeroed", (unsigned long long)last);
    mmio_write64(last, 0x1122334455667788ull);
    CHECK(mmio_read64(last) == 0x1122334455667788ull, "guest RAM at 0x%llx keeps what is written",
          (unsigned long long)last);

    static const uint64_t low[] = {
        RAM_END,     RAM_END + 0x1000, 0x08000000, 0x3db00000, 0x3db7d000, 0x3dbff000,
        0xd0000000,  0xfebff000,       0xfee01000, 0xfec01000, 0xfffff000,
    };
    unsigned ok = 0, n = sizeof(low) / sizeof(low[0]);
    for (unsigned i = 0; i < n; i++)
        ok += all_ones(low[i]);
    CHECK(ok == n, "%u addresses below 4 GiB outside RAM read all ones at widths 1/2/4/8 (%u did not)", n, n - ok);

    static const uint64_t high[] = { 0x100000000ull, 0x123456000ull, 0x4000000000ull };
    unsigned hok = 0;
    for (unsigned i = 0; i < 3; i++) {
        if (rt_map_2m(high[i])) {
            rt_printf("isolation: cannot map 0x%llx\n", (unsigned long long)high[i]);
            continue;
        }
        hok += all_ones(high[i]);
    }
    CHECK(hok == 3, "0x1_0000_0000, 0x1_2345_6000, 0x40_0000_0000 read all ones");

    /* Repeated reads of one page: ftvisor reports the page once only. */
    unsigned same = 0;
    for (unsigned i = 0; i < 50; i++)
        same += mmio_read32(0xd0000000 + 4 * i) == 0xffffffffu;
    CHECK(same == 50, "50 more reads of the page at 0xd0000000 all ones");

    /* Writes outside RAM are dropped (pages not read before, so that
     * ftvisor's once-per-page report is about the write). */
    static const uint64_t w[] = { RAM_END + 0x10000, 0x3db7e000, 0xd0100000, 0x100100000ull };
    unsigned dropped = 0;
    for (unsigned i = 0; i < 4; i++) {
        mmio_write32(w[i] + 0x40, 0x12345678);
        mmio_write64(w[i] + 0x48, 0x1122334455667788ull);
        mmio_write8(w[i] + 0x50, 0x5a);
        dropped += mmio_read32(w[i] + 0x40) == 0xffffffffu && mmio_read64(w[i] + 0x48) == ~0ull &&
                   mmio_read8(w[i] + 0x50) == 0xff;
    }
    CHECK(dropped == 4, "writes to 4 addresses outside RAM dropped: they read back all ones (%u of 4)", dropped);
    CHECK(bad_reads == 0, "no read outside RAM returned anything but all ones (%u did)", bad_reads);
}

static void msrs(void)
{
    static const uint32_t unknown[20] = {
        0x480,      0x481,      0x48b,      0x48c,      /* VMX capabilities */
        0xc1,       0x186,      0x38f,      0x345,      /* PMC0, PERFEVTSEL0, PERF_GLOBAL_CTRL, PERF_CAPABILITIES */
        0x606,      0x611,      0x198,      0x199,      /* RAPL, PERF_STATUS/CTL */
        0x200,      0x250,      0x48,       0x10a,      /* MTRR ranges, SPEC_CTRL, ARCH_CAPABILITIES */
        0x4b564d00, 0x40000000, 0xc0010000, 0x1a2,     /* KVM, Hyper-V, AMD, TEMPERATURE_TARGET */
    };
    unsigned rd_gp = 0, wr_gp = 0;
    for (unsigned i = 0; i < 20; i++) {
        uint64_t v = 0;
        int r = safe_rdmsr(unknown[i], &v);
        if (r == 13)
            rd_gp++;
        else
            rt_printf("isolation: RDMSR 0x%x: %s 0x%llx\n", unknown[i], r < 0 ? "read" : "fault", (unsigned long long)v);
        r = safe_wrmsr(unknown[i], 0);
        if (r == 13)
            wr_gp++;
        else
            rt_printf("isolation: WRMSR 0x%x: %s\n", unknown[i], r < 0 ? "accepted" : "other fault");
    }
    CHECK(rd_gp == 20, "RDMSR of 20 MSRs the CPU model lacks: #GP each (%u)", rd_gp);
    CHECK(wr_gp == 20, "WRMSR of 20 MSRs the CPU model lacks: #GP each (%u)", wr_gp);
    uint64_t v;
    CHECK(safe_rdmsr(0x802, &v) == 13, "x2APIC ID MSR 0x802 #GP in xAPIC mode");
    CHECK(safe_wrmsr(0x6e0 + 0x1000, 0) == 13, "WRMSR 0x16e0 #GP");
    CHECK(safe_wrmsr(MSR_EFER, rdmsr(MSR_EFER) | (1u << 12)) == 13, "EFER.SVME (bit 12) cannot be set: #GP");
    CHECK(safe_wrmsr(0x1d9, 1) == 13, "DEBUGCTL LBR cannot be enabled: #GP");
    v = 0;
    int r = safe_rdmsr(0x3a, &v);
    CHECK(r == RT_NO_FAULT && (v & 1) && !(v & 6), "IA32_FEATURE_CONTROL reads locked with VMX off (0x%llx)",
          (unsigned long long)v);
}

static void ports(void)
{
    static const uint16_t p[20] = { 0xe9,  0x402, 0x8900, 0xb000, 0xb004, 0xb008, 0x510, 0x511, 0x1ce, 0x1cf,
                                    0x3c0, 0x3d4, 0x3d5,  0x1f7,  0x177,  0x2f8,  0x2fd, 0xa20, 0x3e8, 0xfff0 };
    unsigned ff = 0;
    for (unsigned i = 0; i < 20; i++) {
        uint8_t v = 0;
        int r = safe_inb(p[i], &v);
        if (r == RT_NO_FAULT && v == 0xff)
            ff++;
        else
            rt_printf("isolation: port 0x%x read 0x%x (fault %d)\n", p[i], v, r);
    }
    CHECK(ff == 20, "20 unassigned ports read 0xff (%u did)", ff);
    /* Things that would end a Bochs session or power the host off if a
     * port leaked through: all must be dropped. */
    const char *sd = "Shutdown";
    for (unsigned i = 0; sd[i]; i++)
        outb(0x8900, (uint8_t)sd[i]);
    outw(0xb004, (uint16_t)(1u << 13 | 0u << 10)); /* host PIIX4: SLP_EN, S5 type 0 */
    outb(0xe9, 'X');
    outw(0x510, 0);
    CHECK(inb(0x8900) == 0xff && inw(0xb004) == 0xffff, "writes to the Bochs shutdown port and host PM port dropped");
}

static void vmx_insns(void)
{
    static uint64_t region[512] __attribute__((aligned(4096)));
    uint64_t pa = (uint64_t)(uintptr_t)region, out = 0;
    struct {
        uint64_t a, b;
    } desc = { 0, 0 };
    unsigned ud = 0, total = 0;
#define EXPECT_UD(name, ...)                                                                                    \
    do {                                                                                                        \
        int r_ = __VA_ARGS__;                                                                                   \
        total++;                                                                                                \
        if (r_ == 6)                                                                                            \
            ud++;                                                                                               \
        else                                                                                                    \
            rt_printf("isolation: %s raised %d, not #UD\n", name, r_);                                          \
    } while (0)
    EXPECT_UD("VMXON", RT_TRY("vmxon %0", : : "m"(pa) : "cc", "memory"));
    EXPECT_UD("VMCLEAR", RT_TRY("vmclear %0", : : "m"(pa) : "cc", "memory"));
    EXPECT_UD("VMPTRLD", RT_TRY("vmptrld %0", : : "m"(pa) : "cc", "memory"));
    EXPECT_UD("VMPTRST", RT_TRY("vmptrst %0", : "=m"(out) : : "cc", "memory"));
    EXPECT_UD("VMREAD", RT_TRY("vmread %1, %0", : "=r"(out) : "r"((uint64_t)0x6c00) : "cc", "memory"));
    EXPECT_UD("VMWRITE", RT_TRY("vmwrite %0, %1", : : "r"((uint64_t)0), "r"((uint64_t)0x6c00) : "cc", "memory"));
    EXPECT_UD("VMLAUNCH", RT_TRY("vmlaunch", : : : "cc", "memory"));
    EXPECT_UD("VMRESUME", RT_TRY("vmresume", : : : "cc", "memory"));
    EXPECT_UD("VMXOFF", RT_TRY("vmxoff", : : : "cc", "memory"));
    EXPECT_UD("INVEPT", RT_TRY("invept %0, %1", : : "m"(desc), "r"((uint64_t)2) : "cc", "memory"));
    EXPECT_UD("INVVPID", RT_TRY("invvpid %0, %1", : : "m"(desc), "r"((uint64_t)2) : "cc", "memory"));
    EXPECT_UD("VMFUNC", RT_TRY("vmfunc", : : "a"(0), "c"(0) : "cc", "memory"));
    EXPECT_UD("GETSEC", RT_TRY("getsec", : : "a"(0), "b"(0) : "cc", "memory"));
    CHECK(ud == total, "%u VMX/SMX instructions raise #UD (%u did)", total, ud);
#undef EXPECT_UD
    uint64_t cr4 = read_cr4();
    static const unsigned bits[] = { 13, 14, 17, 18 };
    static const char *const names[] = { "VMXE", "SMXE", "PCIDE", "OSXSAVE" };
    for (unsigned i = 0; i < 4; i++) {
        uint64_t nv = cr4 | (1ull << bits[i]);
        int r = RT_TRY("mov %0, %%cr4", : : "r"(nv) : "memory");
        CHECK(r == 13 && read_cr4() == cr4, "setting CR4.%s: #GP, CR4 unchanged (vector %d)", names[i], r);
    }
}

static void hypercalls(void)
{
    uint64_t rax = 0x4654ffff;
    __asm__ volatile("vmcall" : "+a"(rax) : : "memory");
    CHECK(rax == ~0ull, "unknown hypercall returns all ones (0x%llx)", (unsigned long long)rax);
    static const char text[8] = "xxxxxxx";
    CHECK(hc_print(text, 4097) == -1, "print hypercall longer than 4096 bytes refused");
    CHECK(hc_print((const void *)0xd0000000, 16) == -1, "print hypercall from outside RAM refused");
    CHECK(hc_print((const void *)(uintptr_t)(RAM_END - 8), 16) == -1, "print hypercall crossing the end of RAM refused");
}

int guest_main(void)
{
    rt_printf("isolation: misbehaving on purpose; ftvisor must contain it\n");
    memory();
    msrs();
    ports();
    vmx_insns();
    hypercalls();
    rt_printf("isolation: still running after all of that\n");
    return rt_result("isolation");
}
