/* seq: a numbered sequence on the console for the fault-tolerant pair's
 * tests (tests/system/74-ft-pair.sh). 1000 lines "seq N tsc T ticks K";
 * between two lines the guest spins ~2 ms of TSC time (RDTSC every 256
 * iterations: RDTSC exits) under a 1 kHz PIT (interrupts land in the loop)
 * and sleeps in HLT until the next tick. The TSC values and tick counts
 * are nondeterministic inputs the backup must replay exactly; the last
 * line is "seq done". */
#include "rt/rt.h"

#ifndef LINES
#define LINES 1000u
#endif

static volatile unsigned ticks;

static void tick(struct rt_frame *f)
{
    (void)f;
    ticks++;
    pic_eoi(0);
}

/* ~t TSC ticks of arithmetic, RDTSC every 256 steps. */
static uint64_t spin(uint64_t x, uint64_t t)
{
    uint64_t end = rdtsc() + t;
    while (rdtsc() < end)
        for (int i = 0; i < 256; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

int guest_main(void)
{
    rt_set_handler(0x20, tick);
    pic_init(0xfffe);
    pit_periodic(1000);
    sti();
    uint64_t hz = rt_tsc_hz();
    for (unsigned n = 1; n <= LINES; n++) {
        uint64_t x = n;
#ifdef SPLIT_LINES
        x = spin(x, hz / 1000);
#else
        x = spin(x, hz / 500);
#endif
        unsigned t = ticks;
        while (ticks == t)
            sti_hlt();
#ifdef SPLIT_LINES
        rt_printf("seq %u tsc %llu", n, (unsigned long long)rdtsc());
        x = spin(x, hz / 1000);
        rt_printf(" ticks %u mix %llx\n", ticks, (unsigned long long)(x >> 40));
#else
        rt_printf("seq %u tsc %llu ticks %u mix %llx\n", n, (unsigned long long)rdtsc(), ticks,
                  (unsigned long long)(x >> 40));
#endif
    }
    cli();
    pit_stop();
    rt_printf("seq done\n");
    return 0;
}
