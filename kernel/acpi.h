/* The ACPI the host needs: FADT power-management registers (power-off via
 * the DSDT's \_S5 sleep type, the PM timer, the reset register) and the
 * table directory for later users (MADT, MCFG). */
#ifndef KERNEL_ACPI_H
#define KERNEL_ACPI_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct acpi_sdt {
    char sig[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

void acpi_init(uint64_t rsdp_phys);
/* A verified table by signature (n-th instance), or NULL. */
const struct acpi_sdt *acpi_find(const char sig[4], int n);

bool acpi_pm_timer_present(void);
uint32_t acpi_pm_timer_read(void);
uint32_t acpi_pm_timer_mask(void); /* 0xffffff or 0xffffffff */
#define ACPI_PM_TIMER_HZ 3579545u

/* Enter S5. Returns only when the platform ignored the request. */
void acpi_poweroff(void);
/* The FADT reset register, when the firmware describes one. */
bool acpi_reset(void);

/* Pure: find the \_S5 package in AML and read SLP_TYPa/b. Unit-tested. */
bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *slp_typa, uint8_t *slp_typb);
/* Pure: sum of bytes mod 256 (a valid table sums to 0). */
uint8_t acpi_checksum(const void *p, size_t n);

#endif
