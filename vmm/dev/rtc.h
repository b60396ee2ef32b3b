/* The PC's Motorola MC146818A real-time clock and CMOS RAM (index port
 * 0x70 with bit 7 = NMI disable, data port 0x71, IRQ 8), modelled from the
 * MC146818A datasheet.
 *
 * The clock runs on virtual time: at virtual time t its reading is
 * epoch_seconds + t / 1e9 (whole seconds), with second boundaries at whole
 * virtual seconds, until the guest sets the time (registers B SET, or any
 * time register write) or resets the divider chain (register A DV = 11x;
 * the first update then comes 500 ms after the release, per the
 * datasheet). The update cycle is instantaneous at the second boundary;
 * UIP reads 1 during the 244 us (8 cycles of the 32.768 kHz time base)
 * before it. Flags in register C are computed lazily from virtual time, so
 * reads are exact whether or not vrtc_tick() was called in between.
 *
 * Deviations, documented:
 * - the time registers always read in the current format (register B DM,
 *   24/12): changing the format converts them, where the chip would keep
 *   the old bytes;
 * - invalid values written to time registers are clamped into range
 *   (seconds 0-59, hours 0-23 or 1-12, date 1..days in the month, ...),
 *   where the chip's behaviour is undefined;
 * - the day of week is kept as an offset from the true weekday of the date,
 *   so a guest-set weekday keeps incrementing with the date as on the chip;
 * - register 0x32 is the century, updated with the year (ACPI FADT CENTURY);
 * - daylight saving (B DSE) and the square-wave output (B SQWE) are stored
 *   but do nothing; DV values other than 010 (32.768 kHz) stop the clock;
 * - years past 9999 are not supported: epoch_seconds is clamped to
 *   9999-12-31 23:59:59. */
#ifndef VMM_DEV_RTC_H
#define VMM_DEV_RTC_H

#include "vdev.h"

#define VRTC_NVRAM_SIZE 128

/* Calendar fields of the time registers (binary). */
struct vrtc_fields {
    uint8_t sec, min, hour; /* hour 0-23 */
    uint8_t dow;            /* 1-7, 1 = Sunday */
    uint8_t mday, mon;      /* 1-31, 1-12 */
    uint8_t yy, cc;         /* year within the century, century */
};

struct vrtc {
    struct irq_out irq;
    uint8_t index;          /* port 0x70 bits 6:0 */
    bool nmi_masked;        /* port 0x70 bit 7 */
    uint8_t nvram[VRTC_NVRAM_SIZE]; /* CMOS bytes, incl. the alarm registers
                                       1, 3, 5; time, control registers and
                                       0x32 live below */
    uint8_t a, b, c;        /* registers A (bits 6:0), B, C (flags only) */
    int64_t secs;           /* the clock's time, Unix seconds */
    uint8_t dow_off;        /* register 6 minus the true weekday, mod 7 */
    vtime_t next_upd;       /* virtual time of the next update (a boundary) */
    uint32_t phase;         /* second boundaries: vtime = phase (mod 1e9) */
    uint64_t pf_seen;       /* 32.768 kHz cycles accounted for PF */
    struct vrtc_fields set; /* the time registers while SET = 1 */
    bool irq_level;
};

/* Reset and wire IRQ 8 (level: asserted while register C IRQF is set).
 * epoch_seconds is the UTC time at virtual time 0. Register A = 0x26
 * (running, 1024 Hz rate), B = 0x02 (24-hour, BCD), all NVRAM zero: the
 * platform may fill nvram[0x0e..0x7f] (e.g. memory sizes) after init. */
void vrtc_init(struct vrtc *r, const struct irq_out *irq, uint64_t epoch_seconds);

/* Guest port access: 0x70 (write-only index; reads 0xff) and 0x71. `now`
 * must not go backwards between calls (if it does, nothing breaks, but
 * the clock does not go back either). */
uint8_t vrtc_read(struct vrtc *r, uint16_t port, vtime_t now);
void vrtc_write(struct vrtc *r, uint16_t port, uint8_t v, vtime_t now);

/* Bring the flags and IRQ 8 up to `now` and return the next virtual time
 * (> now) at which they can change, or VTIME_NEVER: the next periodic
 * interrupt if PIE is set and PF clear, the next update if UIE or AIE is set
 * and UF or AF clear. Call it at that time and after every vrtc_read() or
 * vrtc_write() (reading register C, or changing A or B, moves it). */
vtime_t vrtc_tick(struct vrtc *r, vtime_t now);

/* Port 0x70 bit 7: the guest has masked NMIs. */
bool vrtc_nmi_masked(const struct vrtc *r);

#endif
