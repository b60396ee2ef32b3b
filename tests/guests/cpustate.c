/* cpustate: the CPU state a migration must carry that lives in the CPU,
 * not the VMCS, across ftvisor's checkpoints ([debug] checkpoint_every_ms:
 * save the machine state, rebuild the vCPU from power-on values, restore).
 * Boot it with cpu_model = x86-64-v3. The guest sets
 *  - the MSRs VMX passes through and does not switch: STAR, LSTAR, CSTAR,
 *    FMASK, KERNEL_GS_BASE, TSC_AUX (and SYSENTER_CS/ESP/EIP, PAT, FS/GS
 *    base, which the VMCS holds)
 *  - DR0-DR3, DR6 and DR7 (nothing armed)
 *  - XCR0 = x87|SSE|AVX, all sixteen YMM registers, MXCSR (rounding down)
 *    and three values on the x87 stack, with the x87 control word changed
 *  - CR0.WP off, CR4.OSXSAVE on, a CR3 of a copy of the page tables, CR2
 * then spins for 400 ms of virtual time in one asm loop that touches none
 * of them (RDTSC exits only), and checks every value at the end. The test
 * (tests/system/77-checkpoint.sh) makes ftvisor checkpoint every 10 ms. */
#include "rt/rt.h"

#define LOOP_MS 400

static uint8_t ymm_in[16][32] __attribute__((aligned(32))), ymm_out[16][32] __attribute__((aligned(32)));

static uint64_t get_dr(int i)
{
    uint64_t v = 0;
    switch (i) {
    case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
    case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(v)); break;
    case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(v)); break;
    case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
    case 6: __asm__ volatile("mov %%dr6, %0" : "=r"(v)); break;
    case 7: __asm__ volatile("mov %%dr7, %0" : "=r"(v)); break;
    }
    return v;
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
    return (uint64_t)hi << 32 | lo;
}

