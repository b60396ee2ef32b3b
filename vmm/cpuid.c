/* The guest's CPU model: a fixed CPUID, identical on every host of a pair
 * (so a backup replays what the primary ran, and live migration moves the
 * guest between different servers). Only instruction-set features the host
 * must execute natively are checked against the host; features ftvisor
 * emulates (APIC, x2APIC, TSC-deadline, MTRR, MCA) are always offered.
 * Hidden: VMX, SMX, the PMU, RDRAND/RDSEED, MONITOR/MWAIT, PCID and
 * everything else not listed. */
#include "cpuid.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include <string.h>

/* CPUID.1:ECX and EDX bits (SDM Vol. 2A, CPUID, Tables 3-10 and 3-11). */
#define C1_SSE3 (1u << 0)
#define C1_PCLMUL (1u << 1)
#define C1_SSSE3 (1u << 9)
#define C1_FMA (1u << 12)
#define C1_CX16 (1u << 13)
#define C1_SSE41 (1u << 19)
#define C1_SSE42 (1u << 20)
#define C1_X2APIC (1u << 21)
#define C1_MOVBE (1u << 22)
#define C1_POPCNT (1u << 23)
#define C1_TSC_DEADLINE (1u << 24)
#define C1_AES (1u << 25)
#define C1_XSAVE (1u << 26)
#define C1_OSXSAVE (1u << 27)
#define C1_AVX (1u << 28)
#define C1_F16C (1u << 29)
#define C1_HYPERVISOR (1u << 31)

#define D1_FPU (1u << 0)
#define D1_VME (1u << 1)
#define D1_DE (1u << 2)
#define D1_PSE (1u << 3)
#define D1_TSC (1u << 4)
#define D1_MSR (1u << 5)
#define D1_PAE (1u << 6)
#define D1_MCE (1u << 7)
#define D1_CX8 (1u << 8)
#define D1_APIC (1u << 9)
#define D1_SEP (1u << 11)
#define D1_MTRR (1u << 12)
#define D1_PGE (1u << 13)
#define D1_MCA (1u << 14)
#define D1_CMOV (1u << 15)
#define D1_PAT (1u << 16)
#define D1_PSE36 (1u << 17)
#define D1_CLFSH (1u << 19)
#define D1_MMX (1u << 23)
#define D1_FXSR (1u << 24)
#define D1_SSE (1u << 25)
#define D1_SSE2 (1u << 26)

/* CPUID.7.0:EBX */
#define B7_BMI1 (1u << 3)
#define B7_AVX2 (1u << 5)
#define B7_SMEP (1u << 7)
#define B7_BMI2 (1u << 8)
#define B7_ERMS (1u << 9)

/* CPUID.80000001h */
#define C81_LAHF (1u << 0)
#define C81_ABM (1u << 5)
#define C81_PREFETCHW (1u << 8)
#define D81_SYSCALL (1u << 11)
#define D81_NX (1u << 20)
#define D81_RDTSCP (1u << 27)
#define D81_LM (1u << 29)

/* CR4 bits (SDM Vol. 3A, 2.5). */
#define CR4_BASE ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | \
                  (1u << 8) | (1u << 9) | (1u << 10))
#define CR4_FSGSBASE (1u << 16)
#define CR4_OSXSAVE (1u << 18)
#define CR4_SMEP (1u << 20)

/* Features the host must have natively (leaf 1 ECX/EDX, leaf 7 EBX,
 * leaf 0x80000001 ECX/EDX). Emulated ones are masked out of the check. */
#define EMULATED_C1 (C1_X2APIC | C1_TSC_DEADLINE | C1_HYPERVISOR | C1_OSXSAVE)
#define EMULATED_D1 (D1_APIC | D1_MTRR | D1_MCE | D1_MCA)

