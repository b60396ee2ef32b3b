/* The guest's PC: which device answers which port and address, how
 * interrupt lines are wired, and the chipset bits without a model of their
 * own (ACPI power management, PCI host bridge, reset and A20 ports). */
#ifndef VMM_DEV_PLATFORM_H
#define VMM_DEV_PLATFORM_H

#include <stdint.h>
#include <stdbool.h>
#include "vdev.h"
#include "uart.h"
#include "pic.h"
#include "pit.h"
#include "rtc.h"
#include "lapic.h"
#include "ioapic.h"
#include "pci.h"
#include "virtio_blk.h"
#include "virtio_net.h"

struct vm;

/* The guest's fixed port map (also described to it by the ACPI tables of
 * vmm/dev/acpi_tables.c). */
#define PORT_PM_BASE 0x600 /* PM1a_EVT 0x600, PM1a_CNT 0x604, PM_TMR 0x608 */
#define PM_SLP_TYP_S5 5
#define GUEST_SCI_IRQ 9

/* The PCI bus: the host bridge at slot 0, virtio devices from slot 3, each
 * slot's INTA# on its own I/O APIC input from 16 (level, active low, as
 * the DSDT's _PRT says); BARs in the window between low RAM and the I/O
 * APIC, where firmware would have put them. */
#define GUEST_PCI_WINDOW 0xc0000000u
#define GUEST_PCI_WINDOW_END 0xfebfffffu
#define GUEST_PCI_FIRST_SLOT 3
#define GUEST_PCI_SLOTS 2
#define GUEST_PCI_FIRST_GSI 16
#define GUEST_PCI_BAR(slot) (0xfe000000u + 0x10000u * (slot))

enum platform_request { PLAT_REQ_NONE, PLAT_REQ_POWEROFF, PLAT_REQ_RESET };

struct platform {
    struct vuart com1;
    struct vpic pic;
    struct vpit pit;
    struct vrtc rtc;
    struct vlapic lapic;
    struct vioapic ioapic;
    struct irq_out isa_irq[16];
    struct irq_out pci_intx[GUEST_PCI_SLOTS];
    struct irq_out pic_intr;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    struct vpci_bus pci;
    struct vpci_func host_bridge;
    struct vblk blk;
    bool has_blk;
    uint64_t blk_reported; /* refusals already reported */
    struct vnet net;
    bool has_net;
    uint64_t net_reported;
    uint8_t port92, port61_shadow;
    enum platform_request request;
    vtime_t next_deadline;
    uint64_t nmi_count;
};

/* cold: power-on. A reset (cold = false) keeps the battery-backed RTC and
 * CMOS RAM, as on a PC. */
void platform_init(struct vm *vm, uint64_t epoch_seconds, bool cold);
/* The guest's disk (virtio-blk in slot GUEST_PCI_FIRST_SLOT), after
 * platform_init(); bounce: VBLK_SLOTS buffers of VBLK_MAX_BYTES. */
void platform_add_disk(struct vm *vm, uint64_t sectors, bool read_only, const struct vblk_backend *backend,
                       uint8_t *const bounce[VBLK_SLOTS]);
/* The guest's NIC (virtio-net in slot GUEST_PCI_FIRST_SLOT + 1). */
void platform_add_nic(struct vm *vm, const uint8_t mac[6], const struct vnet_backend *backend);
/* Report, once each, a device the guest's driver broke. */
void platform_report_devices(struct vm *vm);
void platform_io_in(struct vm *vm, uint16_t port, unsigned size, uint32_t *val);
void platform_io_out(struct vm *vm, uint16_t port, unsigned size, uint32_t val);
/* Guest-physical accesses outside RAM. */
void platform_mmio(struct vm *vm, uint64_t gpa, unsigned size, bool write, uint64_t *val);
/* MSRs that belong to devices (local APIC). 0, or -1 for #GP. */
int platform_msr_read(struct vm *vm, uint32_t msr, uint64_t *val);
int platform_msr_write(struct vm *vm, uint32_t msr, uint64_t val);
void platform_set_tpr(struct vm *vm, uint8_t cr8);
uint8_t platform_get_tpr(struct vm *vm);
/* Advance every device to `now`; returns the next time one needs it. */
vtime_t platform_tick(struct vm *vm, vtime_t now);

#endif
