/* Poly1305's full blocks four at a time with AVX2 (kernel/poly1305.c has
 * the definition and the scalar code). The only kernel file built with
 * vector registers (-mavx2, not -mgeneral-regs-only: see the Makefile):
 * its code runs only between simd_begin() and simd_end() (kernel/simd.h),
 * which save the guest's vector state and XCR0 and give them back.
 *
 * Four lanes, one for each position j of a block in the groups of four
 * blocks (t counts the groups): A_j <- A_j r^4 + m_{4t+j}. After the last
 * group, block i of N has been multiplied by r^(N - i) if A_j finally gets
 * r^(4 - j): h = A_0 r^4 + A_1 r^3 + A_2 r^2 + A_3 r. The incoming h joins
 * block 0 in A_0 at the start, so it is multiplied by r^N as in the
 * scalar code. (The vector lanes hold A_0, A_2, A_1, A_3 in that order:
 * see load4().) In long runs, eight groups at a time, the lanes'
 * recurrence unrolled:
 *   A <- A r^32 + M1 r^28 + M2 r^24 + ... + M7 r^4 + M8,
 * one carry pass per 32 blocks instead of eight.
 *
 * Numbers mod p = 2^130 - 5 in radix 2^26: five limbs x0 + x1 2^26 + ...
 * + x4 2^104 in 64-bit lanes, multiplied 32x32->64 with VPMULUDQ (which
 * reads the low 32 bits of each lane: limbs must stay below 2^32). A
 * product's limbs above 2^130 fold back times 5 (2^130 = 5 mod p):
 *   d0 = a0 b0 + 5 (a1 b4 + a2 b3 + a3 b2 + a4 b1)
 *   d1 = a0 b1 + a1 b0 + 5 (a2 b4 + a3 b3 + a4 b2)
 *   d2 = a0 b2 + a1 b1 + a2 b0 + 5 (a3 b4 + a4 b3)
 *   d3 = a0 b3 + a1 b2 + a2 b1 + a3 b0 + 5 a4 b4
 *   d4 = a0 b4 + a1 b3 + a2 b2 + a3 b1 + a4 b0
 * with 5 b1 .. 5 b4 precomputed per power of r.
 *
 * Bounds. Powers of r: limbs below 2^26 + 2^12 (carry()), so 5 b_i is
 * below 2^28.4. The accumulator after a carry pass: limbs below 2^26 +
 * 2^12 (carry()); a message block's limbs below 2^26 (the top one below
 * 2^25 with the 2^128 bit); the incoming h (h2 <= 6) adds a top limb below
 * 2^27 before the first product. So every factor is below 2^27.4 < 2^32
 * and every product below 2^55.8 (below 2^54.4 with a message limb). A
 * step sums 5 products of A and 35 of message limbs, and a block: below
 * 2^60; the final products summed over the four lanes, 20: below 2^60.2.
 * No 64-bit lane overflows, and carry() takes limbs below 2^61. */

/* The kernel has no malloc: skip GCC's mm_malloc.h (_mm_malloc), which
 * immintrin.h would pull in with <stdlib.h>. */
#if !__STDC_HOSTED__
#define _MM_MALLOC_H_INCLUDED
#endif
#include <immintrin.h>
#include <stdbool.h>
#include "poly1305.h"

#ifndef __AVX2__
#error "kernel/poly1305_avx2.c must be built with -mavx2 (see the Makefile)"
#endif

typedef unsigned __int128 u128;
typedef __m256i v4;

#define M26 0x3ffffffull

/* ----------------------------------------------------------- vectors ---- */

/* Five limbs, each a vector of four lanes. */
struct v5 {
    v4 l0, l1, l2, l3, l4;
};

/* A multiplier: its limbs and 5 times limbs 1..4, per lane. */
struct vpow {
    v4 r0, r1, r2, r3, r4, s1, s2, s3, s4;
};

static inline __attribute__((always_inline)) v4 mul(v4 a, v4 b) { return _mm256_mul_epu32(a, b); }
static inline __attribute__((always_inline)) v4 add(v4 a, v4 b) { return _mm256_add_epi64(a, b); }

