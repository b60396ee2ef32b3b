/* PCI configuration space through the legacy CF8/CFC mechanism (PCI Local
 * Bus 3.0, 3.2.2.3.2), which every x86 PC chipset decodes. The kernel
 * needs it for chipset power management; drivers/pci.c builds the bus scan
 * (and ECAM) on top. */
#ifndef KERNEL_PCI_CFG_H
#define KERNEL_PCI_CFG_H

#include <stdint.h>

uint32_t pci_cfg_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
uint16_t pci_cfg_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
uint8_t pci_cfg_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
void pci_cfg_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v);
void pci_cfg_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint16_t v);
void pci_cfg_write8(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint8_t v);

#endif
