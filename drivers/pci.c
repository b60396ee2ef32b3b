/* PCI enumeration (PCI Local Bus 3.0, chapter 6; PCI Express Base,
 * "Enhanced Configuration Access Mechanism"). */
#include "pci.h"
#include "../kernel/acpi.h"
#include "../kernel/lapic.h"
#include "../kernel/layout.h"
#include "../kernel/format.h"
#include "../kernel/log.h"
#include "../kernel/paging.h"
#include "../kernel/pci_cfg.h"
#include <string.h>

static struct pci_dev devs[PCI_MAX_DEVICES];
static int ndevs;
static volatile uint8_t *ecam;
static uint8_t ecam_start, ecam_end;

/* MCFG (PCI Firmware Specification 3.0, 4.1.2): 44-byte header, then
 * 16-byte entries (base u64, segment u16, start bus u8, end bus u8). */
static void find_ecam(void)
{
    const struct acpi_sdt *t = acpi_find("MCFG", 0);
    if (!t || t->length < 44 + 16)
        return;
    const uint8_t *e = (const uint8_t *)t + 44;
    uint64_t base;
    memcpy(&base, e, 8);
    uint16_t seg;
    memcpy(&seg, e + 8, 2);
    if (seg != 0 || !base)
        return;
    ecam_start = e[10];
    ecam_end = e[11];
    uint64_t size = ((uint64_t)(ecam_end - ecam_start) + 1) << 20;
    ecam = paging_map_mmio(base + ((uint64_t)ecam_start << 20), size, MAP_UC);
}

static volatile uint8_t *ecam_at(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (!ecam || bus < ecam_start || bus > ecam_end)
        return NULL;
    return ecam + (((uint64_t)(bus - ecam_start) << 20) | ((uint64_t)dev << 15) | ((uint64_t)fn << 12) | off);
}

static uint32_t cfg_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    volatile uint8_t *p = ecam_at(bus, dev, fn, off & 0xffc);
    return p ? *(volatile uint32_t *)p : pci_cfg_read32(bus, dev, fn, off);
}

static void cfg_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
    volatile uint8_t *p = ecam_at(bus, dev, fn, off & 0xffc);
    if (p)
        *(volatile uint32_t *)p = v;
    else
        pci_cfg_write32(bus, dev, fn, off, v);
}

uint32_t pci_read32(const struct pci_dev *d, uint16_t off) { return cfg_read32(d->bus, d->dev, d->fn, off); }
uint16_t pci_read16(const struct pci_dev *d, uint16_t off) { return (uint16_t)(pci_read32(d, off & ~3) >> ((off & 2) * 8)); }
uint8_t pci_read8(const struct pci_dev *d, uint16_t off) { return (uint8_t)(pci_read32(d, off & ~3) >> ((off & 3) * 8)); }
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v) { cfg_write32(d->bus, d->dev, d->fn, off, v); }

void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
    uint32_t w = pci_read32(d, off & ~3), sh = (off & 2) * 8;
    /* Writing the status half of the command dword back would clear its
     * write-1-to-clear bits; write zeros there. */
    if ((off & ~3) == 4)
        w &= 0x0000ffff;
    w = (w & ~(0xffffu << sh)) | ((uint32_t)v << sh);
    pci_write32(d, off & ~3, w);
}

void pci_enable(const struct pci_dev *d, bool mem, bool io, bool bus_master)
{
    uint16_t cmd = pci_read16(d, 4);
    cmd |= (io ? 1 : 0) | (mem ? 2 : 0) | (bus_master ? 4 : 0);
    pci_write16(d, 4, cmd);
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id)
{
    if (!(pci_read16(d, 6) & (1u << 4))) /* status: capabilities list */
        return 0;
    uint8_t off = pci_read8(d, 0x34) & 0xfc;
    for (int guard = 0; off && guard < 48; guard++) {
        if (pci_read8(d, off) == id)
            return off;
        off = pci_read8(d, off + 1) & 0xfc;
    }
    return 0;
}

/* BAR sizing: write all ones, read back the mask (PCI 3.0, 6.2.5.1), with
 * decoding off so the probe value never decodes. */
static void size_bars(struct pci_dev *d)
{
    int nbars = (d->header_type & 0x7f) == 0 ? 6 : (d->header_type & 0x7f) == 1 ? 2 : 0;
    uint16_t cmd = pci_read16(d, 4);
    pci_write16(d, 4, cmd & ~3);
    for (int i = 0; i < nbars; i++) {
        uint16_t off = (uint16_t)(0x10 + 4 * i);
        uint32_t orig = pci_read32(d, off);
        pci_write32(d, off, 0xffffffffu);
        uint32_t mask = pci_read32(d, off);
        pci_write32(d, off, orig);
        struct pci_bar *b = &d->bar[i];
        if (!mask || mask == 0xffffffffu)
            continue;
        if (orig & 1) {
            b->io = true;
            b->base = orig & ~3u;
            b->size = (uint32_t)(~(mask & ~3u) + 1) & 0xffff;
            continue;
        }
        b->prefetch = (orig >> 3) & 1;
        uint64_t base = orig & ~0xfu, m = mask & ~0xfull;
        if (((orig >> 1) & 3) == 2 && i + 1 < nbars) {
            uint32_t hi = pci_read32(d, off + 4);
            pci_write32(d, off + 4, 0xffffffffu);
            uint32_t mhi = pci_read32(d, off + 4);
            pci_write32(d, off + 4, hi);
            base |= (uint64_t)hi << 32;
            m |= (uint64_t)mhi << 32;
            b->mem64 = true;
            b->base = base;
            b->size = ~m + 1;
            i++;
        } else {
            b->base = base;
            b->size = (uint32_t)(~(uint32_t)m + 1);
        }
    }
    pci_write16(d, 4, cmd);
}

