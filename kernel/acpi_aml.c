/* Pure ACPI helpers (host unit-tested): checksums and the \_S5 object. */
#include "acpi.h"
#include <string.h>

uint8_t acpi_checksum(const void *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((const uint8_t *)p)[i];
    return s;
}

/* AML integer data (ACPI 6.5, 20.2.3 "Data Objects Encoding"). Returns
 * the bytes consumed, 0 when not an integer. */
static size_t aml_integer(const uint8_t *p, size_t len, uint8_t *out)
{
    if (!len)
        return 0;
    switch (p[0]) {
    case 0x00: *out = 0; return 1; /* ZeroOp */
    case 0x01: *out = 1; return 1; /* OneOp */
    case 0x0a: if (len < 2) return 0; *out = p[1]; return 2; /* BytePrefix */
    case 0x0b: if (len < 3) return 0; *out = p[1]; return 3; /* WordPrefix */
    case 0x0c: if (len < 5) return 0; *out = p[1]; return 5; /* DWordPrefix */
    default: return 0;
    }
}

bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb)
{
    /* DefName := NameOp(0x08) NameString DataRefObject, with NameString
     * "_S5_" optionally preceded by the root prefix '\'. The object is a
     * Package: PackageOp(0x12) PkgLength NumElements elements... */
    for (size_t i = 0; i + 4 < len; i++) {
        if (memcmp(aml + i, "_S5_", 4) != 0)
            continue;
        if (!(i >= 1 && (aml[i - 1] == 0x08 || (aml[i - 1] == '\\' && i >= 2 && aml[i - 2] == 0x08))))
            continue;
        size_t p = i + 4;
        if (p >= len || aml[p] != 0x12)
            continue;
        p++;
        if (p >= len)
            return false;
        /* PkgLength (20.2.4): bits 7:6 of the lead byte count the bytes
         * that follow; the length covers itself and the package body. */
        size_t follow = aml[p] >> 6, pkglen;
        if (p + follow >= len)
            return false;
        if (follow == 0) {
            pkglen = aml[p] & 0x3f;
        } else {
            pkglen = aml[p] & 0x0f;
            for (size_t b = 0; b < follow; b++)
                pkglen |= (size_t)aml[p + 1 + b] << (4 + 8 * b);
        }
        if (pkglen < 1 + follow || p + pkglen > len)
            return false; /* the package does not fit in the table */
        size_t end = p + pkglen;
        p += 1 + follow;
        if (p >= end)
            return false;
        uint8_t count = aml[p++]; /* NumElements */
        size_t n = aml_integer(aml + p, end - p, typa);
        if (!n)
            return false;
        p += n;
        if (count >= 2) {
            if (!aml_integer(aml + p, end - p, typb))
                return false;
        } else {
            *typb = 0;
        }
        return true;
    }
    return false;
}
