/* Pre-copy rounds of guest memory (migrate.h). A round walks a bitmap of
 * the pages it must send (all of them in the first round; then those the
 * dirty flags showed during the round before) in page-number order, one
 * batch of up to 15 pages per channel message, as far as the channel
 * takes each main-loop pass: the guest runs between. */
#include "migrate.h"
#include "converge.h"
#include "migrate_wire.h"
#include "../vmm/vm.h"
#include "../vmm/vmx.h"
#include "../vmm/vdisk.h"
#include "../drivers/blockdev.h"
#include "guest_io.h"
#include "rr.h"
#include "../kernel/format.h"
#include "../kernel/clock.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/bits.h"
#include <string.h>

#define PAGES_PER_CHUNK (GUEST_CHUNK / 4096)

/* What a round walks: guest pages, then the blocks of the guest's disk:
 * one held in host memory (those written since boot in the first round),
 * or a private drive (all of them in the first round: nothing is known
 * of the peer's drive). */
enum { SP_PAGES, SP_DISK, SPACES };

/* A private drive's blocks are read ahead of their batches: up to STAGES
 * batches in flight, each one read per run of adjacent blocks. A
 * receiver writes a batch's blocks the same way. */
#define STAGES 4
#define WSTAGES 16
struct stage {
    unsigned n, pending, failed;
    uint64_t block[MIG_BATCH_MAX];
    struct blk_io io[MIG_BATCH_MAX];
    uint8_t *buf; /* MIG_BATCH_MAX blocks */
};

static struct {
    struct vm *vm;
    struct {
        uint64_t n;
        uint64_t *want; /* items this round still has to send */
        uint64_t cursor;
    } sp[SPACES];
    unsigned space; /* the one the round is in */
    bool final;
    uint64_t round_start_ns, round_bytes, round_pages;
    struct converge cv;
    struct mig_totals t;
    uint8_t batch[MIG_BATCH_BYTES];
    size_t batch_len;   /* a built batch the channel did not take yet */
    uint64_t batch_end; /* the cursor after it */
    uint64_t received, received_blocks;
    /* A private drive: its blocks written since the last take (by the
     * guest, gio_copy_track()), and the reads in flight. */
    bool drive;
    uint64_t *drive_fresh;
    struct stage st[STAGES];
    unsigned st_head, st_tail;
    unsigned read_errors;
    bool failed;
    char fail_why[120];
    /* Receiving: writes in flight, and failures. */
    struct stage ws[WSTAGES];
    uint64_t write_errors;
} M;

static uint8_t *page_ptr(struct vm *vm, uint64_t gfn)
{
    return (uint8_t *)phys_to_virt(vm->mem.chunk_hpa[gfn / PAGES_PER_CHUNK]) + (gfn % PAGES_PER_CHUNK) * 4096;
}

/* OR what was written since the last call into the want bitmaps; how
 * many items that added. */
static uint64_t take_dirty(void)
{
    struct guest_mem *m = &M.vm->mem;
    uint64_t *want = M.sp[SP_PAGES].want;
    bool cleared = false;
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->nchunks; i++) {
        uint64_t d[8];
        if (!m->ept_ad) {
            memset(d, 0xff, sizeof(d)); /* no flags: every page, every round */
        } else if (!guest_mem_take_dirty(m, DIRTY_MIGRATE, i, d, &cleared)) {
            continue;
        }
        for (unsigned w = 0; w < 8; w++) {
            n += popcount64(d[w] & ~want[i * 8 + w]);
            want[i * 8 + w] |= d[w];
        }
    }
    if (cleared && vmx_invept(M.vm->invept_type, m->eptp))
        log_warn("migrate", "INVEPT failed: later writes may not be seen by the copy");
    if (M.sp[SP_DISK].n && !M.drive) {
        n += vdisk_take_written(M.sp[SP_DISK].want, false);
    } else if (M.sp[SP_DISK].n) {
        uint64_t *want = M.sp[SP_DISK].want;
        for (uint64_t w = 0; w < (M.sp[SP_DISK].n + 63) / 64; w++) {
            n += popcount64(M.drive_fresh[w] & ~want[w]);
            want[w] |= M.drive_fresh[w];
            M.drive_fresh[w] = 0;
        }
    }
    return n;
}

static uint64_t *bitmap(uint64_t bits)
{
    uint64_t pages = (bits / 8 + 8 + 4095) / 4096;
    return phys_to_virt(pmm_alloc(pages, 1));
}

static uint8_t *stage_buf(void) { return phys_to_virt(pmm_alloc(MIG_BATCH_MAX, 1)); }

/* Reads of an earlier copy still in flight (it was abandoned) end first:
 * their stages are about to be reused. */
