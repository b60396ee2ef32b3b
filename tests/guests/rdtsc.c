/* rdtsc: the guest's TSC (every RDTSC/RDTSCP is a VM exit under ftvisor,
 * answered from virtual time):
 *  - 100000 RDTSC readings, every 100th an RDTSCP, are strictly
 *    increasing; RDTSCP returns IA32_TSC_AUX in ECX
 *  - the TSC rate over a PIT-measured interval (channel 2, mode 0, gated
 *    through port 0x61, polling OUT2 in bit 5, as Linux's
 *    pit_calibrate_tsc() does) agrees with CPUID leaf 0x15 within 5%
 *  - the same against the ACPI PM timer (port 0x608, 3.579545 MHz). */
#include "rt/rt.h"

#define READINGS 100000u
#define CAL_MS 50u

static bool within(uint64_t measured, uint64_t expected, unsigned percent)
{
    uint64_t d = measured > expected ? measured - expected : expected - measured;
    return d * 100 <= expected * percent;
}

static void monotonic(void)
{
    wrmsr(MSR_TSC_AUX, 0x5a5a);
    uint64_t prev = rdtsc(), first = prev, min_step = ~0ull, max_step = 0;
    unsigned bad = 0, tscp = 0, aux_bad = 0;
    for (unsigned i = 0; i < READINGS; i++) {
        uint64_t t;
        if (i % 100 == 99) {
            uint32_t aux;
            t = rdtscp(&aux);
            tscp++;
            if (aux != 0x5a5a)
                aux_bad++;
        } else {
            t = rdtsc();
        }
        if (t <= prev) {
            if (!bad)
                rt_printf("rdtsc: reading %u: 0x%llx after 0x%llx\n", i, (unsigned long long)t,
                          (unsigned long long)prev);
            bad++;
        } else {
            uint64_t d = t - prev;
            if (d < min_step)
                min_step = d;
            if (d > max_step)
                max_step = d;
        }
        prev = t;
    }
    rt_printf("rdtsc: %u readings (%u by RDTSCP) over %llu ticks; steps %llu..%llu ticks\n", READINGS, tscp,
              (unsigned long long)(prev - first), (unsigned long long)min_step, (unsigned long long)max_step);
    CHECK(bad == 0, "%u TSC readings strictly increasing (%u went backwards or stood still)", READINGS, bad);
    CHECK(aux_bad == 0, "RDTSCP returned IA32_TSC_AUX 0x5a5a in ECX every time");
}

/* Linux arch/x86/kernel/tsc.c, pit_calibrate_tsc(): channel 2 counts down
 * `latch` ticks in mode 0; port 0x61 bit 5 shows its OUT going high. */
static uint64_t pit_tsc_rate(unsigned ms, unsigned *polls)
{
    uint32_t latch = PIT_HZ / (1000 / ms);
    outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate high, speaker off */
    outb(0x43, 0xb0);                      /* channel 2, lobyte/hibyte, mode 0 */
    outb(0x42, latch & 0xff);
    outb(0x42, latch >> 8);
    uint64_t t1 = rdtsc(), t2 = t1;
    unsigned n = 0;
    while (!(inb(0x61) & 0x20)) {
        t2 = rdtsc();
        if (++n > 10000000)
            break;
    }
    *polls = n;
    return (t2 - t1) * 1000 / ms;
}

static uint32_t pm_timer(void) { return inl(0x608) & 0xffffff; }

static uint64_t pm_tsc_rate(unsigned ms)
{
    uint32_t ticks = 3579545u / 1000 * ms;
    uint32_t p0 = pm_timer();
    uint64_t t1 = rdtsc();
    uint32_t elapsed = 0;
    uint64_t t2 = t1;
    while (elapsed < ticks) {
        elapsed = (pm_timer() - p0) & 0xffffff;
        t2 = rdtsc();
    }
    return (t2 - t1) * 3579545ull / elapsed;
}

int guest_main(void)
{
    uint64_t hz = rt_tsc_hz();
    rt_printf("rdtsc: CPUID leaf 0x15 says %llu Hz\n", (unsigned long long)hz);
    CHECK(hz != 0, "TSC frequency from CPUID");
    if (!hz)
        return rt_result("rdtsc");
    monotonic();

    unsigned polls = 0;
    uint64_t pit = pit_tsc_rate(CAL_MS, &polls);
    rt_printf("rdtsc: PIT channel 2 over %u ms: TSC %llu Hz (%u polls of port 0x61)\n", CAL_MS,
              (unsigned long long)pit, polls);
    CHECK(polls > 1, "port 0x61 bit 5 was low while channel 2 counted");
    CHECK(within(pit, hz, 5), "PIT-measured TSC rate %llu Hz within 5%% of CPUID's %llu Hz", (unsigned long long)pit,
          (unsigned long long)hz);
    uint64_t pm = pm_tsc_rate(CAL_MS);
    rt_printf("rdtsc: ACPI PM timer over %u ms: TSC %llu Hz\n", CAL_MS, (unsigned long long)pm);
    CHECK(within(pm, hz, 5), "PM-timer-measured TSC rate %llu Hz within 5%% of CPUID's %llu Hz",
          (unsigned long long)pm, (unsigned long long)hz);
    return rt_result("rdtsc");
}
