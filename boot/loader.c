/* The ftvisor UEFI loader (BOOTX64.EFI).
 *
 * Finds the volume it was started from, loads ftvisor.elf, reads
 * ftvisor.conf and the files it names, collects the ACPI RSDP, the GOP
 * framebuffer and the MACs of the NICs the firmware drives, builds the
 * boot-info FDT (kernel/bootinfo.h) and page tables for the hypervisor's
 * address space (kernel/layout.h), calls ExitBootServices and jumps.
 *
 * The loader never judges the config: it passes the text on and the kernel
 * reports any error with its line number on both consoles. It only parses
 * the config to learn which files to load. */
#include <efi.h>
#include <efilib.h>
#include <libfdt.h>
#include "elf.h"
#include "../kernel/bootinfo.h"
#include "../kernel/config.h"
#include "../kernel/layout.h"
#include "../kernel/strutil.h"

#define LOADER_NAME "ftvisor-loader 0.1"
#define CONFIG_FILE "ftvisor.conf"
#define KERNEL_FILE "ftvisor.elf"
#define PAGE 4096ull

void boot_jump(uint64_t cr3, uint64_t entry, uint64_t fdt) __attribute__((noreturn));

static EFI_HANDLE image_handle;
static struct bootinfo bi;
static struct config cfg;

/* The launchers and the test runner look for "ftvisor: PANIC": a loader
 * failure is reported the same way as a kernel one, then the machine is
 * powered off so an unattended boot never sits in the firmware menu. */
static void __attribute__((noreturn)) fatal(const CHAR16 *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    Print(L"ftvisor: PANIC: loader: ");
    VPrint(fmt, ap);
    va_end(ap);
    Print(L"\n");
    uefi_call_wrapper(BS->Stall, 1, 500000);
    uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_LOAD_ERROR, 0, NULL);
    for (;;)
        __asm__ volatile("hlt");
}

static void ascii_to_wide(CHAR16 *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = src[i] == '/' ? L'\\' : (CHAR16)(unsigned char)src[i];
    dst[i] = 0;
}

/* Short words for the UEFI status codes a file read can end with. */
static const char *status_name(EFI_STATUS s)
{
    switch (s) {
    case EFI_NOT_FOUND: return "not found";
    case EFI_OUT_OF_RESOURCES: return "out of memory";
    case EFI_DEVICE_ERROR: return "device error";
    case EFI_VOLUME_CORRUPTED: return "volume corrupted";
    case EFI_ACCESS_DENIED: return "access denied";
    case EFI_MEDIA_CHANGED: return "media changed";
    case EFI_NO_MEDIA: return "no media";
    case EFI_BAD_BUFFER_SIZE: return "is a directory";
    default: return "read error";
    }
}

static uint64_t pages_for(uint64_t bytes) { return (bytes + PAGE - 1) / PAGE; }

static EFI_STATUS alloc_pages(uint64_t npages, uint64_t *pa)
{
    EFI_PHYSICAL_ADDRESS a = 0;
    EFI_STATUS s = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, npages, &a);
    *pa = a;
    return s;
}

static void reserve(const char *name, uint64_t base, uint64_t size)
{
    if (bi.nreserved == BI_MAX_RESERVED)
        fatal(L"too many reserved regions");
    struct bi_region *r = &bi.reserved[bi.nreserved++];
    str_copy(r->name, name, sizeof(r->name));
    r->base = base;
    r->size = size;
}

