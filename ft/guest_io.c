/* The guest's disk on a host drive, through the determinism boundary
 * (guest_io.h). */
#include "guest_io.h"
#include "guest_net.h"
#include "../drivers/blockdev.h"
#include "../drivers/partition.h"
#include "../vmm/vm.h"
#include "../vmm/vdisk.h"
#include "log.h"
#include "../kernel/clock.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/layout.h"
#include "../kernel/pmm.h"
#include "../kernel/power.h"
#include "../kernel/service.h"
#include <string.h>

/* A request slot of the guest's virtio-blk device, as this layer sees it. */
enum gstate {
    S_FREE,
    S_QUEUED, /* to be issued to the drive, in submission order (fifo) */
    S_ISSUED, /* the drive works on it */
    S_READY,  /* completed by the drive, waiting for an event point */
    S_LOGGED, /* replay: the log completes it (DEVDONE) */
};

struct gslot {
    enum gstate st;
    struct blk_io io;
    bool io_busy;  /* the drive holds io (until its done()) */
    bool io_stale; /* ... for a guest life that is over: its result is dropped */
    uint64_t tag;  /* the log's length when the guest made it (the output rule) */
    uint64_t seq;  /* submission order */
    uint64_t rd;   /* a read: its ordinal among the guest's reads (the same on both hosts) */
    uint8_t status;
    uint8_t tries; /* a backup's own read: failed attempts */
    bool checked;  /* ... its data matched the log's DEVCHECK */
    bool rd_held;  /* a primary's write waited for the backup to read its sectors */
    int ra;        /* a backup's read served by read-ahead entry ra (-1: none) */
    uint64_t queued_ns; /* when it was queued (how long the output rule held it) */
};

/* The primary's reads the backup has not performed yet (disk_reads =
 * backup on a shared disk): a write must not change their sectors before
 * the backup has read them too. */
#define RD_RING 1024
struct rd_entry {
    uint64_t rd, lba;
    uint32_t count;
};

/* Backup, disk_reads = backup: reads ahead of the replay. The primary
 * names each read it completed (ordinal, sectors: gio_read_hint()); the
 * backup reads those sectors at once into an entry here, and the replayed
 * guest's read of that ordinal takes the data from it. The data is what
 * the primary read: its read had completed, so every earlier write to
 * those sectors was on the disk, and its later writes to them wait until
 * this host reports the read performed, which read-ahead makes soon
 * after the primary's instead of a replay lag later. The log's DEVCHECK
 * still checks every byte (CRC32C). */
#define RA_ENTRIES 64 /* 8 MiB of 128 KiB buffers: about half a second of reads in Bochs */
enum ra_state { RA_FREE, RA_ISSUED, RA_DONE };
struct ra_entry {
    enum ra_state st;
    bool stale;    /* go-live or a guest boot: its result is not wanted */
    int slot;      /* the replayed guest's slot that waits for it (-1: none yet) */
    uint64_t rd, lba;
    uint32_t count;
    uint8_t status; /* VBLK_S_* once done */
    uint8_t *buf;
    struct blk_io io;
};

static struct {
    bool on, replay, private_copy;
    bool backup_reads; /* [guest] disk_reads = backup */
    struct blockdev *bd;
    uint64_t first, sectors; /* the partition (or whole drive) */
    struct vm *vm;
    struct gslot slot[VBLK_SLOTS];
    uint8_t fifo[VBLK_SLOTS]; /* S_QUEUED slots, oldest first */
    unsigned nfifo;
    uint8_t order[VBLK_SLOTS]; /* S_READY slots, in completion order */
    unsigned nready;
    uint64_t seq;
    uint64_t reads;                 /* the guest's reads so far (ordinals) */
    bool (*released)(uint64_t tag); /* the output rule's gate on writes (NULL: none) */
    uint64_t (*tag_now)(void);
    uint64_t (*backup_read)(void);  /* primary: the reads the backup has performed (NULL: none) */
    struct rd_entry ring[RD_RING];  /* primary: reads the backup may still have to perform */
    uint64_t ring_head, ring_tail;
    void (*read_hint)(uint64_t rd, uint64_t lba, uint32_t count); /* primary: tell the backup (NULL: none) */
    struct ra_entry ra[RA_ENTRIES]; /* backup: reads ahead of the replay */
    bool ra_ok;                     /* ... their buffers exist */
    struct gio_stats st;
    uint64_t *copy_dirty; /* a clone's map of blocks written (gio_copy_track()) */
} G;

