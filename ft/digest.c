/* State digests: what STATE records and the log header carry so that a
 * replay can prove it reached the same guest state as the recording.
 *
 * Memory enters through a table of one CRC32C per 4 KiB guest page and the
 * memory digest, the 64-bit sum over all pages of a mix of (page index,
 * CRC), which is updated page by page as pages are read again. Pages are
 * read again from the EPT dirty flags: only those written since the last
 * digest (per 4 KiB page while recording or replaying, when
 * vmm/guest_mem.c maps RAM with 4 KiB EPT pages; per 2 MiB chunk
 * otherwise), and chunks whose directory entry shows no access at all are
 * not even scanned. So a digest costs the pages the guest wrote, not all
 * of RAM, yet covers every page's current content. A page flagged dirty
 * only by a page walk (EPT A/D treats guest paging-structure accesses as
 * writes, at TLB-dependent times) is just read again: it cannot change the
 * result. A full digest (the log's initial state and its end) reads every
 * page regardless of the flags.
 *
 * Without EPT A/D flags (not seen on VT-x CPUs with EPT, but the
 * capability is optional) periodic digests cover the registers only and
 * the full digests still cover all of RAM. */
#include "rr.h"
#include "../kernel/kernel.h"
#include "../vmm/vm.h"
#include "../vmm/vmcs.h"
#include "../vmm/vmx.h"
#include "../kernel/crc32c.h"
#include "../kernel/format.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include <string.h>

#define PAGES_PER_CHUNK (GUEST_CHUNK / 4096)

static struct {
    uint32_t *crc; /* per guest page, in chunk order */
    uint64_t nchunks;
    uint64_t sum;        /* the memory digest: sum of page_term() over all pages */
    uint64_t pages_read; /* statistics: 4 KiB pages re-read */
    bool current;        /* the table matches RAM now (rr_digest_table_current()) */
} T;

/* One page's term of the memory digest: its index and CRC through a
 * 64-bit finaliser (splitmix64's), so the sum over pages changes when any
 * page's content or place does, and is updated page by page. */
