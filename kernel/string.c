/* Freestanding string functions. The loader links gnu-efi's libefi, which
 * already defines memcpy and memset: it compiles this file with
 * -DSTRING_NO_MEMCPY_MEMSET. */
#define KERNEL_STRING_IMPL /* the definitions below, not the builtins */
#include <string.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdint.h>

#ifndef STRING_NO_MEMCPY_MEMSET
void *memcpy(void *dst, const void *src, size_t n)
{
    /* REP MOVSB is fast on every CPU with ERMSB and correct everywhere;
     * large copies (log data, disk blocks, frames) go 8 bytes per
     * iteration, which an emulator counts as one instruction, not eight. */
    void *ret = dst;
    if (n >= 64) {
        size_t q = n / 8;
        __asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(q) : : "memory");
        n &= 7;
    }
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;
    /* Large aligned fills (guest RAM, page tables) go 8 bytes at a time:
     * far fewer iterations, which is what an emulator pays for. */
    if (n >= 64 && !((uintptr_t)dst & 7)) {
        size_t q = n / 8;
        uint64_t v = (uint8_t)c * 0x0101010101010101ull;
        __asm__ volatile("rep stosq" : "+D"(dst), "+c"(q) : "a"(v) : "memory");
        n &= 7;
    }
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}
#endif

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s || d >= s + n)
        return memcpy(dst, src, n); /* forward copying never overwrites what it has still to read */
    /* Overlapping with dst above src: backwards (DF set), restored after. */
    const unsigned char *sl = s + n - 1;
    unsigned char *dl = d + n - 1;
    __asm__ volatile("std; rep movsb; cld" : "+D"(dl), "+S"(sl), "+c"(n) : : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    /* Eight bytes at a time while they are equal (an emulator pays per
     * instruction), then byte by byte for the order of the first that
     * differs. */
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        __builtin_memcpy(&u, x + i, 8);
        __builtin_memcpy(&v, y + i, 8);
        if (u != v)
            break;
    }
    for (; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++)
        if (p[i] == (unsigned char)c)
            return (void *)(p + i);
    return NULL;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

char *strrchr(const char *s, int c)
{
    const char *last = NULL;
    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (!*s)
            return (char *)last;
    }
}

unsigned long strtoul(const char *s, char **end, int base)
{
    unsigned long v = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = 10;
    }
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'z')
            d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'Z')
            d = *s - 'A' + 10;
        else
            break;
        if (d >= base)
            break;
        v = v * base + d;
    }
    if (end)
        *end = (char *)s;
    return v;
}

int atoi(const char *s)
{
    int neg = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '-')
        neg = 1, s++;
    int v = (int)strtoul(s, NULL, 10);
    return neg ? -v : v;
}

char *strstr(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncmp(hay, needle, n) == 0)
            return (char *)hay;
    return n ? NULL : (char *)hay;
}
