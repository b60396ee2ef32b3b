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
#include "../kernel/format.h"
#include "../kernel/clock.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/bits.h"
#include <string.h>

#define PAGES_PER_CHUNK (GUEST_CHUNK / 4096)

/* What a round walks: guest pages, then the blocks of a disk held in
 * host memory (written since boot in the first round). */
enum { SP_PAGES, SP_DISK, SPACES };

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
    if (M.sp[SP_DISK].n)
        n += vdisk_take_written(M.sp[SP_DISK].want, false);
    return n;
}

static uint64_t *bitmap(uint64_t bits)
{
    uint64_t pages = (bits / 8 + 8 + 4095) / 4096;
    return phys_to_virt(pmm_alloc(pages, 1));
}

void migrate_start(struct vm *vm)
{
    memset(&M.t, 0, sizeof(M.t));
    M.vm = vm;
    uint64_t np = vm->mem.nchunks * PAGES_PER_CHUNK, nb = vdisk_blocks();
    if (!M.sp[SP_PAGES].want || M.sp[SP_PAGES].n != np)
        M.sp[SP_PAGES].want = bitmap(np);
    if (nb && (!M.sp[SP_DISK].want || M.sp[SP_DISK].n != nb))
        M.sp[SP_DISK].want = bitmap(nb);
    M.sp[SP_PAGES].n = np;
    M.sp[SP_DISK].n = nb;
    /* Page flags set before now are someone else's history: clear ours,
     * then send every page; disk blocks: those written since boot. */
    memset(M.sp[SP_PAGES].want, 0, np / 8);
    take_dirty();
    memset(M.sp[SP_PAGES].want, 0xff, np / 8);
    if (nb) {
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

/* The next batch of the current space from its cursor on (items taken out
 * of want). */
static void build_batch(void)
{
    static uint8_t block[4096];
    struct mig_batch b;
    unsigned k = M.space;
    uint64_t *want = M.sp[k].want, n = M.sp[k].n, i = M.sp[k].cursor;
    mig_batch_begin(&b, M.batch);
    while (i < n && b.n < MIG_BATCH_MAX) {
        uint64_t w = want[i / 64] >> (i % 64);
        if (!w) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (uint64_t)__builtin_ctzll(w);
        if (i >= n)
            break;
        if (k == SP_PAGES) {
            mig_batch_add(&b, i, page_ptr(M.vm, i));
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
    while (M.space < SPACES) {
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
    if (M.final)
        return MIG_DONE;
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

int migrate_receive(struct vm *vm, bool disk, const uint8_t *batch, size_t len, char *why, size_t n)
{
    if (disk && !vdisk_blocks()) {
        fmt_snprintf(why, n, "disk blocks for a guest whose disk is not in host memory here");
        return -1;
    }
    return disk ? mig_batch_decode(batch, len, vdisk_blocks(), put_block, vm, why, n)
                : mig_batch_decode(batch, len, vm->mem.nchunks * PAGES_PER_CHUNK, put_page, vm, why, n);
}

uint64_t migrate_received_pages(void) { return M.received; }
uint64_t migrate_received_blocks(void) { return M.received_blocks; }
