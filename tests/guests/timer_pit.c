/* timer_pit: the 8254 PIT's channel 0 interrupting a busy guest.
 *  - through the 8259: PIT at 1 kHz (mode 2), IRQ0 -> vector 0x20, the
 *    LAPIC in virtual-wire mode; a CPU-bound loop without HLT (and without
 *    VM exits of its own for thousands of iterations) runs ~100 ms by the
 *    TSC; >= 50 (and not absurdly many) interrupts must arrive, each
 *    interrupting the loop itself, with the loop making progress between
 *    interrupts; the PIC's ISR is clear after EOI
 *  - through the I/O APIC: the PIC masked, redirection entry for pin 2
 *    (ISA IRQ0's override) -> vector 0x31; ~50 ms of loop, >= 25 arrive. */
#include "rt/rt.h"

#define LOOP_MS 100u
#define MAX_SAMPLES 512

static volatile uint64_t progress;
static volatile unsigned ticks;
static uint64_t sample_progress[MAX_SAMPLES], sample_rip[MAX_SAMPLES];
extern char busy_loop_start[], busy_loop_end[];

static void record(struct rt_frame *f)
{
    unsigned n = ticks;
    if (n < MAX_SAMPLES) {
        sample_progress[n] = progress;
        sample_rip[n] = f->rip;
    }
    ticks = n + 1;
}

static void pic_tick(struct rt_frame *f)
{
    record(f);
    pic_eoi(0);
}

static void ioapic_tick(struct rt_frame *f)
{
    record(f);
    lapic_eoi();
}

/* Count `progress` up for `ms` of TSC time, reading the TSC only every
 * 4096 iterations so that the loop itself rarely exits. */
static void busy(unsigned ms)
{
    uint64_t end = rdtsc() + rt_tsc_hz() * ms / 1000;
    __asm__ volatile(
        ".globl busy_loop_start, busy_loop_end\n"
        "busy_loop_start:\n\t"
        "1: movl $4096, %%ecx\n\t"
        "2: incq %[p]\n\t"
        "decl %%ecx\n\t"
        "jnz 2b\n\t"
        "rdtsc\n\t"
        "shlq $32, %%rdx\n\t"
        "orq %%rax, %%rdx\n\t"
        "cmpq %[end], %%rdx\n\t"
        "jb 1b\n"
        "busy_loop_end:\n\t"
        : [p] "+m"(progress)
        : [end] "r"(end)
        : "rax", "rcx", "rdx", "cc", "memory");
}

/* How the interrupts fell on the loop: in its code, with progress between. */
static void analyse(const char *how, unsigned n, unsigned min)
{
    unsigned in_loop = 0, stalled = 0, m = n < MAX_SAMPLES ? n : MAX_SAMPLES;
    for (unsigned i = 0; i < m; i++) {
        if (sample_rip[i] >= (uint64_t)(uintptr_t)busy_loop_start && sample_rip[i] <= (uint64_t)(uintptr_t)busy_loop_end)
            in_loop++;
        if (i && sample_progress[i] <= sample_progress[i - 1])
            stalled++;
    }
    CHECK(n >= min && n <= 3 * min, "%s: %u interrupts while the loop ran (want %u..%u)", how, n, min, 3 * min);
    CHECK(in_loop + 2 >= m, "%s: %u of %u interrupts landed inside the busy loop", how, in_loop, m);
    CHECK(stalled == 0, "%s: the loop's counter advanced between every two interrupts (%u stalls)", how, stalled);
    rt_printf("timer_pit: %s: loop counted to %llu; first interrupt at count %llu, last at %llu\n", how,
              (unsigned long long)progress, (unsigned long long)sample_progress[0],
              (unsigned long long)sample_progress[m ? m - 1 : 0]);
}

int guest_main(void)
{
    rt_printf("timer_pit: PIT channel 0 at 1000 Hz, CPU-bound loop for %u ms\n", LOOP_MS);
    rt_set_handler(0x20, pic_tick);
    pic_init(0xfffe); /* IRQ0 only */
    pit_periodic(1000);
    sti();
    busy(LOOP_MS);
    cli();
    unsigned n = ticks;
    rt_printf("timer_pit: 8259: %u interrupts in %u ms\n", n, LOOP_MS);
    analyse("8259", n, LOOP_MS / 2);
    outb(0x20, 0x0b);
    uint8_t isr = inb(0x20);
    outb(0x20, 0x0a);
    uint8_t irr = inb(0x20);
    CHECK(isr == 0, "8259 ISR clear after the last EOI (ISR 0x%x, IRR 0x%x)", isr, irr);

    /* The same timer through the I/O APIC. */
    pic_set_mask(0xffff);
    ticks = 0;
    progress = 0;
    rt_set_handler(0x31, ioapic_tick);
    mmio_write32(0xfec00000, 0x10 + 2 * 2 + 1);
    mmio_write32(0xfec00010, 0); /* destination APIC 0 */
    mmio_write32(0xfec00000, 0x10 + 2 * 2);
    mmio_write32(0xfec00010, 0x31); /* fixed, physical, edge, active high, unmasked */
    sti();
    busy(LOOP_MS / 2);
    cli();
    n = ticks;
    mmio_write32(0xfec00010, 0x10000);
    pit_stop();
    rt_printf("timer_pit: I/O APIC pin 2: %u interrupts in %u ms\n", n, LOOP_MS / 2);
    analyse("I/O APIC", n, LOOP_MS / 4);
    return rt_result("timer_pit");
}