/* Read a whole file from the boot volume into fresh pages. */
static EFI_STATUS read_file(EFI_FILE_HANDLE root, const char *path, uint64_t *base, uint64_t *size)
{
    CHAR16 wpath[CFG_PATH_MAX + 2];
    wpath[0] = L'\\';
    ascii_to_wide(wpath + 1, path, CFG_PATH_MAX + 1);
    EFI_FILE_HANDLE f;
    EFI_STATUS s = uefi_call_wrapper(root->Open, 5, root, &f, wpath, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(s))
        return s;
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) {
        uefi_call_wrapper(f->Close, 1, f);
        return EFI_DEVICE_ERROR;
    }
    if (info->Attribute & EFI_FILE_DIRECTORY) {
        FreePool(info);
        uefi_call_wrapper(f->Close, 1, f);
        return EFI_BAD_BUFFER_SIZE;
    }
    uint64_t n = info->FileSize;
    FreePool(info);
    uint64_t pa = 0;
    s = alloc_pages(pages_for(n ? n : 1), &pa);
    if (!EFI_ERROR(s)) {
        UINTN got = n;
        s = uefi_call_wrapper(f->Read, 3, f, &got, (void *)pa);
        if (!EFI_ERROR(s) && got != n)
            s = EFI_DEVICE_ERROR;
        if (EFI_ERROR(s))
            uefi_call_wrapper(BS->FreePages, 2, pa, pages_for(n ? n : 1));
    }
    uefi_call_wrapper(f->Close, 1, f);
    *base = pa;
    *size = n;
    return s;
}

/* ---- the hypervisor image ---------------------------------------------- */

static uint64_t kernel_entry;

static void load_kernel(uint64_t file, uint64_t fsize)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)file;
    if (fsize < sizeof(*eh) || CompareMem(eh->e_ident, ELFMAG, 4) != 0 || eh->e_ident[4] != ELFCLASS64 ||
        eh->e_ident[5] != ELFDATA2LSB || eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
        fatal(L"%a is not an x86-64 ELF executable", KERNEL_FILE);
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > 64 ||
        eh->e_phoff > fsize || fsize - eh->e_phoff < (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))
        fatal(L"%a: bad program headers", KERNEL_FILE);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(file + eh->e_phoff);
    uint64_t lo = ~0ull, hi = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (ph[i].p_offset > fsize || fsize - ph[i].p_offset < ph[i].p_filesz || ph[i].p_filesz > ph[i].p_memsz ||
            ph[i].p_vaddr < KERNEL_VBASE || ph[i].p_memsz > (1ull << 30))
            fatal(L"%a: segment %d is out of bounds", KERNEL_FILE, i);
        if (ph[i].p_vaddr < lo)
            lo = ph[i].p_vaddr;
        if (ph[i].p_vaddr + ph[i].p_memsz > hi)
            hi = ph[i].p_vaddr + ph[i].p_memsz;
    }
    if (lo == ~0ull)
        fatal(L"%a has no loadable segment", KERNEL_FILE);
    lo &= ~(PAGE - 1);
    hi = (hi + PAGE - 1) & ~(PAGE - 1);
    if (eh->e_entry < lo || eh->e_entry >= hi)
        fatal(L"%a: entry point outside the image", KERNEL_FILE);
    uint64_t pa;
    if (EFI_ERROR(alloc_pages((hi - lo) / PAGE, &pa)))
        fatal(L"no memory for the hypervisor image (%ld KiB)", (hi - lo) / 1024);
    SetMem((void *)pa, hi - lo, 0);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD)
            CopyMem((void *)(pa + ph[i].p_vaddr - lo), (void *)(file + ph[i].p_offset), ph[i].p_filesz);
    bi.kernel_phys = pa;
    bi.kernel_size = hi - lo;
    bi.kernel_virt = lo;
    kernel_entry = eh->e_entry;
    reserve("kernel", pa, hi - lo);
}

/* ---- page tables for the jump ------------------------------------------ */

#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_PS 0x80ull

static uint64_t pt_pool, pt_used, pt_count;

static uint64_t *pt_alloc(void)
{
    if (pt_used == pt_count)
        fatal(L"page-table pool exhausted");
    uint64_t *p = (uint64_t *)(pt_pool + PAGE * pt_used++);
    SetMem(p, PAGE, 0);
    return p;
}

/* Highest physical address of any memory the firmware describes, and at
 * least 4 GiB so the local APIC and other low MMIO are covered. */
