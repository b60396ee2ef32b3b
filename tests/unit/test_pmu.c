/* ft/pmu.c: the PMU landmark backend's detection, programming values,
 * arming arithmetic and replay approach (no PMU here: a simulated guest
 * instruction trace and counter stand in for the hardware). */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../ft/pmu.h"
#include "../../vmm/vmcs.h"

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t mask(unsigned w) { return w >= 64 ? ~0ull : (1ull << w) - 1; }

/* CPUID.01H:EAX for family 6, DisplayModel m. */
static uint32_t sig6(unsigned m, unsigned stepping)
{
    return (uint32_t)((m >> 4) << 16 | 6u << 8 | (m & 0xf) << 4 | stepping);
}

/* A Skylake desktop with PMU version 4, 4 counters of 48 bits, 7
 * architectural events all available, full-width writes and SMM freeze. */
static struct pmu_cpuid good_cpu(void)
{
    struct pmu_cpuid c;
    memset(&c, 0, sizeof(c));
    c.max_leaf = 0x16;
    memcpy(c.vendor, "GenuineIntel", 12);
    c.leaf1_eax = sig6(0x5e, 3);
    c.leaf1_ecx = 1u << 15; /* PDCM */
    c.leaf0a_eax = 4u | 4u << 8 | 48u << 16 | 7u << 24;
    c.leaf0a_ebx = 0;
    c.leaf0a_edx = 3u | 48u << 5;
    c.perf_caps_valid = true;
    c.perf_caps = PMU_PERFCAP_FW_WRITE | PMU_PERFCAP_SMM_FREEZE | 0x5;
    return c;
}

static char why[512];
static struct pmu_caps caps;

static int probe(const struct pmu_cpuid *c)
{
    memset(why, 'X', sizeof(why));
    return pmu_probe(c, &caps, why, sizeof(why));
}

/* Reasons are long: compare here, print a bounded part on failure. */
#define CHECK_WHY(exp)                                                   \
    do {                                                                 \
        if (strcmp(why, (exp)) != 0)                                     \
            TEST_FAIL("why is \"%.300s\"", why);                         \
    } while (0)
#define CHECK_HAS(s, sub)                                                \
    do {                                                                 \
        if (!strstr((s), (sub)))                                         \
            TEST_FAIL("\"%.300s\" lacks \"%.100s\"", (s), (sub));          \
    } while (0)

/* ---- 1. detection ------------------------------------------------------------ */

TEST(probe_accepts_skylake)
{
    struct pmu_cpuid c = good_cpu();
    CHECK_EQ(probe(&c), 0);
    CHECK_WHY("");
    CHECK_EQ(caps.version, 4);
    CHECK_EQ(caps.counters, 4);
    CHECK_EQ(caps.width, 48);
    CHECK_EQ(caps.fixed_counters, 3);
    CHECK_EQ(caps.fixed_width, 48);
    CHECK_EQ(caps.family, 6);
    CHECK_EQ(caps.model, 0x5e);
    CHECK_EQ(caps.stepping, 3);
    CHECK(caps.uarch && strstr(caps.uarch, "Skylake"));
    CHECK(caps.full_width_write);
    CHECK(caps.smm_freeze);
    CHECK(caps.status_reset);
    CHECK_EQ(caps.pmc_msr, 0x4c1);
    CHECK_EQ(caps.counter_mask, 0xffffffffffffull);
}

TEST(probe_accepts_every_listed_model)
{
    static const unsigned models[] = { 0x2a, 0x2d, 0x3a, 0x3e, 0x3c, 0x3f, 0x45, 0x46, 0x3d, 0x47,
                                       0x4f, 0x56, 0x4e, 0x5e, 0x55, 0x8e, 0x9e, 0xa5, 0xa6 };
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        struct pmu_cpuid c = good_cpu();
        c.leaf1_eax = sig6(models[i], 1);
        if (probe(&c) != 0)
            TEST_FAIL("model 0x%x refused: %.300s", models[i], why);
        CHECK_EQ(caps.model, models[i]);
        CHECK(caps.uarch != NULL);
    }
}

TEST(probe_decodes_extended_model)
{
    /* Comet Lake, CPUID.01H:EAX 0x000A0655: model 5 + extended model 0xA. */
    struct pmu_cpuid c = good_cpu();
    c.leaf1_eax = 0x000a0655;
    CHECK_EQ(probe(&c), 0);
    CHECK_EQ(caps.model, 0xa5);
    CHECK_EQ(caps.stepping, 5);
    CHECK_STR(caps.uarch, "Comet Lake");
}

