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
 * host's stack. With [host] guest_nic, onto that NIC instead, which then
 * carries the guest's frames only. 0, or one of these: */
enum { NET_BRIDGE_NO_NIC = -1, NET_BRIDGE_FILTER_FULL = -2, NET_BRIDGE_NO_GUEST_NIC = -3,
       NET_BRIDGE_SAME_NIC = -4 };
int net_bridge_guest(const uint8_t mac[6], netdev_rx_fn rx, void *ctx);
/* The NIC the guest's frames use (NULL: not bridged); *own: a NIC of its
 * own ([host] guest_nic), not the host's. */
struct netdev *net_guest_device(bool *own);
/* Send one of the guest's frames on the NIC: 0, or -1 (ring full: the
 * frame is lost, as on a congested wire). */
int net_guest_send(const void *frame, size_t len);

#endif
