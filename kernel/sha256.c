/* SHA-256 written from FIPS 180-4 (sections 4.1.2, 4.2.2, 5.1.1, 5.3.3,
 * 6.2), HMAC from RFC 2104 (with FIPS 198-1's naming), tested against the
 * NIST example vectors and RFC 4231 in tests/unit/test_crypto.c. */
#include "sha256.h"

#include <string.h>

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: the first 32 bits of the fractional parts of the square
 * roots of the first 8 primes. */
static const uint32_t sha256_h0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Clears secrets in a way the compiler cannot drop as a dead store. */
static void wipe(void *p, size_t n)
{
    memset(p, 0, n);
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 4.1.2 */
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ror(x, 2) ^ ror(x, 13) ^ ror(x, 22))
#define BSIG1(x) (ror(x, 6) ^ ror(x, 11) ^ ror(x, 25))
#define SSIG0(x) (ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))

/* One round of FIPS 180-4 6.2.2 step 3, with the working variables
 * renamed instead of moved: the caller rotates the arguments, and after
 * eight rounds they are back in place. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                       \
    do {                                                                       \
        uint32_t t1 = (h) + BSIG1(e) + CH(e, f, g) + sha256_k[t] + w[t];       \
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);                                 \
        (d) += t1;                                                             \
        (h) = t1 + t2;                                                         \
    } while (0)

/* FIPS 180-4 6.2.2, for nblocks consecutive 64-byte blocks. */
static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    uint32_t w[64];

    while (nblocks--) {
        /* Step 1: the message schedule */
        for (int t = 0; t < 16; t++)
            w[t] = load_be32(p + 4 * t);
        for (int t = 16; t < 64; t++)
            w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];

        /* Steps 2 to 4 */
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
        uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t += 8) {
            ROUND(a, b, c, d, e, f, g, hh, t);
            ROUND(hh, a, b, c, d, e, f, g, t + 1);
            ROUND(g, hh, a, b, c, d, e, f, t + 2);
            ROUND(f, g, hh, a, b, c, d, e, t + 3);
            ROUND(e, f, g, hh, a, b, c, d, t + 4);
            ROUND(d, e, f, g, hh, a, b, c, t + 5);
            ROUND(c, d, e, f, g, hh, a, b, t + 6);
            ROUND(b, c, d, e, f, g, hh, a, t + 7);
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
        p += SHA256_BLOCK_SIZE;
    }
    /* The schedule is derived from the message, which may be a key. */
    wipe(w, sizeof(w));
}

void sha256_init(struct sha256_ctx *c)
{
    memcpy(c->h, sha256_h0, sizeof(c->h));
    c->len = 0;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t fill = (size_t)(c->len % SHA256_BLOCK_SIZE);

    c->len += len;
    if (fill) {
        size_t n = SHA256_BLOCK_SIZE - fill;
        if (len < n) {
            if (len)
                memcpy(c->block + fill, p, len);
            return;
        }
        memcpy(c->block + fill, p, n);
        sha256_blocks(c->h, c->block, 1);
        p += n;
        len -= n;
    }
    if (len >= SHA256_BLOCK_SIZE) {
        sha256_blocks(c->h, p, len / SHA256_BLOCK_SIZE);
        p += len / SHA256_BLOCK_SIZE * SHA256_BLOCK_SIZE;
        len %= SHA256_BLOCK_SIZE;
    }
    if (len)
        memcpy(c->block, p, len);
}

/* FIPS 180-4 5.1.1: append 0x80, zeros to 56 mod 64, the 64-bit big-endian
 * bit length. */
static void sha256_pad(struct sha256_ctx *c)
{
    size_t fill = (size_t)(c->len % SHA256_BLOCK_SIZE);
    uint64_t bits = c->len * 8;

    c->block[fill++] = 0x80;
    if (fill > 56) {
        memset(c->block + fill, 0, SHA256_BLOCK_SIZE - fill);
        sha256_blocks(c->h, c->block, 1);
        fill = 0;
    }
    memset(c->block + fill, 0, 56 - fill);
    store_be32(c->block + 56, (uint32_t)(bits >> 32));
    store_be32(c->block + 60, (uint32_t)bits);
    sha256_blocks(c->h, c->block, 1);
}

void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE])
{
    sha256_pad(c);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->h[i]);
    wipe(c, sizeof(*c));
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

/* ---------------------------------------------------------------- HMAC ---
 * RFC 2104: HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)), where K0 is
 * K (hashed first if longer than the block) padded with zeros to 64 bytes,
 * ipad = 0x36 and opad = 0x5c repeated. */

void hmac_sha256_key_init(struct hmac_sha256_key *k, const void *key, size_t keylen)
{
    uint8_t k0[SHA256_BLOCK_SIZE];
    uint8_t pad[SHA256_BLOCK_SIZE];

    memset(k0, 0, sizeof(k0));
    if (keylen > SHA256_BLOCK_SIZE)
        sha256(key, keylen, k0);
    else if (keylen)
        memcpy(k0, key, keylen);

    for (int i = 0; i < SHA256_BLOCK_SIZE; i++)
        pad[i] = k0[i] ^ 0x36;
    memcpy(k->ih, sha256_h0, sizeof(k->ih));
    sha256_blocks(k->ih, pad, 1);

    for (int i = 0; i < SHA256_BLOCK_SIZE; i++)
        pad[i] = k0[i] ^ 0x5c;
    memcpy(k->oh, sha256_h0, sizeof(k->oh));
    sha256_blocks(k->oh, pad, 1);

    wipe(k0, sizeof(k0));
    wipe(pad, sizeof(pad));
}

void hmac_sha256_key_wipe(struct hmac_sha256_key *k) { wipe(k, sizeof(*k)); }

void hmac_sha256_init_key(struct hmac_sha256_ctx *c, const struct hmac_sha256_key *k)
{
    memcpy(c->inner.h, k->ih, sizeof(c->inner.h));
    c->inner.len = SHA256_BLOCK_SIZE;
    memcpy(c->oh, k->oh, sizeof(c->oh));
}

void hmac_sha256_init(struct hmac_sha256_ctx *c, const void *key, size_t keylen)
{
    struct hmac_sha256_key k;
    hmac_sha256_key_init(&k, key, keylen);
    hmac_sha256_init_key(c, &k);
    wipe(&k, sizeof(k));
}

void hmac_sha256_update(struct hmac_sha256_ctx *c, const void *data, size_t len)
{
    sha256_update(&c->inner, data, len);
}

void hmac_sha256_final(struct hmac_sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE])
{
    uint8_t ihash[SHA256_DIGEST_SIZE];
    struct sha256_ctx outer;

    sha256_final(&c->inner, ihash);
    memcpy(outer.h, c->oh, sizeof(outer.h));
    outer.len = SHA256_BLOCK_SIZE;
    sha256_update(&outer, ihash, sizeof(ihash));
    sha256_final(&outer, out);
    wipe(ihash, sizeof(ihash));
    wipe(c, sizeof(*c));
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                 uint8_t out[SHA256_DIGEST_SIZE])
{
    struct hmac_sha256_ctx c;
    hmac_sha256_init(&c, key, keylen);
    hmac_sha256_update(&c, data, len);
    hmac_sha256_final(&c, out);
}

bool ct_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    uint8_t d = 0;

    /* The empty asm hides d from the optimiser, so it can neither stop the
     * loop early nor branch on partial results. */
    for (size_t i = 0; i < n; i++) {
        d |= x[i] ^ y[i];
        __asm__("" : "+r"(d));
    }
    return d == 0;
}
