/* The leveled log: one line per message, on every console (serial and
 * framebuffer), kept in a ring for the status page. Lines look like
 *   [    1.234567] subsystem: message
 *   [    1.234567] WARNING: subsystem: message */
#ifndef KERNEL_LOG_H
#define KERNEL_LOG_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level lvl, const char *subsys, const char *fmt, va_list ap);

#define log_error(sub, ...) log_msg(LOG_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) log_msg(LOG_DEBUG, sub, __VA_ARGS__)

/* Unprefixed output to the consoles (reports that span many lines). */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Pure: format one log line (with '\n') into buf; returns its length,
 * truncated to size-1. Unit-tested on the host. */
size_t log_format_line(char *buf, size_t size, uint64_t ns, enum log_level lvl, const char *subsys, const char *msg);

/* Copy the newest up-to-size bytes of the log ring (whole lines). */
size_t log_ring_read(char *buf, size_t size);

#endif
