/* modes: the runtime's way from real mode to long mode under ftvisor, and
 * the guest's FPU/SSE state across VM exits.
 *
 *  - the mode transitions rt/entry.S recorded: real mode (CR0.PE = 0),
 *    32-bit protected mode (PE = 1, paging off, EFER.LMA = 0), long mode
 *    (EFER.LMA = 1, CS.L = 1); printed as "mode: real -> protected -> long"
 *  - now: EFER.LME/LMA/NXE, CR0.PE/PG, CR4.PAE, CS a 64-bit code segment
 *    (LAR: L = 1, D = 0), 64-bit arithmetic
 *  - SSE: CR4.OSFXSR, CR0.EM = 0, SSE/SSE2 arithmetic gives the right
 *    results
 *  - xmm0-xmm15, MXCSR and the x87 control word and stack survive 1000
 *    rounds of CPUID + port read + RDTSC (3000 VM exits) unchanged: the
 *    hypervisor must not clobber the guest's FPU/SSE state. */
#include "rt/rt.h"

#define ROUNDS 1000

static const char *stage_name(uint8_t s)
{
    switch (s) {
    case 1: return "real";
    case 2: return "protected";
    case 3: return "long";
    default: return "?";
    }
}

static void check_modes(void)
{
    const struct rt_boot *b = &rt_boot;
    rt_printf("mode: %s -> %s -> %s\n", stage_name(b->stages[0]), stage_name(b->stages[1]),
              stage_name(b->stages[2]));
    CHECK(b->stages[0] == 1 && b->stages[1] == 2 && b->stages[2] == 3, "stages ran in the order real, protected, long");
    CHECK(!(b->real_cr0 & 1), "real mode: CR0.PE = 0 (CR0 0x%x, CS 0x%x)", b->real_cr0, b->real_cs);
    CHECK((b->pm_cr0 & 1) && !(b->pm_cr0 & (1u << 31)), "protected mode: CR0.PE = 1, PG = 0 (CR0 0x%x, CS 0x%x)",
          b->pm_cr0, b->pm_cs);
    CHECK(!(b->pm_efer & EFER_LMA), "protected mode: EFER.LMA = 0 (EFER 0x%x)", b->pm_efer);
    CHECK((b->lm_efer & EFER_LMA) && (b->lm_efer & EFER_LME), "long mode: EFER.LME and LMA set (EFER 0x%x)",
          b->lm_efer);
    CHECK(b->lm_cs == RT_SEL_CODE64, "long mode: CS 0x%x is the 64-bit code selector", b->lm_cs);

    uint64_t efer = rdmsr(MSR_EFER), cr0 = read_cr0(), cr4 = read_cr4();
    CHECK((efer & (EFER_LME | EFER_LMA | EFER_NXE)) == (EFER_LME | EFER_LMA | EFER_NXE),
          "EFER 0x%llx: LME, LMA, NXE set", (unsigned long long)efer);
    CHECK((cr0 & 1) && (cr0 & (1ull << 31)), "CR0 0x%llx: PE and PG set", (unsigned long long)cr0);
    CHECK(cr4 & (1u << 5), "CR4 0x%llx: PAE set", (unsigned long long)cr4);
    CHECK(!(cr4 & (1u << 13)), "CR4.VMXE reads 0 (the guest's CPU has no VT-x)");
    CHECK((read_cr3() & ~0xfffull) != 0, "CR3 0x%llx: the runtime's page tables", (unsigned long long)read_cr3());

    uint32_t ar = 0;
    uint16_t cs = read_cs();
    __asm__ volatile("lar %1, %0" : "=r"(ar) : "r"((uint32_t)cs));
    CHECK((ar & (1u << 21)) && !(ar & (1u << 22)), "CS 0x%x is a 64-bit code segment (LAR 0x%x: L=1 D=0)", cs, ar);
    CHECK(((ar >> 13) & 3) == 0, "CPL0 segment (DPL %u)", (ar >> 13) & 3);

    volatile uint64_t big = 0x123456789ull;
    CHECK(big * 0x100 == 0x12345678900ull && (big >> 32) == 1, "64-bit arithmetic");
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    CHECK(rsp > 0x8000 && rsp < 0xa0000, "stack at 0x%llx in low guest RAM", (unsigned long long)rsp);
}

