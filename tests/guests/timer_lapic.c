/* timer_lapic: the local APIC timer, clocked at the crystal frequency of
 * CPUID leaf 0x15 (so the guest needs no calibration):
 *  - periodic, vector 0x40, divider 16, 1 kHz: a CPU-bound loop running
 *    100 ms by the TSC receives 100 +- 20% interrupts, all inside the loop;
 *    the current-count register counts down within the initial count
 *  - one-shot 5 ms: exactly one interrupt, not before 5 ms, within 1 ms
 *    after; the current count then reads 0; a masked one-shot raises none
 *  - TSC-deadline mode (when CPUID.1:ECX[24]): the interrupt comes at or
 *    after the deadline and within 1 ms; IA32_TSC_DEADLINE reads 0 once it
 *    fired; writing 0 disarms a pending deadline
 *  - x2APIC mode (when CPUID.1:ECX[21]): the same periodic timer through
 *    the x2APIC MSRs, EOI by MSR 0x80B. */
#include "rt/rt.h"

#define VEC 0x40
#define PERIODIC_MS 100u

static volatile unsigned ticks;
static volatile uint64_t fired_tsc;
static volatile uint64_t progress;
static volatile bool x2apic;
static uint64_t hz;
extern char lapic_loop_start[], lapic_loop_end[];
static unsigned outside;

static void tick(struct rt_frame *f)
{
    if (!ticks)
        fired_tsc = rdtsc();
    ticks++;
    if (f->rip < (uint64_t)(uintptr_t)lapic_loop_start || f->rip > (uint64_t)(uintptr_t)lapic_loop_end)
        outside++;
    if (x2apic)
        wrmsr(0x80b, 0);
    else
        lapic_eoi();
}

static void spurious(struct rt_frame *f) { (void)f; }

/* CPU-bound for `ms` of TSC time; the TSC is read every 4096 rounds. */
static void busy(unsigned ms)
{
    uint64_t end = rdtsc() + hz * ms / 1000;
    __asm__ volatile(".globl lapic_loop_start, lapic_loop_end\n"
                     "lapic_loop_start:\n\t"
                     "1: movl $4096, %%ecx\n\t"
                     "2: incq %[p]\n\t"
                     "decl %%ecx\n\t"
                     "jnz 2b\n\t"
                     "rdtsc\n\t"
                     "shlq $32, %%rdx\n\t"
                     "orq %%rax, %%rdx\n\t"
                     "cmpq %[end], %%rdx\n\t"
                     "jb 1b\n"
                     "lapic_loop_end:\n\t"
                     : [p] "+m"(progress)
                     : [end] "r"(end)
                     : "rax", "rcx", "rdx", "cc", "memory");
}

static void reset(void)
{
    ticks = 0;
    fired_tsc = 0;
    outside = 0;
}

static uint64_t us_since(uint64_t t0) { return (fired_tsc - t0) * 1000000 / hz; }

static void periodic(void)
{
    uint32_t count = (uint32_t)(hz / 16 / 1000);
    rt_printf("timer_lapic: periodic: %llu Hz / 16 / %u = 1000 Hz\n", (unsigned long long)hz, count);
    reset();
    lapic_timer_start(VEC, LAPIC_TIMER_PERIODIC, LAPIC_DIV_16, count);
    uint32_t c1 = lapic_read(LAPIC_TIMER_CUR);
    rt_delay_us(200);
    uint32_t c2 = lapic_read(LAPIC_TIMER_CUR);
    CHECK(c1 <= count && c2 <= count && c2 != c1, "current count counts within the initial count (%u, then %u of %u)",
          c1, c2, count);
    uint64_t t0 = rdtsc();
    sti();
    busy(PERIODIC_MS);
    /* Stop the timer with interrupts still on: a tick that came due just
     * before the stop is taken here, not left pending for the next test
     * (a window of a few instructions on hardware, but each VM exit of an
     * emulated or recording hypervisor widens it). */
    uint64_t el_us = (rdtsc() - t0) * 1000000 / hz;
    lapic_timer_stop();
    cli();
    unsigned n = ticks, expect = (unsigned)(el_us / 1000);
    rt_printf("timer_lapic: periodic: %u interrupts in %llu us (%u expected)\n", n, (unsigned long long)el_us, expect);
    CHECK(n * 10 >= expect * 8 && n * 10 <= expect * 12, "periodic at 1 kHz: %u interrupts in %llu us, within 20%%", n,
          (unsigned long long)el_us);
    CHECK(outside <= 3, "interrupts landed in the CPU-bound loop (%u elsewhere)", outside);
    CHECK(lapic_read(LAPIC_LVT_TIMER) & LAPIC_LVT_MASKED, "timer LVT masked again after stopping");
}

