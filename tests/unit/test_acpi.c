/* kernel/acpi_aml.c: table checksums and finding \_S5 in AML. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../kernel/acpi.h"

/* --------------------------------------------------------- checksum ---- */

TEST(checksum_of_nothing_is_zero)
{
    CHECK_EQ(acpi_checksum("", 0), 0);
}

TEST(checksum_wraps_mod_256)
{
    const uint8_t b[] = { 0xff, 0x01, 0x80, 0x80, 0x10 };
    CHECK_EQ(acpi_checksum(b, 1), 0xff);
    CHECK_EQ(acpi_checksum(b, 2), 0x00);
    CHECK_EQ(acpi_checksum(b, 4), 0x00);
    CHECK_EQ(acpi_checksum(b, 5), 0x10);
}

TEST(checksum_of_valid_table_is_zero)
{
    struct {
        struct acpi_sdt h;
        uint8_t body[13];
    } __attribute__((packed)) t;
    memset(&t, 0, sizeof(t));
    memcpy(t.h.sig, "DSDT", 4);
    t.h.length = sizeof(t);
    t.h.revision = 2;
    memcpy(t.h.oem, "BOCHS ", 6);
    for (size_t i = 0; i < sizeof(t.body); i++)
        t.body[i] = (uint8_t)(i * 37 + 11);
    t.h.checksum = (uint8_t)(0x100 - acpi_checksum(&t, sizeof(t)));
    CHECK_EQ(acpi_checksum(&t, sizeof(t)), 0);
    t.body[3] ^= 1;
    CHECK(acpi_checksum(&t, sizeof(t)) != 0);
}

/* --------------------------------------------------------------- _S5 ---- */

/* Parse from a heap copy of exactly len bytes, so ASan reports any read
 * past the end. typa/typb start as 0xee so a result that leaves them
 * untouched is noticed. */
static bool s5(const uint8_t *aml, size_t len, uint8_t *a, uint8_t *b)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, aml, len);
    *a = *b = 0xee;
    bool r = acpi_parse_s5(copy, len, a, b);
    free(copy);
    return r;
}

#define S5(arr, a, b) s5(arr, sizeof(arr), a, b)

/* QEMU's DSDT: Name (\_S5, Package (0x04) { Zero, Zero, Zero, Zero }). */
static const uint8_t qemu_s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00 };
/* Bochs BIOS style: Name (_S5, Package (0x02) { 0x07, 0x03 }) with
 * BytePrefix elements (distinct values so a mix-up shows). */
static const uint8_t bochs_s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x07, 0x0a, 0x03 };

TEST(s5_qemu_package_of_zeros)
{
    uint8_t a, b;
    CHECK(S5(qemu_s5, &a, &b));
    CHECK_EQ(a, 0);
    CHECK_EQ(b, 0);
}

TEST(s5_bochs_byte_prefix_elements)
{
    uint8_t a, b;
    CHECK(S5(bochs_s5, &a, &b));
    CHECK_EQ(a, 7);
    CHECK_EQ(b, 3);
}

TEST(s5_one_op_and_zero_op)
{
    const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x00 };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 1);
    CHECK_EQ(b, 0);
    const uint8_t aml2[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x00, 0x01 };
    CHECK(S5(aml2, &a, &b));
    CHECK_EQ(a, 0);
    CHECK_EQ(b, 1);
}

TEST(s5_word_and_dword_prefix_take_low_byte)
{
    const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x0a, 0x02, 0x0b, 0x05, 0x00, 0x0c, 0x06, 0x00, 0x00, 0x00 };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 5);
    CHECK_EQ(b, 6);
}

TEST(s5_root_prefixed_name)
{
    const uint8_t aml[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 5);
    CHECK_EQ(b, 5);
}

TEST(s5_two_byte_pkg_length)
{
    /* PkgLength 0x47 0x00: bits 7:6 = 1, so one more byte follows; the
     * length is 7 (low nibble, then the next byte << 4). */
    const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x47, 0x00, 0x02, 0x0a, 0x09, 0x0a, 0x04 };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 9);
    CHECK_EQ(b, 4);
}

TEST(s5_four_byte_pkg_length)
{
    /* bits 7:6 = 3: three more bytes. */
    const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0xc8, 0x00, 0x00, 0x00, 0x02, 0x01, 0x0a, 0x02 };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 1);
    CHECK_EQ(b, 2);
}

TEST(s5_single_element_package_gives_typb_zero)
{
    const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x01, 0x0a, 0x05, 0x08, '_', 'S', '6', '_' };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 5);
    CHECK_EQ(b, 0);
}

