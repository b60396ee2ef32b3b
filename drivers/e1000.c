/* Intel 8254x/8257x gigabit NICs: the 82540EM that Bochs and QEMU emulate
 * (and its 82545EM sibling), and the 82574L of QEMU's q35 machine
 * ("e1000e"). Legacy descriptors, polled from the main loop (Intel
 * "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
 * Manual" (8254x SDM) chapters 3 and 13; "82574 GbE Controller Datasheet").
 *
 * The 82574 differences handled here: EEPROM read register layout (EERD
 * address at bits 15:2, done at bit 1 instead of 15:8 and 4), and the
 * descriptor-queue enables in RXDCTL/TXDCTL that the 82574 needs. */
#include "netdev.h"
#include "pci.h"
#include "../kernel/clock.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/lapic.h"
#include "../kernel/pmm.h"
#include "../kernel/trap.h"
#include <string.h>

/* Registers (8254x SDM 13.1, Table 13-2). */
#define CTRL 0x0000
#define STATUS 0x0008
#define EERD 0x0014
#define ICR 0x00c0
#define IMS 0x00d0
#define IMC 0x00d8
#define RCTL 0x0100
#define TCTL 0x0400
#define TIPG 0x0410
#define RDBAL 0x2800
#define RDBAH 0x2804
#define RDLEN 0x2808
#define RDH 0x2810
#define RDT 0x2818
#define RXDCTL 0x2828
#define TDBAL 0x3800
#define TDBAH 0x3804
#define TDLEN 0x3808
#define TDH 0x3810
#define TDT 0x3818
#define TXDCTL 0x3828
#define MTA 0x5200
#define RAL0 0x5400
#define RAH0 0x5404

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define STATUS_LU (1u << 1)
#define RCTL_EN (1u << 1)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TX_CMD_EOP 0x01
#define TX_CMD_IFCS 0x02
#define TX_CMD_RS 0x08
#define DESC_DD 0x01
#define RX_EOP 0x02

#define NRX 256
#define NTX 256
#define BUF 2048

struct rx_desc {
    uint64_t addr;
    uint16_t length, csum;
    uint8_t status, errors;
    uint16_t special;
} __attribute__((packed));

struct tx_desc {
    uint64_t addr;
    uint16_t length;
    uint8_t cso, cmd, status, css;
    uint16_t special;
} __attribute__((packed));

struct e1000 {
    struct netdev nd;
    struct pci_dev *pci;
    volatile uint8_t *regs;
    bool is_82574, msi;
    struct rx_desc *rx;
    struct tx_desc *tx;
    uint8_t *rxbuf, *txbuf;
    uint64_t rx_pa, tx_pa, rxbuf_pa, txbuf_pa;
    unsigned rx_next, tx_next, tx_clean;
};

static struct e1000 nics[NETDEV_MAX];

static void nic_irq(struct trap_frame *f)
{
    (void)f;
    lapic_eoi(); /* the poll does the work; the interrupt only woke us */
}
static int nnics;

static uint32_t rd(struct e1000 *e, uint32_t r) { return *(volatile uint32_t *)(e->regs + r); }
static void wr(struct e1000 *e, uint32_t r, uint32_t v) { *(volatile uint32_t *)(e->regs + r) = v; }

static bool eeprom_word(struct e1000 *e, unsigned addr, uint16_t *out)
{
    uint32_t start, done, shift;
    if (e->is_82574) {
        start = 1;
        done = 1u << 1;
        shift = 2;
    } else {
        start = 1;
        done = 1u << 4;
        shift = 8;
    }
    wr(e, EERD, (addr << shift) | start);
    for (int i = 0; i < 100000; i++) {
        uint32_t v = rd(e, EERD);
        if (v & done) {
            *out = (uint16_t)(v >> 16);
            return true;
        }
        pause();
    }
    return false;
}

static bool e1000_link_up(struct netdev *nd)
{
    struct e1000 *e = nd->priv;
    return rd(e, STATUS) & STATUS_LU;
}