static uint64_t phys_top(void)
{
    UINTN size = 0, key, dsize;
    UINT32 dver;
    EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&size, &key, &dsize, &dver);
    if (!map)
        fatal(L"cannot read the memory map");
    uint64_t top = 4ull << 30;
    for (UINTN off = 0; off < size * dsize; off += dsize) {
        EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((uint8_t *)map + off);
        uint64_t end = d->PhysicalStart + d->NumberOfPages * PAGE;
        if (end > top)
            top = end;
    }
    FreePool(map);
    return top;
}

/* The loader's tables: physmap and an identity map of [0, top) sharing
 * the same PDPTs, plus the hypervisor image at its link address. Nothing is
 * NX here: the firmware may not have enabled EFER.NXE, and the kernel
 * replaces these tables with W^X ones as soon as it runs. */
static uint64_t build_page_tables(void)
{
    uint64_t top = phys_top();
    if (top > (512ull << 30)) {
        Print(L"ftvisor loader: warning: memory above 512 GiB is not mapped\n");
        top = 512ull << 30;
    }
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001), "c"(0));
    int gb_pages = (d >> 26) & 1;
    uint64_t gibs = (top + (1ull << 30) - 1) >> 30;
    uint64_t kpages = bi.kernel_size / PAGE;
    pt_count = 1 + 1 + (gb_pages ? 0 : gibs) + 2 + (kpages + 511) / 512 + 1;
    if (EFI_ERROR(alloc_pages(pt_count, &pt_pool)))
        fatal(L"no memory for page tables");
    reserve("boot-pagetables", pt_pool, pt_count * PAGE);

    uint64_t *pml4 = pt_alloc();
    uint64_t *pdpt = pt_alloc();
    for (uint64_t g = 0; g < gibs; g++) {
        if (gb_pages) {
            pdpt[g] = (g << 30) | PTE_P | PTE_W | PTE_PS;
        } else {
            uint64_t *pd = pt_alloc();
            for (int i = 0; i < 512; i++)
                pd[i] = ((g << 30) + ((uint64_t)i << 21)) | PTE_P | PTE_W | PTE_PS;
            pdpt[g] = (uint64_t)pd | PTE_P | PTE_W;
        }
    }
    pml4[0] = (uint64_t)pdpt | PTE_P | PTE_W;
    pml4[(PHYSMAP_BASE >> 39) & 511] = (uint64_t)pdpt | PTE_P | PTE_W;

    /* The image: 4 KiB pages from its link address (which linker.ld keeps
     * inside the last GiB) to where it was loaded. */
    uint64_t *kpdpt = pt_alloc();
    uint64_t *kpd = pt_alloc();
    pml4[(KERNEL_VBASE >> 39) & 511] = (uint64_t)kpdpt | PTE_P | PTE_W;
    kpdpt[(KERNEL_VBASE >> 30) & 511] = (uint64_t)kpd | PTE_P | PTE_W;
    for (uint64_t i = 0; i < kpages; i++) {
        uint64_t va = bi.kernel_virt + i * PAGE;
        if ((va >> 30) != (KERNEL_VBASE >> 30))
            fatal(L"hypervisor image is outside its 1 GiB window");
        uint64_t pdi = (va >> 21) & 511;
        if (!kpd[pdi])
            kpd[pdi] = (uint64_t)pt_alloc() | PTE_P | PTE_W;
        uint64_t *pt = (uint64_t *)(kpd[pdi] & ~0xfffull);
        pt[(va >> 12) & 511] = (bi.kernel_phys + i * PAGE) | PTE_P | PTE_W;
    }
    return (uint64_t)pml4;
}

/* ---- firmware facts ---------------------------------------------------- */

static void find_rsdp(void)
{
    EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
        if (CompareGuid(&ST->ConfigurationTable[i].VendorGuid, &acpi20) == 0)
            bi.rsdp = (uint64_t)ST->ConfigurationTable[i].VendorTable;
    if (!bi.rsdp)
        for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
            if (CompareGuid(&ST->ConfigurationTable[i].VendorGuid, &acpi10) == 0)
                bi.rsdp = (uint64_t)ST->ConfigurationTable[i].VendorTable;
}

