/* Vector registers in the hypervisor, for a stretch of code at a time.
 *
 * Between VM exits the CPU holds the guest's x87/SSE/AVX registers and
 * the guest's XCR0 (VMX switches neither; vmm/exit_cr.c loads the guest's
 * XCR0 on its XSETBV), and the hypervisor is built -mgeneral-regs-only so
 * it never touches them. Code that wants AVX2 (kernel/poly1305_avx2.c, the
 * only such file) runs between simd_begin() and simd_end(), which set
 * XCR0 to x87|SSE|AVX, save the SSE and AVX state with XSAVE and give
 * both back with XRSTOR and XSETBV (Intel SDM Vol. 1, chapter 13,
 * "Managing State Using the XSAVE Feature Set"; Vol. 2, XSAVE, XRSTOR,
 * XSETBV, XGETBV).
 *
 *   struct simd_state s;
 *   if (simd_begin(&s)) {
 *       ...AVX2 code...
 *       simd_end(&s);
 *   } else {
 *       ...scalar code...
 *   }
 *
 * The kernel's implementation is kernel/simd.c; host builds (unit tests,
 * benchmarks, tools) link kernel/simd_host.c instead, where the OS owns
 * the vector state and simd_begin() only asks whether the CPU has AVX2. */
#ifndef KERNEL_SIMD_H
#define KERNEL_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* XSAVE's standard-format area for x87, SSE and AVX: 832 bytes on every
 * CPU so far (CPUID.(EAX=0DH,ECX=2): AVX at offset 576, 256 bytes);
 * simd_init() checks the CPU's figures against this size. */
#define SIMD_AREA 1024

struct simd_state {
    uint8_t area[SIMD_AREA] __attribute__((aligned(64))); /* XSAVE needs 64 */
    uint64_t xcr0;                                         /* the guest's */
};

/* Once at boot, before anything calls simd_begin(): decides whether AVX2
 * may be used (CPUID, CR0, CR4; sets CR4.OSXSAVE when the CPU has XSAVE). */
void simd_init(void);
/* What simd_init() decided. */
bool simd_usable(void);
/* true: the vector registers are the caller's until simd_end(s); false:
 * no AVX2 (or state this code does not manage is live): use scalar code. */
bool simd_begin(struct simd_state *s);
void simd_end(struct simd_state *s);

/* Host builds only (kernel/simd_host.c): tests and benchmarks turn the
 * vector code off to compare it with the scalar code, and count how often
 * simd_begin() said yes. */
void simd_host_allow(bool on);
unsigned long simd_host_uses(void);

#endif