TEST(probe_version2_no_perf_caps_uses_legacy_write)
{
    /* Sandy Bridge-era values: version 3, 8 counters... of 48 bits; the
     * caller could not read IA32_PERF_CAPABILITIES. */
    struct pmu_cpuid c = good_cpu();
    c.leaf1_eax = sig6(0x2a, 7);
    c.leaf0a_eax = 3u | 8u << 8 | 48u << 16 | 7u << 24;
    c.perf_caps_valid = false;
    CHECK_EQ(probe(&c), 0);
    CHECK(!caps.full_width_write);
    CHECK(!caps.smm_freeze);
    CHECK(!caps.status_reset);
    CHECK_EQ(caps.pmc_msr, 0xc1);

    /* Readable, but FW_WRITE clear. */
    c.perf_caps_valid = true;
    c.perf_caps = PMU_PERFCAP_SMM_FREEZE;
    CHECK_EQ(probe(&c), 0);
    CHECK(!caps.full_width_write);
    CHECK(caps.smm_freeze);
    CHECK_EQ(caps.pmc_msr, 0xc1);

    /* "Readable" without PDCM is not believed. */
    c.perf_caps = PMU_PERFCAP_FW_WRITE;
    c.leaf1_ecx = 0;
    CHECK_EQ(probe(&c), 0);
    CHECK(!caps.full_width_write);
}

TEST(probe_refuses_amd)
{
    struct pmu_cpuid c = good_cpu();
    memcpy(c.vendor, "AuthenticAMD", 12);
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPU vendor \"AuthenticAMD\" is not GenuineIntel: the PMU backend counts Intel's "
                   "BR_INST_RETIRED.CONDITIONAL event");
}

TEST(probe_refuses_unprintable_vendor)
{
    struct pmu_cpuid c = good_cpu();
    memcpy(c.vendor, "Genuine\001\377tel", 12);
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "\"Genuine??tel\"");
}

TEST(probe_refuses_no_leaf_0a)
{
    struct pmu_cpuid c = good_cpu();
    c.max_leaf = 5;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID maximum basic leaf is 0x5: no leaf 0xA, no architectural performance monitoring");
}

TEST(probe_refuses_version_0)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf0a_eax = 0;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID leaf 0xA reports PMU version 0: no architectural performance monitoring");
}

TEST(probe_refuses_version_1)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf0a_eax = 1u | 2u << 8 | 40u << 16 | 7u << 24;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID leaf 0xA reports PMU version 1: version 2 or later is needed for "
                   "IA32_PERF_GLOBAL_CTRL, which VM entry and exit load to count in the guest only");
    CHECK_EQ(caps.version, 1);
    CHECK_EQ(caps.fixed_counters, 0); /* EDX is meaningful from version 2 */
}

TEST(probe_refuses_no_counters)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf0a_eax = 2u | 0u << 8 | 48u << 16 | 7u << 24;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID leaf 0xA reports no general-purpose counters");
}

TEST(probe_refuses_bad_width)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf0a_eax = 2u | 4u << 8 | 0u << 16 | 7u << 24;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID leaf 0xA reports 0-bit counters: 32 to 64 bits are needed");
    c.leaf0a_eax = 2u | 4u << 8 | 31u << 16 | 7u << 24;
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "31-bit counters");
    c.leaf0a_eax = 2u | 4u << 8 | 65u << 16 | 7u << 24;
    CHECK_EQ(probe(&c), -1);
    c.leaf0a_eax = 2u | 4u << 8 | 32u << 16 | 7u << 24;
    CHECK_EQ(probe(&c), 0);
    CHECK_EQ(caps.counter_mask, 0xffffffffull);
}

TEST(probe_refuses_branch_event_unavailable)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf0a_ebx = 1u << 5;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID leaf 0xA EBX bit 5 is set: the branch instructions retired event is not available");
    /* Other events' bits do not matter. */
    c.leaf0a_ebx = 0x5f & ~(1u << 5);
    CHECK_EQ(probe(&c), 0);
    /* A vector of 5 events does not cover bit 5. */
    c.leaf0a_ebx = 0;
    c.leaf0a_eax = 2u | 4u << 8 | 48u << 16 | 5u << 24;
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPUID leaf 0xA enumerates only 5 architectural events: branch instructions retired "
                   "(EBX bit 5) is not among them");
}

TEST(probe_refuses_other_family)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf1_eax = 0x00000f29; /* family 0xF model 2 */
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "CPU family 15 is not family 6");
    /* Extended family adds for family 0xF: 0xF + 0x4 = 19. */
    c.leaf1_eax = 0x00400f00;
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "CPU family 19 is not family 6");
}

