#include "clock.h"
#include "acpi.h"
#include "cpu.h"
#include "log.h"

static uint64_t tsc0, tsc_hz, mult;

uint64_t clock_mult_for_hz(uint64_t hz) { return hz ? (1000000000ull << 32) / hz : 0; }

bool clock_calibrated(void) { return tsc_hz != 0; }
uint64_t clock_tsc_hz(void) { return tsc_hz; }

uint64_t clock_ns(void)
{
    if (!mult)
        return 0;
    uint64_t d = rdtsc() - tsc0;
    return (uint64_t)(((unsigned __int128)d * mult) >> 32);
}

void clock_delay_us(uint64_t us)
{
    if (!tsc_hz) {
        /* Before calibration: port 0x80 writes take about 1 us on PCs. */
        for (uint64_t i = 0; i < us; i++)
            outb(0x80, 0);
        return;
    }
    uint64_t end = rdtsc() + us * tsc_hz / 1000000;
    while ((int64_t)(rdtsc() - end) < 0)
        pause();
}

/* TSC ticks over `ms` of ACPI PM timer time (3.579545 MHz). */
static uint64_t against_pm_timer(uint32_t ms, uint64_t *ref_ns)
{
    uint32_t mask = acpi_pm_timer_mask(), want = (uint32_t)((uint64_t)ACPI_PM_TIMER_HZ * ms / 1000);
    uint32_t last = acpi_pm_timer_read(), elapsed = 0;
    /* Start on a timer edge. */
    uint32_t cur;
    while ((cur = acpi_pm_timer_read()) == last)
        ;
    last = cur;
    uint64_t t0 = rdtsc();
    while (elapsed < want) {
        cur = acpi_pm_timer_read();
        elapsed += (cur - last) & mask;
        last = cur;
    }
    uint64_t t1 = rdtsc();
    *ref_ns = (uint64_t)elapsed * 1000000000ull / ACPI_PM_TIMER_HZ;
    return t1 - t0;
}

/* TSC ticks over `ms` (<= 54) of PIT channel 2 in mode 0, gated by port
 * 0x61 bit 0 and read back through bit 5 (the classic PC speaker gate). */
static uint64_t against_pit(uint32_t ms, uint64_t *ref_ns)
{
    uint32_t count = 1193182u * ms / 1000;
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) & ~0x01)); /* gate low, speaker off */
    outb(0x43, 0xb0);                                  /* ch2, lo/hi, mode 0, binary */
    outb(0x42, (uint8_t)count);
    outb(0x42, (uint8_t)(count >> 8));
    uint64_t t0 = rdtsc();
    outb(0x61, (uint8_t)(inb(0x61) | 0x01)); /* gate high: count starts */
    uint64_t spins = 0;
    while (!(inb(0x61) & 0x20))
        if (++spins > 100000000ull)
            return 0; /* no PIT */
    uint64_t t1 = rdtsc();
    *ref_ns = (uint64_t)count * 1000000000ull / 1193182u;
    return t1 - t0;
}

void clock_init(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    bool invariant = false;
    if (a >= 0x80000007) {
        cpuid(0x80000007, 0, &a, &b, &c, &d);
        invariant = (d >> 8) & 1;
    }
    uint64_t ref_ns = 0, ticks;
    const char *ref;
    if (acpi_pm_timer_present()) {
        ticks = against_pm_timer(50, &ref_ns);
        ref = "ACPI PM timer";
    } else {
        ticks = against_pit(50, &ref_ns);
        ref = "PIT";
    }
    if (!ticks || !ref_ns) {
        tsc_hz = 1000000000ull; /* a guess beats a division by zero */
        log_warn("clock", "TSC calibration failed: assuming 1 GHz; timeouts will be wrong");
    } else {
        tsc_hz = ticks * 1000000000ull / ref_ns;
    }
    mult = clock_mult_for_hz(tsc_hz);
    log_info("clock", "TSC %llu.%03llu MHz (against the %s over %llu ms)%s", (unsigned long long)(tsc_hz / 1000000),
             (unsigned long long)(tsc_hz / 1000 % 1000), ref, (unsigned long long)(ref_ns / 1000000),
             invariant ? ", invariant" : ", not marked invariant");
}

/* Kernel entry records the TSC so the log starts near 0. */
void clock_early_init(void) { tsc0 = rdtsc(); }
