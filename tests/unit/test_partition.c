/* drivers/partition.c: MBR and GPT lookups on disk images built in memory,
 * and every kind of damage they must refuse with a reason. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include "../../drivers/partition.h"

#define DISK_SECTORS 4096
static uint8_t disk[DISK_SECTORS * 512];
static uint8_t scratch[4096];
static char err[200];
static int reads_failing_from = -1; /* sector from which reads fail */

static int rd(void *ctx, uint64_t lba, uint32_t count, uint8_t *buf)
{
    (void)ctx;
    if (lba + count > DISK_SECTORS || (reads_failing_from >= 0 && lba + count > (uint64_t)reads_failing_from))
        return -1;
    memcpy(buf, disk + lba * 512, count * 512);
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 (IEEE) by table: a second implementation, independent of the
 * bitwise one under test. */
static uint32_t crc32_table(const uint8_t *p, size_t n)
{
    static uint32_t t[256];
    if (!t[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
    uint32_t c = 0xffffffffu;
    while (n--)
        c = t[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

static void mbr_entry(int i, uint8_t type, uint32_t first, uint32_t count)
{
    uint8_t *e = disk + 446 + 16 * i;
    e[4] = type;
    put32(e + 8, first);
    put32(e + 12, count);
}

static void new_mbr(void)
{
    memset(disk, 0, sizeof(disk));
    disk[510] = 0x55;
    disk[511] = 0xaa;
}

static int look(unsigned n, uint64_t *a, uint64_t *c)
{
    err[0] = 0;
    return partition_lookup(rd, NULL, DISK_SECTORS, n, scratch, a, c, err, sizeof(err));
}

#define FAILS_WITH(n, sub)                                                              \
    do {                                                                                \
        uint64_t fa_, fc_;                                                              \
        CHECK_EQ(look(n, &fa_, &fc_), -1);                                              \
        if (!strstr(err, sub))                                                          \
            TEST_FAIL("error \"%s\" lacks \"%s\"", err, sub);                           \
    } while (0)

TEST(mbr_primary_partitions)
{
    new_mbr();
    mbr_entry(0, 0x83, 2048, 1024);
    mbr_entry(2, 0x0c, 100, 50);
    uint64_t a, c;
    CHECK_EQ(look(1, &a, &c), 0);
    CHECK_EQ(a, 2048);
    CHECK_EQ(c, 1024);
    CHECK_EQ(look(3, &a, &c), 0);
    CHECK_EQ(a, 100);
    CHECK_EQ(c, 50);
    FAILS_WITH(2, "MBR partition 2 is empty");
    FAILS_WITH(5, "would be a logical partition of an MBR extended one");
    FAILS_WITH(0, "partitions are numbered from 1");
    mbr_entry(3, 0x05, 3000, 100);
    FAILS_WITH(4, "is an extended partition");
    mbr_entry(1, 0x83, 4000, 97);
    FAILS_WITH(2, "does not lie on the disk");
    mbr_entry(1, 0x83, 0, 10);
    FAILS_WITH(2, "does not lie on the disk");
    disk[511] = 0;
    FAILS_WITH(1, "no partition table");
    reads_failing_from = 0;
    FAILS_WITH(1, "cannot read the partition table");
    reads_failing_from = -1;
}

/* A GPT with entries at LBA 2, 128 entries of esize bytes. */
static void new_gpt(uint32_t esize)
{
    new_mbr();
    mbr_entry(0, 0xee, 1, DISK_SECTORS - 1);
    uint8_t *h = disk + 512;
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, 1);
    put64(h + 32, DISK_SECTORS - 1);
    put64(h + 40, 34);
    put64(h + 48, DISK_SECTORS - 34);
    put64(h + 72, 2);
    put32(h + 80, 128);
    put32(h + 84, esize);
}

static void gpt_entry(uint32_t esize, int index, uint64_t first, uint64_t last)
{
    uint8_t *e = disk + 2 * 512 + (size_t)index * esize;
    memset(e, 0, esize);
    for (int i = 0; i < 16; i++)
        e[i] = (uint8_t)(0x11 * (i + 1)); /* any non-zero type GUID */
    put64(e + 32, first);
    put64(e + 40, last);
}

static void seal_gpt(void)
{
    uint8_t *h = disk + 512;
    put32(h + 16, 0);
    put32(h + 16, crc32_table(h, 92));
}

TEST(gpt_partitions)
{
    for (uint32_t esize = 128; esize <= 512; esize *= 2) {
        new_gpt(esize);
        gpt_entry(esize, 0, 34, 1000);
        gpt_entry(esize, 2, 2000, 4000);
        gpt_entry(esize, 5, 1001, 1001);
        seal_gpt();
        uint64_t a, c;
        CHECK_EQ(look(1, &a, &c), 0);
        CHECK_EQ(a, 34);
        CHECK_EQ(c, 967);
        CHECK_EQ(look(3, &a, &c), 0);
        CHECK_EQ(a, 2000);
        CHECK_EQ(c, 2001);
        CHECK_EQ(look(6, &a, &c), 0);
        CHECK_EQ(a, 1001);
        CHECK_EQ(c, 1);
        FAILS_WITH(2, "GPT entry 2 is unused");
        FAILS_WITH(129, "the GPT has 128 entries: there is no partition 129");
    }
}

TEST(gpt_damage)
{
    new_gpt(128);
    gpt_entry(128, 0, 34, 1000);
    seal_gpt();
    uint64_t a, c;
    CHECK_EQ(look(1, &a, &c), 0);
    disk[512 + 40] ^= 1; /* first usable LBA changed, CRC not */
    FAILS_WITH(1, "the GPT header's CRC does not match");
    new_gpt(128);
    gpt_entry(128, 0, 1000, 999);
    seal_gpt();
    FAILS_WITH(1, "does not lie on the disk");
    gpt_entry(128, 0, 10, DISK_SECTORS);
    seal_gpt();
    FAILS_WITH(1, "does not lie on the disk");
    new_gpt(100);
    seal_gpt();
    FAILS_WITH(1, "entry array is invalid");
    new_gpt(128);
    put64(disk + 512 + 72, DISK_SECTORS);
    seal_gpt();
    FAILS_WITH(1, "entry array is invalid");
    new_gpt(128);
    put32(disk + 512 + 12, 600);
    FAILS_WITH(1, "the GPT header's size 600 is invalid");
    new_gpt(128);
    memcpy(disk + 512, "NOT GPT!", 8);
    FAILS_WITH(1, "holds no GPT header");
    new_gpt(128);
    gpt_entry(128, 0, 34, 1000);
    seal_gpt();
    reads_failing_from = 2;
    FAILS_WITH(1, "cannot read GPT entry 1");
    reads_failing_from = 1;
    FAILS_WITH(1, "cannot read the GPT header");
    reads_failing_from = -1;
}

/* Random sector contents never crash the lookup nor give a range off the
 * disk. */
TEST(random_tables_stay_on_the_disk)
{
    uint64_t s = 12345;
    for (int round = 0; round < 20000; round++) {
        for (int i = 0; i < 3 * 512; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            disk[i] = (uint8_t)s;
        }
        disk[510] = 0x55;
        disk[511] = 0xaa;
        if (round & 1)
            disk[446 + 4] = 0xee;
        if (round & 2) {
            memcpy(disk + 512, "EFI PART", 8);
            put32(disk + 512 + 12, 92);
            put32(disk + 512 + 84, 128);
            put64(disk + 512 + 72, 2 + (s % 8));
            seal_gpt();
        }
        uint64_t a = 0, c = 0;
        unsigned n = 1 + (unsigned)(s % 130);
        if (look(n, &a, &c) == 0) {
            CHECK(c >= 1);
            CHECK(a + c <= DISK_SECTORS);
        } else {
            CHECK(err[0] != 0);
        }
    }
}

int main(void) { return test_main(); }