TEST(probe_refuses_unknown_model)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf1_eax = sig6(0x99, 0);
    CHECK_EQ(probe(&c), -1);
    CHECK_WHY("CPU family 6 model 0x99 is not a known Sandy Bridge to Comet Lake core: "
                   "BR_INST_RETIRED.CONDITIONAL (event 0xC4 umask 0x01) is not validated there");
    CHECK(caps.uarch == NULL);
}

TEST(probe_refuses_ice_lake_and_later)
{
    static const unsigned models[] = { 0x7e, 0x6a, 0x8c, 0x8f, 0x97, 0xb7, 0xa7 };
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        struct pmu_cpuid c = good_cpu();
        c.leaf1_eax = sig6(models[i], 0);
        CHECK_EQ(probe(&c), -1);
        CHECK_HAS(why, "umask 0x11");
    }
    struct pmu_cpuid c = good_cpu();
    c.leaf1_eax = sig6(0x7e, 5);
    probe(&c);
    CHECK_HAS(why, "CPU family 6 model 0x7e (Ice Lake (mobile)) is newer than Comet Lake");
}

TEST(probe_refuses_older_and_atom)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf1_eax = sig6(0x1a, 5);
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "model 0x1a (Nehalem-EP) predates Sandy Bridge");
    c.leaf1_eax = sig6(0x5c, 9);
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "model 0x5c (Atom (Goldmont)) is an Atom-family core");
    c.leaf1_eax = sig6(0x57, 1);
    CHECK_EQ(probe(&c), -1);
    CHECK_HAS(why, "Knights Landing");
}

TEST(probe_why_truncates_and_tolerates_null)
{
    struct pmu_cpuid c = good_cpu();
    c.leaf0a_eax = 0;
    char small[16];
    memset(small, 'X', sizeof(small));
    CHECK_EQ(pmu_probe(&c, &caps, small, sizeof(small)), -1);
    CHECK_EQ(strlen(small), 15);
    CHECK_STR(small, "CPUID leaf 0xA ");
    CHECK_EQ(pmu_probe(&c, &caps, NULL, 0), -1);
    char one[1] = { 'X' };
    CHECK_EQ(pmu_probe(&c, &caps, one, 1), -1);
    CHECK_EQ(one[0], 0);
    c = good_cpu();
    memset(small, 'X', sizeof(small));
    CHECK_EQ(pmu_probe(&c, &caps, small, sizeof(small)), 0);
    CHECK_STR(small, "");
}

/* ---- 2. programming ------------------------------------------------------------ */

TEST(evtsel_bits_exactly)
{
    uint64_t e = pmu_evtsel();
    CHECK_EQ(e, 0x5301c4);
    CHECK_EQ(e & 0xff, 0xc4);        /* event select */
    CHECK_EQ((e >> 8) & 0xff, 0x01); /* umask: CONDITIONAL */
    CHECK_EQ((e >> 16) & 1, 1);      /* USR */
    CHECK_EQ((e >> 17) & 1, 1);      /* OS */
    CHECK_EQ((e >> 18) & 1, 0);      /* edge detect */
    CHECK_EQ((e >> 19) & 1, 0);      /* pin control */
    CHECK_EQ((e >> 20) & 1, 1);      /* INT: PMI on overflow */
    CHECK_EQ((e >> 21) & 1, 0);      /* AnyThread */
    CHECK_EQ((e >> 22) & 1, 1);      /* EN */
    CHECK_EQ((e >> 23) & 1, 0);      /* INV */
    CHECK_EQ((e >> 24) & 0xff, 0);   /* CMASK */
    CHECK_EQ(e >> 32, 0);            /* IN_TX, IN_TXCP, reserved */
}

