/* vmm/dev/pci.c, virtio.c and virtio_blk.c: the guest's PCI bus and its
 * virtio-blk disk, driven the way Linux's virtio_pci_modern and
 * virtio_blk drivers drive them, and by a hostile driver. */
#include "test.h"
#include "../../vmm/dev/virtio_blk.h"

/* ---- a guest: 1 MiB of RAM ------------------------------------------------ */

#define RAM (1u << 20)
static uint8_t ram[RAM];

static int mem_read(void *ctx, uint64_t gpa, void *dst, size_t n)
{
    if (gpa >= RAM || n > RAM - gpa)
        return -1;
    memcpy(dst, ram + gpa, n);
    return 0;
}

static int mem_write(void *ctx, uint64_t gpa, const void *src, size_t n)
{
    if (gpa >= RAM || n > RAM - gpa)
        return -1;
    memcpy(ram + gpa, src, n);
    return 0;
}

static void put(uint64_t gpa, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ram[gpa + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(uint64_t gpa, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)ram[gpa + i] << (8 * i);
    return v;
}

/* ---- the host side: interrupts, a 64-sector disk, the backend --------------- */

static int pulses, irq_level; /* assertions of INTx; its level now */
static void irq_set(void *ctx, unsigned irq, int level)
{
    if (level && !irq_level)
        pulses++;
    irq_level = level;
}

#define SECTORS 64
static uint8_t disk[SECTORS * VBLK_SECTOR];
static uint8_t bounce_mem[VBLK_SLOTS][VBLK_MAX_BYTES];
static struct {
    int n;
    unsigned slot[64];
    struct vblk_req req[64];
} sub;
static bool complete_at_once;
static struct vblk blk;

static void submit(void *ctx, unsigned slot, const struct vblk_req *r)
{
    if (sub.n < 64) {
        sub.slot[sub.n] = slot;
        sub.req[sub.n] = *r;
    }
    sub.n++;
    if (complete_at_once) {
        if (r->type == VBLK_T_IN)
            memcpy(r->buf, disk + r->sector * VBLK_SECTOR, r->bytes);
        else if (r->type == VBLK_T_OUT)
            memcpy(disk + r->sector * VBLK_SECTOR, r->buf, r->bytes);
        vblk_complete(&blk, slot, VBLK_S_OK);
    }
}

/* Guest layout: BAR at 0xfe000000, queue of 64 at 0x1000 (descriptors),
 * 0x2000 (available), 0x3000 (used), request buffers from 0x10000. */
#define BAR 0xfe000000u
#define QS 64
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000

static struct vpci_bus bus;
static uint16_t avail_idx;

static uint64_t mmio_rd(uint32_t off, unsigned size)
{
    uint64_t v = 0xdead;
    CHECK(vpci_mmio(&bus, BAR + off, size, false, &v));
    return v;
}

static void mmio_wr(uint32_t off, unsigned size, uint64_t v) { CHECK(vpci_mmio(&bus, BAR + off, size, true, &v)); }

static uint32_t cfg_rd(unsigned slot, unsigned reg)
{
    uint32_t v = 0;
    vpci_port_out(&bus, 0xcf8, 4, 0x80000000u | slot << 11 | (reg & 0xfc));
    vpci_port_in(&bus, 0xcfc, 4, &v);
    return v;
}

static void cfg_wr(unsigned slot, unsigned reg, uint32_t v)
{
    vpci_port_out(&bus, 0xcf8, 4, 0x80000000u | slot << 11 | (reg & 0xfc));
    vpci_port_out(&bus, 0xcfc, 4, v);
}

static void setup(bool read_only)
{
    memset(ram, 0, sizeof(ram));
    memset(&sub, 0, sizeof(sub));
    pulses = irq_level = 0;
    avail_idx = 0;
    complete_at_once = false;
    for (unsigned i = 0; i < sizeof(disk); i++)
        disk[i] = (uint8_t)(i * 7 + i / VBLK_SECTOR);
    struct vmem m = { mem_read, mem_write, NULL };
    struct irq_out o = { irq_set, NULL, 11 };
    struct vblk_backend be = { submit, NULL };
    uint8_t *bounce[VBLK_SLOTS];
    for (unsigned i = 0; i < VBLK_SLOTS; i++)
        bounce[i] = bounce_mem[i];
    vpci_init(&bus);
    vblk_init(&blk, SECTORS, read_only, "ftvisor-disk-0", BAR, 11, &o, &m, &be, bounce);
    vpci_attach(&bus, 3, &blk.dev.pci);
}

/* What virtio_pci_modern + virtio_blk do at probe, up to DRIVER_OK. */
static void linux_probe_at(uint64_t desc_table)
{
    cfg_wr(3, PCI_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER);
    mmio_wr(0x14, 1, 0); /* reset */
    mmio_wr(0x14, 1, VIRTIO_S_ACK);
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER);
    mmio_wr(0x00, 4, 0);
    uint64_t f = mmio_rd(0x04, 4);
    mmio_wr(0x00, 4, 1);
    f |= mmio_rd(0x04, 4) << 32;
    mmio_wr(0x08, 4, 0);
    mmio_wr(0x0c, 4, (uint32_t)f);
    mmio_wr(0x08, 4, 1);
    mmio_wr(0x0c, 4, (uint32_t)(f >> 32));
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    CHECK(mmio_rd(0x14, 1) & VIRTIO_S_FEATURES_OK);
    mmio_wr(0x16, 2, 0);
    CHECK_EQ(mmio_rd(0x18, 2), VIRTIO_QUEUE_SIZE);
    mmio_wr(0x18, 2, QS);
    /* 64-bit fields as two 32-bit halves, as Linux's vp_iowrite64_twopart. */
    mmio_wr(0x20, 4, (uint32_t)desc_table);
    mmio_wr(0x24, 4, (uint32_t)(desc_table >> 32));
    mmio_wr(0x28, 4, AVAIL);
    mmio_wr(0x2c, 4, 0);
    mmio_wr(0x30, 4, USED);
    mmio_wr(0x34, 4, 0);
    mmio_wr(0x1c, 2, 1);
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
}