int guest_main(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    bool avx = (r[2] & (1u << 28)) && (r[2] & (1u << 26));
    CHECK(avx, "the CPU model offers XSAVE and AVX (boot with cpu_model = x86-64-v3)");
    if (!avx)
        return rt_result("cpustate");
    uint64_t hz = rt_tsc_hz();

    /* CR4.OSXSAVE, XCR0 = 7, as Linux does. */
    __asm__ volatile("mov %0, %%cr4" ::"r"(read_cr4() | (1u << 18)) : "memory");
    __asm__ volatile("xsetbv" ::"c"(0u), "a"(7u), "d"(0u) : "memory");
    /* CR0.WP off; CR2 set by hand (a page-fault address the guest keeps). */
    __asm__ volatile("mov %0, %%cr0" ::"r"(read_cr0() & ~(1ull << 16)) : "memory");
    const uint64_t cr2 = 0x0000123456789000ull;
    __asm__ volatile("mov %0, %%cr2" ::"r"(cr2) : "memory");
    const uint64_t cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();

    static const struct { uint32_t msr; uint64_t val; } msrs[] = {
        { 0xc0000081, 0x0023001000000000ull }, /* STAR */
        { 0xc0000082, 0xffffffff81234560ull }, /* LSTAR */
        { 0xc0000083, 0xffff800012345670ull }, /* CSTAR */
        { 0xc0000084, 0x0000000000047700ull }, /* FMASK */
        { 0xc0000102, 0xffff888012340000ull }, /* KERNEL_GS_BASE */
        { 0xc0000103, 0x0000000000001234ull }, /* TSC_AUX */
        { 0x174, 0x10 },                       /* SYSENTER_CS */
        { 0x175, 0xffff880000001000ull },      /* SYSENTER_ESP */
        { 0x176, 0xffffffff81000040ull },      /* SYSENTER_EIP */
        { 0x277, 0x0007010600070106ull },      /* PAT */
        { 0xc0000100, 0x00007f0012340000ull }, /* FS_BASE */
        { 0xc0000101, 0xffff888087650000ull }, /* GS_BASE */
    };
    const unsigned nmsrs = sizeof(msrs) / sizeof(msrs[0]);
    for (unsigned i = 0; i < nmsrs; i++)
        wrmsr(msrs[i].msr, msrs[i].val);
    const uint64_t dr[4] = { 0x1111000, 0x2222008, 0x3333010, 0x4444018 };
    const uint64_t dr6 = 0xffff0ff3, dr7 = 0x400 | 0xdddd0000ull | (1u << 9);
    __asm__ volatile("mov %0, %%dr0" ::"r"(dr[0]));
    __asm__ volatile("mov %0, %%dr1" ::"r"(dr[1]));
    __asm__ volatile("mov %0, %%dr2" ::"r"(dr[2]));
    __asm__ volatile("mov %0, %%dr3" ::"r"(dr[3]));
    __asm__ volatile("mov %0, %%dr6" ::"r"(dr6));
    __asm__ volatile("mov %0, %%dr7" ::"r"(dr7));

    for (unsigned i = 0; i < 16; i++)
        for (unsigned j = 0; j < 32; j++)
            ymm_in[i][j] = (uint8_t)(0x5a ^ (i * 37 + j * 11 + 3));
    const uint32_t mxcsr = 0x3f80; /* all masked, round down */
    const uint16_t fcw = 0x027f;   /* 53-bit precision */
    uint32_t mxcsr_out = 0;
    uint16_t fcw_out = 0;
    double x87_out[3] = { 0, 0, 0 };
    uint64_t end = rdtsc() + hz * LOOP_MS / 1000, spins = 0;
    rt_printf("cpustate: state set; spinning %u ms with it in the CPU\n", LOOP_MS);
    /* One asm statement from loading the registers to storing them: no
     * compiler-generated code runs between (it could use XMM registers). */
    __asm__ volatile("ldmxcsr %[mx]\n\t"
                     "fldcw %[cw]\n\t"
                     "fld1\n\t"
                     "fldpi\n\t"
                     "fldl2e\n\t"
                     "vmovdqa 0(%[in]), %%ymm0\n\t"
                     "vmovdqa 32(%[in]), %%ymm1\n\t"
                     "vmovdqa 64(%[in]), %%ymm2\n\t"
                     "vmovdqa 96(%[in]), %%ymm3\n\t"
                     "vmovdqa 128(%[in]), %%ymm4\n\t"
                     "vmovdqa 160(%[in]), %%ymm5\n\t"
                     "vmovdqa 192(%[in]), %%ymm6\n\t"
                     "vmovdqa 224(%[in]), %%ymm7\n\t"
                     "vmovdqa 256(%[in]), %%ymm8\n\t"
                     "vmovdqa 288(%[in]), %%ymm9\n\t"
                     "vmovdqa 320(%[in]), %%ymm10\n\t"
                     "vmovdqa 352(%[in]), %%ymm11\n\t"
                     "vmovdqa 384(%[in]), %%ymm12\n\t"
                     "vmovdqa 416(%[in]), %%ymm13\n\t"
                     "vmovdqa 448(%[in]), %%ymm14\n\t"
                     "vmovdqa 480(%[in]), %%ymm15\n\t"
                     "1: movl $2048, %%ecx\n\t"
                     "2: incq %[spins]\n\t"
                     "decl %%ecx\n\t"
                     "jnz 2b\n\t"
                     "rdtsc\n\t"
                     "shlq $32, %%rdx\n\t"
                     "orq %%rax, %%rdx\n\t"
                     "cmpq %[end], %%rdx\n\t"
                     "jb 1b\n\t"
                     "vmovdqa %%ymm0, 0(%[out])\n\t"
                     "vmovdqa %%ymm1, 32(%[out])\n\t"
                     "vmovdqa %%ymm2, 64(%[out])\n\t"
                     "vmovdqa %%ymm3, 96(%[out])\n\t"
                     "vmovdqa %%ymm4, 128(%[out])\n\t"
                     "vmovdqa %%ymm5, 160(%[out])\n\t"
                     "vmovdqa %%ymm6, 192(%[out])\n\t"
                     "vmovdqa %%ymm7, 224(%[out])\n\t"
                     "vmovdqa %%ymm8, 256(%[out])\n\t"
                     "vmovdqa %%ymm9, 288(%[out])\n\t"
                     "vmovdqa %%ymm10, 320(%[out])\n\t"
                     "vmovdqa %%ymm11, 352(%[out])\n\t"
                     "vmovdqa %%ymm12, 384(%[out])\n\t"
                     "vmovdqa %%ymm13, 416(%[out])\n\t"
                     "vmovdqa %%ymm14, 448(%[out])\n\t"
                     "vmovdqa %%ymm15, 480(%[out])\n\t"
                     "stmxcsr %[mxo]\n\t"
                     "fnstcw %[cwo]\n\t"
                     "fstpl 0(%[x87])\n\t"
                     "fstpl 8(%[x87])\n\t"
                     "fstpl 16(%[x87])\n\t"
                     "ldmxcsr %[mxd]\n\t"
                     "fninit\n\t"
                     "vzeroupper\n\t"
                     : [spins] "+m"(spins), [mxo] "=m"(mxcsr_out), [cwo] "=m"(fcw_out)
                     : [in] "r"(ymm_in), [out] "r"(ymm_out), [x87] "r"(x87_out), [end] "r"(end), [mx] "m"(mxcsr),
                       [cw] "m"(fcw), [mxd] "m"((uint32_t){ 0x1f80 })
                     : "rax", "rcx", "rdx", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                       "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");

    unsigned bad = 0;
    for (unsigned i = 0; i < 16; i++)
        bad += memcmp(ymm_in[i], ymm_out[i], 32) != 0;
    CHECK(bad == 0, "ymm0-ymm15, all 256 bits, unchanged after %u ms (%u registers differ)", LOOP_MS, bad);
    CHECK(mxcsr_out == mxcsr, "MXCSR 0x%x unchanged (now 0x%x)", mxcsr, mxcsr_out);
    CHECK(fcw_out == fcw, "x87 control word 0x%x unchanged (now 0x%x)", fcw, fcw_out);
    /* FLDL2E, FLDPI, FLD1 pushed in that order: popped as log2(e), pi, 1. */
    CHECK(x87_out[0] > 1.4426 && x87_out[0] < 1.4427 && x87_out[1] > 3.14159 && x87_out[1] < 3.1416 &&
              x87_out[2] == 1.0,
          "x87 stack unchanged (log2 e, pi, 1)");
    CHECK(xgetbv0() == 7, "XCR0 = 7 (x87|SSE|AVX) unchanged (now 0x%llx)", (unsigned long long)xgetbv0());
    for (unsigned i = 0; i < nmsrs; i++) {
        uint64_t v = rdmsr(msrs[i].msr);
        CHECK(v == msrs[i].val, "MSR 0x%x = 0x%llx unchanged (now 0x%llx)", msrs[i].msr,
              (unsigned long long)msrs[i].val, (unsigned long long)v);
    }
    for (int i = 0; i < 4; i++)
        CHECK(get_dr(i) == dr[i], "DR%d = 0x%llx unchanged (now 0x%llx)", i, (unsigned long long)dr[i],
              (unsigned long long)get_dr(i));
    CHECK(get_dr(6) == dr6, "DR6 = 0x%llx unchanged (now 0x%llx)", (unsigned long long)dr6,
          (unsigned long long)get_dr(6));
    CHECK(get_dr(7) == dr7, "DR7 = 0x%llx unchanged (now 0x%llx)", (unsigned long long)dr7,
          (unsigned long long)get_dr(7));
    CHECK(read_cr0() == cr0 && read_cr3() == cr3 && read_cr4() == cr4 && read_cr2() == cr2,
          "CR0 0x%llx (WP off), CR2, CR3 and CR4 0x%llx (OSXSAVE) unchanged", (unsigned long long)cr0,
          (unsigned long long)cr4);
    uint32_t aux = 0;
    rdtscp(&aux);
    CHECK(aux == 0x1234, "RDTSCP returns TSC_AUX 0x1234 (got 0x%x)", aux);
    rt_printf("cpustate: %llu spins\n", (unsigned long long)spins);
    __asm__ volatile("mov %0, %%dr7" ::"r"(0x400ull));
    return rt_result("cpustate");
}