TEST(vmx_plan_fields_and_bits)
{
    struct pmu_cpuid c = good_cpu();
    CHECK_EQ(probe(&c), 0);
    struct pmu_vmx_plan p;
    pmu_vmx_plan(&caps, &p);
    CHECK_EQ(p.entry_set, 1u << 13);
    CHECK_EQ(p.exit_set, 1u << 12);
    CHECK_EQ(p.pin_set, 1u << 3);
    CHECK_EQ(p.proc_set, 1u << 11);
    CHECK_EQ(p.guest_global_ctrl_field, 0x2808);
    CHECK_EQ(p.host_global_ctrl_field, 0x2c04);
    CHECK_EQ(p.guest_global_ctrl, 1);
    CHECK_EQ(p.host_global_ctrl, 0);
    CHECK_EQ(p.evtsel_msr, 0x186);
    CHECK_EQ(p.evtsel, 0x5301c4);
    CHECK_EQ(p.pmc_msr, 0x4c1);
    CHECK_EQ(p.global_status_msr, 0x38e);
    CHECK_EQ(p.ovf_clear_msr, 0x390);
    CHECK_EQ(p.ovf_clear, 1);
    CHECK_EQ(p.lvt_offset, 0x340);
    CHECK_EQ(p.lvt_msr, 0x834);
    CHECK_EQ(p.lvt_value, 0x400); /* NMI delivery mode, not masked */
    CHECK_EQ(p.lvt_masked, 0x10000);
    CHECK_EQ(p.lvt_value & p.lvt_masked, 0);
    CHECK_EQ(p.guest_debugctl_set, 1u << 14);
    CHECK_EQ(p.guest_debugctl_clear, 1u << 12);
    CHECK_EQ(PMU_MSR_PERF_GLOBAL_CTRL, 0x38f);
    CHECK_EQ(PMU_MSR_PERF_CAPABILITIES, 0x345);

    /* The same bits as the VMM's own definitions. */
    CHECK_EQ(p.entry_set, ENTRY_LOAD_PERF_GLOBAL);
    CHECK_EQ(p.exit_set, EXIT_LOAD_PERF_GLOBAL);
    CHECK_EQ(p.pin_set, PIN_NMI_EXIT);
    CHECK_EQ(p.proc_set, PROC_RDPMC_EXIT);

    /* Legacy write path, no SMM freeze. */
    c.perf_caps_valid = false;
    CHECK_EQ(probe(&c), 0);
    pmu_vmx_plan(&caps, &p);
    CHECK_EQ(p.pmc_msr, 0xc1);
    CHECK_EQ(p.guest_debugctl_set, 0);
}

TEST(vmx_check_allowed_settings)
{
    struct pmu_cpuid c = good_cpu();
    CHECK_EQ(probe(&c), 0);
    struct pmu_vmx_plan p;
    pmu_vmx_plan(&caps, &p);
    uint64_t all = 0xffffffffull << 32;
    CHECK_EQ(pmu_vmx_check(&p, all, all, all, all, why, sizeof(why)), 0);
    CHECK_WHY("");
    uint64_t no_entry = all & ~(1ull << (32 + 13));
    CHECK_EQ(pmu_vmx_check(&p, all, all, all, no_entry, why, sizeof(why)), -1);
    CHECK_WHY("this CPU's VMX does not allow the VM-entry control \"load IA32_PERF_GLOBAL_CTRL\" (bit 13), "
                   "which the PMU backend needs");
    uint64_t no_exit = all & ~(1ull << (32 + 12));
    CHECK_EQ(pmu_vmx_check(&p, all, all, no_exit, all, why, sizeof(why)), -1);
    CHECK_HAS(why, "VM-exit control \"load IA32_PERF_GLOBAL_CTRL\" (bit 12)");
    uint64_t no_nmi = all & ~(1ull << (32 + 3));
    CHECK_EQ(pmu_vmx_check(&p, no_nmi, all, all, all, why, sizeof(why)), -1);
    CHECK_HAS(why, "\"NMI exiting\"");
    uint64_t no_rdpmc = all & ~(1ull << (32 + 11));
    CHECK_EQ(pmu_vmx_check(&p, all, no_rdpmc, all, all, why, sizeof(why)), -1);
    CHECK_HAS(why, "\"RDPMC exiting\"");
    /* The low halves (allowed 0-settings) do not matter. */
    CHECK_EQ(pmu_vmx_check(&p, all | 0xffffffff, all, all, all, NULL, 0), 0);
}

/* ---- 3. arming and accounting ----------------------------------------------------- */

TEST(preset_width_48_40_32)
{
    bool armed = false;
    CHECK_EQ(pmu_counter_preset(1000, 100, 48, &armed), 0xfffffffffc7cull); /* 2^48 - 900 */
    CHECK(armed);
    armed = false;
    CHECK_EQ(pmu_counter_preset(1000, 100, 40, &armed), 0xfffffffc7cull);
    CHECK(armed);
    armed = false;
    CHECK_EQ(pmu_counter_preset(1000, 100, 32, &armed), 0xfffffc7cull);
    CHECK(armed);
    /* One event before the skid point: all ones, overflows on the first. */
    CHECK_EQ(pmu_counter_preset(101, 100, 48, &armed), 0xffffffffffffull);
    CHECK(armed);
    CHECK_EQ(pmu_counter_preset(1, 0, 40, &armed), 0xffffffffffull);
    CHECK(armed);
}

