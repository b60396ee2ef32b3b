/* Guest loaders: put a guest's image into guest memory and say where and
 * how its vCPU starts. */
#ifndef VMM_LOADER_H
#define VMM_LOADER_H

#include <stdint.h>
#include <stddef.h>
#include "guest_mem.h"

enum guest_start_mode { START_REAL_MODE, START_PROTECTED_FLAT };

struct guest_start {
    enum guest_start_mode mode;
    uint64_t entry;  /* real mode: CS:IP = entry >> 4 : entry & 15 */
    uint64_t esi;    /* protected: boot_params for Linux */
    uint64_t gdt;    /* protected: a GDT with 0x10 code / 0x18 data */
    uint64_t stack;
    char kind[64];   /* for the log: "Linux 6.1.x bzImage, protocol 2.15" */
};

/* A flat test-guest image: starts with EB 0E "FTVFLAT1" (a short jump over
 * an 8-byte magic and padding), loaded at FLAT_LOAD_ADDR and entered in
 * real mode at 0000:FLAT_LOAD_ADDR. */
#define FLAT_MAGIC "FTVFLAT1"
#define FLAT_LOAD_ADDR 0x8000u
bool load_flat_probe(const uint8_t *img, size_t len);
int load_flat(struct guest_mem *m, const uint8_t *img, size_t len, struct guest_start *st, char *err, size_t n);

/* The Linux x86 boot protocol (Documentation/x86/boot.rst), 32-bit entry. */
bool load_linux_probe(const uint8_t *img, size_t len);
int load_linux(struct guest_mem *m, const uint8_t *img, size_t len, const uint8_t *initrd, size_t initrd_len,
               const char *cmdline, uint64_t rsdp, struct guest_start *st, char *err, size_t n);

#endif
