/* vmm/dev/virtio_net.c: the guest's NIC, driven as Linux's virtio_net
 * drives it (two queues, 12-byte headers, one buffer per received frame),
 * and by a hostile driver. */
#include "test.h"
#include "../../vmm/dev/virtio_net.h"

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

static int pulses, irq_level;
static void irq_set(void *ctx, unsigned irq, int level)
{
    if (level && !irq_level)
        pulses++;
    irq_level = level;
}

/* What the device transmitted. */
static struct {
    int n;
    size_t len[16];
    uint8_t data[16][1600];
} sent;
static void tx(void *ctx, const uint8_t *frame, size_t len)
{
    if (sent.n < 16) {
        sent.len[sent.n] = len;
        memcpy(sent.data[sent.n], frame, len);
    }
    sent.n++;
}

#define BAR 0xfe040000u
#define QS 16
/* Queue q: descriptors at 0x1000 + 0x1000 * 3q, available +0x1000, used +0x2000. */
#define DESC(q) (0x1000u + 0x3000u * (q))
#define AVAIL(q) (DESC(q) + 0x1000u)
#define USED(q) (DESC(q) + 0x2000u)

static struct vpci_bus bus;
static struct vnet net;
static uint16_t avail_idx[2];
static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x00, 0x99, 0x01 };

static uint64_t mmio_rd(uint32_t off, unsigned size)
{
    uint64_t v = 0xdead;
    CHECK(vpci_mmio(&bus, BAR + off, size, false, &v));
    return v;
}
static void mmio_wr(uint32_t off, unsigned size, uint64_t v) { CHECK(vpci_mmio(&bus, BAR + off, size, true, &v)); }

static void cfg_wr(unsigned reg, uint32_t v)
{
    vpci_port_out(&bus, 0xcf8, 4, 0x80000000u | 4 << 11 | (reg & 0xfc));
    vpci_port_out(&bus, 0xcfc, 4, v);
}
static uint32_t cfg_rd(unsigned reg)
{
    uint32_t v = 0;
    vpci_port_out(&bus, 0xcf8, 4, 0x80000000u | 4 << 11 | (reg & 0xfc));
    vpci_port_in(&bus, 0xcfc, 4, &v);
    return v;
}

/* Linux's probe: features (VERSION_1, MAC, STATUS), both queues, DRIVER_OK. */
static void setup(void)
{
    memset(ram, 0, sizeof(ram));
    memset(&sent, 0, sizeof(sent));
    pulses = irq_level = 0;
    avail_idx[0] = avail_idx[1] = 0;
    struct vmem m = { mem_read, mem_write, NULL };
    struct irq_out o = { irq_set, NULL, 10 };
    struct vnet_backend be = { tx, NULL };
    vpci_init(&bus);
    vnet_init(&net, MAC, BAR, 10, &o, &m, &be);
    vpci_attach(&bus, 4, &net.dev.pci);
    cfg_wr(PCI_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER);
    mmio_wr(0x14, 1, 0);
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER);
    mmio_wr(0x00, 4, 0);
    uint64_t f = mmio_rd(0x04, 4);
    mmio_wr(0x00, 4, 1);
    f |= mmio_rd(0x04, 4) << 32;
    CHECK_EQ(f, VIRTIO_F_VERSION_1 | 1ull << 5 | 1ull << 16);
    mmio_wr(0x08, 4, 0);
    mmio_wr(0x0c, 4, (uint32_t)f);
    mmio_wr(0x08, 4, 1);
    mmio_wr(0x0c, 4, (uint32_t)(f >> 32));
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    CHECK_EQ(mmio_rd(0x12, 2), 2); /* num_queues */
    for (unsigned q = 0; q < 2; q++) {
        mmio_wr(0x16, 2, q);
        mmio_wr(0x18, 2, QS);
        mmio_wr(0x20, 4, DESC(q));
        mmio_wr(0x24, 4, 0);
        mmio_wr(0x28, 4, AVAIL(q));
        mmio_wr(0x2c, 4, 0);
        mmio_wr(0x30, 4, USED(q));
        mmio_wr(0x34, 4, 0);
        mmio_wr(0x1c, 2, 1);
    }
    mmio_wr(0x14, 1, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
}

static void desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    put(DESC(q) + 16 * i, addr, 8);
    put(DESC(q) + 16 * i + 8, len, 4);
    put(DESC(q) + 16 * i + 12, flags, 2);
    put(DESC(q) + 16 * i + 14, next, 2);
}

static void make_avail(unsigned q, uint16_t head, bool notify)
{
    put(AVAIL(q) + 4 + 2 * (avail_idx[q] % QS), head, 2);
    avail_idx[q]++;
    put(AVAIL(q) + 2, avail_idx[q], 2);
    if (notify)
        mmio_wr(0x1000 + 4 * q, 2, q);
}

/* A receive buffer of len bytes at gpa, as descriptor i. */
static void post_rx(unsigned i, uint64_t gpa, uint32_t len)
{
    desc(0, i, gpa, len, 2, 0);
    make_avail(0, (uint16_t)i, true);
}

static uint16_t used_idx(unsigned q) { return (uint16_t)get(USED(q) + 2, 2); }
static uint32_t used_len(unsigned q, unsigned k) { return (uint32_t)get(USED(q) + 4 + 8 * (k % QS) + 4, 4); }

TEST(identity_and_config_space)
{
    setup();
    CHECK_EQ(cfg_rd(0), 0x10411af4);    /* virtio 1.x network device */
    CHECK_EQ(cfg_rd(8) >> 8, 0x020000); /* Ethernet controller */
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(mmio_rd(0x3000 + i, 1), MAC[i]);
    CHECK_EQ(mmio_rd(0x3006, 2), 1); /* status: link up */
    CHECK_EQ(mmio_rd(0x3000, 4), 0x00005452);
    mmio_wr(0x3000, 1, 0xff); /* the MAC is not writable */
    CHECK_EQ(mmio_rd(0x3000, 1), 0x52);
}