/* An empty asm that takes d's five limbs in registers: the compiler
 * cannot move products across it, so it does not compute them all first
 * and spill them (GCC does, otherwise). No instruction. */
#define KEEP(d) __asm__("" : "+x"((d).l0), "+x"((d).l1), "+x"((d).l2), "+x"((d).l3), "+x"((d).l4) : : "memory")

/* d += x * (p's limbs a, b, c, e, f): one limb of a product, going into
 * d0..d4. Products limb by limb of the left factor keep only d, one limb
 * and a product live (the powers are VPMULUDQ's memory operands): the 16
 * YMM registers suffice, no spills. */
#define MADD_LIMB(d, x, a, b, c, e, f)                                                     \
    do {                                                                                  \
        v4 x_ = (x);                                                                      \
        (d).l0 = add((d).l0, mul(x_, a));                                                 \
        (d).l1 = add((d).l1, mul(x_, b));                                                 \
        (d).l2 = add((d).l2, mul(x_, c));                                                 \
        (d).l3 = add((d).l3, mul(x_, e));                                                 \
        (d).l4 = add((d).l4, mul(x_, f));                                                 \
        KEEP(d);                                                                          \
    } while (0)

/* a * p */
static inline __attribute__((always_inline)) struct v5 vmul(struct v5 a, const struct vpow *p)
{
    struct v5 d;
    d.l0 = mul(a.l0, p->r0);
    d.l1 = mul(a.l0, p->r1);
    d.l2 = mul(a.l0, p->r2);
    d.l3 = mul(a.l0, p->r3);
    d.l4 = mul(a.l0, p->r4);
    MADD_LIMB(d, a.l1, p->s4, p->r0, p->r1, p->r2, p->r3);
    MADD_LIMB(d, a.l2, p->s3, p->s4, p->r0, p->r1, p->r2);
    MADD_LIMB(d, a.l3, p->s2, p->s3, p->s4, p->r0, p->r1);
    MADD_LIMB(d, a.l4, p->s1, p->s2, p->s3, p->s4, p->r0);
    return d;
}

static inline __attribute__((always_inline)) struct v5 vadd(struct v5 a, struct v5 b)
{
    a.l0 = add(a.l0, b.l0);
    a.l1 = add(a.l1, b.l1);
    a.l2 = add(a.l2, b.l2);
    a.l3 = add(a.l3, b.l3);
    a.l4 = add(a.l4, b.l4);
    return a;
}

/* d + (the four blocks at m) * p: load4() and the products in one, each of the
 * message's limbs made just before its products. */
static inline __attribute__((always_inline)) struct v5 madd_msg(struct v5 d, const uint8_t *m, const struct vpow *p)
{
    const v4 mask = _mm256_set1_epi64x(M26), hibit = _mm256_set1_epi64x(1 << 24);
    v4 x = _mm256_loadu_si256((const v4 *)m), y = _mm256_loadu_si256((const v4 *)(m + 32));
    v4 lo = _mm256_unpacklo_epi64(x, y), hi = _mm256_unpackhi_epi64(x, y);
    MADD_LIMB(d, _mm256_and_si256(lo, mask), p->r0, p->r1, p->r2, p->r3, p->r4);
    MADD_LIMB(d, _mm256_and_si256(_mm256_srli_epi64(lo, 26), mask), p->s4, p->r0, p->r1, p->r2, p->r3);
    MADD_LIMB(d, _mm256_and_si256(_mm256_or_si256(_mm256_srli_epi64(lo, 52), _mm256_slli_epi64(hi, 12)), mask),
              p->s3, p->s4, p->r0, p->r1, p->r2);
    MADD_LIMB(d, _mm256_and_si256(_mm256_srli_epi64(hi, 14), mask), p->s2, p->s3, p->s4, p->r0, p->r1);
    MADD_LIMB(d, _mm256_or_si256(_mm256_srli_epi64(hi, 40), hibit), p->s1, p->s2, p->s3, p->s4, p->r0);
    return d;
}

