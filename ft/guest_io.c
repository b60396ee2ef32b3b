/* The guest's disk on a host drive, through the determinism boundary
 * (guest_io.h). */
#include "guest_io.h"
#include "../drivers/blockdev.h"
#include "../drivers/partition.h"
#include "../vmm/vm.h"
#include "../vmm/vdisk.h"
#include "log.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/log.h"
#include "../kernel/service.h"
#include <string.h>

struct gslot {
    struct blk_io io;
    bool issued;  /* io belongs to the drive until its done() */
    bool stale;   /* issued for a guest (or a replay) that no longer waits for it */
    bool waiting; /* the guest's request is not issued yet (replay, or its io was still busy) */
    bool ready;   /* completed, waiting for an event point */
    uint8_t status;
};

static struct {
    bool on, replay;
    struct blockdev *bd;
    uint64_t first, sectors; /* the partition (or whole drive) */
    struct vm *vm;
    struct gslot slot[VBLK_SLOTS];
    uint8_t order[VBLK_SLOTS]; /* ready slots, in completion order */
    unsigned nready;
    struct gio_stats st;
} G;

static void issue(unsigned i);

bool gio_active(void) { return G.on; }
bool gio_pending(void) { return G.nready != 0; }
void gio_stats(struct gio_stats *s) { *s = G.st; }

static void io_done(struct blk_io *io)
{
    struct gslot *s = io->ctx;
    s->issued = false;
    if (s->stale) {
        s->stale = false;
        G.st.dropped++;
    } else if (!G.replay) {
        s->status = io->status == BLK_OK ? VBLK_S_OK : VBLK_S_IOERR;
        if (io->status != BLK_OK)
            G.st.errors++;
        s->ready = true;
        G.order[G.nready++] = (uint8_t)(s - G.slot);
    }
    if (s->waiting && !G.replay) {
        /* The guest (booted again, or gone live) asked on this slot while
         * the drive still had the slot's old, stale request: issue the new
         * one now. */
        s->waiting = false;
        issue((unsigned)(s - G.slot));
    }
}

/* Issue the guest's request in slot i (its vblk_req is in the device). */
static void issue(unsigned i)
{
    struct gslot *s = &G.slot[i];
    const struct vblk_req *r = &G.vm->plat.blk.slot[i].req;
    s->issued = true;
    s->io.op = r->type == VBLK_T_IN ? BLK_READ : r->type == VBLK_T_OUT ? BLK_WRITE : BLK_FLUSH;
    s->io.lba = G.first + r->sector;
    s->io.count = r->bytes / VBLK_SECTOR;
    s->io.buf = r->buf;
    s->io.done = io_done;
    s->io.ctx = s;
    blockdev_submit(G.bd, &s->io);
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
    s->ready = false;
    if (G.replay || s->issued) {
        s->waiting = true; /* the log completes it; or the drive is still busy with the slot's old io */
        return;
    }
    issue(i);
}

/* A guest boot: nothing the guest asked before matters any more. */
static void gio_boot(void *ctx)
{
    (void)ctx;
    for (unsigned i = 0; i < VBLK_SLOTS; i++) {
        struct gslot *s = &G.slot[i];
        if (s->issued)
            s->stale = true;
        s->waiting = s->ready = false;
    }
    G.nready = 0;
}

void gio_set_replay(struct vm *vm, bool replay)
{
    if (!G.on)
        return;
    G.vm = vm;
    bool was = G.replay;
    G.replay = replay;
    if (!was || replay)
        return;
    /* Go-live: the requests the log started and never completed go to
     * this host's drive now. */
    for (unsigned i = 0; i < VBLK_SLOTS; i++) {
        struct gslot *s = &G.slot[i];
        if (!s->waiting || !vm->plat.blk.slot[i].busy)
            continue;
        G.st.reissued++;
        if (s->issued)
            continue; /* issued when the drive gives back the old io (io_done) */
        s->waiting = false;
        issue(i);
    }
    if (G.st.reissued)
        log_info("disk", "go-live: %llu disk request%s the log left in flight issued again",
                 (unsigned long long)G.st.reissued, G.st.reissued == 1 ? "" : "s");
}

void gio_deliver(struct vm *vm, gio_log_fn log)
{
    /* Completions in the order the drive finished them; each takes its
     * data into the guest and may let the device take new requests. */
    for (unsigned k = 0; k < G.nready; k++) {
        unsigned i = G.order[k];
        struct gslot *s = &G.slot[i];
        s->ready = false;
        const struct vblk_slot *vs = &vm->plat.blk.slot[i];
        if (log) {
            bool data = vs->req.type == VBLK_T_IN && s->status == VBLK_S_OK && !vs->orphan;
            log(LOG_DEV_BLK, i, s->status, data ? vs->req.buf : NULL, data ? vs->req.bytes : 0);
        }
        vblk_complete(&vm->plat.blk, i, s->status);
    }
    G.nready = 0;
}

int gio_replay_data(struct vm *vm, uint8_t device, uint32_t tag, uint32_t offset, const uint8_t *data, uint32_t len,
                    const char **why)
{
    const struct vblk_slot *vs = tag < VBLK_SLOTS ? &vm->plat.blk.slot[tag] : NULL;
    if (!G.on || device != LOG_DEV_BLK || !vs || !vs->busy || !G.slot[tag].waiting) {
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

int gio_replay_done(struct vm *vm, uint8_t device, uint32_t tag, uint32_t status, const char **why)
{
    const struct vblk_slot *vs = tag < VBLK_SLOTS ? &vm->plat.blk.slot[tag] : NULL;
    if (!G.on || device != LOG_DEV_BLK || !vs || !vs->busy || !G.slot[tag].waiting || status > 0xff) {
        *why = "the log completes a disk request the replayed guest has not made";
        return -1;
    }
    G.slot[tag].waiting = false;
    vblk_complete(&vm->plat.blk, tag, (uint8_t)status);
    return 0;
}

/* Boot-time reads (the partition table), before any guest runs. */
static void sync_done(struct blk_io *io) { *(bool *)io->ctx = true; }

static int read_sync(void *ctx, uint64_t lba, uint32_t count, uint8_t *buf)
{
    struct blockdev *bd = ctx;
    static bool finished;
    static struct blk_io io; /* the drive may hold it past a timeout */
    if (io.ctx && !finished)
        return -1; /* an earlier read never came back */
    finished = false;
    io = (struct blk_io){ .op = BLK_READ, .lba = lba, .count = count, .buf = buf, .done = sync_done,
                          .ctx = &finished };
    blockdev_submit(bd, &io);
    if (blockdev_wait_idle(bd, 10000) || !finished)
        return -1;
    return io.status == BLK_OK ? 0 : -1;
}

static void gio_init(void)
{
    const struct config *cfg = kernel_config();
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
        if (partition_lookup(read_sync, bd, bd->sectors, cfg->guest.disk_partition, scratch, &G.first, &G.sectors,
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
    G.on = true;
    if (cfg->guest.disk_partition)
        log_info("disk", "the guest's disk: partition %u of %s (serial %s), sectors %llu-%llu (%llu MiB)",
                 cfg->guest.disk_partition, bd->name, bd->serial, (unsigned long long)G.first,
                 (unsigned long long)(G.first + G.sectors - 1), (unsigned long long)(G.sectors >> 11));
    else
        log_info("disk", "the guest's disk: all of %s (serial %s), %llu sectors (%llu MiB)", bd->name, bd->serial,
                 (unsigned long long)G.sectors, (unsigned long long)(G.sectors >> 11));
}

SERVICE(26, guest_io, gio_init, NULL);
