/* The guest's I/O on host devices, through the determinism boundary.
 *
 * With [guest] disk_device the guest's virtio-blk requests go to a host
 * drive (drivers/blockdev.h). The drive completes them whenever it likes;
 * the completion waits here until the engine makes an event point (at once:
 * an entry with the preemption timer at zero, or the next synchronous exit,
 * or the HLT the guest waits in), where the policy delivers it: live, as
 * is; recording, after logging it (DEVDATA records with a read's data,
 * then DEVDONE); replaying, never from the drive but from the log, at the
 * same place. At go-live the requests the log started but never completed
 * are issued to this host's drive again (re-issued writes write the same
 * data to the same sectors: idempotent). */
#ifndef FT_GUEST_IO_H
#define FT_GUEST_IO_H

#include <stdint.h>
#include <stdbool.h>

struct vm;
struct blk_io;

/* The guest's disk is on a host drive. */
bool gio_active(void);
/* Live (requests go to the drive; the default) or replay (they do not;
 * completions come from the log). Switching to live issues the requests
 * in flight (go-live). */
void gio_set_replay(struct vm *vm, bool replay);
/* A completion waits for an event point. */
bool gio_pending(void);
/* Called with each completion before it enters the guest (recording):
 * device, tag, status; data and len: what the device puts in the guest
 * (a read's sectors), else NULL and 0; check_only: the replayer reads
 * the data itself ([guest] disk_reads = backup): log its CRC, not it. */
typedef void (*gio_log_fn)(uint8_t device, uint32_t tag, uint32_t status, const uint8_t *data, uint32_t len,
                           bool check_only);
/* Deliver every waiting completion at this event point, in completion
 * order (log: NULL when not recording). */
void gio_deliver(struct vm *vm, gio_log_fn log);
/* The output rule: on a disk both hosts share ([guest] disk_mode =
 * shared) the primary issues a write (and whatever the guest asked after
 * it) only once released(tag) holds for the log length write_tag() gave
 * when the guest made it, i.e. once the backup has the log that led to the
 * write; a frame the guest sends waits the same way, tagged by
 * frame_tag(). NULL: no gate (alone, unprotected; a private disk is never
 * gated). */
void gio_set_gate(bool (*released)(uint64_t tag), uint64_t (*write_tag)(void), uint64_t (*frame_tag)(void));
/* Each host has its own copy of the disk (disk_mode = private): the
 * backup carries out the writes itself as its replay makes them. */
bool gio_private(void);
/* Replay: data of request tag of device at offset, then its completion.
 * 0, or -1 with what does not fit the replayed guest in *why; done: 1
 * while this backup's own write of the request is still under way (the
 * replay waits). */
int gio_replay_data(struct vm *vm, uint8_t device, uint32_t tag, uint32_t offset, const uint8_t *data, uint32_t len,
                    const char **why);
int gio_replay_done(struct vm *vm, uint8_t device, uint32_t tag, uint32_t status, const char **why);
/* Replay with disk_reads = backup: this host's own read of request tag
 * must have given bytes bytes with CRC32C crc (DEVCHECK). 0; 1 while its
 * read is under way (the replay waits); -1 with why. */
int gio_replay_check(struct vm *vm, uint8_t device, uint32_t tag, uint64_t bytes, uint32_t crc, const char **why);
/* disk_reads = backup. Primary: reads_done() gives how many of the
 * guest's reads the backup has performed (by ordinal; NULL: no backup), so
 * that no write overwrites sectors it has still to read. Backup: how many
 * it has performed (every read below that ordinal has its data). */
void gio_set_backup_reads(uint64_t (*reads_done)(void));
uint64_t gio_reads_performed(void);
/* The guest's request and read ordinals: guest state a clone carries
 * (ft/pair.c), so that both hosts number the requests that follow alike
 * (with disk_reads = backup the primary's writes wait on read ordinals). */
void gio_ordinals(uint64_t *seq, uint64_t *reads);
void gio_set_ordinals(uint64_t seq, uint64_t reads);
bool gio_backup_reads(void);
/* disk_reads = backup. Primary: hint(rd, lba, count) is told of each read
 * the drive completed (a message to the backup). Backup: the primary's
 * read rd covered [lba, lba + count): read it ahead of the replay. */
void gio_set_read_hint(void (*hint)(uint64_t rd, uint64_t lba, uint32_t count));
void gio_read_hint(uint64_t rd, uint64_t lba, uint32_t count);
/* The output rule holds something of the guest's I/O (a disk write, or
 * a request behind one; a frame the guest sent): the backup should
 * acknowledge the log at once. */
bool gio_output_held(void);

/* A clone's copy of a private drive (ft/migrate.c). How many 4 KiB
 * blocks the guest's drive has when each host has its own (0 for a
 * shared drive or none); the last may be short. */
uint64_t gio_copy_blocks(void);
/* From now on set the bit of each block the guest writes (at its
 * request, before the drive has it) in dirty; NULL: no longer. */
void gio_copy_track(uint64_t *dirty);
/* Queue a read (or write) of count blocks from block b through the
 * drive's queue, which keeps it in order with the guest's requests; the
 * caller sets io->done and io->ctx. A short last block reads into (or
 * writes from) the start of its 4 KiB only. */
void gio_copy_io(struct blk_io *io, bool write, uint64_t b, uint32_t count, uint8_t *buf);
/* Run the drive until its queue is empty, at most ms: 0, or -1. */
int gio_copy_wait(uint32_t ms);

struct gio_stats {
    uint64_t requests, reads, writes, flushes, errors, bytes_read, bytes_written, reissued, dropped, held;
    uint64_t read_holds; /* primary: a write waited for the backup to read its sectors first */
    uint64_t own_reads;  /* backup: reads it performed itself */
    uint64_t checked;    /* backup: ... whose data matched the log's DEVCHECK */
    uint64_t read_ahead, read_ahead_full; /* backup: reads served by read-ahead; hints dropped (all entries busy) */
    uint64_t hold_ns, hold_n, hold_max_ns; /* primary: how long the output rule held writes */
};
void gio_stats(struct gio_stats *s);
/* One line of those figures on the console, tagged who. */
void gio_report(const char *who);

#endif
