/* Host network interfaces as the layers above see them: send a frame,
 * poll for received ones, a MAC and a link state. Descriptor rings and
 * buffers live in hypervisor memory that no guest can reach (guests see
 * only their own RAM through EPT). */
#ifndef DRIVERS_NETDEV_H
#define DRIVERS_NETDEV_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define NETDEV_MAX 4
#define NETDEV_MTU_FRAME 1514 /* without the FCS */

typedef void (*netdev_rx_fn)(void *ctx, const void *frame, size_t len);

struct netdev {
    char name[16];       /* "e1000-0", "virtio-net-0" */
    const char *model;   /* "82540EM", ... */
    uint8_t mac[6];
    bool (*link_up)(struct netdev *nd);
    /* Queue one frame (at most NETDEV_MTU_FRAME bytes). 0, or -1 when the
     * transmit ring is full (the caller retries later). */
    int (*send)(struct netdev *nd, const void *frame, size_t len);
    /* Hand up to budget received frames to rx; returns how many. */
    int (*poll)(struct netdev *nd, netdev_rx_fn rx, void *ctx, int budget);
    /* Also receive frames sent to mac (a bridged guest): 0, or -1 when the
     * NIC's address filter is full. NULL: the NIC receives them anyway. */
    int (*add_mac)(struct netdev *nd, const uint8_t mac[6]);
    void *priv;
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, rx_errors, tx_full;
};

void netdev_register(struct netdev *nd);
int netdev_count(void);
struct netdev *netdev_get(int i);

/* Driver probes, run by drivers/drivers.c after the PCI scan. Each
 * returns how many devices it took. */
int e1000_probe(void);
int virtio_net_probe(void);

#endif
