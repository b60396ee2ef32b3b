/* virtio-blk (virtio_blk.h). */
#include "virtio_blk.h"
#include <string.h>

/* Feature bits (5.2.3). */
#define VBLK_F_SIZE_MAX (1ull << 1)
#define VBLK_F_SEG_MAX (1ull << 2)
#define VBLK_F_RO (1ull << 5)
#define VBLK_F_FLUSH (1ull << 9)
#define SEG_SIZE 4096u
#define SEG_MAX (VBLK_MAX_BYTES / SEG_SIZE)
#define HEADER 16

static uint32_t cfg_read(void *ctx, unsigned off, unsigned size)
{
    struct vblk *b = ctx;
    uint8_t img[24];
    memset(img, 0, sizeof(img));
    for (int i = 0; i < 8; i++)
        img[i] = (uint8_t)(b->sectors >> (8 * i)); /* capacity */
    for (int i = 0; i < 4; i++) {
        img[8 + i] = (uint8_t)(SEG_SIZE >> (8 * i)); /* size_max */
        img[12 + i] = (uint8_t)(SEG_MAX >> (8 * i)); /* seg_max */
    }
    if (off >= sizeof(img) || size > sizeof(img) - off)
        return 0;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)img[off + i] << (8 * i);
    return v;
}

static void cfg_write(void *ctx, unsigned off, unsigned size, uint32_t val) { /* nothing writable */ }

/* Give the chain back with its status byte (the last device-writable
 * byte) after `data` bytes written before it. */
static void finish(struct vblk *b, const struct virtio_chain *c, uint8_t status, uint32_t data)
{
    if (virtio_chain_write(&b->dev, c, c->write_len - 1, &status, 1) != 1) {
        virtio_fail(&b->dev, "a request's status byte is outside guest memory");
        return;
    }
    virtio_push(&b->dev, 0, c->head, data + 1);
}

static void bad(struct vblk *b, const struct virtio_chain *c, uint8_t status)
{
    b->bad_requests++;
    finish(b, c, status, 0);
}

/* Check a request and hand it to the backend (or answer it here). */
static void take(struct vblk *b, const struct virtio_chain *c)
{
    b->requests++;
    if (c->write_len == 0) {
        virtio_fail(&b->dev, "a request has no status byte");
        return;
    }
    uint8_t h[HEADER];
    if (c->read_len < HEADER || virtio_chain_read(&b->dev, c, 0, h, HEADER) != HEADER) {
        bad(b, c, VBLK_S_IOERR);
        return;
    }
    uint32_t type = h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24;
    uint64_t sector = 0;
    for (int i = 0; i < 8; i++)
        sector |= (uint64_t)h[8 + i] << (8 * i);
    if (type == VBLK_T_GET_ID) {
        uint32_t n = c->write_len - 1 < 20 ? (uint32_t)(c->write_len - 1) : 20;
        if (virtio_chain_write(&b->dev, c, 0, b->serial, n) != (long)n) {
            bad(b, c, VBLK_S_IOERR);
            return;
        }
        finish(b, c, VBLK_S_OK, n);
        return;
    }
    uint64_t bytes;
    if (type == VBLK_T_IN)
        bytes = c->write_len - 1;
    else if (type == VBLK_T_OUT)
        bytes = c->read_len - HEADER;
    else if (type == VBLK_T_FLUSH)
        bytes = 0;
    else {
        bad(b, c, VBLK_S_UNSUPP);
        return;
    }
    if (bytes % VBLK_SECTOR || bytes > VBLK_MAX_BYTES || sector > b->sectors ||
        bytes / VBLK_SECTOR > b->sectors - sector || (type == VBLK_T_OUT && b->read_only)) {
        bad(b, c, VBLK_S_IOERR);
        return;
    }
    unsigned s = 0;
    while (s < VBLK_SLOTS && b->slot[s].busy)
        s++;
    struct vblk_slot *sl = &b->slot[s]; /* the caller made sure one is free */
    sl->chain = *c;
    sl->req = (struct vblk_req){ (uint8_t)type, sector, (uint32_t)bytes, sl->bounce };
    if (type == VBLK_T_OUT && virtio_chain_read(&b->dev, c, HEADER, sl->req.buf, bytes) != (long)bytes) {
        bad(b, c, VBLK_S_IOERR);
        return;
    }
    sl->busy = true;
    sl->orphan = false;
    b->backend.submit(b->backend.ctx, s, &sl->req);
}

static bool slot_free(const struct vblk *b)
{
    for (unsigned s = 0; s < VBLK_SLOTS; s++)
        if (!b->slot[s].busy)
            return true;
    return false;
}

static void kick(void *ctx, unsigned q)
{
    struct vblk *b = ctx;
    if (q != 0 || b->kicking)
        return;
    b->kicking = true;
    struct virtio_chain c;
    while (slot_free(b) && virtio_pop(&b->dev, 0, &c) == 1)
        take(b, &c);
    b->kicking = false;
}

static void reset(void *ctx)
{
    struct vblk *b = ctx;
    for (unsigned s = 0; s < VBLK_SLOTS; s++)
        if (b->slot[s].busy)
            b->slot[s].orphan = true;
}

static const struct virtio_ops blk_ops = { cfg_read, cfg_write, kick, reset };

void vblk_init(struct vblk *b, uint64_t sectors, bool read_only, const char *serial, uint32_t bar_addr, uint8_t irq,
               const struct irq_out *irq_out, const struct vmem *mem, const struct vblk_backend *backend,
               uint8_t *const bounce[VBLK_SLOTS])
{
    memset(b, 0, sizeof(*b));
    b->sectors = sectors;
    b->read_only = read_only;
    for (unsigned i = 0; i < sizeof(b->serial) && serial && serial[i]; i++)
        b->serial[i] = serial[i];
    b->backend = *backend;
    for (unsigned s = 0; s < VBLK_SLOTS; s++)
        b->slot[s].bounce = bounce[s];
    uint64_t f = VBLK_F_SIZE_MAX | VBLK_F_SEG_MAX | VBLK_F_FLUSH | (read_only ? VBLK_F_RO : 0);
    virtio_init(&b->dev, "virtio-blk", 2, 0x010000 /* mass storage, SCSI: what virtio-blk reports */, f, 1,
                bar_addr, irq, irq_out, mem, &blk_ops, b);
}

void vblk_complete(struct vblk *b, unsigned s, uint8_t status)
{
    if (s >= VBLK_SLOTS || !b->slot[s].busy)
        return;
    struct vblk_slot *sl = &b->slot[s];
    sl->busy = false;
    if (sl->orphan) {
        sl->orphan = false;
        return; /* the driver reset the device meanwhile: nobody waits */
    }
    uint32_t data = 0;
    if (sl->req.type == VBLK_T_IN && status == VBLK_S_OK) {
        if (virtio_chain_write(&b->dev, &sl->chain, 0, sl->req.buf, sl->req.bytes) != (long)sl->req.bytes)
            status = VBLK_S_IOERR;
        else
            data = sl->req.bytes;
    }
    finish(b, &sl->chain, status, data);
    kick(b, 0);
}
