/* vmm/dev/lapic.c: the virtual local APIC, driven the way Linux drives
 * one (SDM Vol. 3A, APIC chapter). */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../vmm/dev/lapic.h"

#define BUS_HZ 25000000ull   /* 40 ns per bus cycle */
#define TSC_HZ 2500000000ull /* 0.4 ns per TSC tick */

struct rec {
    int eoi_n;
    uint8_t eoi_vec[16];
    int nmi_n;
};

static void on_eoi(void *ctx, uint8_t v)
{
    struct rec *r = ctx;
    if (r->eoi_n < 16)
        r->eoi_vec[r->eoi_n] = v;
    r->eoi_n++;
}

static void on_nmi(void *ctx) { ((struct rec *)ctx)->nmi_n++; }

static void mk(struct vlapic *l, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    struct vlapic_cb cb = { on_eoi, on_nmi, r };
    vlapic_init(l, BUS_HZ, TSC_HZ, &cb);
}

static uint32_t rd(struct vlapic *l, uint32_t off) { return vlapic_mmio_read(l, off, 0); }
static void wr(struct vlapic *l, uint32_t off, uint32_t v) { vlapic_mmio_write(l, off, v, 0); }

/* Software-enable with spurious vector 0xFF, as Linux's setup_local_APIC. */
static void sw_enable(struct vlapic *l) { wr(l, VLAPIC_SVR, 0x1FF); }

static bool irr_has(struct vlapic *l, unsigned v) { return (rd(l, VLAPIC_IRR + (v / 32) * 0x10) >> (v % 32)) & 1; }
static bool isr_has(struct vlapic *l, unsigned v) { return (rd(l, VLAPIC_ISR + (v / 32) * 0x10) >> (v % 32)) & 1; }
static bool tmr_has(struct vlapic *l, unsigned v) { return (rd(l, VLAPIC_TMR + (v / 32) * 0x10) >> (v % 32)) & 1; }

/* Take the pending interrupt as the CPU would; returns it or -1. */
static int take(struct vlapic *l)
{
    int v = vlapic_pending_vector(l);
    if (v >= 0)
        vlapic_ack(l, (uint8_t)v);
    return v;
}

static void eoi(struct vlapic *l) { wr(l, VLAPIC_EOI, 0); }

static bool vec_in(const uint32_t r[8], unsigned v) { return (r[v / 32] >> (v % 32)) & 1; }

static void to_x2apic(struct vlapic *l)
{
    vlapic_base_write(l, VLAPIC_BASE_ADDR | VLAPIC_BASE_BSP | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD, 0);
}

/* --------------------------------------------------------- basics ---- */

TEST(reset_state)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    CHECK_EQ(vlapic_base_read(&l), 0xFEE00900ull);
    CHECK(vlapic_hw_enabled(&l) && !vlapic_x2apic_mode(&l) && !vlapic_sw_enabled(&l));
    CHECK_EQ(rd(&l, VLAPIC_ID), 0);
    CHECK_EQ(rd(&l, VLAPIC_VERSION), 0x00050014);
    CHECK_EQ((rd(&l, VLAPIC_VERSION) >> 16) & 0xFF, 5); /* Linux: lapic_get_maxlvt */
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0xFF);
    CHECK_EQ(rd(&l, VLAPIC_DFR), 0xFFFFFFFFu);
    CHECK_EQ(rd(&l, VLAPIC_LDR), 0);
    CHECK_EQ(rd(&l, VLAPIC_TPR), 0);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0);
    for (uint32_t off = VLAPIC_LVT_TIMER; off <= VLAPIC_LVT_ERROR; off += 0x10)
        CHECK_EQ(rd(&l, off), 0x10000);
    CHECK_EQ(rd(&l, VLAPIC_TIMER_ICR), 0);
    CHECK_EQ(rd(&l, VLAPIC_TIMER_CCR), 0);
    CHECK_EQ(rd(&l, VLAPIC_TIMER_DCR), 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), 0);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(vlapic_next_deadline(&l), VTIME_NEVER);
    CHECK(!vlapic_extint_routed(&l)); /* LINT0 masked until set up */
}

TEST(read_only_registers_ignore_writes)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    /* Linux's verify_local_APIC flips the version register's bits. */
    wr(&l, VLAPIC_VERSION, 0x00050014 ^ 0x00FF00FF);
    CHECK_EQ(rd(&l, VLAPIC_VERSION), 0x00050014);
    wr(&l, VLAPIC_ID, 0x05000000);
    CHECK_EQ(rd(&l, VLAPIC_ID), 0);
    wr(&l, VLAPIC_PPR, 0xFF);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0);
    wr(&l, VLAPIC_IRR + 0x10, 0xFFFFFFFFu);
    CHECK_EQ(rd(&l, VLAPIC_IRR + 0x10), 0);
    CHECK_EQ(rd(&l, VLAPIC_EOI), 0); /* write-only: reads 0 */
    CHECK_EQ(l.stats.reserved_reg, 0);
    /* LDR keeps bits 31:24, DFR bits 31:28 (rest reads as ones). */
    wr(&l, VLAPIC_LDR, 0x01ABCDEF);
    CHECK_EQ(rd(&l, VLAPIC_LDR), 0x01000000);
    wr(&l, VLAPIC_DFR, 0x0);
    CHECK_EQ(rd(&l, VLAPIC_DFR), 0x0FFFFFFF);
}

TEST(mmio_bad_offsets_are_counted)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    CHECK_EQ(rd(&l, VLAPIC_SVR + 4), 0); /* inside a register's slot */
    wr(&l, VLAPIC_TPR + 8, 0xFF);
    CHECK_EQ(rd(&l, VLAPIC_TPR), 0);
    CHECK_EQ(rd(&l, 0x1000), 0);
    wr(&l, 0xFFFFFFF0u, 1);
    vlapic_mmio_bad_access(&l);
    CHECK_EQ(l.stats.bad_mmio, 5);
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0x1FF);
}

