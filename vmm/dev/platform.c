/* Wiring of the guest's PC (platform.h). Interrupts: ISA IRQ n goes to
 * 8259 input n and I/O APIC pin n (IRQ0 to pin 2, the override every PC
 * has); the 8259's INTR drives LAPIC LINT0; the I/O APIC delivers to the
 * LAPIC, whose level-triggered EOIs return to the I/O APIC. */
#include "platform.h"
#include "../vm.h"
#include "../guest_mem.h"
#include "../../kernel/log.h"
#include <string.h>


static void route_isa(void *ctx, unsigned irq, int level)
{
    struct platform *p = ctx;
    if (irq >= 16)
        return;
    vpic_set_irq(&p->pic, irq, level);
    vioapic_set_irq(&p->ioapic, irq == 0 ? 2 : irq, level);
}

/* PCI INTx# wires are active-low (PCI 3.0, 2.2.6): an asserted line is a
 * low I/O APIC input, which the _PRT's active-low polarity turns back. */
static void route_pci(void *ctx, unsigned gsi, int asserted)
{
    struct platform *p = ctx;
    vioapic_set_irq(&p->ioapic, gsi, !asserted);
}

static void pic_intr(void *ctx, unsigned irq, int level)
{
    struct platform *p = ctx;
    (void)irq;
    vlapic_set_lint(&p->lapic, 0, level);
}

static void ioapic_deliver(void *ctx, uint8_t vector, bool level)
{
    struct platform *p = ctx;
    vlapic_set_irq(&p->lapic, vector, level);
}

static void lapic_eoi(void *ctx, uint8_t vector)
{
    struct vm *vm = ctx;
    vioapic_eoi(&vm->plat.ioapic, vector);
}

static void lapic_nmi(void *ctx)
{
    /* An NMI IPI to self or LINT1 in NMI mode: to the vCPU. */
    struct vm *vm = ctx;
    vm->plat.nmi_count++;
    vm->vcpu.nmi_pending = true;
}

static void uart_tx(void *ctx, uint8_t byte) { vm_console_out(ctx, byte); }

void platform_init(struct vm *vm, uint64_t epoch_seconds, bool cold)
{
    struct platform *p = &vm->plat;
    for (unsigned i = 0; i < 16; i++)
        p->isa_irq[i] = (struct irq_out){ route_isa, p, i };
    p->pic_intr = (struct irq_out){ pic_intr, p, 0 };
    vpic_init(&p->pic, &p->pic_intr);
    vpit_init(&p->pit, &p->isa_irq[0]);
    if (cold)
        vrtc_init(&p->rtc, &p->isa_irq[8], epoch_seconds);
    vuart_init(&p->com1, &p->isa_irq[4], uart_tx, vm);
    struct vlapic_cb cb = { lapic_eoi, lapic_nmi, vm };
    /* The APIC timer runs at the TSC's crystal rate (CPUID leaf 0x15). */
    vlapic_init(&p->lapic, vm->tsc_hz, vm->tsc_hz, &cb);
    /* No firmware runs before the guest: leave the APIC as a PC BIOS
     * does, in virtual-wire mode. */
    vlapic_virtual_wire(&p->lapic);
    vioapic_init(&p->ioapic, ioapic_deliver, p);
    /* I/O APIC ID 1 (the MADT says so; the LAPIC has ID 0). */
    vioapic_mmio_write(&p->ioapic, VIOAPIC_IOREGSEL, VIOAPIC_REG_ID);
    vioapic_mmio_write(&p->ioapic, VIOAPIC_IOWIN, 1u << 24);
    p->pm1_sts = p->pm1_en = 0;
    p->pm1_cnt = 1; /* SCI_EN: ACPI mode from the start (no SMI_CMD) */
    for (unsigned i = 0; i < GUEST_PCI_SLOTS; i++) {
        p->pci_intx[i] = (struct irq_out){ route_pci, p, GUEST_PCI_FIRST_GSI + i };
        irq_out_set(&p->pci_intx[i], 0); /* the wire idles high */
    }
    vpci_init(&p->pci);
    /* 00:00.0: an Intel 440FX host bridge, memory and bus master on. */
    vpci_func_init(&p->host_bridge, 0x8086, 0x1237, 0x060000, 2, 0, 0);
    p->host_bridge.cfg[PCI_COMMAND] = PCI_CMD_MEM | PCI_CMD_MASTER;
    memset(p->host_bridge.wmask, 0, sizeof(p->host_bridge.wmask));
    vpci_attach(&p->pci, 0, &p->host_bridge);
    p->has_blk = false;
    p->blk_reported = 0;
    p->has_net = false;
    p->net_reported = 0;
    p->port92 = 0;
    p->request = PLAT_REQ_NONE;
}