static void linux_probe(void) { linux_probe_at(DESC); }

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    put(DESC + 16 * i, addr, 8);
    put(DESC + 16 * i + 8, len, 4);
    put(DESC + 16 * i + 12, flags, 2);
    put(DESC + 16 * i + 14, next, 2);
}

static void make_avail(uint16_t head)
{
    put(AVAIL + 4 + 2 * (avail_idx % QS), head, 2);
    avail_idx++;
    put(AVAIL + 2, avail_idx, 2);
    mmio_wr(0x1000, 2, 0); /* notify queue 0 */
}

/* A request as Linux lays it out: header, data, status; descriptors from
 * `first`. Returns the status byte's address. */
static uint64_t request(unsigned first, uint32_t type, uint64_t sector, uint64_t data, uint32_t bytes)
{
    uint64_t hdr = 0x10000 + 0x100 * first, status = hdr + 0x20;
    put(hdr, type, 4);
    put(hdr + 4, 0, 4);
    put(hdr + 8, sector, 8);
    ram[status] = 0xee;
    uint16_t wr = type == VBLK_T_IN || type == VBLK_T_GET_ID ? 2 : 0;
    if (bytes) {
        desc(first, hdr, 16, 1, (uint16_t)(first + 1));
        desc(first + 1, data, bytes, (uint16_t)(1 | wr), (uint16_t)(first + 2));
        desc(first + 2, status, 1, 2, 0);
    } else {
        desc(first, hdr, 16, 1, (uint16_t)(first + 1));
        desc(first + 1, status, 1, 2, 0);
    }
    make_avail((uint16_t)first);
    return status;
}

TEST(pci_identity_and_capabilities)
{
    setup(false);
    CHECK_EQ(cfg_rd(3, 0), 0x10421af4);
    CHECK_EQ(cfg_rd(3, 8) >> 8, 0x010000);
    CHECK_EQ(cfg_rd(3, 8) & 0xff, 1); /* revision 1: modern */
    CHECK_EQ(cfg_rd(5, 0), 0xffffffff); /* empty slot */
    CHECK(cfg_rd(3, 4) >> 16 & PCI_STATUS_CAPS);
    /* Walk the capabilities: four virtio ones, types 1-4, all in BAR0. */
    unsigned p = cfg_rd(3, PCI_CAP_PTR) & 0xff, seen = 0;
    for (int n = 0; p && n < 8; n++) {
        uint32_t w = cfg_rd(3, p);
        CHECK_EQ(w & 0xff, 0x09);
        unsigned type = (w >> 24) & 0xff;
        CHECK(type >= 1 && type <= 4);
        seen |= 1u << type;
        CHECK_EQ(cfg_rd(3, p + 4) & 0xff, 0); /* bar */
        if (type == 2)
            CHECK_EQ(cfg_rd(3, p + 16), 4); /* notify_off_multiplier */
        p = (w >> 8) & 0xff;
    }
    CHECK_EQ(seen, 0x1e);
    CHECK_EQ(cfg_rd(3, PCI_INT_LINE) & 0xffff, 0x010b); /* INTA#, IRQ 11 */
}

