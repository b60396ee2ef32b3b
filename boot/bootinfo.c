/* Build the boot-info FDT (kernel/bootinfo.h) with libfdt's read-write API.
 * Pure memory operations: also used after ExitBootServices and by the host
 * unit tests. */
#include <libfdt.h>
#include "../kernel/bootinfo.h"

#define TRY(x)              \
    do {                    \
        int r_ = (x);       \
        if (r_ < 0)         \
            return r_;      \
    } while (0)

static int node(void *fdt, int parent, const char *name)
{
    int off = fdt_subnode_offset(fdt, parent, name);
    return off >= 0 ? off : fdt_add_subnode(fdt, parent, name);
}

int bootinfo_build(void *buf, size_t bufsize, const struct bootinfo *bi)
{
    TRY(fdt_create_empty_tree(buf, (int)bufsize));
    TRY(fdt_setprop_string(buf, 0, "compatible", BOOTINFO_COMPATIBLE));
    TRY(fdt_setprop_string(buf, 0, "loader", bi->loader));

    int chosen = node(buf, 0, "chosen");
    TRY(chosen);
    TRY(fdt_setprop(buf, chosen, "config", bi->config, (int)bi->config_len));
    TRY(fdt_setprop_string(buf, chosen, "config-name", bi->config_name));

    int k = node(buf, 0, "kernel");
    TRY(k);
    TRY(fdt_setprop_u64(buf, k, "phys", bi->kernel_phys));
    TRY(fdt_setprop_u64(buf, k, "size", bi->kernel_size));
    TRY(fdt_setprop_u64(buf, k, "virt", bi->kernel_virt));

    int acpi = node(buf, 0, "acpi");
    TRY(acpi);
    TRY(fdt_setprop_u64(buf, acpi, "rsdp", bi->rsdp));

    if (bi->fb_present) {
        int fb = node(buf, 0, "framebuffer");
        TRY(fb);
        TRY(fdt_setprop_u64(buf, fb, "base", bi->fb_base));
        TRY(fdt_setprop_u64(buf, fb, "size", bi->fb_size));
        TRY(fdt_setprop_u32(buf, fb, "width", bi->fb_width));
        TRY(fdt_setprop_u32(buf, fb, "height", bi->fb_height));
        TRY(fdt_setprop_u32(buf, fb, "stride", bi->fb_stride));
        TRY(fdt_setprop_u32(buf, fb, "format", bi->fb_format));
    }

    int res = node(buf, 0, "reserved");
    TRY(res);
    for (uint32_t i = 0; i < bi->nreserved && i < BI_MAX_RESERVED; i++) {
        int r = fdt_add_subnode(buf, res, bi->reserved[i].name);
        TRY(r);
        TRY(fdt_setprop_u64(buf, r, "base", bi->reserved[i].base));
        TRY(fdt_setprop_u64(buf, r, "size", bi->reserved[i].size));
    }

    int files = node(buf, 0, "files");
    TRY(files);
    for (uint32_t i = 0; i < bi->nfiles && i < BI_MAX_FILES; i++) {
        const struct bi_file *f = &bi->files[i];
        int n = fdt_add_subnode(buf, files, f->key);
        TRY(n);
        TRY(fdt_setprop_string(buf, n, "path", f->path));
        TRY(fdt_setprop_u32(buf, n, "line", f->line));
        TRY(fdt_setprop_u32(buf, n, "status", f->status));
        TRY(fdt_setprop_string(buf, n, "error", f->error));
        TRY(fdt_setprop_u64(buf, n, "base", f->base));
        TRY(fdt_setprop_u64(buf, n, "size", f->size));
    }

    int nics = node(buf, 0, "nics");
    TRY(nics);
    TRY(fdt_setprop(buf, nics, "macs", bi->nic_mac, (int)(6 * (bi->nnics < BI_MAX_NICS ? bi->nnics : BI_MAX_NICS))));

    /* Reserve the memory-map node now so that adding the map later only
     * grows one property. */
    int mm = node(buf, 0, "memory-map");
    TRY(mm);
    return 0;
}

int bootinfo_set_memmap(void *buf, const void *map, uint32_t size, uint32_t desc_size, uint32_t desc_version)
{
    int mm = fdt_path_offset(buf, "/memory-map");
    TRY(mm);
    TRY(fdt_setprop_u32(buf, mm, "desc-size", desc_size));
    TRY(fdt_setprop_u32(buf, mm, "desc-version", desc_version));
    TRY(fdt_setprop(buf, mm, "map", map, (int)size));
    return fdt_pack(buf);
}
