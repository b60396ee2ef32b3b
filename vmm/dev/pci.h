/* The guest's PCI bus: configuration mechanism #1 (ports 0xCF8/0xCFC), bus
 * 0 only, type-0 headers, 32-bit memory BARs.
 *
 * A function is 256 bytes of configuration space with a mask of the bits
 * the guest may write; the bus does the generic parts (BAR sizing and
 * decoding, command register, interrupt line) and routes memory accesses
 * that hit an enabled BAR to the function's handler. Device models fill
 * in their identity and capabilities with the helpers below. Pure, like
 * every model (vdev.h): no allocation, no host access. */
#ifndef VMM_DEV_PCI_H
#define VMM_DEV_PCI_H

#include "vdev.h"

#define VPCI_SLOTS 32

/* Configuration registers (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR 0x00
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REV 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS 0x2c
#define PCI_CAP_PTR 0x34
#define PCI_INT_LINE 0x3c
#define PCI_INT_PIN 0x3d
#define PCI_CMD_IO 1
#define PCI_CMD_MEM 2
#define PCI_CMD_MASTER 4
#define PCI_CMD_INTX_OFF 0x400
#define PCI_STATUS_INTX 0x08
#define PCI_STATUS_CAPS 0x10

struct vpci_func;
/* An access of size 1, 2, 4 or 8 bytes at offset off of BAR bar. */
typedef void (*vpci_bar_fn)(void *ctx, unsigned bar, uint64_t off, unsigned size, bool write, uint64_t *val);

struct vpci_func {
    uint8_t cfg[256];
    uint8_t wmask[256];   /* bits the guest may change */
    uint32_t bar_size[6]; /* memory BAR sizes (powers of two, >= 16), 0: none */
    vpci_bar_fn bar_access;
    void *ctx;
};

struct vpci_bus {
    uint32_t addr; /* the CONFIG_ADDRESS register (0xCF8) */
    struct vpci_func *slot[VPCI_SLOTS];
};

void vpci_init(struct vpci_bus *b);
/* Set up a function: identity, class (24 bits: class, subclass, prog-if),
 * revision; no BARs or capabilities yet. */
void vpci_func_init(struct vpci_func *f, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t rev,
                    uint16_t subsys_vendor, uint16_t subsys_id);
/* A 32-bit memory BAR of size bytes, placed at addr (what firmware would
 * have assigned; the guest may move it). */
void vpci_func_bar(struct vpci_func *f, unsigned bar, uint32_t size, uint32_t addr);
/* INTA# wired to ISA IRQ irq (the interrupt line register says so). */
void vpci_func_intx(struct vpci_func *f, uint8_t irq);
/* Append a capability of len bytes (id, next pointer included) at offset
 * at; returns the offset of its body (at + 2). Capabilities are chained
 * in the order added. */
unsigned vpci_func_cap(struct vpci_func *f, unsigned at, uint8_t id, const uint8_t *body, unsigned body_len);
void vpci_attach(struct vpci_bus *b, unsigned slot, struct vpci_func *f);

/* Ports 0xCF8-0xCFF: size 1, 2 or 4 at that port. */
bool vpci_port_in(struct vpci_bus *b, uint16_t port, unsigned size, uint32_t *val);
bool vpci_port_out(struct vpci_bus *b, uint16_t port, unsigned size, uint32_t val);
/* A guest-physical access: true when an enabled BAR took it. */
bool vpci_mmio(struct vpci_bus *b, uint64_t gpa, unsigned size, bool write, uint64_t *val);
/* Where BAR bar of a function decodes now (0: disabled or unassigned). */
uint32_t vpci_bar_addr(const struct vpci_func *f, unsigned bar);
/* The function's INTx status bit (Status bit 3), set by its model. */
void vpci_set_intx_status(struct vpci_func *f, bool asserted);

#endif
