/* dirty: a guest that writes memory at a steady rate, for live migration
 * (tests/bench migrate): every millisecond of TSC time (a 1 kHz PIT tick)
 * it writes one 8-byte word into each of the next DIRTY_PAGES pages of a
 * 16 MiB buffer at 16 MiB (wrapping round), so that DIRTY_PAGES * 4 KiB
 * per ms is dirtied; every 100 ticks it prints "seq N tsc T ticks K" as
 * seq.c does (so the pair tests' console checks apply), LINES lines in
 * all, then "seq done". Boot it with memory_mb = 64. */
#include "rt/rt.h"

#ifndef DIRTY_PAGES
#define DIRTY_PAGES 1u /* 4 MB/s of guest time */
#endif
#ifndef LINES
#define LINES 600u /* 60 s */
#endif
#define BUF 0x1000000ull
#define BUF_PAGES 4096u

static volatile unsigned ticks;
static unsigned pages_per_tick = DIRTY_PAGES; /* a variable: 0 is a valid rate */

static void tick(struct rt_frame *f)
{
    (void)f;
    ticks++;
    pic_eoi(0);
}

int guest_main(void)
{
    rt_set_handler(0x20, tick);
    pic_init(0xfffe);
    pit_periodic(1000);
    sti();
    unsigned page = 0;
    uint64_t stamp = 0;
    for (unsigned n = 1; n <= LINES; n++) {
        for (unsigned k = 0; k < 100; k++) {
            unsigned t = ticks;
            stamp++;
            for (unsigned i = 0; i < pages_per_tick; i++) {
                *(volatile uint64_t *)(uintptr_t)(BUF + (uint64_t)page * 4096 + (stamp % 512) * 8) = stamp;
                page = (page + 1) % BUF_PAGES;
            }
            while (ticks == t)
                sti_hlt();
        }
        rt_printf("seq %u tsc %llu ticks %u mix %llx\n", n, (unsigned long long)rdtsc(), ticks,
                  (unsigned long long)stamp);
    }
    cli();
    pit_stop();
    rt_printf("seq done\n");
    return 0;
}
