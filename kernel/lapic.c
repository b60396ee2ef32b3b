#include "lapic.h"
#include "profile.h"
#include "trap.h"
#include "cpu.h"
#include "clock.h"
#include "paging.h"
#include "log.h"

/* Register offsets (SDM Vol. 3A, 11.4.1, Table 11-1). In x2APIC mode the
 * MSR is 0x800 + offset / 16 (SDM 3A, 11.12.1). */
#define REG_ID 0x20
#define REG_VER 0x30
#define REG_TPR 0x80
#define REG_EOI 0xb0
#define REG_SVR 0xf0
#define REG_ESR 0x280
#define REG_LVT_TIMER 0x320
#define REG_LVT_ERROR 0x370
#define REG_TIMER_ICR 0x380
#define REG_TIMER_CCR 0x390
#define REG_TIMER_DCR 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)

static volatile uint32_t *mmio;
static bool x2apic;
static volatile uint64_t ticks;
static uint32_t hz, bus_khz;

static uint32_t rd(uint32_t reg)
{
    return x2apic ? (uint32_t)rdmsr(0x800 + reg / 16) : mmio[reg / 4];
}

static void wr(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + reg / 16, v);
    else
        mmio[reg / 4] = v;
}

void pic_disable(void)
{
    /* Remap the 8259s away from the exception vectors (ICW1-4), then mask
     * every line: the host uses the LAPIC only. */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, VEC_PIC_BASE);
    outb(0xa1, VEC_PIC_BASE + 8);
    outb(0x21, 4);
    outb(0xa1, 2);
    outb(0x21, 1);
    outb(0xa1, 1);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void lapic_eoi(void) { wr(REG_EOI, 0); }
uint32_t lapic_id(void) { return x2apic ? rd(REG_ID) : rd(REG_ID) >> 24; }
void lapic_set_lvt_pmc(uint32_t value) { wr(0x340, value); }
uint64_t lapic_ticks(void) { return ticks; }
uint32_t lapic_timer_hz(void) { return hz; }

static void on_timer(struct trap_frame *f)
{
    ticks++;
    profile_tick(f->rip);
    lapic_eoi();
}

static void on_error(struct trap_frame *f)
{
    (void)f;
    wr(REG_ESR, 0);
    uint32_t esr = rd(REG_ESR);
    lapic_eoi();
    log_warn("lapic", "APIC error, ESR 0x%x", esr);
}

void lapic_init(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    x2apic = (base >> 10) & 1; /* EXTD (SDM 3A, 11.12.1) */
    if (!(base & (1u << 11)))
        wrmsr(MSR_IA32_APIC_BASE, base | (1u << 11)); /* global enable */
    if (!x2apic)
        mmio = paging_map_mmio(base & ~0xfffull, 4096, MAP_UC);
    wr(REG_TPR, 0);
    wr(REG_SVR, 0x100 | VEC_SPURIOUS); /* software enable */
    wr(REG_LVT_ERROR, VEC_LAPIC_ERROR);
    irq_register(VEC_LAPIC_ERROR, on_error);
    irq_register(VEC_LAPIC_TIMER, on_timer);
    log_info("lapic", "local APIC id %u, version 0x%x, %s mode", lapic_id(), rd(REG_VER) & 0xff,
             x2apic ? "x2APIC" : "xAPIC");
}

void lapic_timer_start(uint32_t want_hz)
{
    /* Count the timer against the calibrated TSC for 10 ms, divider 16. */
    wr(REG_TIMER_DCR, 0x3);
    wr(REG_LVT_TIMER, LVT_MASKED | VEC_LAPIC_TIMER);
    wr(REG_TIMER_ICR, 0xffffffffu);
    clock_delay_us(10000);
    uint32_t used = 0xffffffffu - rd(REG_TIMER_CCR);
    wr(REG_TIMER_ICR, 0);
    bus_khz = used / 10 * 16; /* timer input clock in kHz */
    uint32_t per_tick = used * 100 / want_hz;
    if (!per_tick)
        per_tick = 1;
    hz = want_hz;
    wr(REG_LVT_TIMER, LVT_PERIODIC | VEC_LAPIC_TIMER);
    wr(REG_TIMER_ICR, per_tick);
    log_info("lapic", "timer: %u Hz periodic (input clock %u.%03u MHz, divider 16, count %u)", hz, bus_khz / 1000,
             bus_khz % 1000, per_tick);
}
