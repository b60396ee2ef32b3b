/* Poly1305 as specified in RFC 8439, section 2.5: the message in 16-byte
 * blocks, each with a 1 appended, accumulated as h = (h + block) * r
 * modulo p = 2^130 - 5; the tag is (h + s) modulo 2^128.
 *
 * h = h0 + h1 2^64 + h2 2^128 (h2 a few bits), r = r0 + r1 2^64. The
 * clamp leaves r0, r1 below 2^60 and r1 a multiple of 4, so a product's
 * part at 2^128 and above folds back exactly: 2^130 = 5 (mod p) makes
 * h1 r1 2^128 = h1 (r1 / 4) 2^130 = h1 s1 with s1 = 5 r1 / 4 = r1 + r1 / 4,
 * and h2 r1 2^192 = h2 s1 2^64. Four 64x64 multiplications and two small
 * ones per block, in unsigned __int128 (MUL: general registers only).
 *
 * Long runs of full blocks go to kernel/poly1305_avx2.c (four blocks at a
 * time, about a quarter of the instructions) when simd_begin() allows it
 * (kernel/simd.h: AVX2 present, the guest's vector state saved); the same
 * h comes out, so the tags are identical either way. */
#include "poly1305.h"
#include "simd.h"
#include <string.h>

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
    ctx->r[0] = le64(key) & 0x0ffffffc0fffffffull;
    ctx->r[1] = le64(key + 8) & 0x0ffffffc0ffffffcull;
    ctx->s1 = ctx->r[1] + (ctx->r[1] >> 2);
    ctx->pad[0] = le64(key + 16);
    ctx->pad[1] = le64(key + 24);
}

/* h = (h + m) * r for each 16-byte block of m; hibit: 1 for the 2^128
 * appended to a full block, 0 for the padded last block. Bounds (h2 <= 6
 * on entry, r0, r1, s1 < 2^61): d0, d1 < 2^126, d2 < 2^64, and the
 * reduction leaves h2 <= 4. */
static void blocks(struct poly1305_ctx *ctx, const uint8_t *m, size_t len, uint64_t hibit)
{
    const uint64_t r0 = ctx->r[0], r1 = ctx->r[1], s1 = ctx->s1;
    uint64_t h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2];
    for (; len >= 16; m += 16, len -= 16) {
        /* h += m + hibit 2^128, with the carries in 64-bit adds. */
        uint64_t c0 = __builtin_add_overflow(h0, le64(m), &h0);
        uint64_t c1 = __builtin_add_overflow(h1, le64(m + 8), &h1);
        c1 += __builtin_add_overflow(h1, c0, &h1);
        h2 += c1 + hibit;

        u128 p00 = (u128)h0 * r0, p11 = (u128)h1 * s1; /* at 2^0 */
        u128 p01 = (u128)h0 * r1, p10 = (u128)h1 * r0; /* at 2^64 */
        uint64_t p21 = h2 * s1, p20 = h2 * r0;         /* at 2^64, 2^128 (small) */
        /* d0 = p00 + p11 */
        uint64_t d0 = (uint64_t)p00, d0h = (uint64_t)(p00 >> 64);
        uint64_t c = __builtin_add_overflow(d0, (uint64_t)p11, &d0);
        d0h += (uint64_t)(p11 >> 64) + c;
        /* d1 = p01 + p10 + p21 + d0h */
        uint64_t d1 = (uint64_t)p01, d1h = (uint64_t)(p01 >> 64);
        c = __builtin_add_overflow(d1, (uint64_t)p10, &d1);
        d1h += (uint64_t)(p10 >> 64) + c;
        c = __builtin_add_overflow(d1, p21, &d1);
        d1h += c;
        c = __builtin_add_overflow(d1, d0h, &d1);
        d1h += c;
        /* d2 = p20 + d1h; fold the part at 2^130 and above, times 5. */
        uint64_t d2 = p20 + d1h;
        h0 = d0;
        h1 = d1;
        h2 = d2 & 3;
        c = (d2 >> 2) + (d2 & ~3ull);
        c = __builtin_add_overflow(h0, c, &h0);
        c = __builtin_add_overflow(h1, c, &h1);
        h2 += c;
    }
    ctx->h[0] = h0;
    ctx->h[1] = h1;
    ctx->h[2] = h2;
}

/* The AVX2 code for runs of at least this many bytes: below it, its setup
 * (powers of r, the final sum over the lanes) costs more than it saves
 * (callgrind: 128 bytes 751 instructions scalar, 810 AVX2; 192 bytes
 * 1015 and 907). */
#define AVX2_MIN 192

/* Full blocks through the AVX2 code if simd_begin() allows: returns the
 * bytes it consumed (a multiple of 64), 0 if it may not run. Out of line:
 * struct simd_state (64-byte aligned) stays off poly1305_update()'s frame. */
static __attribute__((noinline)) size_t blocks_simd(struct poly1305_ctx *ctx, const uint8_t *m, size_t len)
{
    struct simd_state s;
    if (!simd_begin(&s))
        return 0;
    size_t n = poly1305_blocks_avx2(ctx->h, ctx->r, m, len);
    simd_end(&s);
    return n;
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
    if (whole >= AVX2_MIN) {
        size_t n = blocks_simd(ctx, p, whole);
        p += n;
        len -= n;
        whole -= n;
    }
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
    uint64_t h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2];
    /* h below 2^130: fold what is above once more (h2 <= 4 here). */
    uint64_t c = (h2 >> 2) * 5;
    h2 &= 3;
    u128 t = (u128)h0 + c;
    h0 = (uint64_t)t;
    t = (u128)h1 + (uint64_t)(t >> 64);
    h1 = (uint64_t)t;
    h2 += (uint64_t)(t >> 64);
    /* h mod p: g = h + 5; if g reaches 2^130, h - p = g - 2^130 is it. */
    t = (u128)h0 + 5;
    uint64_t g0 = (uint64_t)t;
    t = (u128)h1 + (uint64_t)(t >> 64);
    uint64_t g1 = (uint64_t)t;
    uint64_t g2 = h2 + (uint64_t)(t >> 64);
    uint64_t take = 0 - (g2 >> 2); /* all ones when g >= 2^130 */
    h0 = (h0 & ~take) | (g0 & take);
    h1 = (h1 & ~take) | (g1 & take);
    /* (h + s) mod 2^128, little-endian. */
    t = (u128)h0 + ctx->pad[0];
    uint64_t w0 = (uint64_t)t;
    uint64_t w1 = h1 + ctx->pad[1] + (uint64_t)(t >> 64);
    memcpy(tag, &w0, 8);
    memcpy(tag + 8, &w1, 8);
    /* The wipe: the empty asm that may read *ctx keeps the compiler from
     * dropping the stores as dead. */
    memset(ctx, 0, sizeof(*ctx));
    __asm__ volatile("" ::"r"(ctx) : "memory");
}

void poly1305(uint8_t tag[POLY1305_TAG], const uint8_t key[POLY1305_KEY], const void *data, size_t len)
{
    struct poly1305_ctx c;
    poly1305_init(&c, key);
    poly1305_update(&c, data, len);
    poly1305_final(&c, tag);
}
