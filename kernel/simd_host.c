/* kernel/simd.h for host builds (unit tests, fuzzers, benchmarks, tools):
 * in a user process the OS owns XCR0 and switches the vector registers,
 * so simd_begin() only asks whether the CPU and OS allow AVX2 (GCC's and
 * clang's __builtin_cpu_supports() include the OS's XCR0). Not part of the
 * kernel (the Makefile leaves it out). */
#include "simd.h"

static bool allowed = true;
static unsigned long uses;

void simd_init(void) {}

bool simd_usable(void) { return __builtin_cpu_supports("avx2"); }

bool simd_begin(struct simd_state *s)
{
    (void)s;
    if (!allowed || !__builtin_cpu_supports("avx2"))
        return false;
    uses++;
    return true;
}

void simd_end(struct simd_state *s) { (void)s; }

void simd_host_allow(bool on) { allowed = on; }

unsigned long simd_host_uses(void) { return uses; }
