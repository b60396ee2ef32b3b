/* BLAKE2b (RFC 7693), plain and keyed: the logging channel's frame MAC.
 *
 * Keyed BLAKE2b is a MAC by itself (RFC 7693, 2.9: no HMAC construction
 * needed), and with 64-bit words it costs about a quarter of SHA-256's
 * instructions per byte in scalar code, which is what the hypervisor runs
 * (no SIMD between VM exits). Pure code: no globals, no allocation. */
#ifndef KERNEL_BLAKE2B_H
#define KERNEL_BLAKE2B_H

#include <stdint.h>
#include <stddef.h>

#define BLAKE2B_BLOCK 128
#define BLAKE2B_OUT_MAX 64
#define BLAKE2B_KEY_MAX 64

struct blake2b_ctx {
    uint64_t h[8];
    uint64_t t[2];                /* bytes compressed so far (128-bit counter) */
    uint8_t buf[BLAKE2B_BLOCK];   /* the block not yet compressed (it may be the last) */
    size_t c;                     /* bytes in buf */
    size_t outlen;
};

/* outlen 1..64, keylen 0..64 (key may be NULL when 0). -1 on bad sizes. */
int blake2b_init(struct blake2b_ctx *ctx, size_t outlen, const void *key, size_t keylen);
void blake2b_update(struct blake2b_ctx *ctx, const void *data, size_t len);
/* Writes ctx->outlen bytes; the context is spent (and wiped). */
void blake2b_final(struct blake2b_ctx *ctx, void *out);
/* All at once. -1 on bad sizes. */
int blake2b(void *out, size_t outlen, const void *key, size_t keylen, const void *data, size_t len);

#endif