/* Carries, two chains side by side (0->1->2->3 and 3->4->0*5->1, then
 * 3->4 once more). From limbs below 2^61: limb 0 after the fold below
 * 2^26 + 5 * 2^35 < 2^37.4, limb 3 after limb 2's carry below 2^35.1;
 * so the last carries into limbs 1 and 4 are below 2^11.4 and 2^9.1 and
 * every limb ends below 2^26 + 2^12. */
static inline __attribute__((always_inline)) struct v5 carry(struct v5 d)
{
    const v4 m = _mm256_set1_epi64x(M26);
    v4 c;
    c = _mm256_srli_epi64(d.l0, 26), d.l0 = _mm256_and_si256(d.l0, m), d.l1 = add(d.l1, c);
    c = _mm256_srli_epi64(d.l3, 26), d.l3 = _mm256_and_si256(d.l3, m), d.l4 = add(d.l4, c);
    c = _mm256_srli_epi64(d.l1, 26), d.l1 = _mm256_and_si256(d.l1, m), d.l2 = add(d.l2, c);
    c = _mm256_srli_epi64(d.l4, 26), d.l4 = _mm256_and_si256(d.l4, m);
    d.l0 = add(d.l0, add(c, _mm256_slli_epi64(c, 2)));
    c = _mm256_srli_epi64(d.l2, 26), d.l2 = _mm256_and_si256(d.l2, m), d.l3 = add(d.l3, c);
    c = _mm256_srli_epi64(d.l0, 26), d.l0 = _mm256_and_si256(d.l0, m), d.l1 = add(d.l1, c);
    c = _mm256_srli_epi64(d.l3, 26), d.l3 = _mm256_and_si256(d.l3, m), d.l4 = add(d.l4, c);
    return d;
}

/* Four blocks (64 bytes) as limbs, each with its 2^128 bit. The unpacks
 * work within 128-bit halves, so the lanes hold blocks 0, 2, 1, 3. */
static inline __attribute__((always_inline)) struct v5 load4(const uint8_t *m)
{
    const v4 mask = _mm256_set1_epi64x(M26), hibit = _mm256_set1_epi64x(1 << 24);
    v4 x = _mm256_loadu_si256((const v4 *)m), y = _mm256_loadu_si256((const v4 *)(m + 32));
    v4 lo = _mm256_unpacklo_epi64(x, y); /* bits 0..63 of blocks 0, 2, 1, 3 */
    v4 hi = _mm256_unpackhi_epi64(x, y); /* bits 64..127 */
    struct v5 a;
    a.l0 = _mm256_and_si256(lo, mask);
    a.l1 = _mm256_and_si256(_mm256_srli_epi64(lo, 26), mask);
    a.l2 = _mm256_and_si256(_mm256_or_si256(_mm256_srli_epi64(lo, 52), _mm256_slli_epi64(hi, 12)), mask);
    a.l3 = _mm256_and_si256(_mm256_srli_epi64(hi, 14), mask);
    a.l4 = _mm256_or_si256(_mm256_srli_epi64(hi, 40), hibit);
    return a;
}

/* x as a multiplier: its limbs and 5 times limbs 1..4. */
static inline __attribute__((always_inline)) void topow(struct vpow *p, struct v5 x)
{
    p->r0 = x.l0;
    p->r1 = x.l1;
    p->r2 = x.l2;
    p->r3 = x.l3;
    p->r4 = x.l4;
    p->s1 = add(x.l1, _mm256_slli_epi64(x.l1, 2));
    p->s2 = add(x.l2, _mm256_slli_epi64(x.l2, 2));
    p->s3 = add(x.l3, _mm256_slli_epi64(x.l3, 2));
    p->s4 = add(x.l4, _mm256_slli_epi64(x.l4, 2));
}

/* x * y lane by lane, carried (for the powers of r). */
static inline __attribute__((always_inline)) struct v5 vmulc(struct v5 x, struct v5 y)
{
    struct vpow p;
    topow(&p, y);
    return carry(vmul(x, &p));
}