TEST(pci_bar_sizing_and_decoding)
{
    setup(false);
    uint64_t v;
    CHECK(!vpci_mmio(&bus, BAR, 4, false, &v)); /* memory decoding off */
    cfg_wr(3, PCI_BAR0, 0xffffffff);
    CHECK_EQ(cfg_rd(3, PCI_BAR0), (uint32_t)~(VIRTIO_BAR_SIZE - 1));
    cfg_wr(3, PCI_BAR0, 0xfd000000);
    cfg_wr(3, PCI_COMMAND, PCI_CMD_MEM);
    CHECK(vpci_mmio(&bus, 0xfd000000 + 0x12, 2, false, &v));
    CHECK_EQ(v, 1); /* num_queues */
    CHECK(!vpci_mmio(&bus, BAR, 4, false, &v));
    CHECK(!vpci_mmio(&bus, 0xfd000000 + VIRTIO_BAR_SIZE - 2, 4, false, &v)); /* straddles the end */
    /* Read-only registers stay. */
    cfg_wr(3, 0, 0);
    CHECK_EQ(cfg_rd(3, 0), 0x10421af4);
}

TEST(features_ok_needs_version_1_and_offered_bits)
{
    setup(false);
    cfg_wr(3, PCI_COMMAND, PCI_CMD_MEM);
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER);
    mmio_wr(0x08, 4, 0);
    mmio_wr(0x0c, 4, 1u << 9); /* FLUSH, no VERSION_1 */
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    CHECK(!(mmio_rd(0x14, 1) & VIRTIO_S_FEATURES_OK));
    mmio_wr(0x08, 4, 1);
    mmio_wr(0x0c, 4, 1 | 1u << 5); /* VERSION_1 and a bit not offered (ring packed) */
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    CHECK(!(mmio_rd(0x14, 1) & VIRTIO_S_FEATURES_OK));
    mmio_wr(0x0c, 4, 1);
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    CHECK(mmio_rd(0x14, 1) & VIRTIO_S_FEATURES_OK);
}

TEST(blk_config_space)
{
    setup(false);
    linux_probe();
    CHECK_EQ(mmio_rd(0x3000, 4), SECTORS);
    CHECK_EQ(mmio_rd(0x3004, 4), 0);
    CHECK_EQ(mmio_rd(0x3000, 8), SECTORS);
    CHECK_EQ(mmio_rd(0x3008, 4), 4096);                 /* size_max */
    CHECK_EQ(mmio_rd(0x300c, 4), VBLK_MAX_BYTES / 4096); /* seg_max */
}

TEST(blk_read_completes_at_vblk_complete)
{
    setup(false);
    linux_probe();
    uint64_t st = request(0, VBLK_T_IN, 3, 0x20000, 2 * VBLK_SECTOR);
    CHECK_EQ(sub.n, 1);
    CHECK_EQ(sub.req[0].type, VBLK_T_IN);
    CHECK_EQ(sub.req[0].sector, 3);
    CHECK_EQ(sub.req[0].bytes, 1024);
    CHECK_EQ(get(USED + 2, 2), 0); /* nothing used before the completion */
    CHECK_EQ(ram[st], 0xee);
    /* The backend's data lands in guest memory only now. */
    memcpy(sub.req[0].buf, disk + 3 * VBLK_SECTOR, 1024);
    CHECK(memcmp(ram + 0x20000, disk + 3 * VBLK_SECTOR, 1024) != 0);
    int before = pulses;
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK);
    CHECK(memcmp(ram + 0x20000, disk + 3 * VBLK_SECTOR, 1024) == 0);
    CHECK_EQ(ram[st], VBLK_S_OK);
    CHECK_EQ(get(USED + 2, 2), 1);
    CHECK_EQ(get(USED + 4, 4), 0);    /* id: the head */
    CHECK_EQ(get(USED + 8, 4), 1025); /* data + status */
    CHECK_EQ(pulses, before + 1);
    CHECK_EQ(irq_level, 1); /* a level: held until the driver reads the ISR */
    CHECK_EQ(cfg_rd(3, 4) >> 16 & PCI_STATUS_INTX, PCI_STATUS_INTX);
    CHECK_EQ(mmio_rd(0x2000, 1), 1); /* ISR: a queue interrupt, cleared by reading */
    CHECK_EQ(irq_level, 0);
    CHECK_EQ(cfg_rd(3, 4) >> 16 & PCI_STATUS_INTX, 0);
    CHECK_EQ(mmio_rd(0x2000, 1), 0);
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK); /* twice: ignored */
    CHECK_EQ(get(USED + 2, 2), 1);
}