static void find_framebuffer(void)
{
    EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &gEfiGraphicsOutputProtocolGuid, NULL, (void **)&gop)) ||
        !gop || !gop->Mode || !gop->Mode->Info)
        return;
    EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *info = gop->Mode->Info;
    if (info->PixelFormat != PixelRedGreenBlueReserved8BitPerColor &&
        info->PixelFormat != PixelBlueGreenRedReserved8BitPerColor)
        return; /* bit-mask and blt-only modes: no text console there */
    bi.fb_present = true;
    bi.fb_base = gop->Mode->FrameBufferBase;
    bi.fb_size = gop->Mode->FrameBufferSize;
    bi.fb_width = info->HorizontalResolution;
    bi.fb_height = info->VerticalResolution;
    bi.fb_stride = info->PixelsPerScanLine;
    bi.fb_format = info->PixelFormat == PixelRedGreenBlueReserved8BitPerColor ? BI_FB_RGBX : BI_FB_BGRX;
}

/* The MACs of NICs that have a UEFI driver (servers, QEMU's iPXE ROMs):
 * how one image finds which [host] of the config it is. */
static void find_nics(void)
{
    UINTN n = 0;
    EFI_HANDLE *h = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateHandleBuffer, 5, ByProtocol, &gEfiSimpleNetworkProtocolGuid, NULL, &n,
                                    &h)))
        return;
    for (UINTN i = 0; i < n && bi.nnics < BI_MAX_NICS; i++) {
        EFI_SIMPLE_NETWORK *snp = NULL;
        if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, h[i], &gEfiSimpleNetworkProtocolGuid, (void **)&snp)) ||
            !snp || !snp->Mode || snp->Mode->HwAddressSize != 6)
            continue;
        const uint8_t *mac = snp->Mode->PermanentAddress.Addr;
        int dup = 0;
        for (uint32_t j = 0; j < bi.nnics; j++)
            dup |= CompareMem(bi.nic_mac[j], mac, 6) == 0;
        if (!dup)
            CopyMem(bi.nic_mac[bi.nnics++], (void *)mac, 6);
    }
    FreePool(h);
}

