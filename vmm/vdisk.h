/* The guest's disk on this host: what backs the virtio-blk device.
 *
 * Two backends:
 *  - memory: the [guest] disk file, which the loader brought into host
 *    memory from the boot volume. Requests complete at once, during the
 *    guest's own exit, so a disk read is a pure function of the image and
 *    the guest's earlier writes: a replay (or the FT pair's backup, with its
 *    own copy of the same file) reads the same data without logging it. The
 *    image lives as long as this host runs: the guest's writes survive
 *    guest resets, not a host reboot.
 *  - external: a host drive ([guest] disk_device), driven by the FT layer
 *    (ft/guest_io.c), whose completions are asynchronous and enter the
 *    guest at event points like any other input. */
#ifndef VMM_VDISK_H
#define VMM_VDISK_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "dev/virtio_blk.h"

struct vm;

/* Back the guest's disk with bytes of host memory (a whole number of
 * 512-byte sectors is used). 0, or -1 with the reason. */
int vdisk_setup_memory(uint8_t *image, uint64_t bytes, char *err, size_t n);
/* Back the guest's disk with a backend of the layer above (submit, then
 * vblk_complete() at an event point); sectors: its capacity; boot(ctx)
 * runs at each guest boot, before the device exists. */
int vdisk_setup_external(uint64_t sectors, const struct vblk_backend *be, void (*boot)(void *ctx), char *err,
                         size_t n);
/* Slot i's bounce buffer (VBLK_MAX_BYTES): where a read's data waits. */
uint8_t *vdisk_bounce(unsigned slot);
/* Attach the disk to a freshly initialised platform (each guest boot). */
void vdisk_attach(struct vm *vm);
/* From now on keep each block's content before its first write, so that
 * vdisk_rewind() can bring the disk back to it: for a self-check, which
 * runs the guest from its start several times on one host. */
int vdisk_keep_original(char *err, size_t n);
/* The disk as it was at vdisk_keep_original(); *blocks: 4 KiB blocks
 * restored. -1 when some originals could not be kept (no host memory). */
int vdisk_rewind(uint64_t *blocks);
/* A disk in host memory as 4 KiB blocks, for a clone (ft/migrate.c): how
 * many (0 for a host drive); the blocks written since boot (since_boot:
 * what a peer holding the image as it was at boot lacks) or since the
 * last take, ORed into bits (a bit per block), with the count of bits
 * added; one block's content (zero-padded past the image's end); writing
 * one (NULL: zeros), which counts as written. */
uint64_t vdisk_blocks(void);
uint64_t vdisk_take_written(uint64_t *bits, bool since_boot);
void vdisk_read_block(uint64_t b, uint8_t out[4096]);
void vdisk_write_block(uint64_t b, const uint8_t *data);
/* The image's length and CRC32C: part of the guest's identity for record,
 * replay and the pair (rr_config_digest() takes it once, before the guest
 * runs). A host drive: its length, CRC 0 (its reads are logged). */
uint32_t vdisk_image_crc(uint64_t *bytes);

#endif
