/* The guest's network on the host NIC (guest_net.h). */
#include "guest_net.h"
#include "log.h"
#include "../net/net.h"
#include "../vmm/vm.h"
#include "../vmm/vnic.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include <string.h>

#define RX_FRAMES 128 /* received, waiting for the guest */
#define TX_FRAMES 256 /* sent by the guest, held by the output rule */
#define FRAME_MAX (VNET_FRAME_MAX + 4)

struct frame {
    uint16_t len;
    uint64_t tag; /* the log's length when the guest sent it */
    uint8_t data[FRAME_MAX];
};

static struct {
    bool on, replay;
    uint8_t mac[6];
    struct frame rx[RX_FRAMES];
    unsigned rx_head, rx_n;
    struct frame tx[TX_FRAMES];
    unsigned tx_head, tx_n;
    bool (*released)(uint64_t tag);
    uint64_t (*tag_now)(void);
    uint8_t staged[FRAME_MAX]; /* replay: the frame the log's DEVDATA gave */
    uint32_t guest_ip;         /* the IPv4 address the guest sends from (0: not seen) */
    uint64_t rx_frames, rx_bytes, rx_full, rx_dropped, tx_frames, tx_bytes, tx_held, tx_full, tx_lost,
        tx_replayed, announced, rx_batches;
} N;

