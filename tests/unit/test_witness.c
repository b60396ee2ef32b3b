/* The witness protocol's codec (net/witness.c): round trips, the MAC over
 * every byte, the nonce echo, and the field checks. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "../../net/witness.h"

static const char *KEY = "pair-test-key-0123456789";

static struct witness_msg query(uint8_t asker, uint64_t epoch)
{
    struct witness_msg m;
    memset(&m, 0, sizeof(m));
    m.asker = asker;
    m.epoch = epoch;
    for (int i = 0; i < 16; i++)
        m.nonce[i] = (uint8_t)(i * 7 + asker);
    return m;
}

TEST(witness_query_round_trip)
{
    uint8_t kw[32], b[WITNESS_MSG_LEN];
    witness_key(KEY, kw);
    struct witness_msg q = query(1, 0x0123456789abcdefull), d;
    witness_encode(kw, &q, b);
    CHECK(memcmp(b, "FTWQ", 4) == 0);
    CHECK_EQ(b[4], 1);
    CHECK_EQ(b[6], WITNESS_NO_HOLDER);
    CHECK_EQ(b[8], 0xef); /* little-endian epoch */
    const char *why = NULL;
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), 0);
    CHECK(!d.answer);
    CHECK_EQ(d.asker, 1);
    CHECK_EQ(d.epoch, 0x0123456789abcdefull);
    CHECK(memcmp(d.nonce, q.nonce, 16) == 0);
}

TEST(witness_answers_round_trip)
{
    uint8_t kw[32], b[WITNESS_MSG_LEN];
    witness_key(KEY, kw);
    struct witness_msg a = query(0, 42), d;
    a.answer = true;
    a.holder = 0;
    a.verdict = WITNESS_GRANTED;
    witness_encode(kw, &a, b);
    const char *why;
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), 0);
    CHECK(d.answer);
    CHECK_EQ(d.verdict, WITNESS_GRANTED);
    CHECK_EQ(d.holder, 0);
    a.holder = 1;
    a.verdict = WITNESS_REFUSED;
    witness_encode(kw, &a, b);
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), 0);
    CHECK_EQ(d.verdict, WITNESS_REFUSED);
    CHECK_EQ(d.holder, 1);
}

TEST(witness_every_flipped_bit_is_rejected)
{
    uint8_t kw[32], b[WITNESS_MSG_LEN];
    witness_key(KEY, kw);
    struct witness_msg q = query(0, 7), d;
    witness_encode(kw, &q, b);
    for (unsigned bit = 0; bit < WITNESS_MSG_LEN * 8; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        const char *why = NULL;
        if (witness_decode(kw, b, sizeof(b), &d, &why) == 0)
            TEST_FAIL("bit %u flipped and still accepted", bit);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    const char *why;
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), 0);
}

TEST(witness_other_key_length_and_fields_rejected)
{
    uint8_t kw[32], other[32], b[WITNESS_MSG_LEN];
    witness_key(KEY, kw);
    witness_key("another-pair-key-0123456789", other);
    struct witness_msg q = query(0, 7), d;
    witness_encode(other, &q, b);
    const char *why = NULL;
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), -1);
    CHECK_STR(why, "bad MAC (another pair's key, or forged)");
    witness_encode(kw, &q, b);
    CHECK_EQ(witness_decode(kw, b, sizeof(b) - 1, &d, &why), -1);
    CHECK_STR(why, "wrong length");
    /* A validly signed message with an asker outside the pair. */
    q.asker = 2;
    witness_encode(kw, &q, b);
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), -1);
    CHECK_STR(why, "a field is out of range");
    /* An answer granting someone other than the asker. */
    struct witness_msg a = query(0, 7);
    a.answer = true;
    a.holder = 1;
    a.verdict = WITNESS_GRANTED;
    witness_encode(kw, &a, b);
    CHECK_EQ(witness_decode(kw, b, sizeof(b), &d, &why), -1);
    CHECK_STR(why, "a field is out of range");
}

int main(void) { return test_main(); }
