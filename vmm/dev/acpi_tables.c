/* ACPI tables for the guest (ACPI 6.5 specification, chapter 5), enough for
 * a stock Linux to find its interrupt controllers and to power off:
 *   RSDP -> RSDT/XSDT -> FADT (-> FACS, DSDT with \_S5), MADT.
 * The FADT describes the PM1 and PM-timer registers that vmm/dev/platform.c
 * emulates at PORT_PM_BASE; the MADT one local APIC, one I/O APIC and the
 * PC's interrupt source overrides. */
#include "acpi_tables.h"
#include "platform.h"
#include <string.h>

/* Offsets of each table inside the area. */
#define OFF_RSDP 0x000
#define OFF_RSDT 0x040
#define OFF_XSDT 0x080
#define OFF_FADT 0x100
#define OFF_FACS 0x240 /* 64-byte aligned */
#define OFF_MADT 0x400
#define OFF_DSDT 0x800 /* up to the end of the area */

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void checksum(uint8_t *p, size_t len, size_t at)
{
    uint8_t s = 0;
    p[at] = 0;
    for (size_t i = 0; i < len; i++)
        s += p[i];
    p[at] = (uint8_t)(0 - s);
}

/* Standard 36-byte description header (5.2.6). */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "FTVSOR", 6);
    memcpy(t + 16, "FTVISOR ", 8);
    put32(t + 24, 1);
    memcpy(t + 28, "FTVS", 4);
    put32(t + 32, 1);
}

/* Generic Address Structure in system I/O space (5.2.3.2). */
static void gas_io(uint8_t *g, uint8_t bits, uint16_t port)
{
    g[0] = 1;
    g[1] = bits;
    g[2] = 0;
    g[3] = bits == 8 ? 1 : bits == 16 ? 2 : 3;
    put64(g + 4, port);
}

/* ---- AML (ACPI 6.5, chapter 20), just what the DSDT needs ---------------- */

struct aml {
    uint8_t *p;
    size_t n, cap;
};

static void emit(struct aml *a, const void *b, size_t n)
{
    if (a->n + n <= a->cap)
        memcpy(a->p + a->n, b, n);
    a->n += n;
}

static void emit1(struct aml *a, uint8_t b) { emit(a, &b, 1); }

static void emit_dword(struct aml *a, uint32_t v)
{
    emit1(a, 0x0c); /* DWordPrefix */
    uint8_t b[4];
    put32(b, v);
    emit(a, b, 4);
}

/* PkgLength (20.2.4) of a package whose body is n bytes: the encoding
 * counts its own bytes too. Writes it and returns its size. */
static void emit_pkglen(struct aml *a, size_t body)
{
    if (body + 1 < 0x40) {
        emit1(a, (uint8_t)(body + 1));
        return;
    }
    size_t t = body + 2; /* two bytes cover up to 4095 */
    emit1(a, (uint8_t)(0x40 | (t & 0x0f)));
    emit1(a, (uint8_t)(t >> 4));
}

/* Wrap what was emitted since `at` into op + PkgLength (+ name). */
static void wrap(struct aml *a, size_t at, const uint8_t *op, size_t oplen)
{
    uint8_t tmp[1024];
    size_t body = a->n - at;
    if (body > sizeof(tmp) || a->n > a->cap)
        return;
    memcpy(tmp, a->p + at, body);
    a->n = at;
    emit(a, op, oplen);
    emit_pkglen(a, body);
    emit(a, tmp, body);
}

static void name(struct aml *a, const char nm[4])
{
    emit1(a, 0x08); /* NameOp */
    emit(a, nm, 4);
}

/* The PCI root bridge: bus 0, ports 0xCF8-0xCFF for configuration, the
 * rest of the I/O space, the VGA hole and the memory between guest RAM and
 * the I/O APIC as windows (Linux assigns BARs inside them), and the
 * routing of each slot's INTA# to its GSI (PCI Firmware 3.0, 4.2; _PRT in
 * ACPI 6.5, 6.2.13: GSI form, level-triggered, active-low). */
