/* The host network stack (net/net.c) as the protocols above it see it. */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>

struct netif;
struct netdev;

/* NULL when this host has no usable NIC. */
struct netif *net_netif(void);
struct netdev *net_device(void);
bool net_link_up(void);

#endif
