/* Host time: the TSC, calibrated at boot against the ACPI PM timer (or the
 * PIT), as a monotonic nanosecond clock. Host time is for the hypervisor's
 * own timeouts and logs only: guests see virtual time from the FT layer. */
#ifndef KERNEL_CLOCK_H
#define KERNEL_CLOCK_H

#include <stdint.h>
#include <stdbool.h>

/* At kernel entry: the zero of clock_ns(). */
void clock_early_init(void);
void clock_init(void);
/* Nanoseconds since kernel entry; 0 before calibration. */
uint64_t clock_ns(void);
uint64_t clock_tsc_hz(void);
bool clock_calibrated(void);
void clock_delay_us(uint64_t us);
/* Pure: the scale factor ns = (ticks * mult) >> 32 for a frequency. */
uint64_t clock_mult_for_hz(uint64_t hz);

#endif
