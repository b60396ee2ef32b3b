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
#include "../kernel/clock.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/bits.h"
#include <string.h>

#define PAGES_PER_CHUNK (GUEST_CHUNK / 4096)

static struct {
    struct vm *vm;
    uint64_t npages;
    uint64_t *want; /* pages this round still has to send */
    uint64_t cursor;
    bool final;
    uint64_t round_start_ns, round_bytes, round_pages;
    struct converge cv;
    struct mig_totals t;
    uint8_t batch[MIG_BATCH_BYTES];
    size_t batch_len;  /* a built batch the channel did not take yet */
    uint64_t batch_end; /* the cursor after it */
    uint64_t received;
} M;

static uint8_t *page_ptr(struct vm *vm, uint64_t gfn)
{
    return (uint8_t *)phys_to_virt(vm->mem.chunk_hpa[gfn / PAGES_PER_CHUNK]) + (gfn % PAGES_PER_CHUNK) * 4096;
}

/* OR the pages written since the last call into want; their count. */
static uint64_t take_dirty(void)
{
    struct guest_mem *m = &M.vm->mem;
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
            n += popcount64(d[w] & ~M.want[i * 8 + w]);
            M.want[i * 8 + w] |= d[w];
        }
    }
    if (cleared && vmx_invept(M.vm->invept_type, m->eptp))
        log_warn("migrate", "INVEPT failed: later writes may not be seen by the copy");
    return n;
}

void migrate_start(struct vm *vm)
{
    memset(&M.t, 0, sizeof(M.t));
    M.vm = vm;
    M.npages = vm->mem.nchunks * PAGES_PER_CHUNK;
    if (!M.want)
        M.want = phys_to_virt(pmm_alloc((M.npages / 8 + 4095) / 4096, 1));
    /* Flags set before now are someone else's history: clear ours, then
     * send every page. */
    memset(M.want, 0, M.npages / 8);
    take_dirty();
    memset(M.want, 0xff, M.npages / 8);
    M.cursor = 0;
    M.final = false;
    M.batch_len = 0;
    M.round_start_ns = clock_ns();
    M.round_bytes = M.round_pages = 0;
    struct converge_cfg cfg;
    converge_default_cfg(&cfg);
    converge_init(&M.cv, &cfg);
}

/* The next batch from the cursor on (pages taken out of want). */
static void build_batch(void)
{
    struct mig_batch b;
    mig_batch_begin(&b, M.batch);
    uint64_t i = M.cursor;
    while (i < M.npages && b.n < MIG_BATCH_MAX) {
        uint64_t w = M.want[i / 64] >> (i % 64);
        if (!w) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (uint64_t)__builtin_ctzll(w);
        if (i >= M.npages)
            break;
        mig_batch_add(&b, i, page_ptr(M.vm, i));
        M.want[i / 64] &= ~(1ull << (i % 64));
        M.round_pages++;
        M.t.pages++;
        i++;
    }
    M.t.zero_pages += b.zero;
    M.batch_len = b.n ? b.len : 0;
    M.batch_end = i;
}

enum mig_progress migrate_poll(mig_send_fn send)
{
    for (;;) {
        if (!M.batch_len) {
            build_batch();
            if (!M.batch_len) {
                M.cursor = M.npages;
                break;
            }
        }
        if (!send(M.batch, M.batch_len))
            return MIG_BUSY;
        M.round_bytes += M.batch_len;
        M.t.bytes += M.batch_len;
        M.cursor = M.batch_end;
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
    log_info("migrate", "round %llu: %llu pages (%llu KiB) in %llu ms; %llu pages dirtied meanwhile: %s",
             (unsigned long long)M.t.rounds, (unsigned long long)M.round_pages,
             (unsigned long long)(M.round_bytes >> 10), (unsigned long long)(ns / 1000000),
             (unsigned long long)dirty, why);
    M.cursor = 0;
    M.round_start_ns = clock_ns();
    M.round_bytes = M.round_pages = 0;
    return next == CONVERGE_STOP_COPY ? MIG_STOP_COPY : MIG_BUSY;
}

void migrate_final(void)
{
    take_dirty();
    M.final = true;
    M.cursor = 0;
    M.batch_len = 0;
    M.round_start_ns = clock_ns();
    M.round_bytes = M.round_pages = 0;
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

int migrate_receive(struct vm *vm, const uint8_t *batch, size_t len, char *why, size_t n)
{
    return mig_batch_decode(batch, len, vm->mem.nchunks * PAGES_PER_CHUNK, put_page, vm, why, n);
}

uint64_t migrate_received_pages(void) { return M.received; }