static uint64_t page_term(uint64_t index, uint32_t crc)
{
    uint64_t z = (index << 32 | crc) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void read_pages(struct vm *vm, uint64_t i, const uint64_t *dirty)
{
    const uint8_t *p = phys_to_virt(vm->mem.chunk_hpa[i]);
    uint32_t *out = T.crc + i * PAGES_PER_CHUNK;
    for (uint64_t k = 0; k < PAGES_PER_CHUNK; k++)
        if (!dirty || (dirty[k / 64] >> (k % 64) & 1)) {
            uint64_t index = i * PAGES_PER_CHUNK + k;
            uint32_t c = crc32c(0, p + k * 4096, 4096);
            T.sum += page_term(index, c) - page_term(index, out[k]);
            out[k] = c;
            if (++T.pages_read % 256 == 0)
                kernel_keepalive(); /* 1 MiB read: tell the peer we live */
        }
}

static bool table_for(const struct guest_mem *m)
{
    if (T.crc && T.nchunks == m->nchunks)
        return false;
    uint64_t bytes = m->nchunks * PAGES_PER_CHUNK * 4;
    T.crc = phys_to_virt(pmm_alloc((bytes + 4095) / 4096, 1));
    T.nchunks = m->nchunks;
    memset(T.crc, 0, bytes);
    T.sum = 0;
    for (uint64_t k = 0; k < m->nchunks * PAGES_PER_CHUNK; k++)
        T.sum += page_term(k, 0);
    return true;
}

void rr_digest_page(struct vm *vm, uint64_t gfn, const uint8_t *page)
{
    table_for(&vm->mem);
    uint32_t c = crc32c(0, page, 4096);
    T.sum += page_term(gfn, c) - page_term(gfn, T.crc[gfn]);
    T.crc[gfn] = c;
    T.current = false; /* until the clone says every page is in */
}

void rr_digest_table_current(struct vm *vm)
{
    table_for(&vm->mem);
    T.current = true;
}

/* Bring the page table up to date: every chunk (all) or the dirty ones. */
static uint64_t memory_digest(struct vm *vm, bool all)
{
    struct guest_mem *m = &vm->mem;
    if (table_for(m))
        all = true;
    if (all && T.current && m->ept_ad) {
        /* A clone's source: the table is RAM as the guest stopped. The
         * dirty flags so far are history the table holds: dropped. */
        T.current = false;
        bool cleared = false;
        for (uint64_t i = 0; i < m->nchunks; i++) {
            uint64_t dirty[8];
            guest_mem_take_dirty(m, DIRTY_DIGEST, i, dirty, &cleared);
        }
        if (cleared && vmx_invept(vm->invept_type, m->eptp))
            log_warn("record", "INVEPT failed: later writes may not be seen by state digests");
        return T.sum;
    }
    T.current = false;
    if (all) {
        /* Every page read afresh: start the sum over (the terms of a zero
         * table, which read_pages() subtracts). */
        memset(T.crc, 0, m->nchunks * PAGES_PER_CHUNK * 4);
        T.sum = 0;
        for (uint64_t k = 0; k < m->nchunks * PAGES_PER_CHUNK; k++)
            T.sum += page_term(k, 0);
    }
    if (!all && !m->ept_ad)
        return 0;
    bool cleared = false;
    for (uint64_t i = 0; i < m->nchunks; i++) {
        uint64_t dirty[8];
        unsigned n = m->ept_ad ? guest_mem_take_dirty(m, DIRTY_DIGEST, i, dirty, &cleared) : 0;
        if (all)
            read_pages(vm, i, NULL);
        else if (n)
            read_pages(vm, i, dirty);
    }
    if (cleared && vmx_invept(vm->invept_type, m->eptp))
        log_warn("record", "INVEPT failed: later writes may not be seen by state digests");
    return T.sum;
}

uint64_t rr_digest_pages_read(void) { return T.pages_read; }

void rr_state_digest(struct vm *vm, bool full, uint8_t out[LOG_STATE_DIGEST_LEN], struct rr_state_block *blk)
{
    /* The register block (docs/log-format.md, "Digests"). */
    struct rr_state_block b;
    memset(&b, 0, sizeof(b));
    landmark_gprs(&vm->vcpu, b.gpr);
    b.rip = vmread(VMCS_GUEST_RIP);
    b.rflags = vmread(VMCS_GUEST_RFLAGS);
    b.cr0 = vcpu_guest_cr0(&vm->vcpu);
    b.cr3 = vmread(VMCS_GUEST_CR3);
    b.cr4 = vcpu_guest_cr4(&vm->vcpu);
    b.efer = vmread(VMCS_GUEST_EFER);
    b.mem = memory_digest(vm, full);
    struct log_state_digest s;
    log_state_digest_begin(&s, &b, sizeof(b));
    log_state_digest_end(&s, out);
    if (blk)
        *blk = b;
}

void rr_state_diff(const struct rr_state_block *a, const struct rr_state_block *b, char *buf, size_t n)
{
    static const char *const gpr_names[16] = { "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                               "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15" };
    size_t len = 0;
    buf[0] = 0;
#define DIFF(name, x, y)                                                                                       \
    if ((x) != (y) && len + 60 < n)                                                                         \
        len += (size_t)fmt_snprintf(buf + len, n - len, "%s%s %llx/%llx", len ? ", " : "", name, (unsigned long long)(x), \
                            (unsigned long long)(y));
    for (int i = 0; i < 16; i++)
        DIFF(gpr_names[i], a->gpr[i], b->gpr[i]);
    DIFF("RIP", a->rip, b->rip);
    DIFF("RFLAGS", a->rflags, b->rflags);
    DIFF("CR0", a->cr0, b->cr0);
    DIFF("CR3", a->cr3, b->cr3);
    DIFF("CR4", a->cr4, b->cr4);
    DIFF("EFER", a->efer, b->efer);
    DIFF("memory digest", a->mem, b->mem);
#undef DIFF
    if (!len)
        fmt_snprintf(buf, n, "no field (the digests of equal blocks differ?)");
}
