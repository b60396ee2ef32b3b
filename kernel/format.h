/* printf-style formatting into a buffer (no libc). Supports the flags
 * '-', '0', ' ', '+', width and precision (also '*'), the length modifiers
 * hh h l ll z j t, and the conversions d i u x X o c s p %. */
#ifndef KERNEL_FORMAT_H
#define KERNEL_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* Like vsnprintf: always terminates when size > 0, returns the length the
 * full output would have had. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