static void check_sse(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    CHECK((r[3] & (1u << 25)) && (r[3] & (1u << 26)), "CPUID: SSE and SSE2");
    uint64_t cr0 = read_cr0(), cr4 = read_cr4();
    CHECK(!(cr0 & (1u << 2)) && (cr0 & (1u << 1)), "CR0.EM = 0, CR0.MP = 1");
    CHECK((cr4 & (1u << 9)) && (cr4 & (1u << 10)), "CR4.OSFXSR and OSXMMEXCPT set");

    float a[4] __attribute__((aligned(16))) = { 1.5f, 2.0f, -3.0f, 100.0f };
    float b[4] __attribute__((aligned(16))) = { 2.0f, 0.25f, 4.0f, 0.5f };
    float c[4] __attribute__((aligned(16)));
    __asm__ volatile("movaps %1, %%xmm1\n\tmulps %2, %%xmm1\n\taddps %2, %%xmm1\n\tmovaps %%xmm1, %0"
                     : "=m"(c)
                     : "m"(a), "m"(b)
                     : "xmm1");
    /* a*b + b = {5, 0.75, -8, 50.5} */
    CHECK(c[0] == 5.0f && c[1] == 0.75f && c[2] == -8.0f && c[3] == 50.5f, "SSE mulps/addps");
    double d[2] __attribute__((aligned(16))) = { 2.0, 9.0 }, e[2] __attribute__((aligned(16)));
    __asm__ volatile("sqrtpd %1, %%xmm2\n\tmovapd %%xmm2, %0" : "=m"(e) : "m"(d) : "xmm2");
    CHECK(e[1] == 3.0 && e[0] > 1.41421 && e[0] < 1.41422, "SSE2 sqrtpd");
    uint64_t lo = 0x0102030405060708ull, out;
    __asm__ volatile("movq %1, %%xmm3\n\tpshufb %2, %%xmm3\n\tmovq %%xmm3, %0"
                     : "=r"(out)
                     : "r"(lo), "x"((__attribute__((vector_size(16))) char){ 7, 6, 5, 4, 3, 2, 1, 0, 8, 8, 8, 8, 8,
                                                                             8, 8, 8 })
                     : "xmm3");
    CHECK(out == 0x0807060504030201ull, "SSSE3 pshufb (0x%llx)", (unsigned long long)out);
}

/* Fill every XMM register, MXCSR, the x87 control word and two x87 stack
 * entries; run ROUNDS x (CPUID, IN, RDTSC), each a VM exit; read all back. */
