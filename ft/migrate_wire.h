/* Live migration's page batches: how guest pages travel over the channel
 * during pre-copy (docs/migration.md). A batch is one channel message of
 * up to MIG_BATCH_MAX pages, each its page number and either its 4 KiB or
 * a flag saying it is all zeros (most of a fresh guest's memory: a zero
 * page costs 8 bytes instead of 4104). Pure code; the decoder validates
 * everything before it hands out a page. */
#ifndef FT_MIGRATE_WIRE_H
#define FT_MIGRATE_WIRE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define MIG_PAGE 4096u
#define MIG_BATCH_MAX 15u /* pages per batch: a batch stays under 64 KiB */
#define MIG_BATCH_HEAD 2u /* u16 page count */
#define MIG_ENTRY_HEAD 8u /* u64: page number << 1 | 1 if all zeros */
#define MIG_BATCH_BYTES (MIG_BATCH_HEAD + MIG_BATCH_MAX * (MIG_ENTRY_HEAD + MIG_PAGE))

/* True if the 4 KiB at p are all zero. */
bool mig_page_is_zero(const uint8_t *p);

struct mig_batch {
    uint8_t *buf;  /* MIG_BATCH_BYTES of room */
    size_t len;    /* bytes written so far */
    unsigned n;    /* pages in it */
    unsigned zero; /* ... of which sent as zero pages */
};

void mig_batch_begin(struct mig_batch *b, uint8_t *buf);
/* Adds page gfn with contents page; false (nothing written) when the
 * batch is full. */
bool mig_batch_add(struct mig_batch *b, uint64_t gfn, const uint8_t *page);

/* Called for each page of a valid batch, in order; page is NULL for a
 * zero page. A non-zero return stops the decoding and is returned. */
typedef int (*mig_page_fn)(void *ctx, uint64_t gfn, const uint8_t *page);

/* Checks the whole batch (count, lengths, flags, every page number below
 * npages) and only then calls fn per page. 0, fn's non-zero result, or -1
 * with why (a sentence, n bytes) for a malformed batch. */
int mig_batch_decode(const uint8_t *buf, size_t len, uint64_t npages, mig_page_fn fn, void *ctx, char *why,
                     size_t n);

#endif