static int e1000_send(struct netdev *nd, const void *frame, size_t len)
{
    struct e1000 *e = nd->priv;
    if (len > NETDEV_MTU_FRAME)
        return -1;
    /* Reclaim descriptors the NIC finished (DD), oldest first. */
    while (e->tx_clean != e->tx_next && (e->tx[e->tx_clean].status & DESC_DD))
        e->tx_clean = (e->tx_clean + 1) % NTX;
    unsigned next = (e->tx_next + 1) % NTX;
    if (next == e->tx_clean) {
        nd->tx_full++;
        return -1;
    }
    struct tx_desc *d = &e->tx[e->tx_next];
    memcpy(e->txbuf + (size_t)e->tx_next * BUF, frame, len);
    size_t padded = len < 60 ? 60 : len; /* minimum frame without FCS */
    if (padded > len)
        memset(e->txbuf + (size_t)e->tx_next * BUF + len, 0, padded - len);
    d->addr = e->txbuf_pa + (uint64_t)e->tx_next * BUF;
    d->length = (uint16_t)padded;
    d->cso = 0;
    d->css = 0;
    d->special = 0;
    d->status = 0;
    d->cmd = TX_CMD_EOP | TX_CMD_IFCS | TX_CMD_RS;
    e->tx_next = next;
    __asm__ volatile("sfence" ::: "memory");
    wr(e, TDT, e->tx_next);
    nd->tx_frames++;
    nd->tx_bytes += len;
    return 0;
}

static int e1000_poll(struct netdev *nd, netdev_rx_fn rx, void *ctx, int budget)
{
    struct e1000 *e = nd->priv;
    int n = 0;
    if (e->msi)
        (void)rd(e, ICR); /* clear the causes so the next one interrupts */
    while (n < budget) {
        struct rx_desc *d = &e->rx[e->rx_next];
        if (!(d->status & DESC_DD))
            break;
        __asm__ volatile("lfence" ::: "memory");
        /* Frames larger than one buffer arrive in pieces; nothing here
         * sends them, so a piece without EOP is an error: drop it. */
        if ((d->status & RX_EOP) && !d->errors && d->length >= 14) {
            nd->rx_frames++;
            nd->rx_bytes += d->length;
            rx(ctx, e->rxbuf + (size_t)e->rx_next * BUF, d->length);
        } else {
            nd->rx_errors++;
        }
        d->status = 0;
        unsigned done = e->rx_next;
        e->rx_next = (e->rx_next + 1) % NRX;
        wr(e, RDT, done); /* give the buffer back */
        n++;
    }
    return n;
}

static void *dma_alloc(size_t bytes, uint64_t *pa)
{
    uint64_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    *pa = pmm_alloc(pages, 1);
    void *v = phys_to_virt(*pa);
    memset(v, 0, pages * PAGE_SIZE);
    return v;
}

