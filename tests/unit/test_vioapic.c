/* vmm/dev/ioapic.c: the virtual 82093AA I/O APIC, programmed the way
 * Linux programs it (IOREGSEL/IOWIN, high dword before low dword). */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../vmm/dev/ioapic.h"
/* The combined IOAPIC + LAPIC test needs the local APIC too; the Makefile
 * links only ioapic.c into this test, so its source is included here. */
#include "../../vmm/dev/lapic.c"

struct drec {
    int n;
    uint8_t vec[64];
    bool level[64];
};

static void on_deliver(void *ctx, uint8_t vector, bool level)
{
    struct drec *d = ctx;
    if (d->n < 64) {
        d->vec[d->n] = vector;
        d->level[d->n] = level;
    }
    d->n++;
}

static void io_mk(struct vioapic *io, struct drec *d)
{
    memset(d, 0, sizeof(*d));
    vioapic_init(io, on_deliver, d);
}

static uint32_t io_get(struct vioapic *io, uint32_t reg)
{
    vioapic_mmio_write(io, VIOAPIC_IOREGSEL, reg);
    return vioapic_mmio_read(io, VIOAPIC_IOWIN);
}

static void io_put(struct vioapic *io, uint32_t reg, uint32_t v)
{
    vioapic_mmio_write(io, VIOAPIC_IOREGSEL, reg);
    vioapic_mmio_write(io, VIOAPIC_IOWIN, v);
}

/* Linux's ioapic_write_entry order: high dword, then low. */
static void io_route(struct vioapic *io, unsigned pin, uint32_t lo, uint8_t dest)
{
    io_put(io, VIOAPIC_REG_REDIR + 2 * pin + 1, (uint32_t)dest << 24);
    io_put(io, VIOAPIC_REG_REDIR + 2 * pin, lo);
}

static uint32_t io_lo(struct vioapic *io, unsigned pin) { return io_get(io, VIOAPIC_REG_REDIR + 2 * pin); }

TEST(id_version_arbitration)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_VER), 0x00170011);
    CHECK_EQ((io_get(&io, VIOAPIC_REG_VER) >> 16) & 0xFF, 23); /* 24 pins */
    CHECK_EQ(io_get(&io, VIOAPIC_REG_ID), 0);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_ARB), 0);
    io_put(&io, VIOAPIC_REG_ID, 0xFFFFFFFFu);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_ID), 0x0F000000);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_ARB), 0x0F000000);
    io_put(&io, VIOAPIC_REG_ID, 0x02000000); /* Linux: the MADT's ID */
    CHECK_EQ(io_get(&io, VIOAPIC_REG_ID), 0x02000000);
    io_put(&io, VIOAPIC_REG_VER, 0);
    io_put(&io, VIOAPIC_REG_ARB, 0);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_VER), 0x00170011);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_ARB), 0x02000000);
    CHECK_EQ(io.stats.bad_reg, 2);
}

TEST(ioregsel_and_reset_state)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    vioapic_mmio_write(&io, VIOAPIC_IOREGSEL, 0x12345678);
    CHECK_EQ(vioapic_mmio_read(&io, VIOAPIC_IOREGSEL), 0x78);
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
        CHECK_EQ(io_lo(&io, pin), VIOAPIC_RTE_MASKED);
        CHECK_EQ(io_get(&io, VIOAPIC_REG_REDIR + 2 * pin + 1), 0);
    }
    /* Registers past the table and in the gap read 0. */
    CHECK_EQ(io_get(&io, 0x40), 0);
    CHECK_EQ(io_get(&io, 0x03), 0);
    CHECK_EQ(io_get(&io, 0xFF), 0);
    CHECK_EQ(io.stats.bad_reg, 3);
}

TEST(program_redirection_entry)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    io_route(&io, 4, 0x34, 0);
    CHECK_EQ(io_lo(&io, 4), 0x34);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_REDIR + 9), 0);
    /* All bits: read-only and reserved ones stay clear. */
    io_put(&io, VIOAPIC_REG_REDIR + 2 * 5, 0xFFFFFFFFu);
    CHECK_EQ(io_lo(&io, 5), 0x0001AFFF);
    io_put(&io, VIOAPIC_REG_REDIR + 2 * 5 + 1, 0xFFFFFFFFu);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_REDIR + 2 * 5 + 1), 0xFF000000);
    /* Last entry (masked: an active-low input whose wire is low is
     * asserted, and would be delivered at once). */
    io_route(&io, 23, VIOAPIC_RTE_MASKED | VIOAPIC_RTE_LEVEL | VIOAPIC_RTE_POLARITY | 0x57, 0xFF);
    CHECK_EQ(io_lo(&io, 23), 0x1A057);
    CHECK_EQ(io_get(&io, VIOAPIC_REG_REDIR + 47), 0xFF000000);
    CHECK_EQ(d.n, 0);
    vioapic_reset(&io);
    CHECK_EQ(io_lo(&io, 4), VIOAPIC_RTE_MASKED);
}