static void check_state_across_exits(void)
{
    static uint8_t in[16][16] __attribute__((aligned(16))), out[16][16] __attribute__((aligned(16)));
    for (unsigned i = 0; i < 16; i++)
        for (unsigned j = 0; j < 16; j++)
            in[i][j] = (uint8_t)(0xa5 ^ (i * 17 + j * 31 + 3));
    memset(out, 0, sizeof(out));
    uint32_t mxcsr_in = 0x7f80 | 0x0040; /* round toward zero, DAZ, all masked */
    uint32_t mxcsr_out = 0;
    uint16_t fcw_in = 0x0e7f, fcw_out = 0; /* round toward zero, 53-bit precision */
    double x87_out[2] = { 0, 0 };
    double x87_in[2] = { 1234.5, -0.125 };
    uint64_t exits_rounds = ROUNDS;
    __asm__ volatile(
        "ldmxcsr %[mxin]\n\t"
        "fninit\n\t"
        "fldcw %[fcwin]\n\t"
        "fldl 8(%[x87in])\n\t"
        "fldl 0(%[x87in])\n\t"
        "movdqa 0(%[in]), %%xmm0\n\t"
        "movdqa 16(%[in]), %%xmm1\n\t"
        "movdqa 32(%[in]), %%xmm2\n\t"
        "movdqa 48(%[in]), %%xmm3\n\t"
        "movdqa 64(%[in]), %%xmm4\n\t"
        "movdqa 80(%[in]), %%xmm5\n\t"
        "movdqa 96(%[in]), %%xmm6\n\t"
        "movdqa 112(%[in]), %%xmm7\n\t"
        "movdqa 128(%[in]), %%xmm8\n\t"
        "movdqa 144(%[in]), %%xmm9\n\t"
        "movdqa 160(%[in]), %%xmm10\n\t"
        "movdqa 176(%[in]), %%xmm11\n\t"
        "movdqa 192(%[in]), %%xmm12\n\t"
        "movdqa 208(%[in]), %%xmm13\n\t"
        "movdqa 224(%[in]), %%xmm14\n\t"
        "movdqa 240(%[in]), %%xmm15\n\t"
        "1:\n\t"
        "movl $1, %%eax\n\t"
        "xorl %%ecx, %%ecx\n\t"
        "cpuid\n\t"
        "inb $0x61, %%al\n\t"
        "rdtsc\n\t"
        "decq %[n]\n\t"
        "jnz 1b\n\t"
        "movdqa %%xmm0, 0(%[out])\n\t"
        "movdqa %%xmm1, 16(%[out])\n\t"
        "movdqa %%xmm2, 32(%[out])\n\t"
        "movdqa %%xmm3, 48(%[out])\n\t"
        "movdqa %%xmm4, 64(%[out])\n\t"
        "movdqa %%xmm5, 80(%[out])\n\t"
        "movdqa %%xmm6, 96(%[out])\n\t"
        "movdqa %%xmm7, 112(%[out])\n\t"
        "movdqa %%xmm8, 128(%[out])\n\t"
        "movdqa %%xmm9, 144(%[out])\n\t"
        "movdqa %%xmm10, 160(%[out])\n\t"
        "movdqa %%xmm11, 176(%[out])\n\t"
        "movdqa %%xmm12, 192(%[out])\n\t"
        "movdqa %%xmm13, 208(%[out])\n\t"
        "movdqa %%xmm14, 224(%[out])\n\t"
        "movdqa %%xmm15, 240(%[out])\n\t"
        "stmxcsr %[mxout]\n\t"
        "fnstcw %[fcwout]\n\t"
        "fstpl 0(%[x87out])\n\t"
        "fstpl 8(%[x87out])\n\t"
        "movl $0x1f80, %%eax\n\t"
        "movl %%eax, %[mxin]\n\t"
        "ldmxcsr %[mxin]\n\t"
        "fninit\n\t"
        : [n] "+r"(exits_rounds), [mxout] "=m"(mxcsr_out), [fcwout] "=m"(fcw_out), [mxin] "+m"(mxcsr_in)
        : [in] "r"(in), [out] "r"(out), [fcwin] "m"(fcw_in), [x87in] "r"(x87_in), [x87out] "r"(x87_out)
        : "rax", "rbx", "rcx", "rdx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "st", "st(1)");
    unsigned bad = 0, first = 16;
    for (unsigned i = 0; i < 16; i++)
        if (memcmp(in[i], out[i], 16)) {
            bad++;
            if (first == 16)
                first = i;
        }
    if (bad)
        rt_printf("xmm%u: wrote %02x%02x%02x%02x... read %02x%02x%02x%02x...\n", first, in[first][0], in[first][1],
                  in[first][2], in[first][3], out[first][0], out[first][1], out[first][2], out[first][3]);
    CHECK(bad == 0, "xmm0-xmm15 unchanged after %u rounds of CPUID+IN+RDTSC (%u registers differ)", ROUNDS, bad);
    CHECK(mxcsr_out == (0x7f80 | 0x0040), "MXCSR unchanged (0x%x)", mxcsr_out);
    CHECK(fcw_out == 0x0e7f, "x87 control word unchanged (0x%x)", fcw_out);
    CHECK(x87_out[0] == 1234.5 && x87_out[1] == -0.125, "x87 stack unchanged");
}

int guest_main(void)
{
    rt_printf("modes: test guest running in 64-bit mode\n");
    check_modes();
    check_sse();
    check_state_across_exits();
    return rt_result("modes");
}
