/* io: port and MMIO devices of the guest's PC (vmm/dev/platform.c):
 *  - CMOS RTC: time and date registers plausible, register D VRT set, the
 *    seconds advance; CMOS RAM byte round trip
 *  - PCI configuration mechanism #1: 00:00.0 is an Intel 440FX host bridge
 *    (8086:1237, class 06/00/00) in dword, word and byte reads; absent
 *    devices and buses read all ones; CONFIG_ADDRESS reads back
 *  - 16550 UART: scratch register round trip, loopback mode (bytes come
 *    back in RBR, MCR outputs show in MSR), LSR, IIR with FIFOs
 *  - I/O APIC by MMIO: ID 1, version 0x00170011, redirection entries masked
 *  - local APIC by MMIO: ID 0, version 0x00050014, software-enabled in
 *    virtual-wire mode (LINT0 ExtINT); IA32_APIC_BASE MSR
 *  - ACPI PM timer counts; unassigned ports read 0xff / 0xffff / all ones
 *  - string I/O: REP OUTSB of a line to the UART; REP INSB and INSW fill
 *    memory (backwards, DF = 1, is in edges.c)
 *  - MMIO by the read-modify-write and other instruction forms OSes use on
 *    APIC registers (OR, AND, ADD, XCHG, MOVZX, TEST, BT, BTS, CMP) */
#include "rt/rt.h"

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static unsigned bcd(uint8_t v, bool binary) { return binary ? v : (v >> 4) * 10 + (v & 15); }

static void rtc(void)
{
    uint8_t b = cmos(0x0b);
    bool binary = b & 0x04, h24 = b & 0x02;
    /* Wait out an update in progress (register A bit 7), as a driver does. */
    for (unsigned i = 0; i < 1000 && (cmos(0x0a) & 0x80); i++)
        ;
    unsigned s = bcd(cmos(0x00), binary), m = bcd(cmos(0x02), binary);
    uint8_t hr = cmos(0x04);
    unsigned h = bcd(hr & 0x7f, binary);
    if (!h24)
        h = h % 12 + ((hr & 0x80) ? 12 : 0);
    unsigned day = bcd(cmos(0x07), binary), mon = bcd(cmos(0x08), binary), yy = bcd(cmos(0x09), binary),
             cc = bcd(cmos(0x32), binary);
    rt_printf("io: RTC %02u%02u-%02u-%02u %02u:%02u:%02u (register B 0x%x)\n", cc, yy, mon, day, h, m, s, b);
    CHECK(s < 60 && m < 60 && h < 24, "RTC time plausible (%02u:%02u:%02u)", h, m, s);
    CHECK(day >= 1 && day <= 31 && mon >= 1 && mon <= 12 && cc >= 19 && cc <= 21 && yy < 100,
          "RTC date plausible (%02u%02u-%02u-%02u)", cc, yy, mon, day);
    uint8_t d = cmos(0x0d);
    CHECK(d & 0x80, "RTC register D: VRT set (0x%x)", d);
    CHECK((cmos(0x0a) & 0x7f) == 0x26, "RTC register A: 32.768 kHz time base, 1024 Hz rate (0x%x)",
          cmos(0x0a) & 0x7f);

    /* The seconds advance within ~1.2 s of virtual time. */
    uint64_t hz = rt_tsc_hz(), t0 = rdtsc();
    uint8_t s0 = cmos(0x00), s1 = s0;
    while (s1 == s0 && rdtsc() - t0 < hz * 12 / 10)
        s1 = cmos(0x00);
    CHECK(s1 != s0, "RTC seconds advance (0x%x -> 0x%x after %llu ms)", s0, s1,
          (unsigned long long)((rdtsc() - t0) * 1000 / hz));

    /* CMOS RAM outside the clock registers keeps what is written. */
    outb(0x70, 0x40);
    outb(0x71, 0xa7);
    CHECK(cmos(0x40) == 0xa7, "CMOS RAM byte 0x40 round trip");
}

static uint32_t pci_cfg(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
    outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
    return inl(0xcfc);
}

