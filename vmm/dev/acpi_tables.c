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
#define OFF_DSDT 0x300
#define OFF_MADT 0x400

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

void acpi_tables_build(uint8_t buf[ACPI_TABLES_SIZE])
{
    memset(buf, 0, ACPI_TABLES_SIZE);
    const uint32_t base = ACPI_TABLES_BASE;

    /* DSDT: only Name (_S5_, Package (4) {5, 5, 0, 0}) — the sleep type
     * that platform.c treats as soft-off. */
    uint8_t *dsdt = buf + OFF_DSDT;
    static const uint8_t aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, PM_SLP_TYP_S5,
                                   0x0a, PM_SLP_TYP_S5, 0x00, 0x00 };
    memcpy(dsdt + 36, aml, sizeof(aml));
    header(dsdt, "DSDT", 36 + sizeof(aml), 2);
    checksum(dsdt, 36 + sizeof(aml), 9);

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
