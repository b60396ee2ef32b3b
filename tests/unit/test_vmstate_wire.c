/* vmm/vmstate_wire.c: the machine-state blob's container. A blob written
 * section by section parses back to the same sections; another build, a
 * wrong magic, version or length, every truncation, every changed byte,
 * an unknown, repeated or overlong section and trailing bytes are all
 * refused with a sentence; the comparison names the first difference. */
#include "test.h"
#include "../../vmm/vmstate_wire.h"
#include <stdint.h>

static const uint8_t id_a[VS_BUILD_ID] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
static const uint8_t id_b[VS_BUILD_ID] = { 0xaa, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
static uint8_t blob[4096], copy[4096];
static char err[300];
static struct vs_sec sec[VS_IDS];

/* Three sections: vm (32 bytes), vmcs (100), net (0 bytes). */
static size_t make(uint8_t *out, size_t cap, uint8_t salt)
{
    struct vs_writer w;
    uint8_t data[100];
    vs_begin(&w, out, cap);
    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + salt);
    vs_put_sec(&w, VS_VM, data, 32);
    vs_sec_begin(&w, VS_VMCS);
    vs_put(&w, data, 60);
    vs_put(&w, data + 60, 40);
    vs_sec_end(&w);
    vs_put_sec(&w, VS_NET, NULL, 0);
    return vs_finish(&w, id_a);
}

TEST(round_trip)
{
    size_t n = make(blob, sizeof(blob), 0);
    CHECK_EQ(n, VS_HEADER + 3 * VS_SEC_HEAD + 32 + 100);
    CHECK_EQ(vs_parse(blob, n, id_a, sec, err, sizeof(err)), 0);
    CHECK(sec[VS_VM].data && sec[VS_VM].len == 32 && sec[VS_VM].data[1] == 7);
    CHECK(sec[VS_VMCS].data && sec[VS_VMCS].len == 100 && sec[VS_VMCS].data[99] == (uint8_t)(99 * 7));
    CHECK(sec[VS_NET].data && sec[VS_NET].len == 0);
    CHECK(!sec[VS_CPU].data && !sec[VS_BLK].data);
    CHECK_STR(vs_section_name(VS_LAPIC), "lapic");
    CHECK_STR(vs_section_name(999), "?");
}

TEST(too_small_a_buffer_gives_zero)
{
    for (size_t cap = 0; cap < VS_HEADER + 3 * VS_SEC_HEAD + 132; cap++)
        CHECK_EQ(make(blob, cap, 0), 0);
}

TEST(another_build_is_refused_by_id)
{
    size_t n = make(blob, sizeof(blob), 0);
    CHECK_EQ(vs_parse(blob, n, id_b, sec, err, sizeof(err)), -1);
    CHECK(strstr(err, "comes from ftvisor build 0102030405060708, this is build aa02030405060708") != NULL);
}

TEST(every_truncation_is_refused)
{
    size_t n = make(blob, sizeof(blob), 0);
    for (size_t len = 0; len < n; len++) {
        err[0] = 0;
        CHECK_EQ(vs_parse(blob, len, id_a, sec, err, sizeof(err)), -1);
        CHECK(err[0] != 0);
    }
}

TEST(every_changed_byte_is_refused)
{
    size_t n = make(blob, sizeof(blob), 0);
    for (size_t i = 0; i < n; i++)
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(copy, blob, n);
            copy[i] ^= (uint8_t)(1u << bit);
            if (i >= 28 && i < 32)
                continue; /* the reserved word after the build ID is not checked */
            if (i >= 36 && i < 40)
                continue; /* nor the one after the length */
            err[0] = 0;
            if (vs_parse(copy, n, id_a, sec, err, sizeof(err)) != -1) {
                TEST_FAIL("byte %zu bit %u changed, still accepted", i, bit);
                return;
            }
            CHECK(err[0] != 0);
        }
}

TEST(crc_mismatch_names_the_section)
{
    size_t n = make(blob, sizeof(blob), 0);
    blob[VS_HEADER + VS_SEC_HEAD + 32 + VS_SEC_HEAD + 5] ^= 1; /* in vmcs's data */
    CHECK_EQ(vs_parse(blob, n, id_a, sec, err, sizeof(err)), -1);
    CHECK_STR(err, "section vmcs: CRC mismatch (damaged)");
}

TEST(unknown_repeated_and_trailing_are_refused)
{
    struct vs_writer w;
    vs_begin(&w, blob, sizeof(blob));
    vs_put_sec(&w, VS_IDS, "x", 1);
    size_t n = vs_finish(&w, id_a);
    CHECK_EQ(vs_parse(blob, n, id_a, sec, err, sizeof(err)), -1);
    CHECK(strstr(err, "unknown") != NULL);
    vs_begin(&w, blob, sizeof(blob));
    vs_put_sec(&w, VS_CPU, "x", 1);
    vs_put_sec(&w, VS_CPU, "y", 1);
    n = vs_finish(&w, id_a);
    CHECK_EQ(vs_parse(blob, n, id_a, sec, err, sizeof(err)), -1);
    CHECK(strstr(err, "twice") != NULL);
    n = make(blob, sizeof(blob), 0);
    blob[n] = 0;
    CHECK_EQ(vs_parse(blob, n + 1, id_a, sec, err, sizeof(err)), -1); /* the header's length says n */
    CHECK(strstr(err, "its header says") != NULL);
}

TEST(compare_names_the_first_difference)
{
    size_t n = make(blob, sizeof(blob), 0);
    size_t m = make(copy, sizeof(copy), 0);
    CHECK_EQ(vs_compare(blob, n, copy, m, id_a, err, sizeof(err)), 0);
    m = make(copy, sizeof(copy), 1);
    CHECK_EQ(vs_compare(blob, n, copy, m, id_a, err, sizeof(err)), -1);
    CHECK_STR(err, "section vm differs at byte 0 (0x00, then 0x01)");
}

int main(void) { return test_main(); }
