/* Dual 8259A model. Behaviour follows the Intel 8259A datasheet
 * (initialization command words, operation command words, priority modes,
 * poll command, cascade mode), plus the PIIX/ICH ELCR registers that make
 * individual ISA inputs level-triggered. See pic.h. */
#include "pic.h"

#include <string.h>

#define MASTER 0
#define SLAVE  1
#define CASCADE_IR 2 /* the PC wires the slave's INT to master IR2 */

/* Inputs that are level-triggered: all of them with ICW1 LTIM, else ELCR. */
static uint8_t level_mask(const struct vpic_chip *c)
{
    return c->ltim ? 0xff : c->elcr;
}

/* IRR as the datasheet describes it: edge inputs latch a rising edge until
 * acknowledged; level inputs follow the line. */
static uint8_t irr(const struct vpic_chip *c)
{
    uint8_t lvl = level_mask(c);
    return (c->irr & ~lvl) | (c->lines & lvl);
}

/* Priority rank of an IR (0 = highest): the IR after `lowest` comes first. */
static unsigned rank(const struct vpic_chip *c, unsigned ir)
{
    return (ir - c->lowest - 1) & 7;
}

/* The highest-priority IR set in `bits`, or -1. */
static int highest(const struct vpic_chip *c, uint8_t bits)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned ir = (c->lowest + 1 + i) & 7;
        if (bits & (1u << ir))
            return (int)ir;
    }
    return -1;
}

/* The request this chip presents on INT, or -1: the highest-priority
 * unmasked IRR bit, if it has higher priority than every in-service level
 * (fully nested mode). In special mask mode a masked level's ISR bit does
 * not block lower levels. */
static int request(const struct vpic_chip *c)
{
    int r = highest(c, irr(c) & ~c->imr), s;
    if (r < 0)
        return -1;
    s = highest(c, c->smm ? c->isr & ~c->imr : c->isr);
    if (s >= 0 && rank(c, (unsigned)s) <= rank(c, (unsigned)r))
        return -1;
    return r;
}

/* Drive an input line; edge inputs latch on the rising edge (the latch is
 * only kept for edge inputs, level inputs are read from the line). */
static void set_line(struct vpic_chip *c, unsigned ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);
    if (level && !(c->lines & bit) && !(level_mask(c) & bit))
        c->irr |= bit;
    if (level)
        c->lines |= bit;
    else
        c->lines &= ~bit;
}

static bool cascaded(const struct vpic *p)
{
    const struct vpic_chip *m = &p->chip[MASTER];
    return !m->single && (m->icw3 & (1u << CASCADE_IR));
}

/* Propagate the slave's INT to master IR2 and report INTR changes. */
static void update(struct vpic *p)
{
    bool intr;
    set_line(&p->chip[MASTER], CASCADE_IR, request(&p->chip[SLAVE]) >= 0);
    intr = request(&p->chip[MASTER]) >= 0;
    if (intr != p->intr_level) {
        p->intr_level = intr;
        irq_out_set(&p->intr, intr);
    }
}

/* An acknowledged request: IRR -> ISR (unless in AEOI mode, where the EOI is
 * automatic at the end of INTA, optionally rotating priority). */
static void accept(struct vpic_chip *c, unsigned ir, bool aeoi)
{
    c->irr &= (uint8_t)~(1u << ir);
    if (!aeoi)
        c->isr |= (uint8_t)(1u << ir);
    else if (c->rotate_aeoi)
        c->lowest = (uint8_t)ir;
}

static void chip_reset(struct vpic_chip *c, uint8_t vbase, uint8_t icw3, uint8_t elcr_mask)
{
    memset(c, 0, sizeof(*c));
    c->vbase = vbase;
    c->icw3 = icw3;
    c->imr = 0xff;
    c->lowest = 7;
    c->ic4 = true;
    c->elcr_mask = elcr_mask;
}

void vpic_init(struct vpic *p, const struct irq_out *intr)
{
    memset(p, 0, sizeof(*p));
    if (intr)
        p->intr = *intr;
    /* ELCR: IRQ0, 1, 2, 8 and 13 cannot be level-triggered (PIIX/ICH). */
    chip_reset(&p->chip[MASTER], 0x08, 1u << CASCADE_IR, 0xf8);
    chip_reset(&p->chip[SLAVE], 0x70, CASCADE_IR, 0xde);
}

void vpic_set_irq(struct vpic *p, unsigned irq, int level)
{
    if (irq >= 16 || irq == CASCADE_IR)
        return;
    set_line(&p->chip[irq >> 3], irq & 7, level != 0);
    update(p);
}

bool vpic_intr(const struct vpic *p)
{
    return p->intr_level;
}

int vpic_pending_vector(const struct vpic *p)
{
    const struct vpic_chip *m = &p->chip[MASTER], *s = &p->chip[SLAVE];
    int r = request(m), q;
    if (r < 0)
        return -1;
    if (r != CASCADE_IR || !cascaded(p))
        return m->vbase + r;
    q = request(s);
    return s->vbase + (q < 0 ? 7 : q);
}

