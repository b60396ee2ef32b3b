/* The host's PCI bus: configuration space through ECAM (from the ACPI
 * MCFG table) or the legacy CF8/CFC ports, a scan of every bus behind the
 * host bridges, and BAR sizing. */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H

#include <stdint.h>
#include <stdbool.h>

#define PCI_MAX_DEVICES 64

struct pci_bar {
    uint64_t base, size;
    bool io, mem64, prefetch;
};

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type;
    uint8_t irq_line, irq_pin;
    uint8_t msi_cap, msix_cap; /* capability offsets, 0 = none */
    struct pci_bar bar[6];
    bool claimed; /* a driver owns it */
};

void pci_init(void);
int pci_count(void);
struct pci_dev *pci_get(int i);
/* The index-th device with vendor:device, or NULL. */
struct pci_dev *pci_find(uint16_t vendor, uint16_t device, int index);

uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
uint8_t pci_read8(const struct pci_dev *d, uint16_t off);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
/* Enable memory and/or I/O decoding and bus mastering (DMA). */
void pci_enable(const struct pci_dev *d, bool mem, bool io, bool bus_master);
/* Map a memory BAR uncached; returns its virtual address or NULL. */
volatile void *pci_map_bar(const struct pci_dev *d, int bar);
/* Route the device's interrupt as an MSI to this CPU's local APIC at
 * vector (PCI 3.0, 6.8.1), disabling its INTx line. The handler only needs
 * to exist: a device interrupt wakes the main loop from HLT. Returns false
 * when the device has no MSI capability. */
bool pci_enable_msi(const struct pci_dev *d, uint8_t vector);
/* Walk the capability list: offset of capability id, or 0. */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id);

#endif
