/* Bit counting without libgcc: the kernel is built for any x86-64, which
 * has no POPCNT instruction guaranteed, and gcc's __builtin_popcountll
 * would then call libgcc's __popcountdi2, which a freestanding kernel
 * does not link. */
#ifndef KERNEL_BITS_H
#define KERNEL_BITS_H

#include <stdint.h>

static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

#endif