static void pci_root(struct aml *a)
{
    size_t dev = a->n;
    name(a, "_HID");
    emit_dword(a, 0x030ad041); /* EisaId ("PNP0A03") */
    name(a, "_UID");
    emit1(a, 0x00);
    name(a, "_BBN");
    emit1(a, 0x00);
    name(a, "_CRS");
    size_t buf = a->n;
    static const uint8_t bus[] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
    static const uint8_t cfgio[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
    static const uint8_t io_lo[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00, 0xf7, 0x0c, 0, 0, 0xf8, 0x0c };
    static const uint8_t io_hi[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3 };
    uint8_t mem[2][26];
    const uint32_t win[2][2] = { { 0xa0000, 0xbffff }, { GUEST_PCI_WINDOW, GUEST_PCI_WINDOW_END } };
    for (int i = 0; i < 2; i++) {
        memset(mem[i], 0, sizeof(mem[i]));
        mem[i][0] = 0x87; /* DWord Address Space Descriptor, 23 bytes follow */
        mem[i][1] = 0x17;
        mem[i][3] = 0x00; /* memory */
        mem[i][4] = 0x0c; /* producer, MinFixed, MaxFixed */
        mem[i][5] = 0x01; /* read-write, non-cacheable */
        put32(mem[i] + 10, win[i][0]);
        put32(mem[i] + 14, win[i][1]);
        put32(mem[i] + 22, win[i][1] - win[i][0] + 1);
    }
    static const uint8_t end[] = { 0x79, 0x00 };
    uint8_t res[sizeof(bus) + sizeof(cfgio) + sizeof(io_lo) + sizeof(io_hi) + sizeof(mem) + sizeof(end)];
    size_t r = 0;
#define ADD(x) (memcpy(res + r, x, sizeof(x)), r += sizeof(x))
    ADD(bus);
    ADD(cfgio);
    ADD(io_lo);
    ADD(io_hi);
    ADD(mem);
    ADD(end);
#undef ADD
    emit1(a, 0x0a); /* BufferSize: ByteConst */
    emit1(a, (uint8_t)r);
    emit(a, res, r);
    static const uint8_t bufop[] = { 0x11 };
    wrap(a, buf, bufop, 1);
    name(a, "_PRT");
    size_t prt = a->n;
    emit1(a, GUEST_PCI_SLOTS);
    for (unsigned s = 0; s < GUEST_PCI_SLOTS; s++) {
        size_t e = a->n;
        emit1(a, 4);
        emit_dword(a, (GUEST_PCI_FIRST_SLOT + s) << 16 | 0xffff); /* any function of the slot */
        emit1(a, 0x00);                                          /* INTA# */
        emit1(a, 0x00);                                          /* no link device: */
        emit1(a, 0x0a);
        emit1(a, (uint8_t)(GUEST_PCI_FIRST_GSI + s)); /* a GSI */
        static const uint8_t pkg[] = { 0x12 };
        wrap(a, e, pkg, 1);
    }
    static const uint8_t pkg[] = { 0x12 };
    wrap(a, prt, pkg, 1);
    static const uint8_t devop[] = { 0x5b, 0x82, 'P', 'C', 'I', '0' };
    /* DeviceOp PkgLength NameString: the name goes after the length. */
    size_t body = a->n - dev;
    uint8_t tmp[1024];
    if (body <= sizeof(tmp) && a->n <= a->cap) {
        memcpy(tmp, a->p + dev, body);
        a->n = dev;
        emit(a, devop, 2);
        emit_pkglen(a, body + 4);
        emit(a, devop + 2, 4);
        emit(a, tmp, body);
    }
}

size_t acpi_dsdt_aml(uint8_t *out, size_t cap)
{
    struct aml a = { out, 0, cap };
    /* Name (_S5_, Package (4) {5, 5, 0, 0}): the sleep type platform.c
     * treats as soft-off. */
    static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, PM_SLP_TYP_S5,
                                  0x0a, PM_SLP_TYP_S5, 0x00, 0x00 };
    emit(&a, s5, sizeof(s5));
    /* Scope (\_SB) { Device (PCI0) { ... } } */
    size_t sb = a.n;
    pci_root(&a);
    size_t body = a.n - sb;
    uint8_t tmp[1024];
    if (body <= sizeof(tmp) && a.n <= a.cap) {
        memcpy(tmp, a.p + sb, body);
        a.n = sb;
        emit1(&a, 0x10); /* ScopeOp */
        emit_pkglen(&a, body + 5);
        emit(&a, "\\_SB_", 5);
        emit(&a, tmp, body);
    }
    return a.n <= cap ? a.n : 0;
}

