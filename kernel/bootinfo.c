/* Read the boot-info FDT (bootinfo.h) that the loader built. Every property
 * is checked for presence and size: a malformed tree is reported, never
 * trusted. */
#include <libfdt.h>
#include "bootinfo.h"
#include "format.h"
#include "strutil.h"

struct rd {
    const void *fdt;
    char *err;
    size_t errlen;
};

static int bad(struct rd *r, const char *node, const char *prop, const char *why)
{
    fmt_snprintf(r->err, r->errlen, "boot-info: %s/%s: %s", node, prop, why);
    return -1;
}

static const void *prop(struct rd *r, int off, const char *node, const char *name, int *len)
{
    const void *p = fdt_getprop(r->fdt, off, name, len);
    if (!p)
        bad(r, node, name, "missing");
    return p;
}

static int get_u64(struct rd *r, int off, const char *node, const char *name, uint64_t *out)
{
    int len;
    const fdt64_t *p = prop(r, off, node, name, &len);
    if (!p)
        return -1;
    if (len != 8)
        return bad(r, node, name, "not a 64-bit value");
    *out = fdt64_ld(p); /* properties are only 4-byte aligned */
    return 0;
}

static int get_u32(struct rd *r, int off, const char *node, const char *name, uint32_t *out)
{
    int len;
    const fdt32_t *p = prop(r, off, node, name, &len);
    if (!p)
        return -1;
    if (len != 4)
        return bad(r, node, name, "not a 32-bit value");
    *out = fdt32_ld(p);
    return 0;
}

static int get_str(struct rd *r, int off, const char *node, const char *name, char *out, size_t size)
{
    int len;
    const char *p = prop(r, off, node, name, &len);
    if (!p)
        return -1;
    if (len < 1 || p[len - 1] != 0 || (size_t)len > size)
        return bad(r, node, name, "not a string of the expected size");
    str_copy(out, p, size);
    return 0;
}

static int sub(struct rd *r, const char *path)
{
    int off = fdt_path_offset(r->fdt, path);
    if (off < 0)
        fmt_snprintf(r->err, r->errlen, "boot-info: node %s missing", path);
    return off;
}

int bootinfo_parse(const void *fdt, struct bootinfo *bi, char *err, size_t errlen)
{
    struct rd r = { fdt, err, errlen };
    memset(bi, 0, sizeof(*bi));
    int e = fdt_check_header(fdt);
    if (e) {
        fmt_snprintf(err, errlen, "boot-info: not a device tree: %s", fdt_strerror(e));
        return -1;
    }
    if (fdt_node_check_compatible(fdt, 0, BOOTINFO_COMPATIBLE)) {
        fmt_snprintf(err, errlen, "boot-info: not compatible with %s", BOOTINFO_COMPATIBLE);
        return -1;
    }
    if (get_str(&r, 0, "", "loader", bi->loader, sizeof(bi->loader)))
        return -1;

    int off, len;
    if ((off = sub(&r, "/chosen")) < 0)
        return -1;
    if (!(bi->config = prop(&r, off, "/chosen", "config", &len)))
        return -1;
    bi->config_len = (uint32_t)len;
    if (get_str(&r, off, "/chosen", "config-name", bi->config_name, sizeof(bi->config_name)))
        return -1;

    if ((off = sub(&r, "/memory-map")) < 0)
        return -1;
    if (get_u32(&r, off, "/memory-map", "desc-size", &bi->desc_size) ||
        get_u32(&r, off, "/memory-map", "desc-version", &bi->desc_version))
        return -1;
    if (!(bi->memmap = prop(&r, off, "/memory-map", "map", &len)))
        return -1;
    bi->memmap_size = (uint32_t)len;
    if (bi->desc_size < sizeof(struct efi_memdesc) || bi->memmap_size % bi->desc_size)
        return bad(&r, "/memory-map", "map", "descriptor size does not divide the map");

    if ((off = sub(&r, "/kernel")) < 0)
        return -1;
    if (get_u64(&r, off, "/kernel", "phys", &bi->kernel_phys) ||
        get_u64(&r, off, "/kernel", "size", &bi->kernel_size) ||
        get_u64(&r, off, "/kernel", "virt", &bi->kernel_virt))
        return -1;

    if ((off = sub(&r, "/acpi")) < 0)
        return -1;
    if (get_u64(&r, off, "/acpi", "rsdp", &bi->rsdp))
        return -1;

    off = fdt_path_offset(fdt, "/framebuffer");
    if (off >= 0) {
        bi->fb_present = true;
        if (get_u64(&r, off, "/framebuffer", "base", &bi->fb_base) ||
            get_u64(&r, off, "/framebuffer", "size", &bi->fb_size) ||
            get_u32(&r, off, "/framebuffer", "width", &bi->fb_width) ||
            get_u32(&r, off, "/framebuffer", "height", &bi->fb_height) ||
            get_u32(&r, off, "/framebuffer", "stride", &bi->fb_stride) ||
            get_u32(&r, off, "/framebuffer", "format", &bi->fb_format))
            return -1;
    }

    if ((off = sub(&r, "/reserved")) < 0)
        return -1;
    int child;
    fdt_for_each_subnode(child, fdt, off) {
        if (bi->nreserved == BI_MAX_RESERVED)
            return bad(&r, "/reserved", "", "too many regions");
        struct bi_region *g = &bi->reserved[bi->nreserved++];
        const char *name = fdt_get_name(fdt, child, NULL);
        str_copy(g->name, name ? name : "?", sizeof(g->name));
        if (get_u64(&r, child, "/reserved", "base", &g->base) || get_u64(&r, child, "/reserved", "size", &g->size))
            return -1;
    }

    if ((off = sub(&r, "/files")) < 0)
        return -1;
    fdt_for_each_subnode(child, fdt, off) {
        if (bi->nfiles == BI_MAX_FILES)
            return bad(&r, "/files", "", "too many files");
        struct bi_file *f = &bi->files[bi->nfiles++];
        const char *name = fdt_get_name(fdt, child, NULL);
        str_copy(f->key, name ? name : "?", sizeof(f->key));
        if (get_str(&r, child, "/files", "path", f->path, sizeof(f->path)) ||
            get_u32(&r, child, "/files", "line", &f->line) || get_u32(&r, child, "/files", "status", &f->status) ||
            get_str(&r, child, "/files", "error", f->error, sizeof(f->error)) ||
            get_u64(&r, child, "/files", "base", &f->base) || get_u64(&r, child, "/files", "size", &f->size))
            return -1;
    }

    if ((off = sub(&r, "/nics")) < 0)
        return -1;
    const uint8_t *macs = prop(&r, off, "/nics", "macs", &len);
    if (!macs)
        return -1;
    if (len % 6 || len / 6 > BI_MAX_NICS)
        return bad(&r, "/nics", "macs", "not a list of MAC addresses");
    bi->nnics = (uint32_t)(len / 6);
    memcpy(bi->nic_mac, macs, (size_t)len);
    return 0;
}

const char *efi_memtype_name(uint32_t type)
{
    static const char *const names[] = {
        "reserved", "loader-code", "loader-data", "bs-code", "bs-data", "rt-code", "rt-data", "conventional",
        "unusable", "acpi-reclaim", "acpi-nvs", "mmio", "mmio-port", "pal-code", "persistent",
    };
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "other";
}
