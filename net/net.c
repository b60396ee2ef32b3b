/* The host's network stack: lwIP (NO_SYS, raw API) over the NIC that
 * carries this host's MAC, addressed from its [host] section, polled from
 * the main loop. On link-up it sends a gratuitous ARP, so switches (and
 * Bochs' hub) learn where the host is. */
#include "net.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "../drivers/netdev.h"
#include "../kernel/clock.h"
#include "../kernel/kernel.h"
#include "../kernel/format.h"
#include "../kernel/log.h"
#include "../kernel/service.h"
#include <string.h>

static struct netif nif;
static struct netdev *nd;
static bool up, link_was_up;
static uint64_t link_change_ms;

struct netif *net_netif(void) { return up ? &nif : NULL; }
struct netdev *net_device(void) { return nd; }
bool net_link_up(void) { return up && link_was_up; }

static err_t linkoutput(struct netif *n, struct pbuf *p)
{
    (void)n;
    static uint8_t frame[NETDEV_MTU_FRAME];
    if (p->tot_len > sizeof(frame))
        return ERR_BUF;
    pbuf_copy_partial(p, frame, p->tot_len, 0);
    /* A full transmit ring drains in microseconds: wait a little rather
     * than drop (TCP would recover, but only after a timeout). */
    uint64_t until = clock_ns() + 2000000;
    while (nd->send(nd, frame, p->tot_len) != 0) {
        if (clock_ns() > until)
            return ERR_MEM;
    }
    return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
    n->name[0] = 'e';
    n->name[1] = 'n';
    n->output = etharp_output;
    n->linkoutput = linkoutput;
    n->mtu = 1500;
    n->hwaddr_len = 6;
    memcpy(n->hwaddr, nd->mac, 6);
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

/* A guest bridged onto this NIC, or onto a NIC of its own
 * (net_bridge_guest()). */
static struct {
    bool on;
    uint8_t mac[6];
    netdev_rx_fn rx;
    void *ctx;
    struct netdev *nd; /* the NIC its frames use */
    bool own;          /* ... which is not the host's ([host] guest_nic) */
    bool link_was_up;
} guest;

int net_bridge_guest(const uint8_t mac[6], netdev_rx_fn rx_fn, void *ctx)
{
    static const uint8_t none[6];
    const struct cfg_host *h = kernel_this_host();
    struct netdev *gd = nd;
    bool own = h && memcmp(h->guest_nic, none, 6) != 0;
    if (own) {
        gd = NULL;
        for (int i = 0; i < netdev_count() && !gd; i++)
            if (memcmp(netdev_get(i)->mac, h->guest_nic, 6) == 0)
                gd = netdev_get(i);
        if (!gd)
            return NET_BRIDGE_NO_GUEST_NIC;
        if (gd == nd)
            return NET_BRIDGE_SAME_NIC;
    }
    if (!gd)
        return NET_BRIDGE_NO_NIC;
    if (gd->add_mac && gd->add_mac(gd, mac))
        return NET_BRIDGE_FILTER_FULL;
    memcpy(guest.mac, mac, 6);
    guest.rx = rx_fn;
    guest.ctx = ctx;
    guest.nd = gd;
    guest.own = own;
    guest.on = true;
    return 0;
}

struct netdev *net_guest_device(bool *own)
{
    if (own)
        *own = guest.own;
    return guest.on ? guest.nd : NULL;
}

int net_guest_send(const void *frame, size_t len)
{
    struct netdev *gd = guest.on ? guest.nd : nd;
    if (!gd || len > NETDEV_MTU_FRAME)
        return -1;
    uint64_t until = clock_ns() + 2000000;
    while (gd->send(gd, frame, len) != 0)
        if (clock_ns() > until)
            return -1;
    return 0;
}

/* A frame on the guest's own NIC: the guest's, or a broadcast or
 * multicast one; nothing else is for anyone here. */
static void guest_rx(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    const uint8_t *dst = frame;
    if (len >= 14 && (memcmp(dst, guest.mac, 6) == 0 || (dst[0] & 1)))
        guest.rx(guest.ctx, frame, len);
}

/* The guest's own NIC, polled like the host's. */
static bool guest_nic_poll(void)
{
    struct netdev *gd = guest.nd;
    bool link = gd->link_up(gd);
    if (link != guest.link_was_up) {
        guest.link_was_up = link;
        if (link)
            log_info("net", "%s (the guest's NIC): link up", gd->name);
        else
            log_warn("net", "%s (the guest's NIC): link down", gd->name);
    }
    return gd->poll(gd, guest_rx, NULL, 64) > 0;
}

static void rx(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    /* The guest's frames go to the guest only; broadcast and multicast
     * ones (ARP requests) to both. */
    if (guest.on && !guest.own && len >= 14) {
        const uint8_t *dst = frame;
        if (memcmp(dst, guest.mac, 6) == 0) {
            guest.rx(guest.ctx, frame, len);
            return;
        }
        if (dst[0] & 1)
            guest.rx(guest.ctx, frame, len);
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (!p)
        return; /* out of buffers: dropped, as a NIC would */
    pbuf_take(p, frame, (u16_t)len);
    if (nif.input(p, &nif) != ERR_OK)
        pbuf_free(p);
}

static void ipstr(char *b, size_t n, uint32_t ip)
{
    fmt_snprintf(b, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static void net_init(void)
{
    lwip_init();
    const struct cfg_host *h = kernel_this_host();
    if (!h)
        return;
    /* The NIC with this host's MAC; with [debug] host, the first NIC. */
    for (int i = 0; i < netdev_count() && !nd; i++)
        if (memcmp(netdev_get(i)->mac, h->mac, 6) == 0)
            nd = netdev_get(i);
    if (!nd && netdev_count()) {
        nd = netdev_get(0);
        log_warn("net", "no NIC has [host %s]'s MAC; using %s (%02x:%02x:%02x:%02x:%02x:%02x)", h->name, nd->name,
                 nd->mac[0], nd->mac[1], nd->mac[2], nd->mac[3], nd->mac[4], nd->mac[5]);
    }
    if (!nd) {
        log_info("net", "lwIP %d.%d.%d ready, but this machine has no NIC ftvisor drives: no networking",
                 LWIP_VERSION_MAJOR, LWIP_VERSION_MINOR, LWIP_VERSION_REVISION);
        return;
    }
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, h->ip >> 24, (h->ip >> 16) & 255, (h->ip >> 8) & 255, h->ip & 255);
    IP4_ADDR(&mask, h->netmask >> 24, (h->netmask >> 16) & 255, (h->netmask >> 8) & 255, h->netmask & 255);
    IP4_ADDR(&gw, h->gateway >> 24, (h->gateway >> 16) & 255, (h->gateway >> 8) & 255, h->gateway & 255);
    netif_add(&nif, &ip, &mask, &gw, NULL, nif_init, ethernet_input);
    netif_set_default(&nif);
    netif_set_up(&nif);
    up = true;
    char a[16];
    ipstr(a, sizeof(a), h->ip);
    int prefix = 0;
    for (uint32_t m = h->netmask; m & 0x80000000u; m <<= 1)
        prefix++;
    log_info("net", "lwIP %d.%d.%d on %s: %s/%d, link %s", LWIP_VERSION_MAJOR, LWIP_VERSION_MINOR,
             LWIP_VERSION_REVISION, nd->name, a, prefix,
             nd->link_up(nd) ? "up" : "down (waiting)");
}

static bool net_poll(void)
{
    bool busy = guest.on && guest.own && guest_nic_poll();
    if (!up)
        return busy;
    bool link = nd->link_up(nd);
    if (link != link_was_up) {
        link_was_up = link;
        link_change_ms = clock_ns() / 1000000;
        if (link) {
            netif_set_link_up(&nif);
            etharp_gratuitous(&nif);
            log_info("net", "%s: link up", nd->name);
        } else {
            netif_set_link_down(&nif);
            log_warn("net", "%s: link down", nd->name);
        }
    }
    int n = nd->poll(nd, rx, NULL, 64);
    sys_check_timeouts();
    return n > 0 || busy;
}

SERVICE(20, net, net_init, net_poll);
