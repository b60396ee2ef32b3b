/* net/inet_sum.c: the Internet checksum's sum lwIP uses, against a plain
 * 16-bit-at-a-time reference at every length and start offset, on random
 * and all-ones data (the most carries), and RFC 1071's example. */
#include "test.h"
#include "../../net/inet_sum.h"
#include <stdint.h>

/* RFC 1071's definition: 16-bit words as the CPU loads them (little
 * endian here), an odd last byte padded with zero, end-around carry. */
static uint16_t reference(const uint8_t *p, int len)
{
    uint32_t s = 0;
    int i = 0;
    for (; i + 1 < len; i += 2) {
        s += (uint32_t)(p[i] | p[i + 1] << 8);
        s = (s & 0xffff) + (s >> 16);
    }
    if (i < len) {
        s += p[i];
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)s;
}

static uint8_t buf[2100];

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint8_t next_byte(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)rng;
}

TEST(every_length_and_offset_random)
{
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = next_byte();
    for (int off = 0; off < 9; off++)
        for (int len = 0; len <= 2060; len++)
            if (inet_sum(buf + off, len) != reference(buf + off, len)) {
                TEST_FAIL("len %d at offset %d: %04x, reference %04x", len, off, inet_sum(buf + off, len),
                          reference(buf + off, len));
                return;
            }
}

TEST(all_ones_and_near_carries)
{
    /* 0xff everywhere: every add carries; 0xffff words sum to 0xffff. */
    memset(buf, 0xff, sizeof(buf));
    for (int len = 0; len <= 2060; len++)
        CHECK(inet_sum(buf + 1, len) == reference(buf + 1, len));
    /* Words just below a wrap: 0xfffe and 0x0001 alternating. */
    for (size_t i = 0; i + 1 < sizeof(buf); i += 2) {
        buf[i] = (i / 2) % 2 ? 0x01 : 0xfe;
        buf[i + 1] = (i / 2) % 2 ? 0x00 : 0xff;
    }
    for (int len = 0; len <= 2060; len += 3)
        CHECK(inet_sum(buf, len) == reference(buf, len));
}

TEST(rfc1071_example)
{
    /* RFC 1071, section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 in
     * big-endian words; loaded little-endian the same sum is f2dd. */
    static const uint8_t ex[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    CHECK(inet_sum(ex, 8) == 0xf2dd);
    CHECK(inet_sum(ex, 0) == 0);
    CHECK(inet_sum(ex, -1) == 0);
}

int main(void) { return test_main(); }
