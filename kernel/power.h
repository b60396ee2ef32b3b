/* Ending the hypervisor's run: every path prints its reason as the last
 * console line ("ftvisor: power-off: REASON"), which the launchers and the
 * system tests read. */
#ifndef KERNEL_POWER_H
#define KERNEL_POWER_H

#include <stdint.h>
#include "config.h"

/* QEMU's isa-debug-exit port from [debug] exit_port (tests only): written
 * before ACPI power-off so the emulator's exit status carries the outcome. */
void power_set_exit_port(uint16_t port);
uint16_t power_exit_port(void);
#define EXIT_CODE_POWEROFF 0x10 /* QEMU exits with (0x10 << 1) | 1 = 33 */
#define EXIT_CODE_PANIC 0x11    /* 35 */

void power_off(const char *reason) __attribute__((noreturn));
void power_restart(const char *reason) __attribute__((noreturn));
void power_halt(const char *reason) __attribute__((noreturn));
/* What [debug] on_guest_exit asks for. */
void power_apply(enum cfg_on_exit action, const char *reason) __attribute__((noreturn));

#endif