static void pci(void)
{
    uint32_t id = pci_cfg(0, 0, 0, 0), cls = pci_cfg(0, 0, 0, 8);
    rt_printf("io: PCI 00:00.0: id 0x%08x class/rev 0x%08x\n", id, cls);
    CHECK(id == 0x12378086, "PCI 00:00.0 is 8086:1237 (0x%08x)", id);
    CHECK((cls >> 8) == 0x060000, "PCI 00:00.0 class 06/00/00 host bridge (0x%08x)", cls);
    CHECK(inl(0xcf8) == 0x80000008u, "CONFIG_ADDRESS reads back (0x%08x)", inl(0xcf8));
    outl(0xcf8, 0x80000000u);
    uint16_t dev = inw(0xcfe), ven = inw(0xcfc);
    uint8_t b2 = inb(0xcfe);
    CHECK(ven == 0x8086 && dev == 0x1237 && b2 == 0x37, "word and byte reads of the ID (0x%x 0x%x 0x%x)", ven, dev,
          b2);
    uint32_t absent = pci_cfg(0, 1, 0, 0), absent2 = pci_cfg(0, 31, 0, 0), bus1 = pci_cfg(1, 0, 0, 0),
             fn1 = pci_cfg(0, 0, 1, 0);
    CHECK(absent == 0xffffffffu && absent2 == 0xffffffffu, "absent devices 00:01.0, 00:1f.0 read 0xffffffff");
    CHECK(bus1 == 0xffffffffu && fn1 == 0xffffffffu, "bus 1 and function 00:00.1 read 0xffffffff");
    outl(0xcf8, 0);
    CHECK(inl(0xcfc) == 0xffffffffu, "data port with the enable bit clear reads 0xffffffff");
}

static void uart(void)
{
    const uint16_t u = COM1;
    outb(u + 7, 0x5a);
    uint8_t a = inb(u + 7);
    outb(u + 7, 0xa5);
    uint8_t b = inb(u + 7);
    CHECK(a == 0x5a && b == 0xa5, "UART scratch register round trip (0x%x 0x%x)", a, b);
    uint8_t lsr = inb(u + 5);
    CHECK((lsr & 0x60) == 0x60, "UART LSR: THRE and TEMT (0x%x)", lsr);
    CHECK((inb(u + 2) & 0xc0) == 0xc0, "UART IIR: FIFOs enabled");
    CHECK(inb(u + 3) == 0x03, "UART LCR reads back 8N1");

    /* Loopback: console output would loop back too, so print only after
     * it is off again. */
    uint8_t mcr = inb(u + 4);
    outb(u + 4, 0x1f); /* loopback, DTR, RTS, OUT1, OUT2 */
    uint8_t msr = inb(u + 6);
    while (inb(u + 5) & 1)
        inb(u); /* drain */
    const char *msg = "Loop";
    for (unsigned i = 0; i < 4; i++)
        outb(u, (uint8_t)msg[i]);
    char got[5] = { 0 };
    unsigned n = 0;
    while (n < 4 && (inb(u + 5) & 1))
        got[n++] = (char)inb(u);
    bool empty = !(inb(u + 5) & 1);
    outb(u + 4, 0x03); /* loopback off: DTR, RTS */
    CHECK((msr & 0xf0) == 0xf0, "loopback: MCR outputs appear in MSR (0x%x)", msr);
    CHECK(n == 4 && memcmp(got, msg, 4) == 0, "loopback: 4 bytes written to THR came back in RBR (\"%s\")", got);
    CHECK(empty, "loopback: receiver empty afterwards");
    msr = inb(u + 6);
    CHECK((msr & 0xb0) == 0xb0, "modem lines DCD, DSR, CTS asserted outside loopback (MSR 0x%x)", msr);
    outb(u + 4, mcr);
}

static uint32_t ioapic(uint32_t reg)
{
    mmio_write32(0xfec00000, reg);
    return mmio_read32(0xfec00010);
}

