/* The Internet checksum's sum (inet_sum.h).
 *
 * Ones'-complement addition is associative and commutative, and carries
 * out of bit 15 wrap into bit 0, so the 16-bit words can be added 64 bits
 * at a time with add-with-carry, the final carry wrapped, and the 64-bit
 * total folded to 16 bits at the end (RFC 1071, section 2, "Deferred
 * carries" and "Parallel summation"). Word boundaries are relative to p,
 * not to memory: x86 loads from any address, so an odd p needs no special
 * case. lwIP's own version 3 does 4 bytes per add with a carry test
 * (about one instruction per byte); this does 8 per ADC, which counts
 * where the hypervisor's instructions are the budget (an emulator) as
 * much as on hardware: the logging channel checksums every byte twice
 * (sender and receiver). */
#include "inet_sum.h"
#include <stddef.h>

uint16_t inet_sum(const void *p, int len)
{
    const uint8_t *b = p;
    uint64_t s = 0;
    if (len <= 0)
        return 0;
    size_t n = (size_t)len;
#if defined(__x86_64__)
    /* 32 bytes per iteration in one carry chain; the chain's last carry
     * goes back in at bit 0. */
    while (n >= 32) {
        __asm__("addq 0(%1), %0\n\tadcq 8(%1), %0\n\tadcq 16(%1), %0\n\tadcq 24(%1), %0\n\tadcq $0, %0"
                : "+r"(s)
                : "r"(b), "m"(*(const uint8_t(*)[32])b)
                : "cc");
        b += 32;
        n -= 32;
    }
#endif
    while (n >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, b, 8);
        s += w;
        s += s < w; /* the carry out of bit 63 wraps */
        b += 8;
        n -= 8;
    }
    if (n) {
        /* The last 1-7 bytes, zero-padded in place: little-endian loads
         * keep every byte in the same lane as a full load would. */
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)b[i] << (8 * i);
        s += w;
        s += s < w;
    }
    /* 64 -> 32 -> 16 bits, each fold's carry wrapped by the next. */
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}
