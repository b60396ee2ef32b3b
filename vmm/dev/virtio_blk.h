/* virtio-blk (virtio 1.2, 5.2): the guest's disk.
 *
 * The model turns the guest's requests into whole-sector reads, writes
 * and flushes of a backend, through bounce buffers it is given (one per
 * request slot): a write's data is copied out of guest memory when the
 * driver submits it (its content then is part of the guest's
 * deterministic state), a read's data is copied into guest memory only
 * when the request completes (vblk_complete()), which the platform calls
 * at an event point, so the replay can do the same at the same point. A
 * request the model can answer alone (an ID, a bad sector range, an
 * unsupported type) completes at once, during the guest's own exit.
 *
 * At most VBLK_SLOTS requests are in flight; further ones wait in the
 * guest's ring until a slot frees. */
#ifndef VMM_DEV_VIRTIO_BLK_H
#define VMM_DEV_VIRTIO_BLK_H

#include "virtio.h"

#define VBLK_SLOTS 16
#define VBLK_MAX_BYTES (128u << 10) /* data per request (size_max x seg_max) */
#define VBLK_SECTOR 512

/* Request types (5.2.6). */
#define VBLK_T_IN 0
#define VBLK_T_OUT 1
#define VBLK_T_FLUSH 4
#define VBLK_T_GET_ID 8
/* Status bytes. */
#define VBLK_S_OK 0
#define VBLK_S_IOERR 1
#define VBLK_S_UNSUPP 2

struct vblk_req {
    uint8_t type;      /* VBLK_T_IN, _OUT or _FLUSH */
    uint64_t sector;   /* first 512-byte sector */
    uint32_t bytes;    /* data bytes, a multiple of 512 (0 for a flush) */
    uint8_t *buf;      /* the slot's bounce buffer: a write's data, or where a read's goes */
};

/* The disk behind the device (the platform's: the host storage layer, or
 * nothing during a replay that takes data from the log). */
struct vblk_backend {
    /* Start a request; it ends with vblk_complete(slot) later (or at once). */
    void (*submit)(void *ctx, unsigned slot, const struct vblk_req *r);
    void *ctx;
};

struct vblk_slot {
    bool busy;
    bool orphan; /* the device was reset while the backend worked on it */
    uint8_t *bounce;
    struct virtio_chain chain;
    struct vblk_req req;
};

struct vblk {
    struct virtio_dev dev;
    uint64_t sectors; /* capacity */
    bool read_only;
    char serial[20];  /* GET_ID: up to 20 bytes, NUL-padded */
    struct vblk_backend backend;
    struct vblk_slot slot[VBLK_SLOTS];
    bool kicking; /* a backend that completes at once calls back in */
    uint64_t requests, bad_requests;
};

/* bounce[i]: VBLK_MAX_BYTES of host memory for slot i. */
void vblk_init(struct vblk *b, uint64_t sectors, bool read_only, const char *serial, uint32_t bar_addr, uint8_t irq,
               const struct irq_out *irq_out, const struct vmem *mem, const struct vblk_backend *backend,
               uint8_t *const bounce[VBLK_SLOTS]);
/* Request slot done with a status byte: a read's data is in its bounce
 * buffer. Copies it into the guest's buffers, writes the status and
 * returns the chain to the driver; then takes waiting requests. */
void vblk_complete(struct vblk *b, unsigned slot, uint8_t status);

#endif