static bool bring_up(struct e1000 *e)
{
    e->regs = pci_map_bar(e->pci, 0);
    if (!e->regs)
        return false;
    pci_enable(e->pci, true, false, true);
    wr(e, IMC, 0xffffffffu); /* polled: no interrupts */
    wr(e, CTRL, rd(e, CTRL) | CTRL_RST);
    clock_delay_us(10000);
    for (int i = 0; i < 1000 && (rd(e, CTRL) & CTRL_RST); i++)
        clock_delay_us(100);
    wr(e, IMC, 0xffffffffu);
    (void)rd(e, ICR);

    /* The MAC: receive-address register 0 as the EEPROM loaded it after
     * reset, else the EEPROM's first three words (8254x SDM 5.6). */
    uint32_t ral = rd(e, RAL0), rah = rd(e, RAH0);
    if (rah & (1u << 31)) {
        for (int i = 0; i < 4; i++)
            e->nd.mac[i] = (uint8_t)(ral >> (8 * i));
        e->nd.mac[4] = (uint8_t)rah;
        e->nd.mac[5] = (uint8_t)(rah >> 8);
    } else {
        for (unsigned w = 0; w < 3; w++) {
            uint16_t v = 0;
            if (!eeprom_word(e, w, &v))
                return false;
            e->nd.mac[2 * w] = (uint8_t)v;
            e->nd.mac[2 * w + 1] = (uint8_t)(v >> 8);
        }
        wr(e, RAL0, e->nd.mac[0] | e->nd.mac[1] << 8 | e->nd.mac[2] << 16 | (uint32_t)e->nd.mac[3] << 24);
        wr(e, RAH0, e->nd.mac[4] | e->nd.mac[5] << 8 | (1u << 31));
    }
    for (int i = 0; i < 128; i++)
        wr(e, MTA + 4 * i, 0);

    e->rx = dma_alloc(NRX * sizeof(struct rx_desc), &e->rx_pa);
    e->tx = dma_alloc(NTX * sizeof(struct tx_desc), &e->tx_pa);
    e->rxbuf = dma_alloc((size_t)NRX * BUF, &e->rxbuf_pa);
    e->txbuf = dma_alloc((size_t)NTX * BUF, &e->txbuf_pa);
    for (unsigned i = 0; i < NRX; i++)
        e->rx[i].addr = e->rxbuf_pa + (uint64_t)i * BUF;
    for (unsigned i = 0; i < NTX; i++)
        e->tx[i].status = DESC_DD; /* free */
    e->rx_next = e->tx_next = e->tx_clean = 0;

    wr(e, RDBAL, (uint32_t)e->rx_pa);
    wr(e, RDBAH, (uint32_t)(e->rx_pa >> 32));
    wr(e, RDLEN, NRX * sizeof(struct rx_desc));
    wr(e, RDH, 0);
    wr(e, RDT, NRX - 1);
    wr(e, TDBAL, (uint32_t)e->tx_pa);
    wr(e, TDBAH, (uint32_t)(e->tx_pa >> 32));
    wr(e, TDLEN, NTX * sizeof(struct tx_desc));
    wr(e, TDH, 0);
    wr(e, TDT, 0);
    if (e->is_82574) {
        /* 82574: queue enable bit 25 in RXDCTL/TXDCTL (datasheet 10.2.2). */
        wr(e, RXDCTL, rd(e, RXDCTL) | (1u << 25));
        wr(e, TXDCTL, rd(e, TXDCTL) | (1u << 25));
    }
    /* Broadcast accept, strip the CRC, 2048-byte buffers (BSIZE 00). */
    wr(e, RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
    /* Pad short frames, collision threshold 15, distance 64 (full duplex). */
    wr(e, TCTL, TCTL_EN | TCTL_PSP | (15u << 4) | (64u << 12));
    wr(e, TIPG, 10 | (8u << 10) | (6u << 20));
    wr(e, CTRL, rd(e, CTRL) | CTRL_SLU | CTRL_ASDE);
    /* With MSI (the 82574 has it; the 82540EM does not), a received frame
     * or a link change wakes the main loop at once instead of at the next
     * timer tick: receive timer (bit 7), link status change (bit 2). */
    uint8_t vec = (uint8_t)(VEC_DEVICE_BASE + nnics);
    if (pci_enable_msi(e->pci, vec)) {
        irq_register(vec, nic_irq);
        wr(e, IMS, (1u << 7) | (1u << 2));
        e->msi = true;
    }
    return true;
}

/* Receive frames for another unicast address too (a guest bridged onto
 * this NIC): receive address register n (8254x SDM 13.4.29; RAL/RAH
 * pairs at 0x5400 + 8n, Address Valid in RAH bit 31). */
static int e1000_add_mac(struct netdev *nd, const uint8_t mac[6])
{
    struct e1000 *e = nd->priv;
    for (unsigned n = 1; n < 16; n++) {
        if (rd(e, RAH0 + 8 * n) & (1u << 31))
            continue;
        wr(e, RAL0 + 8 * n, mac[0] | mac[1] << 8 | mac[2] << 16 | (uint32_t)mac[3] << 24);
        wr(e, RAH0 + 8 * n, mac[4] | mac[5] << 8 | (1u << 31));
        return 0;
    }
    return -1;
}

int e1000_probe(void)
{
    static const struct {
        uint16_t device;
        const char *model;
        bool is_82574;
    } ids[] = {
        { 0x100e, "82540EM", false }, { 0x100f, "82545EM", false }, { 0x1004, "82543GC", false },
        { 0x10d3, "82574L", true },
    };
    int found = 0;
    for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
        for (int idx = 0;; idx++) {
            struct pci_dev *p = pci_find(0x8086, ids[k].device, idx);
            if (!p)
                break;
            if (p->claimed || nnics == NETDEV_MAX)
                continue;
            struct e1000 *e = &nics[nnics];
            memset(e, 0, sizeof(*e));
            e->pci = p;
            e->is_82574 = ids[k].is_82574;
            e->nd.priv = e;
            e->nd.model = ids[k].model;
            fmt_snprintf(e->nd.name, sizeof(e->nd.name), "e1000-%d", nnics);
            e->nd.link_up = e1000_link_up;
            e->nd.send = e1000_send;
            e->nd.poll = e1000_poll;
            e->nd.add_mac = e1000_add_mac;
            if (!bring_up(e)) {
                log_warn("net", "%02x:%02x.%u: %s did not come up", p->bus, p->dev, p->fn, ids[k].model);
                continue;
            }
            p->claimed = true;
            nnics++;
            found++;
            netdev_register(&e->nd);
            if (e->msi)
                log_info("net", "%s: receive interrupts by MSI (vector 0x%x)", e->nd.name, VEC_DEVICE_BASE + nnics - 1);
        }
    }
    return found;
}
