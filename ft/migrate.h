/* Live migration's memory: the pre-copy rounds of guest pages from the
 * host that runs the guest, and their arrival at the host that will
 * (docs/migration.md). The rounds read the EPT dirty flags as their own
 * user (DIRTY_MIGRATE, vmm/guest_mem.h), so state digests running
 * meanwhile lose nothing; ft/converge.c decides when the guest stops for
 * the last copy and how hard to throttle it. The caller owns the
 * protocol (ft/pair.c): it hands over a function that sends one batch. */
#ifndef FT_MIGRATE_H
#define FT_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/* Send one batch (migrate_wire.h) of len bytes, of guest pages or (disk)
 * of blocks of the guest's disk; false when the channel has no
 * room now (the same batch is offered again later). */
typedef bool (*mig_send_fn)(bool disk, const uint8_t *batch, size_t len);

enum mig_progress {
    MIG_BUSY,      /* pages left in this round; call again */
    MIG_STOP_COPY, /* rounds are over: stop the guest, then migrate_final() */
    MIG_DONE,      /* the last copy is sent */
    MIG_FAILED,    /* the copy cannot go on: migrate_failure() says why */
};

/* Begin: every page goes in the first round, and every block of a disk
 * in host memory written since boot (the peer has the image as it was
 * then), or every block of a private drive (read through its queue while
 * the guest runs on); dirty flags and writes from now on. */
void migrate_start(struct vm *vm);
/* Send what the channel takes; at a round's end, decide (and say why). */
enum mig_progress migrate_poll(mig_send_fn send);
/* The guest is stopped: the pages it dirtied since go in the last round. */
void migrate_final(void);
/* Percent of the vCPU's time auto-converge takes away now (0: none);
 * migrate_hold() says whether the guest waits at this instant. */
unsigned migrate_throttle(void);
/* Why the copy failed (MIG_FAILED), else NULL. */
const char *migrate_failure(void);
/* The copy is over (sent, or abandoned): stop tracking the drive's writes. */
void migrate_end(void);
bool migrate_hold(void);
/* Totals for the report: bytes and pages sent, zero pages, rounds. */
struct mig_totals {
    uint64_t bytes, pages, zero_pages, disk_blocks, rounds, last_round_pages;
};
void migrate_totals(struct mig_totals *t);

/* The receiving side: write a batch's pages into guest RAM, or its disk
 * blocks into the disk held in host memory or onto the private drive
 * (validated as a whole first). 0, or -1 with why. */
int migrate_receive(struct vm *vm, bool disk, const uint8_t *batch, size_t len, char *why, size_t n);
/* A clone begins to arrive: its counts start at 0. */
void migrate_receive_begin(void);
/* Before the machine state is used: a private drive has every block the
 * clone sent (waiting for the writes still under way). 0, or -1 with why. */
int migrate_receive_finish(char *why, size_t n);
uint64_t migrate_received_pages(void);
uint64_t migrate_received_blocks(void);

#endif