static const struct cpu_model models[] = {
    {
        .name = "x86-64-v2",
        .c1 = C1_SSE3 | C1_PCLMUL | C1_SSSE3 | C1_CX16 | C1_SSE41 | C1_SSE42 | C1_X2APIC | C1_POPCNT |
              C1_TSC_DEADLINE | C1_AES | C1_HYPERVISOR,
        .d1 = D1_FPU | D1_VME | D1_DE | D1_PSE | D1_TSC | D1_MSR | D1_PAE | D1_MCE | D1_CX8 | D1_APIC | D1_SEP |
              D1_MTRR | D1_PGE | D1_MCA | D1_CMOV | D1_PAT | D1_PSE36 | D1_CLFSH | D1_MMX | D1_FXSR | D1_SSE |
              D1_SSE2,
        .b7 = 0,
        .c81 = C81_LAHF,
        .d81 = D81_SYSCALL | D81_NX | D81_RDTSCP | D81_LM,
        .cr4 = CR4_BASE,
        .xcr0 = 0,
    },
    {
        .name = "x86-64-v3",
        .c1 = C1_SSE3 | C1_PCLMUL | C1_SSSE3 | C1_FMA | C1_CX16 | C1_SSE41 | C1_SSE42 | C1_X2APIC | C1_MOVBE |
              C1_POPCNT | C1_TSC_DEADLINE | C1_AES | C1_XSAVE | C1_AVX | C1_F16C | C1_HYPERVISOR,
        .d1 = D1_FPU | D1_VME | D1_DE | D1_PSE | D1_TSC | D1_MSR | D1_PAE | D1_MCE | D1_CX8 | D1_APIC | D1_SEP |
              D1_MTRR | D1_PGE | D1_MCA | D1_CMOV | D1_PAT | D1_PSE36 | D1_CLFSH | D1_MMX | D1_FXSR | D1_SSE |
              D1_SSE2,
        .b7 = B7_BMI1 | B7_AVX2 | B7_SMEP | B7_BMI2 | B7_ERMS,
        .c81 = C81_LAHF | C81_ABM | C81_PREFETCHW,
        .d81 = D81_SYSCALL | D81_NX | D81_RDTSCP | D81_LM,
        .cr4 = CR4_BASE | CR4_OSXSAVE | CR4_SMEP,
        .xcr0 = 0x7, /* x87, SSE, AVX */
    },
};

const struct cpu_model *cpu_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}

static void missing(char *buf, size_t n, size_t *len, const char *what)
{
    *len += (size_t)fmt_snprintf(buf + (*len < n ? *len : n), *len < n ? n - *len : 0, "%s%s", *len ? ", " : "",
                                 what);
}

int cpu_model_check_host(const struct cpu_model *m, char *err, size_t n)
{
    uint32_t a, b, c, d, max, maxext;
    size_t len = 0;
    err[0] = 0;
    cpuid(0, 0, &max, &b, &c, &d);
    cpuid(1, 0, &a, &b, &c, &d);
    uint32_t need_c = m->c1 & ~EMULATED_C1, need_d = m->d1 & ~EMULATED_D1;
    if ((c & need_c) != need_c) {
        char what[40];
        fmt_snprintf(what, sizeof(what), "CPUID.1:ECX bits 0x%x", need_c & ~c);
        missing(err, n, &len, what);
    }
    if ((d & need_d) != need_d) {
        char what[40];
        fmt_snprintf(what, sizeof(what), "CPUID.1:EDX bits 0x%x", need_d & ~d);
        missing(err, n, &len, what);
    }
    cpuid(7, 0, &a, &b, &c, &d);
    if (max < 7)
        b = 0;
    if ((b & m->b7) != m->b7) {
        char what[40];
        fmt_snprintf(what, sizeof(what), "CPUID.7:EBX bits 0x%x", m->b7 & ~b);
        missing(err, n, &len, what);
    }
    cpuid(0x80000000, 0, &maxext, &b, &c, &d);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (maxext < 0x80000001)
        c = d = 0;
    if ((c & m->c81) != m->c81 || (d & m->d81) != m->d81) {
        char what[60];
        fmt_snprintf(what, sizeof(what), "CPUID.80000001h bits ECX 0x%x EDX 0x%x", m->c81 & ~c, m->d81 & ~d);
        missing(err, n, &len, what);
    }
    return len ? -1 : 0;
}