static void apics(void)
{
    uint32_t id = ioapic(0), ver = ioapic(1), re0 = ioapic(0x10), re2 = ioapic(0x14);
    rt_printf("io: I/O APIC: id 0x%08x version 0x%08x\n", id, ver);
    CHECK(ver == 0x00170011, "I/O APIC version register 0x00170011 (0x%08x)", ver);
    CHECK(((id >> 24) & 0xf) == 1, "I/O APIC ID 1 (0x%08x)", id);
    CHECK((re0 & 0x10000) && (re2 & 0x10000), "I/O APIC redirection entries start masked");
    mmio_write32(0xfec00000, 0x12);
    mmio_write32(0xfec00010, 0x00010031);
    CHECK(ioapic(0x12) == 0x00010031, "I/O APIC redirection entry 1 round trip");
    mmio_write32(0xfec00000, 0x12);
    mmio_write32(0xfec00010, 0x00010000);

    uint32_t lid = lapic_read(LAPIC_ID), lver = lapic_read(LAPIC_VER), svr = lapic_read(LAPIC_SVR),
             lint0 = lapic_read(LAPIC_LVT_LINT0), lint1 = lapic_read(LAPIC_LVT_LINT1);
    rt_printf("io: local APIC: id 0x%08x version 0x%08x SVR 0x%x LINT0 0x%x LINT1 0x%x\n", lid, lver, svr, lint0,
              lint1);
    CHECK(lid == 0, "local APIC ID 0");
    CHECK(lver == 0x00050014, "local APIC version 0x00050014 (0x%08x)", lver);
    CHECK(svr & 0x100, "local APIC software-enabled (SVR 0x%x)", svr);
    CHECK((lint0 & 0x10700) == 0x700, "LINT0 unmasked ExtINT: virtual-wire mode (0x%x)", lint0);
    CHECK((lint1 & 0x700) == 0x400, "LINT1 NMI (0x%x)", lint1);
    lapic_write(LAPIC_TPR, 0x20);
    CHECK(lapic_read(LAPIC_TPR) == 0x20, "TPR round trip");
    lapic_write(LAPIC_TPR, 0);
    uint64_t base = rdmsr(0x1b);
    CHECK((base & ~0xfffull) == 0xfee00000 && (base & 0x900) == 0x900, "IA32_APIC_BASE 0x%llx: BSP, enabled",
          (unsigned long long)base);
}

static void misc_ports(void)
{
    uint32_t p0 = inl(0x608) & 0xffffff;
    rt_delay_us(1000);
    uint32_t p1 = inl(0x608) & 0xffffff, d = (p1 - p0) & 0xffffff;
    CHECK(d >= 3000 && d <= 4500, "ACPI PM timer advanced %u ticks in 1 ms (3580 expected)", d);

    static const uint16_t ports[] = { 0x2f8, 0x378, 0x3e8, 0x1f0, 0x170, 0x3f0, 0x240, 0xe0 };
    unsigned bad = 0;
    for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        uint8_t v = inb(ports[i]);
        if (v != 0xff) {
            rt_printf("io: port 0x%x read 0x%x\n", ports[i], v);
            bad++;
        }
    }
    CHECK(bad == 0, "8 unassigned ports read 0xff");
    uint16_t w = inw(0x2f8);
    uint32_t l = inl(0x378);
    CHECK(w == 0xffff && l == 0xffffffffu, "word and dword reads of unassigned ports are all ones (0x%x 0x%x)", w, l);
    outb(0x2f8, 0x12); /* dropped */
    CHECK(inb(0x2f8) == 0xff, "a write to an unassigned port is dropped");
}