static void drive_settle(void)
{
    for (unsigned k = 0; k < STAGES; k++)
        if (M.st[k].pending && gio_copy_wait(10000))
            log_warn("migrate", "the drive did not finish an abandoned copy's reads in 10 s");
    M.st_head = M.st_tail = 0;
}

void migrate_start(struct vm *vm)
{
    memset(&M.t, 0, sizeof(M.t));
    M.vm = vm;
    M.drive = !vdisk_blocks() && gio_copy_blocks();
    uint64_t np = vm->mem.nchunks * PAGES_PER_CHUNK, nb = M.drive ? gio_copy_blocks() : vdisk_blocks();
    if (!M.sp[SP_PAGES].want || M.sp[SP_PAGES].n != np)
        M.sp[SP_PAGES].want = bitmap(np);
    if (nb && (!M.sp[SP_DISK].want || M.sp[SP_DISK].n != nb)) {
        M.sp[SP_DISK].want = bitmap(nb);
        if (M.drive)
            M.drive_fresh = bitmap(nb);
    }
    M.sp[SP_PAGES].n = np;
    M.sp[SP_DISK].n = nb;
    if (M.drive) {
        drive_settle();
        for (unsigned k = 0; k < STAGES; k++)
            if (!M.st[k].buf)
                M.st[k].buf = stage_buf();
        M.read_errors = 0;
        memset(M.drive_fresh, 0, (nb + 63) / 64 * 8);
        gio_copy_track(M.drive_fresh);
    }
    M.failed = false;
    /* Page flags set before now are someone else's history: clear ours,
     * then send every page; disk blocks: those written since boot, or a
     * private drive's every block. */
    memset(M.sp[SP_PAGES].want, 0, np / 8);
    take_dirty();
    memset(M.sp[SP_PAGES].want, 0xff, np / 8);
    if (nb && M.drive) {
        memset(M.sp[SP_DISK].want, 0, (nb + 63) / 64 * 8);
        for (uint64_t b = 0; b < nb; b++)
            M.sp[SP_DISK].want[b / 64] |= 1ull << (b % 64);
    } else if (nb) {
        memset(M.sp[SP_DISK].want, 0, (nb + 63) / 64 * 8);
        vdisk_take_written(M.sp[SP_DISK].want, true);
    }
    M.sp[SP_PAGES].cursor = M.sp[SP_DISK].cursor = 0;
    M.space = SP_PAGES;
    M.final = false;
    M.batch_len = 0;
    M.round_start_ns = clock_ns();
    M.round_bytes = M.round_pages = 0;
    struct converge_cfg cfg;
    converge_default_cfg(&cfg);
    converge_init(&M.cv, &cfg);
}

/* The next wanted item of space k from its cursor on (n: none left). */
static uint64_t next_wanted(unsigned k, uint64_t i)
{
    uint64_t *want = M.sp[k].want, n = M.sp[k].n;
    while (i < n) {
        uint64_t w = want[i / 64] >> (i % 64);
        if (w)
            return i + (uint64_t)__builtin_ctzll(w) < n ? i + (uint64_t)__builtin_ctzll(w) : n;
        i = (i / 64 + 1) * 64;
    }
    return n;
}

/* Read (or write) a stage's blocks through the drive's queue, one request
 * per run of adjacent blocks; done() is told of each. pending counts the
 * requests before the first goes out: one may complete at once. */
static void stage_submit(struct stage *s, bool write, void (*done)(struct blk_io *io))
{
    unsigned runs[MIG_BATCH_MAX + 1], nruns = 0;
    for (unsigned a = 0; a < s->n; a++)
        if (!a || s->block[a] != s->block[a - 1] + 1)
            runs[nruns++] = a;
    runs[nruns] = s->n;
    s->pending = nruns;
    for (unsigned r = 0; r < nruns; r++) {
        unsigned a = runs[r], z = runs[r + 1];
        if (!write)
            memset(s->buf + (size_t)(z - 1) * MIG_PAGE, 0, MIG_PAGE); /* a short last block reads zeros past the end */
        s->io[a].done = done;
        s->io[a].ctx = s;
        gio_copy_io(&s->io[a], write, s->block[a], z - a, s->buf + (size_t)a * MIG_PAGE);
    }
}

static void drive_read_done(struct blk_io *io)
{
    struct stage *s = io->ctx;
    if (io->status != BLK_OK)
        s->failed++;
    s->pending--;
}

