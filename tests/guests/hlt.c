/* hlt: waking a halted vCPU with an interrupt (ftvisor must sleep the
 * vCPU on HLT and wake it when a timer interrupt becomes deliverable):
 *  - 5 rounds of a 10 ms one-shot LAPIC timer, STI; HLT: each HLT ends by
 *    the timer's interrupt (exactly one HLT per round), not before 10 ms,
 *    and not later than 12 ms, measured by the TSC
 *  - 3 rounds of the same with the TSC-deadline timer
 *  - 3 rounds of a 10 ms one-shot of PIT channel 0 (mode 0) through the
 *    8259, and a 100 Hz periodic PIT waking 10 consecutive HLTs (~100 ms)
 *  - an idle loop of HLTs with nothing armed would never end, so the test
 *    finishes with cli; the system test checks ftvisor counted HLT exits. */
#include "rt/rt.h"

#define LAPIC_VEC 0x40
#define ROUNDS 5
#define WAIT_US 10000u

static volatile unsigned lapic_ticks, pit_ticks;
static uint64_t hz;

static void lapic_tick(struct rt_frame *f)
{
    (void)f;
    lapic_ticks++;
    lapic_eoi();
}

static void pit_tick(struct rt_frame *f)
{
    (void)f;
    pit_ticks++;
    pic_eoi(0);
}

static void spurious(struct rt_frame *f) { (void)f; }

static uint64_t us(uint64_t ticks) { return ticks * 1000000 / hz; }

/* One HLT per round: returns the number of HLTs until `*counter` moved. */
static unsigned halt_until(volatile unsigned *counter, unsigned start)
{
    unsigned halts = 0;
    while (*counter == start && halts < 100) {
        sti_hlt();
        cli();
        halts++;
    }
    return halts;
}

static void lapic_rounds(void)
{
    uint32_t count = (uint32_t)(hz / 16 * WAIT_US / 1000000);
    unsigned good = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
        lapic_write(LAPIC_LVT_TIMER, LAPIC_VEC | LAPIC_TIMER_ONESHOT);
        unsigned before = lapic_ticks;
        uint64_t t0 = rdtsc();
        lapic_write(LAPIC_TIMER_INIT, count);
        unsigned halts = halt_until(&lapic_ticks, before);
        uint64_t dt = us(rdtsc() - t0);
        bool ok = halts == 1 && dt >= WAIT_US && dt <= WAIT_US + 2000;
        good += ok;
        rt_printf("hlt: LAPIC one-shot round %u: woke after %llu us, %u HLT(s)%s\n", r + 1, (unsigned long long)dt,
                  halts, ok ? "" : " <- wrong");
    }
    CHECK(good == ROUNDS, "LAPIC one-shot 10 ms woke HLT after 10-12 ms in %u of %u rounds", good, ROUNDS);
    lapic_timer_stop();
}

static void deadline_rounds(void)
{
    uint32_t r4[4];
    cpuid(1, 0, r4);
    if (!(r4[2] & (1u << 24))) {
        rt_printf("hlt: no TSC-deadline timer: skipped\n");
        return;
    }
    lapic_write(LAPIC_LVT_TIMER, LAPIC_VEC | LAPIC_TIMER_TSCDL);
    unsigned good = 0;
    for (unsigned r = 0; r < 3; r++) {
        unsigned before = lapic_ticks;
        uint64_t t0 = rdtsc();
        wrmsr(MSR_TSC_DEADLINE, t0 + hz * WAIT_US / 1000000);
        unsigned halts = halt_until(&lapic_ticks, before);
        uint64_t dt = us(rdtsc() - t0);
        bool ok = halts == 1 && dt >= WAIT_US && dt <= WAIT_US + 2000;
        good += ok;
        rt_printf("hlt: TSC-deadline round %u: woke after %llu us, %u HLT(s)%s\n", r + 1, (unsigned long long)dt,
                  halts, ok ? "" : " <- wrong");
    }
    CHECK(good == 3, "TSC deadline +10 ms woke HLT after 10-12 ms in %u of 3 rounds", good);
    lapic_timer_stop();
}

static void pit_rounds(void)
{
    pic_init(0xfffe);
    uint16_t count = (uint16_t)(PIT_HZ / 100); /* 10 ms */
    unsigned good = 0;
    for (unsigned r = 0; r < 3; r++) {
        unsigned before = pit_ticks;
        uint64_t t0 = rdtsc();
        pit_oneshot(count);
        unsigned halts = halt_until(&pit_ticks, before);
        uint64_t dt = us(rdtsc() - t0);
        bool ok = halts == 1 && dt >= WAIT_US - 300 && dt <= WAIT_US + 2000;
        good += ok;
        rt_printf("hlt: PIT one-shot round %u: woke after %llu us, %u HLT(s)%s\n", r + 1, (unsigned long long)dt, halts,
                  ok ? "" : " <- wrong");
    }
    CHECK(good == 3, "PIT one-shot 10 ms woke HLT after ~10 ms in %u of 3 rounds", good);

    /* Periodic: 10 HLTs, each ended by the next 100 Hz tick. */
    pit_periodic(100);
    unsigned start = pit_ticks, halts = 0;
    halt_until(&pit_ticks, start); /* align to a tick */
    start = pit_ticks;
    uint64_t t0 = rdtsc();
    while (pit_ticks - start < 10 && halts < 100) {
        sti_hlt();
        cli();
        halts++;
    }
    uint64_t dt = us(rdtsc() - t0);
    pit_stop();
    pic_set_mask(0xffff);
    rt_printf("hlt: PIT 100 Hz: %u ticks in %u HLTs over %llu us\n", pit_ticks - start, halts, (unsigned long long)dt);
    CHECK(halts == 10 && dt >= 95000 && dt <= 110000, "PIT 100 Hz woke 10 HLTs in ~100 ms (%u HLTs, %llu us)", halts,
          (unsigned long long)dt);
}

int guest_main(void)
{
    hz = rt_tsc_hz();
    if (!hz)
        rt_fail_exit(RT_EXIT_FAILED, "no TSC frequency in CPUID leaf 0x15");
    rt_set_handler(LAPIC_VEC, lapic_tick);
    rt_set_handler(0x20, pit_tick);
    rt_set_handler(0xff, spurious);
    pic_init(0xffff);
    lapic_enable(0xff);
    lapic_rounds();
    deadline_rounds();
    pit_rounds();
    return rt_result("hlt");
}
