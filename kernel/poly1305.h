/* Poly1305 (RFC 8439, section 2.5): a one-time authenticator. Its 32-byte
 * key (r, s) must authenticate one message only; the logging channel
 * derives a fresh key per frame (net/frame.c). Scalar 64-bit code (no
 * SIMD between VM exits). Pure code. */
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

#endif
