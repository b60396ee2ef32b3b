/* vmm/dev/pic.c: the dual 8259A model, programmed as Linux's i8259 driver
 * programs it. */
#include "test.h"
#include "../../vmm/dev/pic.h"

struct rec {
    int level, sets;
    unsigned irq;
};

static void rec_intr(void *ctx, unsigned irq, int level)
{
    struct rec *r = ctx;
    r->sets++;
    r->level = level;
    r->irq = irq;
}

static void setup(struct vpic *p, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    struct irq_out o = { rec_intr, r, 0 };
    vpic_init(p, &o);
}

/* init_8259A(): mask all, ICW1-4 on both, then the cached masks. */
static void linux_init(struct vpic *p, uint8_t icw4)
{
    vpic_write(p, 0x21, 0xff);
    vpic_write(p, 0xa1, 0xff);
    vpic_write(p, 0x20, 0x11);
    vpic_write(p, 0x21, 0x20);
    vpic_write(p, 0x21, 0x04);
    vpic_write(p, 0x21, icw4);
    vpic_write(p, 0xa0, 0x11);
    vpic_write(p, 0xa1, 0x28);
    vpic_write(p, 0xa1, 0x02);
    vpic_write(p, 0xa1, icw4);
    vpic_write(p, 0x21, 0xfb); /* cascade unmasked */
    vpic_write(p, 0xa1, 0xff);
}

static void pulse(struct vpic *p, unsigned irq)
{
    vpic_set_irq(p, irq, 1);
    vpic_set_irq(p, irq, 0);
}

static void eoi(struct vpic *p, uint16_t port) { vpic_write(p, port, 0x20); }

static uint8_t read_isr(struct vpic *p, uint16_t port)
{
    vpic_write(p, port, 0x0b);
    return vpic_read(p, port);
}

static uint8_t read_irr(struct vpic *p, uint16_t port)
{
    vpic_write(p, port, 0x0a);
    return vpic_read(p, port);
}

TEST(reset_state_all_masked)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    CHECK_EQ(vpic_read(&p, 0x21), 0xff);
    CHECK_EQ(vpic_read(&p, 0xa1), 0xff);
    pulse(&p, 1);
    CHECK(!vpic_intr(&p));
    CHECK_EQ(vpic_pending_vector(&p), -1);
    vpic_write(&p, 0x21, 0xfd);
    CHECK_EQ(vpic_pending_vector(&p), 0x09); /* BIOS vector base 8 */
}

TEST(linux_init_sequence)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    CHECK_EQ(vpic_read(&p, 0x21), 0xfb);
    CHECK_EQ(vpic_read(&p, 0xa1), 0xff);
    CHECK_EQ(vpic_read(&p, 0x20), 0); /* IRR */
    CHECK(!vpic_intr(&p));
    vpic_write(&p, 0x21, 0xf9);
    pulse(&p, 1);
    CHECK(vpic_intr(&p));
    CHECK_EQ(r.level, 1);
    CHECK_EQ(vpic_pending_vector(&p), 0x21);
    CHECK_EQ(vpic_ack(&p), 0x21);
    CHECK(!vpic_intr(&p));
    CHECK_EQ(r.level, 0);
    CHECK_EQ(read_isr(&p, 0x20), 0x02);
    eoi(&p, 0x20);
    CHECK_EQ(read_isr(&p, 0x20), 0x00);
}

TEST(mask_unmask)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    pulse(&p, 3); /* masked: IRR latches, INTR stays low */
    CHECK(!vpic_intr(&p));
    CHECK_EQ(read_irr(&p, 0x20), 0x08);
    vpic_write(&p, 0x21, 0xf3);
    CHECK(vpic_intr(&p));
    CHECK_EQ(vpic_ack(&p), 0x23);
    vpic_write(&p, 0x21, 0xfb);
    eoi(&p, 0x20);
    CHECK_EQ(read_irr(&p, 0x20), 0x00);
    CHECK_EQ(r.sets, 2);
}

