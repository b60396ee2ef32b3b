/* Loading a Linux bzImage by the x86 boot protocol (the kernel's
 * Documentation/x86/boot.rst, "The 32-bit boot protocol"): the setup
 * header goes into a zeroed boot_params ("zero page") together with the
 * e820 map, command line and initrd, the protected-mode kernel goes to
 * 1 MiB, and the CPU enters it in flat 32-bit protected mode with paging
 * off and ESI pointing at boot_params. */
#include "loader.h"
#include "dev/acpi_tables.h"
#include "../kernel/format.h"
#include "../kernel/strutil.h"
#include <stdarg.h>
#include <string.h>

/* Guest-physical placement of what the loader builds (all below 1 MiB, in
 * RAM the e820 map marks usable and the kernel reserves early). */
#define GDT_ADDR 0x6000u
#define BOOT_PARAMS_ADDR 0x7000u
#define CMDLINE_ADDR 0x20000u
#define KERNEL_ADDR 0x100000u

/* Offsets in the bzImage / boot_params (boot.rst "The real-mode kernel
 * header", and arch/x86/include/uapi/asm/bootparam.h's layout). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define BP_ACPI_RSDP 0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

bool load_linux_probe(const uint8_t *img, size_t len)
{
    return len > 0x264 && rd16(img + HDR_BOOT_FLAG) == 0xaa55 && memcmp(img + HDR_MAGIC, "HdrS", 4) == 0;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

int load_linux(struct guest_mem *m, const uint8_t *img, size_t len, const uint8_t *initrd, size_t initrd_len,
               const char *cmdline, uint64_t rsdp, struct guest_start *st, char *err, size_t n)
{
    if (!load_linux_probe(img, len))
        return fail(err, n, "not a Linux bzImage (no HdrS signature)");
    uint16_t version = rd16(img + HDR_VERSION);
    if (version < 0x020a) /* pref_address, init_size, 64-bit e820 in boot_params */
        return fail(err, n, "boot protocol %u.%02u is too old (need 2.10)", version >> 8, version & 0xff);
    if (!(img[HDR_LOADFLAGS] & LOADED_HIGH))
        return fail(err, n, "zImage (not loaded high) is not supported");
    unsigned setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
    size_t setup_len = (setup_sects + 1) * 512u;
    if (setup_len >= len)
        return fail(err, n, "bzImage truncated: setup is %u bytes", (unsigned)setup_len);
    size_t kernel_len = len - setup_len;
    /* The kernel decompresses itself to pref_address (a non-relocatable
     * kernel runs only there) and needs init_size bytes from there on:
     * nothing else may sit in [run_at, run_at + init_size). */
    uint32_t init_size = rd32(img + HDR_INIT_SIZE);
    uint64_t run_at;
    memcpy(&run_at, img + HDR_PREF_ADDRESS, 8);
    if (run_at < KERNEL_ADDR)
        run_at = KERNEL_ADDR;
    uint64_t kernel_end = run_at + init_size;
    if (KERNEL_ADDR + kernel_len > kernel_end)
        kernel_end = KERNEL_ADDR + kernel_len;
    uint64_t low_end = m->low_bytes;
    if (kernel_end > low_end)
        return fail(err, n, "guest memory too small for this kernel (it needs RAM up to %llu MiB)",
                    (unsigned long long)((kernel_end + (1u << 20) - 1) >> 20));

    /* boot_params: the setup header as the image has it, then our fields.
     * The header runs from 0x1f1 to 0x202 + the byte at 0x201. */
    uint8_t bp[4096];
    memset(bp, 0, sizeof(bp));
    size_t hdr_end = 0x202 + img[0x201];
    if (hdr_end > sizeof(bp) || hdr_end > len)
        return fail(err, n, "setup header length 0x%x out of range", (unsigned)hdr_end);
    memcpy(bp + HDR_SETUP_SECTS, img + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
    bp[HDR_TYPE_OF_LOADER] = 0xff; /* undefined loader */
    bp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
    wr16(bp + HDR_HEAP_END_PTR, 0xfe00);
    uint32_t cmdline_max = version >= 0x0206 ? rd32(img + HDR_CMDLINE_SIZE) : 255;
    size_t cl = strlen(cmdline);
    if (cl > cmdline_max)
        return fail(err, n, "command line longer than the kernel accepts (%u bytes)", cmdline_max);
    wr32(bp + HDR_CMD_LINE_PTR, CMDLINE_ADDR);
    if (guest_write(m, CMDLINE_ADDR, cmdline, cl + 1))
        return fail(err, n, "cannot write the command line");

    /* The protected-mode kernel at 1 MiB. */
    if (guest_write(m, KERNEL_ADDR, img + setup_len, kernel_len))
        return fail(err, n, "cannot place the kernel");

    /* The initrd at the top of low memory, below initrd_addr_max. */
    if (initrd && initrd_len) {
        uint64_t max = rd32(img + HDR_INITRD_ADDR_MAX);
        uint64_t top = low_end < max + 1 ? low_end : max + 1;
        uint64_t at = (top - initrd_len) & ~0xfffull;
        if (initrd_len > top || at < kernel_end)
            return fail(err, n, "no room for a %u KiB initrd below the kernel's limit", (unsigned)(initrd_len >> 10));
        if (guest_write(m, at, initrd, initrd_len))
            return fail(err, n, "cannot place the initrd");
        wr32(bp + HDR_RAMDISK_IMAGE, (uint32_t)at);
        wr32(bp + HDR_RAMDISK_SIZE, (uint32_t)initrd_len);
    }

    /* e820: low RAM below the EBDA, reserved BIOS area holding the ACPI
     * tables, RAM from 1 MiB, RAM above 4 GiB. Types: 1 RAM, 2 reserved. */
    uint8_t *e = bp + BP_E820_TABLE;
    int ne = 0;
#define E820(a, s, t) (wr64(e + 20 * ne, (a)), wr64(e + 20 * ne + 8, (s)), wr32(e + 20 * ne + 16, (t)), ne++)
    E820(0, 0x9fc00, 1);
    E820(0x9fc00, 0x400, 2);
    E820(ACPI_TABLES_BASE, 0x100000 - ACPI_TABLES_BASE, 2);
    E820(0x100000, low_end - 0x100000, 1);
    if (m->ram_bytes > m->low_bytes)
        E820(4ull << 30, m->ram_bytes - m->low_bytes, 1);
#undef E820
    bp[BP_E820_ENTRIES] = (uint8_t)ne;
    wr64(bp + BP_ACPI_RSDP, rsdp);
    if (guest_write(m, BOOT_PARAMS_ADDR, bp, sizeof(bp)))
        return fail(err, n, "cannot write boot_params");

    /* The GDT the protocol requires: __BOOT_CS = 0x10, __BOOT_DS = 0x18,
     * flat 4 GiB (boot.rst: "must have a valid GDT loaded"). */
    uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull };
    if (guest_write(m, GDT_ADDR, gdt, sizeof(gdt)))
        return fail(err, n, "cannot write the GDT");

    st->mode = START_PROTECTED_FLAT;
    st->entry = rd32(img + HDR_CODE32_START);
    if (st->entry != KERNEL_ADDR)
        st->entry = KERNEL_ADDR; /* we loaded it at 1 MiB, whatever the hint */
    st->esi = BOOT_PARAMS_ADDR;
    st->gdt = GDT_ADDR;
    st->stack = 0;
    fmt_snprintf(st->kind, sizeof(st->kind), "Linux bzImage, boot protocol %u.%02u", version >> 8, version & 0xff);
    return 0;
}
