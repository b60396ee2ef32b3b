/* virtio-net over PCI, the modern (virtio 1.x) interface: "Virtual I/O
 * Device (VIRTIO) Version 1.2", 4.1 (PCI transport), 2.7 (split virtqueues),
 * 5.1 (network device). Polled; one receive and one transmit queue. */
#include "netdev.h"
#include "pci.h"
#include "../kernel/format.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include <string.h>

/* PCI capability cfg_type values (4.1.4). */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* Common configuration (4.1.4.3). */
#define C_DFSEL 0x00
#define C_DF 0x04
#define C_GFSEL 0x08
#define C_GF 0x0c
#define C_STATUS 0x14
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QENABLE 0x1c
#define C_QNOTIFY 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8

#define F_NET_MAC 5
#define F_VERSION_1 32

#define VQ_SIZE 128
#define BUF 2048
#define HDR 12 /* struct virtio_net_hdr with num_buffers (5.1.6) */
#define DESC_WRITE 2

struct vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct vq {
    uint16_t size, last_used, avail_idx;
    struct vq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size] */
    volatile uint8_t *used;   /* flags, idx, {id u32, len u32}[size] */
    uint8_t *buf;
    uint64_t buf_pa;
    volatile uint16_t *notify;
    unsigned inflight;
};

struct vnet {
    struct netdev nd;
    struct pci_dev *pci;
    volatile uint8_t *common, *device, *notify_base;
    uint32_t notify_mult;
    struct vq rx, tx;
};

static struct vnet vnets[NETDEV_MAX];
static int nvnets;

static void *dma_alloc(size_t bytes, uint64_t *pa)
{
    uint64_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    *pa = pmm_alloc(pages, 1);
    void *v = phys_to_virt(*pa);
    memset(v, 0, pages * PAGE_SIZE);
    return v;
}

static volatile uint8_t *cap_region(struct vnet *v, uint8_t cap, uint32_t *extra)
{
    uint8_t bar = pci_read8(v->pci, cap + 4);
    uint32_t off = pci_read32(v->pci, cap + 8);
    if (extra)
        *extra = pci_read32(v->pci, cap + 16);
    volatile uint8_t *base = pci_map_bar(v->pci, bar);
    return base ? base + off : NULL;
}

static uint16_t used_idx(struct vq *q) { return *(volatile uint16_t *)(q->used + 2); }

static void used_elem(struct vq *q, uint16_t slot, uint32_t *id, uint32_t *len)
{
    volatile uint8_t *e = q->used + 4 + 8 * (size_t)(slot % q->size);
    *id = *(volatile uint32_t *)e;
    *len = *(volatile uint32_t *)(e + 4);
}

static void avail_push(struct vq *q, uint16_t id)
{
    q->avail[2 + q->avail_idx % q->size] = id;
    __asm__ volatile("sfence" ::: "memory");
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
}

static bool setup_queue(struct vnet *v, uint16_t index, struct vq *q, bool rx)
{
    volatile uint8_t *c = v->common;
    *(volatile uint16_t *)(c + C_QSEL) = index;
    uint16_t max = *(volatile uint16_t *)(c + C_QSIZE);
    if (!max)
        return false;
    q->size = max < VQ_SIZE ? max : VQ_SIZE;
    *(volatile uint16_t *)(c + C_QSIZE) = q->size;
    uint64_t dpa, apa, upa;
    q->desc = dma_alloc(16 * (size_t)q->size, &dpa);
    q->avail = dma_alloc(6 + 2 * (size_t)q->size, &apa);
    q->used = dma_alloc(6 + 8 * (size_t)q->size, &upa);
    q->buf = dma_alloc((size_t)q->size * BUF, &q->buf_pa);
    for (uint16_t i = 0; i < q->size; i++) {
        q->desc[i].addr = q->buf_pa + (uint64_t)i * BUF;
        q->desc[i].len = BUF;
        q->desc[i].flags = rx ? DESC_WRITE : 0;
    }
    *(volatile uint64_t *)(c + C_QDESC) = dpa;
    *(volatile uint64_t *)(c + C_QDRIVER) = apa;
    *(volatile uint64_t *)(c + C_QDEVICE) = upa;
    uint16_t noff = *(volatile uint16_t *)(c + C_QNOTIFY);
    q->notify = (volatile uint16_t *)(v->notify_base + (size_t)noff * v->notify_mult);
    *(volatile uint16_t *)(c + C_QENABLE) = 1;
    return true;
}

static bool vnet_link_up(struct netdev *nd)
{
    (void)nd;
    return true; /* VIRTIO_NET_F_STATUS not negotiated: the link is up */
}

static int vnet_send(struct netdev *nd, const void *frame, size_t len)
{
    struct vnet *v = nd->priv;
    struct vq *q = &v->tx;
    if (len > NETDEV_MTU_FRAME)
        return -1;
    /* Reclaim finished transmissions. */
    while (q->last_used != used_idx(q)) {
        q->last_used++;
        q->inflight--;
    }
    if (q->inflight == q->size) {
        nd->tx_full++;
        return -1;
    }
    uint16_t id = q->avail_idx % q->size;
    uint8_t *b = q->buf + (size_t)id * BUF;
    memset(b, 0, HDR);
    memcpy(b + HDR, frame, len);
    q->desc[id].len = (uint32_t)(HDR + len);
    q->inflight++;
    avail_push(q, id);
    *q->notify = 1;
    nd->tx_frames++;
    nd->tx_bytes += len;
    return 0;
}