TEST(preset_within_skid_is_not_armed)
{
    bool armed = true;
    CHECK_EQ(pmu_counter_preset(100, 100, 48, &armed), 0);
    CHECK(!armed);
    armed = true;
    CHECK_EQ(pmu_counter_preset(5, 100, 48, &armed), 0);
    CHECK(!armed);
    armed = true;
    CHECK_EQ(pmu_counter_preset(0, 0, 48, &armed), 0);
    CHECK(!armed);
}

TEST(preset_caps_period_at_2_31)
{
    bool armed;
    CHECK_EQ(pmu_counter_preset(1ull << 40, 100, 48, &armed), 0xffff80000000ull);
    CHECK(armed);
    CHECK_EQ(pmu_counter_preset(~0ull, 0, 40, &armed), 0xff80000000ull);
    CHECK_EQ(pmu_counter_preset(~0ull, 0, 32, &armed), 0x80000000ull);
    CHECK_EQ(pmu_counter_preset((1ull << 31) + 100, 100, 48, &armed), 0xffff80000000ull);
    CHECK_EQ(pmu_counter_preset((1ull << 31) + 101, 100, 48, &armed), 0xffff80000000ull);
    CHECK_EQ(pmu_counter_preset((1ull << 31) + 99, 100, 48, &armed), 0xffff80000001ull);
}

TEST(preset_legacy_write_agrees_with_full_width)
{
    /* Writing the low 32 bits to IA32_PMC0 sign-extends bit 31: the
     * counter must then hold exactly the full-width preset. */
    static const unsigned widths[] = { 32, 40, 48 };
    for (size_t w = 0; w < 3; w++)
        for (int i = 0; i < 20000; i++) {
            uint64_t remaining = i < 100 ? (uint64_t)i * 977 : (i < 200 ? (1ull << 31) - 100 + (uint64_t)i : rnd() >> (rnd() & 63));
            uint32_t skid = (uint32_t)(rnd() % 300);
            bool armed;
            uint64_t p = pmu_counter_preset(remaining, skid, widths[w], &armed);
            if (!armed)
                continue;
            uint64_t sext = (uint64_t)(int64_t)(int32_t)(uint32_t)p & mask(widths[w]);
            if (sext != p)
                TEST_FAIL("width %u remaining %llu skid %u: preset 0x%llx, legacy write gives 0x%llx", widths[w],
                          (unsigned long long)remaining, skid, (unsigned long long)p, (unsigned long long)sext);
            /* It overflows after exactly min(remaining - skid, 2^31) events. */
            uint64_t period = remaining - skid < (1ull << 31) ? remaining - skid : (1ull << 31);
            CHECK_EQ((p + period) & mask(widths[w]), 0);
        }
}

TEST(counted_handles_wrap)
{
    CHECK_EQ(pmu_counted(100, 150, 48), 50);
    CHECK_EQ(pmu_counted(0xfffffffffff6ull, 5, 48), 15);          /* 10 to the wrap, 5 after */
    CHECK_EQ(pmu_counted(0xfffffffff0ull, 0x10, 40), 0x20);
    CHECK_EQ(pmu_counted(0xfffffff0ull, 0x10, 32), 0x20);
    CHECK_EQ(pmu_counted(0xfffffc7cull, 0xfffffc7cull, 48), 0);
    CHECK_EQ(pmu_counted(0xffffffffffffull, 0, 48), 1);
    /* A preset, then period + skid events. */
    bool armed;
    uint64_t p = pmu_counter_preset(5000, 100, 40, &armed);
    uint64_t now = (p + 4900 + 37) & mask(40);
    CHECK_EQ(pmu_counted(p, now, 40), 4937);
    CHECK_EQ(pmu_counted(p, now, 48), ((now - p) & mask(48))); /* a width mismatch is the caller's bug */
}

TEST(account_accumulates)
{
    struct pmu_progress pr = { 0 };
    CHECK_EQ(pmu_account(&pr, 0xfffffffffff0ull, 0x10, 48), 0x20);
    CHECK_EQ(pmu_account(&pr, 7, 7, 48), 0);
    CHECK_EQ(pmu_account(&pr, 0xff80000000ull, 0xff80000100ull, 40), 0x100);
    CHECK_EQ(pr.branches, 0x120);
}