bool gio_active(void) { return G.on; }
bool gio_pending(void) { return G.nready != 0 || gnet_pending(G.vm); }
void gio_stats(struct gio_stats *s) { *s = G.st; }

static const struct vblk_req *req_of(unsigned i) { return &G.vm->plat.blk.slot[i].req; }
static bool writes(const struct vblk_req *r) { return r->type == VBLK_T_OUT || r->type == VBLK_T_FLUSH; }

static void io_done(struct blk_io *io);
static void enqueue(unsigned i);

/* The output rule applies to this disk's writes: a shared drive, a live
 * primary whose backup is not caught up. (A private copy dies with its
 * host, and the backup writes its own.) */
static bool disk_gated(void) { return G.released && !G.replay && !G.private_copy; }

/* The backup performs the reads of a shared disk itself, and this
 * primary must not overwrite what it has yet to read. */
static bool read_hazards(void) { return G.backup_reads && disk_gated() && G.backup_read; }

/* Primary: does a write of [lba, lba + count) hit a read the backup has
 * not performed yet? Forgets the reads it has. */
static void prune_ring(void)
{
    uint64_t done = G.backup_read();
    while (G.ring_head != G.ring_tail && G.ring[G.ring_head % RD_RING].rd < done)
        G.ring_head++;
}

static bool hits_unread(uint64_t lba, uint32_t count)
{
    prune_ring();
    for (uint64_t k = G.ring_head; k != G.ring_tail; k++) {
        const struct rd_entry *e = &G.ring[k % RD_RING];
        if (e->lba < lba + count && lba < e->lba + e->count)
            return true;
    }
    return false;
}

/* Backup: a read of the shared disk must wait for the primary's earlier
 * writes to those sectors: the log's completion of each says it is on
 * the disk. (Only overlapping ones: the primary ran a read beside an
 * earlier write elsewhere, and may have completed it first.) */
static bool behind_logged_write(unsigned i)
{
    const struct vblk_req *r = req_of(i);
    for (unsigned k = 0; k < VBLK_SLOTS; k++) {
        const struct vblk_req *w = req_of(k);
        if (k != i && G.slot[k].st == S_LOGGED && G.slot[k].seq < G.slot[i].seq && w->type == VBLK_T_OUT &&
            w->sector < r->sector + r->bytes / VBLK_SECTOR && r->sector < w->sector + w->bytes / VBLK_SECTOR)
            return true;
    }
    return false;
}

/* Issue queued requests in submission order while the head may go: its
 * slot's io is free (not still held by the drive for a past guest life)
 * and, under the output rule, a write (or flush) only once the backup has
 * the log up to where the guest made it; everything behind such a write
 * waits with it, so a read never overtakes a write. With disk_reads =
 * backup a write also waits while it would overwrite sectors the backup
 * has still to read, and the backup's own read waits for the primary's
 * overlapping writes before it. */