static void string_io(void)
{
    static const char fwd[] = "io: REP OUTSB forwards\n";
    const char *p = fwd;
    uint64_t n = sizeof(fwd) - 1;
    __asm__ volatile("cld; rep outsb" : "+S"(p), "+c"(n) : "d"((uint16_t)COM1) : "memory");
    CHECK(n == 0 && p == fwd + sizeof(fwd) - 1, "REP OUTSB: RCX 0, RSI advanced by %u", (unsigned)(sizeof(fwd) - 1));
    static uint8_t in8[16];
    static uint16_t in16[4];
    memset(in8, 0, sizeof(in8));
    uint8_t *d = in8;
    n = sizeof(in8);
    __asm__ volatile("cld; rep insb" : "+D"(d), "+c"(n) : "d"((uint16_t)0x2f8) : "memory");
    unsigned ff = 0;
    for (unsigned i = 0; i < sizeof(in8); i++)
        ff += in8[i] == 0xff;
    CHECK(n == 0 && d == in8 + 16 && ff == 16, "REP INSB of 16 bytes from an unassigned port: all 0xff (%u)", ff);
    outl(0xcf8, 0x80000000u);
    uint16_t *w = in16;
    n = 2;
    __asm__ volatile("cld; rep insw" : "+D"(w), "+c"(n) : "d"((uint16_t)0xcfc) : "memory");
    CHECK(in16[0] == 0x8086 && w == in16 + 2, "REP INSW from PCI config data: vendor 0x%x", in16[0]);
}

static void mmio_forms(void)
{
    volatile uint32_t *tpr = (volatile uint32_t *)(uintptr_t)(LAPIC_BASE + LAPIC_TPR);
    *tpr = 0;
    __asm__ volatile("orl $0x30, %0" : "+m"(*tpr));
    CHECK(lapic_read(LAPIC_TPR) == 0x30, "OR on the TPR by MMIO (0x%x)", lapic_read(LAPIC_TPR));
    __asm__ volatile("andl $0x20, %0" : "+m"(*tpr));
    CHECK(lapic_read(LAPIC_TPR) == 0x20, "AND on the TPR by MMIO (0x%x)", lapic_read(LAPIC_TPR));
    __asm__ volatile("addl $0x10, %0" : "+m"(*tpr));
    CHECK(lapic_read(LAPIC_TPR) == 0x30, "ADD on the TPR by MMIO (0x%x)", lapic_read(LAPIC_TPR));
    uint32_t x = 0x40;
    __asm__ volatile("xchgl %0, %1" : "+r"(x), "+m"(*tpr));
    CHECK(x == 0x30 && lapic_read(LAPIC_TPR) == 0x40, "XCHG with the TPR by MMIO (old 0x%x)", x);
    uint32_t z;
    __asm__ volatile("movzbl %1, %0" : "=r"(z) : "m"(*(volatile uint8_t *)tpr));
    (void)z; /* a 1-byte APIC access: undefined on hardware; only must not hurt */
    uint8_t zf;
    __asm__ volatile("testl $0x40, %1; setnz %0" : "=q"(zf) : "m"(*tpr) : "cc");
    CHECK(zf == 1, "TEST on the TPR by MMIO");
    uint8_t cf;
    __asm__ volatile("btl $6, %1; setc %0" : "=q"(cf) : "m"(*tpr) : "cc");
    CHECK(cf == 1, "BT on the TPR by MMIO");
    __asm__ volatile("btsl $4, %0" : "+m"(*tpr) : : "cc");
    CHECK(lapic_read(LAPIC_TPR) == 0x50, "BTS on the TPR by MMIO (0x%x)", lapic_read(LAPIC_TPR));
    uint8_t eq;
    __asm__ volatile("cmpl $0x50, %1; sete %0" : "=q"(eq) : "m"(*tpr) : "cc");
    CHECK(eq == 1, "CMP with the TPR by MMIO");
    *tpr = 0;
    /* I/O APIC: index by a byte store, as some OSes do. */
    __asm__ volatile("movl $1, %0" : "=m"(*(volatile uint32_t *)(uintptr_t)0xfec00000));
    uint32_t ver = mmio_read32(0xfec00010);
    CHECK(ver == 0x00170011, "I/O APIC version via an immediate store to IOREGSEL (0x%x)", ver);
}

int guest_main(void)
{
    rtc();
    pci();
    uart();
    apics();
    misc_ports();
    string_io();
    mmio_forms();
    return rt_result("io");
}