TEST(software_disable_drops_and_masks)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    vlapic_set_irq(&l, 0x30, false);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(l.stats.irq_dropped, 1);
    /* While software-disabled, LVT mask bits cannot be cleared. */
    wr(&l, VLAPIC_LVT_LINT0, 0x700);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x10700);
    sw_enable(&l);
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0x1FF);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x10700); /* stays masked until written */
    wr(&l, VLAPIC_LVT_LINT0, 0x700);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x700);
    wr(&l, VLAPIC_LVT_TIMER, 0x20030);
    vlapic_set_irq(&l, 0x30, false);
    CHECK_EQ(vlapic_pending_vector(&l), 0x30);
    /* Disabling masks every LVT; IRR is held. */
    wr(&l, VLAPIC_SVR, 0xFF);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x10700);
    CHECK_EQ(rd(&l, VLAPIC_LVT_TIMER), 0x30030);
    CHECK_EQ(vlapic_pending_vector(&l), 0x30);
    vlapic_set_irq(&l, 0x31, false);
    CHECK(!irr_has(&l, 0x31));
}

/* ------------------------------------------------ priority and EOI ---- */

TEST(tpr_ppr_masking)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_TPR, 0x50);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0x50);
    vlapic_set_irq(&l, 0x45, false);
    CHECK_EQ(vlapic_pending_vector(&l), -1); /* class 4 <= 5 */
    vlapic_set_irq(&l, 0x5F, false);
    CHECK_EQ(vlapic_pending_vector(&l), -1); /* class 5 does not exceed 5 */
    vlapic_set_irq(&l, 0x61, false);
    CHECK_EQ(vlapic_pending_vector(&l), 0x61);
    CHECK_EQ(take(&l), 0x61);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0x60); /* ISRV class above TPR's */
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    wr(&l, VLAPIC_TPR, 0x6F);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0x6F); /* TPR class >= ISRV class: TPR */
    wr(&l, VLAPIC_TPR, 0);
    eoi(&l);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0);
    CHECK_EQ(take(&l), 0x5F);
    eoi(&l);
    CHECK_EQ(take(&l), 0x45);
    eoi(&l);
    CHECK_EQ(take(&l), -1);
    /* CR8 is TPR[7:4]. */
    vlapic_cr8_write(&l, 3);
    CHECK_EQ(rd(&l, VLAPIC_TPR), 0x30);
    CHECK_EQ(vlapic_cr8_read(&l), 3);
}

TEST(ack_moves_irr_to_isr)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    vlapic_set_irq(&l, 0x40, false);
    CHECK_EQ(rd(&l, VLAPIC_IRR + 0x20), 1);
    vlapic_ack(&l, 0x40);
    CHECK_EQ(rd(&l, VLAPIC_IRR + 0x20), 0);
    CHECK_EQ(rd(&l, VLAPIC_ISR + 0x20), 1);
    CHECK_EQ(rd(&l, VLAPIC_PPR), 0x40);
    vlapic_ack(&l, 0x40);
    CHECK_EQ(l.stats.spurious_ack, 1);
    eoi(&l);
    CHECK_EQ(rd(&l, VLAPIC_ISR + 0x20), 0);
    CHECK_EQ(r.eoi_n, 0); /* edge: no EOI broadcast */
}

TEST(nested_interrupts_and_eoi_order)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    vlapic_set_irq(&l, 0x40, false);
    CHECK_EQ(take(&l), 0x40);
    vlapic_set_irq(&l, 0x41, false);
    CHECK_EQ(vlapic_pending_vector(&l), -1); /* same class as in service */
    vlapic_set_irq(&l, 0x80, false);
    CHECK_EQ(take(&l), 0x80); /* higher class nests */
    vlapic_set_irq(&l, 0x50, false);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK(isr_has(&l, 0x40) && isr_has(&l, 0x80));
    eoi(&l); /* retires the highest: 0x80 */
    CHECK(!isr_has(&l, 0x80) && isr_has(&l, 0x40));
    CHECK_EQ(take(&l), 0x50);
    eoi(&l);
    CHECK(!isr_has(&l, 0x50) && isr_has(&l, 0x40));
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    eoi(&l);
    CHECK_EQ(take(&l), 0x41);
    eoi(&l);
    eoi(&l); /* nothing in service: no effect */
    for (int i = 0; i < 8; i++)
        CHECK_EQ(rd(&l, VLAPIC_ISR + i * 0x10), 0);
}

TEST(level_triggered_eoi_callback)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    vlapic_set_irq(&l, 0x60, true);
    CHECK(tmr_has(&l, 0x60));
    CHECK_EQ(take(&l), 0x60);
    eoi(&l);
    CHECK_EQ(r.eoi_n, 1);
    CHECK_EQ(r.eoi_vec[0], 0x60);
    vlapic_set_irq(&l, 0x60, false); /* TMR cleared by an edge acceptance */
    CHECK(!tmr_has(&l, 0x60));
    CHECK_EQ(take(&l), 0x60);
    eoi(&l);
    CHECK_EQ(r.eoi_n, 1);
}

TEST(illegal_vectors_and_esr)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    /* Linux's lapic_setup_esr: write, read, program LVTERR, write, read. */
    wr(&l, VLAPIC_ESR, 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), 0);
    wr(&l, VLAPIC_LVT_ERROR, 0xFE);
    wr(&l, VLAPIC_ESR, 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), 0);

    vlapic_set_irq(&l, 5, false);
    CHECK(!irr_has(&l, 5));
    CHECK_EQ(rd(&l, VLAPIC_ESR), 0); /* not visible before an ESR write */
    CHECK_EQ(take(&l), 0xFE);        /* the error interrupt */
    eoi(&l);
    vlapic_set_irq(&l, 15, true);    /* again: logged, no second interrupt */
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    wr(&l, VLAPIC_ESR, 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), VLAPIC_ESR_RECV_ILLEGAL);
    wr(&l, VLAPIC_ESR, 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), 0);

    /* Re-armed: a self-IPI with an illegal vector is a send error. */
    wr(&l, VLAPIC_ICR_LO, 0x40000 | 7);
    CHECK_EQ(take(&l), 0xFE);
    eoi(&l);
    /* A reserved register access. */
    CHECK_EQ(rd(&l, 0x2F0), 0); /* no CMCI LVT with max LVT 5 */
    wr(&l, 0x800, 1);
    CHECK_EQ(l.stats.reserved_reg, 2);
    wr(&l, VLAPIC_ESR, 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), VLAPIC_ESR_SEND_ILLEGAL | VLAPIC_ESR_ILLEGAL_REG);
    /* An illegal vector in the error LVT itself terminates. */
    wr(&l, VLAPIC_LVT_ERROR, 0x3);
    vlapic_set_irq(&l, 2, false);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    wr(&l, VLAPIC_ESR, 0);
    CHECK_EQ(rd(&l, VLAPIC_ESR), VLAPIC_ESR_RECV_ILLEGAL);
}