TEST(long_distance_arms_in_steps)
{
    /* 5e9 branches away: three full periods of 2^31 (each PMI exit an
     * intermediate stop), then a short one, never past the target. */
    uint64_t target = 5000000000ull, count = 0;
    uint32_t skid = 100, hw_skid = 7;
    int arms = 0;
    for (;;) {
        enum pmu_step s = pmu_next_step(count, target, skid, 0, 1, 0, 0, 0, 0, 0, 10);
        if (s != PMU_ARM_COUNTER) {
            CHECK_EQ(s, PMU_SINGLE_STEP);
            break;
        }
        bool armed;
        uint64_t p = pmu_counter_preset(target - count, skid, 48, &armed);
        CHECK(armed);
        uint64_t period = (0 - p) & mask(48);
        uint64_t now = (p + period + hw_skid) & mask(48); /* overflow, then the skid */
        count += pmu_counted(p, now, 48);
        arms++;
        if (arms > 10)
            break;
    }
    CHECK_EQ(arms, 3);
    CHECK(count < target && target - count <= skid);
}

/* ---- 4. the replay approach over a simulated guest ---------------------------------- */

/* One instruction boundary of the guest: the state before executing insn
 * i (RIP, RCX, register CRC) and whether insn i is a conditional branch. */
struct insn {
    uint64_t rip, rcx;
    uint32_t crc;
    bool cond;
};
static struct insn T[4096];
static size_t TN;
static uint64_t g_rax, g_rcx;

static uint32_t regs_crc(uint64_t rax, uint64_t rcx)
{
    uint64_t z = rax * 0x9e3779b97f4a7c15ull ^ rcx * 0xbf58476d1ce4e5b9ull;
    z ^= z >> 31;
    z *= 0x94d049bb133111ebull;
    return (uint32_t)(z ^ z >> 29);
}

static void emit(uint64_t rip, bool cond)
{
    T[TN++] = (struct insn){ rip, g_rcx, regs_crc(g_rax, g_rcx), cond };
    g_rax++; /* every instruction changes some register (RSI/RDI in a REP) */
}

/* A loop body with straight-line runs, REP MOVSB (one boundary per
 * iteration, same RIP, RCX counting down), a spin through an unconditional
 * jump (same RIP and RCX, only other registers differ), runs of dense
 * conditional branches, and the loop's own conditional branch. */
static void build_trace(void)
{
    if (TN)
        return;
    for (unsigned it = 0; it < 48; it++) {
        for (unsigned j = 0; j <= it % 5; j++)
            emit(0x1000 + 3 * j, false);
        emit(0x1100, false); /* mov ecx, n */
        g_rcx = (it * 7) % 13;
        while (g_rcx) {
            emit(0x1200, false); /* rep movsb: one iteration */
            g_rcx--;
        }
        emit(0x1202, false); /* rep movsb with RCX = 0: falls through */
        if (it % 4 == 0)
            for (unsigned k = 0; k < 3; k++) {
                emit(0x1300, false); /* inc rax */
                emit(0x1303, false); /* jmp 0x1300 (unconditional) */
            }
        if (it % 3 == 0)
            for (unsigned k = 0; k < 6; k++)
                emit(0x1400 + 2 * k, true); /* jcc not taken */
        emit(0x1500, true); /* jnz loop */
    }
    emit(0x1600, false); /* hlt */
}

/* Branches before boundary i. */
static uint64_t branches_before(size_t i)
{
    uint64_t n = 0;
    for (size_t k = 0; k < i; k++)
        n += T[k].cond;
    return n;
}

/* The simulated CPU: counter 0 counts conditional branches at `width`
 * bits; after an overflow, `skid` more instructions retire before the NMI
 * VM exit. */
struct cpu {
    size_t pos;
    unsigned width;
    uint64_t counter, branches;
    unsigned skid_max;
    bool skid_random;
};

static bool exec1(struct cpu *c)
{
    const struct insn *i = &T[c->pos++];
    if (!i->cond)
        return false;
    c->branches++;
    c->counter = (c->counter + 1) & mask(c->width);
    return c->counter == 0;
}

static void run_armed(struct cpu *c, uint64_t preset)
{
    c->counter = preset;
    while (c->pos < TN - 1)
        if (exec1(c)) {
            unsigned s = c->skid_random ? (unsigned)(rnd() % (c->skid_max + 1)) : c->skid_max;
            for (unsigned k = 0; k < s && c->pos < TN - 1; k++)
                exec1(c);
            return;
        }
}

struct stats {
    unsigned arms, steps;
    bool last_was_step;
};

enum { R_OVERSHOT = -1, R_DIVERGED = -2, R_LOST = -3 };