/* Every limb of x with lane k copied to all four lanes. */
#define SPLAT(x, k)                                                                                  \
    ((struct v5){ _mm256_permute4x64_epi64((x).l0, (k) * 0x55), _mm256_permute4x64_epi64((x).l1, (k) * 0x55), \
                  _mm256_permute4x64_epi64((x).l2, (k) * 0x55), _mm256_permute4x64_epi64((x).l3, (k) * 0x55), \
                  _mm256_permute4x64_epi64((x).l4, (k) * 0x55) })

/* Every limb: the lanes whose bits are set in lanes (bit k: lane k) from y,
 * the others from x. */
#define BLEND_DW(lanes) ((((lanes) & 1) ? 0x03 : 0) | (((lanes) & 2) ? 0x0c : 0) | (((lanes) & 4) ? 0x30 : 0) | \
                         (((lanes) & 8) ? 0xc0 : 0))
#define BLEND(x, y, lanes)                                                                                    \
    ((struct v5){ _mm256_blend_epi32((x).l0, (y).l0, BLEND_DW(lanes)), _mm256_blend_epi32((x).l1, (y).l1, BLEND_DW(lanes)), \
                  _mm256_blend_epi32((x).l2, (y).l2, BLEND_DW(lanes)), _mm256_blend_epi32((x).l3, (y).l3, BLEND_DW(lanes)), \
                  _mm256_blend_epi32((x).l4, (y).l4, BLEND_DW(lanes)) })

