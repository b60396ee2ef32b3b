/* The C string functions the hypervisor, libfdt and lwIP need, freestanding
 * (implemented in kernel/string.c). Kernel code is built with -nostdinc, so
 * <string.h> resolves here and never to the C library of the build host. */
#ifndef KERNEL_LIBC_STRING_H
#define KERNEL_LIBC_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);

/* -ffreestanding also turns off the compiler's knowledge of these: these
 * give it back, so a copy, fill or comparison of a small known size is a
 * few moves (a word load for a little-endian field, say) instead of a call
 * and a byte loop; other sizes still call the functions above. */
#ifndef KERNEL_STRING_IMPL
#define memcpy(d, s, n) __builtin_memcpy(d, s, n)
#define memset(d, c, n) __builtin_memset(d, c, n)
#define memcmp(a, b, n) __builtin_memcmp(a, b, n)
#endif

#endif