static int vnet_poll(struct netdev *nd, netdev_rx_fn rx, void *ctx, int budget)
{
    struct vnet *v = nd->priv;
    struct vq *q = &v->rx;
    int n = 0;
    while (n < budget && q->last_used != used_idx(q)) {
        __asm__ volatile("lfence" ::: "memory");
        uint32_t id, len;
        used_elem(q, q->last_used, &id, &len);
        q->last_used++;
        if (id < q->size && len > HDR && len <= BUF) {
            nd->rx_frames++;
            nd->rx_bytes += len - HDR;
            rx(ctx, q->buf + (size_t)id * BUF + HDR, len - HDR);
        } else {
            nd->rx_errors++;
        }
        if (id < q->size)
            avail_push(q, (uint16_t)id);
        n++;
    }
    if (n)
        *q->notify = 0;
    return n;
}

static bool bring_up(struct vnet *v)
{
    uint8_t common = 0, notify = 0, device = 0;
    /* Walk the vendor-specific capabilities (id 9) for the regions. */
    uint8_t off = pci_read8(v->pci, 0x34) & 0xfc;
    for (int guard = 0; off && guard < 48; guard++) {
        if (pci_read8(v->pci, off) == 0x09) {
            uint8_t type = pci_read8(v->pci, off + 3);
            if (type == CAP_COMMON && !common)
                common = off;
            else if (type == CAP_NOTIFY && !notify)
                notify = off;
            else if (type == CAP_DEVICE && !device)
                device = off;
        }
        off = pci_read8(v->pci, off + 1) & 0xfc;
    }
    if (!common || !notify || !device)
        return false; /* a legacy-only device: not supported */
    pci_enable(v->pci, true, false, true);
    v->common = cap_region(v, common, NULL);
    v->device = cap_region(v, device, NULL);
    v->notify_base = cap_region(v, notify, &v->notify_mult);
    if (!v->common || !v->device || !v->notify_base)
        return false;
    volatile uint8_t *c = v->common;
    c[C_STATUS] = 0; /* reset (4.1.4.3.1) */
    while (c[C_STATUS])
        ;
    c[C_STATUS] = S_ACK;
    c[C_STATUS] = S_ACK | S_DRIVER;
    *(volatile uint32_t *)(c + C_DFSEL) = 0;
    uint32_t f0 = *(volatile uint32_t *)(c + C_DF);
    *(volatile uint32_t *)(c + C_DFSEL) = 1;
    uint32_t f1 = *(volatile uint32_t *)(c + C_DF);
    if (!(f1 & (1u << (F_VERSION_1 - 32))))
        return false;
    *(volatile uint32_t *)(c + C_GFSEL) = 0;
    *(volatile uint32_t *)(c + C_GF) = f0 & (1u << F_NET_MAC);
    *(volatile uint32_t *)(c + C_GFSEL) = 1;
    *(volatile uint32_t *)(c + C_GF) = 1u << (F_VERSION_1 - 32);
    c[C_STATUS] = S_ACK | S_DRIVER | S_FEATURES_OK;
    if (!(c[C_STATUS] & S_FEATURES_OK))
        return false;
    if (!setup_queue(v, 0, &v->rx, true) || !setup_queue(v, 1, &v->tx, false))
        return false;
    if (f0 & (1u << F_NET_MAC))
        for (int i = 0; i < 6; i++)
            v->nd.mac[i] = v->device[i];
    c[C_STATUS] = S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK;
    for (uint16_t i = 0; i < v->rx.size; i++)
        avail_push(&v->rx, i);
    *v->rx.notify = 0;
    return true;
}

int virtio_net_probe(void)
{
    static const uint16_t ids[] = { 0x1041, 0x1000 };
    int found = 0;
    for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
        for (int idx = 0;; idx++) {
            struct pci_dev *p = pci_find(0x1af4, ids[k], idx);
            if (!p)
                break;
            /* 0x1000 is any transitional device: subsystem id 1 is net. */
            if (p->claimed || nvnets == NETDEV_MAX || (ids[k] == 0x1000 && pci_read16(p, 0x2e) != 1))
                continue;
            struct vnet *v = &vnets[nvnets];
            memset(v, 0, sizeof(*v));
            v->pci = p;
            v->nd.priv = v;
            v->nd.model = "virtio-net";
            fmt_snprintf(v->nd.name, sizeof(v->nd.name), "virtio-net-%d", nvnets);
            v->nd.link_up = vnet_link_up;
            v->nd.send = vnet_send;
            v->nd.poll = vnet_poll;
            if (!bring_up(v)) {
                log_warn("net", "%02x:%02x.%u: virtio-net did not come up (needs the virtio 1.x interface)", p->bus,
                         p->dev, p->fn);
                continue;
            }
            p->claimed = true;
            nvnets++;
            found++;
            netdev_register(&v->nd);
        }
    }
    return found;
}
