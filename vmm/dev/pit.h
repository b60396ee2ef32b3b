/* The PC's Intel 8254 programmable interval timer (ports 0x40-0x43, input
 * clock 1193182 Hz) and the port 0x61 bits wired to it, modelled from the
 * Intel 8254 datasheet.
 *
 * Nothing is simulated tick by tick: each counter remembers the clock tick
 * at which its count was loaded, and its count and OUT at virtual time t
 * are computed from that. Clock tick k happens at virtual time
 * ticks_to_vtime(k, VPIT_HZ); a count written during tick k is loaded at
 * tick k + 1 (the datasheet's "next CLK pulse").
 *
 * Channel 0's OUT drives IRQ0: every rising edge becomes one irq_out pulse,
 * delivered by vpit_tick() (or by a write to the PIT, which first delivers
 * what was due). Channel 1 (DRAM refresh on old PCs) counts but drives
 * nothing. Channel 2's gate is port 0x61 bit 0 and its OUT reads back as
 * port 0x61 bit 5 (the speaker is not modelled beyond bit 1's value).
 *
 * Deviations from the datasheet, all for counts no sane guest uses:
 * - a count of 1 in mode 2 or 3 (illegal per the datasheet) acts as 2;
 * - BCD counts are honoured; invalid BCD digits are taken at face value
 *   (digit * weight) and reduced modulo 10000;
 * - a new count written while mode 3 runs takes effect at the end of the
 *   current full period (the datasheet: current half-cycle);
 * - while counting is disabled by the gate, OUT changes nothing else
 *   (e.g. mode 4's one-clock strobe is lost if the gate drops exactly on it).
 */
#ifndef VMM_DEV_PIT_H
#define VMM_DEV_PIT_H

#include "vdev.h"

#define VPIT_HZ 1193182u

/* Port 0x61 bit 4 (refresh request) toggles every 15.085 us of virtual time. */
#define VPIT_REFRESH_NS 15085u

struct vpit_channel {
    uint8_t ctrl;         /* bits 5:0 of the last control word (RW, M, BCD) */
    uint8_t mode;         /* 0-5 */
    uint8_t rw;           /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    bool gate;
    bool have_count;      /* a complete count was written since the control word */
    bool wmsb, rmsb;      /* write and read byte flip-flops (next byte is MSB) */
    uint8_t wlsb;         /* LSB written, awaiting the MSB */
    bool count_latched, status_latched;
    uint16_t olatch;      /* latched count (as read: BCD-encoded in BCD mode) */
    uint8_t status;       /* latched status byte */

    /* The counting element. When `running`, CE holds v0 at tick s and
     * counts from there; otherwise it holds `hold` and OUT is `out_idle`. */
    bool running;
    uint32_t n;           /* initial count in clocks (1..65536) */
    uint64_t s;
    uint32_t v0;
    uint32_t rem;         /* modes 0, 1, 4, 5: clocks from s to terminal count */
    bool tc_done;         /* ... terminal count already reached */
    uint32_t hold;
    bool out_idle;
    bool edge_at_start;   /* modes 2, 3: OUT rises at s (a period boundary) */
    bool pending;         /* modes 2, 3: next_n takes over at tick next_at */
    uint32_t next_n;
    uint64_t next_at;
    uint64_t null_until;  /* status NULL COUNT reads 1 before this tick */
};

struct vpit {
    struct vpit_channel ch[3];
    struct irq_out irq0;
    uint64_t irq_seen;    /* channel 0 edges at ticks <= this are delivered */
    uint8_t port61;       /* port 0x61 bits 3:0 as written */
};

/* Reset (counters unprogrammed, OUT low, channel 2 gate low) and wire
 * IRQ0. `irq0` is copied. */
void vpit_init(struct vpit *p, const struct irq_out *irq0);

/* Guest port access: 0x40-0x43 and 0x61 (others read 0xff, writes ignored).
 * `now` must not go backwards between calls (if it does, nothing breaks,
 * but counts are computed as if no time had passed). */
uint8_t vpit_read(struct vpit *p, uint16_t port, vtime_t now);
void vpit_write(struct vpit *p, uint16_t port, uint8_t v, vtime_t now);

/* Deliver the IRQ0 edges due up to `now` and return when the next one is
 * due (> now), or VTIME_NEVER. At most one pulse is delivered per call: if
 * the caller is late by several periods, the guest sees one interrupt for
 * all of them and has lost the others, as on a loaded real machine. Call it
 * at the returned time and after every vpit_write() (a write may move the
 * deadline). */
vtime_t vpit_tick(struct vpit *p, vtime_t now);

#endif