static int vm_mem_read(void *ctx, uint64_t gpa, void *dst, size_t n) { return guest_read(&((struct vm *)ctx)->mem, gpa, dst, n); }
static int vm_mem_write(void *ctx, uint64_t gpa, const void *src, size_t n)
{
    return guest_write(&((struct vm *)ctx)->mem, gpa, src, n);
}

void platform_add_disk(struct vm *vm, uint64_t sectors, bool read_only, const struct vblk_backend *backend,
                       uint8_t *const bounce[VBLK_SLOTS])
{
    struct platform *p = &vm->plat;
    struct vmem m = { vm_mem_read, vm_mem_write, vm };
    unsigned slot = GUEST_PCI_FIRST_SLOT;
    vblk_init(&p->blk, sectors, read_only, "ftvisor-disk", GUEST_PCI_BAR(slot), GUEST_PCI_FIRST_GSI, &p->pci_intx[0],
              &m, backend, bounce);
    vpci_attach(&p->pci, slot, &p->blk.dev.pci);
    p->has_blk = true;
}

void platform_add_nic(struct vm *vm, const uint8_t mac[6], const struct vnet_backend *backend)
{
    struct platform *p = &vm->plat;
    struct vmem m = { vm_mem_read, vm_mem_write, vm };
    unsigned slot = GUEST_PCI_FIRST_SLOT + 1;
    vnet_init(&p->net, mac, GUEST_PCI_BAR(slot), GUEST_PCI_FIRST_GSI + 1, &p->pci_intx[1], &m, backend);
    vpci_attach(&p->pci, slot, &p->net.dev.pci);
    p->has_net = true;
}

/* A device that refused what the guest's driver did (a bad ring): say so
 * once per refusal, with the reason. */
void platform_report_devices(struct vm *vm)
{
    struct platform *p = &vm->plat;
    if (p->has_blk && p->blk.dev.broken && p->blk.dev.refused != p->blk_reported) {
        p->blk_reported = p->blk.dev.refused;
        vm_report_once(vm, REPORT_DEVICE, p->blk_reported,
                       "the guest's virtio-blk driver: %s; the device stops until the driver resets it",
                       p->blk.dev.broken);
    }
    if (p->has_net && p->net.dev.broken && p->net.dev.refused != p->net_reported) {
        p->net_reported = p->net.dev.refused;
        vm_report_once(vm, REPORT_DEVICE, p->net_reported | 1ull << 40,
                       "the guest's virtio-net driver: %s; the device stops until the driver resets it",
                       p->net.dev.broken);
    }
}

/* ---- ports -------------------------------------------------------------- */

static uint32_t pm_timer(struct vm *vm)
{
    /* A function of virtual time, like every guest-visible clock. */
    return (uint32_t)(vtime_to_ticks(vm_now(vm), 3579545u) & 0xffffff);
}

static uint8_t in8(struct vm *vm, uint16_t port)
{
    struct platform *p = &vm->plat;
    vtime_t now;
    switch (port) {
    case 0x20: case 0x21: case 0xa0: case 0xa1: case 0x4d0: case 0x4d1:
        return vpic_read(&p->pic, port);
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x61:
        now = vm_now(vm);
        return vpit_read(&p->pit, port, now);
    case 0x70: case 0x71:
        now = vm_now(vm);
        return vrtc_read(&p->rtc, port, now);
    case 0x92:
        return p->port92 | 2; /* A20 always enabled */
    case 0x60:
        return 0;
    case 0x64:
        return 0; /* i8042: no data, input buffer empty */
    case 0x80:
        return 0;
    default:
        if (port >= 0x3f8 && port <= 0x3ff)
            return vuart_read(&p->com1, port - 0x3f8);
        if (port >= PORT_PM_BASE && port < PORT_PM_BASE + 0x10) {
            unsigned off = port - PORT_PM_BASE;
            if (off < 2)
                return (uint8_t)(p->pm1_sts >> (8 * off));
            if (off < 4)
                return (uint8_t)(p->pm1_en >> (8 * (off - 2)));
            if (off < 6)
                return (uint8_t)(p->pm1_cnt >> (8 * (off - 4)));
            if (off >= 8 && off < 12)
                return (uint8_t)(pm_timer(vm) >> (8 * (off - 8)));
            return 0;
        }
        vm_report_once(vm, REPORT_PORT_IN, port, "guest read unassigned I/O port 0x%x: reads as 0xff", port);
        return 0xff;
    }
}

