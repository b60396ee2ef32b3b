/* Host block devices as the layers above see them: a serial number, a
 * capacity in 512-byte sectors, and asynchronous requests that complete
 * from the main loop (drivers' poll). The buffers are hypervisor memory
 * (a guest sees only its own RAM through EPT). */
#ifndef DRIVERS_BLOCKDEV_H
#define DRIVERS_BLOCKDEV_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define BLOCKDEV_MAX 8
#define BLOCKDEV_SECTOR 512
#define BLOCKDEV_SERIAL_LEN 20 /* ATA IDENTIFY words 10-19; NVMe's SN is 20 too */

enum blk_op { BLK_READ, BLK_WRITE, BLK_FLUSH };

/* One request. The caller owns it until done() is called (from the
 * drivers' poll, or from blockdev_submit() itself for a request refused
 * at once); status 0 is success, else a BLK_E_* value. */
struct blk_io {
    enum blk_op op;
    uint64_t lba;     /* first sector */
    uint32_t count;   /* sectors (0 for a flush) */
    uint8_t *buf;     /* count * 512 bytes */
    int status;
    void (*done)(struct blk_io *io);
    void *ctx;
    struct blk_io *next; /* the device's queue */
    bool started;        /* handed to the driver (blockdev_next) */
};

enum { BLK_OK = 0, BLK_E_IO = 1, BLK_E_RANGE = 2, BLK_E_NODEV = 3 };

struct blockdev {
    char name[16];     /* "ata0-master" */
    const char *model; /* driver: "ATA PIO" */
    char serial[BLOCKDEV_SERIAL_LEN + 1]; /* trailing spaces trimmed */
    char product[41];
    uint64_t sectors;
    uint32_t max_count; /* sectors per command the driver takes */
    /* Take the head of the queue when idle, advance the one in progress. */
    void (*poll)(struct blockdev *bd);
    void *priv;
    struct blk_io *head, *tail; /* waiting or in progress (head) */
    uint64_t reads, writes, flushes, errors, sectors_read, sectors_written;
};

void blockdev_register(struct blockdev *bd);
int blockdev_count(void);
struct blockdev *blockdev_get(int i);
/* The device whose serial number is serial (as IDENTIFY gives it, without
 * the padding), or NULL. */
struct blockdev *blockdev_find(const char *serial);
/* Queue a request (checked against the capacity: out of range completes
 * at once with BLK_E_RANGE). */
void blockdev_submit(struct blockdev *bd, struct blk_io *io);
/* Run the device until its queue is empty (boot-time reads such as the
 * partition table), at most timeout_ms: 0, or -1 on a timeout. */
int blockdev_wait_idle(struct blockdev *bd, uint32_t timeout_ms);
/* Boot time only (nothing else may be queued): read and wait, at most
 * 10 s. 0, or -1. blockdev_part_read() is the same as a part_read_fn
 * (drivers/partition.h) with ctx = the blockdev. */
int blockdev_read_sync(struct blockdev *bd, uint64_t lba, uint32_t count, uint8_t *buf);
int blockdev_part_read(void *ctx, uint64_t lba, uint32_t count, uint8_t *buf);
/* Poll every device (the drivers service's poll): true while requests
 * remain in flight. */
bool blockdev_poll_all(void);
/* For a driver that runs one request at a time: the request at the head
 * is finished. */
void blockdev_finish(struct blockdev *bd, int status);
/* For a driver with several commands in flight (AHCI, NVMe): the oldest
 * queued request that may start now, marked started, or NULL. A request
 * waits while an earlier one (started or not) overlaps it and either
 * writes, and a flush is a barrier both ways: so the drive never holds
 * two requests whose order would change what is read or written, and the
 * outcome is the one of running them in submission order (which the
 * guest's disk on the two hosts of a pair relies on). */
struct blk_io *blockdev_next(struct blockdev *bd);
/* ... and one of those is finished (any of the queue, not only the head). */
void blockdev_complete(struct blockdev *bd, struct blk_io *io, int status);

/* An ATA IDENTIFY DEVICE string (serial: words 10-19, model: 27-46; two
 * characters per word, the first in the high byte) into out (2 * words +
 * 1 bytes), trimmed, unprintable characters as '?'. For ata.c and ahci.c. */
void blockdev_ata_string(const uint16_t *w, int first, int words, char *out);

int ata_probe(void);
int ahci_probe(void);
int nvme_probe(void);

#endif
