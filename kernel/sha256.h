/* SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and a constant-time
 * compare: the authentication of the FT logging channel (net/frame.c).
 *
 * Streaming contexts live in the caller's storage: no allocation, no global
 * state, no floating point or vector registers (the hypervisor is built
 * -mgeneral-regs-only). Messages are limited to 2^61 - 1 bytes (the 64-bit
 * bit count of FIPS 180-4). */
#ifndef KERNEL_SHA256_H
#define KERNEL_SHA256_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_BLOCK_SIZE 64

struct sha256_ctx {
    uint32_t h[8];                  /* the hash value H(i) */
    uint64_t len;                   /* message bytes so far */
    uint8_t block[SHA256_BLOCK_SIZE]; /* the partial block: len % 64 bytes */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Writes the digest and wipes the context (init again to reuse it). */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]);

/* A key prepared for HMAC: the SHA-256 states after the (K ^ ipad) and
 * (K ^ opad) blocks, so each message costs two compressions less. Holds
 * key-equivalent secrets; wipe with hmac_sha256_key_wipe() when done. */
struct hmac_sha256_key {
    uint32_t ih[8];
    uint32_t oh[8];
};

struct hmac_sha256_ctx {
    struct sha256_ctx inner;
    uint32_t oh[8];
};

/* Any key length: keys longer than 64 bytes are hashed first (RFC 2104). */
void hmac_sha256_key_init(struct hmac_sha256_key *k, const void *key, size_t keylen);
void hmac_sha256_key_wipe(struct hmac_sha256_key *k);
void hmac_sha256_init(struct hmac_sha256_ctx *c, const void *key, size_t keylen);
void hmac_sha256_init_key(struct hmac_sha256_ctx *c, const struct hmac_sha256_key *k);
void hmac_sha256_update(struct hmac_sha256_ctx *c, const void *data, size_t len);
/* Writes the MAC and wipes the context. */
void hmac_sha256_final(struct hmac_sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE]);
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 uint8_t out[SHA256_DIGEST_SIZE]);

/* a[0..n) == b[0..n), in time that depends on n only (for MACs). */
bool ct_equal(const void *a, const void *b, size_t n);

#endif
