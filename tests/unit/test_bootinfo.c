/* The boot-info FDT: boot/bootinfo.c builds it, kernel/bootinfo.c reads it
 * back. Round trips, and the parser's rejection of malformed trees. */
#include "test.h"
#include <stdint.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/wait.h>
#include <libfdt.h>
#include "../../kernel/bootinfo.h"

#define BUF_SIZE (64 * 1024)
#define DESC_SIZE 48 /* > sizeof(struct efi_memdesc): firmware padding */
#define NDESC 4

static uint64_t fdt_buf[BUF_SIZE / 8]; /* 8-byte aligned for libfdt */
static uint8_t memmap[NDESC * DESC_SIZE];
static const char config_text[] = "# test\n[host alpha]\nmac = 52:54:00:00:00:01\r\nip = 10.0.0.1\n\nnetmask = "
                                  "255.255.255.0\n";

static const struct bi_region *find_region(const struct bootinfo *bi, const char *name)
{
    for (uint32_t i = 0; i < bi->nreserved; i++)
        if (strcmp(bi->reserved[i].name, name) == 0)
            return &bi->reserved[i];
    return NULL;
}

static const struct bi_file *find_file(const struct bootinfo *bi, const char *key)
{
    for (uint32_t i = 0; i < bi->nfiles; i++)
        if (strcmp(bi->files[i].key, key) == 0)
            return &bi->files[i];
    return NULL;
}

static void fill_memmap(void)
{
    static const struct efi_memdesc d[NDESC] = {
        { EFI_CONVENTIONAL, 0, 0, 0, 0x9f, 0xf },
        { EFI_LOADER_CODE, 0, 0x100000, 0, 0x200, 0xf },
        { EFI_RT_DATA, 0, 0x7f000000, 0x7f000000, 0x10, 0x800000000000000full },
        { EFI_MMIO, 0, 0xfec00000, 0, 1, 0x8000000000000001ull },
    };
    for (int i = 0; i < NDESC; i++) {
        memset(memmap + i * DESC_SIZE, 0xc0 + i, DESC_SIZE); /* padding bytes survive too */
        memcpy(memmap + i * DESC_SIZE, &d[i], sizeof(d[i]));
    }
}

/* Everything filled in. */
static void full_bootinfo(struct bootinfo *bi)
{
    memset(bi, 0, sizeof(*bi));
    strcpy(bi->loader, "ftvisor-loader test-1.2");
    bi->config = config_text;
    bi->config_len = sizeof(config_text) - 1;
    strcpy(bi->config_name, "ftvisor.conf");
    fill_memmap();
    bi->kernel_phys = 0x1000000;
    bi->kernel_size = 0x345000;
    bi->kernel_virt = 0xffffffff80000000ull;
    bi->rsdp = 0x7fbfe014;
    bi->fb_present = true;
    bi->fb_base = 0x80000000;
    bi->fb_size = 1024 * 768 * 4;
    bi->fb_width = 1024;
    bi->fb_height = 768;
    bi->fb_stride = 1040;
    bi->fb_format = BI_FB_BGRX;
    bi->nreserved = 3;
    bi->reserved[0] = (struct bi_region){ "kernel", 0x1000000, 0x345000 };
    bi->reserved[1] = (struct bi_region){ "boot-pagetables", 0x2000000, 0x6000 };
    bi->reserved[2] = (struct bi_region){ "file-kernel", 0x3000000, 0x9a5000 };
    bi->nfiles = 2;
    bi->files[0] = (struct bi_file){ "kernel", "guest/bzImage", 14, 0, "", 0x3000000, 0x9a4321 };
    bi->files[1] = (struct bi_file){ "initrd", "guest/initrd.img", 15, 14, "Not Found", 0, 0 };
    bi->nnics = 2;
    memcpy(bi->nic_mac[0], "\x52\x54\x00\x12\x34\x56", 6);
    memcpy(bi->nic_mac[1], "\x02\x00\x00\xab\xcd\xef", 6);
}

/* Regression (was a bug in kernel/bootinfo.c:37): get_u64 reads a property as
 * *(const fdt64_t *)p, but FDT property values are only 4-byte aligned, so
 * every tree the loader builds has u64 properties at addresses = 4 mod 8
 * (/kernel holds three in a row). UBSan reports "load of misaligned
 * address ... for type 'const fdt64_t'" and, with -fno-sanitize-recover,
 * kills the process: every case below that parses a complete tree fails
 * with "bootinfo_parse died". Reading with libfdt's fdt64_ld(p) fixes it;
 * with that one change all cases here pass.
 *
 * bootinfo_parse in a child process, so that a sanitizer abort inside it
 * fails the one case (with the report on stderr) instead of ending the
 * whole run. The child's results come back through a pipe; pointers in
 * *bi point into fdt, which is at the same address in both processes.
 * Returns bootinfo_parse's result, or -2 when the child died. */