TEST(s5_inside_a_larger_dsdt)
{
    /* DefScope(\_SB) with a few objects, then _S4 and _S5 at the root. */
    const uint8_t aml[] = {
        0x10, 0x0d, '\\', '_', 'S', 'B', '_', 0x08, 'P', 'C', 'I', '0', 0x0a, 0x01,  /* Scope (\_SB) {Name(PCI0,1)} */
        0x08, '_', 'S', '4', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,           /* Name (_S4, ...) */
        0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x06, 0x00, 0x00, /* Name (_S5, ...) */
        0x14, 0x07, '_', 'P', 'T', 'S', 0x01, 0xa3,                                    /* Method (_PTS, 1) */
    };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 5);
    CHECK_EQ(b, 6);
}

TEST(s5_name_without_name_op_is_skipped)
{
    /* "_S5_" first inside buffer data (followed by what looks like a
     * package), then as a reference in a method body, then as a Name whose
     * value is not a package, and only then the real one. */
    const uint8_t aml[] = {
        0x11, 0x0d, 0x0a, 0x0a, 'A', '_', 'S', '5', '_', 0x12, 0x04, 0x01, 0x0a, 0x09, /* Buffer (10) {...} */
        0x0d, '_', 'S', '5', '_', 0x00,             /* String "_S5_" */
        0x70, '\\', '_', 'S', '5', '_', 0x60,       /* Store (\_S5, Local0) */
        0x08, '_', 'S', '5', '_', 0x0a, 0x02,       /* Name (_S5, 2): not a package */
        0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x03, 0x0a, 0x04,
    };
    uint8_t a, b;
    CHECK(S5(aml, &a, &b));
    CHECK_EQ(a, 3);
    CHECK_EQ(b, 4);
}

TEST(s5_absent)
{
    const uint8_t aml[] = { 0x08, '_', 'S', '4', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
                            0x0d, '_', 'S', '5', '_', 0x00 };
    uint8_t a, b;
    CHECK(!S5(aml, &a, &b));
    CHECK(!s5(aml, 0, &a, &b));
}

TEST(s5_package_without_integer_element)
{
    /* First element is a String, not an integer. */
    const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0d, 'x', 0x00, 0x00 };
    uint8_t a, b;
    CHECK(!S5(aml, &a, &b));
}

/* Every prefix of the samples, each in a heap buffer of exactly that size:
 * ASan aborts the run on any read past the end. Prefixes that stop before
 * the first element is complete must fail. */
static const struct {
    const uint8_t *aml;
    size_t len, first_element_end;
} samples[] = {
    { bochs_s5, sizeof(bochs_s5), 10 },
    { qemu_s5, sizeof(qemu_s5), 9 },
};

TEST(s5_truncated_prefix_never_reads_past_end)
{
    const uint8_t wide[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0xcd, 0x00, 0x00, 0x00, 0x02, 0x0c, 1, 2, 3, 4,
                             0x0b, 5, 6 };
    for (size_t len = 0; len < sizeof(wide); len++) {
        uint8_t a, b;
        bool r = s5(wide, len, &a, &b);
        if (len < 17)
            CHECK(!r);
    }
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        for (size_t len = 0; len < samples[s].first_element_end; len++) {
            uint8_t a, b;
            if (s5(samples[s].aml, len, &a, &b))
                TEST_FAIL("sample %zu cut to %zu bytes was accepted", s, len);
        }
    }
}

/* A package whose PkgLength runs past the end of the AML is truncated and
 * must not be believed. */
TEST(s5_truncated_package_is_rejected)
{
    /* Regression (was a bug in kernel/acpi_aml.c:45-56): PkgLength is skipped, never checked
     * against len, and a missing second element silently becomes 0, so
     * bochs_s5 cut to 10 or 11 bytes returns true with SLP_TYPb = 0
     * instead of 3 (and qemu_s5 cut to 9..11 bytes returns true). */
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        for (size_t len = samples[s].first_element_end; len < samples[s].len; len++) {
            uint8_t a, b;
            if (s5(samples[s].aml, len, &a, &b))
                TEST_FAIL("sample %zu cut to %zu of %zu bytes was accepted (typa %u, typb %u)", s, len,
                          samples[s].len, a, b);
        }
    }
}

TEST(s5_name_at_very_end)
{
    const uint8_t aml[] = { 0x00, 0x08, '_', 'S', '5', '_' };
    const uint8_t aml2[] = { 0x00, 0x08, '_', 'S', '5', '_', 0x12 };
    uint8_t a, b;
    CHECK(!S5(aml, &a, &b));
    CHECK(!S5(aml2, &a, &b));
}

int main(void) { return test_main(); }
