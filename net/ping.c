/* Reachability of the other hosts of the pair: an ICMP echo to each peer
 * once a second, with the round-trip time of the last answer. The status
 * page shows it; the first answer and every change are logged. */
#include "ping.h"
#include "net.h"
#include "lwip/icmp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/prot/ip4.h"
#include "lwip/raw.h"
#include "../kernel/clock.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "lwip/def.h"
#include "../kernel/service.h"
#include <string.h>

#define PING_ID 0x4654
#define INTERVAL_MS 1000
#define LOST_AFTER_MS 3500

static struct raw_pcb *pcb;
static struct peer_reach peers[CFG_MAX_HOSTS];
static uint16_t seq;
static uint64_t last_sent_ms;

const struct peer_reach *ping_peer(int host_index)
{
    return host_index >= 0 && host_index < CFG_MAX_HOSTS ? &peers[host_index] : NULL;
}

static uint64_t now_ms(void) { return clock_ns() / 1000000; }

static u8_t on_recv(void *arg, struct raw_pcb *p, struct pbuf *pb, const ip_addr_t *addr)
{
    (void)arg;
    (void)p;
    /* Raw ICMP pcbs see the IP header too. */
    struct icmp_echo_hdr e;
    uint16_t ihl = (uint16_t)((((const uint8_t *)pb->payload)[0] & 15) * 4);
    if (pb->tot_len < ihl + sizeof(e) + 8 || pbuf_copy_partial(pb, &e, sizeof(e), ihl) != sizeof(e) ||
        e.type != ICMP_ER || e.id != PP_HTONS(PING_ID))
        return 0; /* not ours: let lwIP handle it */
    uint64_t sent;
    pbuf_copy_partial(pb, &sent, 8, (u16_t)(ihl + sizeof(e)));
    const struct config *cfg = kernel_config();
    uint32_t from = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(addr)));
    for (int i = 0; i < cfg->nhosts; i++) {
        if (cfg->hosts[i].ip != from)
            continue;
        struct peer_reach *r = &peers[i];
        r->rtt_us = (clock_ns() - sent) / 1000;
        r->last_reply_ms = now_ms();
        r->replies++;
        if (!r->reachable)
            log_info("net", "peer %s (%u.%u.%u.%u) answers ping: %llu us", cfg->hosts[i].name, from >> 24,
                     (from >> 16) & 255, (from >> 8) & 255, from & 255, (unsigned long long)r->rtt_us);
        r->reachable = true;
    }
    pbuf_free(pb);
    return 1;
}

static void send_ping(uint32_t ip)
{
    struct pbuf *p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + 8, PBUF_RAM);
    if (!p)
        return;
    struct icmp_echo_hdr *e = p->payload;
    ICMPH_TYPE_SET(e, ICMP_ECHO);
    ICMPH_CODE_SET(e, 0);
    e->id = PP_HTONS(PING_ID);
    e->seqno = lwip_htons(++seq);
    uint64_t t = clock_ns();
    memcpy((uint8_t *)p->payload + sizeof(*e), &t, 8);
    e->chksum = 0;
    e->chksum = inet_chksum(e, p->len);
    ip_addr_t a;
    IP_ADDR4(&a, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    raw_sendto(pcb, p, &a);
    pbuf_free(p);
}

static void ping_init(void)
{
    if (!net_netif())
        return;
    pcb = raw_new(IP_PROTO_ICMP);
    if (!pcb)
        return;
    raw_recv(pcb, on_recv, NULL);
    raw_bind(pcb, IP_ADDR_ANY);
}

static bool ping_poll(void)
{
    if (!pcb || !net_link_up())
        return false;
    uint64_t now = now_ms();
    if (now - last_sent_ms < INTERVAL_MS)
        return false;
    last_sent_ms = now;
    const struct config *cfg = kernel_config();
    const struct cfg_host *me = kernel_this_host();
    for (int i = 0; i < cfg->nhosts; i++) {
        if (&cfg->hosts[i] == me)
            continue;
        struct peer_reach *r = &peers[i];
        if (r->reachable && now - r->last_reply_ms > LOST_AFTER_MS) {
            r->reachable = false;
            log_warn("net", "peer %s stopped answering ping", cfg->hosts[i].name);
        }
        r->sent++;
        send_ping(cfg->hosts[i].ip);
    }
    return false;
}

SERVICE(21, ping, ping_init, ping_poll);
