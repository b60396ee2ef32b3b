/* ACPI tables from the RSDP the loader found (ACPI 6.5, chapter 5). */
#include "acpi.h"
#include "layout.h"
#include "log.h"
#include "cpu.h"
#include "clock.h"
#include "pci_cfg.h"
#include <string.h>

struct rsdp {
    char sig[8];
    uint8_t checksum;
    char oem[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t xchecksum, reserved[3];
} __attribute__((packed));

/* Generic Address Structure (ACPI 6.5, 5.2.3.2). */
struct gas {
    uint8_t space, bit_width, bit_offset, access;
    uint64_t addr;
} __attribute__((packed));

#define MAX_TABLES 64
static const struct acpi_sdt *tables[MAX_TABLES];
static int ntables;

static struct {
    bool present;
    uint16_t smi_cmd;
    uint8_t acpi_enable;
    uint16_t pm1a_cnt, pm1b_cnt, pm_tmr;
    bool tmr_32bit;
    bool s5_found;
    uint8_t slp_typa, slp_typb;
    bool reset_present;
    struct gas reset_reg;
    uint8_t reset_value;
} fadt;

static const struct acpi_sdt *map_table(uint64_t pa)
{
    if (!pa)
        return NULL;
    const struct acpi_sdt *t = phys_to_virt(pa);
    if (t->length < sizeof(*t) || t->length > (16u << 20))
        return NULL;
    if (acpi_checksum(t, t->length) != 0) {
        log_warn("acpi", "table %.4s at 0x%llx has a bad checksum: ignored", t->sig, (unsigned long long)pa);
        return NULL;
    }
    return t;
}

const struct acpi_sdt *acpi_find(const char sig[4], int n)
{
    for (int i = 0; i < ntables; i++)
        if (memcmp(tables[i]->sig, sig, 4) == 0 && n-- == 0)
            return tables[i];
    return NULL;
}

static uint16_t io_block(const uint8_t *f, uint32_t len, uint32_t legacy_off, uint32_t gas_off)
{
    /* Prefer the 64-bit GAS form when present and in I/O space. */
    if (len >= gas_off + sizeof(struct gas)) {
        const struct gas *g = (const struct gas *)(f + gas_off);
        if (g->addr && g->space == 1)
            return (uint16_t)g->addr;
    }
    if (len >= legacy_off + 4)
        return (uint16_t)*(const uint32_t *)(f + legacy_off);
    return 0;
}

static void parse_fadt(const struct acpi_sdt *t)
{
    const uint8_t *f = (const uint8_t *)t;
    uint32_t len = t->length;
    if (len < 116) {
        log_warn("acpi", "FADT too short (%u bytes)", len);
        return;
    }
    fadt.present = true;
    fadt.smi_cmd = (uint16_t)*(const uint32_t *)(f + 48);
    fadt.acpi_enable = f[52];
    fadt.pm1a_cnt = io_block(f, len, 64, 172);
    fadt.pm1b_cnt = io_block(f, len, 68, 184);
    fadt.pm_tmr = io_block(f, len, 76, 208);
    if (f[91] < 4) /* PM_TMR_LEN */
        fadt.pm_tmr = 0;
    uint32_t flags = *(const uint32_t *)(f + 112);
    fadt.tmr_32bit = (flags >> 8) & 1;
    if (len >= 129 && (flags >> 10) & 1) { /* RESET_REG_SUP */
        memcpy(&fadt.reset_reg, f + 116, sizeof(struct gas));
        fadt.reset_value = f[128];
        fadt.reset_present = fadt.reset_reg.addr != 0;
    }
    uint64_t dsdt = *(const uint32_t *)(f + 40);
    if (len >= 148 && *(const uint64_t *)(f + 140))
        dsdt = *(const uint64_t *)(f + 140);
    const struct acpi_sdt *d = map_table(dsdt);
    if (d && memcmp(d->sig, "DSDT", 4) == 0)
        fadt.s5_found = acpi_parse_s5((const uint8_t *)d + sizeof(*d), d->length - sizeof(*d), &fadt.slp_typa,
                                      &fadt.slp_typb);
    log_info("acpi", "FADT: PM1a_CNT port 0x%x%s, PM timer port 0x%x (%s), \\_S5 %s (SLP_TYPa %u), reset register %s",
             fadt.pm1a_cnt, fadt.pm1b_cnt ? " (and PM1b)" : "", fadt.pm_tmr,
             !fadt.pm_tmr ? "absent" : fadt.tmr_32bit ? "32-bit" : "24-bit", fadt.s5_found ? "found" : "NOT found",
             fadt.slp_typa, fadt.reset_present ? "present" : "absent");
}

/* Without ACPI tables (OVMF under Bochs installs none: it takes them from
 * QEMU's fw_cfg), fall back to what the chipset itself documents: the PM1
 * control and PM timer registers of the Intel PIIX4 (82371AB datasheet,
 * function 3: PMBA at config 0x40, PMIOSE at 0x80; SUS_TYP 0 = soft off)
 * and of the ICH9 LPC bridge (PMBASE at 0x40, ACPI_EN at 0x44 bit 7;
 * SLP_TYP 7 = S5). */
struct chipset_pm {
    const char *name;
    uint8_t dev, fn;
    uint32_t id;           /* vendor | device << 16 */
    uint16_t base_mask;    /* of the I/O base register at config 0x40 */
    uint16_t default_base; /* programmed when the firmware left it 0 */
    uint8_t enable_reg, enable_bit;
    uint8_t slp_typ_s5;
};

static const struct chipset_pm chipsets[] = {
    { "PIIX4", 1, 3, 0x71138086, 0xffc0, 0xb000, 0x80, 0x01, 0 },
    { "ICH9", 31, 0, 0x29188086, 0xff80, 0x0600, 0x44, 0x80, 7 },
};

static void chipset_fallback(void)
{
    for (size_t i = 0; i < sizeof(chipsets) / sizeof(chipsets[0]); i++) {
        const struct chipset_pm *c = &chipsets[i];
        if (pci_cfg_read32(0, c->dev, c->fn, 0) != c->id)
            continue;
        uint16_t base = pci_cfg_read16(0, c->dev, c->fn, 0x40) & c->base_mask;
        if (!base) {
            base = c->default_base;
            pci_cfg_write32(0, c->dev, c->fn, 0x40, base | 1u);
        }
        pci_cfg_write8(0, c->dev, c->fn, c->enable_reg,
                       (uint8_t)(pci_cfg_read8(0, c->dev, c->fn, c->enable_reg) | c->enable_bit));
        fadt.present = fadt.s5_found = true;
        fadt.pm1a_cnt = (uint16_t)(base + 4);
        fadt.pm_tmr = (uint16_t)(base + 8);
        fadt.slp_typa = c->slp_typ_s5;
        log_info("acpi", "no ACPI tables: using the %s power management at port 0x%x (PM timer, S5 soft-off)",
                 c->name, base);
        return;
    }
    log_warn("acpi", "no ACPI tables and no known chipset: power-off will not work");
}

void acpi_init(uint64_t rsdp_phys)
{
    if (!rsdp_phys) {
        log_warn("acpi", "no RSDP from the firmware");
        chipset_fallback();
        return;
    }
    const struct rsdp *r = phys_to_virt(rsdp_phys);
    if (memcmp(r->sig, "RSD PTR ", 8) != 0 || acpi_checksum(r, 20) != 0) {
        log_warn("acpi", "RSDP at 0x%llx is invalid", (unsigned long long)rsdp_phys);
        return;
    }
    const struct acpi_sdt *root = NULL;
    int wide = 0;
    if (r->revision >= 2 && r->xsdt && acpi_checksum(r, r->length < 36 ? 36 : r->length) == 0) {
        root = map_table(r->xsdt);
        wide = 1;
    }
    if (!root) {
        root = map_table(r->rsdt);
        wide = 0;
    }
    if (!root) {
        log_warn("acpi", "no valid RSDT/XSDT");
        return;
    }
    uint32_t n = (root->length - sizeof(*root)) / (wide ? 8 : 4);
    const uint8_t *ents = (const uint8_t *)root + sizeof(*root);
    char list[MAX_TABLES * 5 + 1];
    size_t ll = 0;
    for (uint32_t i = 0; i < n && ntables < MAX_TABLES; i++) {
        uint64_t pa = wide ? *(const uint64_t *)(ents + 8 * i) : *(const uint32_t *)(ents + 4 * i);
        const struct acpi_sdt *t = map_table(pa);
        if (!t)
            continue;
        tables[ntables++] = t;
        memcpy(list + ll, t->sig, 4);
        list[ll + 4] = ' ';
        ll += 5;
    }
    list[ll ? ll - 1 : 0] = 0;
    log_info("acpi", "ACPI %s, %s with %d tables: %s", r->revision >= 2 ? "2.0+" : "1.0", wide ? "XSDT" : "RSDT",
             ntables, list);
    const struct acpi_sdt *f = acpi_find("FACP", 0);
    if (f)
        parse_fadt(f);
    else
        log_warn("acpi", "no FADT: power-off will not work");
}

bool acpi_pm_timer_present(void) { return fadt.pm_tmr != 0; }
uint32_t acpi_pm_timer_read(void) { return inl(fadt.pm_tmr) & acpi_pm_timer_mask(); }
uint32_t acpi_pm_timer_mask(void) { return fadt.tmr_32bit ? 0xffffffffu : 0xffffffu; }

void acpi_poweroff(void)
{
    if (!fadt.present || !fadt.pm1a_cnt || !fadt.s5_found)
        return;
    /* SCI_EN clear means the platform is still in legacy (SMM) mode:
     * ask it to switch to ACPI mode first (ACPI 6.5, 16.3.1). */
    if (!(inw(fadt.pm1a_cnt) & 1) && fadt.smi_cmd && fadt.acpi_enable) {
        outb(fadt.smi_cmd, fadt.acpi_enable);
        for (int i = 0; i < 300 && !(inw(fadt.pm1a_cnt) & 1); i++)
            clock_delay_us(1000);
    }
    /* SLP_TYP is bits 10-12, SLP_EN bit 13 of PM1x_CNT (ACPI 6.5, 4.8.3.2.1). */
    uint16_t v = (uint16_t)((inw(fadt.pm1a_cnt) & ~(7u << 10)) | ((fadt.slp_typa & 7u) << 10) | (1u << 13));
    outw(fadt.pm1a_cnt, v);
    if (fadt.pm1b_cnt)
        outw(fadt.pm1b_cnt,
             (uint16_t)((inw(fadt.pm1b_cnt) & ~(7u << 10)) | ((fadt.slp_typb & 7u) << 10) | (1u << 13)));
    clock_delay_us(100000);
}

bool acpi_reset(void)
{
    if (!fadt.reset_present)
        return false;
    if (fadt.reset_reg.space == 1) /* system I/O */
        outb((uint16_t)fadt.reset_reg.addr, fadt.reset_value);
    else if (fadt.reset_reg.space == 0) /* system memory */
        *(volatile uint8_t *)phys_to_virt(fadt.reset_reg.addr) = fadt.reset_value;
    else
        return false;
    clock_delay_us(100000);
    return true;
}
