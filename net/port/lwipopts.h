/* lwIP configuration for ftvisor: NO_SYS (polled from the main loop, raw
 * API only), IPv4, TCP and UDP for the logging channel, heartbeats and the
 * status page. Buffers sized for a streaming log channel. */
#ifndef FTVISOR_LWIPOPTS_H
#define FTVISOR_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
#define LWIP_STATS 0
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define ETHARP_SUPPORT_STATIC_ENTRIES 1

#define MEM_ALIGNMENT 8
#define MEM_SIZE (4 * 1024 * 1024)
#define MEMP_NUM_PBUF 256
#define PBUF_POOL_SIZE 512
#define MEMP_NUM_TCP_PCB 16
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_UDP_PCB 8
#define TCP_MSS 1460
#define TCP_WND (32 * TCP_MSS)
#define TCP_SND_BUF (64 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define MEMP_NUM_TCP_SEG TCP_SND_QUEUELEN
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 2
/* The Internet checksum's sum 8 bytes per add (net/inet_sum.c) instead
 * of lwIP's own 4 bytes with a carry test. */
#include "../inet_sum.h"
#define LWIP_CHKSUM inet_sum

#endif