TEST(priority_irq0_beats_irq1)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0xf8);
    pulse(&p, 1);
    pulse(&p, 0);
    CHECK_EQ(vpic_pending_vector(&p), 0x20);
    CHECK_EQ(vpic_ack(&p), 0x20);
    CHECK(!vpic_intr(&p)); /* IRQ1 waits behind IRQ0 in service */
    eoi(&p, 0x20);
    CHECK_EQ(vpic_pending_vector(&p), 0x21);
    CHECK_EQ(vpic_ack(&p), 0x21);
    /* IRQ0 arriving while IRQ1 is in service nests */
    pulse(&p, 0);
    CHECK(vpic_intr(&p));
    CHECK_EQ(vpic_ack(&p), 0x20);
    CHECK_EQ(read_isr(&p, 0x20), 0x03);
    eoi(&p, 0x20); /* non-specific: the highest (IRQ0) */
    CHECK_EQ(read_isr(&p, 0x20), 0x02);
    eoi(&p, 0x20);
    CHECK_EQ(read_isr(&p, 0x20), 0x00);
}

TEST(slave_irq8_through_ir2)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0xa1, 0xfe);
    vpic_set_irq(&p, 8, 1);
    CHECK(vpic_intr(&p));
    CHECK_EQ(read_irr(&p, 0x20), 0x04);
    CHECK_EQ(vpic_pending_vector(&p), 0x28);
    CHECK_EQ(vpic_ack(&p), 0x28);
    vpic_set_irq(&p, 8, 0);
    CHECK_EQ(read_isr(&p, 0x20), 0x04);
    CHECK_EQ(read_isr(&p, 0xa0), 0x01);
    CHECK(!vpic_intr(&p));
    /* a master IRQ of lower priority than IR2 (IRQ3) waits too */
    vpic_write(&p, 0x21, 0xf3);
    pulse(&p, 3);
    CHECK(!vpic_intr(&p));
    eoi(&p, 0xa0);
    eoi(&p, 0x20);
    CHECK_EQ(vpic_ack(&p), 0x23);
    /* IRQ1 beats the whole slave, IRQ12 vs IRQ14 on the slave */
    vpic_write(&p, 0x21, 0xf9);
    vpic_write(&p, 0xa1, 0xaf);
    eoi(&p, 0x20);
    pulse(&p, 14);
    pulse(&p, 12);
    pulse(&p, 1);
    CHECK_EQ(vpic_ack(&p), 0x21);
    eoi(&p, 0x20);
    CHECK_EQ(vpic_ack(&p), 0x2c);
    eoi(&p, 0xa0);
    eoi(&p, 0x20);
    CHECK_EQ(vpic_ack(&p), 0x2e);
    eoi(&p, 0xa0);
    eoi(&p, 0x20);
    CHECK(!vpic_intr(&p));
    CHECK_EQ(read_isr(&p, 0x20) | read_isr(&p, 0xa0), 0);
}

TEST(irq2_input_is_the_cascade)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_set_irq(&p, 2, 1);
    vpic_set_irq(&p, 16, 1);
    vpic_set_irq(&p, 1000, 1);
    CHECK(!vpic_intr(&p));
}

TEST(specific_eoi)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0xe0);
    pulse(&p, 4);
    CHECK_EQ(vpic_ack(&p), 0x24);
    pulse(&p, 3);
    CHECK_EQ(vpic_ack(&p), 0x23);
    CHECK_EQ(read_isr(&p, 0x20), 0x18);
    vpic_write(&p, 0x20, 0x64); /* specific EOI IRQ4 (not the highest) */
    CHECK_EQ(read_isr(&p, 0x20), 0x08);
    vpic_write(&p, 0x20, 0x63);
    CHECK_EQ(read_isr(&p, 0x20), 0x00);
    /* Linux's mask_and_ack for a slave IRQ: specific EOI on both */
    vpic_write(&p, 0xa1, 0xfb);
    pulse(&p, 10);
    CHECK_EQ(vpic_ack(&p), 0x2a);
    vpic_write(&p, 0xa0, 0x62);
    vpic_write(&p, 0x20, 0x62);
    CHECK_EQ(read_isr(&p, 0x20) | read_isr(&p, 0xa0), 0);
}