void acpi_tables_build(uint8_t buf[ACPI_TABLES_SIZE])
{
    memset(buf, 0, ACPI_TABLES_SIZE);
    const uint32_t base = ACPI_TABLES_BASE;

    uint8_t *dsdt = buf + OFF_DSDT;
    size_t n = acpi_dsdt_aml(dsdt + 36, ACPI_TABLES_SIZE - OFF_DSDT - 36);
    header(dsdt, "DSDT", (uint32_t)(36 + n), 2);
    checksum(dsdt, 36 + n, 9);

    /* FACS (5.2.10): no checksum. */
    uint8_t *facs = buf + OFF_FACS;
    memcpy(facs, "FACS", 4);
    put32(facs + 4, 64);
    facs[32] = 2; /* version */

    /* FADT revision 3 (244 bytes), 5.2.9. */
    uint8_t *f = buf + OFF_FADT;
    const uint32_t flen = 244;
    /* FACS and DSDT through the 64-bit X_ fields only: ACPI 6.5 wants
     * FIRMWARE_CTRL zero when X_FIRMWARE_CTRL is set (5.2.9). */
    put32(f + 40, base + OFF_DSDT);
    put16(f + 46, GUEST_SCI_IRQ);
    put32(f + 48, 0); /* no SMI_CMD: the platform is always in ACPI mode */
    put32(f + 56, PORT_PM_BASE);     /* PM1a_EVT_BLK */
    put32(f + 64, PORT_PM_BASE + 4); /* PM1a_CNT_BLK */
    put32(f + 76, PORT_PM_BASE + 8); /* PM_TMR_BLK */
    f[88] = 4; /* PM1_EVT_LEN */
    f[89] = 2; /* PM1_CNT_LEN */
    f[91] = 4; /* PM_TMR_LEN */
    put16(f + 96, 101);  /* P_LVL2_LAT > 100: no C2 */
    put16(f + 98, 1001); /* P_LVL3_LAT > 1000: no C3 */
    f[108] = 0x32;       /* CENTURY register in CMOS */
    put16(f + 109, 1);   /* IAPC_BOOT_ARCH: legacy devices; no 8042 */
    /* Flags: WBINVD (0), PROC_C1 (2), PWR_BUTTON (4) and SLP_BUTTON (5)
     * absent as fixed features, RESET_REG_SUP (10). */
    put32(f + 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10));
    gas_io(f + 116, 8, 0xcf9); /* RESET_REG */
    f[128] = 0x06;             /* RESET_VALUE: RST_CPU | SYS_RST */
    put64(f + 132, base + OFF_FACS);
    put64(f + 140, base + OFF_DSDT);
    gas_io(f + 148, 32, PORT_PM_BASE);
    gas_io(f + 172, 16, PORT_PM_BASE + 4);
    gas_io(f + 208, 32, PORT_PM_BASE + 8);
    header(f, "FACP", flen, 3);
    checksum(f, flen, 9);

    /* MADT (5.2.12). */
    uint8_t *m = buf + OFF_MADT;
    uint32_t ml = 44;
    put32(m + 36, 0xfee00000u);
    put32(m + 40, 1); /* PCAT_COMPAT: dual 8259s present */
    uint8_t *e = m + ml;
    e[0] = 0; e[1] = 8; e[2] = 0; e[3] = 0; put32(e + 4, 1); /* local APIC 0, enabled */
    e += 8;
    e[0] = 1; e[1] = 12; e[2] = 1; e[3] = 0; put32(e + 4, 0xfec00000u); put32(e + 8, 0); /* I/O APIC 1, GSI 0 */
    e += 12;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = 0; put32(e + 4, 2); put16(e + 8, 0); /* IRQ0 -> GSI 2 */
    e += 10;
    e[0] = 2; e[1] = 10; e[2] = 0; e[3] = GUEST_SCI_IRQ; put32(e + 4, GUEST_SCI_IRQ);
    put16(e + 8, 0x000d); /* SCI: active high, level triggered */
    e += 10;
    e[0] = 4; e[1] = 6; e[2] = 0xff; put16(e + 3, 0); e[5] = 1; /* NMI on LINT1 of all CPUs */
    e += 6;
    ml = (uint32_t)(e - m);
    header(m, "APIC", ml, 3);
    checksum(m, ml, 9);

    /* RSDT and XSDT: FADT and MADT. */
    uint8_t *r = buf + OFF_RSDT;
    put32(r + 36, base + OFF_FADT);
    put32(r + 40, base + OFF_MADT);
    header(r, "RSDT", 44, 1);
    checksum(r, 44, 9);
    uint8_t *x = buf + OFF_XSDT;
    put64(x + 36, base + OFF_FADT);
    put64(x + 44, base + OFF_MADT);
    header(x, "XSDT", 52, 1);
    checksum(x, 52, 9);

    /* RSDP (5.2.5), revision 2. */
    uint8_t *p = buf + OFF_RSDP;
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "FTVSOR", 6);
    p[15] = 2;
    put32(p + 16, base + OFF_RSDT);
    put32(p + 20, 36);
    put64(p + 24, base + OFF_XSDT);
    checksum(p, 20, 8);
    checksum(p, 36, 32);
}
