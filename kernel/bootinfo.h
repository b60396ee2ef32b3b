/* The boot-info handed from the UEFI loader (boot/) to the kernel: a
 * flattened device tree built with libfdt. This header is the contract
 * between the two; docs/ARCHITECTURE.md shows the tree.
 *
 *   /                 compatible = "ftvisor,boot-info-1"; loader = "...";
 *   /chosen           config (bytes), config-name (string)
 *   /memory-map       desc-size, desc-version (u32), map (raw UEFI descriptors)
 *   /kernel           phys, size, virt (u64)
 *   /acpi             rsdp (u64)
 *   /framebuffer      base, size (u64); width, height, stride, format (u32)
 *   /reserved/NAME    base, size (u64): memory in use the kernel must keep
 *   /files/KEY        path (string), line (u32), status (u32), error
 *                     (string), base, size (u64): files ftvisor.conf names
 *   /nics             macs (6 bytes each): NICs the firmware could see
 *
 * All addresses are physical. */
#ifndef KERNEL_BOOTINFO_H
#define KERNEL_BOOTINFO_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define BOOTINFO_COMPATIBLE "ftvisor,boot-info-1"
#define BI_MAX_FILES 8
#define BI_MAX_RESERVED 32
#define BI_MAX_NICS 8

/* UEFI memory types (UEFI 2.10, 7.2 EFI_MEMORY_TYPE). */
enum efi_memtype {
    EFI_RESERVED = 0,
    EFI_LOADER_CODE = 1,
    EFI_LOADER_DATA = 2,
    EFI_BS_CODE = 3,
    EFI_BS_DATA = 4,
    EFI_RT_CODE = 5,
    EFI_RT_DATA = 6,
    EFI_CONVENTIONAL = 7,
    EFI_UNUSABLE = 8,
    EFI_ACPI_RECLAIM = 9,
    EFI_ACPI_NVS = 10,
    EFI_MMIO = 11,
    EFI_MMIO_PORT = 12,
    EFI_PAL_CODE = 13,
    EFI_PERSISTENT = 14,
};

/* EFI_MEMORY_DESCRIPTOR; the firmware's stride is desc_size, not sizeof. */
struct efi_memdesc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys;
    uint64_t virt;
    uint64_t pages;
    uint64_t attr;
};

enum bi_fb_format { BI_FB_RGBX = 0, BI_FB_BGRX = 1 };

struct bi_region {
    char name[24];
    uint64_t base, size;
};

struct bi_file {
    char key[16];
    char path[128];
    uint32_t line;
    uint32_t status; /* 0: loaded; else the UEFI status code's low bits */
    char error[48];  /* why it could not be loaded */
    uint64_t base, size;
};

struct bootinfo {
    char loader[48];
    const char *config;
    uint32_t config_len;
    char config_name[64];

    const void *memmap; /* raw descriptors */
    uint32_t memmap_size, desc_size, desc_version;

    uint64_t kernel_phys, kernel_size, kernel_virt;
    uint64_t rsdp;

    bool fb_present;
    uint64_t fb_base, fb_size;
    uint32_t fb_width, fb_height, fb_stride, fb_format;

    uint32_t nreserved;
    struct bi_region reserved[BI_MAX_RESERVED];
    uint32_t nfiles;
    struct bi_file files[BI_MAX_FILES];
    uint32_t nnics;
    uint8_t nic_mac[BI_MAX_NICS][6];
};

/* boot/bootinfo.c: write everything but the memory map into buf (an FDT of
 * bufsize bytes). Returns 0 or a negative libfdt error. */
int bootinfo_build(void *buf, size_t bufsize, const struct bootinfo *bi);
/* After ExitBootServices: add the final memory map (no allocation, no
 * firmware calls; the buffer must have room). */
int bootinfo_set_memmap(void *buf, const void *map, uint32_t size, uint32_t desc_size, uint32_t desc_version);

/* kernel/bootinfo.c: read a tree back. Pointers in *bi point into fdt.
 * Returns 0 or -1 with a message in err. */
int bootinfo_parse(const void *fdt, struct bootinfo *bi, char *err, size_t errlen);

const char *efi_memtype_name(uint32_t type);

#endif
