/* Partition tables (MBR and GPT, UEFI 2.10 section 5) read from a block
 * device: where partition N lies. Pure code over a read callback, so the
 * host unit tests run it on images in memory. */
#ifndef DRIVERS_PARTITION_H
#define DRIVERS_PARTITION_H

#include <stdint.h>
#include <stddef.h>

/* Read count 512-byte sectors from lba into buf: 0 or -1. */
typedef int (*part_read_fn)(void *ctx, uint64_t lba, uint32_t count, uint8_t *buf);

/* Partition number (1-based, as Linux numbers them: MBR primary entries
 * 1-4, GPT entry N at index N-1) of a disk of disk_sectors: its first
 * sector and length. 0, or -1 with the reason in err. scratch: 4 KiB. */
int partition_lookup(part_read_fn rd, void *ctx, uint64_t disk_sectors, unsigned number, uint8_t *scratch,
                     uint64_t *first, uint64_t *count, char *err, size_t n);

#endif
