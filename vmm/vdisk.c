/* The guest's disk on this host (vdisk.h). */
#include "vdisk.h"
#include "vm.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/layout.h"
#include "../kernel/pmm.h"
#include <string.h>

#define BLOCK 4096u

static struct {
    bool on;
    uint8_t *image;          /* the memory backend's image, or NULL */
    struct vblk_backend ext; /* else: a backend the FT layer provides */
    void (*ext_boot)(void *ctx); /* told of each guest boot */
    uint64_t sectors;
    uint8_t *bounce[VBLK_SLOTS];
    /* vdisk_keep_original(): each 4 KiB block's content before the first
     * write (NULL: never written), in host pages. */
    uint8_t **original;
    uint64_t nblocks, saved;
    bool keep, lost;
    /* Memory backend: 4 KiB blocks written since boot (a clone copies
     * them: the peer holds the image as it was at boot), and since the
     * last vdisk_take_written() (a clone's later rounds). */
    uint64_t *written, *fresh;
} D;

/* Bytes of the image in block b (the last one may be short, past the end none). */
static uint64_t block_bytes(uint64_t b)
{
    uint64_t bytes = D.sectors * VBLK_SECTOR, at = b * BLOCK;
    return at < bytes ? (bytes - at < BLOCK ? bytes - at : BLOCK) : 0;
}

uint64_t vdisk_blocks(void) { return D.image ? (D.sectors * VBLK_SECTOR + BLOCK - 1) / BLOCK : 0; }

static void mark_written(uint64_t from, uint64_t bytes)
{
    for (uint64_t b = from / BLOCK; bytes && b <= (from + bytes - 1) / BLOCK; b++) {
        D.written[b / 64] |= 1ull << (b % 64);
        D.fresh[b / 64] |= 1ull << (b % 64);
    }
}

uint64_t vdisk_take_written(uint64_t *bits, bool since_boot)
{
    uint64_t n = 0, words = (vdisk_blocks() + 63) / 64;
    for (uint64_t w = 0; D.written && w < words; w++) {
        uint64_t add = since_boot ? D.written[w] : D.fresh[w];
        for (uint64_t x = add & ~bits[w]; x; x &= x - 1)
            n++;
        bits[w] |= add;
        D.fresh[w] = 0;
    }
    return n;
}

void vdisk_read_block(uint64_t b, uint8_t out[4096])
{
    uint64_t n = block_bytes(b), at = b * BLOCK;
    memcpy(out, D.image + at, n);
    memset(out + n, 0, BLOCK - n);
}

void vdisk_write_block(uint64_t b, const uint8_t *data)
{
    uint64_t n = block_bytes(b), at = b * BLOCK;
    if (data)
        memcpy(D.image + at, data, n);
    else
        memset(D.image + at, 0, n);
    mark_written(at, n);
}

static void save_originals(uint64_t from, uint64_t bytes)
{
    for (uint64_t b = from / BLOCK; b <= (from + bytes - 1) / BLOCK && b < D.nblocks; b++) {
        if (D.original[b])
            continue;
        uint64_t pa = pmm_try_alloc(1, 1);
        if (pa == PMM_NONE) {
            D.lost = true;
            continue;
        }
        D.original[b] = phys_to_virt(pa);
        uint64_t n = block_bytes(b);
        memcpy(D.original[b], D.image + b * BLOCK, n);
        D.saved++;
    }
}

static void memory_submit(void *ctx, unsigned slot, const struct vblk_req *r)
{
    struct vm *vm = ctx;
    uint8_t *at = D.image + r->sector * VBLK_SECTOR; /* the model checked the range */
    if (r->type == VBLK_T_IN) {
        memcpy(r->buf, at, r->bytes);
    } else if (r->type == VBLK_T_OUT) {
        mark_written(r->sector * VBLK_SECTOR, r->bytes);
        if (D.keep && r->bytes)
            save_originals(r->sector * VBLK_SECTOR, r->bytes);
        memcpy(at, r->buf, r->bytes);
    }
    vblk_complete(&vm->plat.blk, slot, VBLK_S_OK);
}

