/* poweroff: power off through ACPI the way an OS does it, trusting nothing
 * but the tables:
 *   RSDP found by scanning 0xE0000-0xFFFFF on 16-byte boundaries
 *   (signature and both checksums) -> XSDT (revision >= 2) or RSDT ->
 *   every table's checksum -> FADT ("FACP") -> DSDT (X_DSDT when present)
 *   -> the AML object \_S5_ (NameOp, PackageOp, its first element
 *   SLP_TYPa) -> PM1a_CNT_BLK from the FADT; SCI_EN must already be set
 *   (there is no SMI_CMD); then SLP_TYPa << 10 | SLP_EN is written there.
 * Also lists the MADT (local APIC, I/O APIC at 0xFEC00000) and checks the
 * FADT's PM timer block ticks. ftvisor should end the guest with
 * "guest exited: 0 (ACPI power-off)"; if the write returns, the guest
 * reports it and exits with 1. */
#include "rt/rt.h"

struct sdt {
    char sig[4];
    uint32_t len;
    uint8_t rev, sum;
    char oem[6], table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static uint8_t sum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t s = 0;
    while (n--)
        s += *b++;
    return s;
}

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static const uint8_t *find_rsdp(void)
{
    for (uintptr_t a = 0xe0000; a < 0x100000; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        if (memcmp(p, "RSD PTR ", 8) == 0 && sum(p, 20) == 0)
            return p;
    }
    return NULL;
}

static const struct sdt *table(uint64_t a, const char *what)
{
    const struct sdt *t = (const struct sdt *)(uintptr_t)a;
    bool ok = a && a < 0x100000000ull && t->len >= sizeof(*t) && t->len < 0x100000 && sum(t, t->len) == 0;
    CHECK(ok, "%s at 0x%llx: %.4s, %u bytes, checksum valid", what, (unsigned long long)a, ok ? t->sig : "????",
          ok ? t->len : 0);
    return ok ? t : NULL;
}

/* The first element of Name(_S5_, Package(){...}) in AML. */
static int s5_slp_typa(const uint8_t *aml, size_t n)
{
    for (size_t i = 1; i + 8 < n; i++) {
        if (memcmp(aml + i, "_S5_", 4) != 0)
            continue;
        if (aml[i - 1] != 0x08 && !(aml[i - 1] == '\\' && i >= 2 && aml[i - 2] == 0x08))
            continue; /* not NameOp */
        const uint8_t *p = aml + i + 4;
        if (*p++ != 0x12)
            return -1; /* PackageOp */
        p += ((*p >> 6) & 3) + 1; /* PkgLength */
        p++;                      /* NumElements */
        if (*p == 0x0a)
            return p[1]; /* BytePrefix */
        if (*p == 0x00 || *p == 0x01)
            return *p; /* ZeroOp, OneOp */
        return *p;
    }
    return -1;
}

static void madt(const struct sdt *t)
{
    const uint8_t *b = (const uint8_t *)t;
    unsigned lapics = 0, ioapics = 0, overrides = 0;
    uint32_t ioapic_addr = 0;
    for (uint32_t off = 44; off + 2 <= t->len && b[off + 1] >= 2; off += b[off + 1]) {
        switch (b[off]) {
        case 0: lapics += (get32(b + off + 4) & 1); break;
        case 1: ioapics++; ioapic_addr = get32(b + off + 4); break;
        case 2: overrides++; break;
        }
    }
    rt_printf("poweroff: MADT: local APIC at 0x%x, %u enabled CPU(s), %u I/O APIC(s) at 0x%x, %u overrides\n",
              get32(b + 36), lapics, ioapics, ioapic_addr, overrides);
    CHECK(get32(b + 36) == 0xfee00000 && lapics == 1, "MADT: one CPU, local APIC at 0xfee00000");
    CHECK(ioapics == 1 && ioapic_addr == 0xfec00000, "MADT: one I/O APIC at 0xfec00000");
}