static void kick(void)
{
    while (G.nfifo) {
        unsigned i = G.fifo[0];
        struct gslot *s = &G.slot[i];
        const struct vblk_req *r = req_of(i);
        if (s->io_busy)
            return;
        if (disk_gated() && writes(r) && !G.released(s->tag))
            return;
        if (read_hazards() && r->type == VBLK_T_OUT && hits_unread(r->sector + G.first, r->bytes / VBLK_SECTOR)) {
            if (!s->rd_held) {
                s->rd_held = true;
                G.st.read_holds++;
            }
            return;
        }
        bool track = read_hazards() && r->type == VBLK_T_IN;
        if (track) {
            prune_ring();
            if (G.ring_tail - G.ring_head == RD_RING)
                return; /* the backup is that far behind: wait for it */
        }
        if (G.replay && !G.private_copy && r->type == VBLK_T_IN && behind_logged_write(i))
            return;
        if (track)
            G.ring[G.ring_tail++ % RD_RING] = (struct rd_entry){ s->rd, r->sector + G.first, r->bytes / VBLK_SECTOR };
        memmove(G.fifo, G.fifo + 1, --G.nfifo);
        if (disk_gated() && writes(r)) {
            uint64_t w = clock_ns() - s->queued_ns;
            G.st.hold_ns += w;
            G.st.hold_n++;
            if (w > G.st.hold_max_ns)
                G.st.hold_max_ns = w;
        }
        s->st = S_ISSUED;
        s->io_busy = true;
        s->io_stale = false;
        s->io.op = r->type == VBLK_T_IN ? BLK_READ : r->type == VBLK_T_OUT ? BLK_WRITE : BLK_FLUSH;
        s->io.lba = G.first + r->sector;
        s->io.count = r->bytes / VBLK_SECTOR;
        s->io.buf = r->buf;
        s->io.done = io_done;
        s->io.ctx = s;
        blockdev_submit(G.bd, &s->io);
    }
}

static void io_done(struct blk_io *io)
{
    struct gslot *s = io->ctx;
    s->io_busy = false;
    if (s->io_stale) {
        s->io_stale = false;
        G.st.dropped++;
    } else if (s->st == S_ISSUED && G.replay && io->op == BLK_READ && io->status != BLK_OK && ++s->tries < 3) {
        /* The backup's own read failed: the primary's may not have. */
        log_warn("disk", "this host's read of %u sectors at %llu failed; trying again", io->count,
                 (unsigned long long)io->lba);
        enqueue((unsigned)(s - G.slot));
    } else if (s->st == S_ISSUED && G.replay) {
        /* The backup's own write (or read) is done; the log says when the
         * guest sees it. */
        s->status = io->status == BLK_OK ? VBLK_S_OK : VBLK_S_IOERR;
        s->st = S_LOGGED;
    } else if (s->st == S_ISSUED) {
        s->status = io->status == BLK_OK ? VBLK_S_OK : VBLK_S_IOERR;
        if (io->status != BLK_OK)
            G.st.errors++;
        else if (io->op == BLK_READ && read_hazards() && G.read_hint)
            G.read_hint(s->rd, io->lba, io->count); /* done: every earlier write to them is on the disk */
        s->st = S_READY;
        G.order[G.nready++] = (uint8_t)(s - G.slot);
    }
    kick();
}

/* Backup: read-ahead entry e is not wanted: free now, or once its read
 * lands (ra_done()). */
static void ra_drop(struct ra_entry *e)
{
    if (e->st == RA_DONE)
        e->st = RA_FREE;
    else if (e->st == RA_ISSUED)
        e->stale = true;
}

/* Backup: the data of read-ahead entry e goes to slot i's request, which
 * is then where the backup's own read would leave it (io_done()). */
static void ra_serve(struct ra_entry *e, unsigned i)
{
    struct gslot *s = &G.slot[i];
    const struct vblk_req *r = req_of(i);
    memcpy(r->buf, e->buf, r->bytes);
    s->status = e->status;
    s->ra = -1;
    e->st = RA_FREE;
    G.st.read_ahead++;
    if (G.replay) {
        s->st = S_LOGGED;
    } else {
        s->st = S_READY; /* went live meanwhile: the guest gets it at the next point */
        G.order[G.nready++] = (uint8_t)i;
    }
}

/* Backup: the replayed guest's read in slot i, if read ahead (or being
 * read ahead) with the same sectors. Entries for earlier ordinals are
 * reads this guest never made (a reboot): dropped. */