static void str12(uint32_t out[3], const char *s)
{
    char buf[12] = { 0 };
    memcpy(buf, s, strlen(s) < 12 ? strlen(s) : 12);
    memcpy(out, buf, 12);
}

void cpuid_guest(const struct cpu_model *m, uint64_t tsc_hz, uint64_t cr4, uint64_t xcr0, uint32_t leaf,
                 uint32_t sub, uint32_t r[4])
{
    memset(r, 0, 16);
    static const char brand[48] = "ftvisor virtual CPU";
    uint32_t max_basic = 0x16, max_ext = 0x80000008;
    switch (leaf) {
    case 0:
        r[0] = max_basic;
        /* "GenuineIntel" in EBX, EDX, ECX order. */
        r[1] = 0x756e6547;
        r[3] = 0x49656e69;
        r[2] = 0x6c65746e;
        break;
    case 1:
        r[0] = 0x000306c3; /* family 6, model 0x3c, stepping 3 */
        r[1] = 8u << 8 | 1u << 16; /* CLFLUSH 64 bytes, 1 logical CPU, APIC ID 0 */
        r[2] = m->c1 | ((cr4 & CR4_OSXSAVE) && (m->c1 & C1_XSAVE) ? C1_OSXSAVE : 0);
        r[3] = m->d1;
        break;
    case 2:
        r[0] = 1; /* one descriptor byte round, no descriptors */
        break;
    case 6:
        r[0] = 1u << 2; /* ARAT: the APIC timer never stops */
        break;
    case 7:
        if (sub == 0)
            r[1] = m->b7;
        break;
    case 0xb: /* x2APIC topology: one thread, one core */
        r[2] = sub;
        if (sub == 0) {
            r[1] = 1;
            r[2] |= 1u << 8;
        } else if (sub == 1) {
            r[1] = 1;
            r[2] |= 2u << 8;
        }
        break;
    case 0xd: /* XSAVE: x87 + SSE (+ AVX) in the standard format */
        if (!(m->c1 & C1_XSAVE))
            break;
        if (sub == 0) {
            /* EBX: the save area for what XCR0 enables now; ECX: for
             * everything the model supports (SDM Vol. 2A, CPUID leaf 0DH). */
            r[0] = m->xcr0;
            r[1] = 576 + ((xcr0 & 4) ? 256 : 0);
            r[2] = 576 + ((m->xcr0 & 4) ? 256 : 0);
        } else if (sub == 2 && (m->xcr0 & 4)) {
            r[0] = 256;
            r[1] = 576;
        }
        break;
    case 0x15: /* TSC = crystal * EBX / EAX; the crystal also clocks the
                * APIC timer, so the guest needs no calibration. */
        r[0] = 1;
        r[1] = 1;
        r[2] = (uint32_t)tsc_hz;
        break;
    case 0x16:
        r[0] = (uint32_t)(tsc_hz / 1000000);
        r[1] = r[0];
        r[2] = 100;
        break;
    case 0x40000000:
        r[0] = 0x40000000;
        str12(&r[1], "ftvisor");
        break;
    case 0x80000000:
        r[0] = max_ext;
        break;
    case 0x80000001:
        r[2] = m->c81;
        r[3] = m->d81;
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004:
        memcpy(r, brand + 16 * (leaf - 0x80000002), 16);
        break;
    case 0x80000007:
        r[3] = 1u << 8; /* invariant TSC: virtual time never stops */
        break;
    case 0x80000008:
        r[0] = 39 | 48u << 8; /* physical and linear address bits */
        break;
    default:
        /* Leaves above the maximum return the highest basic leaf's data on
         * Intel; within range but unlisted, zeros. */
        if ((leaf > max_basic && leaf < 0x40000000) || (leaf > max_ext))
            cpuid_guest(m, tsc_hz, cr4, xcr0, max_basic, sub, r);
        break;
    }
}
