/* The guest's ACPI tables (acpi_tables.c). */
#ifndef VMM_DEV_ACPI_TABLES_H
#define VMM_DEV_ACPI_TABLES_H

#include <stdint.h>
#include <stddef.h>

/* Where they live in guest-physical memory: inside the BIOS area
 * 0xE0000-0xFFFFF, which the e820 map marks reserved and where an OS
 * scans for the RSDP. */
#define ACPI_TABLES_BASE 0xe0000u
#define ACPI_TABLES_SIZE 0x2000u
#define ACPI_RSDP_ADDR ACPI_TABLES_BASE

/* Build RSDP, RSDT, XSDT, FADT, FACS, DSDT (with \_S5) and MADT into buf,
 * which the caller copies to ACPI_TABLES_BASE. Pure: unit-tested. */
void acpi_tables_build(uint8_t buf[ACPI_TABLES_SIZE]);
/* The DSDT's AML (\_S5, the PCI root bridge \_SB.PCI0): its length, or 0
 * when cap is too small. */
size_t acpi_dsdt_aml(uint8_t *out, size_t cap);

#endif