TEST(blk_write_copies_data_at_submission)
{
    setup(false);
    linux_probe();
    memset(ram + 0x30000, 0x5a, 4096);
    request(0, VBLK_T_OUT, 10, 0x30000, 4096);
    memset(ram + 0x30000, 0, 4096); /* the guest changes it afterwards */
    CHECK_EQ(sub.n, 1);
    CHECK_EQ(sub.req[0].type, VBLK_T_OUT);
    CHECK_EQ(sub.req[0].bytes, 4096);
    CHECK_EQ(sub.req[0].buf[0], 0x5a);
    CHECK_EQ(sub.req[0].buf[4095], 0x5a);
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK);
    CHECK_EQ(get(USED + 8, 4), 1);
}

TEST(blk_flush_and_get_id)
{
    setup(false);
    linux_probe();
    request(0, VBLK_T_FLUSH, 0, 0, 0);
    CHECK_EQ(sub.n, 1);
    CHECK_EQ(sub.req[0].type, VBLK_T_FLUSH);
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK);
    /* GET_ID is answered at once, without the backend. */
    uint64_t st = request(4, VBLK_T_GET_ID, 0, 0x40000, 20);
    CHECK_EQ(sub.n, 1);
    CHECK_EQ(ram[st], VBLK_S_OK);
    CHECK(memcmp(ram + 0x40000, "ftvisor-disk-0", 14) == 0);
    CHECK_EQ(get(USED + 2, 2), 2);
}

TEST(blk_bad_requests_get_an_error_status)
{
    setup(true);
    linux_probe();
    uint64_t st = request(0, VBLK_T_IN, SECTORS - 1, 0x20000, 2 * VBLK_SECTOR); /* past the end */
    CHECK_EQ(ram[st], VBLK_S_IOERR);
    st = request(3, VBLK_T_IN, ~0ull, 0x20000, VBLK_SECTOR); /* sector overflow */
    CHECK_EQ(ram[st], VBLK_S_IOERR);
    st = request(6, VBLK_T_IN, 0, 0x20000, 100); /* not whole sectors */
    CHECK_EQ(ram[st], VBLK_S_IOERR);
    st = request(9, VBLK_T_OUT, 0, 0x20000, VBLK_SECTOR); /* read-only disk */
    CHECK_EQ(ram[st], VBLK_S_IOERR);
    st = request(12, 77, 0, 0x20000, VBLK_SECTOR); /* unknown type */
    CHECK_EQ(ram[st], VBLK_S_UNSUPP);
    CHECK_EQ(sub.n, 0);
    CHECK_EQ(get(USED + 2, 2), 5);
    CHECK_EQ(blk.bad_requests, 5);
    CHECK(virtio_live(&blk.dev));
}

TEST(blk_data_outside_guest_memory_is_an_error_not_a_fault)
{
    setup(false);
    linux_probe();
    uint64_t st = request(0, VBLK_T_OUT, 0, RAM - 512, 4096); /* runs off the end of RAM */
    CHECK_EQ(ram[st], VBLK_S_IOERR);
    CHECK_EQ(sub.n, 0);
    /* A read into memory that is not there fails at completion. */
    st = request(3, VBLK_T_IN, 0, 0xfffffffff000ull, 4096);
    CHECK_EQ(sub.n, 1);
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK);
    CHECK_EQ(ram[st], VBLK_S_IOERR);
    CHECK(virtio_live(&blk.dev));
}

TEST(hostile_rings_need_a_reset)
{
    /* A loop. */
    setup(false);
    linux_probe();
    desc(0, 0x10000, 16, 1, 1);
    desc(1, 0x10100, 16, 1, 0);
    make_avail(0);
    CHECK(!virtio_live(&blk.dev));
    CHECK(mmio_rd(0x14, 1) & VIRTIO_S_NEEDS_RESET);
    CHECK_EQ(mmio_rd(0x2000, 1), 2); /* a configuration interrupt */
    CHECK_EQ(sub.n, 0);
    /* After a reset (and fresh rings, as a driver sets up) it works again. */
    memset(ram + AVAIL, 0, 0x2000);
    avail_idx = 0;
    linux_probe();
    CHECK(virtio_live(&blk.dev));
    uint64_t st = request(0, VBLK_T_GET_ID, 0, 0x40000, 20);
    CHECK_EQ(ram[st], VBLK_S_OK);

    /* A descriptor index past the queue. */
    setup(false);
    linux_probe();
    desc(0, 0x10000, 16, 1, QS + 3);
    make_avail(0);
    CHECK(!virtio_live(&blk.dev));

    /* A head past the queue. */
    setup(false);
    linux_probe();
    make_avail(200);
    CHECK(!virtio_live(&blk.dev));

    /* The avail index far ahead of what the queue holds. */
    setup(false);
    linux_probe();
    put(AVAIL + 2, 1000, 2);
    mmio_wr(0x1000, 2, 0);
    CHECK(!virtio_live(&blk.dev));

    /* An indirect descriptor (not offered). */
    setup(false);
    linux_probe();
    desc(0, 0x10000, 16, 4, 0);
    make_avail(0);
    CHECK(!virtio_live(&blk.dev));

    /* A readable buffer after a writable one. */
    setup(false);
    linux_probe();
    desc(0, 0x10000, 16, 1 | 2, 1);
    desc(1, 0x10100, 16, 0, 0);
    make_avail(0);
    CHECK(!virtio_live(&blk.dev));

    /* Rings outside guest memory. */
    setup(false);
    linux_probe_at(1ull << 40);
    make_avail(0);
    CHECK(!virtio_live(&blk.dev));
    CHECK_EQ(sub.n, 0);
}

