/* virtio-net (virtio_net.h). */
#include "virtio_net.h"
#include <string.h>

/* Feature bits (5.1.3) and the status field's bit (5.1.4). */
#define VNET_F_MAC (1ull << 5)
#define VNET_F_STATUS (1ull << 16)
#define VNET_S_LINK_UP 1
#define RXQ 0
#define TXQ 1
/* A frame with an 802.1Q tag may be 4 bytes longer than VNET_FRAME_MAX. */
#define TX_FRAME_MAX (VNET_FRAME_MAX + 4)

static uint32_t cfg_read(void *ctx, unsigned off, unsigned size)
{
    struct vnet *n = ctx;
    uint8_t img[8];
    memcpy(img, n->mac, 6);
    img[6] = VNET_S_LINK_UP;
    img[7] = 0;
    if (off >= sizeof(img) || size > sizeof(img) - off)
        return 0;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)img[off + i] << (8 * i);
    return v;
}

/* The MAC is the device's: without VIRTIO_NET_F_CTRL_MAC_ADDR a driver
 * may not change it here (5.1.4.2, legacy drivers only). */
static void cfg_write(void *ctx, unsigned off, unsigned size, uint32_t val) {}

static void transmit(struct vnet *n, const struct virtio_chain *c)
{
    static uint8_t frame[TX_FRAME_MAX];
    uint64_t len = c->read_len >= VNET_HDR ? c->read_len - VNET_HDR : 0;
    if (len < VNET_FRAME_MIN || len > TX_FRAME_MAX ||
        virtio_chain_read(&n->dev, c, VNET_HDR, frame, (size_t)len) != (long)len) {
        n->tx_bad++; /* dropped, as a NIC drops a runt or a giant */
    } else {
        n->tx_frames++;
        n->tx_bytes += len;
        n->backend.tx(n->backend.ctx, frame, (size_t)len);
    }
    virtio_push(&n->dev, TXQ, c->head, 0);
}

static void kick(void *ctx, unsigned q)
{
    struct vnet *n = ctx;
    if (q != TXQ || n->kicking)
        return; /* receive buffers are taken when a frame is delivered */
    n->kicking = true;
    struct virtio_chain c;
    while (virtio_pop(&n->dev, TXQ, &c) == 1)
        transmit(n, &c);
    n->kicking = false;
}

static void reset(void *ctx) { (void)ctx; /* nothing is in flight: transmits complete at once */ }

static const struct virtio_ops net_ops = { cfg_read, cfg_write, kick, reset };

void vnet_init(struct vnet *n, const uint8_t mac[6], uint32_t bar_addr, uint8_t irq, const struct irq_out *irq_out,
               const struct vmem *mem, const struct vnet_backend *backend)
{
    memset(n, 0, sizeof(*n));
    memcpy(n->mac, mac, 6);
    n->backend = *backend;
    virtio_init(&n->dev, "virtio-net", 1, 0x020000 /* network, Ethernet */, VNET_F_MAC | VNET_F_STATUS, 2,
                bar_addr, irq, irq_out, mem, &net_ops, n);
}

bool vnet_rx_ready(struct vnet *n) { return virtio_has_avail(&n->dev, RXQ); }

int vnet_rx(struct vnet *n, const uint8_t *frame, size_t len)
{
    struct virtio_chain c;
    int r = virtio_pop(&n->dev, RXQ, &c);
    if (r <= 0)
        return r; /* 0: no buffer; -1: a bad ring (the device needs a reset) */
    uint8_t hdr[VNET_HDR];
    memset(hdr, 0, sizeof(hdr));
    hdr[10] = 1; /* num_buffers: the frame fits this one buffer */
    if (c.write_len < VNET_HDR + len || virtio_chain_write(&n->dev, &c, 0, hdr, VNET_HDR) != VNET_HDR ||
        virtio_chain_write(&n->dev, &c, VNET_HDR, frame, len) != (long)len) {
        n->rx_too_small++;
        virtio_push(&n->dev, RXQ, c.head, 0);
        return -1;
    }
    n->rx_frames++;
    n->rx_bytes += len;
    virtio_push(&n->dev, RXQ, c.head, (uint32_t)(VNET_HDR + len));
    return 1;
}