static bool ra_take(unsigned i)
{
    struct gslot *s = &G.slot[i];
    const struct vblk_req *r = req_of(i);
    struct ra_entry *hit = NULL;
    for (unsigned k = 0; k < RA_ENTRIES; k++) {
        struct ra_entry *e = &G.ra[k];
        if (e->st == RA_FREE || e->stale || e->slot >= 0)
            continue;
        if (e->rd < s->rd)
            ra_drop(e);
        else if (e->rd == s->rd)
            hit = e;
    }
    if (!hit)
        return false;
    if (hit->lba != G.first + r->sector || hit->count != r->bytes / VBLK_SECTOR) {
        ra_drop(hit); /* not the read the primary made under this ordinal: read here */
        return false;
    }
    if (hit->st == RA_DONE && hit->status != VBLK_S_OK) {
        hit->st = RA_FREE; /* failed ahead: the ordinary read tries three times */
        return false;
    }
    if (hit->st == RA_DONE) {
        ra_serve(hit, i);
    } else {
        hit->slot = (int)i;
        s->ra = (int)(hit - G.ra);
        s->st = S_ISSUED;
    }
    return true;
}

static void ra_done(struct blk_io *io)
{
    struct ra_entry *e = io->ctx;
    e->status = io->status == BLK_OK ? VBLK_S_OK : VBLK_S_IOERR;
    if (e->stale) {
        e->st = RA_FREE;
        return;
    }
    e->st = RA_DONE;
    if (e->slot >= 0) {
        if (e->status == VBLK_S_OK) {
            ra_serve(e, (unsigned)e->slot);
        } else {
            /* Read it the ordinary way, with its retries. */
            unsigned i = (unsigned)e->slot;
            G.slot[i].ra = -1;
            e->st = RA_FREE;
            enqueue(i);
            kick();
        }
    }
}

void gio_read_hint(uint64_t rd, uint64_t lba, uint32_t count)
{
    if (!G.on || !G.replay || !G.backup_reads || !G.ra_ok || rd < G.reads || !count ||
        (uint64_t)count * VBLK_SECTOR > VBLK_MAX_BYTES || lba < G.first || count > G.sectors ||
        lba - G.first > G.sectors - count)
        return;
    struct ra_entry *e = NULL;
    for (unsigned k = 0; k < RA_ENTRIES; k++) {
        struct ra_entry *x = &G.ra[k];
        if (x->st == RA_DONE && x->slot < 0 && (x->rd < G.reads || x->stale))
            x->st = RA_FREE; /* a read the replay has passed without it */
        if (x->st != RA_FREE && x->rd == rd && !x->stale)
            return; /* told twice */
        if (x->st == RA_FREE && !e)
            e = x;
    }
    if (!e) {
        G.st.read_ahead_full++;
        return; /* full: the replay reads it itself */
    }
    *e = (struct ra_entry){ .st = RA_ISSUED, .slot = -1, .rd = rd, .lba = lba, .count = count, .buf = e->buf };
    e->io.op = BLK_READ;
    e->io.lba = lba;
    e->io.count = count;
    e->io.buf = e->buf;
    e->io.done = ra_done;
    e->io.ctx = e;
    blockdev_submit(G.bd, &e->io);
}

void gio_set_read_hint(void (*hint)(uint64_t rd, uint64_t lba, uint32_t count)) { G.read_hint = hint; }

static void enqueue(unsigned i)
{
    G.slot[i].st = S_QUEUED;
    G.slot[i].queued_ns = clock_ns();
    G.fifo[G.nfifo++] = (uint8_t)i;
}