/* ------------------------------------------------------------ IPIs ---- */

TEST(xapic_self_ipis)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_ICR_HI, 0x00000000);
    wr(&l, VLAPIC_ICR_LO, 0x41); /* fixed, physical, to APIC ID 0 */
    CHECK(irr_has(&l, 0x41) && !tmr_has(&l, 0x41));
    CHECK_EQ(rd(&l, VLAPIC_ICR_LO), 0x41); /* delivery status idle */
    wr(&l, VLAPIC_ICR_LO, 0x40000 | 0x42);     /* shorthand self */
    wr(&l, VLAPIC_ICR_LO, 0x80000 | 0x43);     /* all including self */
    wr(&l, VLAPIC_ICR_LO, 0x80000 | 0x100 | 0x47); /* lowest priority */
    CHECK(irr_has(&l, 0x42) && irr_has(&l, 0x43) && irr_has(&l, 0x47));
    wr(&l, VLAPIC_ICR_LO, 0xC0000 | 0x44);     /* all excluding self */
    CHECK(!irr_has(&l, 0x44));
    wr(&l, VLAPIC_ICR_HI, 0x01000000);
    CHECK_EQ(rd(&l, VLAPIC_ICR_HI), 0x01000000);
    wr(&l, VLAPIC_ICR_LO, 0x45); /* to APIC ID 1: nobody */
    CHECK(!irr_has(&l, 0x45));
    wr(&l, VLAPIC_ICR_HI, 0xFF000000);
    wr(&l, VLAPIC_ICR_LO, 0x46); /* broadcast */
    CHECK(irr_has(&l, 0x46));
    CHECK_EQ(l.stats.ipi_ignored, 2);
    /* INIT and SIPI (an AP bring-up) are ignored; NMI to self delivered. */
    wr(&l, VLAPIC_ICR_HI, 0);
    wr(&l, VLAPIC_ICR_LO, 0x4500);
    wr(&l, VLAPIC_ICR_LO, 0x0600 | 0x10);
    CHECK_EQ(l.stats.ipi_ignored, 4);
    wr(&l, VLAPIC_ICR_LO, 0x40000 | 0x400);
    CHECK_EQ(r.nmi_n, 1);
}

TEST(xapic_logical_destinations)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    /* Flat model, logical ID bit 0 (Linux's default flat setup). */
    wr(&l, VLAPIC_DFR, 0xFFFFFFFFu);
    wr(&l, VLAPIC_LDR, 0x01000000);
    wr(&l, VLAPIC_ICR_HI, 0x03000000);
    wr(&l, VLAPIC_ICR_LO, 0x800 | 0x51);
    CHECK(irr_has(&l, 0x51));
    wr(&l, VLAPIC_ICR_HI, 0x02000000);
    wr(&l, VLAPIC_ICR_LO, 0x800 | 0x52);
    CHECK(!irr_has(&l, 0x52));
    /* Cluster model: cluster 1, member 1. */
    wr(&l, VLAPIC_DFR, 0x0FFFFFFF);
    wr(&l, VLAPIC_LDR, 0x11000000);
    wr(&l, VLAPIC_ICR_HI, 0x13000000);
    wr(&l, VLAPIC_ICR_LO, 0x800 | 0x53);
    CHECK(irr_has(&l, 0x53));
    wr(&l, VLAPIC_ICR_HI, 0x21000000);
    wr(&l, VLAPIC_ICR_LO, 0x800 | 0x54);
    CHECK(!irr_has(&l, 0x54));
}

/* ----------------------------------------------------------- timer ---- */

TEST(timer_one_shot)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_TIMER_DCR, 0x3);       /* divide by 16: 640 ns a tick */
    wr(&l, VLAPIC_LVT_TIMER, 0xEC);      /* one-shot, vector 0xEC */
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 1000, 1010);
    /* Counting starts at bus cycle 25 (t = 1000 ns): 16000 cycles later. */
    CHECK_EQ(vlapic_tick(&l, 1010), 641000);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_ICR, 1010), 1000);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 1010), 1000);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 321010), 500);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 640999), 1);
    CHECK_EQ(vlapic_tick(&l, 640999), 641000);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(vlapic_tick(&l, 641000), VTIME_NEVER);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 641000), 0);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    CHECK_EQ(vlapic_tick(&l, 10000000), VTIME_NEVER); /* stays at 0 */
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    /* Rewriting the initial count restarts it; 0 stops it. */
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 10, 20000000);
    CHECK_EQ(vlapic_next_deadline(&l), 20006400);
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 0, 20000001);
    CHECK_EQ(vlapic_next_deadline(&l), VTIME_NEVER);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 20000002), 0);
    CHECK_EQ(vlapic_tick(&l, 30000000), VTIME_NEVER);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
}

