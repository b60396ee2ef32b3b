/* The host network stack (net/net.c) as the protocols above it see it. */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../drivers/netdev.h"

struct netif;
struct netdev;

/* NULL when this host has no usable NIC. */
struct netif *net_netif(void);
struct netdev *net_device(void);
bool net_link_up(void);

/* Bridge a guest onto this host's NIC: frames to mac (and every
 * broadcast or multicast one) go to rx as well as, for the latter, to the
 * host's stack. 0, or -1 without a NIC or room in its address filter. */
int net_bridge_guest(const uint8_t mac[6], netdev_rx_fn rx, void *ctx);
/* Send one of the guest's frames on the NIC: 0, or -1 (ring full: the
 * frame is lost, as on a congested wire). */
int net_guest_send(const void *frame, size_t len);

#endif
