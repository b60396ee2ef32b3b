/* Small string helpers that the C library lacks. Header-only so host unit
 * tests, the loader and the kernel share them without link conflicts. */
#ifndef KERNEL_STRUTIL_H
#define KERNEL_STRUTIL_H

#include <stddef.h>
#include <string.h>

/* Copy at most size-1 bytes and always terminate (size > 0); returns the
 * length of src, so truncation shows as a result >= size. */
static inline size_t str_copy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = 0;
    }
    return n;
}

#endif
