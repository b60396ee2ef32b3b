/* The host's local APIC (xAPIC MMIO or x2APIC MSRs, whichever the firmware
 * left enabled) and its timer, a periodic tick for the main loop. */
#ifndef KERNEL_LAPIC_H
#define KERNEL_LAPIC_H

#include <stdint.h>

void pic_disable(void);
void lapic_init(void);
void lapic_timer_start(uint32_t hz);
uint64_t lapic_ticks(void);
uint32_t lapic_timer_hz(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
/* The LVT performance-monitoring entry (offset 0x340; x2APIC MSR 0x834):
 * where a counter overflow is delivered (SDM Vol. 3A, "Local Vector
 * Table"). */
void lapic_set_lvt_pmc(uint32_t value);

#endif
