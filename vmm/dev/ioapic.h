/* The guest's virtual I/O APIC: one Intel 82093AA-compatible unit at
 * VIOAPIC_BASE_ADDR with 24 redirection entries (version 0x11).
 *
 * Written from the Intel 82093AA I/O Advanced Programmable Interrupt
 * Controller (IOAPIC) datasheet (section 3, "Register Description": 3.1
 * IOREGSEL/IOWIN, 3.2.1-3.2.3 ID/version/arbitration, 3.2.4 redirection
 * table). A pure state machine under the
 * rules of vdev.h; interrupts leave through the deliver callback.
 *
 * How the integrator wires it:
 *   - MMIO: 32-bit accesses to the page go to vioapic_mmio_read/write
 *     (IOREGSEL at offset 0x00, IOWIN at 0x10; every other offset reads 0
 *     and ignores writes, counted); other sizes to vioapic_mmio_bad_access.
 *   - Interrupt sources call vioapic_set_irq(pin, level) (an irq_out whose
 *     set function forwards there). `level` is the wire's electrical level
 *     and the entry's polarity bit decides what "asserted" means, as on
 *     the chip. vdev.h's irq_out uses 1 = asserted, which matches for the
 *     active-high lines (ISA edge IRQs). If the platform's ACPI tables
 *     declare a line active-low (the usual PCI INTx declaration), the
 *     guest programs that entry active-low: the platform must then drive
 *     the pin idle-high (1 at init) and pull it to 0 to assert. The
 *     simpler alternative is to declare PCI lines active-high, level.
 *   - deliver(ctx, vector, level_triggered) -> vlapic_set_irq.
 *   - The local APIC's EOI callback -> vioapic_eoi(vector).
 *
 * Choices and limitations:
 *   - One CPU, APIC ID 0. Fixed and lowest-priority entries are delivered
 *     when their destination includes it: physical mode with destination 0
 *     or the broadcast 0xFF, logical mode with any non-zero destination
 *     mask (the only logical IDs a one-CPU OS uses name CPU 0). Other
 *     destinations are counted in stats.not_for_me and dropped.
 *   - NMI, SMI, INIT, ExtINT and the reserved delivery modes are counted
 *     per mode in stats.mode_ignored[] and not delivered (Linux routes the
 *     PIC through the local APIC's LINT0, not through IOAPIC ExtINT);
 *     they are treated as edge-triggered, as the datasheet requires.
 *   - Remote IRR is set when a level-triggered interrupt is handed to
 *     deliver() and cleared by vioapic_eoi with its vector, or by
 *     reprogramming the entry as edge-triggered (what Linux does to clear
 *     a stuck remote IRR on I/O APICs without an EOI register).
 *   - Delivery status (bit 12) always reads 0: delivery is instantaneous.
 *   - Edges arriving while an entry is masked are lost (3.2.4 bit 16);
 *     level-triggered entries are re-evaluated whenever their entry is
 *     written (so an input still asserted at unmask delivers, as OSes
 *     masking a busy line expect) and on EOI. Reprogramming never creates
 *     an edge.
 *
 * Snapshots: struct vioapic holds all state; the only pointers are the
 * deliver callback and its context. */
#ifndef VMM_DEV_IOAPIC_H
#define VMM_DEV_IOAPIC_H

#include "vdev.h"

#define VIOAPIC_BASE_ADDR 0xFEC00000u
#define VIOAPIC_MMIO_SIZE 0x1000u
#define VIOAPIC_PINS 24u

#define VIOAPIC_IOREGSEL 0x00u
#define VIOAPIC_IOWIN    0x10u

/* Register indices behind IOREGSEL. */
#define VIOAPIC_REG_ID    0x00u
#define VIOAPIC_REG_VER   0x01u
#define VIOAPIC_REG_ARB   0x02u
#define VIOAPIC_REG_REDIR 0x10u /* entry n: low dword 0x10 + 2n, high 0x11 + 2n */

#define VIOAPIC_VERSION_VALUE 0x00170011u /* max redirection entry 23, version 0x11 */

/* Redirection entry low dword. */
#define VIOAPIC_RTE_DELIVS    (1u << 12)
#define VIOAPIC_RTE_POLARITY  (1u << 13) /* 1 = active low */
#define VIOAPIC_RTE_REMOTEIRR (1u << 14)
#define VIOAPIC_RTE_LEVEL     (1u << 15)
#define VIOAPIC_RTE_MASKED    (1u << 16)
#define VIOAPIC_RTE_LOGICAL   (1u << 11)

typedef void (*vioapic_deliver_fn)(void *ctx, uint8_t vector, bool level_triggered);

struct vioapic_stats {
    uint64_t bad_mmio;         /* unknown offsets, wrong sizes */
    uint64_t bad_reg;          /* IOWIN accesses to non-existent registers */
    uint64_t bad_pin;          /* vioapic_set_irq with pin >= 24 */
    uint64_t not_for_me;       /* fixed/lowest-priority messages to other APIC IDs */
    uint64_t mode_ignored[8];  /* by delivery mode: SMI 2, NMI 4, INIT 5, ExtINT 7, ... */
};

struct vioapic {
    uint32_t ioregsel;
    uint32_t id;                  /* bits 27:24 */
    uint64_t redir[VIOAPIC_PINS];
    uint32_t pin_level;           /* input wire levels, bit n = pin n */
    struct vioapic_stats stats;
    vioapic_deliver_fn deliver;
    void *ctx;
};

/* Power-up: every entry masked, ID 0. */
void vioapic_init(struct vioapic *io, vioapic_deliver_fn deliver, void *ctx);
/* RESET: registers back to power-up values; keeps the callback, the
 * statistics and the input wire levels. */
void vioapic_reset(struct vioapic *io);

uint32_t vioapic_mmio_read(struct vioapic *io, uint32_t offset);
void vioapic_mmio_write(struct vioapic *io, uint32_t offset, uint32_t value);
void vioapic_mmio_bad_access(struct vioapic *io); /* a non-32-bit access: counted only */

void vioapic_set_irq(struct vioapic *io, unsigned pin, int level);
void vioapic_eoi(struct vioapic *io, uint8_t vector);

#endif