int vdisk_keep_original(char *err, size_t n)
{
    if (!D.on || !D.image || D.keep)
        return 0; /* a host drive: a replay takes its reads from the log */
    D.nblocks = (D.sectors * VBLK_SECTOR + BLOCK - 1) / BLOCK;
    uint64_t pages = (D.nblocks * sizeof(uint8_t *) + 4095) / 4096;
    uint64_t pa = pmm_try_alloc(pages, 1);
    if (pa == PMM_NONE) {
        fmt_snprintf(err, n, "no host memory to keep the disk's original content");
        return -1;
    }
    D.original = phys_to_virt(pa);
    memset(D.original, 0, pages * 4096);
    D.keep = true;
    return 0;
}

int vdisk_rewind(uint64_t *blocks)
{
    *blocks = 0;
    if (!D.keep)
        return 0;
    for (uint64_t b = 0; b < D.nblocks; b++) {
        if (!D.original[b])
            continue;
        uint64_t n = block_bytes(b);
        memcpy(D.image + b * BLOCK, D.original[b], n);
        (*blocks)++;
    }
    return D.lost ? -1 : 0;
}

static int alloc_bounce(char *err, size_t n)
{
    for (unsigned i = 0; i < VBLK_SLOTS; i++) {
        if (!D.bounce[i]) {
            uint64_t pa = pmm_try_alloc(VBLK_MAX_BYTES / 4096, 1);
            if (pa == PMM_NONE) {
                fmt_snprintf(err, n, "no host memory for the disk's bounce buffers");
                return -1;
            }
            D.bounce[i] = phys_to_virt(pa);
        }
    }
    return 0;
}

int vdisk_setup_memory(uint8_t *image, uint64_t bytes, char *err, size_t n)
{
    if (bytes < VBLK_SECTOR) {
        fmt_snprintf(err, n, "the disk image has %llu bytes: less than one 512-byte sector",
                     (unsigned long long)bytes);
        return -1;
    }
    if (alloc_bounce(err, n))
        return -1;
    D.image = image;
    D.sectors = bytes / VBLK_SECTOR;
    uint64_t map = (vdisk_blocks() / 8 + 8 + 4095) / 4096;
    uint64_t pa = pmm_try_alloc(map, 1);
    if (pa == PMM_NONE) {
        fmt_snprintf(err, n, "no host memory for the disk's map of written blocks");
        return -1;
    }
    uint64_t pa2 = pmm_try_alloc(map, 1);
    if (pa2 == PMM_NONE) {
        fmt_snprintf(err, n, "no host memory for the disk's map of written blocks");
        return -1;
    }
    D.written = phys_to_virt(pa);
    D.fresh = phys_to_virt(pa2);
    memset(D.written, 0, map * 4096);
    memset(D.fresh, 0, map * 4096);
    D.on = true;
    return 0;
}

int vdisk_setup_external(uint64_t sectors, const struct vblk_backend *be, void (*boot)(void *ctx), char *err,
                         size_t n)
{
    if (!sectors) {
        fmt_snprintf(err, n, "the disk has no sectors");
        return -1;
    }
    if (alloc_bounce(err, n))
        return -1;
    D.image = NULL;
    D.ext = *be;
    D.ext_boot = boot;
    D.sectors = sectors;
    D.on = true;
    return 0;
}

uint8_t *vdisk_bounce(unsigned slot) { return slot < VBLK_SLOTS ? D.bounce[slot] : NULL; }

uint32_t vdisk_image_crc(uint64_t *bytes)
{
    *bytes = D.on ? D.sectors * VBLK_SECTOR : 0;
    return D.on && D.image ? crc32c(0, D.image, D.sectors * VBLK_SECTOR) : 0;
}

void vdisk_attach(struct vm *vm)
{
    if (!D.on)
        return;
    struct vblk_backend be = { memory_submit, vm };
    if (!D.image && D.ext_boot)
        D.ext_boot(D.ext.ctx); /* requests of the guest's previous life are forgotten */
    platform_add_disk(vm, D.sectors, false, D.image ? &be : &D.ext, D.bounce);
}