/* Replays from the start to the landmark of boundary `target` (with its
 * CRC xor-ed with crc_flip), driving the CPU as pmu_next_step says.
 * Returns the boundary it stopped at, or R_*. */
static long replay_to(size_t target, uint32_t skid, unsigned width, unsigned hw_skid, bool hw_random,
                      uint32_t max_steps, uint32_t crc_flip, struct stats *st)
{
    const struct insn *tg = &T[target];
    uint64_t tcount = branches_before(target);
    struct cpu c = { .width = width, .skid_max = hw_skid, .skid_random = hw_random };
    struct pmu_progress pr = { 0 };
    uint32_t steps = 0;
    uint64_t last = 0;
    for (int guard = 0; guard < 100000; guard++) {
        if (pr.branches != c.branches) {
            TEST_FAIL("bookkeeping %llu != true count %llu", (unsigned long long)pr.branches,
                      (unsigned long long)c.branches);
            return R_LOST;
        }
        const struct insn *cur = &T[c.pos];
        enum pmu_step s = pmu_next_step(pr.branches, tcount, skid, cur->rip, tg->rip, cur->rcx, tg->rcx, cur->crc,
                                        tg->crc ^ crc_flip, steps, max_steps);
        if (s == PMU_AT_TARGET)
            return (long)c.pos;
        if (s == PMU_OVERSHOT)
            return R_OVERSHOT;
        if (s == PMU_DIVERGED)
            return R_DIVERGED;
        if (c.pos >= TN - 1)
            return R_LOST; /* the guest halted first */
        bool stepped = false;
        if (s == PMU_ARM_COUNTER) {
            bool armed;
            uint64_t p = pmu_counter_preset(tcount - pr.branches, skid, width, &armed);
            if (!armed) {
                TEST_FAIL("ARM_COUNTER but the preset is not armed");
                return R_LOST;
            }
            run_armed(&c, p);
            pmu_account(&pr, p, c.counter, width);
            st->arms++;
            st->last_was_step = false;
        } else {
            /* One MTF step; the counter free-runs from all ones, so a
             * branch wraps it through zero. */
            uint64_t p = mask(width);
            c.counter = p;
            exec1(&c);
            pmu_account(&pr, p, c.counter, width);
            st->steps++;
            st->last_was_step = stepped = true;
        }
        if (pr.branches != last) {
            last = pr.branches;
            steps = 0;
        } else if (stepped && pr.branches == tcount) {
            steps++;
        }
    }
    TEST_FAIL("no progress");
    return R_LOST;
}

TEST(trace_has_the_hard_cases)
{
    build_trace();
    /* Boundaries sharing (count, RIP, RCX) with an earlier one: the spin
     * loop (only the CRC tells them apart); and REP iterations sharing
     * (count, RIP) (only RCX tells them apart). */
    unsigned same_rip_rcx = 0, same_rip = 0;
    for (size_t i = 1; i < TN; i++)
        for (size_t k = i; k-- > 0 && !T[k].cond;) {
            if (T[k].rip == T[i].rip && T[k].rcx == T[i].rcx)
                same_rip_rcx++;
            else if (T[k].rip == T[i].rip)
                same_rip++;
        }
    CHECK(same_rip_rcx > 10);
    CHECK(same_rip > 100);
    CHECK(TN > 700 && TN < sizeof(T) / sizeof(T[0]));
}

TEST(replay_lands_exactly_on_every_boundary)
{
    build_trace();
    static const unsigned widths[] = { 48, 40, 32 };
    for (size_t w = 0; w < 3; w++) {
        struct stats st = { 0, 0, false };
        for (size_t t = 0; t < TN - 1; t++) {
            long r = replay_to(t, 8, widths[w], 4, true, 64, 0, &st);
            if (r != (long)t) {
                TEST_FAIL("width %u target %zu (count %llu rip 0x%llx rcx %llu): stopped at %ld", widths[w], t,
                          (unsigned long long)branches_before(t), (unsigned long long)T[t].rip,
                          (unsigned long long)T[t].rcx, r);
                return;
            }
        }
        CHECK(st.arms > 100); /* the counter did the long stretches */
    }
}

TEST(replay_far_target_uses_few_steps)
{
    build_trace();
    struct stats st = { 0, 0, false };
    size_t t = TN - 2;
    CHECK_EQ(replay_to(t, 8, 48, 4, true, 64, 0, &st), (long)t);
    CHECK_EQ(st.arms, 1);
    /* At most skid branches' worth of boundaries plus the run at the count. */
    CHECK(st.steps < 60);
}