TEST(edge_delivers_on_rising_edge)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    io_route(&io, 4, 0x34, 0);
    vioapic_set_irq(&io, 4, 1);
    CHECK_EQ(d.n, 1);
    CHECK_EQ(d.vec[0], 0x34);
    CHECK(!d.level[0]);
    vioapic_set_irq(&io, 4, 1); /* still high: no edge */
    vioapic_set_irq(&io, 4, 0);
    CHECK_EQ(d.n, 1);
    vioapic_set_irq(&io, 4, 1);
    vioapic_set_irq(&io, 4, 0); /* an irq_out pulse */
    CHECK_EQ(d.n, 2);
    CHECK(!(io_lo(&io, 4) & VIOAPIC_RTE_REMOTEIRR));
    vioapic_eoi(&io, 0x34); /* EOI means nothing to an edge entry */
    CHECK_EQ(d.n, 2);
}

TEST(level_remote_irr_and_eoi_redelivery)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    io_route(&io, 9, VIOAPIC_RTE_LEVEL | 0x39, 0);
    vioapic_set_irq(&io, 9, 1);
    CHECK_EQ(d.n, 1);
    CHECK(d.level[0]);
    CHECK(io_lo(&io, 9) & VIOAPIC_RTE_REMOTEIRR);
    vioapic_set_irq(&io, 9, 1);
    vioapic_set_irq(&io, 9, 0);
    vioapic_set_irq(&io, 9, 1);
    CHECK_EQ(d.n, 1); /* remote IRR holds it back */
    vioapic_eoi(&io, 0x38); /* other vector */
    CHECK_EQ(d.n, 1);
    vioapic_eoi(&io, 0x39); /* still asserted: delivered again */
    CHECK_EQ(d.n, 2);
    CHECK(io_lo(&io, 9) & VIOAPIC_RTE_REMOTEIRR);
    vioapic_set_irq(&io, 9, 0);
    vioapic_eoi(&io, 0x39);
    CHECK_EQ(d.n, 2);
    CHECK(!(io_lo(&io, 9) & VIOAPIC_RTE_REMOTEIRR));
    vioapic_set_irq(&io, 9, 1);
    CHECK_EQ(d.n, 3);
    /* Remote IRR is read-only. */
    io_put(&io, VIOAPIC_REG_REDIR + 18, VIOAPIC_RTE_LEVEL | 0x39);
    CHECK(io_lo(&io, 9) & VIOAPIC_RTE_REMOTEIRR);
    CHECK_EQ(d.n, 3);
}

TEST(shared_vector_eoi)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    io_route(&io, 16, VIOAPIC_RTE_LEVEL | 0x60, 0);
    io_route(&io, 17, VIOAPIC_RTE_LEVEL | 0x60, 0);
    vioapic_set_irq(&io, 16, 1);
    vioapic_set_irq(&io, 17, 1);
    CHECK_EQ(d.n, 2);
    vioapic_set_irq(&io, 16, 0);
    vioapic_eoi(&io, 0x60); /* both done; 17 still asserted */
    CHECK_EQ(d.n, 3);
    CHECK(!(io_lo(&io, 16) & VIOAPIC_RTE_REMOTEIRR));
    CHECK(io_lo(&io, 17) & VIOAPIC_RTE_REMOTEIRR);
}