static void gio_submit(void *ctx, unsigned i, const struct vblk_req *r)
{
    (void)ctx;
    struct gslot *s = &G.slot[i];
    G.st.requests++;
    if (r->type == VBLK_T_IN) {
        G.st.reads++;
        G.st.bytes_read += r->bytes;
    } else if (r->type == VBLK_T_OUT) {
        G.st.writes++;
        G.st.bytes_written += r->bytes;
    } else {
        G.st.flushes++;
    }
    if (G.copy_dirty && r->type == VBLK_T_OUT && r->bytes)
        for (uint64_t k = r->sector / 8; k <= (r->sector + r->bytes / VBLK_SECTOR - 1) / 8; k++)
            G.copy_dirty[k / 64] |= 1ull << (k % 64);
    s->seq = G.seq++;
    s->rd = r->type == VBLK_T_IN ? G.reads++ : 0;
    s->tries = 0;
    s->checked = false;
    s->rd_held = false;
    s->tag = disk_gated() ? G.tag_now() : 0;
    /* Replaying, the log completes every request; a backup with its own
     * copy of the disk (private) also carries out the writes itself, and
     * with disk_reads = backup the reads too. */
    if (G.replay && !(G.private_copy && writes(r)) && !(G.backup_reads && r->type == VBLK_T_IN)) {
        s->st = S_LOGGED;
        return;
    }
    s->ra = -1;
    if (G.replay && r->type == VBLK_T_IN) {
        G.st.own_reads++;
        if (ra_take(i))
            return;
    }
    enqueue(i);
    kick();
    if (s->st == S_QUEUED && disk_gated()) {
        G.st.held++; /* waits for the backup's acknowledgement (or behind a write that does) */
        if (kernel_config()->debug.fault_test == CFG_FAULT_DIE_IN_IO && G.st.held >= 8) {
            char why[120];
            fmt_snprintf(why, sizeof(why), "fault_test = die_in_io: the primary stops dead with %u guest disk "
                                           "request%s held by the output rule", G.nfifo, G.nfifo == 1 ? "" : "s");
            power_halt(why);
        }
    }
}

/* A guest boot: nothing the guest asked before matters any more. */
static void gio_boot(void *ctx)
{
    (void)ctx;
    for (unsigned i = 0; i < VBLK_SLOTS; i++) {
        struct gslot *s = &G.slot[i];
        if (s->io_busy)
            s->io_stale = true;
        s->st = S_FREE;
        s->ra = -1;
    }
    for (unsigned k = 0; k < RA_ENTRIES; k++)
        if (G.ra[k].slot >= 0) {
            G.ra[k].slot = -1;
            G.ra[k].stale = true;
        }
    G.nfifo = G.nready = 0;
    /* Read ordinals go on across guest boots (both hosts boot alike), so
     * the backup's count of reads performed never goes back. */
}

void gio_set_gate(bool (*released)(uint64_t tag), uint64_t (*write_tag)(void), uint64_t (*frame_tag)(void))
{
    G.released = released;
    G.tag_now = write_tag;
    gnet_set_gate(released, frame_tag);
    if (G.on)
        kick();
}

bool gio_private(void) { return G.private_copy; }
bool gio_backup_reads(void) { return G.on && G.backup_reads; }
bool gio_output_held(void) { return gnet_output_held() || (G.on && G.nfifo && disk_gated()); }

void gio_set_backup_reads(uint64_t (*reads_done)(void))
{
    G.backup_read = reads_done;
    G.ring_head = G.ring_tail = 0;
    if (G.on)
        kick();
}

void gio_ordinals(uint64_t *seq, uint64_t *reads)
{
    *seq = G.seq;
    *reads = G.reads;
}

void gio_set_ordinals(uint64_t seq, uint64_t reads)
{
    G.seq = seq;
    G.reads = reads;
    G.ring_head = G.ring_tail = 0; /* reads of the old numbering */
}

uint64_t gio_reads_performed(void)
{
    uint64_t low = G.reads;
    for (unsigned i = 0; i < VBLK_SLOTS; i++) {
        const struct gslot *s = &G.slot[i];
        if ((s->st == S_QUEUED || s->st == S_ISSUED) && G.vm->plat.blk.slot[i].busy &&
            G.vm->plat.blk.slot[i].req.type == VBLK_T_IN && s->rd < low)
            low = s->rd;
    }
    if (low != G.reads)
        return low;
    /* Beyond the replay's reads, those read ahead in a row: one pass marks
     * the ordinals read ahead (at most RA_ENTRIES of them, so a run from
     * low fits 64 bits), the trailing ones count the run. */
    _Static_assert(RA_ENTRIES <= 64, "one bit per entry");
    uint64_t have = 0;
    for (unsigned k = 0; k < RA_ENTRIES; k++) {
        const struct ra_entry *e = &G.ra[k];
        if (e->st == RA_DONE && !e->stale && e->status == VBLK_S_OK && e->rd >= low && e->rd - low < 64)
            have |= 1ull << (e->rd - low);
    }
    return low + (have == ~0ull ? 64 : (uint64_t)__builtin_ctzll(~have));
}