TEST(replay_reports_overshoot_when_skid_too_small)
{
    build_trace();
    /* The hardware lets 6 instructions retire after the overflow; a skid
     * margin of 1 branch cannot absorb dense branches. */
    unsigned overshot = 0, exact = 0, past_point = 0;
    for (size_t t = 0; t < TN - 1; t++) {
        struct stats st = { 0, 0, false };
        long r = replay_to(t, 1, 48, 6, false, 64, 0, &st);
        if (r == R_OVERSHOT) {
            overshot++;
            /* Found by stepping: the PMI exit came at the target's count
             * but past its boundary (straight-line code after the
             * branch); the next conditional branch gave it away. */
            past_point += st.last_was_step;
        } else if (r == (long)t)
            exact++;
        else {
            TEST_FAIL("target %zu: stopped at %ld (never somewhere else)", t, r);
            return;
        }
    }
    CHECK(overshot > 10);
    CHECK(past_point > 0 && past_point < overshot);
    CHECK(exact > 0);
    /* The same hardware with an adequate margin: always exact. */
    for (size_t t = 0; t < TN - 1; t++) {
        struct stats st = { 0, 0, false };
        if (replay_to(t, 7, 48, 6, false, 64, 0, &st) != (long)t)
            TEST_FAIL("target %zu not reached with skid 7", t);
    }
}

TEST(replay_diverges_when_the_point_never_comes)
{
    build_trace();
    /* A REP's first iteration with a CRC nothing has: stepping through the
     * REP, bounded by max_steps. */
    size_t t = 0;
    for (size_t i = 0; i < TN; i++)
        if (T[i].rip == 0x1200 && T[i].rcx >= 10 && !T[i - 1].cond && T[i - 1].rip == 0x1100) {
            t = i;
            break;
        }
    CHECK(t != 0);
    struct stats st = { 0, 0, false };
    CHECK_EQ(replay_to(t, 8, 48, 4, true, 3, 1, &st), R_DIVERGED);
    /* With a generous bound, the next conditional branch ends it. */
    CHECK_EQ(replay_to(t, 8, 48, 4, true, 1000, 1, &st), R_OVERSHOT);
}

TEST(next_step_table)
{
    /* Far away, within skid, at the count (mismatch / match), past. */
    CHECK_EQ(pmu_next_step(0, 1000, 100, 1, 2, 0, 0, 0, 0, 0, 10), PMU_ARM_COUNTER);
    CHECK_EQ(pmu_next_step(899, 1000, 100, 1, 2, 0, 0, 0, 0, 0, 10), PMU_ARM_COUNTER);
    CHECK_EQ(pmu_next_step(900, 1000, 100, 1, 2, 0, 0, 0, 0, 0, 10), PMU_SINGLE_STEP);
    CHECK_EQ(pmu_next_step(999, 1000, 100, 2, 2, 5, 5, 9, 9, 0, 10), PMU_SINGLE_STEP); /* same regs, wrong count */
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 1, 2, 5, 5, 9, 9, 0, 10), PMU_SINGLE_STEP);
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 2, 2, 6, 5, 9, 9, 0, 10), PMU_SINGLE_STEP); /* REP: RCX differs */
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 2, 2, 5, 5, 8, 9, 0, 10), PMU_SINGLE_STEP); /* CRC differs */
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 2, 2, 5, 5, 9, 9, 0, 10), PMU_AT_TARGET);
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 2, 2, 5, 5, 9, 9, 99, 10), PMU_AT_TARGET); /* a match wins */
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 1, 2, 5, 5, 9, 9, 9, 10), PMU_SINGLE_STEP);
    CHECK_EQ(pmu_next_step(1000, 1000, 100, 1, 2, 5, 5, 9, 9, 10, 10), PMU_DIVERGED);
    CHECK_EQ(pmu_next_step(1001, 1000, 100, 2, 2, 5, 5, 9, 9, 0, 10), PMU_OVERSHOT);
    CHECK_EQ(pmu_next_step(0, 0, 0, 2, 2, 5, 5, 9, 9, 0, 10), PMU_AT_TARGET);
    CHECK_EQ(pmu_next_step(0, 1, 0, 2, 2, 5, 5, 9, 9, 0, 10), PMU_ARM_COUNTER);
    CHECK_EQ(pmu_next_step(0, ~0ull, 100, 0, 0, 0, 0, 0, 0, 0, 10), PMU_ARM_COUNTER);
    CHECK_STR(pmu_step_name(PMU_OVERSHOT), "overshot the landmark");
    CHECK_STR(pmu_step_name(PMU_AT_TARGET), "at the landmark");
}

int main(void) { return test_main(); }