/* Issue reads for the next wanted blocks while stages are free. */
static void drive_fill(void)
{
    unsigned k = SP_DISK;
    while (M.st_tail - M.st_head < STAGES && M.sp[k].cursor < M.sp[k].n) {
        struct stage *s = &M.st[M.st_tail % STAGES];
        s->n = s->failed = 0;
        uint64_t i = M.sp[k].cursor;
        while (s->n < MIG_BATCH_MAX && (i = next_wanted(k, i)) < M.sp[k].n) {
            M.sp[k].want[i / 64] &= ~(1ull << (i % 64));
            s->block[s->n++] = i++;
        }
        M.sp[k].cursor = i;
        if (!s->n)
            break;
        M.st_tail++;
        stage_submit(s, false, drive_read_done);
    }
}

/* A private drive's next batch: 1 built, 0 the space is done, -1 reads
 * are under way (or failed). */
static int drive_batch(void)
{
    drive_fill();
    if (M.st_head == M.st_tail)
        return 0;
    struct stage *s = &M.st[M.st_head % STAGES];
    if (s->pending)
        return -1;
    M.st_head++;
    if (s->failed) {
        /* Again in this round (the cursor goes back), a few times. */
        if (++M.read_errors > 8) {
            M.failed = true;
            fmt_snprintf(M.fail_why, sizeof(M.fail_why), "reading the guest's drive for the copy failed %u times",
                         M.read_errors);
            return -1;
        }
        log_warn("migrate", "a read of %u blocks of the guest's drive for the copy failed: reading them again", s->n);
        for (unsigned a = 0; a < s->n; a++)
            M.sp[SP_DISK].want[s->block[a] / 64] |= 1ull << (s->block[a] % 64);
        if (s->block[0] < M.sp[SP_DISK].cursor)
            M.sp[SP_DISK].cursor = s->block[0];
        return -1;
    }
    struct mig_batch b;
    mig_batch_begin(&b, M.batch);
    for (unsigned a = 0; a < s->n; a++)
        mig_batch_add(&b, s->block[a], s->buf + (size_t)a * MIG_PAGE);
    M.t.disk_blocks += s->n;
    M.round_pages += s->n;
    M.batch_len = b.len;
    M.batch_end = M.sp[SP_DISK].cursor;
    return 1;
}

/* The next batch of the current space from its cursor on (items taken out
 * of want). */
static void build_batch(void)
{
    static uint8_t block[4096];
    struct mig_batch b;
    unsigned k = M.space;
    uint64_t *want = M.sp[k].want, n = M.sp[k].n, i = M.sp[k].cursor;
    mig_batch_begin(&b, M.batch);
    while (b.n < MIG_BATCH_MAX && (i = next_wanted(k, i)) < n) {
        if (k == SP_PAGES) {
            const uint8_t *page = page_ptr(M.vm, i);
            mig_batch_add(&b, i, page);
            rr_digest_page(M.vm, i, page); /* the new log's initial digest, ready at the stop */
            M.t.pages++;
        } else {
            vdisk_read_block(i, block);
            mig_batch_add(&b, i, block);
            M.t.disk_blocks++;
        }
        want[i / 64] &= ~(1ull << (i % 64));
        M.round_pages++;
        i++;
    }
    if (k == SP_PAGES)
        M.t.zero_pages += b.zero;
    M.batch_len = b.n ? b.len : 0;
    M.batch_end = i < n ? i : n;
}

static void restart_round(void)
{
    M.sp[SP_PAGES].cursor = M.sp[SP_DISK].cursor = 0;
    M.space = SP_PAGES;
    M.round_start_ns = clock_ns();
    M.round_bytes = M.round_pages = 0;
}

enum mig_progress migrate_poll(mig_send_fn send)
{
    if (M.failed)
        return MIG_FAILED;
    while (M.space < SPACES) {
        if (!M.batch_len && M.space == SP_DISK && M.drive) {
            int r = drive_batch();
            if (r < 0)
                return M.failed ? MIG_FAILED : MIG_BUSY;
            if (!r) {
                M.space++;
                continue;
            }
        }
        if (!M.batch_len) {
            build_batch();
            if (!M.batch_len) {
                M.sp[M.space].cursor = M.sp[M.space].n;
                M.space++;
                continue;
            }
        }
        if (!send(M.space == SP_DISK, M.batch, M.batch_len))
            return MIG_BUSY;
        M.round_bytes += M.batch_len;
        M.t.bytes += M.batch_len;
        M.sp[M.space].cursor = M.batch_end;
        M.batch_len = 0;
    }
    /* The round is done. */
    M.t.rounds++;
    M.t.last_round_pages = M.round_pages;
    if (M.final) {
        /* Every page went in the first round, and the last one sent every
         * page written since it was sent: the digest's table is RAM now. */
        rr_digest_table_current(M.vm);
        return MIG_DONE;
    }
    uint64_t ns = clock_ns() - M.round_start_ns;
    uint64_t dirty = take_dirty();
    char why[240];
    enum converge_next next = converge_round_done(&M.cv, M.round_bytes, ns ? ns : 1, dirty * 4096, why, sizeof(why));
    log_info("migrate", "round %llu: %llu pages and disk blocks (%llu KiB) in %llu ms; %llu dirtied meanwhile: %s",
             (unsigned long long)M.t.rounds, (unsigned long long)M.round_pages,
             (unsigned long long)(M.round_bytes >> 10), (unsigned long long)(ns / 1000000),
             (unsigned long long)dirty, why);
    restart_round();
    return next == CONVERGE_STOP_COPY ? MIG_STOP_COPY : MIG_BUSY;
}