TEST(masking)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    /* Edge while masked: lost, also across the unmask. */
    io_route(&io, 4, VIOAPIC_RTE_MASKED | 0x34, 0);
    vioapic_set_irq(&io, 4, 1);
    io_route(&io, 4, 0x34, 0);
    CHECK_EQ(d.n, 0);
    vioapic_set_irq(&io, 4, 0);
    vioapic_set_irq(&io, 4, 1);
    CHECK_EQ(d.n, 1);
    /* Level while masked: delivered at unmask if still asserted. */
    io_route(&io, 10, VIOAPIC_RTE_MASKED | VIOAPIC_RTE_LEVEL | 0x3A, 0);
    vioapic_set_irq(&io, 10, 1);
    CHECK_EQ(d.n, 1);
    io_put(&io, VIOAPIC_REG_REDIR + 20, VIOAPIC_RTE_LEVEL | 0x3A);
    CHECK_EQ(d.n, 2);
    CHECK_EQ(d.vec[1], 0x3A);
    /* Masked while in service, EOI: nothing until unmasked. */
    io_put(&io, VIOAPIC_REG_REDIR + 20, VIOAPIC_RTE_MASKED | VIOAPIC_RTE_LEVEL | 0x3A);
    vioapic_eoi(&io, 0x3A);
    CHECK_EQ(d.n, 2);
    io_put(&io, VIOAPIC_REG_REDIR + 20, VIOAPIC_RTE_LEVEL | 0x3A);
    CHECK_EQ(d.n, 3);
    /* Deasserted while masked: nothing at unmask. */
    io_put(&io, VIOAPIC_REG_REDIR + 20, VIOAPIC_RTE_MASKED | VIOAPIC_RTE_LEVEL | 0x3A);
    vioapic_eoi(&io, 0x3A);
    vioapic_set_irq(&io, 10, 0);
    io_put(&io, VIOAPIC_REG_REDIR + 20, VIOAPIC_RTE_LEVEL | 0x3A);
    CHECK_EQ(d.n, 3);
}

TEST(polarity_active_low)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    /* A PCI-style line: level, active low, the wire idles high. */
    vioapic_set_irq(&io, 11, 1);
    io_route(&io, 11, VIOAPIC_RTE_POLARITY | VIOAPIC_RTE_LEVEL | 0x3B, 0);
    CHECK_EQ(d.n, 0);
    vioapic_set_irq(&io, 11, 0); /* asserted */
    CHECK_EQ(d.n, 1);
    vioapic_eoi(&io, 0x3B);
    CHECK_EQ(d.n, 2);
    vioapic_set_irq(&io, 11, 1); /* released */
    vioapic_eoi(&io, 0x3B);
    CHECK_EQ(d.n, 2);
    /* Edge, active low: the falling edge delivers. */
    vioapic_set_irq(&io, 12, 1);
    io_route(&io, 12, VIOAPIC_RTE_POLARITY | 0x3C, 0);
    vioapic_set_irq(&io, 12, 0);
    CHECK_EQ(d.n, 3);
    CHECK_EQ(d.vec[2], 0x3C);
    vioapic_set_irq(&io, 12, 1);
    CHECK_EQ(d.n, 3);
}

TEST(destinations)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    io_route(&io, 1, 0x31, 1); /* physical APIC ID 1: nobody */
    vioapic_set_irq(&io, 1, 1);
    CHECK_EQ(d.n, 0);
    CHECK_EQ(io.stats.not_for_me, 1);
    vioapic_set_irq(&io, 1, 0);
    io_route(&io, 1, 0x31, 0xFF); /* broadcast */
    vioapic_set_irq(&io, 1, 1);
    CHECK_EQ(d.n, 1);
    vioapic_set_irq(&io, 1, 0);
    io_route(&io, 1, VIOAPIC_RTE_LOGICAL | 0x31, 0x01); /* logical, CPU 0 */
    vioapic_set_irq(&io, 1, 1);
    CHECK_EQ(d.n, 2);
    vioapic_set_irq(&io, 1, 0);
    io_route(&io, 1, VIOAPIC_RTE_LOGICAL | 0x31, 0x00); /* empty set */
    vioapic_set_irq(&io, 1, 1);
    CHECK_EQ(d.n, 2);
    vioapic_set_irq(&io, 1, 0);
    io_route(&io, 1, 0x100 | 0x31, 0); /* lowest priority */
    vioapic_set_irq(&io, 1, 1);
    CHECK_EQ(d.n, 3);
    /* Level entry not delivered: no remote IRR stuck. */
    io_route(&io, 2, VIOAPIC_RTE_LEVEL | 0x32, 3);
    vioapic_set_irq(&io, 2, 1);
    CHECK(!(io_lo(&io, 2) & VIOAPIC_RTE_REMOTEIRR));
}

TEST(other_delivery_modes_are_counted)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    static const unsigned modes[] = { 2, 3, 4, 5, 6, 7 };
    for (unsigned i = 0; i < 6; i++) {
        io_route(&io, 3, VIOAPIC_RTE_LEVEL | (modes[i] << 8), 0);
        vioapic_set_irq(&io, 3, 1);
        CHECK(!(io_lo(&io, 3) & VIOAPIC_RTE_REMOTEIRR)); /* edge semantics */
        vioapic_set_irq(&io, 3, 1);
        vioapic_set_irq(&io, 3, 0);
        CHECK_EQ(io.stats.mode_ignored[modes[i]], 1);
    }
    CHECK_EQ(d.n, 0);
}