void gio_report(const char *who)
{
    gnet_report(who);
    if (!G.on)
        return;
    const struct gio_stats *t = &G.st;
    log_info(who, "disk: %llu requests (%llu reads, %llu KiB; %llu writes, %llu KiB; %llu flushes), %llu held by the "
                  "output rule, %llu issued again at go-live, %llu errors",
             (unsigned long long)t->requests, (unsigned long long)t->reads, (unsigned long long)(t->bytes_read >> 10),
             (unsigned long long)t->writes, (unsigned long long)(t->bytes_written >> 10),
             (unsigned long long)t->flushes, (unsigned long long)t->held, (unsigned long long)t->reissued,
             (unsigned long long)t->errors);
    if (t->hold_n)
        log_info(who, "disk: writes waited for the backup %llu us on average, at most %llu us",
                 (unsigned long long)(t->hold_ns / t->hold_n / 1000), (unsigned long long)(t->hold_max_ns / 1000));
    if (G.backup_reads)
        log_info(who, "disk reads on the backup: %llu performed here, %llu checked against the log; %llu writes "
                      "waited for the backup to read their sectors first; %llu read ahead of the replay (%llu not, "
                      "read-ahead full)",
                 (unsigned long long)t->own_reads, (unsigned long long)t->checked, (unsigned long long)t->read_holds,
                 (unsigned long long)t->read_ahead, (unsigned long long)t->read_ahead_full);
}

void gio_set_replay(struct vm *vm, bool replay)
{
    gnet_set_replay(vm, replay);
    if (!G.on)
        return;
    G.vm = vm;
    bool was = G.replay;
    G.replay = replay;
    if (!was || replay)
        return;
    /* Reads ahead nobody waits for are not wanted any more (a slot that
     * waits for one gets it when it lands, as a completion). */
    for (unsigned k = 0; k < RA_ENTRIES; k++)
        if (G.ra[k].slot < 0)
            ra_drop(&G.ra[k]);
    /* Go-live: the requests the log started and never completed go to
     * this host's drive now, oldest first (a write the backup carried out
     * already is written again: the same data to the same sectors). */
    unsigned n = 0;
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < VBLK_SLOTS; i++)
            if (G.slot[i].st == S_LOGGED && vm->plat.blk.slot[i].busy &&
                (best < 0 || G.slot[i].seq < G.slot[best].seq))
                best = (int)i;
        if (best < 0)
            break;
        enqueue((unsigned)best);
        n++;
    }
    /* With disk_reads = backup this host's own reads may be queued
     * already: everything goes in the guest's order. */
    for (unsigned a = 1; a < G.nfifo; a++)
        for (unsigned b = a; b > 0 && G.slot[G.fifo[b - 1]].seq > G.slot[G.fifo[b]].seq; b--) {
            uint8_t t = G.fifo[b];
            G.fifo[b] = G.fifo[b - 1];
            G.fifo[b - 1] = t;
        }
    G.st.reissued += n;
    if (n)
        log_info("disk", "go-live: %u disk request%s the log left in flight issued again", n, n == 1 ? "" : "s");
    kick();
}

void gio_deliver(struct vm *vm, gio_log_fn log)
{
    gnet_deliver(vm, log);
    /* Completions in the order the drive finished them; each takes its
     * data into the guest and may let the device take new requests. */
    unsigned n = G.nready;
    uint8_t order[VBLK_SLOTS];
    memcpy(order, G.order, n);
    G.nready = 0;
    for (unsigned k = 0; k < n; k++) {
        unsigned i = order[k];
        struct gslot *s = &G.slot[i];
        s->st = S_FREE;
        const struct vblk_slot *vs = &vm->plat.blk.slot[i];
        if (log) {
            bool data = vs->req.type == VBLK_T_IN && s->status == VBLK_S_OK && !vs->orphan;
            log(LOG_DEV_BLK, i, s->status, data ? vs->req.buf : NULL, data ? vs->req.bytes : 0, G.backup_reads);
        }
        vblk_complete(&vm->plat.blk, i, s->status);
    }
}