/* ---- main -------------------------------------------------------------- */

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    InitializeLib(image, systab);
    image_handle = image;
    /* The firmware's watchdog would reset us after 5 minutes in the loader;
     * we leave boot services long before, but a slow disk must not reboot. */
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
    Print(L"\r\nftvisor loader: %a\n", LOADER_NAME);
    str_copy(bi.loader, LOADER_NAME, sizeof(bi.loader));

    EFI_LOADED_IMAGE *li;
    if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &gEfiLoadedImageProtocolGuid, (void **)&li)))
        fatal(L"no loaded-image protocol");
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
    if (!root)
        fatal(L"cannot open the boot volume");

    uint64_t kbase, ksize;
    EFI_STATUS s = read_file(root, KERNEL_FILE, &kbase, &ksize);
    if (EFI_ERROR(s))
        fatal(L"cannot read \\%a: %a", KERNEL_FILE, status_name(s));
    load_kernel(kbase, ksize);
    uefi_call_wrapper(BS->FreePages, 2, kbase, pages_for(ksize));
    Print(L"ftvisor loader: %a: %ld KiB at 0x%lx\n", KERNEL_FILE, bi.kernel_size / 1024, bi.kernel_phys);

    uint64_t cbase, csize;
    s = read_file(root, CONFIG_FILE, &cbase, &csize);
    if (EFI_ERROR(s))
        fatal(L"cannot read \\%a: %a", CONFIG_FILE, status_name(s));
    bi.config = (const char *)cbase;
    bi.config_len = (uint32_t)csize;
    str_copy(bi.config_name, CONFIG_FILE, sizeof(bi.config_name));

    /* Load the files a valid config names; with an invalid one, load none
     * and let the kernel report the error with its line. */
    char err[CFG_ERR_MAX];
    if (config_parse(bi.config, bi.config_len, CONFIG_FILE, &cfg, err, sizeof(err)) == 0) {
        const char *key;
        const struct cfg_file *f;
        for (int i = 0; (f = config_file(&cfg, i, &key)) != NULL; i++) {
            if (!f->path[0])
                continue;
            struct bi_file *bf = &bi.files[bi.nfiles++];
            str_copy(bf->key, key, sizeof(bf->key));
            str_copy(bf->path, f->path, sizeof(bf->path));
            bf->line = (uint32_t)f->line;
            s = read_file(root, f->path, &bf->base, &bf->size);
            if (EFI_ERROR(s)) {
                bf->status = (uint32_t)(s & 0xffff) ? (uint32_t)(s & 0xffff) : 1;
                str_copy(bf->error, status_name(s), sizeof(bf->error));
                bf->base = bf->size = 0;
                Print(L"ftvisor loader: %a: %a\n", f->path, status_name(s));
            } else {
                char rname[24] = "file-";
                str_copy(rname + 5, key, sizeof(rname) - 5);
                reserve(rname, bf->base, pages_for(bf->size ? bf->size : 1) * PAGE);
                Print(L"ftvisor loader: %a: %ld KiB\n", f->path, bf->size / 1024);
            }
        }
    }

    find_rsdp();
    find_framebuffer();
    find_nics();
    Print(L"ftvisor loader: ACPI RSDP %a, framebuffer %a, %d NIC%a with UEFI drivers\n",
          bi.rsdp ? "found" : "NOT found", bi.fb_present ? "found" : "none", bi.nnics, bi.nnics == 1 ? "" : "s");
    if (!bi.rsdp)
        for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
            Print(L"ftvisor loader:   config table %g\n", &ST->ConfigurationTable[i].VendorGuid);
    uint64_t cr3 = build_page_tables();

    /* The boot-info tree: the config, reserved list and file table now, the
     * memory map after ExitBootServices. Room for the map with slack for the
     * descriptors our own allocations add. */
    UINTN msize = 0, mkey, dsize;
    UINT32 dver;
    uefi_call_wrapper(BS->GetMemoryMap, 5, &msize, NULL, &mkey, &dsize, &dver);
    uint64_t map_room = msize + 64 * dsize;
    uint64_t fdt_size = 16384 + bi.config_len + map_room + BI_MAX_RESERVED * 64 + BI_MAX_FILES * 256;
    uint64_t fdt, mapbuf;
    if (EFI_ERROR(alloc_pages(pages_for(fdt_size), &fdt)) || EFI_ERROR(alloc_pages(pages_for(map_room), &mapbuf)))
        fatal(L"no memory for the boot-info tree");
    reserve("boot-info", fdt, pages_for(fdt_size) * PAGE);
    int r = bootinfo_build((void *)fdt, fdt_size, &bi);
    if (r < 0)
        fatal(L"building the boot-info tree: %a", fdt_strerror(r));
    Print(L"ftvisor loader: starting the hypervisor\n");

    /* No firmware console output from here on: printing can allocate and
     * change the map key. ExitBootServices fails with EFI_INVALID_PARAMETER
     * when the map changed since GetMemoryMap; then read it again. */
    for (int tries = 0;; tries++) {
        msize = map_room;
        s = uefi_call_wrapper(BS->GetMemoryMap, 5, &msize, (EFI_MEMORY_DESCRIPTOR *)mapbuf, &mkey, &dsize, &dver);
        if (EFI_ERROR(s))
            fatal(L"GetMemoryMap: %r", s);
        s = uefi_call_wrapper(BS->ExitBootServices, 2, image_handle, mkey);
        if (!EFI_ERROR(s))
            break;
        if (s != EFI_INVALID_PARAMETER || tries == 8)
            fatal(L"ExitBootServices: %r", s);
    }
    /* Boot services are gone: only memory writes from here. */
    /* Should this fail, the tree lacks /memory-map/map and the kernel says
     * so on its serial console: better than a silent hang here. */
    bootinfo_set_memmap((void *)fdt, (void *)mapbuf, (uint32_t)msize, (uint32_t)dsize, dver);
    boot_jump(cr3, kernel_entry, fdt);
}