bool gnet_active(void) { return N.on; }

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* A frame from the wire for the guest (net's receive path, main loop). */
static void on_rx(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    if (N.replay || len > FRAME_MAX)
        return; /* a backup's guest takes its frames from the log */
    if (N.rx_n == RX_FRAMES) {
        N.rx_full++; /* the guest does not keep up: dropped, as by a NIC whose ring is full */
        return;
    }
    struct frame *f = &N.rx[(N.rx_head + N.rx_n++) % RX_FRAMES];
    f->len = (uint16_t)len;
    memcpy(f->data, frame, len);
}

bool gnet_pending(struct vm *vm)
{
    return N.on && N.rx_n && vm->plat.has_net && vnet_rx_ready(&vm->plat.net);
}

void gnet_deliver(struct vm *vm, gio_log_fn log)
{
    if (gnet_pending(vm))
        N.rx_batches++;
    while (gnet_pending(vm)) {
        struct frame *f = &N.rx[N.rx_head];
        if (log)
            log(LOG_DEV_NET, 0, f->len, f->data, f->len, false);
        int r = vnet_rx(&vm->plat.net, f->data, f->len);
        N.rx_head = (N.rx_head + 1) % RX_FRAMES;
        N.rx_n--;
        if (r > 0) {
            N.rx_frames++;
            N.rx_bytes += f->len;
        } else {
            N.rx_dropped++;
        }
    }
    platform_report_devices(vm);
}

int gnet_replay_data(struct vm *vm, uint32_t tag, uint32_t offset, const uint8_t *data, uint32_t len,
                     const char **why)
{
    (void)vm;
    if (!N.on || tag != 0 || offset > FRAME_MAX || len > FRAME_MAX - offset) {
        *why = "the log gives a received frame that the replayed guest's NIC cannot have";
        return -1;
    }
    memcpy(N.staged + offset, data, len);
    return 0;
}

int gnet_replay_done(struct vm *vm, uint32_t tag, uint32_t status, const char **why)
{
    if (!N.on || tag != 0 || status < VNET_FRAME_MIN || status > FRAME_MAX || !vm->plat.has_net) {
        *why = "the log delivers a received frame that the replayed guest's NIC cannot have";
        return -1;
    }
    int r = vnet_rx(&vm->plat.net, N.staged, status);
    if (r == 0) {
        *why = "the log delivers a received frame where the replayed guest has no receive buffer posted";
        return -1;
    }
    if (r > 0) {
        N.rx_frames++;
        N.rx_bytes += status;
    } else {
        N.rx_dropped++;
    }
    platform_report_devices(vm);
    return 0;
}

static void send(const uint8_t *frame, size_t len)
{
    if (net_guest_send(frame, len))
        N.tx_lost++;
    else {
        N.tx_frames++;
        N.tx_bytes += len;
    }
}

/* A frame the guest sends (its exit, deterministic). */
static void gnet_tx(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    /* The address the guest uses, for the announcement at go-live: the
     * sender of its ARP packets or the source of its IPv4 ones. */
    uint16_t type = (uint16_t)(frame[12] << 8 | frame[13]);
    if (type == 0x0806 && len >= 42 && frame[14] == 0 && frame[15] == 1 && be32(frame + 28))
        N.guest_ip = be32(frame + 28);
    else if (type == 0x0800 && len >= 34 && be32(frame + 26))
        N.guest_ip = be32(frame + 26);
    if (N.replay) {
        N.tx_replayed++; /* the primary sent it */
        return;
    }
    if (!N.released || (!N.tx_n && N.released(N.tag_now()))) {
        send(frame, len);
        return;
    }
    if (N.tx_n == TX_FRAMES) {
        N.tx_full++; /* more held output than the queue holds: lost, as on a congested link */
        return;
    }
    struct frame *f = &N.tx[(N.tx_head + N.tx_n++) % TX_FRAMES];
    f->len = (uint16_t)len;
    f->tag = N.tag_now();
    memcpy(f->data, frame, len);
    N.tx_held++;
}

bool gnet_output_held(void) { return N.tx_n != 0; }

void gnet_poll(void)
{
    while (N.tx_n && (!N.released || N.released(N.tx[N.tx_head].tag))) {
        struct frame *f = &N.tx[N.tx_head];
        send(f->data, f->len);
        N.tx_head = (N.tx_head + 1) % TX_FRAMES;
        N.tx_n--;
    }
}

void gnet_set_gate(bool (*released)(uint64_t tag), uint64_t (*tag_now)(void))
{
    N.released = released;
    N.tag_now = tag_now;
    gnet_poll();
}

/* Tell the switches the guest's MAC is behind this host's port now. */
static void announce(void)
{
    uint8_t f[60];
    memset(f, 0, sizeof(f));
    memset(f, 0xff, 6);
    memcpy(f + 6, N.mac, 6);
    uint8_t *a = f + 14;
    a[1] = 1;    /* hardware: Ethernet */
    a[2] = 0x08; /* protocol: IPv4 */
    a[4] = 6;
    a[5] = 4;
    memcpy(a + 8, N.mac, 6);
    if (N.guest_ip) {
        /* Gratuitous ARP (RFC 5227, 3): a request for the guest's own
         * address, sender and target both that address. */
        f[12] = 0x08;
        f[13] = 0x06;
        a[7] = 1;
        for (int i = 0; i < 4; i++)
            a[14 + i] = a[24 + i] = (uint8_t)(N.guest_ip >> (24 - 8 * i));
        send(f, sizeof(f));
    }
    /* RARP (RFC 903) "request reverse" for the MAC, as QEMU announces a
     * migrated guest: every switch sees the source address. */
    memset(a + 14, 0, 14);
    f[12] = 0x80;
    f[13] = 0x35;
    a[7] = 3;
    memcpy(a + 18, N.mac, 6);
    send(f, sizeof(f));
    N.announced++;
}

void gnet_set_replay(struct vm *vm, bool replay)
{
    (void)vm;
    if (!N.on)
        return;
    bool was = N.replay;
    N.replay = replay;
    N.rx_n = 0; /* frames from before: either the log's, or too old */
    if (!was || replay)
        return;
    announce();
    char ip[20] = "an address not seen";
    if (N.guest_ip)
        fmt_snprintf(ip, sizeof(ip), "%u.%u.%u.%u", N.guest_ip >> 24, (N.guest_ip >> 16) & 255,
                     (N.guest_ip >> 8) & 255, N.guest_ip & 255);
    log_info("net", "go-live: announced the guest's MAC %02x:%02x:%02x:%02x:%02x:%02x from this host (%sRARP; the "
                    "guest uses %s)",
             N.mac[0], N.mac[1], N.mac[2], N.mac[3], N.mac[4], N.mac[5], N.guest_ip ? "gratuitous ARP and " : "", ip);
}

void gnet_report(const char *who)
{
    if (!N.on)
        return;
    log_info(who, "net: %llu frames (%llu bytes) received into the guest, %llu dropped (ring full %llu); %llu frames "
                  "(%llu bytes) sent, %llu held by the output rule, %llu lost (held queue full %llu); received frames came "
                  "in %llu batches",
             (unsigned long long)N.rx_frames, (unsigned long long)N.rx_bytes,
             (unsigned long long)(N.rx_dropped + N.rx_full), (unsigned long long)N.rx_full,
             (unsigned long long)N.tx_frames, (unsigned long long)N.tx_bytes, (unsigned long long)N.tx_held,
             (unsigned long long)(N.tx_lost + N.tx_full), (unsigned long long)N.tx_full,
             (unsigned long long)N.rx_batches);
}

void gnet_init(void)
{
    const struct config *cfg = kernel_config();
    static const uint8_t none[6];
    if (!cfg->guest.present || memcmp(cfg->guest.nic_mac, none, 6) == 0)
        return;
    memcpy(N.mac, cfg->guest.nic_mac, 6);
    int e = net_bridge_guest(N.mac, on_rx, NULL);
    if (e) {
        const struct cfg_host *h = kernel_this_host();
        char err[CFG_ERR_MAX + 96];
        if (e == NET_BRIDGE_NO_GUEST_NIC || e == NET_BRIDGE_SAME_NIC)
            fmt_snprintf(err, sizeof(err), "%s:%d: guest_nic: %s %02x:%02x:%02x:%02x:%02x:%02x", cfg->file,
                         h->guest_nic_line,
                         e == NET_BRIDGE_SAME_NIC ? "the host's own NIC has the MAC"
                                                  : "this host has no NIC (that ftvisor drives) with the MAC",
                         h->guest_nic[0], h->guest_nic[1], h->guest_nic[2], h->guest_nic[3], h->guest_nic[4],
                         h->guest_nic[5]);
        else
            fmt_snprintf(err, sizeof(err), "%s:%d: nic_mac: %s", cfg->file, cfg->guest.nic_mac_line,
                         e == NET_BRIDGE_FILTER_FULL ? "the host NIC's address filter has no room for the guest's MAC"
                                                     : "this host has no NIC to bridge the guest onto");
        kernel_config_fail(err);
    }
    struct vnet_backend be = { gnet_tx, NULL };
    vnic_setup(N.mac, &be);
    N.on = true;
    bool own;
    struct netdev *nd = net_guest_device(&own);
    log_info("net", "the guest's NIC: virtio-net %02x:%02x:%02x:%02x:%02x:%02x at PCI 00:%02x.0, bridged onto %s%s",
             N.mac[0], N.mac[1], N.mac[2], N.mac[3], N.mac[4], N.mac[5], GUEST_PCI_FIRST_SLOT + 1, nd->name,
             own ? " (a NIC of its own: the host's traffic stays on its NIC)" : "");
}