TEST(no_status_byte_needs_a_reset)
{
    setup(false);
    linux_probe();
    put(0x10000, VBLK_T_IN, 4);
    desc(0, 0x10000, 16, 0, 0); /* a header and nothing writable */
    make_avail(0);
    CHECK(!virtio_live(&blk.dev));
}

TEST(more_requests_than_slots_wait_in_the_ring)
{
    setup(false);
    linux_probe();
    for (unsigned i = 0; i < VBLK_SLOTS + 2; i++)
        request(2 * i, VBLK_T_FLUSH, 0, 0, 0);
    CHECK_EQ(sub.n, VBLK_SLOTS);
    /* A completion frees a slot: the next waiting request is taken. */
    vblk_complete(&blk, sub.slot[3], VBLK_S_OK);
    CHECK_EQ(sub.n, VBLK_SLOTS + 1);
    CHECK_EQ(sub.slot[VBLK_SLOTS], sub.slot[3]);
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK);
    CHECK_EQ(sub.n, VBLK_SLOTS + 2);
    CHECK_EQ(get(USED + 2, 2), 2);
    CHECK_EQ(blk.requests, VBLK_SLOTS + 2);
}

TEST(backend_completing_at_once)
{
    setup(false);
    linux_probe();
    complete_at_once = true;
    uint64_t st = request(0, VBLK_T_IN, 7, 0x20000, VBLK_SECTOR);
    CHECK_EQ(ram[st], VBLK_S_OK);
    CHECK(memcmp(ram + 0x20000, disk + 7 * VBLK_SECTOR, VBLK_SECTOR) == 0);
    memset(ram + 0x21000, 0x77, VBLK_SECTOR);
    st = request(3, VBLK_T_OUT, 8, 0x21000, VBLK_SECTOR);
    CHECK_EQ(ram[st], VBLK_S_OK);
    CHECK_EQ(disk[8 * VBLK_SECTOR], 0x77);
}

TEST(reset_orphans_requests_in_flight)
{
    setup(false);
    linux_probe();
    uint64_t st = request(0, VBLK_T_IN, 3, 0x20000, VBLK_SECTOR);
    mmio_wr(0x14, 1, 0); /* the driver resets the device */
    linux_probe();
    avail_idx = 0;
    memset(ram + USED, 0, 64);
    vblk_complete(&blk, sub.slot[0], VBLK_S_OK); /* the old request: nobody waits */
    CHECK_EQ(ram[st], 0xee);
    CHECK_EQ(get(USED + 2, 2), 0);
    /* The slot is free again. */
    request(3, VBLK_T_IN, 4, 0x20000, VBLK_SECTOR);
    CHECK_EQ(sub.n, 2);
}

TEST(queue_fields_frozen_while_enabled)
{
    setup(false);
    linux_probe();
    mmio_wr(0x20, 4, 0x50000);
    CHECK_EQ(mmio_rd(0x20, 4), DESC);
    mmio_wr(0x18, 2, 8);
    CHECK_EQ(mmio_rd(0x18, 2), QS);
    mmio_wr(0x16, 2, 9); /* a queue that does not exist reads as zeros */
    CHECK_EQ(mmio_rd(0x18, 2), 0);
    mmio_wr(0x18, 2, 8);
}

TEST(interrupt_suppressed_on_request)
{
    setup(false);
    linux_probe();
    put(AVAIL, 1, 2); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    int before = pulses;
    request(0, VBLK_T_GET_ID, 0, 0x40000, 20);
    CHECK_EQ(pulses, before);
    CHECK_EQ(get(USED + 2, 2), 1);
}

int main(void) { return test_main(); }
