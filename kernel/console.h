/* The host consoles: COM1 and, when the firmware handed over a GOP
 * framebuffer, a text console on it. Both show the same bytes. */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

void console_write(const char *s, size_t n);

void serial_init(void);
bool serial_present(void);
void serial_write(const char *s, size_t n);
/* Wait until the UART has sent everything (before power-off). */
void serial_flush(void);
/* Bytes put in the transmit queue, and those the UART has taken, since
 * boot (equal when there is no UART): a byte counts as shown once sent. */
uint64_t serial_queued(void);
uint64_t serial_sent(void);

struct bootinfo;
void fbcon_init(const struct bootinfo *bi);
void fbcon_write(const char *s, size_t n);
bool fbcon_active(void);

#endif