static void oneshot(void)
{
    uint32_t count = (uint32_t)(hz / 16 / 1000 * 5); /* 5 ms */
    reset();
    lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, VEC | LAPIC_TIMER_ONESHOT);
    uint64_t t0 = rdtsc(); /* the count starts after this */
    lapic_write(LAPIC_TIMER_INIT, count);
    sti();
    busy(20);
    cli();
    uint64_t us = us_since(t0);
    rt_printf("timer_lapic: one-shot 5 ms: %u interrupt(s), first after %llu us\n", ticks, (unsigned long long)us);
    CHECK(ticks == 1, "one-shot: exactly one interrupt (%u)", ticks);
    CHECK(ticks && us >= 5000 && us <= 6000, "one-shot: fired after 5.0-6.0 ms (%llu us)", (unsigned long long)us);
    CHECK(lapic_read(LAPIC_TIMER_CUR) == 0, "one-shot: current count 0 after expiry");

    reset();
    lapic_timer_start(VEC, LAPIC_TIMER_ONESHOT | LAPIC_LVT_MASKED, LAPIC_DIV_16, count / 5);
    sti();
    busy(3);
    cli();
    CHECK(ticks == 0, "masked one-shot: no interrupt (%u)", ticks);
    lapic_timer_stop();
}

static void tsc_deadline(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 24))) {
        rt_printf("timer_lapic: no TSC-deadline mode in CPUID: skipped\n");
        return;
    }
    lapic_write(LAPIC_LVT_TIMER, VEC | LAPIC_TIMER_TSCDL);
    reset();
    uint64_t t0 = rdtsc(), deadline = t0 + hz * 5 / 1000;
    wrmsr(MSR_TSC_DEADLINE, deadline);
    uint64_t armed = rdmsr(MSR_TSC_DEADLINE);
    sti();
    busy(20);
    cli();
    uint64_t us = us_since(t0);
    rt_printf("timer_lapic: TSC deadline +5 ms: %u interrupt(s), after %llu us\n", ticks, (unsigned long long)us);
    CHECK(armed == deadline, "IA32_TSC_DEADLINE reads back while armed");
    CHECK(ticks == 1, "TSC deadline: exactly one interrupt (%u)", ticks);
    CHECK(ticks && fired_tsc >= deadline && us <= 6000, "TSC deadline: fired at/after the deadline, within 1 ms (%llu us)",
          (unsigned long long)us);
    CHECK(rdmsr(MSR_TSC_DEADLINE) == 0, "IA32_TSC_DEADLINE reads 0 after firing");

    reset();
    wrmsr(MSR_TSC_DEADLINE, rdtsc() + hz * 2 / 1000);
    wrmsr(MSR_TSC_DEADLINE, 0);
    sti();
    busy(5);
    cli();
    CHECK(ticks == 0, "TSC deadline disarmed by writing 0: no interrupt (%u)", ticks);
    /* Past deadline: fires at once. */
    reset();
    wrmsr(MSR_TSC_DEADLINE, 1);
    sti();
    busy(1);
    cli();
    CHECK(ticks == 1, "a deadline in the past fires at once (%u)", ticks);
    lapic_timer_stop();
}

static void x2apic_mode(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 21))) {
        rt_printf("timer_lapic: no x2APIC in CPUID: skipped\n");
        return;
    }
    uint64_t base = rdmsr(0x1b);
    wrmsr(0x1b, base | (1u << 10));
    CHECK(rdmsr(0x1b) & (1u << 10), "x2APIC mode enabled (IA32_APIC_BASE 0x%llx)", (unsigned long long)rdmsr(0x1b));
    x2apic = true;
    uint64_t ver = rdmsr(0x803);
    CHECK((ver & 0xff) == 0x14, "x2APIC version MSR 0x803 (0x%llx)", (unsigned long long)ver);
    reset();
    wrmsr(0x83e, LAPIC_DIV_16);
    wrmsr(0x832, VEC | LAPIC_TIMER_PERIODIC);
    wrmsr(0x838, hz / 16 / 1000);
    sti();
    busy(20);
    wrmsr(0x838, 0); /* stopped with interrupts on, as in periodic() */
    wrmsr(0x832, LAPIC_LVT_MASKED);
    cli();
    rt_printf("timer_lapic: x2APIC periodic: %u interrupts in 20 ms\n", ticks);
    CHECK(ticks >= 16 && ticks <= 24, "x2APIC periodic timer by MSRs at 1 kHz (%u in 20 ms)", ticks);
}

int guest_main(void)
{
    hz = rt_tsc_hz();
    if (!hz)
        rt_fail_exit(RT_EXIT_FAILED, "no TSC frequency in CPUID leaf 0x15");
    rt_set_handler(VEC, tick);
    rt_set_handler(0xff, spurious);
    pic_init(0xffff); /* 8259 fully masked: only the local APIC interrupts */
    lapic_enable(0xff);
    periodic();
    oneshot();
    tsc_deadline();
    x2apic_mode();
    return rt_result("timer_lapic");
}