TEST(timer_periodic)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_TIMER_DCR, 0xB);              /* divide by 1 */
    wr(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC);
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 250, 0); /* 10 us period */
    CHECK_EQ(vlapic_tick(&l, 0), 10000);
    CHECK_EQ(vlapic_tick(&l, 10000), 20000);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 10000), 250); /* reloaded */
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 12000), 200);
    CHECK_EQ(vlapic_tick(&l, 19999), 20000);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(vlapic_tick(&l, 20000), 30000);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    /* Late by several periods: one interrupt, next period after now. */
    CHECK_EQ(vlapic_tick(&l, 55000), 60000);
    CHECK_EQ(take(&l), 0xEC);
    CHECK_EQ(take(&l), -1);
    eoi(&l);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 55000), 125);
    CHECK_EQ(vlapic_tick(&l, 60000), 70000);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    /* Masking: keeps counting, no interrupts, no deadlines. */
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_LVT_MASKED | VLAPIC_TIMER_PERIODIC | 0xEC, 61000);
    CHECK_EQ(vlapic_tick(&l, 61000), VTIME_NEVER);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 95000), 125);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC, 95000);
    CHECK_EQ(vlapic_pending_vector(&l), -1); /* expiries while masked are gone */
    CHECK_EQ(vlapic_tick(&l, 95000), 100000);
}

TEST(timer_divider_change_mid_count)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_TIMER_DCR, 0x0); /* divide by 2: 80 ns */
    wr(&l, VLAPIC_LVT_TIMER, 0xEC);
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 1000, 0);
    CHECK_EQ(vlapic_tick(&l, 0), 80000);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 40000), 500);
    vlapic_mmio_write(&l, VLAPIC_TIMER_DCR, 0xB, 40000); /* divide by 1 */
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_DCR, 40000), 0xB);
    CHECK_EQ(vlapic_tick(&l, 40000), 60000);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 50000), 250);
    CHECK_EQ(vlapic_tick(&l, 60000), VTIME_NEVER);
    CHECK_EQ(take(&l), 0xEC);
    /* Every divider code (Figure 10-10). */
    static const struct { uint32_t dcr; uint64_t div; } codes[] = {
        { 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 }, { 0x8, 32 }, { 0x9, 64 }, { 0xA, 128 }, { 0xB, 1 },
    };
    for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        vlapic_mmio_write(&l, VLAPIC_TIMER_DCR, codes[i].dcr | 0x4, 1000000); /* bit 2 reserved */
        CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_DCR, 1000000), codes[i].dcr);
        vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 100, 1000000);
        CHECK_EQ(vlapic_next_deadline(&l), 1000000 + 100 * codes[i].div * 40);
    }
}

TEST(timer_mode_switches)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_TIMER_DCR, 0xB);
    /* Periodic -> one-shot mid count: runs out, then stays at 0. */
    wr(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC);
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 250, 0);
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xEC, 5000);
    CHECK_EQ(vlapic_tick(&l, 5000), 10000);
    CHECK_EQ(vlapic_tick(&l, 10000), VTIME_NEVER);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    /* A mode change does not start the timer. */
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC, 11000);
    CHECK_EQ(vlapic_tick(&l, 11000), VTIME_NEVER);
    /* One-shot -> periodic mid count: reloads. */
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xEC, 20000);
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 250, 20000);
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_PERIODIC | 0xEC, 21000);
    CHECK_EQ(vlapic_tick(&l, 30000), 40000);
    /* Into TSC-deadline mode: disarmed, initial count cleared. */
    vlapic_mmio_write(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_TSCDL | 0xEC, 31000);
    CHECK_EQ(vlapic_tick(&l, 31000), VTIME_NEVER);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_ICR, 31000), 0);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, 31000), 0);
}

TEST(tsc_deadline)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    /* Outside TSC-deadline mode the MSR reads 0 and ignores writes. */
    vlapic_tsc_deadline_write(&l, 12345, 0);
    CHECK_EQ(vlapic_tsc_deadline_read(&l, 0), 0);
    /* Linux's lapic_next_deadline: LVTT in TSC-deadline mode, then WRMSR. */
    wr(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_TSCDL | 0xEC);
    vlapic_tsc_deadline_write(&l, 2500000, 0); /* TSC 2.5e6 = 1 ms */
    CHECK_EQ(vlapic_tsc_deadline_read(&l, 0), 2500000);
    CHECK_EQ(vlapic_tick(&l, 0), 1000000);
    CHECK_EQ(vlapic_tick(&l, 999999), 1000000);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(vlapic_tick(&l, 1000000), VTIME_NEVER);
    CHECK_EQ(vlapic_tsc_deadline_read(&l, 1000000), 0); /* disarmed itself */
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    /* Not a whole number of ns: rounded up, fires exactly then. */
    vlapic_tsc_deadline_write(&l, 2500001 * 2, 1500000);
    CHECK_EQ(vlapic_tick(&l, 1500000), 2000001);
    CHECK_EQ(vlapic_tick(&l, 2000000), 2000001);
    CHECK_EQ(vlapic_tick(&l, 2000001), VTIME_NEVER);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    /* A deadline in the past fires at once; 0 disarms. */
    vlapic_tsc_deadline_write(&l, 1, 3000000);
    CHECK_EQ(take(&l), 0xEC);
    eoi(&l);
    vlapic_tsc_deadline_write(&l, 100000000, 3000000);
    vlapic_tsc_deadline_write(&l, 0, 3000001);
    CHECK_EQ(vlapic_tick(&l, 100000000), VTIME_NEVER);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    /* Initial-count writes are ignored in this mode. */
    vlapic_mmio_write(&l, VLAPIC_TIMER_ICR, 100, 3000002);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_ICR, 3000002), 0);
    /* Leaving the mode disarms. */
    vlapic_tsc_deadline_write(&l, 100000000, 3000003);
    wr(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_ONESHOT | 0xEC);
    wr(&l, VLAPIC_LVT_TIMER, VLAPIC_TIMER_TSCDL | 0xEC);
    CHECK_EQ(vlapic_tsc_deadline_read(&l, 3000004), 0);
    CHECK_EQ(vlapic_tick(&l, 1000000000), VTIME_NEVER);
    /* Masked: expires silently and still disarms. */
    wr(&l, VLAPIC_LVT_TIMER, VLAPIC_LVT_MASKED | VLAPIC_TIMER_TSCDL | 0xEC);
    vlapic_tsc_deadline_write(&l, TSC_HZ * 2, 1000000000);
    CHECK_EQ(vlapic_tick(&l, 1000000000), VTIME_NEVER);
    CHECK_EQ(vlapic_tsc_deadline_read(&l, 2000000000), 0);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
}

/* ---------------------------------------------------------- x2APIC ---- */

