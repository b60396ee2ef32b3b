/* The PC's two cascaded Intel 8259A programmable interrupt controllers
 * (master at 0x20/0x21, slave at 0xa0/0xa1 on master IR2) and the chipset's
 * ELCR edge/level control registers (0x4d0/0x4d1), modelled from the Intel
 * 8259A datasheet and the PIIX/ICH ELCR description.
 *
 * Inputs: vpic_set_irq() with ISA IRQ 0-15 (IRQ 2 is the cascade and is
 * ignored). Output: the master's INTR pin, reported through an irq_out
 * whenever its level changes; the consumer (the LAPIC's LINT0 in ExtINT
 * mode, or the vCPU's interrupt window directly) then runs the INTA cycle
 * with vpic_ack() when the vCPU accepts the interrupt.
 *
 * The cascade input (master IR2) is driven by the slave's INT output and
 * latches its rising edges like any edge input, so a slave request that
 * vanishes before INTA gives the spurious IRQ 15 real PCs show.
 *
 * Not modelled: special fully nested mode (ICW4 SFNM is stored, ignored),
 * buffered mode, MCS-80/85 mode (ICW4 uPM=0 still gives 8086 vectors), the
 * slave's ID check (the slave always answers the master's IR2), AEOI on a
 * poll read (poll sets the ISR bit, as the datasheet words it). ICW1 leaves
 * ISR alone (the datasheet's list of what ICW1 resets does not include it). */
#ifndef VMM_DEV_PIC_H
#define VMM_DEV_PIC_H

#include "vdev.h"

struct vpic_chip {
    uint8_t irr;         /* edge-sense latches of edge-triggered inputs */
    uint8_t lines;       /* current input levels */
    uint8_t isr, imr;
    uint8_t elcr;        /* ELCR: 1 = level-triggered input */
    uint8_t elcr_mask;   /* ELCR bits that exist (IRQ0-2, 8, 13 are edge only) */
    uint8_t vbase;       /* ICW2: vector of IR0 (bits 7:3) */
    uint8_t icw3;        /* master: inputs with a slave; slave: its ID */
    uint8_t init_step;   /* 0: initialised; 2, 3, 4: next write is ICW2/3/4 */
    uint8_t lowest;      /* IR with the lowest priority (rotation) */
    bool ic4, single, ltim;
    bool aeoi, rotate_aeoi, sfnm;
    bool read_isr;       /* OCW3 RIS: A0=0 reads ISR instead of IRR */
    bool poll;           /* OCW3 P: the next read is a poll */
    bool smm;            /* special mask mode */
};

struct vpic {
    struct vpic_chip chip[2]; /* [0] master, [1] slave */
    struct irq_out intr;
    bool intr_level;
};

/* Reset both chips to the state a PC BIOS leaves them in (vectors 0x08 and
 * 0x70, slave on IR2, all inputs masked, edge-triggered) and wire INTR.
 * `intr` is copied; its irq number is passed through unchanged. */
void vpic_init(struct vpic *p, const struct irq_out *intr);

/* An input line changes level (0/1). IRQs >= 16 and IRQ 2 are ignored. */
void vpic_set_irq(struct vpic *p, unsigned irq, int level);

/* The INTR output level. */
bool vpic_intr(const struct vpic *p);

/* The vector the next INTA cycle would return, or -1 if INTR is low. */
int vpic_pending_vector(const struct vpic *p);

/* The INTA cycle: returns the vector (0-255) and moves the request from IRR
 * to ISR on the master and, for IR2, the slave (AEOI honoured). When no
 * request is left the 8259A answers with IR7 of the chip asked: master
 * vector base + 7 (spurious IRQ 7, no ISR bit set), or, when the master saw
 * the cascade but the slave's request vanished, slave base + 7 (spurious
 * IRQ 15; the master's ISR bit 2 is set, as on hardware). */
int vpic_ack(struct vpic *p);

/* Guest port access: 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 (other ports read
 * 0xff and ignore writes). */
uint8_t vpic_read(struct vpic *p, uint16_t port);
void vpic_write(struct vpic *p, uint16_t port, uint8_t v);

#endif
