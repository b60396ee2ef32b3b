/* BLAKE2b as specified in RFC 7693 (sections 2 and 3). */
#include "blake2b.h"
#include <string.h>

/* The initialisation vector (RFC 7693, 2.6): SHA-512's. */
static const uint64_t iv[8] = {
    0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
    0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
};

/* Message word schedule (RFC 7693, 2.7); rounds 10 and 11 use rows 0, 1. */
static const uint8_t sigma[10][16] = {
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
    { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
    { 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
    { 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
    { 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
    { 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
    { 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
    { 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
    { 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
    { 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline uint64_t rotr(uint64_t x, unsigned n) { return x >> n | x << (64 - n); }

/* Little-endian words: x86-64 loads them as they are. */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The mixing function G (RFC 7693, 3.1), rotations 32, 24, 16, 63. */
#define G(a, b, c, d, x, y)              \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = rotr(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = rotr(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 63);    \
    } while (0)

/* The compression function F (RFC 7693, 3.2), 12 rounds. */
static void compress(struct blake2b_ctx *ctx, const uint8_t *block, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 16; i++)
        m[i] = load64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = ctx->h[i];
        v[i + 8] = iv[i];
    }
    v[12] ^= ctx->t[0];
    v[13] ^= ctx->t[1];
    if (last)
        v[14] = ~v[14];
    /* Every round spelled out, so that the schedule's indices are
     * constants and the words stay in registers: this loop is the cost. */
#define ROUND(r)                                                   \
    do {                                                           \
        G(0, 4, 8, 12, m[sigma[r][0]], m[sigma[r][1]]);            \
        G(1, 5, 9, 13, m[sigma[r][2]], m[sigma[r][3]]);            \
        G(2, 6, 10, 14, m[sigma[r][4]], m[sigma[r][5]]);           \
        G(3, 7, 11, 15, m[sigma[r][6]], m[sigma[r][7]]);           \
        G(0, 5, 10, 15, m[sigma[r][8]], m[sigma[r][9]]);           \
        G(1, 6, 11, 12, m[sigma[r][10]], m[sigma[r][11]]);         \
        G(2, 7, 8, 13, m[sigma[r][12]], m[sigma[r][13]]);          \
        G(3, 4, 9, 14, m[sigma[r][14]], m[sigma[r][15]]);          \
    } while (0)
    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
    ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(0); ROUND(1);
#undef ROUND
    for (int i = 0; i < 8; i++)
        ctx->h[i] ^= v[i] ^ v[i + 8];
}

static void count(struct blake2b_ctx *ctx, size_t n)
{
    ctx->t[0] += n;
    if (ctx->t[0] < n)
        ctx->t[1]++;
}

int blake2b_init(struct blake2b_ctx *ctx, size_t outlen, const void *key, size_t keylen)
{
    if (outlen == 0 || outlen > BLAKE2B_OUT_MAX || keylen > BLAKE2B_KEY_MAX || (keylen && !key))
        return -1;
    memset(ctx, 0, sizeof(*ctx));
    for (int i = 0; i < 8; i++)
        ctx->h[i] = iv[i];
    /* Parameter block word 0: digest length, key length, fanout 1, depth 1. */
    ctx->h[0] ^= 0x01010000ull ^ (uint64_t)keylen << 8 ^ outlen;
    ctx->outlen = outlen;
    if (keylen) {
        /* The key, zero-padded to a block, is the first block (RFC 7693, 3.3). */
        memcpy(ctx->buf, key, keylen);
        ctx->c = BLAKE2B_BLOCK;
    }
    return 0;
}

void blake2b_update(struct blake2b_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        /* A full buffer is compressed only once more data follows: the
         * last block must be compressed with the final flag. */
        if (ctx->c == BLAKE2B_BLOCK) {
            count(ctx, BLAKE2B_BLOCK);
            compress(ctx, ctx->buf, 0);
            ctx->c = 0;
        }
        if (ctx->c == 0) {
            /* Whole blocks straight from the input, all but a last one. */
            while (len > BLAKE2B_BLOCK) {
                count(ctx, BLAKE2B_BLOCK);
                compress(ctx, p, 0);
                p += BLAKE2B_BLOCK;
                len -= BLAKE2B_BLOCK;
            }
        }
        size_t n = BLAKE2B_BLOCK - ctx->c;
        if (n > len)
            n = len;
        memcpy(ctx->buf + ctx->c, p, n);
        ctx->c += n;
        p += n;
        len -= n;
    }
}

void blake2b_final(struct blake2b_ctx *ctx, void *out)
{
    count(ctx, ctx->c);
    memset(ctx->buf + ctx->c, 0, BLAKE2B_BLOCK - ctx->c);
    compress(ctx, ctx->buf, 1);
    uint8_t full[BLAKE2B_OUT_MAX];
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 8; b++)
            full[8 * i + b] = (uint8_t)(ctx->h[i] >> (8 * b));
    memcpy(out, full, ctx->outlen);
    memset(full, 0, sizeof(full));
    memset(ctx, 0, sizeof(*ctx));
}

int blake2b(void *out, size_t outlen, const void *key, size_t keylen, const void *data, size_t len)
{
    struct blake2b_ctx ctx;
    if (blake2b_init(&ctx, outlen, key, keylen))
        return -1;
    blake2b_update(&ctx, data, len);
    blake2b_final(&ctx, out);
    return 0;
}