static inline uint64_t hsum(v4 x)
{
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    return (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
}

/* Runs of at least this many groups (after the first) take the steps of
 * eight groups: below it, computing r^8 .. r^32 costs more than the
 * carries saved (callgrind: 1024 bytes 2168 instructions by single
 * groups, 2206 by eight; 1152 bytes 2362 and 2336). */
#define BIG_MIN 16

size_t poly1305_blocks_avx2(uint64_t h[3], const uint64_t r[2], const uint8_t *m, size_t len)
{
    size_t groups = len / 64;
    if (!groups)
        return 0;
    size_t rest = groups - 1; /* after the first, which takes in h */
    /* The powers of r, multiplied in the vector lanes (r below 2^124
     * after the clamp: its top limb is below 2^20):
     *   [r^2, r^2, r^2, r^2]     = [r, r, r, r]^2
     *   [r^4, r^2, r^3, r]       = [r^2, r^2, r^2, r] * [r^2, 1, r, 1]
     * the second is the lanes' final powers (blocks 0, 2, 1, 3 of a
     * group: r^4, r^2, r^3, r). For steps of eight groups, also
     *   [r^8, ...]               = [r^4, ...]^2
     *   [r^12, r^16, r^12, r^16] = [r^8, ...] * [r^4, r^8, r^4, r^8]
     *   [r^20, r^24, r^28, r^32] = [r^16, ...] * [r^4, r^8, r^12, r^16] */
    const struct v5 R = { _mm256_set1_epi64x((long long)(r[0] & M26)),
                          _mm256_set1_epi64x((long long)((r[0] >> 26) & M26)),
                          _mm256_set1_epi64x((long long)(((r[0] >> 52) | (r[1] << 12)) & M26)),
                          _mm256_set1_epi64x((long long)((r[1] >> 14) & M26)),
                          _mm256_set1_epi64x((long long)(r[1] >> 40)) };
    const v4 zero = _mm256_setzero_si256();
    const struct v5 one = { _mm256_set1_epi64x(1), zero, zero, zero, zero };
    struct v5 r2 = vmulc(R, R);
    struct v5 lanes = vmulc(BLEND(r2, R, 8), BLEND(BLEND(r2, R, 4), one, 2 | 8));
    struct v5 r4 = SPLAT(lanes, 0);
    /* pw[j]: r^(4 (j + 1)). The pointer goes through an empty asm: the
     * compiler then treats the powers as memory anyone may change, reads
     * them for each product (a VPMULUDQ memory operand, no extra
     * instruction) after each KEEP(), and does not spend registers and
     * moves keeping copies. */
    struct vpow pw[8];
    const struct vpow *P = pw;
    topow(&pw[0], r4);
    bool big = rest >= BIG_MIN;
    if (big) {
        struct v5 r8 = vmulc(r4, r4);
        struct v5 r12_16 = vmulc(r8, BLEND(r4, r8, 2 | 8));
        struct v5 r20_32 = vmulc(SPLAT(r12_16, 1), BLEND(BLEND(r4, r8, 2), r12_16, 4 | 8));
        topow(&pw[1], r8);
        topow(&pw[2], SPLAT(r12_16, 0));
        topow(&pw[3], SPLAT(r12_16, 1));
        topow(&pw[4], SPLAT(r20_32, 0));
        topow(&pw[5], SPLAT(r20_32, 1));
        topow(&pw[6], SPLAT(r20_32, 2));
        topow(&pw[7], SPLAT(r20_32, 3));
    }
    __asm__("" : "+r"(P) : : "memory");

    struct v5 a = load4(m);
    a.l0 = add(a.l0, _mm256_set_epi64x(0, 0, 0, (long long)(h[0] & M26)));
    a.l1 = add(a.l1, _mm256_set_epi64x(0, 0, 0, (long long)((h[0] >> 26) & M26)));
    a.l2 = add(a.l2, _mm256_set_epi64x(0, 0, 0, (long long)(((h[0] >> 52) | (h[1] << 12)) & M26)));
    a.l3 = add(a.l3, _mm256_set_epi64x(0, 0, 0, (long long)((h[1] >> 14) & M26)));
    a.l4 = add(a.l4, _mm256_set_epi64x(0, 0, 0, (long long)((h[1] >> 40) | (h[2] << 24))));
    m += 64;
    if (big) {
        /* The 1 to 7 groups beyond a multiple of eight first, in one step:
         * A r^4k + M1 r^4(k-1) + ... + Mk. */
        size_t k = rest % 8;
        if (k) {
            struct v5 d = vmul(a, &P[k - 1]);
            for (size_t i = k - 1; i; i--, m += 64)
                d = madd_msg(d, m, &P[i - 1]);
            a = carry(vadd(d, load4(m)));
            m += 64;
            rest -= k;
        }
        for (; rest; rest -= 8, m += 512) {
            struct v5 d = vmul(a, &P[7]);
            d = madd_msg(d, m, &P[6]);
            d = madd_msg(d, m + 64, &P[5]);
            d = madd_msg(d, m + 128, &P[4]);
            d = madd_msg(d, m + 192, &P[3]);
            d = madd_msg(d, m + 256, &P[2]);
            d = madd_msg(d, m + 320, &P[1]);
            d = madd_msg(d, m + 384, &P[0]);
            a = carry(vadd(d, load4(m + 448)));
        }
    } else {
        for (; rest; rest--, m += 64)
            a = carry(vadd(vmul(a, &P[0]), load4(m)));
    }

    /* Lanes (blocks 0, 2, 1, 3 of each group) times r^4, r^2, r^3, r. */
    struct vpow pl;
    topow(&pl, lanes);
    struct v5 d = vmul(a, &pl);

    /* The lanes' sum (each limb below 2^61), carried in scalar code. */
    uint64_t t0 = hsum(d.l0), t1 = hsum(d.l1), t2 = hsum(d.l2), t3 = hsum(d.l3), t4 = hsum(d.l4);
    t1 += t0 >> 26, t0 &= M26;
    t2 += t1 >> 26, t1 &= M26;
    t3 += t2 >> 26, t2 &= M26;
    t4 += t3 >> 26, t3 &= M26;
    t0 += 5 * (t4 >> 26), t4 &= M26; /* t0 < 2^26 + 5 * 2^35.1 */
    t1 += t0 >> 26, t0 &= M26;       /* t1 < 2^26 + 2^11.4 */
    /* Back to radix 2^64: below 2^130 + 2^38, so h2 <= 4 as the scalar
     * code's bound (h2 <= 6 on entry to blocks(), <= 4 at the end) wants. */
    u128 v = (u128)t0 + ((u128)t1 << 26) + ((u128)t2 << 52);
    h[0] = (uint64_t)v;
    v = (v >> 64) + ((u128)t3 << 14) + ((u128)t4 << 40);
    h[1] = (uint64_t)v;
    h[2] = (uint64_t)(v >> 64);
    return len & ~(size_t)63;
}