static void out8(struct vm *vm, uint16_t port, uint8_t v)
{
    struct platform *p = &vm->plat;
    switch (port) {
    case 0x20: case 0x21: case 0xa0: case 0xa1: case 0x4d0: case 0x4d1:
        vpic_write(&p->pic, port, v);
        return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x61:
        vpit_write(&p->pit, port, v, vm_now(vm));
        return;
    case 0x70: case 0x71:
        vrtc_write(&p->rtc, port, v, vm_now(vm));
        return;
    case 0x80: case 0xed:
        return; /* POST codes and I/O delays */
    case 0x92:
        /* Bit 0: fast reset (PS/2 system control port A). */
        if (v & 1)
            p->request = PLAT_REQ_RESET;
        p->port92 = v & ~1;
        return;
    case 0x64:
        if (v == 0xfe)
            p->request = PLAT_REQ_RESET; /* i8042 "pulse reset line" */
        return;
    case 0x60:
        return;
    case 0xcf9:
        /* Reset control register (ICH): RST_CPU (bit 2) performs the reset
         * selected by SYS_RST (bit 1); either way the guest restarts. */
        if (v & 4)
            p->request = PLAT_REQ_RESET;
        return;
    default:
        break;
    }
    if (port >= 0x3f8 && port <= 0x3ff) {
        vuart_write(&p->com1, port - 0x3f8, v);
        return;
    }
    if (port == 0xcfb)
        return; /* Linux's type-1 probe writes here; nothing to do */
    if (port >= PORT_PM_BASE && port < PORT_PM_BASE + 0x10) {
        unsigned off = port - PORT_PM_BASE;
        if (off < 2)
            p->pm1_sts &= (uint16_t)~((uint16_t)v << (8 * off)); /* write 1 to clear */
        else if (off < 4)
            p->pm1_en = (uint16_t)((p->pm1_en & ~(0xff << (8 * (off - 2)))) | (v << (8 * (off - 2))));
        else if (off < 6) {
            uint16_t c = (uint16_t)((p->pm1_cnt & ~(0xff << (8 * (off - 4)))) | (v << (8 * (off - 4))));
            /* SLP_EN (bit 13) with SLP_TYP (bits 12:10) = the DSDT's \_S5
             * value powers off (ACPI 6.5, 4.8.3.2.1). */
            if ((c & (1u << 13)) && ((c >> 10) & 7) == PM_SLP_TYP_S5)
                p->request = PLAT_REQ_POWEROFF;
            p->pm1_cnt = (c & ~(1u << 13)) | 1;
        }
        return;
    }
    vm_report_once(vm, REPORT_PORT_OUT, port, "guest wrote 0x%x to unassigned I/O port 0x%x: dropped", v, port);
}

void platform_io_in(struct vm *vm, uint16_t port, unsigned size, uint32_t *val)
{
    if ((port == 0xcf8 && size == 4) || (port >= 0xcfc && port + size <= 0xd00)) {
        vpci_port_in(&vm->plat.pci, port, size, val);
        return;
    }
    if (size == 4 && port == PORT_PM_BASE + 8) {
        *val = pm_timer(vm);
        return;
    }
    /* Wider accesses elsewhere are byte accesses to consecutive ports, as
     * the ISA bus splits them. */
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)in8(vm, (uint16_t)(port + i)) << (8 * i);
    *val = v;
}

void platform_io_out(struct vm *vm, uint16_t port, unsigned size, uint32_t val)
{
    if ((port == 0xcf8 && size == 4) || (port >= 0xcfc && port + size <= 0xd00)) {
        vpci_port_out(&vm->plat.pci, port, size, val);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        out8(vm, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)));
}

/* ---- memory-mapped devices ---------------------------------------------- */

