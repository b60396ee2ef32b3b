/* Flat test-guest images (loader.h): raw code that starts in real mode,
 * marked by a magic so that a random file is never executed as a guest. */
#include "loader.h"
#include "../kernel/format.h"
#include <string.h>

bool load_flat_probe(const uint8_t *img, size_t len)
{
    return len >= 16 && img[0] == 0xeb && memcmp(img + 2, FLAT_MAGIC, 8) == 0;
}

int load_flat(struct guest_mem *m, const uint8_t *img, size_t len, struct guest_start *st, char *err, size_t n)
{
    if (!load_flat_probe(img, len)) {
        fmt_snprintf(err, n, "not a flat test-guest image (no %s magic)", FLAT_MAGIC);
        return -1;
    }
    if (FLAT_LOAD_ADDR + len > 0x9fc00 || guest_write(m, FLAT_LOAD_ADDR, img, len)) {
        fmt_snprintf(err, n, "flat image of %u bytes does not fit below 640 KiB", (unsigned)len);
        return -1;
    }
    st->mode = START_REAL_MODE;
    st->entry = FLAT_LOAD_ADDR;
    st->stack = 0x7000;
    st->esi = 0;
    st->gdt = 0;
    fmt_snprintf(st->kind, sizeof(st->kind), "flat test image, %u bytes, real mode at 0000:%04x", (unsigned)len,
                 FLAT_LOAD_ADDR);
    return 0;
}