int vpic_ack(struct vpic *p)
{
    struct vpic_chip *m = &p->chip[MASTER], *s = &p->chip[SLAVE];
    int r = request(m), q, vec;

    /* No request at INTA (it went away): the 8259A answers IR7, without
     * setting an ISR bit. */
    if (r < 0)
        return m->vbase + 7;
    accept(m, (unsigned)r, m->aeoi);
    if (r == CASCADE_IR && cascaded(p)) {
        /* The master puts the cascade address out; the slave supplies the
         * vector, or its IR7 if its own request is gone. */
        q = request(s);
        if (q < 0) {
            vec = s->vbase + 7;
        } else {
            accept(s, (unsigned)q, s->aeoi);
            vec = s->vbase + q;
        }
        /* The slave's INT drops during its INTA: a request still present
         * afterwards (AEOI, nothing in service) is a new edge at IR2. */
        m->lines &= (uint8_t)~(1u << CASCADE_IR);
    } else {
        vec = m->vbase + r;
    }
    update(p);
    return vec;
}

/* OCW3 poll: the read acts as an interrupt acknowledge for this chip alone
 * and returns I (bit 7) and the level (bits 2:0). */
static uint8_t poll(struct vpic *p, struct vpic_chip *c)
{
    int r = request(c);
    c->poll = false;
    if (r < 0)
        return 0;
    /* "Sets the appropriate IS bit": no AEOI without an INTA pulse. For
     * master IR2 the guest polls the slave next. */
    accept(c, (unsigned)r, false);
    update(p);
    return (uint8_t)(0x80 | r);
}

static void ocw2(struct vpic_chip *c, uint8_t v)
{
    unsigned l = v & 7;
    int h;

    switch (v >> 5) {
    case 0: /* clear rotate in AEOI mode */
        c->rotate_aeoi = false;
        break;
    case 1: /* non-specific EOI: resets the highest-priority ISR bit */
        h = highest(c, c->isr);
        if (h >= 0)
            c->isr &= (uint8_t)~(1u << h);
        break;
    case 2: /* no operation */
        break;
    case 3: /* specific EOI */
        c->isr &= (uint8_t)~(1u << l);
        break;
    case 4: /* set rotate in AEOI mode */
        c->rotate_aeoi = true;
        break;
    case 5: /* rotate on non-specific EOI: the level served becomes lowest */
        h = highest(c, c->isr);
        if (h >= 0) {
            c->isr &= (uint8_t)~(1u << h);
            c->lowest = (uint8_t)h;
        }
        break;
    case 6: /* set priority: L becomes the lowest */
        c->lowest = (uint8_t)l;
        break;
    case 7: /* rotate on specific EOI */
        c->isr &= (uint8_t)~(1u << l);
        c->lowest = (uint8_t)l;
        break;
    }
}

static void chip_write(struct vpic_chip *c, bool a0, uint8_t v)
{
    if (!a0 && (v & 0x10)) {
        /* ICW1. Datasheet: the edge-sense latches are reset (a request
         * needs a new rising edge), IMR is cleared, IR7 gets the lowest
         * priority, special mask mode is cleared, status read is set to
         * IRR, and without IC4 all ICW4 functions are zero. ISR is not
         * among the things ICW1 clears. A0-A7 and ADI (MCS-80) are
         * ignored. */
        c->ic4 = v & 0x01;
        c->single = v & 0x02;
        c->ltim = v & 0x08;
        c->irr = 0;
        c->imr = 0;
        c->lowest = 7;
        c->smm = false;
        c->read_isr = false;
        c->poll = false;
        c->rotate_aeoi = false;
        if (!c->ic4) {
            c->aeoi = false;
            c->sfnm = false;
        }
        c->init_step = 2;
        return;
    }
    if (!a0) {
        if (v & 0x08) { /* OCW3 */
            if (v & 0x02)
                c->read_isr = v & 0x01;
            c->poll = v & 0x04;
            if (v & 0x40)
                c->smm = v & 0x20;
        } else {
            ocw2(c, v);
        }
        return;
    }
    switch (c->init_step) {
    case 2: /* ICW2: T7-T3 of the vector (8086 mode) */
        c->vbase = v & 0xf8;
        c->init_step = !c->single ? 3 : c->ic4 ? 4 : 0;
        break;
    case 3: /* ICW3: slave map (master) or slave ID (slave) */
        c->icw3 = v;
        c->init_step = c->ic4 ? 4 : 0;
        break;
    case 4: /* ICW4: uPM (8086 assumed either way), AEOI, BUF/M-S, SFNM */
        c->aeoi = v & 0x02;
        c->sfnm = v & 0x10;
        c->init_step = 0;
        break;
    default: /* OCW1 */
        c->imr = v;
        break;
    }
}

uint8_t vpic_read(struct vpic *p, uint16_t port)
{
    struct vpic_chip *c;
    bool a0 = port & 1;

    switch (port) {
    case 0x20: case 0x21: c = &p->chip[MASTER]; break;
    case 0xa0: case 0xa1: c = &p->chip[SLAVE]; break;
    case 0x4d0: return p->chip[MASTER].elcr;
    case 0x4d1: return p->chip[SLAVE].elcr;
    default: return 0xff;
    }
    if (c->poll)
        return poll(p, c);
    if (a0)
        return c->imr;
    return c->read_isr ? c->isr : irr(c);
}

void vpic_write(struct vpic *p, uint16_t port, uint8_t v)
{
    struct vpic_chip *c;

    switch (port) {
    case 0x20: case 0x21: c = &p->chip[MASTER]; break;
    case 0xa0: case 0xa1: c = &p->chip[SLAVE]; break;
    case 0x4d0: case 0x4d1:
        c = &p->chip[port & 1];
        c->elcr = v & c->elcr_mask;
        c->irr &= (uint8_t)~level_mask(c); /* latches only for edge inputs */
        update(p);
        return;
    default:
        return;
    }
    chip_write(c, port & 1, v);
    update(p);
}
