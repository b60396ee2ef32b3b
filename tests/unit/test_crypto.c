/* kernel/crc32c.c, sha256.c, blake2b.c, poly1305.c and poly1305_avx2.c:
 * CRC-32C (RFC 3720), SHA-256 (FIPS 180-4 / NIST examples), HMAC-SHA256
 * (RFC 4231), ct_equal(), BLAKE2b (RFC 7693 appendix A; keyed vectors from
 * Python's hashlib.blake2b, an independent implementation) and Poly1305
 * (RFC 8439; more vectors from Python's cryptography package; the AVX2
 * code against the scalar code, when the host has AVX2). */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../kernel/crc32c.h"
#include "../../kernel/sha256.h"
#include "../../kernel/blake2b.h"
#include "../../kernel/poly1305.h"
#include "../../kernel/simd.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

/* Bit at a time, straight from the definition: the reference. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

/* "ba78..." -> bytes */
static void unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static bool digest_is(const uint8_t *d, const char *hex, size_t n)
{
    uint8_t want[64];
    unhex(hex, want, n);
    return memcmp(d, want, n) == 0;
}

/* -------------------------------------------------------------- CRC ---- */

TEST(crc32c_check_value)
{
    CHECK_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(crc32c_sw(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(crc32c_bitwise(0, (const uint8_t *)"123456789", 9), 0xE3069283u);
    if (crc32c_hw_available())
        CHECK_EQ(crc32c_hw(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(crc32c(0, "", 0), 0);
    CHECK_EQ(crc32c(0x12345678, "", 0), 0x12345678);
}

/* RFC 3720 appendix B.4 */
TEST(crc32c_rfc3720_vectors)
{
    uint8_t b[48];
    memset(b, 0, 32);
    CHECK_EQ(crc32c(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, 32);
    CHECK_EQ(crc32c(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CHECK_EQ(crc32c(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CHECK_EQ(crc32c(0, b, 32), 0x113FDB5Cu);
    /* An iSCSI SCSI Read (10) command PDU */
    unhex("01c00000000000000000000000000000"
          "14000000000004000000001400000018"
          "28000000000000000200000000000000", b, 48);
    CHECK_EQ(crc32c(0, b, 48), 0xD9963A56u);
    CHECK_EQ(crc32c_sw(0, b, 48), 0xD9963A56u);
    if (crc32c_hw_available())
        CHECK_EQ(crc32c_hw(0, b, 48), 0xD9963A56u);
}

TEST(crc32c_tables_match_bitwise)
{
    static uint8_t buf[4096 + 8];
    fill_random(buf, sizeof(buf));
    for (size_t len = 0; len <= 300; len++) {
        for (size_t align = 0; align < 8; align++) {
            uint32_t seed = (uint32_t)rnd();
            uint32_t want = crc32c_bitwise(seed, buf + align, len);
            if (crc32c_sw(seed, buf + align, len) != want) {
                TEST_FAIL("len %zu align %zu", len, align);
                return;
            }
        }
    }
    /* Every single byte value (exercises each table entry of T0 and, at
     * the right offsets, the others). */
    for (int v = 0; v < 256; v++) {
        for (size_t pos = 0; pos < 16; pos++) {
            uint8_t b[16] = { 0 };
            b[pos] = (uint8_t)v;
            if (crc32c_sw(0, b, 16) != crc32c_bitwise(0, b, 16)) {
                TEST_FAIL("byte %d at %zu", v, pos);
                return;
            }
        }
    }
    CHECK_EQ(crc32c_sw(0, buf, 4096), crc32c_bitwise(0, buf, 4096));
}

TEST(crc32c_chains_at_every_split)
{
    uint8_t buf[200];
    fill_random(buf, sizeof(buf));
    uint32_t whole = crc32c(0, buf, sizeof(buf));
    for (size_t i = 0; i <= sizeof(buf); i++) {
        CHECK_EQ(crc32c(crc32c(0, buf, i), buf + i, sizeof(buf) - i), whole);
        CHECK_EQ(crc32c_sw(crc32c_sw(0, buf, i), buf + i, sizeof(buf) - i), whole);
        if (crc32c_hw_available())
            CHECK_EQ(crc32c_hw(crc32c_hw(0, buf, i), buf + i, sizeof(buf) - i), whole);
    }
    /* Three pieces, and a large buffer split across the hardware threshold */
    for (size_t i = 0; i <= 40; i++)
        for (size_t j = i; j <= 40; j++)
            CHECK_EQ(crc32c(crc32c(crc32c(0, buf, i), buf + i, j - i), buf + j, 40 - j),
                     crc32c(0, buf, 40));
    static uint8_t big[10000];
    fill_random(big, sizeof(big));
    uint32_t w = crc32c_bitwise(0, big, sizeof(big));
    for (size_t i = 0; i <= sizeof(big); i += 97)
        CHECK_EQ(crc32c(crc32c(0, big, i), big + i, sizeof(big) - i), w);
}

TEST(crc32c_hardware_matches_tables)
{
    if (!crc32c_hw_available()) {
        printf("# no SSE4.2: hardware CRC not tested\n");
        return;
    }
    static uint8_t buf[70000];
    fill_random(buf, sizeof(buf));
    for (int i = 0; i < 3000; i++) {
        size_t align = rnd() % 64;
        size_t len = (i < 600) ? (size_t)i : rnd() % (sizeof(buf) - 64);
        uint32_t seed = (i & 1) ? (uint32_t)rnd() : 0;
        uint32_t sw = crc32c_sw(seed, buf + align, len);
        uint32_t hw = crc32c_hw(seed, buf + align, len);
        if (sw != hw) {
            TEST_FAIL("len %zu align %zu: sw %08x hw %08x", len, align, sw, hw);
            return;
        }
        CHECK_EQ(crc32c(seed, buf + align, len), sw);
    }
    CHECK_EQ(crc32c_hw(0, buf, sizeof(buf)), crc32c_bitwise(0, buf, sizeof(buf)));
}

/* ----------------------------------------------------------- SHA-256 ---- */

static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char msg896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                             "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

TEST(sha256_nist_vectors)
{
    uint8_t d[32];
    sha256("abc", 3, d);
    CHECK(digest_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 32));
    sha256("", 0, d);
    CHECK(digest_is(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 32));
    sha256(msg448, strlen(msg448), d);
    CHECK(digest_is(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", 32));
    sha256(msg896, strlen(msg896), d);
    CHECK(digest_is(d, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", 32));
}

TEST(sha256_million_a)
{
    uint8_t d[32], chunk[1000];
    memset(chunk, 'a', sizeof(chunk));
    struct sha256_ctx c;
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c, chunk, sizeof(chunk));
    sha256_final(&c, d);
    CHECK(digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", 32));

    /* In one piece, too, and in odd pieces (the buffered path). */
    static uint8_t million[1000000];
    memset(million, 'a', sizeof(million));
    sha256(million, sizeof(million), d);
    CHECK(digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", 32));
    sha256_init(&c);
    for (size_t off = 0, step = 1; off < sizeof(million); off += step, step = step * 3 % 1001 + 1) {
        size_t n = step < sizeof(million) - off ? step : sizeof(million) - off;
        sha256_update(&c, million + off, n);
    }
    sha256_final(&c, d);
    CHECK(digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", 32));
}

/* Around the padding boundaries (55/56 bytes fit one block or not). The
 * digests come from an independent implementation (Python's hashlib). */
TEST(sha256_padding_boundaries)
{
    static const struct { size_t n; const char *hex; } v[] = {
        { 1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5" },
        { 55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b" },
        { 56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27" },
        { 57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73" },
        { 63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055" },
        { 64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241" },
        { 65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e" },
        { 119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e" },
        { 120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5" },
        { 127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07" },
        { 128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6" },
        { 129, "307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4" },
        { 1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371" },
    };
    uint8_t m[1000], d[32];
    for (size_t i = 0; i < sizeof(m); i++)
        m[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        sha256(m, v[i].n, d);
        if (!digest_is(d, v[i].hex, 32))
            TEST_FAIL("length %zu", v[i].n);
    }
}

TEST(sha256_every_split_matches_one_shot)
{
    const uint8_t *m = (const uint8_t *)msg896;
    size_t n = strlen(msg896);
    uint8_t want[32], d[32];
    sha256(m, n, want);
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            struct sha256_ctx c;
            sha256_init(&c);
            sha256_update(&c, m, i);
            sha256_update(&c, m + i, j - i);
            sha256_update(&c, m + j, n - j);
            sha256_final(&c, d);
            if (memcmp(d, want, 32) != 0) {
                TEST_FAIL("split %zu/%zu", i, j);
                return;
            }
        }
    }
    /* Byte by byte */
    struct sha256_ctx c;
    sha256_init(&c);
    for (size_t i = 0; i < n; i++)
        sha256_update(&c, m + i, 1);
    sha256_final(&c, d);
    CHECK(memcmp(d, want, 32) == 0);
}

/* -------------------------------------------------------------- HMAC ---- */

struct hmac_vector {
    const uint8_t *key;
    size_t keylen;
    const uint8_t *data;
    size_t datalen;
    const char *mac;
    size_t maclen;
};

/* RFC 4231 section 4, test cases 1 to 7. */
static void rfc4231(struct hmac_vector v[7])
{
    static uint8_t k1[20], k3[20], k4[25], k5[20], k6[131], d3[50], d4[50];
    memset(k1, 0x0b, 20);
    memset(k3, 0xaa, 20);
    for (int i = 0; i < 25; i++)
        k4[i] = (uint8_t)(i + 1);
    memset(k5, 0x0c, 20);
    memset(k6, 0xaa, 131);
    memset(d3, 0xdd, 50);
    memset(d4, 0xcd, 50);
#define S(s) (const uint8_t *)(s), sizeof(s) - 1
    v[0] = (struct hmac_vector){ k1, 20, S("Hi There"),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32 };
    v[1] = (struct hmac_vector){ S("Jefe"), S("what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32 };
    v[2] = (struct hmac_vector){ k3, 20, d3, 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32 };
    v[3] = (struct hmac_vector){ k4, 25, d4, 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32 };
    /* Case 5 is truncated to 128 bits. */
    v[4] = (struct hmac_vector){ k5, 20, S("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b", 16 };
    v[5] = (struct hmac_vector){ k6, 131, S("Test Using Larger Than Block-Size Key - Hash Key First"),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32 };
    v[6] = (struct hmac_vector){ k6, 131,
        S("This is a test using a larger than block-size key and a larger than block-size data. "
          "The key needs to be hashed before being used by the HMAC algorithm."),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32 };
#undef S
}

TEST(hmac_sha256_rfc4231)
{
    struct hmac_vector v[7];
    rfc4231(v);
    for (int i = 0; i < 7; i++) {
        uint8_t mac[32];
        hmac_sha256(v[i].key, v[i].keylen, v[i].data, v[i].datalen, mac);
        if (!digest_is(mac, v[i].mac, v[i].maclen))
            TEST_FAIL("test case %d (one-shot)", i + 1);

        /* Prepared key */
        struct hmac_sha256_key k;
        struct hmac_sha256_ctx c;
        hmac_sha256_key_init(&k, v[i].key, v[i].keylen);
        hmac_sha256_init_key(&c, &k);
        hmac_sha256_update(&c, v[i].data, v[i].datalen);
        hmac_sha256_final(&c, mac);
        if (!digest_is(mac, v[i].mac, v[i].maclen))
            TEST_FAIL("test case %d (prepared key)", i + 1);
        /* The prepared key is reusable. */
        hmac_sha256_init_key(&c, &k);
        hmac_sha256_update(&c, v[i].data, v[i].datalen);
        hmac_sha256_final(&c, mac);
        if (!digest_is(mac, v[i].mac, v[i].maclen))
            TEST_FAIL("test case %d (prepared key, again)", i + 1);
        hmac_sha256_key_wipe(&k);
        static const struct hmac_sha256_key zero;
        CHECK(memcmp(&k, &zero, sizeof(k)) == 0);
    }
}

TEST(hmac_sha256_every_split_matches_one_shot)
{
    struct hmac_vector v[7];
    rfc4231(v);
    for (int t = 0; t < 7; t++) {
        size_t n = v[t].datalen;
        for (size_t i = 0; i <= n; i++) {
            for (size_t j = i; j <= n; j++) {
                struct hmac_sha256_ctx c;
                uint8_t mac[32];
                hmac_sha256_init(&c, v[t].key, v[t].keylen);
                hmac_sha256_update(&c, v[t].data, i);
                hmac_sha256_update(&c, v[t].data + i, j - i);
                hmac_sha256_update(&c, v[t].data + j, n - j);
                hmac_sha256_final(&c, mac);
                if (!digest_is(mac, v[t].mac, v[t].maclen)) {
                    TEST_FAIL("case %d split %zu/%zu", t + 1, i, j);
                    return;
                }
            }
        }
    }
}

TEST(hmac_sha256_key_lengths)
{
    /* A key of exactly 64 bytes is used as is; 65 bytes is hashed first:
     * so HMAC(K65) == HMAC(SHA256(K65)), and a key padded with zeros to 64
     * bytes gives the same MAC as the shorter key. */
    uint8_t key[65], hk[32], a[32], b[32];
    fill_random(key, sizeof(key));
    sha256(key, 65, hk);
    hmac_sha256(key, 65, "msg", 3, a);
    hmac_sha256(hk, 32, "msg", 3, b);
    CHECK(memcmp(a, b, 32) == 0);
    uint8_t k64[64] = { 0 };
    memcpy(k64, key, 20);
    hmac_sha256(key, 20, "msg", 3, a);
    hmac_sha256(k64, 64, "msg", 3, b);
    CHECK(memcmp(a, b, 32) == 0);
    hmac_sha256(key, 64, "msg", 3, a);
    hmac_sha256(key, 63, "msg", 3, b);
    CHECK(memcmp(a, b, 32) != 0);
    /* Empty key == 64 zero bytes */
    memset(k64, 0, 64);
    hmac_sha256("", 0, "msg", 3, a);
    hmac_sha256(k64, 64, "msg", 3, b);
    CHECK(memcmp(a, b, 32) == 0);
}

/* ---------------------------------------------------------- ct_equal ---- */

TEST(ct_equal_compares)
{
    uint8_t a[64], b[64];
    fill_random(a, sizeof(a));
    memcpy(b, a, sizeof(b));
    CHECK(ct_equal(a, b, 64));
    CHECK(ct_equal(a, b, 0));
    CHECK(ct_equal(a, "", 0));
    for (size_t i = 0; i < 64; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1 << bit);
            if (ct_equal(a, b, 64))
                TEST_FAIL("difference at byte %zu bit %d not seen", i, bit);
            CHECK(ct_equal(a, b, i));   /* the prefix before it is equal */
            b[i] ^= (uint8_t)(1 << bit);
        }
    }
    CHECK(ct_equal(a, b, 64));
}


/* ----------------------------------------------------------- BLAKE2b ---- */

TEST(blake2b_rfc7693_abc_and_empty)
{
    uint8_t d[64];
    CHECK_EQ(blake2b(d, 64, NULL, 0, "abc", 3), 0);
    CHECK(digest_is(d, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                       "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923", 64));
    CHECK_EQ(blake2b(d, 64, NULL, 0, "", 0), 0);
    CHECK(digest_is(d, "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
                       "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce", 64));
}

/* Input i mod 256 of each length around the block size; 64-byte key
 * 00..3f (first 16 bytes of the 64-byte digest) and 32-byte key 00..1f
 * with a 32-byte digest, the channel's MAC. */
TEST(blake2b_keyed_vectors)
{
    static const struct {
        size_t n;
        const char *k64, *k32;
    } v[] = {
        { 0, "10ebb67700b1868efb4417987acf4690", "4e51e7a913fc80137da52880fecca175bf81e117d5c68126dc2774033517ea0d" },
        { 1, "961f6dd1e4dd30f63901690c512e78e4", "41ff93a4eaeebd3b78a93438a6f62a92ab5959c859e682b72c7def406197ca4d" },
        { 127, "76d2d819c92bce55fa8e092ab1bf9b9e", "12879e69734944f25f9ed95cbfdbb3659a307e485ed8ec118ce7c60f107357f1" },
        { 128, "72065ee4dd91c2d8509fa1fc28a37c7f", "138893f1631ef3165629515d6ed800da3771b7926dced294205c7507351deebc" },
        { 129, "64475dfe7600d7171bea0b394e27c9b0", "ca60f75cbb714330c046d8f28b4ed351a3ee81776bb02a96abb646fe573e3d5c" },
        { 255, "142709d62e28fcccd0af97fad0f8465b", "f60f5c4a575c43db6c93608515866ea998e04b35792f5a92b27aa5880cd6721e" },
        { 256, "b72071e096277edebb8ee5134dd37149", "b42be36ea26392f67d1d3706ffa72b6c61c2ff38e1fabd9a49e154d54b967d83" },
        { 1000, "3a88309ddbb490799a0ac4f3fb7438f7", "35ef19e1b0264b96e9d2f9c1ded07ab910b83e31c06559b5794ad4682e44f54a" },
    };
    uint8_t key[64], in[1000], d[64];
    for (int i = 0; i < 64; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 1000; i++)
        in[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        CHECK_EQ(blake2b(d, 64, key, 64, in, v[i].n), 0);
        if (!digest_is(d, v[i].k64, 16))
            TEST_FAIL("64-byte key, %zu bytes", v[i].n);
        CHECK_EQ(blake2b(d, 32, key, 32, in, v[i].n), 0);
        if (!digest_is(d, v[i].k32, 32))
            TEST_FAIL("32-byte key, %zu bytes", v[i].n);
    }
}

TEST(blake2b_any_split_gives_the_same)
{
    static uint8_t in[700];
    fill_random(in, sizeof(in));
    uint8_t key[32], want[32], got[32];
    fill_random(key, sizeof(key));
    for (size_t n = 0; n <= sizeof(in); n += n < 300 ? 1 : 53) {
        blake2b(want, 32, key, 32, in, n);
        for (size_t cut = 0; cut <= n; cut += 1 + cut / 7) {
            struct blake2b_ctx c;
            blake2b_init(&c, 32, key, 32);
            blake2b_update(&c, in, cut);
            blake2b_update(&c, in + cut, 0);
            blake2b_update(&c, in + cut, n - cut);
            blake2b_final(&c, got);
            if (memcmp(got, want, 32) != 0) {
                TEST_FAIL("%zu bytes cut at %zu", n, cut);
                return;
            }
        }
    }
}

TEST(blake2b_refuses_bad_sizes)
{
    struct blake2b_ctx c;
    uint8_t k[65] = { 0 };
    CHECK_EQ(blake2b_init(&c, 0, NULL, 0), -1);
    CHECK_EQ(blake2b_init(&c, 65, NULL, 0), -1);
    CHECK_EQ(blake2b_init(&c, 32, k, 65), -1);
    CHECK_EQ(blake2b_init(&c, 32, NULL, 5), -1);
    CHECK_EQ(blake2b_init(&c, 1, k, 64), 0);
}

/* ---------------------------------------------------------- Poly1305 ---- */

TEST(poly1305_rfc8439_vector)
{
    uint8_t key[32], tag[16];
    unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b", key, 32);
    poly1305(tag, key, "Cryptographic Forum Research Group", 34);
    CHECK(digest_is(tag, "a8061dc1305136c6c22b8baf0c0127a9", 16));
}

/* Random keys and messages of lengths around the block size, and keys and
 * messages that put the accumulator between p and 2^130 or make h + s wrap
 * (r = 1): tags from Python's cryptography (OpenSSL), independent code. */
TEST(poly1305_independent_vectors)
{
    static const struct {
        const char *key, *tag, *msg;
    } v[] = {
        { "a54dca182530bb1d6d132cded6237b2ed91e3f721fcb1971174494d6493c9d5c",
          "d91e3f721fcb1971174494d6493c9d5c",
          "" },
        { "3460be31201e69fedaa0eee8b9997f5c7c2999fdafe593253cd654af4dfad714",
          "7705faff919cb5c0342f50fa5f1de27b",
          "27" },
        { "a0aeb3fee9232f8af2211f9ee491c5b10becb5563bfc1e6f93427ecbc8fe2955",
          "57df974099f74a3abdbc194fd3bdaa28",
          "e5cd8e46dc8ed4b7c2764d2a5a4d76" },
        { "7706f85d8690024ad6bda3401be9c8cbccc935f6cd1f61226ae15338ae1a3400",
          "bf670f30c27e5476ade2ad0b71b95195",
          "4d33ba0d246ac04c81b1baf23e3bf9ee" },
        { "f5f79f2b4934af87f5520b69b94b0d982e85bb55b672a872637acd7466fcb60e",
          "b5988397fa73bbaf0fa690458cdedb26",
          "0e8ff18463b0e4b2ba29703474f064ac68" },
        { "f700f5b02b3dc666f45bdeaa2ccaedcd2b5157410e4dee4af2b34f430a073447",
          "f8f888259f9ce67d56a8a214a2de980b",
          "de636c0e806c957ba684d6431fb5ead7424d09e15d024c5848f23d1fa6f736" },
        { "1d7f618d1532e70e20e2a6668de7f47e8467e546d53ec8e2a1257bdb256c9b3e",
          "793f908e97221e6e6546397687c6e4e3",
          "4fbb498146ef7030cbf9537252dcceadd764b6a32fbb09adeae109c4a9972039" },
        { "75352b878b145c8a42d884cf4cfda72d8e1d5dd92589082d852a7122873ee805",
          "551de07a95fb7b0e056e0cf725acfb35",
          "add58942167a385286195c679f9c6994e45b8ab1098012070961f37de436ddfdc9" },
        { "9d6e75af6547cfb11b42072482dc531c2bc3907c9617eb5e5089e40186baa8a5",
          "7c1ca9a397812788537ef396dec598b1",
          "7d119e6fb65d00abc32af38e667f022e872d49cc15c90b999b772b4fc7a6fd4c914a16db4708752b0f1544b835c0e719097dfa8701e9232f21f28126877869" },
        { "76ebfcc327f5931765274ba9829b4406f61ff889326ffa9492edeeee3c669f2b",
          "0d20508d8c23f9f6fe4b2773455fc6ef",
          "f20894ea27e689c66b6b262e4886b8438f39ba76fef8c90c5101fbe6cf9a48d5b0c0a13da900a6adcb3d64069481be21c9c727b8db8c188f341a924c7f88dfa1" },
        { "61bfdb0ecc682919d2e64692f8194157f1d4af90988285cf7a9af7c93d555226",
          "8a7a0d50a19c8cf2affc64012fe61ac1",
          "6afe70e7aae6da47627c2e59af2ea37abc84670ad3c4d36bc08aad1fff8eb8406e2f8a7fc4cce4dd9f0b4110d9f2fa0025c8efe57f37724f4d37ea2b14004077139b4180df3932249962c6857200059aeb8ea17cf3787e0ed29d1c0b63ffd7298374d9bd" },
        { "74fc11add7b9ca6503952269fd669f6376ee71879737fd5f72f8d51c4ac91b6d",
          "cbe7a7ade195f73b6f64c1e9b8cb85b2",
          "0c48d41a1e5ec9e6a0392854a8615eef109fc1bfa9e2563701288f29b3d73f6ac2b69edd2c19f264bee462a5baf20fd27ecf14c011ed201f836320adb98bab1686a28d9801210c7736f3eec580dcfc43fe5d049b4d78a7a3ebb92865c8517ed02111f6a652da3524872b6a31d7ffe4587744d5eb783e96968f89be828565e07e5f7d784e9060a721ca807d7633ed123402f376e5bf1496773d19616326be5be5850336b36f13bcae48166882136805a7d1be5e9f276810fdf720d033ca4f2e53cb8ad1919dd51a9fb6d4d509ba64c8cf6803de50d83a2ecfbaeb5342071a48cb2dbd574ab29152572237c4fb659a4016f7a11bc62c5271cf64f25d6f15cc50" },
        { "c4b73f4c7e621513a53cc7e99cd79d7fd9c7bce4e05b0b01faee78e4ea5bf2cc",
          "6f7a6337eef6fa556caf6f190d309627",
          "362241b7dcbb2ee21414422aa0281bc1450d21386343fb93547121b38151a58ce94982f56a8679a3be12655dce528ea7c056873a18b8e73581c9be87c0bc4ab8a929e2755a1897819ea00011714c94ddd5ba1843fa74170b1b01b59b36b672d39a4468bbf35144077c4ce631204a8acd87051cb3e3fc7f5400161f0ccf5f79511d35066448d366d4599e209918f403c0dfee29e75973358576133fab861a88df87976f2b075685786751a762c7a87ac2f0f1030ddf779d6cc827574a100d393652b0480e0f154615221721ba6621c4367e69683911112c93f43343326896a3acd8850ab3839018bca4f3930fd30fdf32b1f0186e2e9357df0067931b02b2fb30fb5efdb18551916d76ff543829fb35a7b630cdca2cd80cbe699b86db57c277eb4011b2a74fe6a556ede0837640abec7962889a4f4f7ea7b25278a7608434543464c44d4b9a98de8c6437368f69c6ed1106ccdf7197ed0b4883cf027cdcd775755c3fe8dda08532d67ccc5080d8f7e90ad15da705c7fa3613806f5266b233e968f308bdafd2e96b5ec83eb61c818cc3cc1f0626d6d7b48737729bcd70c8ec6c54422362f0734ab4d3ef9640f0b57588c081da5ff6018fb77d9aa4f5f8db2bb94e9bc51d2ba647b007056b2496803349775fe7b14e6ace552e9865fd6d28e03b3c87d67747f2fc1df7ef49fb7eff540352a4effe97eebfdad6265cb80e0a17a930f7f849116dd440ad30bbaef26b91deafd8801a9495b5fcceaa8bb068fc3ca962a299412c14cccf19cc9937031761f31ec04b2a6c14ea59335c12d73306bc479e849a5ed711a30adc1bfe143cd7cfe42207c64ff3d3342af16c4d07da02043e2d6f3e42f1098d7ce65f19bb4a2b96ffeb821a10051f0728c79f9f54f91ea1bce0f0554a3bb953d5f4c5e78baa958f1faa074d9edb7ec0c6c077e79100a48689d8501593484b8cffb12bf8c366779e1dcaee698204c5eb2cb52077cb84a4f467606c622f5c94b9b7ce4c7e16fcbf36beed294fa10fb08f0a301168f86d858fda31e4438213ad665cc12a0e1a11bdeaf920cb3d2e83a3772dc95de551bd7871581383b41e0e1884f71c334aa2026598e135f1a5be83c73fbff6c256e17a4906ef6312507027bf47e431c50b26e7ada577f43bbb49a9711d5ce74ae04c88d6d27e4f0d8a97ab5585fb37a2e9f73a4e1d6cf4923d8367badd857a7931c794d4531d964908e2ae47e200925fb8de14d16f8d5c465c755964282cfd8c596946629d670521d01cb1ab90fc2e07d1f444887f5fbb1253be02b6e4243db67da4c31f9537fde40d440a7c2d725d55349f800f0931638509ed7ae334b3305b178b3feefc8f383e3ecf4674744beccb5409c7d712ca1ab9adcd7babdfa4cd1ba64bb47fd805ba375f23a6dd660a73" },
        { "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
          "900fe32bc15fa8d7bca8efe4c7e37eb1",
          "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
        { "0100000000000000000000000000000000000000000000000000000000000000",
          "03000000000000000000000000000000",
          "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
        { "0100000000000000000000000000000000000000000000000000000000000000",
          "f9ffffffffffffffffffffffffffffff",
          "fffffffffffffffffffffffffffffffffaffffffffffffffffffffffffffffff" },
        { "0100000000000000000000000000000000000000000000000000000000000000",
          "fbffffffffffffffffffffffffffffff",
          "fbffffffffffffffffffffffffffffff" },
        { "0100000000000000000000000000000000000000000000000000000000000000",
          "02000000000000000000000000000000",
          "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
        { "01000000000000000000000000000000ffffffffffffffffffffffffffffffff",
          "01000000000000000000000000000000",
          "02000000000000000000000000000000" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t key[32], msg[1000], tag[16];
        size_t n = strlen(v[i].msg) / 2;
        unhex(v[i].key, key, 32);
        unhex(v[i].msg, msg, n);
        poly1305(tag, key, msg, n);
        if (!digest_is(tag, v[i].tag, 16))
            TEST_FAIL("vector %zu (%zu bytes)", i, n);
    }
}

TEST(poly1305_any_split_gives_the_same)
{
    static uint8_t in[300];
    fill_random(in, sizeof(in));
    uint8_t key[32], want[16], got[16];
    fill_random(key, sizeof(key));
    for (size_t n = 0; n <= sizeof(in); n += n < 70 ? 1 : 23)
        for (size_t cut = 0; cut <= n; cut += 1 + cut / 5) {
            poly1305(want, key, in, n);
            struct poly1305_ctx c;
            poly1305_init(&c, key);
            poly1305_update(&c, in, cut / 2);
            poly1305_update(&c, in + cut / 2, cut - cut / 2);
            poly1305_update(&c, in + cut, n - cut);
            poly1305_final(&c, got);
            if (memcmp(got, want, 16) != 0) {
                TEST_FAIL("%zu bytes cut at %zu", n, cut);
                return;
            }
        }
}

/* ------------------------------------------------- Poly1305, AVX2 ---- */

/* The AVX2 code (kernel/poly1305_avx2.c) against the scalar code. The
 * host build's simd (kernel/simd_host.c) lets the tests turn it off:
 * simd_host_allow(false) gives the scalar code's tag. */
static bool avx2_or_skip(void)
{
    if (simd_usable())
        return true;
    printf("# note: this host has no AVX2: the AVX2 Poly1305 is not tested\n");
    return false;
}

static void tag_scalar(uint8_t tag[16], const uint8_t key[32], const uint8_t *m, size_t n)
{
    simd_host_allow(false);
    poly1305(tag, key, m, n);
    simd_host_allow(true);
}

/* The AVX2 code on every full group of four blocks, whatever the length
 * (poly1305_update() gives it runs of 192 bytes or more only), the rest
 * scalar; h may start anywhere (h2 <= 6). */
static void tag_avx2_from(uint8_t tag[16], const uint8_t key[32], const uint64_t h[3], const uint8_t *m, size_t n)
{
    struct poly1305_ctx c;
    poly1305_init(&c, key);
    memcpy(c.h, h, sizeof(c.h));
    size_t done = poly1305_blocks_avx2(c.h, c.r, m, n & ~(size_t)15);
    CHECK_EQ(done, n & ~(size_t)63);
    CHECK(c.h[2] <= 4);
    simd_host_allow(false);
    poly1305_update(&c, m + done, n - done);
    simd_host_allow(true);
    poly1305_final(&c, tag);
}

static void tag_scalar_from(uint8_t tag[16], const uint8_t key[32], const uint64_t h[3], const uint8_t *m, size_t n)
{
    struct poly1305_ctx c;
    poly1305_init(&c, key);
    memcpy(c.h, h, sizeof(c.h));
    simd_host_allow(false);
    poly1305_update(&c, m, n);
    simd_host_allow(true);
    poly1305_final(&c, tag);
}

static const uint64_t h_zero[3];

/* RFC 8439 appendix A.3, vectors 3 and 4 (375 and 127 bytes; the other
 * vectors are shorter than a group of four blocks), through the AVX2 code
 * and through poly1305() with it allowed. */
TEST(poly1305_avx2_rfc8439_vectors)
{
    if (!avx2_or_skip())
        return;
    static const char ietf[] =
        "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF "
        "Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an "
        "\"IETF Contribution\". Such statements include oral statements in IETF sessions, as well as written and "
        "electronic communications made at any time or place, which are addressed to";
    static const char jabberwocky[] = "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"
                                      "All mimsy were the borogoves,\nAnd the mome raths outgrabe.";
    static const struct {
        const char *key, *tag, *msg;
        size_t len;
    } v[] = {
        { "36e5f6b5c5e06070f0efca96227a863e00000000000000000000000000000000", "f3477e7cd95417af89a6b8794c310cf0",
          ietf, sizeof(ietf) - 1 },
        { "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0", "4541669a7eaaee61e708dc7cbcc5eb62",
          jabberwocky, sizeof(jabberwocky) - 1 },
    };
    CHECK_EQ(v[0].len, 375);
    CHECK_EQ(v[1].len, 127);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t key[32], tag[16];
        unhex(v[i].key, key, 32);
        tag_avx2_from(tag, key, h_zero, (const uint8_t *)v[i].msg, v[i].len);
        if (!digest_is(tag, v[i].tag, 16))
            TEST_FAIL("vector %zu through poly1305_blocks_avx2()", i);
        unsigned long uses = simd_host_uses();
        poly1305(tag, key, v[i].msg, v[i].len);
        if (!digest_is(tag, v[i].tag, 16))
            TEST_FAIL("vector %zu through poly1305()", i);
        CHECK_EQ(simd_host_uses() - uses, v[i].len >= 192 ? 1 : 0);
    }
}

/* Random keys, maximal r (every bit the clamp allows) and r = 1, random
 * and all-0xff messages (limbs at their maximum) of lengths 0..20000 and
 * the lengths around the AVX2 code's thresholds: the same tag as the
 * scalar code, and the AVX2 code did run for the long ones. */
TEST(poly1305_avx2_matches_scalar)
{
    if (!avx2_or_skip())
        return;
    static uint8_t in[20000];
    static const size_t edges[] = { 0,   15,  16,  63,   64,   65,   127,  128,  191,  192,  193,  255,
                                    256, 257, 319, 320,  1023, 1024, 1087, 1088, 1089, 1151, 1152, 1153,
                                    1216, 1535, 1536, 1600, 2047, 2048, 4096, 16384, 19999, 20000 };
    size_t nedges = sizeof(edges) / sizeof(edges[0]);
    for (int i = 0; i < 400; i++) {
        uint8_t key[32], want[16], got[16];
        fill_random(key, sizeof(key));
        if (i % 4 == 1)
            memset(key, 0xff, 16); /* r: all the clamp leaves */
        if (i % 8 == 3) {
            memset(key, 0, 16);
            key[0] = 1; /* r = 1 */
        }
        size_t n = i < (int)nedges ? edges[i] : (size_t)(rnd() % (sizeof(in) + 1));
        if (i % 3 == 2)
            memset(in, 0xff, n);
        else
            fill_random(in, n);
        tag_scalar(want, key, in, n);
        unsigned long uses = simd_host_uses();
        poly1305(got, key, in, n);
        if (memcmp(got, want, 16) != 0) {
            TEST_FAIL("case %d: %zu bytes", i, n);
            return;
        }
        if (simd_host_uses() - uses != (n >= 192 ? 1u : 0u)) {
            TEST_FAIL("case %d: %zu bytes: the AVX2 code ran %lu times", i, n, simd_host_uses() - uses);
            return;
        }
        tag_avx2_from(got, key, h_zero, in, n);
        if (memcmp(got, want, 16) != 0) {
            TEST_FAIL("case %d: %zu bytes through poly1305_blocks_avx2()", i, n);
            return;
        }
    }
}

/* The accumulator the AVX2 code takes over at its extremes: at and around
 * p = 2^130 - 5, at 2^130 - 1, with the largest h2 the scalar code hands
 * over (<= 4) and allows (<= 6), all ones in h0 and h1; maximal r and
 * all-0xff messages too. */
TEST(poly1305_avx2_extreme_accumulators)
{
    if (!avx2_or_skip())
        return;
    const uint64_t F = ~0ull;
    static const uint64_t hs[][3] = {
        { F - 4, F, 3 },     /* p */
        { F - 5, F, 3 },     /* p - 1 */
        { F - 3, F, 3 },     /* p + 1 */
        { F, F, 3 },         /* 2^130 - 1 */
        { F, F, 4 },         { F, F, 5 },  { F, F, 6 }, { 0, 0, 4 }, { 0, 0, 6 }, { 1, 0, 0 },
        { F, 0, 0 },         { 0, F, 0 },  { F, F, 0 }, { 0x3ffffff, 0, 0 },
        { 0xfc00000000000000ull, 0x3fffffffffull, 2 }, /* a limb boundary */
    };
    static uint8_t in[3000];
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        for (int j = 0; j < 12; j++) {
            uint8_t key[32], want[16], got[16];
            fill_random(key, sizeof(key));
            if (j & 1)
                memset(key, 0xff, 16);
            size_t n = j < 4 ? 64 * (size_t)(j + 1) : 64 + rnd() % (sizeof(in) - 63);
            if (j & 2)
                memset(in, 0xff, n);
            else
                fill_random(in, n);
            tag_scalar_from(want, key, hs[i], in, n);
            tag_avx2_from(got, key, hs[i], in, n);
            if (memcmp(got, want, 16) != 0) {
                TEST_FAIL("h #%zu, case %d: %zu bytes", i, j, n);
                return;
            }
        }
}

/* poly1305_update() in two pieces cut at every point of messages long
 * enough for every path of the AVX2 code (single groups, the step of one
 * to seven groups, steps of eight): the one-shot scalar tag. */
TEST(poly1305_avx2_every_split)
{
    if (!avx2_or_skip())
        return;
    static uint8_t in[2200];
    static const size_t lens[] = { 200, 777, 1100, 2200 };
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        size_t n = lens[l];
        uint8_t key[32], want[16], got[16];
        fill_random(key, sizeof(key));
        if (l & 1) {
            memset(key, 0xff, 16);
            memset(in, 0xff, n);
        } else {
            fill_random(in, n);
        }
        tag_scalar(want, key, in, n);
        for (size_t cut = 0; cut <= n; cut++) {
            struct poly1305_ctx c;
            poly1305_init(&c, key);
            poly1305_update(&c, in, cut);
            poly1305_update(&c, in + cut, n - cut);
            poly1305_final(&c, got);
            if (memcmp(got, want, 16) != 0) {
                TEST_FAIL("%zu bytes cut at %zu", n, cut);
                return;
            }
        }
    }
}

int main(void) { return test_main(); }
