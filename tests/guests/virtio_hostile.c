/* virtio_hostile: a guest driver that breaks the virtio rules on purpose,
 * against ftvisor's virtio-blk (00:03.0) and virtio-net (00:04.0):
 *  - a descriptor chain that loops;
 *  - an available index that runs more than a queue ahead;
 *  - a descriptor table outside guest RAM;
 *  - a descriptor index past the queue's end.
 * Each must leave the device needing a reset (DEVICE_NEEDS_RESET in its
 * status) and nothing else: the hypervisor stays up, and after a reset the
 * same device serves a correct request (virtio-blk GET_ID returns the
 * serial number; virtio-net takes a frame and returns its buffer). */
#include "rt/rt.h"

#define BAR(slot) (0xfe000000u + 0x10000u * (slot))
#define QS 16
#define RING 0x400000u /* descriptors, available at +0x1000, used at +0x2000 */
#define BUF 0x410000u
#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 64

static uint32_t pci_rd(unsigned slot, unsigned reg)
{
    outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
    return inl(0xcfc);
}

static void pci_wr(unsigned slot, unsigned reg, uint32_t v)
{
    outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
    outl(0xcfc, v);
}

static void put(uint64_t a, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ((volatile uint8_t *)(uintptr_t)a)[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(uint64_t a, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)((volatile uint8_t *)(uintptr_t)a)[i] << (8 * i);
    return v;
}

static uint16_t avail;

/* Probe as a driver does, up to DRIVER_OK, with queue q of QS entries
 * whose descriptor table is at table. */
static bool probe_at(unsigned slot, unsigned q, uint64_t table)
{
    uint64_t b = BAR(slot);
    pci_wr(slot, 0x10, BAR(slot));
    pci_wr(slot, 0x04, 0x6); /* memory decoding, bus mastering */
    mmio_write8(b + 0x14, 0);
    mmio_write8(b + 0x14, S_ACK | S_DRIVER);
    mmio_write32(b + 0x08, 1);
    mmio_write32(b + 0x0c, 1); /* VERSION_1 only */
    mmio_write8(b + 0x14, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(mmio_read8(b + 0x14) & S_FEATURES_OK))
        return false;
    for (uint64_t a = RING; a < RING + 0x3000; a += 8)
        put(a, 0, 8);
    mmio_write16(b + 0x16, (uint16_t)q);
    mmio_write16(b + 0x18, QS);
    mmio_write64(b + 0x20, table);
    mmio_write64(b + 0x28, RING + 0x1000);
    mmio_write64(b + 0x30, RING + 0x2000);
    mmio_write16(b + 0x1c, 1);
    mmio_write8(b + 0x14, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    avail = 0;
    return mmio_read8(b + 0x14) == (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static bool probe(unsigned slot, unsigned q) { return probe_at(slot, q, RING); }

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    put(RING + 16 * i, addr, 8);
    put(RING + 16 * i + 8, len, 4);
    put(RING + 16 * i + 12, flags, 2);
    put(RING + 16 * i + 14, next, 2);
}

static void offer(unsigned slot, unsigned q, uint16_t head, uint16_t step)
{
    put(RING + 0x1000 + 4 + 2 * (avail % QS), head, 2);
    avail = (uint16_t)(avail + step);
    put(RING + 0x1000 + 2, avail, 2);
    mmio_write16(BAR(slot) + 0x1000 + 4 * q, (uint16_t)q);
}

static bool needs_reset(unsigned slot) { return mmio_read8(BAR(slot) + 0x14) & S_NEEDS_RESET; }

/* The four hostile rings on device slot's queue q. */
static void hostile(const char *dev, unsigned slot, unsigned q)
{
    CHECK(probe(slot, q), "%s: probed", dev);
    desc(0, BUF, 64, 1, 1); /* NEXT */
    desc(1, BUF, 64, 1, 0);
    offer(slot, q, 0, 1);
    CHECK(needs_reset(slot), "%s: a looping chain: the device needs a reset", dev);

    CHECK(probe(slot, q), "%s: probed again after the reset", dev);
    desc(0, BUF, 64, 0, 0);
    offer(slot, q, 0, QS + 5);
    CHECK(needs_reset(slot), "%s: an available index %u ahead of a queue of %u: needs a reset", dev, QS + 5, QS);

    CHECK(probe_at(slot, q, 0x7f0000000000ull), "%s: probed with a descriptor table far outside RAM", dev);
    offer(slot, q, 0, 1);
    CHECK(needs_reset(slot), "%s: a descriptor table outside RAM: needs a reset", dev);

    CHECK(probe(slot, q), "%s: probed again", dev);
    offer(slot, q, QS + 3, 1);
    CHECK(needs_reset(slot), "%s: a descriptor index past the queue: needs a reset", dev);
}

int guest_main(void)
{
    rt_set_console(RT_CONSOLE_HYPERCALL);
    CHECK(pci_rd(3, 0) == 0x10421af4, "00:03.0 is virtio-blk (%08x)", pci_rd(3, 0));
    CHECK(pci_rd(4, 0) == 0x10411af4, "00:04.0 is virtio-net (%08x)", pci_rd(4, 0));

    hostile("virtio-blk", 3, 0);
    /* After a reset: GET_ID (type 8) answers with the serial number. */
    CHECK(probe(3, 0), "virtio-blk: works after the reset");
    put(BUF, 8, 4);
    put(BUF + 4, 0, 4);
    put(BUF + 8, 0, 8);
    for (int i = 0; i < 20; i++)
        put(BUF + 0x100 + i, 0, 1);
    put(BUF + 0x200, 0xee, 1);
    desc(0, BUF, 16, 1, 1);
    desc(1, BUF + 0x100, 20, 3, 2);
    desc(2, BUF + 0x200, 1, 2, 0);
    offer(3, 0, 0, 1);
    CHECK(get(RING + 0x2000 + 2, 2) == 1, "virtio-blk: the request came back");
    CHECK(get(BUF + 0x200, 1) == 0, "virtio-blk: status OK (%u)", (unsigned)get(BUF + 0x200, 1));
    char id[21];
    for (int i = 0; i < 20; i++)
        id[i] = (char)get(BUF + 0x100 + i, 1);
    id[20] = 0;
    CHECK(id[0] == 'f' && id[1] == 't' && id[2] == 'v', "virtio-blk: GET_ID says '%s'", id);
    CHECK(!needs_reset(3), "virtio-blk: healthy");

    hostile("virtio-net", 4, 1);
    /* After a reset: a frame on the transmit queue is taken. */
    CHECK(probe(4, 1), "virtio-net: works after the reset");
    for (int i = 0; i < 12 + 60; i++)
        put(BUF + i, i < 12 ? 0 : 0xff, 1);
    desc(0, BUF, 12 + 60, 0, 0);
    offer(4, 1, 0, 1);
    CHECK(get(RING + 0x2000 + 2, 2) == 1, "virtio-net: the frame's buffer came back");
    CHECK(!needs_reset(4), "virtio-net: healthy");
    return rt_result("virtio_hostile");
}
