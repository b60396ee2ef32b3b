#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <stdint.h>

/* Report on every console as "ftvisor: PANIC: ..." with a stack trace,
 * then halt this CPU for good. The launchers stop on that line. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Print "  #N 0xADDR symbol+off" lines walking the frame-pointer chain. */
void stack_trace(uint64_t rbp, uint64_t rip);

/* Name of the function containing addr, or NULL; *off gets the offset. */
const char *ksym_lookup(uint64_t addr, uint64_t *off);

void halt_forever(void) __attribute__((noreturn));

#endif