int gio_replay_data(struct vm *vm, uint8_t device, uint32_t tag, uint32_t offset, const uint8_t *data, uint32_t len,
                    const char **why)
{
    if (device == LOG_DEV_NET)
        return gnet_replay_data(vm, tag, offset, data, len, why);
    const struct vblk_slot *vs = tag < VBLK_SLOTS ? &vm->plat.blk.slot[tag] : NULL;
    if (!G.on || device != LOG_DEV_BLK || !vs || !vs->busy || G.slot[tag].st != S_LOGGED) {
        *why = "the log gives data of a disk request the replayed guest has not made";
        return -1;
    }
    if (vs->req.type != VBLK_T_IN || offset > vs->req.bytes || len > vs->req.bytes - offset) {
        *why = "the log's disk data does not fit the replayed guest's request";
        return -1;
    }
    memcpy(vs->req.buf + offset, data, len);
    return 0;
}

int gio_replay_check(struct vm *vm, uint8_t device, uint32_t tag, uint64_t bytes, uint32_t crc, const char **why)
{
    const struct vblk_slot *vs = tag < VBLK_SLOTS ? &vm->plat.blk.slot[tag] : NULL;
    struct gslot *s = tag < VBLK_SLOTS ? &G.slot[tag] : NULL;
    if (!G.on || !G.backup_reads || device != LOG_DEV_BLK || !vs || !vs->busy || vs->req.type != VBLK_T_IN ||
        s->st == S_FREE || s->st == S_READY) {
        *why = "the log checks a disk read the replayed guest has not made (or that this host does not perform)";
        return -1;
    }
    if (bytes != vs->req.bytes) {
        *why = "the log's disk read has another length than the replayed guest's request";
        return -1;
    }
    if (s->st != S_LOGGED)
        return 1; /* this host's own read of it is still under way */
    if (s->status != VBLK_S_OK) {
        *why = "this host could not read the shared disk where the primary could (three tries)";
        return -1;
    }
    if (crc32c(0, vs->req.buf, vs->req.bytes) != crc) {
        *why = "this host read other data from the shared disk than the primary did (the CRC differs)";
        return -1;
    }
    s->checked = true;
    G.st.checked++;
    return 0;
}

int gio_replay_done(struct vm *vm, uint8_t device, uint32_t tag, uint32_t status, const char **why)
{
    if (device == LOG_DEV_NET)
        return gnet_replay_done(vm, tag, status, why);
    const struct vblk_slot *vs = tag < VBLK_SLOTS ? &vm->plat.blk.slot[tag] : NULL;
    struct gslot *s = tag < VBLK_SLOTS ? &G.slot[tag] : NULL;
    if (!G.on || device != LOG_DEV_BLK || !vs || !vs->busy || s->st == S_FREE || s->st == S_READY ||
        status > 0xff) {
        *why = "the log completes a disk request the replayed guest has not made";
        return -1;
    }
    if (s->st != S_LOGGED)
        return 1; /* this backup's own write of it is still under way */
    s->st = S_FREE;
    vblk_complete(&vm->plat.blk, tag, (uint8_t)status);
    return 0;
}