TEST(switching_to_edge_clears_remote_irr)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    io_route(&io, 9, VIOAPIC_RTE_LEVEL | 0x39, 0);
    vioapic_set_irq(&io, 9, 1);
    CHECK_EQ(d.n, 1);
    /* Linux's EOI for I/O APICs without an EOI register: mask + edge,
     * then back to level. */
    io_put(&io, VIOAPIC_REG_REDIR + 18, VIOAPIC_RTE_MASKED | 0x39);
    CHECK(!(io_lo(&io, 9) & VIOAPIC_RTE_REMOTEIRR));
    io_put(&io, VIOAPIC_REG_REDIR + 18, VIOAPIC_RTE_MASKED | VIOAPIC_RTE_LEVEL | 0x39);
    CHECK_EQ(d.n, 1);
    io_put(&io, VIOAPIC_REG_REDIR + 18, VIOAPIC_RTE_LEVEL | 0x39);
    CHECK_EQ(d.n, 2); /* still asserted */
}

TEST(bad_offsets_and_pins)
{
    struct vioapic io;
    struct drec d;
    io_mk(&io, &d);
    CHECK_EQ(vioapic_mmio_read(&io, 0x04), 0);
    CHECK_EQ(vioapic_mmio_read(&io, 0x20), 0);
    CHECK_EQ(vioapic_mmio_read(&io, 0x40), 0);
    vioapic_mmio_write(&io, 0x40, 0x39); /* no EOI register on the 82093AA */
    vioapic_mmio_write(&io, 0xFFFFFFFFu, 1);
    vioapic_mmio_bad_access(&io);
    CHECK_EQ(io.stats.bad_mmio, 6);
    vioapic_set_irq(&io, 24, 1);
    vioapic_set_irq(&io, 0xFFFFFFFFu, 1);
    CHECK_EQ(io.stats.bad_pin, 2);
    CHECK_EQ(io.pin_level, 0);
}

/* ------------------------------------------------- IOAPIC + LAPIC ---- */

struct board {
    struct vioapic io;
    struct vlapic lapic;
    int eois;
};

static void board_deliver(void *ctx, uint8_t vector, bool level)
{
    struct board *b = ctx;
    vlapic_set_irq(&b->lapic, vector, level);
}

static void board_eoi(void *ctx, uint8_t vector)
{
    struct board *b = ctx;
    b->eois++;
    vioapic_eoi(&b->io, vector);
}

static void board_init(struct board *b)
{
    memset(b, 0, sizeof(*b));
    vioapic_init(&b->io, board_deliver, b);
    struct vlapic_cb cb = { board_eoi, NULL, b };
    vlapic_init(&b->lapic, 25000000, 2500000000ull, &cb);
    vlapic_mmio_write(&b->lapic, VLAPIC_SVR, 0x1FF, 0);
}

static int cpu_take(struct vlapic *l)
{
    int v = vlapic_pending_vector(l);
    if (v >= 0)
        vlapic_ack(l, (uint8_t)v);
    return v;
}

TEST(lapic_ioapic_level_line)
{
    struct board b;
    board_init(&b);
    io_route(&b.io, 11, VIOAPIC_RTE_LEVEL | 0x3B, 0);
    /* The device raises its line; the CPU takes the interrupt. */
    vioapic_set_irq(&b.io, 11, 1);
    CHECK_EQ(cpu_take(&b.lapic), 0x3B);
    CHECK(vec_test(b.lapic.tmr, 0x3B));
    /* The handler did not quiet the device: EOI re-delivers. */
    vlapic_mmio_write(&b.lapic, VLAPIC_EOI, 0, 0);
    CHECK_EQ(b.eois, 1);
    CHECK_EQ(cpu_take(&b.lapic), 0x3B);
    /* This time it did. */
    vioapic_set_irq(&b.io, 11, 0);
    vlapic_mmio_write(&b.lapic, VLAPIC_EOI, 0, 0);
    CHECK_EQ(b.eois, 2);
    CHECK_EQ(cpu_take(&b.lapic), -1);
    CHECK(!(io_lo(&b.io, 11) & VIOAPIC_RTE_REMOTEIRR));
    /* An edge line alongside (the keyboard): no EOI broadcast. */
    io_route(&b.io, 1, 0x31, 0);
    vioapic_set_irq(&b.io, 1, 1);
    vioapic_set_irq(&b.io, 1, 0);
    vioapic_set_irq(&b.io, 11, 1);
    CHECK_EQ(cpu_take(&b.lapic), 0x3B);
    CHECK_EQ(vlapic_pending_vector(&b.lapic), -1); /* 0x31: lower class */
    vioapic_set_irq(&b.io, 11, 0);
    vlapic_mmio_write(&b.lapic, VLAPIC_EOI, 0, 0);
    CHECK_EQ(cpu_take(&b.lapic), 0x31);
    vlapic_mmio_write(&b.lapic, VLAPIC_EOI, 0, 0);
    CHECK_EQ(b.eois, 3);
    CHECK_EQ(cpu_take(&b.lapic), -1);
}