TEST(edge_latches_level_follows)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x4d0, 0xff);
    vpic_write(&p, 0x4d1, 0xff);
    CHECK_EQ(vpic_read(&p, 0x4d0), 0xf8); /* IRQ0-2 are edge only */
    CHECK_EQ(vpic_read(&p, 0x4d1), 0xde); /* IRQ8, 13 too */
    vpic_write(&p, 0x4d0, 0x00);
    vpic_write(&p, 0x4d1, 0x04); /* IRQ10 level */
    vpic_write(&p, 0xa1, 0xf9);  /* IRQ9 edge, IRQ10 level */

    /* edge: a pulse is remembered */
    pulse(&p, 9);
    CHECK(vpic_intr(&p));
    CHECK_EQ(vpic_ack(&p), 0x29);
    vpic_write(&p, 0xa0, 0x20);
    eoi(&p, 0x20);
    CHECK(!vpic_intr(&p));
    /* edge: a line held high interrupts once */
    vpic_set_irq(&p, 9, 1);
    CHECK_EQ(vpic_ack(&p), 0x29);
    vpic_write(&p, 0xa0, 0x20);
    eoi(&p, 0x20);
    CHECK(!vpic_intr(&p));
    vpic_set_irq(&p, 9, 0);

    /* level: IRR follows the line, still pending after EOI while high */
    vpic_set_irq(&p, 10, 1);
    CHECK_EQ(vpic_ack(&p), 0x2a);
    vpic_write(&p, 0xa0, 0x20);
    eoi(&p, 0x20);
    CHECK(vpic_intr(&p));
    CHECK_EQ(vpic_pending_vector(&p), 0x2a);
    vpic_set_irq(&p, 10, 0);
    CHECK_EQ(read_irr(&p, 0xa0), 0x00);
    CHECK_EQ(read_irr(&p, 0x20), 0x04); /* master IR2 latched the edge... */
    CHECK_EQ(vpic_ack(&p), 0x2f);       /* ...so INTA finds the slave empty */
    eoi(&p, 0x20);
    CHECK(!vpic_intr(&p));
}

TEST(ltim_makes_all_inputs_level)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    vpic_write(&p, 0x20, 0x19); /* ICW1 LTIM */
    vpic_write(&p, 0x21, 0x20);
    vpic_write(&p, 0x21, 0x04);
    vpic_write(&p, 0x21, 0x01);
    vpic_write(&p, 0x21, 0xfe);
    pulse(&p, 0);
    CHECK(!vpic_intr(&p));
    vpic_set_irq(&p, 0, 1);
    CHECK_EQ(vpic_pending_vector(&p), 0x20);
}

TEST(icw1_resets_edge_sense)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0xfa);
    vpic_set_irq(&p, 0, 1); /* latched and still high */
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0xfa);
    CHECK(!vpic_intr(&p)); /* needs a new rising edge */
    vpic_set_irq(&p, 0, 0);
    vpic_set_irq(&p, 0, 1);
    CHECK_EQ(vpic_pending_vector(&p), 0x20);
}

TEST(poll_mode)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x20, 0x0c); /* OCW3 poll */
    CHECK_EQ(vpic_read(&p, 0x20), 0x00); /* nothing pending */
    vpic_write(&p, 0x21, 0xe3);
    pulse(&p, 4);
    pulse(&p, 3);
    vpic_write(&p, 0x20, 0x0c);
    CHECK_EQ(vpic_read(&p, 0x20), 0x83);
    CHECK_EQ(read_isr(&p, 0x20), 0x08);
    CHECK_EQ(vpic_read(&p, 0x21), 0xe3); /* poll is one-shot: next read is IMR */
    eoi(&p, 0x20);
    vpic_write(&p, 0x20, 0x0c);
    CHECK_EQ(vpic_read(&p, 0x21), 0x84); /* either A0 reads the poll word */
    eoi(&p, 0x20);
    CHECK(!vpic_intr(&p));
    /* slave polled through the master's IR2 */
    vpic_write(&p, 0xa1, 0xbf);
    pulse(&p, 14);
    vpic_write(&p, 0x20, 0x0c);
    CHECK_EQ(vpic_read(&p, 0x20), 0x82);
    vpic_write(&p, 0xa0, 0x0c);
    CHECK_EQ(vpic_read(&p, 0xa0), 0x86);
    CHECK_EQ(read_isr(&p, 0xa0), 0x40);
}

TEST(read_irr_isr_select)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0xf8);
    pulse(&p, 1);
    pulse(&p, 0);
    vpic_ack(&p);
    vpic_write(&p, 0x20, 0x0b);
    CHECK_EQ(vpic_read(&p, 0x20), 0x01);
    CHECK_EQ(vpic_read(&p, 0x20), 0x01); /* the selection sticks */
    vpic_write(&p, 0x20, 0x08);          /* RR=0: no change */
    CHECK_EQ(vpic_read(&p, 0x20), 0x01);
    vpic_write(&p, 0x20, 0x0a);
    CHECK_EQ(vpic_read(&p, 0x20), 0x02);
}

