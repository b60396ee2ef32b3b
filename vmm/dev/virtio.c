/* Virtio 1.x over PCI and split virtqueues (virtio.h). */
#include "virtio.h"
#include <string.h>

#define REGION_COMMON 0x0000
#define REGION_NOTIFY 0x1000
#define REGION_ISR 0x2000
#define REGION_DEVICE 0x3000
#define REGION_SIZE 0x1000
#define COMMON_LEN 0x38
#define NOTIFY_MULT 4

/* Split virtqueue layout (2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

static void add_cap(struct virtio_dev *d, unsigned at, uint8_t type, uint32_t off, uint32_t len, bool notify)
{
    uint8_t b[18];
    memset(b, 0, sizeof(b));
    b[0] = notify ? 20 : 16; /* cap_len, from the capability's first byte */
    b[1] = type;             /* cfg_type */
    b[2] = 0;                /* BAR0 */
    le_put(b + 6, off, 4);
    le_put(b + 10, len, 4);
    if (notify)
        le_put(b + 14, NOTIFY_MULT, 4); /* notify_off_multiplier */
    vpci_func_cap(&d->pci, at, 0x09 /* vendor-specific */, b, notify ? 18 : 14);
}

/* INTx is a level: asserted while the ISR is non-zero (and INTx is not
 * disabled in the command register), as PCI wants (PCI 3.0, 2.2.6). */
static void intx_update(struct virtio_dev *d)
{
    bool on = d->isr && !(d->pci.cfg[PCI_COMMAND + 1] & (PCI_CMD_INTX_OFF >> 8));
    if (on != d->intx) {
        d->intx = on;
        irq_out_set(&d->irq, on);
    }
    vpci_set_intx_status(&d->pci, d->isr != 0);
}

static void interrupt(struct virtio_dev *d, uint8_t why)
{
    d->isr |= why;
    intx_update(d);
}

static void reset(struct virtio_dev *d)
{
    d->driver_features = 0;
    d->dfselect = d->gfselect = 0;
    d->status = 0;
    d->isr = 0;
    d->queue_select = 0;
    d->broken = NULL;
    for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++) {
        memset(&d->q[i], 0, sizeof(d->q[i]));
        d->q[i].size = VIRTIO_QUEUE_SIZE;
    }
    intx_update(d);
}

void virtio_init(struct virtio_dev *d, const char *name, uint16_t type, uint32_t class_code, uint64_t features,
                 unsigned nqueues, uint32_t bar_addr, uint8_t irq, const struct irq_out *irq_out,
                 const struct vmem *mem, const struct virtio_ops *ops, void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->name = name;
    d->type = type;
    d->features = features | VIRTIO_F_VERSION_1;
    d->nqueues = nqueues < VIRTIO_QUEUES_MAX ? nqueues : VIRTIO_QUEUES_MAX;
    d->mem = *mem;
    d->irq = *irq_out;
    d->ops = ops;
    d->ops_ctx = ctx;
    /* Device ID 0x1040 + type, revision 1: a modern-only device (4.1.2.1). */
    vpci_func_init(&d->pci, VIRTIO_VENDOR, (uint16_t)(0x1040 + type), class_code, 1, VIRTIO_VENDOR, 0x40);
    vpci_func_bar(&d->pci, 0, VIRTIO_BAR_SIZE, bar_addr);
    vpci_func_intx(&d->pci, irq);
    add_cap(d, 0x40, 1, REGION_COMMON, COMMON_LEN, false);
    add_cap(d, 0x50, 2, REGION_NOTIFY, REGION_SIZE, true);
    add_cap(d, 0x64, 3, REGION_ISR, 4, false);
    add_cap(d, 0x74, 4, REGION_DEVICE, REGION_SIZE, false);
    d->pci.bar_access = virtio_bar_access;
    d->pci.ctx = d;
    reset(d);
}

bool virtio_live(const struct virtio_dev *d)
{
    return (d->status & VIRTIO_S_DRIVER_OK) && !d->broken && !(d->status & VIRTIO_S_FAILED);
}

