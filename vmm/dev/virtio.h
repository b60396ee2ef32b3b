/* Virtio 1.x over PCI (the "modern" interface of the virtio 1.2
 * specification, 4.1) and split virtqueues (2.7): the transport that
 * virtio-blk and virtio-net share.
 *
 * BAR0 (16 KiB) holds the four regions the vendor capabilities point at:
 * common configuration at 0x0000, notifications at 0x1000 (queue q at
 * 4 * q), the ISR status at 0x2000, the device configuration at 0x3000.
 * The interrupt is INTx, level-triggered: asserted while the ISR status
 * is non-zero, deasserted when the driver reads it; no MSI-X.
 *
 * Everything the guest hands over by address is read and written through
 * vmem (guest RAM, bounds-checked), and every descriptor chain is checked
 * before a device sees it: an index past the queue, a chain longer than
 * the queue (a loop), an indirect descriptor (not offered), a readable
 * descriptor after a writable one or a length that overflows are refused.
 * A refused chain marks the device as needing a reset (2.1.2: the
 * DEVICE_NEEDS_RESET status bit and a configuration interrupt); the queue
 * is not touched again until the driver resets the device. */
#ifndef VMM_DEV_VIRTIO_H
#define VMM_DEV_VIRTIO_H

#include "vdev.h"
#include "pci.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_QUEUES_MAX 4
#define VIRTIO_QUEUE_SIZE 256 /* the largest queue offered */
#define VIRTIO_SG_MAX 64      /* descriptors per chain a device accepts */
#define VIRTIO_BAR_SIZE 0x4000

/* Device status bits (2.1). */
#define VIRTIO_S_ACK 1
#define VIRTIO_S_DRIVER 2
#define VIRTIO_S_DRIVER_OK 4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 64
#define VIRTIO_S_FAILED 128

#define VIRTIO_F_VERSION_1 (1ull << 32)

/* Guest memory as a device sees it: 0 on success, -1 outside guest RAM. */
struct vmem {
    int (*read)(void *ctx, uint64_t gpa, void *dst, size_t n);
    int (*write)(void *ctx, uint64_t gpa, const void *src, size_t n);
    void *ctx;
};

struct virtq {
    uint16_t size; /* the driver's choice, a power of two <= VIRTIO_QUEUE_SIZE */
    bool enabled;
    uint64_t desc, avail, used; /* guest-physical */
    uint16_t last_avail;        /* the next avail ring entry to take */
    uint16_t used_idx;          /* the next used ring entry to fill */
};

/* One buffer of a chain. */
struct virtio_sg {
    uint64_t gpa;
    uint32_t len;
    bool writable; /* device-writable */
};

struct virtio_chain {
    uint16_t head;
    unsigned n, nread;          /* descriptors; the first nread are device-readable */
    uint64_t read_len, write_len;
    struct virtio_sg sg[VIRTIO_SG_MAX];
};

struct virtio_dev;
struct virtio_ops {
    /* Device configuration space (the BAR's 0x3000 region). */
    uint32_t (*cfg_read)(void *ctx, unsigned off, unsigned size);
    void (*cfg_write)(void *ctx, unsigned off, unsigned size, uint32_t val);
    /* The driver made buffers available on queue q (a notification, or
     * DRIVER_OK with buffers already there). */
    void (*kick)(void *ctx, unsigned q);
    /* The device was reset (status 0): forget in-flight requests. */
    void (*reset)(void *ctx);
};

struct virtio_dev {
    struct vpci_func pci;
    uint16_t type; /* virtio device ID: 1 net, 2 block */
    uint64_t features, driver_features;
    uint32_t dfselect, gfselect;
    uint8_t status, isr, generation;
    bool intx; /* the interrupt output's level */
    uint16_t queue_select;
    unsigned nqueues;
    struct virtq q[VIRTIO_QUEUES_MAX];
    struct vmem mem;
    struct irq_out irq;
    const struct virtio_ops *ops;
    void *ops_ctx;
    const char *name;   /* for reports */
    const char *broken; /* why the device needs a reset (NULL: it does not) */
    uint64_t refused;   /* chains refused since start */
};

/* type: virtio device ID; class_code: the PCI class; features: what the
 * device offers besides VERSION_1; bar_addr: where BAR0 starts. */
void virtio_init(struct virtio_dev *d, const char *name, uint16_t type, uint32_t class_code, uint64_t features,
                 unsigned nqueues, uint32_t bar_addr, uint8_t irq, const struct irq_out *irq_out,
                 const struct vmem *mem, const struct virtio_ops *ops, void *ctx);
/* The BAR0 handler (vpci_bar_fn). */
void virtio_bar_access(void *ctx, unsigned bar, uint64_t off, unsigned size, bool write, uint64_t *val);

/* Whether the driver set DRIVER_OK and the device works. */
bool virtio_live(const struct virtio_dev *d);
/* Queue q has a chain available (reads the ring's index, takes nothing). */
bool virtio_has_avail(struct virtio_dev *d, unsigned q);
/* The next available chain of queue q: 1 with *c filled in, 0 when there
 * is none (or the device is not live), -1 when the guest's ring is bad
 * (the device now needs a reset; why in d->broken). */
int virtio_pop(struct virtio_dev *d, unsigned q, struct virtio_chain *c);
/* Copy between a chain's buffers and host memory: from the device-
 * readable part (offset counts readable bytes only) or into the writable
 * part. Return the bytes copied, or -1 when guest memory refuses. */
long virtio_chain_read(struct virtio_dev *d, const struct virtio_chain *c, uint64_t off, void *dst, size_t n);
long virtio_chain_write(struct virtio_dev *d, const struct virtio_chain *c, uint64_t off, const void *src, size_t n);
/* Return chain head to the driver with len bytes written; interrupt it
 * unless it asked not to be (VIRTQ_AVAIL_F_NO_INTERRUPT). */
void virtio_push(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t len);
/* Mark the device broken (DEVICE_NEEDS_RESET, configuration interrupt). */
void virtio_fail(struct virtio_dev *d, const char *why);

#endif
