/* Fault-safe instructions. An instruction that may fault on purpose is
 * listed in the __extable section with a fixup address; the #GP handler
 * resumes there instead of reporting. Used for MSR probes: hardware raises
 * #GP for an MSR it does not implement (SDM Vol. 4, "RDMSR"). */
#include "trap.h"
#include "cpu.h"

struct extable_entry {
    uint64_t insn, fixup;
};
extern const struct extable_entry __extable_start[], __extable_end[];

int extable_fixup(struct trap_frame *f)
{
    for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
        if (e->insn == f->rip) {
            f->rip = e->fixup;
            return 1;
        }
    }
    return 0;
}

bool rdmsr_safe(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;
    int err = 0;
    __asm__ volatile("1: rdmsr\n"
                     "2:\n"
                     ".pushsection __extable, \"a\"\n"
                     ".quad 1b, 3f\n"
                     ".popsection\n"
                     ".pushsection .text.fixup, \"ax\"\n"
                     "3: movl $1, %2\n"
                     "jmp 2b\n"
                     ".popsection\n"
                     : "=a"(lo), "=d"(hi), "+r"(err)
                     : "c"(msr));
    *val = err ? 0 : ((uint64_t)hi << 32 | lo);
    return !err;
}

bool wrmsr_safe(uint32_t msr, uint64_t val)
{
    int err = 0;
    __asm__ volatile("1: wrmsr\n"
                     "2:\n"
                     ".pushsection __extable, \"a\"\n"
                     ".quad 1b, 3f\n"
                     ".popsection\n"
                     ".pushsection .text.fixup, \"ax\"\n"
                     "3: movl $1, %0\n"
                     "jmp 2b\n"
                     ".popsection\n"
                     : "+r"(err)
                     : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
    return !err;
}