void virtio_fail(struct virtio_dev *d, const char *why)
{
    if (d->broken)
        return;
    d->broken = why;
    d->refused++;
    d->status |= VIRTIO_S_NEEDS_RESET;
    d->generation++;
    interrupt(d, 2); /* a configuration change (4.1.4.5) */
}

/* ---- common configuration (4.1.4.3) ------------------------------------- */

static void common_image(struct virtio_dev *d, uint8_t *img)
{
    memset(img, 0, COMMON_LEN);
    struct virtq *q = d->queue_select < d->nqueues ? &d->q[d->queue_select] : NULL;
    le_put(img + 0x00, d->dfselect, 4);
    le_put(img + 0x04, d->dfselect < 2 ? (uint32_t)(d->features >> (32 * d->dfselect)) : 0, 4);
    le_put(img + 0x08, d->gfselect, 4);
    le_put(img + 0x0c, d->gfselect < 2 ? (uint32_t)(d->driver_features >> (32 * d->gfselect)) : 0, 4);
    le_put(img + 0x10, 0xffff, 2); /* msix_config: no MSI-X */
    le_put(img + 0x12, d->nqueues, 2);
    img[0x14] = d->status;
    img[0x15] = d->generation;
    le_put(img + 0x16, d->queue_select, 2);
    if (q) {
        le_put(img + 0x18, q->size, 2);
        le_put(img + 0x1a, 0xffff, 2); /* queue_msix_vector */
        le_put(img + 0x1c, q->enabled, 2);
        le_put(img + 0x1e, d->queue_select, 2); /* queue_notify_off */
        le_put(img + 0x20, q->desc, 8);
        le_put(img + 0x28, q->avail, 8);
        le_put(img + 0x30, q->used, 8);
    }
}

static void status_write(struct virtio_dev *d, uint8_t v)
{
    if (v == 0) {
        reset(d);
        if (d->ops->reset)
            d->ops->reset(d->ops_ctx);
        return;
    }
    uint8_t old = d->status;
    /* NEEDS_RESET is the device's; FEATURES_OK only holds for features we
     * offered, VERSION_1 among them (3.1.1). */
    v = (uint8_t)((v & ~VIRTIO_S_NEEDS_RESET) | (old & VIRTIO_S_NEEDS_RESET));
    if ((v & VIRTIO_S_FEATURES_OK) && !(old & VIRTIO_S_FEATURES_OK) &&
        ((d->driver_features & ~d->features) || !(d->driver_features & VIRTIO_F_VERSION_1)))
        v &= (uint8_t)~VIRTIO_S_FEATURES_OK;
    d->status = v;
    if ((v & VIRTIO_S_DRIVER_OK) && !(old & VIRTIO_S_DRIVER_OK) && d->ops->kick)
        for (unsigned i = 0; i < d->nqueues; i++)
            if (d->q[i].enabled)
                d->ops->kick(d->ops_ctx, i);
}

static void common_write(struct virtio_dev *d, unsigned off, unsigned size, uint64_t val)
{
    uint8_t img[COMMON_LEN];
    common_image(d, img);
    if (off >= COMMON_LEN || size > COMMON_LEN - off)
        return;
    le_put(img + off, val, size);
    /* Apply each field the write touched; read-only ones are ignored. */
    unsigned end = off + size;
#define TOUCHES(a, n) (off < (a) + (n) && end > (a))
    if (TOUCHES(0x00, 4))
        d->dfselect = (uint32_t)le_get(img + 0x00, 4);
    if (TOUCHES(0x08, 4))
        d->gfselect = (uint32_t)le_get(img + 0x08, 4);
    if (TOUCHES(0x0c, 4) && d->gfselect < 2 && !(d->status & VIRTIO_S_FEATURES_OK)) {
        uint64_t m = 0xffffffffull << (32 * d->gfselect);
        d->driver_features = (d->driver_features & ~m) | (le_get(img + 0x0c, 4) << (32 * d->gfselect));
    }
    if (TOUCHES(0x16, 2))
        d->queue_select = (uint16_t)le_get(img + 0x16, 2);
    struct virtq *q = d->queue_select < d->nqueues ? &d->q[d->queue_select] : NULL;
    /* Queue fields may change only while the queue is disabled (4.1.4.3.2). */
    if (q && !q->enabled) {
        if (TOUCHES(0x18, 2)) {
            uint16_t s = (uint16_t)le_get(img + 0x18, 2);
            if (s && s <= VIRTIO_QUEUE_SIZE && !(s & (s - 1)))
                q->size = s;
        }
        if (TOUCHES(0x20, 8))
            q->desc = le_get(img + 0x20, 8);
        if (TOUCHES(0x28, 8))
            q->avail = le_get(img + 0x28, 8);
        if (TOUCHES(0x30, 8))
            q->used = le_get(img + 0x30, 8);
        if (TOUCHES(0x1c, 2) && le_get(img + 0x1c, 2) == 1) {
            q->enabled = true;
            q->last_avail = q->used_idx = 0;
        }
    }
    if (TOUCHES(0x14, 1))
        status_write(d, img[0x14]);
#undef TOUCHES
}