TEST(lapic_ioapic_timer_pin2_through_x2apic)
{
    /* The PIT's IRQ0 on pin 2 (the MADT override), edge, with the LAPIC
     * in x2APIC mode: EOI by MSR, no broadcast. */
    struct board b;
    board_init(&b);
    vlapic_base_write(&b.lapic, 0xFEE00000ull | VLAPIC_BASE_BSP | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD, 0);
    io_route(&b.io, 2, 0x30, 0);
    for (int i = 0; i < 3; i++) {
        vioapic_set_irq(&b.io, 2, 1);
        vioapic_set_irq(&b.io, 2, 0);
        CHECK_EQ(cpu_take(&b.lapic), 0x30);
        CHECK_EQ(vlapic_msr_write(&b.lapic, 0x80B, 0, 0), VLAPIC_OK);
    }
    CHECK_EQ(b.eois, 0);
}

/* ------------------------------------------------------------ fuzz ---- */

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int fuzz_bad;
static struct vioapic *fuzz_io;

static void fuzz_deliver(void *ctx, uint8_t vector, bool level)
{
    int *n = ctx;
    (*n)++;
    /* A level delivery always has its remote IRR set by now. */
    if (level) {
        bool found = false;
        for (unsigned p = 0; p < VIOAPIC_PINS; p++)
            if ((fuzz_io->redir[p] & 0xFF) == vector && (fuzz_io->redir[p] & VIOAPIC_RTE_REMOTEIRR))
                found = true;
        if (!found)
            fuzz_bad++;
    }
}

TEST(robustness_random_accesses)
{
    struct vioapic io;
    int delivered = 0;
    vioapic_init(&io, fuzz_deliver, &delivered);
    fuzz_io = &io;
    fuzz_bad = 0;
    rng_state = 0xD1B54A32D192ED03ull;
    int bad_rte = 0;
    for (int i = 0; i < 100000; i++) {
        switch (rng() % 8) {
        case 0: vioapic_mmio_read(&io, (uint32_t)(rng() % 0x1100)); break;
        case 1: vioapic_mmio_write(&io, (uint32_t)(rng() % 0x1100), (uint32_t)rng()); break;
        case 2: vioapic_mmio_write(&io, VIOAPIC_IOREGSEL, (uint32_t)(rng() % 2 ? rng() % 0x40 : rng())); break;
        case 3: {
            /* Half noise, half plausible entries: fixed or lowest priority,
             * mostly unmasked, vectors the EOIs below hit. */
            uint32_t v = (uint32_t)(rng() % 2 ? rng()
                                              : ((rng() & 0xA900) | (rng() % 4 ? 0 : VIOAPIC_RTE_MASKED) |
                                                 (0x20 + rng() % 8)));
            if ((io.ioregsel & 1) && rng() % 4)
                v = 0; /* high dword: mostly destination APIC 0 */
            vioapic_mmio_write(&io, VIOAPIC_IOWIN, v);
            break;
        }
        case 4: vioapic_mmio_read(&io, VIOAPIC_IOWIN); break;
        case 5: case 6: vioapic_set_irq(&io, (unsigned)(rng() % 30), (int)(rng() % 2)); break;
        default: vioapic_eoi(&io, (uint8_t)(rng() % 2 ? rng() : 0x20 + rng() % 8)); break;
        }
        for (unsigned p = 0; p < VIOAPIC_PINS; p++) {
            uint32_t lo = (uint32_t)io.redir[p], hi = (uint32_t)(io.redir[p] >> 32);
            unsigned dm = (lo >> 8) & 7;
            if (lo & ~0x1FFFFu || lo & VIOAPIC_RTE_DELIVS || hi & 0x00FFFFFFu)
                bad_rte++;
            if ((lo & VIOAPIC_RTE_REMOTEIRR) && (!(lo & VIOAPIC_RTE_LEVEL) || dm > 1))
                bad_rte++;
        }
        if (io.pin_level >> VIOAPIC_PINS)
            bad_rte++;
    }
    CHECK_EQ(bad_rte, 0);
    CHECK_EQ(fuzz_bad, 0);
    CHECK(delivered > 0);
    CHECK(io.stats.bad_mmio > 0 && io.stats.bad_pin > 0 && io.stats.bad_reg > 0);
}

int main(void) { return test_main(); }
