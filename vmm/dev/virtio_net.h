/* virtio-net (virtio 1.2, 5.1): the guest's network card.
 *
 * Offered: MAC (the address from the config) and STATUS (link up), nothing
 * else: no checksum or segmentation offloads, no mergeable receive buffers,
 * no control queue. Every buffer starts with the 12-byte virtio_net_hdr
 * (5.1.6), all zero here.
 *
 * Transmit: a frame the driver queues is copied out of guest memory when
 * it notifies the device and handed to the backend at once; the chain
 * goes back to the driver during the same exit. That is deterministic and
 * needs no log; what happens to the frame afterwards (the output rule, the
 * wire) is the backend's.
 * Receive: the layer above delivers a frame at an event point, into the
 * next buffer the driver posted (vnet_rx()); the frame's bytes are the
 * input that the log carries. */
#ifndef VMM_DEV_VIRTIO_NET_H
#define VMM_DEV_VIRTIO_NET_H

#include "virtio.h"

#define VNET_HDR 12          /* virtio_net_hdr including num_buffers (5.1.6) */
#define VNET_FRAME_MIN 14    /* an Ethernet header */
#define VNET_FRAME_MAX 1514  /* without the FCS: no jumbo frames offered */

struct vnet_backend {
    /* A frame the guest sends (its Ethernet header first, no FCS). */
    void (*tx)(void *ctx, const uint8_t *frame, size_t len);
    void *ctx;
};

struct vnet {
    struct virtio_dev dev;
    uint8_t mac[6];
    struct vnet_backend backend;
    bool kicking;
    uint64_t tx_frames, tx_bytes, tx_bad, rx_frames, rx_bytes, rx_too_small;
};

void vnet_init(struct vnet *n, const uint8_t mac[6], uint32_t bar_addr, uint8_t irq, const struct irq_out *irq_out,
               const struct vmem *mem, const struct vnet_backend *backend);
/* The driver has posted a receive buffer (vnet_rx() would take a frame). */
bool vnet_rx_ready(struct vnet *n);
/* Put a received frame into the next receive buffer and interrupt the
 * driver. 1: delivered; 0: no buffer posted (nothing changed); -1: the
 * frame was consumed but dropped (the buffer is too small, or the ring is
 * bad: the device then needs a reset). */
int vnet_rx(struct vnet *n, const uint8_t *frame, size_t len);

#endif