void virtio_bar_access(void *ctx, unsigned bar, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    struct virtio_dev *d = ctx;
    if (bar != 0 || off >= VIRTIO_BAR_SIZE || size > 8) {
        if (!write)
            *val = 0;
        return;
    }
    unsigned region = (unsigned)off & ~(REGION_SIZE - 1), o = (unsigned)off & (REGION_SIZE - 1);
    uint64_t mask = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
    switch (region) {
    case REGION_COMMON:
        if (write) {
            common_write(d, o, size, *val & mask);
        } else {
            uint8_t img[COMMON_LEN];
            common_image(d, img);
            *val = o < COMMON_LEN && size <= COMMON_LEN - o ? le_get(img + o, size) : 0;
        }
        return;
    case REGION_NOTIFY:
        if (write && o % NOTIFY_MULT == 0 && o / NOTIFY_MULT < d->nqueues && virtio_live(d) &&
            d->q[o / NOTIFY_MULT].enabled && d->ops->kick)
            d->ops->kick(d->ops_ctx, o / NOTIFY_MULT);
        else if (!write)
            *val = 0;
        return;
    case REGION_ISR:
        if (!write) {
            /* Reading clears it and deasserts the interrupt (4.1.4.5). */
            *val = o == 0 ? d->isr : 0;
            if (o == 0) {
                d->isr = 0;
                intx_update(d);
            }
        }
        return;
    case REGION_DEVICE:
        if (write) {
            if (d->ops->cfg_write && size <= 4)
                d->ops->cfg_write(d->ops_ctx, o, size, (uint32_t)(*val & mask));
        } else if (size == 8 && d->ops->cfg_read) {
            *val = d->ops->cfg_read(d->ops_ctx, o, 4) | (uint64_t)d->ops->cfg_read(d->ops_ctx, o + 4, 4) << 32;
        } else {
            *val = d->ops->cfg_read ? d->ops->cfg_read(d->ops_ctx, o, size) & mask : 0;
        }
        return;
    default:
        if (!write)
            *val = 0;
    }
}

/* ---- split virtqueues (2.7) -------------------------------------------- */

static int rd16(struct virtio_dev *d, uint64_t gpa, uint16_t *v)
{
    uint8_t b[2];
    if (d->mem.read(d->mem.ctx, gpa, b, 2))
        return -1;
    *v = (uint16_t)le_get(b, 2);
    return 0;
}

static int wr(struct virtio_dev *d, uint64_t gpa, uint64_t v, unsigned n)
{
    uint8_t b[8];
    le_put(b, v, n);
    return d->mem.write(d->mem.ctx, gpa, b, n);
}

bool virtio_has_avail(struct virtio_dev *d, unsigned qi)
{
    if (qi >= d->nqueues || !virtio_live(d) || !d->q[qi].enabled)
        return false;
    uint16_t avail_idx;
    return rd16(d, d->q[qi].avail + 2, &avail_idx) == 0 && avail_idx != d->q[qi].last_avail;
}

