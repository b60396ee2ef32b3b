#include "pci_cfg.h"
#include "cpu.h"

static void select(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    outl(0xcf8, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)(dev & 31) << 11 | (uint32_t)(fn & 7) << 8 |
                    (off & 0xfc));
}

uint32_t pci_cfg_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    uint64_t f = irq_save();
    select(bus, dev, fn, off);
    uint32_t v = inl(0xcfc);
    irq_restore(f);
    return v;
}

uint16_t pci_cfg_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return (uint16_t)(pci_cfg_read32(bus, dev, fn, off) >> ((off & 2) * 8));
}

uint8_t pci_cfg_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return (uint8_t)(pci_cfg_read32(bus, dev, fn, off) >> ((off & 3) * 8));
}

void pci_cfg_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
    uint64_t f = irq_save();
    select(bus, dev, fn, off);
    outl(0xcfc, v);
    irq_restore(f);
}

void pci_cfg_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint16_t v)
{
    uint64_t f = irq_save();
    select(bus, dev, fn, off);
    outw((uint16_t)(0xcfc + (off & 2)), v);
    irq_restore(f);
}

void pci_cfg_write8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint8_t v)
{
    uint64_t f = irq_save();
    select(bus, dev, fn, off);
    outb((uint16_t)(0xcfc + (off & 3)), v);
    irq_restore(f);
}
