/* The guest's PCI bus (pci.h). */
#include "pci.h"
#include <string.h>

void vpci_init(struct vpci_bus *b) { memset(b, 0, sizeof(*b)); }

void vpci_func_init(struct vpci_func *f, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t rev,
                    uint16_t subsys_vendor, uint16_t subsys_id)
{
    memset(f->cfg, 0, sizeof(f->cfg));
    memset(f->wmask, 0, sizeof(f->wmask));
    memset(f->bar_size, 0, sizeof(f->bar_size));
    le_put(f->cfg + PCI_VENDOR, vendor, 2);
    le_put(f->cfg + PCI_VENDOR + 2, device, 2);
    le_put(f->cfg + PCI_CLASS_REV, class_code << 8 | rev, 4);
    le_put(f->cfg + PCI_SUBSYS, subsys_vendor, 2);
    le_put(f->cfg + PCI_SUBSYS + 2, subsys_id, 2);
    /* Command: I/O, memory, bus master, INTx disable are the guest's. */
    le_put(f->wmask + PCI_COMMAND, PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_OFF, 2);
    f->wmask[PCI_INT_LINE] = 0xff;
    f->wmask[0x0c] = 0xff; /* cache line size: kept, unused */
    f->wmask[0x0d] = 0xff; /* latency timer */
}

void vpci_func_bar(struct vpci_func *f, unsigned bar, uint32_t size, uint32_t addr)
{
    if (bar >= 6 || size < 16 || (size & (size - 1)))
        return;
    f->bar_size[bar] = size;
    le_put(f->wmask + PCI_BAR0 + 4 * bar, ~(size - 1), 4);
    le_put(f->cfg + PCI_BAR0 + 4 * bar, addr & ~(size - 1), 4); /* 32-bit, non-prefetchable memory */
}

void vpci_func_intx(struct vpci_func *f, uint8_t irq)
{
    f->cfg[PCI_INT_LINE] = irq;
    f->cfg[PCI_INT_PIN] = 1; /* INTA# */
}

unsigned vpci_func_cap(struct vpci_func *f, unsigned at, uint8_t id, const uint8_t *body, unsigned body_len)
{
    if (at < 0x40 || (at & 3) || at + 2 + body_len > 256)
        return 0;
    f->cfg[at] = id;
    f->cfg[at + 1] = 0;
    memcpy(f->cfg + at + 2, body, body_len);
    /* Chain it last. */
    uint16_t st = (uint16_t)(f->cfg[PCI_STATUS] | f->cfg[PCI_STATUS + 1] << 8);
    if (!(st & PCI_STATUS_CAPS)) {
        le_put(f->cfg + PCI_STATUS, st | PCI_STATUS_CAPS, 2);
        f->cfg[PCI_CAP_PTR] = (uint8_t)at;
    } else {
        unsigned p = f->cfg[PCI_CAP_PTR];
        for (int n = 0; n < 48 && f->cfg[p + 1]; n++)
            p = f->cfg[p + 1];
        f->cfg[p + 1] = (uint8_t)at;
    }
    return at + 2;
}

void vpci_attach(struct vpci_bus *b, unsigned slot, struct vpci_func *f)
{
    if (slot < VPCI_SLOTS)
        b->slot[slot] = f;
}

/* The function CONFIG_ADDRESS selects: bus 0, function 0 of a slot. */
static struct vpci_func *selected(struct vpci_bus *b, unsigned *reg)
{
    uint32_t a = b->addr;
    if (!(a & 0x80000000u) || ((a >> 16) & 0xff) != 0 || ((a >> 8) & 7) != 0)
        return NULL;
    *reg = a & 0xfc;
    return b->slot[(a >> 11) & 0x1f];
}

bool vpci_port_in(struct vpci_bus *b, uint16_t port, unsigned size, uint32_t *val)
{
    if (port == 0xcf8 && size == 4) {
        *val = b->addr;
        return true;
    }
    if (port < 0xcfc || port > 0xcff)
        return false;
    unsigned reg, off = port - 0xcfc;
    struct vpci_func *f = selected(b, &reg);
    uint32_t v = 0xffffffffu;
    if (f)
        v = (uint32_t)le_get(f->cfg + reg, 4);
    v >>= 8 * off;
    *val = size == 4 ? v : v & ((1u << (8 * size)) - 1);
    return true;
}

bool vpci_port_out(struct vpci_bus *b, uint16_t port, unsigned size, uint32_t val)
{
    if (port == 0xcf8 && size == 4) {
        b->addr = val & 0x80fffffcu;
        return true;
    }
    if (port < 0xcfc || port > 0xcff)
        return false;
    unsigned reg, off = port - 0xcfc;
    struct vpci_func *f = selected(b, &reg);
    if (!f)
        return true; /* no device: the write goes nowhere */
    for (unsigned i = 0; i < size && off + i < 4; i++) {
        unsigned at = reg + off + i;
        uint8_t m = f->wmask[at], byte = (uint8_t)(val >> (8 * i));
        f->cfg[at] = (uint8_t)((f->cfg[at] & ~m) | (byte & m));
    }
    return true;
}

uint32_t vpci_bar_addr(const struct vpci_func *f, unsigned bar)
{
    if (bar >= 6 || !f->bar_size[bar] || !(f->cfg[PCI_COMMAND] & PCI_CMD_MEM))
        return 0;
    return (uint32_t)le_get(f->cfg + PCI_BAR0 + 4 * bar, 4) & ~(f->bar_size[bar] - 1);
}

bool vpci_mmio(struct vpci_bus *b, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
    for (unsigned s = 0; s < VPCI_SLOTS; s++) {
        struct vpci_func *f = b->slot[s];
        if (!f)
            continue;
        for (unsigned bar = 0; bar < 6; bar++) {
            uint32_t base = vpci_bar_addr(f, bar);
            if (!base || gpa < base || gpa + size > (uint64_t)base + f->bar_size[bar])
                continue;
            if (f->bar_access)
                f->bar_access(f->ctx, bar, gpa - base, size, write, val);
            else if (!write)
                *val = 0;
            return true;
        }
    }
    return false;
}

void vpci_set_intx_status(struct vpci_func *f, bool asserted)
{
    if (asserted)
        f->cfg[PCI_STATUS] |= PCI_STATUS_INTX;
    else
        f->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTX;
}