int virtio_pop(struct virtio_dev *d, unsigned qi, struct virtio_chain *c)
{
    if (qi >= d->nqueues || !virtio_live(d) || !d->q[qi].enabled)
        return 0;
    struct virtq *q = &d->q[qi];
    uint16_t avail_idx, head;
    if (rd16(d, q->avail + 2, &avail_idx)) {
        virtio_fail(d, "its available ring is outside guest memory");
        return -1;
    }
    if (avail_idx == q->last_avail)
        return 0;
    if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
        virtio_fail(d, "the driver made more buffers available than its queue holds");
        return -1;
    }
    if (rd16(d, q->avail + 4 + 2ull * (q->last_avail % q->size), &head)) {
        virtio_fail(d, "its available ring is outside guest memory");
        return -1;
    }
    q->last_avail++;
    memset(c, 0, sizeof(*c));
    c->head = head;
    uint16_t i = head;
    for (;;) {
        uint8_t b[16];
        if (i >= q->size) {
            virtio_fail(d, "a descriptor index is past the end of its queue");
            return -1;
        }
        if (c->n == VIRTIO_SG_MAX || c->n == q->size) {
            virtio_fail(d, "a descriptor chain is longer than the device takes (or loops)");
            return -1;
        }
        if (d->mem.read(d->mem.ctx, q->desc + 16ull * i, b, 16)) {
            virtio_fail(d, "its descriptor table is outside guest memory");
            return -1;
        }
        uint64_t addr = le_get(b, 8);
        uint32_t len = (uint32_t)le_get(b + 8, 4);
        uint16_t flags = (uint16_t)le_get(b + 12, 2), next = (uint16_t)le_get(b + 14, 2);
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            virtio_fail(d, "an indirect descriptor, which the device did not offer");
            return -1;
        }
        if (addr + len < addr) {
            virtio_fail(d, "a buffer wraps around the address space");
            return -1;
        }
        bool w = flags & VIRTQ_DESC_F_WRITE;
        if (!w && c->n > c->nread) {
            virtio_fail(d, "a device-readable buffer follows a device-writable one");
            return -1;
        }
        c->sg[c->n] = (struct virtio_sg){ addr, len, w };
        c->n++;
        if (w)
            c->write_len += len;
        else {
            c->nread++;
            c->read_len += len;
        }
        if (!(flags & VIRTQ_DESC_F_NEXT))
            return 1;
        i = next;
    }
}

static long chain_copy(struct virtio_dev *d, const struct virtio_chain *c, bool writable, uint64_t off, uint8_t *host,
                       size_t n, bool to_guest)
{
    size_t done = 0;
    for (unsigned k = writable ? c->nread : 0; k < (writable ? c->n : c->nread) && done < n; k++) {
        const struct virtio_sg *s = &c->sg[k];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t take = s->len - off < n - done ? s->len - off : n - done;
        int r = to_guest ? d->mem.write(d->mem.ctx, s->gpa + off, host + done, take)
                         : d->mem.read(d->mem.ctx, s->gpa + off, host + done, take);
        if (r)
            return -1;
        done += take;
        off = 0;
    }
    return (long)done;
}

long virtio_chain_read(struct virtio_dev *d, const struct virtio_chain *c, uint64_t off, void *dst, size_t n)
{
    return chain_copy(d, c, false, off, dst, n, false);
}

long virtio_chain_write(struct virtio_dev *d, const struct virtio_chain *c, uint64_t off, const void *src, size_t n)
{
    return chain_copy(d, c, true, off, (uint8_t *)src, n, true);
}

void virtio_push(struct virtio_dev *d, unsigned qi, uint16_t head, uint32_t len)
{
    if (qi >= d->nqueues || d->broken || !d->q[qi].enabled)
        return;
    struct virtq *q = &d->q[qi];
    uint16_t flags = 0;
    if (wr(d, q->used + 4 + 8ull * (q->used_idx % q->size), head, 4) ||
        wr(d, q->used + 8 + 8ull * (q->used_idx % q->size), len, 4) || wr(d, q->used + 2, (uint16_t)(q->used_idx + 1), 2) ||
        rd16(d, q->avail, &flags)) {
        virtio_fail(d, "its used ring is outside guest memory");
        return;
    }
    q->used_idx++;
    if (!(flags & VIRTQ_AVAIL_F_NO_INTERRUPT))
        interrupt(d, 1);
}