TEST(spurious_irq7)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x4d0, 0x20); /* IRQ5 level */
    vpic_write(&p, 0x21, 0xd0);
    vpic_set_irq(&p, 5, 1);
    CHECK(vpic_intr(&p));
    vpic_set_irq(&p, 5, 0); /* gone before the INTA */
    CHECK(!vpic_intr(&p));
    CHECK_EQ(vpic_pending_vector(&p), -1);
    CHECK_EQ(vpic_ack(&p), 0x27);
    CHECK_EQ(read_isr(&p, 0x20), 0x00); /* no ISR bit for a spurious IRQ7 */
    /* masking after INTR was raised gives the same */
    pulse(&p, 3);
    vpic_write(&p, 0x21, 0xff);
    CHECK_EQ(vpic_ack(&p), 0x27);
    CHECK_EQ(read_isr(&p, 0x20), 0x00);
}

TEST(spurious_irq15)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0xa1, 0xef); /* IRQ12 */
    pulse(&p, 12);
    CHECK(vpic_intr(&p));
    vpic_write(&p, 0xa1, 0xff); /* the slave's request vanishes */
    CHECK(vpic_intr(&p));       /* but master IR2 latched the edge */
    CHECK_EQ(vpic_pending_vector(&p), 0x2f);
    CHECK_EQ(vpic_ack(&p), 0x2f);
    CHECK_EQ(read_isr(&p, 0x20), 0x04); /* Linux EOIs the master only */
    CHECK_EQ(read_isr(&p, 0xa0), 0x00);
    eoi(&p, 0x20);
    CHECK(!vpic_intr(&p));
}

TEST(auto_eoi)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x03);
    vpic_write(&p, 0x21, 0xf8);
    vpic_write(&p, 0xa1, 0xfe);
    pulse(&p, 1);
    CHECK_EQ(vpic_ack(&p), 0x21);
    CHECK_EQ(read_isr(&p, 0x20), 0x00);
    pulse(&p, 1);
    CHECK_EQ(vpic_ack(&p), 0x21); /* no EOI needed */
    pulse(&p, 8);
    CHECK_EQ(vpic_ack(&p), 0x28);
    CHECK_EQ(read_isr(&p, 0x20) | read_isr(&p, 0xa0), 0);
    CHECK(!vpic_intr(&p));
}

TEST(rotate_commands)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0x00);
    /* rotate on non-specific EOI: IRQ0 served becomes lowest */
    pulse(&p, 0);
    CHECK_EQ(vpic_ack(&p), 0x20);
    vpic_write(&p, 0x20, 0xa0);
    pulse(&p, 0);
    pulse(&p, 1);
    CHECK_EQ(vpic_ack(&p), 0x21);
    vpic_write(&p, 0x20, 0xa0); /* IRQ1 now lowest: IRQ2 highest, IRQ0 above IRQ1 */
    CHECK_EQ(vpic_ack(&p), 0x20);
    eoi(&p, 0x20);
    /* set priority: IRQ3 lowest, IRQ4 highest */
    vpic_write(&p, 0x20, 0xc3);
    pulse(&p, 3);
    pulse(&p, 7);
    pulse(&p, 4);
    CHECK_EQ(vpic_ack(&p), 0x24);
    /* IRQ7 is below IRQ4 now, and IRQ3 below everything */
    CHECK(!vpic_intr(&p));
    vpic_write(&p, 0x20, 0xe4); /* rotate on specific EOI 4 */
    CHECK_EQ(vpic_ack(&p), 0x27);
    eoi(&p, 0x20);
    CHECK_EQ(vpic_ack(&p), 0x23);
    eoi(&p, 0x20);
    /* rotate in AEOI mode */
    linux_init(&p, 0x03);
    vpic_write(&p, 0x21, 0x00);
    vpic_write(&p, 0x20, 0x80);
    pulse(&p, 5);
    pulse(&p, 6);
    CHECK_EQ(vpic_ack(&p), 0x25); /* 5 becomes lowest */
    pulse(&p, 5);
    CHECK_EQ(vpic_ack(&p), 0x26);
    CHECK_EQ(vpic_ack(&p), 0x25);
}