static void scan_bus(uint8_t bus, int depth);

static void add_function(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id, int depth)
{
    if (ndevs == PCI_MAX_DEVICES)
        return;
    struct pci_dev *d = &devs[ndevs++];
    memset(d, 0, sizeof(*d));
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->vendor = (uint16_t)id;
    d->device = (uint16_t)(id >> 16);
    uint32_t cr = pci_read32(d, 8);
    d->revision = (uint8_t)cr;
    d->prog_if = (uint8_t)(cr >> 8);
    d->subclass = (uint8_t)(cr >> 16);
    d->class_code = (uint8_t)(cr >> 24);
    d->header_type = pci_read8(d, 0x0e);
    d->irq_line = pci_read8(d, 0x3c);
    d->irq_pin = pci_read8(d, 0x3d);
    size_bars(d);
    d->msi_cap = pci_find_cap(d, 0x05);
    d->msix_cap = pci_find_cap(d, 0x11);
    /* PCI-to-PCI bridge: scan its secondary bus (as the firmware numbered
     * it). */
    if ((d->header_type & 0x7f) == 1 && depth < 8) {
        uint8_t secondary = pci_read8(d, 0x19);
        if (secondary > bus)
            scan_bus(secondary, depth + 1);
    }
}

static void scan_bus(uint8_t bus, int depth)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id = cfg_read32(bus, dev, 0, 0);
        if ((uint16_t)id == 0xffff)
            continue;
        uint8_t ht = (uint8_t)(cfg_read32(bus, dev, 0, 0x0c) >> 16);
        int nfn = (ht & 0x80) ? 8 : 1;
        for (uint8_t fn = 0; fn < nfn; fn++) {
            uint32_t fid = fn ? cfg_read32(bus, dev, fn, 0) : id;
            if ((uint16_t)fid != 0xffff)
                add_function(bus, dev, fn, fid, depth);
        }
    }
}

void pci_init(void)
{
    find_ecam();
    scan_bus(0, 0);
    log_info("pci", "%d functions found (configuration access: %s)", ndevs,
             ecam ? "ECAM from the ACPI MCFG table" : "ports CF8/CFC");
    for (int i = 0; i < ndevs; i++) {
        struct pci_dev *d = &devs[i];
        char bars[96];
        size_t bl = 0;
        bars[0] = 0;
        for (int b = 0; b < 6 && bl < sizeof(bars) - 32; b++) {
            if (!d->bar[b].size)
                continue;
            bl += (size_t)fmt_snprintf(bars + bl, sizeof(bars) - bl, " BAR%d %s 0x%llx+0x%llx", b,
                                       d->bar[b].io ? "io" : "mem", (unsigned long long)d->bar[b].base,
                                       (unsigned long long)d->bar[b].size);
        }
        log_info("pci", "%02x:%02x.%u %04x:%04x class %02x%02x%02x%s", d->bus, d->dev, d->fn, d->vendor, d->device,
                 d->class_code, d->subclass, d->prog_if, bars);
    }
}

bool pci_enable_msi(const struct pci_dev *d, uint8_t vector)
{
    uint8_t c = d->msi_cap;
    if (!c)
        return false;
    uint16_t ctl = pci_read16(d, c + 2);
    /* Message address: the local APIC's fixed window with its ID in bits
     * 19:12 (SDM Vol. 3A, "Message Signalled Interrupts"); data: edge,
     * fixed delivery, the vector. */
    pci_write32(d, c + 4, 0xfee00000u | (lapic_id() << 12));
    if (ctl & (1u << 7)) { /* 64-bit address capable */
        pci_write32(d, c + 8, 0);
        pci_write16(d, c + 12, vector);
    } else {
        pci_write16(d, c + 8, vector);
    }
    pci_write16(d, c + 2, (uint16_t)((ctl & ~(7u << 4)) | 1)); /* one vector, enabled */
    pci_write16(d, 4, pci_read16(d, 4) | (1u << 10));      /* INTx disable */
    return true;
}

int pci_count(void) { return ndevs; }
struct pci_dev *pci_get(int i) { return i >= 0 && i < ndevs ? &devs[i] : NULL; }

struct pci_dev *pci_find(uint16_t vendor, uint16_t device, int index)
{
    for (int i = 0; i < ndevs; i++)
        if (devs[i].vendor == vendor && devs[i].device == device && index-- == 0)
            return &devs[i];
    return NULL;
}

volatile void *pci_map_bar(const struct pci_dev *d, int bar)
{
    if (bar < 0 || bar > 5 || d->bar[bar].io || !d->bar[bar].size || !d->bar[bar].base)
        return NULL;
    return paging_map_mmio(d->bar[bar].base, d->bar[bar].size, MAP_UC);
}
