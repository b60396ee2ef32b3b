/* MBR and GPT partition lookup (partition.h). */
#include "partition.h"
#include "../kernel/format.h"
#include <string.h>

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* The GPT's checksums are the IEEE 802.3 CRC-32 (UEFI 2.10, 5.3.2), not
 * the CRC32C the log uses; bitwise, it only runs at boot. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static int gpt_lookup(part_read_fn rd, void *ctx, uint64_t disk_sectors, unsigned number, uint8_t *s,
                      uint64_t *first, uint64_t *count, char *err, size_t n)
{
    if (rd(ctx, 1, 1, s)) {
        fmt_snprintf(err, n, "cannot read the GPT header (sector 1)");
        return -1;
    }
    if (memcmp(s, "EFI PART", 8) != 0) {
        fmt_snprintf(err, n, "the MBR is protective but sector 1 holds no GPT header");
        return -1;
    }
    uint32_t hsize = get32(s + 12);
    if (hsize < 92 || hsize > 512) {
        fmt_snprintf(err, n, "the GPT header's size %u is invalid", hsize);
        return -1;
    }
    uint32_t want = get32(s + 16);
    uint8_t h[512];
    memcpy(h, s, hsize);
    memset(h + 16, 0, 4);
    if (crc32_ieee(h, hsize) != want) {
        fmt_snprintf(err, n, "the GPT header's CRC does not match");
        return -1;
    }
    uint64_t entries_lba = get64(s + 72);
    uint32_t nent = get32(s + 80), esize = get32(s + 84);
    if (esize < 128 || esize % 128 || esize > 4096 || entries_lba < 2 || entries_lba >= disk_sectors) {
        fmt_snprintf(err, n, "the GPT header's entry array is invalid");
        return -1;
    }
    if (number > nent) {
        fmt_snprintf(err, n, "the GPT has %u entries: there is no partition %u", nent, number);
        return -1;
    }
    uint64_t off = (uint64_t)(number - 1) * esize;
    uint64_t lba = entries_lba + off / 512;
    uint32_t in = (uint32_t)(off % 512), secs = (in + esize + 511) / 512;
    if (lba + secs > disk_sectors || secs > 8 || rd(ctx, lba, secs, s)) {
        fmt_snprintf(err, n, "cannot read GPT entry %u", number);
        return -1;
    }
    const uint8_t *e = s + in;
    static const uint8_t zero[16];
    if (memcmp(e, zero, 16) == 0) {
        fmt_snprintf(err, n, "GPT entry %u is unused: no partition %u", number, number);
        return -1;
    }
    uint64_t a = get64(e + 32), b = get64(e + 40);
    if (a > b || b >= disk_sectors) {
        fmt_snprintf(err, n, "GPT partition %u (sectors %llu-%llu) does not lie on the disk (%llu sectors)", number,
                     (unsigned long long)a, (unsigned long long)b, (unsigned long long)disk_sectors);
        return -1;
    }
    *first = a;
    *count = b - a + 1;
    return 0;
}

int partition_lookup(part_read_fn rd, void *ctx, uint64_t disk_sectors, unsigned number, uint8_t *s,
                     uint64_t *first, uint64_t *count, char *err, size_t n)
{
    if (number == 0) {
        fmt_snprintf(err, n, "partitions are numbered from 1");
        return -1;
    }
    if (disk_sectors < 2 || rd(ctx, 0, 1, s)) {
        fmt_snprintf(err, n, "cannot read the partition table (sector 0)");
        return -1;
    }
    if (s[510] != 0x55 || s[511] != 0xaa) {
        fmt_snprintf(err, n, "the disk has no partition table (no MBR signature in sector 0)");
        return -1;
    }
    for (int i = 0; i < 4; i++)
        if (s[446 + 16 * i + 4] == 0xee)
            return gpt_lookup(rd, ctx, disk_sectors, number, s, first, count, err, n);
    if (number > 4) {
        fmt_snprintf(err, n, "partition %u would be a logical partition of an MBR extended one: name a primary "
                             "partition (1-4)", number);
        return -1;
    }
    const uint8_t *e = s + 446 + 16 * (number - 1);
    uint8_t type = e[4];
    uint64_t a = get32(e + 8), c = get32(e + 12);
    if (type == 0 || c == 0) {
        fmt_snprintf(err, n, "MBR partition %u is empty", number);
        return -1;
    }
    if (type == 0x05 || type == 0x0f || type == 0x85) {
        fmt_snprintf(err, n, "MBR partition %u is an extended partition (a container of others)", number);
        return -1;
    }
    if (a == 0 || a + c > disk_sectors) {
        fmt_snprintf(err, n, "MBR partition %u (sectors %llu+%llu) does not lie on the disk (%llu sectors)", number,
                     (unsigned long long)a, (unsigned long long)c, (unsigned long long)disk_sectors);
        return -1;
    }
    *first = a;
    *count = c;
    return 0;
}