TEST(special_mask_mode)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0x00);
    pulse(&p, 3);
    CHECK_EQ(vpic_ack(&p), 0x23);
    pulse(&p, 5);
    CHECK(!vpic_intr(&p)); /* fully nested: IRQ5 waits for IRQ3 */
    vpic_write(&p, 0x21, 0x08);
    vpic_write(&p, 0x20, 0x68); /* set special mask mode */
    CHECK(vpic_intr(&p));
    CHECK_EQ(vpic_ack(&p), 0x25);
    vpic_write(&p, 0x20, 0x65);
    vpic_write(&p, 0x20, 0x48); /* reset special mask mode */
    vpic_write(&p, 0x21, 0x00);
    vpic_write(&p, 0x20, 0x63);
    CHECK_EQ(read_isr(&p, 0x20), 0x00);
}

TEST(intr_callback_on_changes_only)
{
    struct vpic p;
    struct rec r;
    memset(&r, 0, sizeof(r));
    struct irq_out o = { rec_intr, &r, 42 };
    vpic_init(&p, &o);
    linux_init(&p, 0x01);
    vpic_write(&p, 0x21, 0xf8);
    pulse(&p, 1);
    pulse(&p, 0);
    pulse(&p, 1);
    CHECK_EQ(r.sets, 1);
    CHECK_EQ(r.irq, 42);
    vpic_ack(&p);
    CHECK_EQ(r.sets, 2);
    eoi(&p, 0x20);
    CHECK_EQ(r.sets, 3);
    CHECK_EQ(r.level, 1);
}

TEST(unknown_ports)
{
    struct vpic p;
    struct rec r;
    setup(&p, &r);
    CHECK_EQ(vpic_read(&p, 0x22), 0xff);
    CHECK_EQ(vpic_read(&p, 0x4d2), 0xff);
    vpic_write(&p, 0x22, 0x00);
    vpic_write(&p, 0xffff, 0x00);
    CHECK_EQ(vpic_read(&p, 0x21), 0xff);
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static bool vec_ok(const struct vpic *p, int v)
{
    for (int c = 0; c < 2; c++)
        if (v >= p->chip[c].vbase && v <= p->chip[c].vbase + 7)
            return true;
    return false;
}

TEST(fuzz_robustness)
{
    static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x22, 0xa2 };
    struct vpic p;
    struct rec r;
    int real_acks = 0;
    setup(&p, &r);
    rng_state = 0x8259;
    for (int i = 0; i < 100000; i++) {
        uint32_t x = rnd();
        uint8_t v = (uint8_t)x;
        uint16_t port = ports[(x >> 8) & 7];
        int sets = r.sets, vec;
        switch ((x >> 12) % 8) {
        case 0:
            vpic_write(&p, port, v);
            break;
        case 1:
            /* bias towards a working setup now and then */
            if ((x >> 16) % 64 == 0) {
                linux_init(&p, (x >> 24) & 1 ? 0x03 : 0x01);
                sets = r.sets; /* many writes: many changes allowed */
            } else
                vpic_write(&p, port, v);
            break;
        case 2:
            vpic_read(&p, port);
            break;
        case 3:
        case 4:
        case 5:
            vpic_set_irq(&p, (x >> 16) % 20, (x >> 24) & 1);
            break;
        case 6:
            vec = vpic_ack(&p);
            CHECK(vec >= 0 && vec <= 255);
            CHECK(vec_ok(&p, vec));
            real_acks += (vec & 7) != 7;
            break;
        default:
            vpic_write(&p, port & ~1, 0x20);
            break;
        }
        vec = vpic_pending_vector(&p);
        CHECK_EQ(vec < 0, !vpic_intr(&p));
        CHECK(vec < 0 || vec_ok(&p, vec));
        CHECK(r.sets - sets <= 1);
        CHECK_EQ(r.level, vpic_intr(&p));
        for (int c = 0; c < 2; c++) {
            CHECK(p.chip[c].lowest < 8);
            CHECK_EQ(p.chip[c].elcr & ~p.chip[c].elcr_mask, 0);
        }
        if (test_failed_now)
            break;
    }
    CHECK(real_acks > 1000); /* the loop does reach interrupt delivery */
}

int main(void) { return test_main(); }
