/* The virtual I/O APIC; see ioapic.h for the contract and choices. Section
 * numbers refer to the Intel 82093AA I/O APIC datasheet. */
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include "vdev.h"
#include "ioapic.h"

#define DM_FIXED  0u
#define DM_LOWPRI 1u

/* 3.2.4: software-writable bits of an entry: vector 7:0, delivery mode
 * 10:8, destination mode 11, polarity 13, trigger mode 15, mask 16, and
 * the destination field 63:56. Delivery status (12) and remote IRR (14)
 * are read-only; the rest is reserved. */
#define RTE_WRITABLE_LO 0x0001AFFFu
#define RTE_WRITABLE_HI 0xFF000000u

static void reset_regs(struct vioapic *io)
{
    io->ioregsel = 0;
    io->id = 0;
    /* 3.2.4: the mask bits are set after reset. */
    for (unsigned i = 0; i < VIOAPIC_PINS; i++)
        io->redir[i] = VIOAPIC_RTE_MASKED;
}

void vioapic_init(struct vioapic *io, vioapic_deliver_fn deliver, void *ctx)
{
    memset(io, 0, sizeof(*io));
    io->deliver = deliver;
    io->ctx = ctx;
    reset_regs(io);
}

void vioapic_reset(struct vioapic *io) { reset_regs(io); }

static bool pin_asserted(const struct vioapic *io, unsigned pin)
{
    bool high = (io->pin_level >> pin) & 1u;
    /* 3.2.4 bit 13: active-low inputs are asserted when the wire is low. */
    return (io->redir[pin] & VIOAPIC_RTE_POLARITY) ? !high : high;
}

/* Fixed and lowest-priority interrupts honour the trigger mode; the other
 * delivery modes are edge-triggered (3.2.4, delivery mode table). */
static bool level_mode(uint32_t lo)
{
    unsigned dm = (lo >> 8) & 7u;
    return (lo & VIOAPIC_RTE_LEVEL) && (dm == DM_FIXED || dm == DM_LOWPRI);
}

/* Send the message of entry `pin` (its input is asserted, it is unmasked). */
static void send(struct vioapic *io, unsigned pin)
{
    uint64_t *rte = &io->redir[pin];
    uint32_t lo = (uint32_t)*rte;
    unsigned dm = (lo >> 8) & 7u;
    if (dm != DM_FIXED && dm != DM_LOWPRI) {
        io->stats.mode_ignored[dm]++;
        return;
    }
    uint32_t dest = (uint32_t)(*rte >> 56);
    /* 3.2.4 bit 11 and 63:56: physical mode names an APIC ID (ours is 0,
     * 0xFF broadcasts); logical mode a set of CPUs, which on this one-CPU
     * platform includes CPU 0 whenever it is not empty. */
    bool me = (lo & VIOAPIC_RTE_LOGICAL) ? dest != 0 : (dest == 0 || dest == 0xFFu);
    if (!me) {
        io->stats.not_for_me++;
        return;
    }
    bool level = level_mode(lo);
    /* Remote IRR before the callback, so a re-entrant caller sees it. */
    if (level)
        *rte |= VIOAPIC_RTE_REMOTEIRR;
    if (io->deliver)
        io->deliver(io->ctx, (uint8_t)(lo & 0xFFu), level);
}

/* A level-triggered entry delivers while its input is asserted, it is
 * unmasked and no earlier delivery awaits its EOI (remote IRR clear). */
static void level_eval(struct vioapic *io, unsigned pin)
{
    uint32_t lo = (uint32_t)io->redir[pin];
    if (level_mode(lo) && !(lo & (VIOAPIC_RTE_MASKED | VIOAPIC_RTE_REMOTEIRR)) && pin_asserted(io, pin))
        send(io, pin);
}