void migrate_final(void)
{
    take_dirty();
    M.final = true;
    M.batch_len = 0;
    restart_round();
}

const char *migrate_failure(void) { return M.failed ? M.fail_why : NULL; }

void migrate_end(void)
{
    gio_copy_track(NULL);
}

unsigned migrate_throttle(void) { return M.final ? 0 : M.cv.throttle; }

bool migrate_hold(void)
{
    unsigned t = migrate_throttle();
    /* The throttle's share of every 10 ms of host time. */
    return t && (clock_ns() % 10000000u) < (uint64_t)t * 100000u;
}

void migrate_totals(struct mig_totals *t) { *t = M.t; }

static int put_page(void *ctx, uint64_t gfn, const uint8_t *page)
{
    struct vm *vm = ctx;
    if (page)
        memcpy(page_ptr(vm, gfn), page, 4096);
    else
        memset(page_ptr(vm, gfn), 0, 4096);
    M.received++;
    return 0;
}

static int put_block(void *ctx, uint64_t b, const uint8_t *data)
{
    (void)ctx;
    vdisk_write_block(b, data);
    M.received_blocks++;
    return 0;
}

/* A private drive: the batch's blocks go into a write stage. */
static int stage_block(void *ctx, uint64_t b, const uint8_t *data)
{
    struct stage *s = ctx;
    uint8_t *to = s->buf + (size_t)s->n * MIG_PAGE;
    if (data)
        memcpy(to, data, MIG_PAGE);
    else
        memset(to, 0, MIG_PAGE);
    s->block[s->n++] = b;
    M.received_blocks++;
    return 0;
}

static void drive_write_done(struct blk_io *io)
{
    struct stage *s = io->ctx;
    if (io->status != BLK_OK) {
        M.write_errors++;
        log_error("migrate", "writing %u sectors at %llu of this host's drive for the clone failed", io->count,
                  (unsigned long long)io->lba);
    }
    s->pending--;
}

static int receive_drive(const uint8_t *batch, size_t len, char *why, size_t n)
{
    struct stage *s = NULL;
    for (int tries = 0; !s; tries++) {
        for (unsigned k = 0; k < WSTAGES && !s; k++)
            if (!M.ws[k].pending)
                s = &M.ws[k];
        if (!s && (tries || gio_copy_wait(10000))) {
            fmt_snprintf(why, n, "this host's drive did not take the clone's blocks in 10 s");
            return -1;
        }
    }
    if (!s->buf)
        s->buf = stage_buf();
    s->n = 0;
    int r = mig_batch_decode(batch, len, gio_copy_blocks(), stage_block, s, why, n);
    if (r)
        return r;
    stage_submit(s, true, drive_write_done);
    return 0;
}

int migrate_receive(struct vm *vm, bool disk, const uint8_t *batch, size_t len, char *why, size_t n)
{
    if (disk && !vdisk_blocks() && gio_copy_blocks())
        return receive_drive(batch, len, why, n);
    if (disk && !vdisk_blocks()) {
        fmt_snprintf(why, n, "disk blocks for a guest whose disk is neither in host memory nor a private drive here");
        return -1;
    }
    return disk ? mig_batch_decode(batch, len, vdisk_blocks(), put_block, vm, why, n)
                : mig_batch_decode(batch, len, vm->mem.nchunks * PAGES_PER_CHUNK, put_page, vm, why, n);
}

void migrate_receive_begin(void)
{
    M.received = M.received_blocks = M.write_errors = 0;
}

int migrate_receive_finish(char *why, size_t n)
{
    bool busy = false;
    for (unsigned k = 0; k < WSTAGES; k++)
        busy |= M.ws[k].pending != 0;
    if (busy && gio_copy_wait(30000)) {
        fmt_snprintf(why, n, "this host's drive did not finish writing the clone's blocks in 30 s");
        return -1;
    }
    if (M.write_errors) {
        fmt_snprintf(why, n, "%llu writes of the clone's blocks to this host's drive failed",
                     (unsigned long long)M.write_errors);
        return -1;
    }
    return 0;
}

uint64_t migrate_received_pages(void) { return M.received; }
uint64_t migrate_received_blocks(void) { return M.received_blocks; }
