/* The guest CPU model (vmm/cpuid.c). */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <stdint.h>
#include <stddef.h>

struct cpu_model {
    const char *name;
    uint32_t c1, d1, b7, c81, d81; /* feature words offered */
    uint32_t cr4;                  /* CR4 bits the guest may set */
    uint64_t xcr0;                 /* XCR0 bits the guest may set (0: no XSAVE) */
};

const struct cpu_model *cpu_model_find(const char *name);
/* Does this host run the model's instructions natively? 0, or -1 with the
 * missing features in err. */
int cpu_model_check_host(const struct cpu_model *m, char *err, size_t n);
/* The guest's CPUID for (leaf, subleaf). cr4 is the guest's CR4 as it sees
 * it (OSXSAVE is reflected in leaf 1). */
void cpuid_guest(const struct cpu_model *m, uint64_t tsc_hz, uint64_t cr4, uint64_t xcr0, uint32_t leaf,
                 uint32_t sub, uint32_t r[4]);

#endif
