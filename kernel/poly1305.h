/* Poly1305 (RFC 8439, section 2.5): a one-time authenticator. Its 32-byte
 * key (r, s) must authenticate one message only; the logging channel
 * derives a fresh key per frame (net/frame.c). Scalar 64-bit code, and
 * AVX2 code for long messages when kernel/simd.h allows (decided once at
 * boot by simd_init(); the guest's vector registers are saved around it).
 * Pure code otherwise: no allocation, no state of its own. */
#ifndef KERNEL_POLY1305_H
#define KERNEL_POLY1305_H

#include <stdint.h>
#include <stddef.h>

#define POLY1305_KEY 32
#define POLY1305_TAG 16

struct poly1305_ctx {
    uint64_t r[2], s1;       /* r in two 64-bit words; 5 * r1 / 4 (the reduction) */
    uint64_t h[3];           /* the accumulator: h0 + h1 2^64 + h2 2^128 */
    uint64_t pad[2];         /* s */
    uint8_t buf[16];
    size_t c;
};

void poly1305_init(struct poly1305_ctx *ctx, const uint8_t key[POLY1305_KEY]);
void poly1305_update(struct poly1305_ctx *ctx, const void *data, size_t len);
/* Writes the tag; the context is wiped. */
void poly1305_final(struct poly1305_ctx *ctx, uint8_t tag[POLY1305_TAG]);
void poly1305(uint8_t tag[POLY1305_TAG], const uint8_t key[POLY1305_KEY], const void *data, size_t len);

/* kernel/poly1305_avx2.c, for poly1305_update() (and the tests): takes
 * the accumulator h (as in struct poly1305_ctx; h2 <= 6 on entry, <= 4 on
 * return) through the first len / 64 groups of four full 16-byte blocks
 * at m, each block with its 2^128 bit, to a value congruent mod p to what
 * the scalar code gives. Returns the bytes consumed (len rounded down to
 * a multiple of 64). Only between simd_begin() and simd_end(). */
size_t poly1305_blocks_avx2(uint64_t h[3], const uint64_t r[2], const uint8_t *m, size_t len);

#endif
