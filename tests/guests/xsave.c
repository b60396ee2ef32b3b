/* xsave: XSAVE and AVX in the x86-64-v3 CPU model (boot it with
 * cpu_model = x86-64-v3), enabled the way Linux's fpu__init_cpu_xstate()
 * does: set CR4.OSXSAVE, then XSETBV(XCR0 = x87|SSE|AVX).
 *  - CPUID.1:ECX: XSAVE and AVX offered; OSXSAVE follows CR4.OSXSAVE
 *    (0 before, 1 after setting it), as the SDM specifies
 *  - CPUID.0xD.0: supported XCR0 = 7, maximum size 832 bytes; EBX (size for
 *    the features enabled in XCR0) 576 with XCR0 = 1, 832 with XCR0 = 7
 *  - XSETBV(0, 7) works and XGETBV reads it back; invalid values (AVX
 *    without SSE, x87 clear, XCR1) raise #GP
 *  - AVX arithmetic on YMM; ymm0-ymm15 (all 256 bits) survive 1000 rounds
 *    of CPUID + IN (2000 VM exits) */
#include "rt/rt.h"

#define ROUNDS 1000

static uint64_t xgetbv(uint32_t idx)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(idx));
    return (uint64_t)hi << 32 | lo;
}

static int try_xsetbv(uint32_t idx, uint64_t v)
{
    return RT_TRY("xsetbv", : : "c"(idx), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static void ymm_across_exits(void)
{
    static uint8_t in[16][32] __attribute__((aligned(32))), out[16][32] __attribute__((aligned(32)));
    for (unsigned i = 0; i < 16; i++)
        for (unsigned j = 0; j < 32; j++)
            in[i][j] = (uint8_t)(0x3c ^ (i * 29 + j * 7 + 1));
    memset(out, 0, sizeof(out));
    uint64_t n = ROUNDS;
    __asm__ volatile("vmovdqa 0(%[in]), %%ymm0\n\t"
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
                     "1: movl $1, %%eax\n\t"
                     "xorl %%ecx, %%ecx\n\t"
                     "cpuid\n\t"
                     "inb $0x61, %%al\n\t"
                     "decq %[n]\n\t"
                     "jnz 1b\n\t"
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
                     "vzeroupper\n\t"
                     : [n] "+r"(n)
                     : [in] "r"(in), [out] "r"(out)
                     : "rax", "rbx", "rcx", "rdx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
    unsigned bad = 0, upper_bad = 0;
    for (unsigned i = 0; i < 16; i++) {
        bad += memcmp(in[i], out[i], 32) != 0;
        upper_bad += memcmp(in[i] + 16, out[i] + 16, 16) != 0;
    }
    CHECK(bad == 0, "ymm0-ymm15 unchanged after %u rounds of CPUID+IN (%u differ, %u in the upper halves)", ROUNDS,
          bad, upper_bad);
}

int guest_main(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    bool xsave = r[2] & (1u << 26), avx = r[2] & (1u << 28);
    rt_printf("xsave: CPUID.1:ECX 0x%x: XSAVE %u AVX %u OSXSAVE %u\n", r[2], xsave, avx, (r[2] >> 27) & 1);
    CHECK(xsave && avx, "CPU model offers XSAVE and AVX (boot with cpu_model = x86-64-v3)");
    if (!xsave || !avx)
        return rt_result("xsave");
    CHECK(!(r[2] & (1u << 27)), "CPUID.1:ECX.OSXSAVE = 0 while CR4.OSXSAVE = 0");
    cpuid(0xd, 0, r);
    rt_printf("xsave: CPUID.0xD.0: eax 0x%x ebx %u ecx %u\n", r[0], r[1], r[2]);
    CHECK(r[0] == 7 && r[2] == 832, "CPUID.0xD.0: XCR0 may hold x87|SSE|AVX, 832 bytes at most");

    uint64_t cr4 = read_cr4() | (1u << 18);
    int f = RT_TRY("mov %0, %%cr4", : : "r"(cr4) : "memory");
    CHECK(f == RT_NO_FAULT && (read_cr4() & (1u << 18)), "CR4.OSXSAVE set (vector %d, CR4 0x%llx)", f,
          (unsigned long long)read_cr4());
    cpuid(1, 0, r);
    CHECK(r[2] & (1u << 27), "CPUID.1:ECX.OSXSAVE = 1 once CR4.OSXSAVE is set (ECX 0x%x)", r[2]);
    uint64_t x0 = xgetbv(0);
    CHECK(x0 == 1, "XCR0 starts as 1 (x87 only): 0x%llx", (unsigned long long)x0);
    cpuid(0xd, 0, r);
    CHECK(r[1] == 576, "CPUID.0xD.0:EBX = 576 bytes for XCR0 = 1 (%u)", r[1]);

    f = try_xsetbv(0, 7);
    CHECK(f == RT_NO_FAULT, "XSETBV(XCR0 = x87|SSE|AVX) accepted (vector %d)", f);
    if (f != RT_NO_FAULT)
        return rt_result("xsave");
    CHECK(xgetbv(0) == 7, "XGETBV reads XCR0 = 7 (0x%llx)", (unsigned long long)xgetbv(0));
    cpuid(0xd, 0, r);
    CHECK(r[1] == 832, "CPUID.0xD.0:EBX = 832 bytes for XCR0 = 7 (%u)", r[1]);
    CHECK(try_xsetbv(0, 5) == 13, "XSETBV with AVX but not SSE: #GP");
    CHECK(try_xsetbv(0, 6) == 13, "XSETBV without x87: #GP");
    CHECK(try_xsetbv(1, 1) == 13, "XSETBV to XCR1: #GP");
    CHECK(xgetbv(0) == 7, "XCR0 still 7 after the refused writes");

    float a[8] __attribute__((aligned(32))) = { 1, 2, 3, 4, 5, 6, 7, 8 };
    float b[8] __attribute__((aligned(32))) = { 0.5f, 0.5f, 0.5f, 0.5f, 10, 20, 30, 40 };
    float c[8] __attribute__((aligned(32)));
    __asm__ volatile("vmovaps %1, %%ymm1\n\tvaddps %2, %%ymm1, %%ymm1\n\tvmovaps %%ymm1, %0\n\tvzeroupper"
                     : "=m"(c)
                     : "m"(a), "m"(b)
                     : "xmm1");
    CHECK(c[0] == 1.5f && c[3] == 4.5f && c[4] == 15 && c[7] == 48, "AVX vaddps on YMM");
    ymm_across_exits();
    return rt_result("xsave");
}