static int parse(const void *fdt, struct bootinfo *bi, char *err, size_t errlen)
{
    struct result {
        int r;
        struct bootinfo bi;
        char err[256];
    } res;
    int fds[2];
    if (errlen > sizeof(res.err) || pipe(fds) != 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        close(fds[0]);
        memcpy(res.err, err, errlen);
        memcpy(&res.bi, bi, sizeof(res.bi));
        res.r = bootinfo_parse(fdt, &res.bi, res.err, errlen);
        const char *p = (const char *)&res;
        size_t left = sizeof(res);
        while (left) {
            ssize_t n = write(fds[1], p, left);
            if (n <= 0)
                _exit(3);
            p += n, left -= (size_t)n;
        }
        _exit(0);
    }
    close(fds[1]);
    char *p = (char *)&res;
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(res) && (n = read(fds[0], p + got, sizeof(res) - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != sizeof(res) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        TEST_FAIL("bootinfo_parse died (exit status 0x%x): see the sanitizer report on stderr", status);
        if (errlen)
            snprintf(err, errlen, "(died)");
        return -2;
    }
    memcpy(bi, &res.bi, sizeof(*bi));
    memcpy(err, res.err, errlen);
    return res.r;
}

/* Build, add the memory map, parse; 0 when all three succeed. */
static int round_trip(const struct bootinfo *in, struct bootinfo *out, char *err, size_t errlen)
{
    memset(fdt_buf, 0, sizeof(fdt_buf));
    int r = bootinfo_build(fdt_buf, sizeof(fdt_buf), in);
    if (r < 0) {
        snprintf(err, errlen, "bootinfo_build: %s", fdt_strerror(r));
        return r;
    }
    r = bootinfo_set_memmap(fdt_buf, memmap, sizeof(memmap), DESC_SIZE, 1);
    if (r < 0) {
        snprintf(err, errlen, "bootinfo_set_memmap: %s", fdt_strerror(r));
        return r;
    }
    return parse(fdt_buf, out, err, errlen);
}

static bool inside_fdt(const void *p)
{
    return (const uint8_t *)p >= (const uint8_t *)fdt_buf &&
           (const uint8_t *)p < (const uint8_t *)fdt_buf + fdt_totalsize(fdt_buf);
}

TEST(round_trip_everything)
{
    struct bootinfo in, out;
    char err[128] = "";
    full_bootinfo(&in);
    if (round_trip(&in, &out, err, sizeof(err)) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_STR(out.loader, in.loader);
    CHECK_EQ(out.config_len, in.config_len);
    CHECK(inside_fdt(out.config));
    CHECK(memcmp(out.config, config_text, in.config_len) == 0);
    CHECK_STR(out.config_name, "ftvisor.conf");

    CHECK(inside_fdt(out.memmap));
    CHECK_EQ(out.memmap_size, sizeof(memmap));
    CHECK_EQ(out.desc_size, DESC_SIZE);
    CHECK_EQ(out.desc_version, 1);
    CHECK(memcmp(out.memmap, memmap, sizeof(memmap)) == 0);

    CHECK_EQ(out.kernel_phys, in.kernel_phys);
    CHECK_EQ(out.kernel_size, in.kernel_size);
    CHECK_EQ(out.kernel_virt, in.kernel_virt);
    CHECK_EQ(out.rsdp, in.rsdp);

    CHECK(out.fb_present);
    CHECK_EQ(out.fb_base, in.fb_base);
    CHECK_EQ(out.fb_size, in.fb_size);
    CHECK_EQ(out.fb_width, 1024);
    CHECK_EQ(out.fb_height, 768);
    CHECK_EQ(out.fb_stride, 1040);
    CHECK_EQ(out.fb_format, BI_FB_BGRX);

    /* Nodes come back by name (libfdt may reorder siblings). */
    CHECK_EQ(out.nreserved, 3);
    for (uint32_t i = 0; i < in.nreserved; i++) {
        const struct bi_region *g = find_region(&out, in.reserved[i].name);
        CHECK(g != NULL);
        if (!g)
            continue;
        CHECK_EQ(g->base, in.reserved[i].base);
        CHECK_EQ(g->size, in.reserved[i].size);
    }

    CHECK_EQ(out.nfiles, 2);
    for (uint32_t i = 0; i < in.nfiles; i++) {
        const struct bi_file *f = find_file(&out, in.files[i].key);
        CHECK(f != NULL);
        if (!f)
            continue;
        CHECK_STR(f->path, in.files[i].path);
        CHECK_EQ(f->line, in.files[i].line);
        CHECK_EQ(f->status, in.files[i].status);
        CHECK_STR(f->error, in.files[i].error);
        CHECK_EQ(f->base, in.files[i].base);
        CHECK_EQ(f->size, in.files[i].size);
    }

    CHECK_EQ(out.nnics, 2);
    CHECK(memcmp(out.nic_mac, in.nic_mac, 12) == 0);
}

TEST(round_trip_without_framebuffer)
{
    struct bootinfo in, out;
    char err[128] = "";
    full_bootinfo(&in);
    in.fb_present = false;
    in.fb_base = 0x1234; /* ignored when not present */
    if (round_trip(&in, &out, err, sizeof(err)) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK(!out.fb_present);
    CHECK_EQ(out.fb_base, 0);
    CHECK_EQ(out.fb_width, 0);
    CHECK_EQ(out.rsdp, in.rsdp);
}

TEST(round_trip_empty_lists)
{
    struct bootinfo in, out;
    char err[128] = "";
    full_bootinfo(&in);
    in.nnics = 0;
    in.nfiles = 0;
    in.nreserved = 0;
    if (round_trip(&in, &out, err, sizeof(err)) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_EQ(out.nnics, 0);
    CHECK_EQ(out.nfiles, 0);
    CHECK_EQ(out.nreserved, 0);
    CHECK_STR(out.loader, in.loader);
}

TEST(round_trip_empty_config)
{
    struct bootinfo in, out;
    char err[128] = "";
    full_bootinfo(&in);
    in.config = "";
    in.config_len = 0;
    if (round_trip(&in, &out, err, sizeof(err)) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_EQ(out.config_len, 0);
    CHECK(out.config != NULL);
}

TEST(round_trip_max_nics)
{
    struct bootinfo in, out;
    char err[128] = "";
    full_bootinfo(&in);
    in.nnics = BI_MAX_NICS;
    for (int i = 0; i < BI_MAX_NICS; i++)
        memcpy(in.nic_mac[i], (uint8_t[6]){ 0x02, 0, 0, 0, 0, (uint8_t)(i + 1) }, 6);
    if (round_trip(&in, &out, err, sizeof(err)) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_EQ(out.nnics, BI_MAX_NICS);
    CHECK(memcmp(out.nic_mac, in.nic_mac, sizeof(in.nic_mac)) == 0);
}

TEST(build_into_too_small_buffer_fails)
{
    struct bootinfo in;
    full_bootinfo(&in);
    static const size_t sizes[] = { 0, 40, 64, 256, 512 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(fdt_buf, 0, sizeof(fdt_buf));
        int r = bootinfo_build(fdt_buf, sizes[i], &in);
        if (r >= 0)
            TEST_FAIL("bootinfo_build into %zu bytes returned %d", sizes[i], r);
    }
}

TEST(set_memmap_without_room_fails)
{
    struct bootinfo in;
    full_bootinfo(&in);
    /* The smallest buffer the build fits in leaves no room for the map. */
    size_t size = 256;
    while (size < BUF_SIZE && bootinfo_build(fdt_buf, size, &in) < 0)
        size += 8;
    CHECK(size < BUF_SIZE);
    static uint8_t big[4096];
    CHECK(bootinfo_set_memmap(fdt_buf, big, sizeof(big), DESC_SIZE, 1) < 0);
}

/* ------------------------------------------------------ bad trees ---- */

static char err[256];

/* Parse and check the result is an error starting with "boot-info" and
 * containing what. */
static void rejects_at(int line, const void *fdt, const char *what)
{
    struct bootinfo out;
    memset(err, 0, sizeof(err));
    int r = parse(fdt, &out, err, sizeof(err));
    if (r == -2)
        return;
    if (r != -1)
        TEST_FAIL("line %d: bootinfo_parse returned %d, want -1", line, r);
    else if (strncmp(err, "boot-info", 9) != 0 || !strstr(err, what))
        TEST_FAIL("line %d: error \"%s\" lacks \"%s\"", line, err, what);
}
#define REJECTS(fdt, what) rejects_at(__LINE__, fdt, what)

/* A full, valid tree opened with spare room for edits. */
static void *editable(void)
{
    static uint64_t work[BUF_SIZE / 8];
    struct bootinfo in;
    full_bootinfo(&in);
    if (bootinfo_build(fdt_buf, sizeof(fdt_buf), &in) < 0 ||
        bootinfo_set_memmap(fdt_buf, memmap, sizeof(memmap), DESC_SIZE, 1) < 0 ||
        fdt_open_into(fdt_buf, work, sizeof(work)) != 0)
        TEST_FAIL("could not build the test tree");
    return work;
}

static int node_at(void *fdt, const char *path)
{
    int off = fdt_path_offset(fdt, path);
    if (off < 0)
        TEST_FAIL("no %s in the test tree", path);
    return off;
}

TEST(edited_tree_still_parses)
{
    /* The helpers themselves: an untouched editable tree is accepted. */
    struct bootinfo out;
    void *fdt = editable();
    if (parse(fdt, &out, err, sizeof(err)) != 0) {
        TEST_FAIL("%s", err);
        return;
    }
    CHECK_EQ(out.nfiles, 2);
}

TEST(rejects_garbage)
{
    static uint64_t junk[512];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1664525u + 1013904223u;
        ((uint8_t *)junk)[i] = (uint8_t)(x >> 24);
    }
    REJECTS(junk, "not a device tree");
    memset(junk, 0, sizeof(junk));
    REJECTS(junk, "not a device tree");
}

TEST(rejects_tree_without_compatible)
{
    static uint64_t empty[256];
    CHECK_EQ(fdt_create_empty_tree(empty, sizeof(empty)), 0);
    REJECTS(empty, "not compatible");

    void *fdt = editable();
    CHECK_EQ(fdt_setprop_string(fdt, 0, "compatible", "ftvisor,boot-info-2"), 0);
    REJECTS(fdt, "not compatible");
}

TEST(rejects_missing_loader)
{
    void *fdt = editable();
    CHECK_EQ(fdt_delprop(fdt, 0, "loader"), 0);
    REJECTS(fdt, "loader: missing");
}

TEST(rejects_unterminated_or_oversized_string)
{
    void *fdt = editable();
    CHECK_EQ(fdt_setprop(fdt, 0, "loader", "abc", 3), 0); /* no NUL */
    REJECTS(fdt, "loader: not a string");
    char long_name[80];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = 0; /* 80 bytes > config_name[64] */
    fdt = editable();
    CHECK_EQ(fdt_setprop_string(fdt, node_at(fdt, "/chosen"), "config-name", long_name), 0);
    REJECTS(fdt, "config-name: not a string");
}

TEST(rejects_missing_chosen)
{
    void *fdt = editable();
    CHECK_EQ(fdt_del_node(fdt, node_at(fdt, "/chosen")), 0);
    REJECTS(fdt, "node /chosen missing");
}

TEST(rejects_missing_config)
{
    void *fdt = editable();
    CHECK_EQ(fdt_delprop(fdt, node_at(fdt, "/chosen"), "config"), 0);
    REJECTS(fdt, "/chosen/config: missing");
}

TEST(rejects_map_not_multiple_of_desc_size)
{
    struct bootinfo in;
    full_bootinfo(&in);
    CHECK_EQ(bootinfo_build(fdt_buf, sizeof(fdt_buf), &in), 0);
    CHECK(bootinfo_set_memmap(fdt_buf, memmap, 3 * DESC_SIZE - 8, DESC_SIZE, 1) >= 0);
    REJECTS(fdt_buf, "/memory-map/map: descriptor size does not divide the map");
}

TEST(rejects_desc_size_smaller_than_descriptor)
{
    struct bootinfo in;
    full_bootinfo(&in);
    CHECK_EQ(bootinfo_build(fdt_buf, sizeof(fdt_buf), &in), 0);
    /* 32 divides the map's 192 bytes but is below sizeof(efi_memdesc). */
    CHECK(bootinfo_set_memmap(fdt_buf, memmap, sizeof(memmap), 32, 1) >= 0);
    REJECTS(fdt_buf, "/memory-map/map");
    /* desc-size 0 must not divide by zero. */
    CHECK_EQ(bootinfo_build(fdt_buf, sizeof(fdt_buf), &in), 0);
    CHECK(bootinfo_set_memmap(fdt_buf, memmap, sizeof(memmap), 0, 1) >= 0);
    REJECTS(fdt_buf, "/memory-map/map");
}

TEST(rejects_tree_without_memory_map)
{
    /* bootinfo_build alone, before bootinfo_set_memmap. */
    struct bootinfo in;
    full_bootinfo(&in);
    CHECK_EQ(bootinfo_build(fdt_buf, sizeof(fdt_buf), &in), 0);
    REJECTS(fdt_buf, "/memory-map/desc-size: missing");
}

TEST(rejects_desc_size_of_wrong_width)
{
    void *fdt = editable();
    CHECK_EQ(fdt_setprop_u64(fdt, node_at(fdt, "/memory-map"), "desc-size", DESC_SIZE), 0);
    REJECTS(fdt, "desc-size: not a 32-bit value");
}

TEST(rejects_file_u64_of_wrong_length)
{
    void *fdt = editable();
    CHECK_EQ(fdt_setprop_u32(fdt, node_at(fdt, "/files/kernel"), "base", 0x3000000), 0);
    REJECTS(fdt, "/files/base: not a 64-bit value");
    fdt = editable();
    CHECK_EQ(fdt_setprop(fdt, node_at(fdt, "/files/initrd"), "size", "123456789012", 12), 0);
    REJECTS(fdt, "/files/size: not a 64-bit value");
}

TEST(rejects_file_missing_property)
{
    void *fdt = editable();
    CHECK_EQ(fdt_delprop(fdt, node_at(fdt, "/files/initrd"), "status"), 0);
    REJECTS(fdt, "/files/status: missing");
}

TEST(rejects_kernel_u64_of_wrong_length)
{
    void *fdt = editable();
    CHECK_EQ(fdt_setprop_u32(fdt, node_at(fdt, "/kernel"), "virt", 1), 0);
    REJECTS(fdt, "/kernel/virt: not a 64-bit value");
}

TEST(rejects_incomplete_framebuffer)
{
    void *fdt = editable();
    CHECK_EQ(fdt_delprop(fdt, node_at(fdt, "/framebuffer"), "stride"), 0);
    REJECTS(fdt, "/framebuffer/stride: missing");
}

TEST(rejects_reserved_region_without_size)
{
    void *fdt = editable();
    CHECK_EQ(fdt_delprop(fdt, node_at(fdt, "/reserved/boot-pagetables"), "size"), 0);
    REJECTS(fdt, "/reserved/size: missing");
}

TEST(rejects_bad_nic_list)
{
    void *fdt = editable();
    CHECK_EQ(fdt_setprop(fdt, node_at(fdt, "/nics"), "macs", "\x52\x54\x00\x12\x34", 5), 0);
    REJECTS(fdt, "/nics/macs: not a list of MAC addresses");
    static uint8_t nine[9 * 6];
    fdt = editable();
    CHECK_EQ(fdt_setprop(fdt, node_at(fdt, "/nics"), "macs", nine, sizeof(nine)), 0);
    REJECTS(fdt, "/nics/macs: not a list of MAC addresses");
}

TEST(rejects_too_many_files)
{
    void *fdt = editable();
    int files = node_at(fdt, "/files");
    for (int i = 0; i < BI_MAX_FILES - 1; i++) {
        char name[24];
        snprintf(name, sizeof(name), "extra%d", i);
        int n = fdt_add_subnode(fdt, files, name);
        CHECK(n >= 0);
        fdt_setprop_string(fdt, n, "path", "x");
        fdt_setprop_u32(fdt, n, "line", 1);
        fdt_setprop_u32(fdt, n, "status", 0);
        fdt_setprop_string(fdt, n, "error", "");
        fdt_setprop_u64(fdt, n, "base", 0);
        fdt_setprop_u64(fdt, n, "size", 0);
    }
    REJECTS(fdt, "too many files");
}

TEST(parse_error_is_truncated_and_terminated)
{
    struct bootinfo out;
    char small[12];
    memset(small, 'Z', sizeof(small));
    void *fdt = editable();
    CHECK_EQ(fdt_del_node(fdt, node_at(fdt, "/chosen")), 0);
    CHECK_EQ(parse(fdt, &out, small, sizeof(small)), -1);
    CHECK_STR(small, "boot-info: ");
}

TEST(memtype_names)
{
    CHECK_STR(efi_memtype_name(EFI_RESERVED), "reserved");
    CHECK_STR(efi_memtype_name(EFI_CONVENTIONAL), "conventional");
    CHECK_STR(efi_memtype_name(EFI_ACPI_NVS), "acpi-nvs");
    CHECK_STR(efi_memtype_name(EFI_PERSISTENT), "persistent");
    CHECK_STR(efi_memtype_name(15), "other");
    CHECK_STR(efi_memtype_name(0x80000000u), "other");
}

int main(void) { return test_main(); }