void vioapic_set_irq(struct vioapic *io, unsigned pin, int level)
{
    if (pin >= VIOAPIC_PINS) {
        io->stats.bad_pin++;
        return;
    }
    bool was = pin_asserted(io, pin);
    if (level)
        io->pin_level |= 1u << pin;
    else
        io->pin_level &= ~(1u << pin);
    bool is = pin_asserted(io, pin);
    uint32_t lo = (uint32_t)io->redir[pin];
    if (lo & VIOAPIC_RTE_MASKED)
        return; /* 3.2.4 bit 16: ignored while masked, edges are lost */
    if (level_mode(lo))
        level_eval(io, pin);
    else if (!was && is)
        send(io, pin); /* edge: the assertion edge only */
}

void vioapic_eoi(struct vioapic *io, uint8_t vector)
{
    /* The local APIC broadcasts the EOI of a level-triggered vector; every
     * entry with that vector and remote IRR set is done, and delivers
     * again if its input is still asserted. */
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
        uint64_t *rte = &io->redir[pin];
        if ((*rte & VIOAPIC_RTE_REMOTEIRR) && (*rte & 0xFFu) == vector) {
            *rte &= ~(uint64_t)VIOAPIC_RTE_REMOTEIRR;
            level_eval(io, pin);
        }
    }
}

/* ------------------------------------------------------- registers ---- */

static uint32_t reg_read(struct vioapic *io, uint32_t reg)
{
    switch (reg) {
    case VIOAPIC_REG_ID: return io->id;
    case VIOAPIC_REG_VER: return VIOAPIC_VERSION_VALUE;
    case VIOAPIC_REG_ARB: return io->id; /* 3.2.3: loaded when the ID is written */
    default: break;
    }
    if (reg >= VIOAPIC_REG_REDIR && reg < VIOAPIC_REG_REDIR + 2 * VIOAPIC_PINS) {
        uint64_t rte = io->redir[(reg - VIOAPIC_REG_REDIR) >> 1];
        return (reg & 1u) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
    }
    io->stats.bad_reg++;
    return 0;
}

static void reg_write(struct vioapic *io, uint32_t reg, uint32_t v)
{
    if (reg == VIOAPIC_REG_ID) {
        io->id = v & 0x0F000000u; /* 3.2.1: ID in bits 27:24 */
        return;
    }
    if (reg < VIOAPIC_REG_REDIR || reg >= VIOAPIC_REG_REDIR + 2 * VIOAPIC_PINS) {
        io->stats.bad_reg++; /* version, arbitration: read-only; others absent */
        return;
    }
    unsigned pin = (reg - VIOAPIC_REG_REDIR) >> 1;
    uint64_t *rte = &io->redir[pin];
    if (reg & 1u) {
        *rte = (*rte & 0xFFFFFFFFull) | ((uint64_t)(v & RTE_WRITABLE_HI) << 32);
        return;
    }
    uint32_t lo = (uint32_t)*rte;
    lo = (lo & VIOAPIC_RTE_REMOTEIRR) | (v & RTE_WRITABLE_LO);
    if (!level_mode(lo))
        lo &= ~VIOAPIC_RTE_REMOTEIRR; /* meaningless for edge; see ioapic.h */
    *rte = (*rte & 0xFFFFFFFF00000000ull) | lo;
    level_eval(io, pin);
}

uint32_t vioapic_mmio_read(struct vioapic *io, uint32_t offset)
{
    switch (offset) {
    case VIOAPIC_IOREGSEL: return io->ioregsel;
    case VIOAPIC_IOWIN: return reg_read(io, io->ioregsel);
    default:
        io->stats.bad_mmio++;
        return 0;
    }
}

void vioapic_mmio_write(struct vioapic *io, uint32_t offset, uint32_t value)
{
    switch (offset) {
    case VIOAPIC_IOREGSEL: io->ioregsel = value & 0xFFu; break; /* 3.1.1: bits 7:0 */
    case VIOAPIC_IOWIN: reg_write(io, io->ioregsel, value); break;
    default: io->stats.bad_mmio++; break;
    }
}

void vioapic_mmio_bad_access(struct vioapic *io) { io->stats.bad_mmio++; }