void platform_mmio(struct vm *vm, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
    struct platform *p = &vm->plat;
    if (gpa >= GUEST_LAPIC_BASE && gpa < GUEST_LAPIC_BASE + VLAPIC_MMIO_SIZE) {
        uint32_t off = (uint32_t)(gpa - GUEST_LAPIC_BASE);
        if (size != 4 || (off & 3)) {
            vlapic_mmio_bad_access(&p->lapic);
            if (!write)
                *val = 0;
            return;
        }
        if (write)
            vlapic_mmio_write(&p->lapic, off, (uint32_t)*val, vm_now(vm));
        else
            *val = vlapic_mmio_read(&p->lapic, off, vm_now(vm));
        return;
    }
    if (gpa >= GUEST_IOAPIC_BASE && gpa < GUEST_IOAPIC_BASE + VIOAPIC_MMIO_SIZE) {
        uint32_t off = (uint32_t)(gpa - GUEST_IOAPIC_BASE);
        if (size != 4 || (off & 3)) {
            vioapic_mmio_bad_access(&p->ioapic);
            if (!write)
                *val = 0;
            return;
        }
        if (write)
            vioapic_mmio_write(&p->ioapic, off, (uint32_t)*val);
        else
            *val = vioapic_mmio_read(&p->ioapic, off);
        return;
    }
    if (vpci_mmio(&p->pci, gpa, size, write, val)) {
        platform_report_devices(vm);
        return;
    }
    /* Nothing decodes this address: an unclaimed bus cycle reads all ones
     * and a write goes nowhere. Reported once per 4 KiB page. */
    vm_report_once(vm, write ? REPORT_MEM_WRITE : REPORT_MEM_READ, gpa >> 12,
                   "guest %s guest-physical 0x%llx, where nothing is mapped: %s", write ? "wrote" : "read",
                   (unsigned long long)gpa, write ? "write dropped" : "reads all ones");
    if (!write)
        *val = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* ---- MSRs and CR8 --------------------------------------------------------- */

int platform_msr_read(struct vm *vm, uint32_t msr, uint64_t *val)
{
    struct platform *p = &vm->plat;
    if (msr == VLAPIC_MSR_APIC_BASE) {
        *val = vlapic_base_read(&p->lapic);
        return 0;
    }
    if (msr == VLAPIC_MSR_TSC_DEADLINE) {
        *val = vlapic_tsc_deadline_read(&p->lapic, vm_now(vm));
        return 0;
    }
    if (msr >= 0x800 && msr <= 0x8ff)
        return vlapic_msr_read(&p->lapic, msr, val, vm_now(vm)) < 0 ? -1 : 0;
    return -1;
}

int platform_msr_write(struct vm *vm, uint32_t msr, uint64_t val)
{
    struct platform *p = &vm->plat;
    if (msr == VLAPIC_MSR_APIC_BASE) {
        int r = vlapic_base_write(&p->lapic, val, vm_now(vm));
        if (r == VLAPIC_GP_RELOCATE)
            vm_report_once(vm, REPORT_APIC_MOVE, 0, "guest tried to move its local APIC to 0x%llx: #GP",
                           (unsigned long long)(val & ~0xfffull));
        return r < 0 ? -1 : 0;
    }
    if (msr == VLAPIC_MSR_TSC_DEADLINE) {
        vlapic_tsc_deadline_write(&p->lapic, val, vm_now(vm));
        return 0;
    }
    if (msr >= 0x800 && msr <= 0x8ff)
        return vlapic_msr_write(&p->lapic, msr, val, vm_now(vm)) < 0 ? -1 : 0;
    return -1;
}

void platform_set_tpr(struct vm *vm, uint8_t cr8) { vlapic_cr8_write(&vm->plat.lapic, cr8); }
uint8_t platform_get_tpr(struct vm *vm) { return vlapic_cr8_read(&vm->plat.lapic); }

/* ---- time ------------------------------------------------------------------- */

static vtime_t min3(vtime_t a, vtime_t b, vtime_t c)
{
    vtime_t m = a < b ? a : b;
    return m < c ? m : c;
}

vtime_t platform_tick(struct vm *vm, vtime_t now)
{
    struct platform *p = &vm->plat;
    vtime_t a = vpit_tick(&p->pit, now);
    vtime_t b = vrtc_tick(&p->rtc, now);
    vtime_t c = vlapic_tick(&p->lapic, now);
    p->next_deadline = min3(a, b, c);
    return p->next_deadline;
}

int vm_pending_interrupt(struct vm *vm)
{
    struct platform *p = &vm->plat;
    if (vlapic_extint_pending(&p->lapic)) {
        int v = vpic_pending_vector(&p->pic);
        if (v >= 0)
            return v;
    }
    return vlapic_pending_vector(&p->lapic);
}

int vm_ack_interrupt(struct vm *vm)
{
    struct platform *p = &vm->plat;
    /* ExtINT bypasses the local APIC's IRR/ISR (SDM Vol. 3A, 10.5.1). */
    if (vlapic_extint_pending(&p->lapic) && vpic_pending_vector(&p->pic) >= 0)
        return vpic_ack(&p->pic);
    int v = vlapic_pending_vector(&p->lapic);
    if (v >= 0)
        vlapic_ack(&p->lapic, (uint8_t)v);
    return v;
}

bool vm_interrupt_wakes(struct vm *vm) { return vm->vcpu.nmi_pending || vm_pending_interrupt(vm) >= 0; }
