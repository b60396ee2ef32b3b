/* Vector registers in the hypervisor: see kernel/simd.h.
 *
 * The state is the guest's (or, before a guest runs, the firmware's), so
 * simd_begin() saves it and simd_end() restores it exactly: XCR0 by
 * XGETBV/XSETBV, SSE (XMM0-15, MXCSR) and AVX (the upper halves of
 * YMM0-15) by XSAVE64/XRSTOR64 with the requested-feature mask SSE|AVX.
 * x87 state is left alone: the AVX2 code does not touch it (no x87
 * instructions), so it stays the guest's without being copied.
 *
 * Interrupts need nothing more: the hypervisor's interrupt and exception
 * handlers are built -mgeneral-regs-only like the rest of it and never
 * touch a vector register or XCR0, so one arriving between simd_begin()
 * and simd_end() neither sees nor disturbs this state. A nested pair
 * (with its own struct simd_state) would save and restore the outer
 * one's registers the same way. */
#include "simd.h"
#include "cpu.h"
#include "log.h"
#include <string.h>

#define XCR0_X87 1ull
#define XCR0_SSE 2ull
#define XCR0_AVX 4ull
#define XCR0_WANT (XCR0_X87 | XCR0_SSE | XCR0_AVX)
#define XSAVE_MASK (XCR0_SSE | XCR0_AVX) /* what the vector code changes */
#define XSAVE_HEADER 512                 /* the XSAVE header: 64 bytes */
#define CR0_TS (1ull << 3)
#define CR4_OSXSAVE (1ull << 18)

static bool usable;

void simd_init(void)
{
    uint32_t max, a, b, c, d;
    cpuid(0, 0, &max, &b, &c, &d);
    if (max < 0xd) {
        log_info("simd", "no CPUID leaf 0xD: vector code off");
        return;
    }
    cpuid(1, 0, &a, &b, &c, &d);
    bool xsave = c & (1u << 26), avx = c & (1u << 28);
    if (!xsave) {
        log_info("simd", "no XSAVE: vector code off");
        return;
    }
    /* XSAVE/XRSTOR/XGETBV/XSETBV and AVX instructions raise #UD without
     * CR4.OSXSAVE (SDM Vol. 2, their exception lists). vmm/vmx.c sets it
     * as well, for the guest's XSETBV: the same bit, set once more. */
    write_cr4(read_cr4() | CR4_OSXSAVE);
    cpuid(7, 0, &a, &b, &c, &d);
    bool avx2 = b & (1u << 5);
    cpuid(0xd, 0, &a, &b, &c, &d);
    bool xcr0_ok = (a & XCR0_WANT) == XCR0_WANT; /* XCR0 bits the CPU supports */
    cpuid(0xd, 2, &a, &b, &c, &d);
    uint32_t need = b + a; /* AVX state's offset and size: the area's end */
    if (!avx || !avx2 || !xcr0_ok) {
        log_info("simd", "no AVX2 (AVX %d, AVX2 %d, XCR0 x87|SSE|AVX %d): vector code off", avx, avx2, xcr0_ok);
        return;
    }
    if (need > SIMD_AREA || need < XSAVE_HEADER + 64) {
        log_warn("simd", "XSAVE area for AVX state ends at %u bytes (have %u): vector code off", need, SIMD_AREA);
        return;
    }
    /* CR0.TS makes XSAVE and AVX instructions raise #NM; the kernel never
     * sets it, but a firmware might have. */
    if (read_cr0() & CR0_TS) {
        log_warn("simd", "CR0.TS set: vector code off");
        return;
    }
    usable = true;
    log_info("simd", "AVX2 for Poly1305, the guest's SSE/AVX state and XCR0 saved around it (XSAVE area %u bytes)",
             need);
}

bool simd_usable(void) { return usable; }

bool simd_begin(struct simd_state *s)
{
    if (!usable)
        return false;
    uint64_t x = xgetbv0();
    /* XCR0 only ever holds x87|SSE|AVX bits here (the CPU models offer no
     * more, vmm/cpuid.c); anything else enabled (AVX-512, say, left by the
     * firmware) is state VEX instructions would change and this code does
     * not save: stay scalar. */
    if (x & ~XCR0_WANT)
        return false;
    s->xcr0 = x;
    /* AVX instructions need XCR0[2:1] = 11b, and XSAVE saves only what
     * XCR0 enables. A state component keeps its contents while its XCR0
     * bit is clear (SDM Vol. 1, 13.1 and 13.3), so the guest's SSE and
     * AVX registers are what XSAVE stores even if its XCR0 hid them. */
    if (x != XCR0_WANT)
        xsetbv0(XCR0_WANT);
    /* XSAVE writes only XSTATE_BV's bits for what it saves, and nothing
     * else of the header; XRSTOR faults (#GP) if XCOMP_BV or the reserved
     * bytes are not zero: start from a zeroed header. */
    memset(s->area + XSAVE_HEADER, 0, 64);
    __asm__ volatile("xsave64 (%0)" ::"r"(s->area), "a"((uint32_t)XSAVE_MASK), "d"(0u) : "memory");
    return true;
}

void simd_end(struct simd_state *s)
{
    /* Components whose XSTATE_BV bit XSAVE left clear were in their
     * initial state: XRSTOR initialises them, the same values. MXCSR is
     * loaded from the area whenever SSE or AVX is requested. */
    __asm__ volatile("xrstor64 (%0)" ::"r"(s->area), "a"((uint32_t)XSAVE_MASK), "d"(0u) : "memory");
    if (s->xcr0 != XCR0_WANT)
        xsetbv0(s->xcr0);
}
