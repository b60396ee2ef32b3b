/* Poly1305 as specified in RFC 8439, section 2.5: the message in 16-byte
 * blocks, each with a 1 appended, accumulated as h = (h + block) * r
 * modulo p = 2^130 - 5; the tag is (h + s) modulo 2^128.
 *
 * h and r are kept in three limbs of 44, 44 and 42 bits, so a limb times
 * a limb fits 88 bits and three such products summed fit an unsigned
 * __int128 (plain MUL instructions, general registers only). A product's
 * part at 2^130 and above folds back multiplied by 5 (2^130 = 5 mod p):
 * limb weights are 2^0, 2^44, 2^88, so h1*r2 and h2*r1 land at 2^132 =
 * 4 * 2^130, i.e. times 20 at 2^0, and h2*r2 at 2^176, times 20 at 2^44. */
#include "poly1305.h"
#include <string.h>

#define M44 0xfffffffffffull
#define M42 0x3ffffffffffull

typedef unsigned __int128 u128;

static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void poly1305_init(struct poly1305_ctx *ctx, const uint8_t key[POLY1305_KEY])
{
    memset(ctx, 0, sizeof(*ctx));
    /* r: the key's first 16 bytes with the clamp of RFC 8439, 2.5.1
     * (r &= 0x0ffffffc0ffffffc0ffffffc0fffffff). */
    uint64_t t0 = le64(key) & 0x0ffffffc0fffffffull;
    uint64_t t1 = le64(key + 8) & 0x0ffffffc0ffffffcull;
    ctx->r[0] = t0 & M44;
    ctx->r[1] = (t0 >> 44 | t1 << 20) & M44;
    ctx->r[2] = t1 >> 24 & M42;
    ctx->s1r = ctx->r[1] * 20;
    ctx->s2 = ctx->r[2] * 20;
    ctx->pad[0] = le64(key + 16);
    ctx->pad[1] = le64(key + 24);
}

/* h = (h + m) * r for each 16-byte block of m; hibit: 2^128 (the 1
 * appended to a full block), or 0 for the padded last block. */
static void blocks(struct poly1305_ctx *ctx, const uint8_t *m, size_t len, uint64_t hibit)
{
    uint64_t r0 = ctx->r[0], r1 = ctx->r[1], r2 = ctx->r[2], s1 = ctx->s1r, s2 = ctx->s2;
    uint64_t h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2];
    for (; len >= 16; m += 16, len -= 16) {
        uint64_t t0 = le64(m), t1 = le64(m + 8);
        h0 += t0 & M44;
        h1 += (t0 >> 44 | t1 << 20) & M44;
        h2 += (t1 >> 24 & M42) | hibit << 40;
        u128 d0 = (u128)h0 * r0 + (u128)h1 * s2 + (u128)h2 * s1;
        u128 d1 = (u128)h0 * r1 + (u128)h1 * r0 + (u128)h2 * s2;
        u128 d2 = (u128)h0 * r2 + (u128)h1 * r1 + (u128)h2 * r0;
        /* Partial reduction: limbs back under 2^44 (h0 may exceed a bit). */
        uint64_t c = (uint64_t)(d0 >> 44);
        h0 = (uint64_t)d0 & M44;
        d1 += c;
        c = (uint64_t)(d1 >> 44);
        h1 = (uint64_t)d1 & M44;
        d2 += c;
        c = (uint64_t)(d2 >> 42);
        h2 = (uint64_t)d2 & M42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= M44;
        h1 += c;
    }
    ctx->h[0] = h0;
    ctx->h[1] = h1;
    ctx->h[2] = h2;
}

void poly1305_update(struct poly1305_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (ctx->c) {
        size_t n = 16 - ctx->c;
        if (n > len)
            n = len;
        memcpy(ctx->buf + ctx->c, p, n);
        ctx->c += n;
        p += n;
        len -= n;
        if (ctx->c < 16)
            return;
        blocks(ctx, ctx->buf, 16, 1);
        ctx->c = 0;
    }
    size_t whole = len & ~(size_t)15;
    blocks(ctx, p, whole, 1);
    memcpy(ctx->buf, p + whole, len - whole);
    ctx->c = len - whole;
}

void poly1305_final(struct poly1305_ctx *ctx, uint8_t tag[POLY1305_TAG])
{
    if (ctx->c) {
        /* The last, short block: a 1 byte after it, then zeros (2.5.1). */
        ctx->buf[ctx->c] = 1;
        memset(ctx->buf + ctx->c + 1, 0, 16 - ctx->c - 1);
        blocks(ctx, ctx->buf, 16, 0);
    }
    uint64_t h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2], c;
    /* Carry fully, twice round: h below 2^130 in canonical limbs. */
    for (int i = 0; i < 2; i++) {
        c = h1 >> 44;
        h1 &= M44;
        h2 += c;
        c = h2 >> 42;
        h2 &= M42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= M44;
        h1 += c;
    }
    /* h mod p: g = h + 5 - 2^130; take g when it did not go negative. */
    uint64_t g0 = h0 + 5;
    c = g0 >> 44;
    g0 &= M44;
    uint64_t g1 = h1 + c;
    c = g1 >> 44;
    g1 &= M44;
    uint64_t g2 = h2 + c - (1ull << 42);
    uint64_t take = (g2 >> 63) - 1; /* all ones when g >= 0 */
    h0 = (h0 & ~take) | (g0 & take);
    h1 = (h1 & ~take) | (g1 & take);
    h2 = (h2 & ~take) | (g2 & M42 & take);
    /* (h + s) mod 2^128, little-endian. */
    uint64_t w0 = h0 | h1 << 44, w1 = h1 >> 20 | h2 << 24;
    w0 += ctx->pad[0];
    w1 += ctx->pad[1] + (w0 < ctx->pad[0]);
    memcpy(tag, &w0, 8);
    memcpy(tag + 8, &w1, 8);
    volatile uint8_t *v = (volatile uint8_t *)ctx;
    for (size_t i = 0; i < sizeof(*ctx); i++)
        v[i] = 0;
}

void poly1305(uint8_t tag[POLY1305_TAG], const uint8_t key[POLY1305_KEY], const void *data, size_t len)
{
    struct poly1305_ctx c;
    poly1305_init(&c, key);
    poly1305_update(&c, data, len);
    poly1305_final(&c, tag);
}