static void gio_init(void)
{
    const struct config *cfg = kernel_config();
    G.vm = &the_vm;
    gnet_init();
    if (!cfg->guest.present || !cfg->guest.disk_serial[0])
        return;
    char err[CFG_ERR_MAX + 64], why[160];
    struct blockdev *bd = blockdev_find(cfg->guest.disk_serial);
    if (!bd) {
        char found[200] = "";
        size_t n = 0;
        for (int i = 0; i < blockdev_count(); i++)
            n += (size_t)fmt_snprintf(found + n, sizeof(found) - n, "%s%s (%s)", i ? ", " : "",
                                      blockdev_get(i)->serial, blockdev_get(i)->name);
        fmt_snprintf(err, sizeof(err), "%s:%d: disk_device: no drive has the serial number '%s' (drives: %s)",
                     cfg->file, cfg->guest.disk_device_line, cfg->guest.disk_serial, n ? found : "none found");
        kernel_config_fail(err);
    }
    G.bd = bd;
    G.first = 0;
    G.sectors = bd->sectors;
    if (cfg->guest.disk_partition) {
        static uint8_t scratch[4096];
        if (partition_lookup(blockdev_part_read, bd, bd->sectors, cfg->guest.disk_partition, scratch, &G.first, &G.sectors,
                             why, sizeof(why))) {
            fmt_snprintf(err, sizeof(err), "%s:%d: disk_device: %s (%s): %s", cfg->file,
                         cfg->guest.disk_device_line, bd->serial, bd->name, why);
            kernel_config_fail(err);
        }
    }
    struct vblk_backend be = { gio_submit, NULL };
    if (vdisk_setup_external(G.sectors, &be, gio_boot, why, sizeof(why))) {
        fmt_snprintf(err, sizeof(err), "%s:%d: disk_device: %s", cfg->file, cfg->guest.disk_device_line, why);
        kernel_config_fail(err);
    }
    G.vm = &the_vm;
    G.private_copy = cfg->guest.disk_mode == CFG_DISK_PRIVATE;
    G.backup_reads = cfg->guest.disk_reads == CFG_READS_BACKUP;
    if (G.backup_reads && cfg->pair.present && cfg->debug.read_ahead == CFG_ON) {
        uint64_t pa = pmm_try_alloc(RA_ENTRIES * (VBLK_MAX_BYTES / 4096), 1);
        if (pa != PMM_NONE) {
            for (unsigned k = 0; k < RA_ENTRIES; k++)
                G.ra[k] = (struct ra_entry){ .slot = -1, .buf = (uint8_t *)phys_to_virt(pa) + k * VBLK_MAX_BYTES };
            G.ra_ok = true;
        } else {
            log_warn("disk", "no memory for the backup's read-ahead (%u KiB): it reads at the replay's pace",
                     RA_ENTRIES * (VBLK_MAX_BYTES >> 10));
        }
    }
    G.on = true;
    if (cfg->guest.disk_partition)
        log_info("disk", "the guest's disk: partition %u of %s (serial %s), sectors %llu-%llu (%llu MiB)",
                 cfg->guest.disk_partition, bd->name, bd->serial, (unsigned long long)G.first,
                 (unsigned long long)(G.first + G.sectors - 1), (unsigned long long)(G.sectors >> 11));
    else
        log_info("disk", "the guest's disk: all of %s (serial %s), %llu sectors (%llu MiB)", bd->name, bd->serial,
                 (unsigned long long)G.sectors, (unsigned long long)(G.sectors >> 11));
}

uint64_t gio_copy_blocks(void) { return G.on && G.private_copy ? (G.sectors + 7) / 8 : 0; }
void gio_copy_track(uint64_t *dirty) { G.copy_dirty = dirty; }

void gio_copy_io(struct blk_io *io, bool write, uint64_t b, uint32_t count, uint8_t *buf)
{
    uint64_t first = b * 8, n = (uint64_t)count * 8;
    if (first + n > G.sectors)
        n = first < G.sectors ? G.sectors - first : 0;
    io->op = write ? BLK_WRITE : BLK_READ;
    io->lba = G.first + first;
    io->count = (uint32_t)n;
    io->buf = buf;
    blockdev_submit(G.bd, io);
}

int gio_copy_wait(uint32_t ms) { return G.bd ? blockdev_wait_idle(G.bd, ms) : 0; }

/* Writes the output rule held may go once the backup has the log. */
static bool gio_poll(void)
{
    if (G.on && G.nfifo)
        kick();
    gnet_poll();
    return false;
}

SERVICE(26, guest_io, gio_init, gio_poll);