int guest_main(void)
{
    const uint8_t *rsdp = find_rsdp();
    CHECK(rsdp != NULL, "RSDP found by scanning 0xE0000-0xFFFFF");
    if (!rsdp)
        return rt_result("poweroff");
    uint8_t rev = rsdp[15];
    rt_printf("poweroff: RSDP at 0x%llx, revision %u, OEM %.6s\n", (unsigned long long)(uintptr_t)rsdp, rev,
              (const char *)rsdp + 9);
    uint64_t root;
    unsigned esize;
    if (rev >= 2) {
        CHECK(sum(rsdp, get32(rsdp + 20)) == 0, "RSDP extended checksum");
        root = get64(rsdp + 24);
        esize = 8;
    } else {
        root = get32(rsdp + 16);
        esize = 4;
    }
    const struct sdt *rt = table(root, esize == 8 ? "XSDT" : "RSDT");
    if (!rt)
        return rt_result("poweroff");
    const struct sdt *fadt = NULL;
    unsigned n = (rt->len - sizeof(*rt)) / esize;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = (const uint8_t *)rt + sizeof(*rt) + i * esize;
        uint64_t a = esize == 8 ? get64(e) : get32(e);
        const struct sdt *t = table(a, "table");
        if (t && memcmp(t->sig, "FACP", 4) == 0)
            fadt = t;
        if (t && memcmp(t->sig, "APIC", 4) == 0)
            madt(t);
    }
    CHECK(fadt != NULL, "FADT found");
    if (!fadt)
        return rt_result("poweroff");
    const uint8_t *f = (const uint8_t *)fadt;
    uint64_t dsdt_a = get32(f + 40);
    if (fadt->len >= 148 && get64(f + 140))
        dsdt_a = get64(f + 140);
    uint32_t pm1a_cnt = get32(f + 64), pm_tmr = get32(f + 76), smi_cmd = get32(f + 48);
    rt_printf("poweroff: FADT rev %u: DSDT 0x%llx, PM1a_CNT 0x%x, PM_TMR 0x%x, SCI IRQ %u, SMI_CMD 0x%x\n", fadt->rev,
              (unsigned long long)dsdt_a, pm1a_cnt, pm_tmr, get16(f + 46), smi_cmd);
    const struct sdt *dsdt = table(dsdt_a, "DSDT");
    if (!dsdt)
        return rt_result("poweroff");
    int typ = s5_slp_typa((const uint8_t *)dsdt + sizeof(*dsdt), dsdt->len - sizeof(*dsdt));
    rt_printf("poweroff: \\_S5_ SLP_TYPa = %d\n", typ);
    CHECK(typ >= 0 && typ < 8, "\\_S5_ found in the DSDT");
    CHECK(pm1a_cnt != 0 && pm1a_cnt < 0x10000, "PM1a_CNT_BLK is an I/O port (0x%x)", pm1a_cnt);
    uint32_t t0 = inl((uint16_t)pm_tmr) & 0xffffff;
    rt_delay_us(100);
    uint32_t t1 = inl((uint16_t)pm_tmr) & 0xffffff;
    CHECK(t1 != t0, "PM timer at the FADT's PM_TMR_BLK ticks (%u -> %u)", t0, t1);
    uint16_t cnt = inw((uint16_t)pm1a_cnt);
    CHECK(cnt & 1, "SCI_EN set: already in ACPI mode (PM1a_CNT 0x%x)", cnt);
    if (typ < 0 || rt_failures)
        return rt_result("poweroff");
    rt_printf("poweroff: all %u checks passed; writing SLP_TYP %d | SLP_EN to port 0x%x\n", rt_checks, typ, pm1a_cnt);
    outw((uint16_t)pm1a_cnt, (uint16_t)((cnt & 0x0203) | (typ & 7) << 10 | 1u << 13));
    rt_printf("FAIL: still running after the S5 request\n");
    return 1;
}