TEST(x2apic_msr_interface)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    uint64_t v = 7;
    /* Not in x2APIC mode: every x2APIC MSR faults. */
    CHECK_EQ(vlapic_msr_read(&l, 0x802, &v, 0), VLAPIC_GP);
    CHECK_EQ(v, 0);
    CHECK_EQ(vlapic_msr_write(&l, 0x808, 0, 0), VLAPIC_GP);
    to_x2apic(&l);
    CHECK(vlapic_x2apic_mode(&l));
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0xFFFFFFFFu); /* MMIO gone */
    CHECK_EQ(vlapic_msr_read(&l, 0x802, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0);
    CHECK_EQ(vlapic_msr_read(&l, 0x803, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0x50014);
    CHECK_EQ(vlapic_msr_read(&l, 0x80D, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 1); /* logical x2APIC ID: cluster 0, bit 0 */
    CHECK_EQ(vlapic_msr_write(&l, 0x80F, 0x1FF, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_read(&l, 0x80F, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0x1FF);
    CHECK_EQ(vlapic_msr_write(&l, 0x808, 0x20, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_read(&l, 0x808, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0x20);
    CHECK_EQ(vlapic_msr_read(&l, 0x80A, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0x20);

    /* Reserved bits, upper halves, reserved and absent registers. */
    uint64_t before = l.stats.msr_gp;
    CHECK_EQ(vlapic_msr_write(&l, 0x808, 0x120, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_write(&l, 0x808, 1ull << 32, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_write(&l, 0x80F, 0x11FF, 0), VLAPIC_GP); /* no EOI suppression */
    CHECK_EQ(vlapic_msr_write(&l, 0x832, 0x1000EC | 0x400000, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_write(&l, 0x83E, 0x4, 0), VLAPIC_GP);
    static const uint32_t absent[] = { 0x800, 0x801, 0x804, 0x809, 0x80C, 0x80E, 0x82F, 0x831,
                                       0x83A, 0x83D, 0x840, 0x8FF };
    for (unsigned i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        CHECK_EQ(vlapic_msr_read(&l, absent[i], &v, 0), VLAPIC_GP);
        CHECK_EQ(vlapic_msr_write(&l, absent[i], 0, 0), VLAPIC_GP);
    }
    CHECK_EQ(vlapic_msr_read(&l, 0x900, &v, 0), VLAPIC_GP);
    /* Write-only registers do not read; read-only ones do not write. */
    CHECK_EQ(vlapic_msr_read(&l, 0x80B, &v, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_read(&l, 0x83F, &v, 0), VLAPIC_GP);
    static const uint32_t ro[] = { 0x802, 0x803, 0x80A, 0x80D, 0x810, 0x817, 0x818, 0x820, 0x827, 0x839 };
    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
        CHECK_EQ(vlapic_msr_write(&l, ro[i], 0, 0), VLAPIC_GP);
    /* EOI and ESR take only zero. */
    CHECK_EQ(vlapic_msr_write(&l, 0x80B, 1, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_write(&l, 0x828, 1, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_write(&l, 0x828, 0, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_read(&l, 0x828, &v, 0), VLAPIC_OK);
    CHECK_EQ(l.stats.msr_gp - before, 5 + 24 + 1 + 2 + 10 + 2);

    /* Interrupt flow over MSRs. */
    CHECK_EQ(vlapic_msr_write(&l, 0x808, 0, 0), VLAPIC_OK);
    vlapic_set_irq(&l, 0x61, true);
    CHECK_EQ(vlapic_msr_read(&l, 0x823, &v, 0), VLAPIC_OK); /* IRR 127:96 */
    CHECK_EQ(v, 2);
    CHECK_EQ(vlapic_msr_read(&l, 0x81B, &v, 0), VLAPIC_OK); /* TMR 127:96 */
    CHECK_EQ(v, 2);
    CHECK_EQ(take(&l), 0x61);
    CHECK_EQ(vlapic_msr_read(&l, 0x813, &v, 0), VLAPIC_OK); /* ISR 127:96 */
    CHECK_EQ(v, 2);
    CHECK_EQ(vlapic_msr_write(&l, 0x80B, 0, 0), VLAPIC_OK);
    CHECK_EQ(r.eoi_n, 1);
    CHECK_EQ(r.eoi_vec[0], 0x61);

    /* Timer over MSRs. */
    CHECK_EQ(vlapic_msr_write(&l, 0x83E, 0xB, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_write(&l, 0x832, 0xEC, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_write(&l, 0x838, 100, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_read(&l, 0x839, &v, 2000), VLAPIC_OK);
    CHECK_EQ(v, 50);
    CHECK_EQ(vlapic_tick(&l, 2000), 4000);
}

TEST(x2apic_icr_and_self_ipi)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    to_x2apic(&l);
    uint64_t v;
    CHECK_EQ(vlapic_msr_write(&l, 0x80F, 0x1FF, 0), VLAPIC_OK);
    /* One 64-bit ICR write: fixed, physical, destination x2APIC ID 0. */
    CHECK_EQ(vlapic_msr_write(&l, 0x830, 0x45, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_pending_vector(&l), 0x45);
    CHECK_EQ(vlapic_msr_read(&l, 0x830, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0x45);
    CHECK_EQ(take(&l), 0x45);
    wr(&l, VLAPIC_EOI, 0); /* MMIO is not decoded in x2APIC mode */
    CHECK_EQ(vlapic_msr_write(&l, 0x80B, 0, 0), VLAPIC_OK);
    /* Destination 1: nobody. Broadcast and logical cluster 0 bit 0: us. */
    CHECK_EQ(vlapic_msr_write(&l, 0x830, (1ull << 32) | 0x46, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(vlapic_msr_write(&l, 0x830, (0xFFFFFFFFull << 32) | 0x47, 0), VLAPIC_OK);
    CHECK_EQ(take(&l), 0x47);
    CHECK_EQ(vlapic_msr_write(&l, 0x80B, 0, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_write(&l, 0x830, (0x00000001ull << 32) | 0x800 | 0x48, 0), VLAPIC_OK);
    CHECK_EQ(take(&l), 0x48);
    CHECK_EQ(vlapic_msr_write(&l, 0x80B, 0, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_write(&l, 0x830, (0x00010001ull << 32) | 0x800 | 0x49, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_pending_vector(&l), -1); /* cluster 1: not us */
    /* Delivery status does not exist in x2APIC mode: reserved. */
    CHECK_EQ(vlapic_msr_write(&l, 0x830, 0x1000 | 0x4A, 0), VLAPIC_GP);
    /* SELF IPI register. */
    CHECK_EQ(vlapic_msr_write(&l, 0x83F, 0x4B, 0), VLAPIC_OK);
    CHECK(vec_in(l.irr, 0x4B));
    CHECK_EQ(vlapic_msr_write(&l, 0x83F, 0x14B, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_msr_write(&l, 0x83F, 0x05, 0), VLAPIC_OK); /* illegal: logged */
    CHECK_EQ(vlapic_msr_write(&l, 0x828, 0, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_msr_read(&l, 0x828, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, VLAPIC_ESR_SEND_ILLEGAL);
    /* NMI by shorthand self. */
    CHECK_EQ(vlapic_msr_write(&l, 0x830, 0x40000 | 0x400, 0), VLAPIC_OK);
    CHECK_EQ(r.nmi_n, 1);
}

/* ------------------------------------------------------- APIC base ---- */

TEST(apic_base_transitions)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    const uint64_t B = VLAPIC_BASE_ADDR | VLAPIC_BASE_BSP;
    const uint64_t EN = VLAPIC_BASE_EN, X2 = VLAPIC_BASE_EXTD;
    /* Reserved bits, relocation, the invalid state. */
    CHECK_EQ(vlapic_base_write(&l, B | EN | 1, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_base_write(&l, B | EN | (1 << 9), 0), VLAPIC_GP);
    CHECK_EQ(vlapic_base_write(&l, 0xFED00000ull | EN, 0), VLAPIC_GP_RELOCATE);
    CHECK_EQ(vlapic_base_write(&l, B | EN | (1ull << 40), 0), VLAPIC_GP_RELOCATE);
    CHECK_EQ(vlapic_base_write(&l, B | X2, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_base_read(&l), 0xFEE00900ull);
    /* The BSP flag is not writable; same-state writes are no-ops. */
    CHECK_EQ(vlapic_base_write(&l, VLAPIC_BASE_ADDR | EN, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_base_read(&l), 0xFEE00900ull);
    sw_enable(&l);
    wr(&l, VLAPIC_TPR, 0x30);
    vlapic_set_irq(&l, 0x80, false);
    /* xAPIC -> x2APIC keeps state. */
    CHECK_EQ(vlapic_base_write(&l, B | EN | X2, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_base_read(&l), 0xFEE00D00ull);
    uint64_t v;
    CHECK_EQ(vlapic_msr_read(&l, 0x808, &v, 0), VLAPIC_OK);
    CHECK_EQ(v, 0x30);
    CHECK_EQ(vlapic_pending_vector(&l), 0x80);
    /* x2APIC -> xAPIC is invalid. */
    CHECK_EQ(vlapic_base_write(&l, B | EN, 0), VLAPIC_GP);
    CHECK(vlapic_x2apic_mode(&l));
    /* x2APIC -> disabled: the APIC is gone, then comes back reset. */
    CHECK_EQ(vlapic_base_write(&l, B, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_base_read(&l), 0xFEE00100ull);
    CHECK(!vlapic_hw_enabled(&l));
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    CHECK_EQ(rd(&l, VLAPIC_VERSION), 0xFFFFFFFFu);
    CHECK_EQ(vlapic_msr_read(&l, 0x803, &v, 0), VLAPIC_GP);
    vlapic_set_irq(&l, 0x81, false);
    CHECK(vlapic_extint_routed(&l)); /* no APIC: INTR goes straight in */
    /* disabled -> x2APIC is invalid; -> xAPIC is fine. */
    CHECK_EQ(vlapic_base_write(&l, B | EN | X2, 0), VLAPIC_GP);
    CHECK_EQ(vlapic_base_write(&l, B | EN, 0), VLAPIC_OK);
    CHECK_EQ(rd(&l, VLAPIC_TPR), 0);
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0xFF);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x10000);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(rd(&l, VLAPIC_IRR + i * 0x10), 0);
    /* xAPIC -> disabled -> xAPIC also resets. */
    sw_enable(&l);
    CHECK_EQ(vlapic_base_write(&l, B, 0), VLAPIC_OK);
    CHECK_EQ(vlapic_base_write(&l, B | EN, 0), VLAPIC_OK);
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0xFF);
    CHECK_EQ(l.stats.msr_gp, 8);
}

TEST(disabling_stops_the_timer)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_LVT_TIMER, 0xEC);
    wr(&l, VLAPIC_TIMER_ICR, 1000);
    CHECK(vlapic_tick(&l, 0) != VTIME_NEVER);
    vlapic_base_write(&l, VLAPIC_BASE_ADDR, 10);
    CHECK_EQ(vlapic_tick(&l, 10), VTIME_NEVER);
    CHECK_EQ(vlapic_tick(&l, 1000000000), VTIME_NEVER);
    vlapic_base_write(&l, VLAPIC_BASE_ADDR | VLAPIC_BASE_EN, 1000000000);
    CHECK_EQ(vlapic_mmio_read(&l, VLAPIC_TIMER_ICR, 1000000000), 0);
    CHECK_EQ(vlapic_pending_vector(&l), -1);
}

/* ------------------------------------------------------------ LINT ---- */

TEST(lint0_extint_and_virtual_wire)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    /* Reset: LINT0 masked, the PIC is cut off until firmware sets up. */
    vlapic_set_lint(&l, 0, 1);
    CHECK(!vlapic_extint_pending(&l));
    vlapic_virtual_wire(&l);
    CHECK_EQ(rd(&l, VLAPIC_SVR), 0x1FF);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x700);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT1), 0x400);
    CHECK(vlapic_extint_routed(&l));
    CHECK(vlapic_extint_pending(&l));
    CHECK_EQ(vlapic_pending_vector(&l), -1); /* never through IRR */
    vlapic_set_lint(&l, 0, 0);
    CHECK(!vlapic_extint_pending(&l));
    /* Linux masks LINT0 once the I/O APIC takes over. */
    wr(&l, VLAPIC_LVT_LINT0, 0x10700);
    vlapic_set_lint(&l, 0, 1);
    CHECK(!vlapic_extint_routed(&l) && !vlapic_extint_pending(&l));
    wr(&l, VLAPIC_LVT_LINT0, 0x700);
    CHECK(vlapic_extint_pending(&l));
    /* Software-disable masks it. */
    wr(&l, VLAPIC_SVR, 0xFF);
    CHECK(!vlapic_extint_pending(&l));
    /* Hardware-disabled: INTR passes straight through. */
    vlapic_base_write(&l, VLAPIC_BASE_ADDR, 0);
    CHECK(vlapic_extint_pending(&l));
    vlapic_set_lint(&l, 0, 0);
    CHECK(!vlapic_extint_pending(&l));
    CHECK(vlapic_extint_routed(&l));
}

TEST(lint1_nmi)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    vlapic_set_lint(&l, 1, 1); /* masked at reset */
    vlapic_set_lint(&l, 1, 0);
    CHECK_EQ(r.nmi_n, 0);
    vlapic_virtual_wire(&l);
    vlapic_set_lint(&l, 1, 1);
    CHECK_EQ(r.nmi_n, 1);
    vlapic_set_lint(&l, 1, 1); /* no new edge */
    CHECK_EQ(r.nmi_n, 1);
    vlapic_set_lint(&l, 1, 0);
    vlapic_set_lint(&l, 1, 1);
    CHECK_EQ(r.nmi_n, 2);
    vlapic_set_lint(&l, 1, 0);
    /* SMI/INIT modes are ignored and counted; bad pins too. */
    wr(&l, VLAPIC_LVT_LINT1, 0x200);
    vlapic_set_lint(&l, 1, 1);
    vlapic_set_lint(&l, 1, 0);
    vlapic_set_lint(&l, 2, 1);
    vlapic_set_lint(&l, -1, 1);
    CHECK_EQ(l.stats.lint_ignored, 3);
    CHECK_EQ(r.nmi_n, 2);
    /* Without an APIC LINT1 is the NMI pin. */
    vlapic_base_write(&l, VLAPIC_BASE_ADDR, 0);
    vlapic_set_lint(&l, 1, 1);
    CHECK_EQ(r.nmi_n, 3);
}

TEST(lint0_fixed_level_remote_irr)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    sw_enable(&l);
    wr(&l, VLAPIC_LVT_LINT0, VLAPIC_LVT_LEVEL | 0x70);
    vlapic_set_lint(&l, 0, 1);
    CHECK(tmr_has(&l, 0x70));
    CHECK(rd(&l, VLAPIC_LVT_LINT0) & VLAPIC_LVT_REMOTE_IRR);
    CHECK_EQ(take(&l), 0x70);
    eoi(&l); /* still asserted: again */
    CHECK_EQ(r.eoi_n, 1);
    CHECK_EQ(take(&l), 0x70);
    vlapic_set_lint(&l, 0, 0);
    eoi(&l);
    CHECK(!(rd(&l, VLAPIC_LVT_LINT0) & VLAPIC_LVT_REMOTE_IRR));
    CHECK_EQ(take(&l), -1);
    /* Edge-triggered fixed LINT0: the rising edge only. */
    wr(&l, VLAPIC_LVT_LINT0, 0x71);
    vlapic_set_lint(&l, 0, 1);
    vlapic_set_lint(&l, 0, 1);
    CHECK_EQ(take(&l), 0x71);
    eoi(&l);
    CHECK_EQ(take(&l), -1);
    /* Remote IRR is read-only. */
    wr(&l, VLAPIC_LVT_LINT0, VLAPIC_LVT_REMOTE_IRR | 0x10071);
    CHECK_EQ(rd(&l, VLAPIC_LVT_LINT0), 0x10071);
}

/* ----------------------------------------------- determinism, fuzz ---- */

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const uint32_t known_offsets[] = {
    VLAPIC_ID, VLAPIC_VERSION, VLAPIC_TPR, VLAPIC_APR, VLAPIC_PPR, VLAPIC_EOI, VLAPIC_LDR, VLAPIC_DFR,
    VLAPIC_SVR, VLAPIC_ISR, VLAPIC_IRR + 0x70, VLAPIC_ESR, VLAPIC_ICR_LO, VLAPIC_ICR_HI,
    VLAPIC_LVT_TIMER, VLAPIC_LVT_THERMAL, VLAPIC_LVT_PERF, VLAPIC_LVT_LINT0, VLAPIC_LVT_LINT1,
    VLAPIC_LVT_ERROR, VLAPIC_TIMER_ICR, VLAPIC_TIMER_CCR, VLAPIC_TIMER_DCR,
};
#define NKNOWN (sizeof(known_offsets) / sizeof(known_offsets[0]))

static uint32_t rnd_value(void)
{
    switch (rng() % 4) {
    case 0: return (uint32_t)rng();
    case 1: return (uint32_t)rng() & 0x000FFFFF; /* plausible LVT/ICR values */
    case 2: return (uint32_t)(rng() % 64);       /* small counts */
    default: return 0;
    }
}

/* Write a register through whichever interface the current mode decodes. */
static void reg_set(struct vlapic *l, uint32_t off, uint32_t v, vtime_t now)
{
    if (vlapic_x2apic_mode(l))
        vlapic_msr_write(l, VLAPIC_MSR_X2APIC_FIRST + off / 16, v, now);
    else
        vlapic_mmio_write(l, off, v, now);
}

/* One random guest/platform action at `now`. Biased towards an enabled
 * APIC with a running timer so the deep paths are reached. */
static void random_step(struct vlapic *l, vtime_t now, int *bad)
{
    uint64_t v;
    int ret;
    switch (rng() % 16) {
    case 0: vlapic_mmio_read(l, (uint32_t)(rng() % 0x1100), now); break;
    case 1: vlapic_mmio_read(l, known_offsets[rng() % NKNOWN], now); break;
    case 2: vlapic_mmio_write(l, (uint32_t)rng() % 0x1100, (uint32_t)rng(), now); break;
    case 3: reg_set(l, known_offsets[rng() % NKNOWN], rnd_value(), now); break;
    case 4:
        ret = vlapic_msr_read(l, 0x7F0 + (uint32_t)(rng() % 0x120), &v, now);
        if (ret != VLAPIC_OK && ret != VLAPIC_GP)
            (*bad)++;
        break;
    case 5:
        ret = vlapic_msr_write(l, 0x7F0 + (uint32_t)(rng() % 0x120),
                               rng() % 2 ? rnd_value() : rng(), now);
        if (ret != VLAPIC_OK && ret != VLAPIC_GP)
            (*bad)++;
        break;
    case 6: {
        uint64_t b;
        switch (rng() % 16) {
        case 0: b = rng(); break;
        case 1: case 2: b = VLAPIC_BASE_ADDR | (rng() & 0xF00); break;
        default: b = vlapic_base_read(l) | VLAPIC_BASE_EN; break; /* mostly: (re-)enable */
        }
        ret = vlapic_base_write(l, b, now);
        if (ret != VLAPIC_OK && ret != VLAPIC_GP && ret != VLAPIC_GP_RELOCATE)
            (*bad)++;
        break;
    }
    case 7:
        if (rng() % 2)
            vlapic_tsc_deadline_write(l, vtime_to_ticks(now, TSC_HZ) + rng() % 10000000, now);
        else
            vlapic_tsc_deadline_read(l, now);
        break;
    case 8: vlapic_set_irq(l, (uint8_t)rng(), rng() % 2); break;
    case 9: {
        int p = vlapic_pending_vector(l);
        if (p >= 0)
            vlapic_ack(l, (uint8_t)p);
        else
            vlapic_ack(l, (uint8_t)rng());
        break;
    }
    case 10: vlapic_set_lint(l, (int)(rng() % 3), (int)(rng() % 2)); break;
    case 11: reg_set(l, VLAPIC_EOI, 0, now); break;
    case 12: vlapic_cr8_write(l, (uint8_t)rng()); break;
    case 13: reg_set(l, VLAPIC_SVR, 0x100 | (uint32_t)(rng() & 0xFF), now); break;
    case 14: /* program the timer */
        reg_set(l, VLAPIC_TIMER_DCR, (uint32_t)(rng() & 0xB), now);
        reg_set(l, VLAPIC_LVT_TIMER, (uint32_t)(rng() % 4) << 17 | (uint32_t)(rng() % 8 ? 0x20 + rng() % 0xD0 : rng() % 16), now);
        reg_set(l, VLAPIC_TIMER_ICR, (uint32_t)(rng() % 100000), now);
        break;
    default:
        if (rng() % 50 == 0)
            vlapic_virtual_wire(l);
        else
            vlapic_extint_pending(l);
        break;
    }
}

TEST(robustness_random_accesses)
{
    struct vlapic l;
    struct rec r;
    mk(&l, &r);
    rng_state = 0x9E3779B97F4A7C15ull;
    vtime_t now = 0;
    int bad = 0, bad_pending = 0, bad_deadline = 0, bad_low = 0, bad_ccr = 0;
    for (int i = 0; i < 100000; i++) {
        random_step(&l, now, &bad);
        int p = vlapic_pending_vector(&l);
        if (p != -1 && (p < 16 || p > 255))
            bad_pending++;
        if ((l.irr[0] | l.isr[0]) & 0xFFFF)
            bad_low++;
        if (vlapic_mmio_read(&l, VLAPIC_TIMER_CCR, now) > l.tmict && vlapic_hw_enabled(&l) &&
            !vlapic_x2apic_mode(&l))
            bad_ccr++;
        vtime_t d = vlapic_tick(&l, now);
        if (d != VTIME_NEVER && d <= now)
            bad_deadline++;
        /* A late tick at an earlier time changes nothing dangerous. */
        if (now && rng() % 16 == 0) {
            vtime_t t = rng() % now;
            d = vlapic_tick(&l, t);
            if (d != VTIME_NEVER && d < t)
                bad_deadline++;
        }
        /* Time: small steps, sometimes straight to the deadline, rarely huge. */
        switch (rng() % 8) {
        case 0: now += rng() % 1000000000ull; break;
        case 1: if (d != VTIME_NEVER && d > now && d - now < 1000000000ull) now = d; break;
        default: now += rng() % 20000; break;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(bad_pending, 0);
    CHECK_EQ(bad_deadline, 0);
    CHECK_EQ(bad_low, 0);
    CHECK_EQ(bad_ccr, 0);
    CHECK(l.stats.msr_gp > 0 && l.stats.bad_mmio > 0); /* the fuzz reached the error paths */
}

TEST(deterministic_replay)
{
    struct vlapic a, b;
    struct rec ra, rb;
    mk(&a, &ra);
    mk(&b, &rb);
    int bad = 0;
    for (int pass = 0; pass < 2; pass++) {
        rng_state = 12345;
        struct vlapic *l = pass ? &b : &a;
        vtime_t now = 0;
        for (int i = 0; i < 20000; i++) {
            random_step(l, now, &bad);
            vlapic_tick(l, now);
            now += rng() % 50000;
        }
    }
    CHECK_EQ(memcmp(&a.stats, &b.stats, sizeof(a.stats)), 0);
    CHECK_EQ(memcmp(a.irr, b.irr, sizeof(a.irr)), 0);
    CHECK_EQ(memcmp(a.isr, b.isr, sizeof(a.isr)), 0);
    CHECK_EQ(memcmp(a.lvt, b.lvt, sizeof(a.lvt)), 0);
    CHECK_EQ(vlapic_next_deadline(&a), vlapic_next_deadline(&b));
    CHECK_EQ(ra.eoi_n, rb.eoi_n);
    CHECK_EQ(ra.nmi_n, rb.nmi_n);
}

int main(void) { return test_main(); }