TEST(transmit_strips_the_header)
{
    setup();
    uint8_t frame[60];
    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i * 3);
    /* Linux: header and frame in one buffer (any_header_sg) ... */
    memset(ram + 0x20000, 0, VNET_HDR);
    memcpy(ram + 0x20000 + VNET_HDR, frame, sizeof(frame));
    desc(1, 0, 0x20000, VNET_HDR + sizeof(frame), 0, 0);
    make_avail(1, 0, true);
    CHECK_EQ(sent.n, 1);
    CHECK_EQ(sent.len[0], sizeof(frame));
    CHECK(memcmp(sent.data[0], frame, sizeof(frame)) == 0);
    CHECK_EQ(used_idx(1), 1);
    CHECK(pulses == 1);
    /* ... or split across descriptors. */
    desc(1, 1, 0x21000, VNET_HDR, 1, 2);
    desc(1, 2, 0x22000, 20, 1, 3);
    desc(1, 3, 0x23000, 40, 0, 0);
    memcpy(ram + 0x22000, frame, 20);
    memcpy(ram + 0x23000, frame + 20, 40);
    make_avail(1, 1, true);
    CHECK_EQ(sent.n, 2);
    CHECK_EQ(sent.len[1], 60);
    CHECK(memcmp(sent.data[1], frame, 60) == 0);
    CHECK_EQ(net.tx_frames, 2);
}

TEST(transmit_refuses_runts_and_giants)
{
    setup();
    desc(1, 0, 0x20000, VNET_HDR + 13, 0, 0); /* shorter than an Ethernet header */
    make_avail(1, 0, true);
    desc(1, 1, 0x20000, VNET_HDR + VNET_FRAME_MAX + 5, 0, 0);
    make_avail(1, 1, true);
    desc(1, 2, 0x20000, 4, 0, 0); /* not even a header */
    make_avail(1, 2, true);
    CHECK_EQ(sent.n, 0);
    CHECK_EQ(net.tx_bad, 3);
    CHECK_EQ(used_idx(1), 3); /* every buffer returned to the driver */
    CHECK(virtio_live(&net.dev));
}

TEST(receive_into_posted_buffers)
{
    setup();
    uint8_t frame[100];
    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(0xa0 + i);
    CHECK(!vnet_rx_ready(&net));
    CHECK_EQ(vnet_rx(&net, frame, sizeof(frame)), 0); /* no buffer: nothing changes */
    CHECK_EQ(used_idx(0), 0);
    post_rx(0, 0x30000, 1526);
    CHECK(vnet_rx_ready(&net));
    int before = pulses;
    CHECK_EQ(vnet_rx(&net, frame, sizeof(frame)), 1);
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(used_len(0, 0), VNET_HDR + sizeof(frame));
    CHECK_EQ(get(0x30000, 8), 0);            /* no offloads: flags, gso all zero */
    CHECK_EQ(get(0x30000 + 10, 2), 1);       /* num_buffers */
    CHECK(memcmp(ram + 0x30000 + VNET_HDR, frame, sizeof(frame)) == 0);
    CHECK_EQ(pulses, before + 1);
    CHECK(!vnet_rx_ready(&net));
    CHECK_EQ(net.rx_frames, 1);
}

TEST(receive_into_a_too_small_buffer_drops)
{
    setup();
    uint8_t frame[200];
    memset(frame, 0x5a, sizeof(frame));
    post_rx(0, 0x30000, 100);
    CHECK_EQ(vnet_rx(&net, frame, sizeof(frame)), -1);
    CHECK_EQ(used_idx(0), 1);
    CHECK_EQ(used_len(0, 0), 0);
    CHECK_EQ(ram[0x30000 + 50], 0); /* nothing written past the buffer's use */
    CHECK(virtio_live(&net.dev));
    CHECK_EQ(net.rx_too_small, 1);
}

TEST(hostile_rings_are_contained)
{
    /* A descriptor loop on the transmit queue. */
    setup();
    desc(1, 0, 0x20000, 30, 1, 1);
    desc(1, 1, 0x20000, 30, 1, 0);
    make_avail(1, 0, true);
    CHECK(!virtio_live(&net.dev));
    CHECK(mmio_rd(0x14, 1) & VIRTIO_S_NEEDS_RESET);
    CHECK_EQ(sent.n, 0);
    /* A receive buffer outside guest memory. */
    setup();
    desc(0, 0, RAM - 10, 1526, 2, 0);
    make_avail(0, 0, true);
    uint8_t frame[64] = { 0 };
    CHECK(vnet_rx(&net, frame, sizeof(frame)) < 0);
    /* A descriptor index past the queue on the receive side. */
    setup();
    put(AVAIL(0) + 4, 200, 2);
    put(AVAIL(0) + 2, 1, 2);
    CHECK(vnet_rx(&net, frame, sizeof(frame)) < 0);
    CHECK(!virtio_live(&net.dev));
    CHECK(!vnet_rx_ready(&net));
    /* The driver resets the device and it works again. */
    mmio_wr(0x14, 1, 0);
    CHECK(!(mmio_rd(0x14, 1) & VIRTIO_S_NEEDS_RESET));
    /* Transmit with a device-writable buffer in the chain is still only
     * read from (the driver's mistake costs it the frame's tail). */
    setup();
    desc(1, 0, 0x20000, VNET_HDR + 60, 2, 0);
    make_avail(1, 0, true);
    CHECK_EQ(sent.n, 0);
    CHECK_EQ(used_idx(1), 1);
}

int main(void) { return test_main(); }
