/* cpuid: the guest's CPU model as CPUID shows it (vmm/cpuid.c, model
 * x86-64-v2):
 *  - vendor GenuineIntel; the hypervisor bit and leaf 0x40000000 with the
 *    signature "ftvisor"
 *  - hidden: VMX (CPUID.1:ECX[5]), SMX, MONITOR/MWAIT, PDCM, RDRAND,
 *    RDSEED, the PMU (leaf 0xA all zero); RDRAND/RDSEED executed anyway
 *    raise #UD
 *  - offered: SSE..SSE4.2, POPCNT, x2APIC, TSC-deadline, long mode, NX,
 *    SYSCALL, RDTSCP, invariant TSC, ARAT
 *  - leaf 0x15 gives a non-zero TSC frequency, consistent with leaf 0x16 */
#include "rt/rt.h"

static bool bit(uint32_t v, unsigned b) { return (v >> b) & 1; }

int guest_main(void)
{
    uint32_t r[4], max, maxext;
    char s[49];

    cpuid(0, 0, r);
    max = r[0];
    memcpy(s, &r[1], 4);
    memcpy(s + 4, &r[3], 4);
    memcpy(s + 8, &r[2], 4);
    s[12] = 0;
    rt_printf("cpuid: vendor %s, max basic leaf 0x%x\n", s, max);
    CHECK(strcmp(s, "GenuineIntel") == 0, "vendor GenuineIntel");
    CHECK(max >= 0x16, "max basic leaf >= 0x16 (0x%x)", max);

    cpuid(1, 0, r);
    uint32_t c1 = r[2], d1 = r[3];
    rt_printf("cpuid: leaf 1: eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x\n", r[0], r[1], r[2], r[3]);
    CHECK(bit(c1, 31), "hypervisor bit (CPUID.1:ECX[31])");
    CHECK(!bit(c1, 5), "no VMX (CPUID.1:ECX[5] = 0)");
    CHECK(!bit(c1, 6), "no SMX (CPUID.1:ECX[6] = 0)");
    CHECK(!bit(c1, 3), "no MONITOR/MWAIT (CPUID.1:ECX[3] = 0)");
    CHECK(!bit(c1, 15), "no PDCM (CPUID.1:ECX[15] = 0)");
    CHECK(!bit(c1, 30), "no RDRAND (CPUID.1:ECX[30] = 0)");
    CHECK(bit(c1, 0) && bit(c1, 9) && bit(c1, 19) && bit(c1, 20) && bit(c1, 23),
          "SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT");
    CHECK(bit(c1, 21) && bit(c1, 24), "x2APIC and TSC-deadline offered");
    CHECK(bit(d1, 0) && bit(d1, 4) && bit(d1, 5) && bit(d1, 6) && bit(d1, 9) && bit(d1, 25) && bit(d1, 26),
          "FPU, TSC, MSR, PAE, APIC, SSE, SSE2");
    CHECK(((r[1] >> 24) & 0xff) == 0, "initial APIC ID 0");

    cpuid(7, 0, r);
    CHECK(!bit(r[1], 18), "no RDSEED (CPUID.7:EBX[18] = 0)");

    cpuid(0xa, 0, r);
    CHECK(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0, "no PMU: leaf 0xA all zero (eax 0x%x)", r[0]);

    cpuid(6, 0, r);
    CHECK(bit(r[0], 2), "ARAT (CPUID.6:EAX[2])");

    cpuid(0x40000000, 0, r);
    memcpy(s, &r[1], 12);
    s[12] = 0;
    rt_printf("cpuid: hypervisor leaf 0x40000000: max 0x%x signature \"%s\"\n", r[0], s);
    CHECK(strcmp(s, "ftvisor") == 0 && r[0] >= 0x40000000, "leaf 0x40000000 signature \"ftvisor\"");

    cpuid(0x15, 0, r);
    uint32_t den = r[0], num = r[1], crystal = r[2];
    uint64_t tsc = den ? (uint64_t)crystal * num / den : 0;
    cpuid(0x16, 0, r);
    uint32_t base_mhz = r[0];
    rt_printf("cpuid: TSC frequency %llu Hz (leaf 0x15: crystal %u Hz x %u/%u), base %u MHz (leaf 0x16)\n",
              (unsigned long long)tsc, crystal, num, den, base_mhz);
    CHECK(den && num && crystal && tsc, "leaf 0x15 TSC frequency non-zero");
    CHECK(tsc / 1000000 == base_mhz || (tsc + 500000) / 1000000 == base_mhz,
          "leaf 0x16 base frequency %u MHz matches leaf 0x15 (%llu Hz)", base_mhz, (unsigned long long)tsc);
    CHECK(rt_tsc_hz() == tsc, "runtime reads the same TSC frequency");

    cpuid(0x80000000, 0, r);
    maxext = r[0];
    CHECK(maxext >= 0x80000008, "max extended leaf >= 0x80000008 (0x%x)", maxext);
    cpuid(0x80000001, 0, r);
    CHECK(bit(r[3], 29), "long mode (CPUID.80000001h:EDX[29])");
    CHECK(bit(r[3], 20), "NX (CPUID.80000001h:EDX[20])");
    CHECK(bit(r[3], 11) && bit(r[3], 27), "SYSCALL and RDTSCP");
    CHECK(!bit(r[3], 26), "no 1 GiB pages in the model");
    for (unsigned i = 0; i < 3; i++) {
        cpuid(0x80000002 + i, 0, r);
        memcpy(s + 16 * i, r, 16);
    }
    s[48] = 0;
    rt_printf("cpuid: brand \"%s\"\n", s);
    CHECK(strcmp(s, "ftvisor virtual CPU") == 0, "brand string \"ftvisor virtual CPU\"");
    cpuid(0x80000007, 0, r);
    CHECK(bit(r[3], 8), "invariant TSC (CPUID.80000007h:EDX[8])");
    cpuid(0x80000008, 0, r);
    rt_printf("cpuid: address bits: physical %u, linear %u\n", r[0] & 0xff, (r[0] >> 8) & 0xff);
    CHECK((r[0] & 0xff) >= 36 && ((r[0] >> 8) & 0xff) == 48, "physical/linear address sizes");

    /* Hidden instructions fault as on a CPU without them. */
    uint64_t v = 0;
    int f = RT_TRY("rdrand %0", : "=r"(v) : : "cc", "memory");
    CHECK(f == 6, "RDRAND raises #UD (vector %d)", f);
    f = RT_TRY("rdseed %0", : "=r"(v) : : "cc", "memory");
    CHECK(f == 6, "RDSEED raises #UD (vector %d)", f);
    f = RT_TRY("rdpmc", : : "c"(0) : "rax", "rdx", "memory");
    CHECK(f == 13, "RDPMC raises #GP (vector %d)", f);
    return rt_result("cpuid");
}
