/* The few <stdlib.h> functions libfdt and lwIP use (kernel/string.c). */
#ifndef KERNEL_LIBC_STDLIB_H
#define KERNEL_LIBC_STDLIB_H

#include <stddef.h>

unsigned long strtoul(const char *s, char **end, int base);
int atoi(const char *s);

#endif
