/* A sampling profiler of the hypervisor ([debug] profile = on): the host's
 * 1 kHz LAPIC tick records where the hypervisor was; ticks that arrived
 * while a guest ran (taken right after its VM exit) count as the guest's.
 * At power-off, the functions that took the most samples, one line each.
 * In an emulator that counts instructions (Bochs), samples are in
 * proportion to instructions executed. */
#ifndef KERNEL_PROFILE_H
#define KERNEL_PROFILE_H

#include <stdint.h>
#include <stdbool.h>

void profile_enable(void);
/* The vCPU's entry/exit path: a guest is (about to be) running. */
void profile_guest(bool running);
/* From the timer interrupt: where the interrupted code was. */
void profile_tick(uint64_t rip);
/* The report (nothing when not enabled). */
void profile_report(void);

#endif
