/* kernel/crc32c.c, kernel/sha256.c and kernel/blake2b.c: CRC-32C (RFC
 * 3720), SHA-256 (FIPS 180-4 / NIST examples), HMAC-SHA256 (RFC 4231),
 * ct_equal(), and BLAKE2b (RFC 7693 appendix A; keyed vectors from
 * Python's hashlib.blake2b, an independent implementation). */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../kernel/crc32c.h"
#include "../../kernel/sha256.h"
#include "../../kernel/blake2b.h"

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

int main(void) { return test_main(); }
