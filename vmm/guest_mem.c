#include "guest_mem.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/bits.h"
#include <string.h>

/* EPT entry bits (SDM Vol. 3, "EPT Translation Mechanism"): read, write,
 * execute; leaf memory type in bits 5:3 (6 = write-back); bit 7 = 2 MiB
 * page in a PDE. EPTP: memory type WB (6), page-walk length 4 (3 in bits
 * 5:3), bit 6 enables accessed/dirty flags. */
#define EPT_R 1ull
#define EPT_W 2ull
#define EPT_X 4ull
#define EPT_RWX (EPT_R | EPT_W | EPT_X)
#define EPT_MT_WB (6ull << 3)
#define EPT_LARGE (1ull << 7)
#define EPTP_WB 6ull
#define EPTP_WALK4 (3ull << 3)
#define EPTP_AD (1ull << 6)
#define EPT_ACCESSED (1ull << 8)
#define EPT_DIRTY (1ull << 9)

static uint64_t *table(uint64_t pa) { return phys_to_virt(pa); }

static uint64_t new_table(void)
{
    uint64_t pa = pmm_try_alloc(1, 1);
    if (pa != PMM_NONE)
        memset(phys_to_virt(pa), 0, PAGE_SIZE);
    return pa;
}

/* Map one 2 MiB guest chunk, by one 2 MiB page or (pages_4k) a page table
 * of 512 4 KiB pages; *leaf gets the first leaf entry. MMIO holes are
 * simply never mapped: any access there exits as an EPT violation, which
 * is how devices trap. */
static int ept_map_chunk(struct guest_mem *m, uint64_t gpa, uint64_t hpa, bool pages_4k, uint64_t **leaf,
                         uint64_t **dir)
{
    uint64_t *t = table(m->ept_pml4);
    for (int level = 3; level > 1; level--) {
        uint64_t idx = (gpa >> (12 + 9 * level)) & 511;
        if (!(t[idx] & EPT_RWX)) {
            uint64_t n = new_table();
            if (n == PMM_NONE)
                return -1;
            t[idx] = n | EPT_RWX;
        }
        t = table(t[idx] & 0x000ffffffffff000ull);
    }
    if (!pages_4k) {
        t[(gpa >> 21) & 511] = hpa | EPT_RWX | EPT_MT_WB | EPT_LARGE;
        *leaf = &t[(gpa >> 21) & 511];
        return 0;
    }
    uint64_t pt = new_table();
    if (pt == PMM_NONE)
        return -1;
    uint64_t *pte = table(pt);
    for (int k = 0; k < 512; k++)
        pte[k] = (hpa + (uint64_t)k * PAGE_SIZE) | EPT_RWX | EPT_MT_WB;
    t[(gpa >> 21) & 511] = pt | EPT_RWX;
    *leaf = pte;
    *dir = &t[(gpa >> 21) & 511];
    return 0;
}

static uint64_t chunk_gpa(const struct guest_mem *m, uint64_t i)
{
    uint64_t off = i * GUEST_CHUNK;
    return off < m->low_bytes ? off : (4ull << 30) + (off - m->low_bytes);
}

int guest_mem_init(struct guest_mem *m, uint64_t ram_bytes, bool ept_ad, bool pages_4k)
{
    memset(m, 0, sizeof(*m));
    m->ram_bytes = (ram_bytes + GUEST_CHUNK - 1) & ~(GUEST_CHUNK - 1);
    m->low_bytes = m->ram_bytes < GUEST_PCI_HOLE ? m->ram_bytes : GUEST_PCI_HOLE;
    m->nchunks = m->ram_bytes / GUEST_CHUNK;
    uint64_t list_pages = (m->nchunks * 24 + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t list = pmm_try_alloc(list_pages, 1);
    m->ept_pml4 = new_table();
    if (list == PMM_NONE || m->ept_pml4 == PMM_NONE)
        return -1;
    m->chunk_hpa = phys_to_virt(list);
    m->chunk_pde = (uint64_t **)(m->chunk_hpa + m->nchunks);
    m->chunk_dir = m->chunk_pde + m->nchunks;
    for (uint64_t i = 0; i < m->nchunks; i++) {
        uint64_t hpa = pmm_try_alloc(GUEST_CHUNK / PAGE_SIZE, GUEST_CHUNK / PAGE_SIZE);
        if (hpa == PMM_NONE)
            return -1;
        m->chunk_hpa[i] = hpa; /* zeroed by vm_boot() */
        m->chunk_dir[i] = NULL;
        if (ept_map_chunk(m, chunk_gpa(m, i), hpa, pages_4k, &m->chunk_pde[i], &m->chunk_dir[i]))
            return -1;
    }
    uint64_t bits_pages = (m->nchunks * 64 + PAGE_SIZE - 1) / PAGE_SIZE;
    for (unsigned u = 0; u < DIRTY_USERS; u++) {
        uint64_t pa = pmm_try_alloc(bits_pages, 1);
        if (pa == PMM_NONE)
            return -1;
        m->pending[u] = phys_to_virt(pa);
        memset(m->pending[u], 0, bits_pages * PAGE_SIZE);
    }
    m->eptp = m->ept_pml4 | EPTP_WB | EPTP_WALK4 | (ept_ad ? EPTP_AD : 0);
    m->ept_ad = ept_ad;
    m->pages_4k = pages_4k;
    return 0;
}

/* The hardware flags of one chunk, cleared: the pages they show. */
static unsigned harvest(struct guest_mem *m, uint64_t chunk, uint64_t dirty[8])
{
    uint64_t *e = m->chunk_pde[chunk];
    unsigned n = 0;
    memset(dirty, 0, 8 * sizeof(uint64_t));
    if (!m->pages_4k) {
        if (!(*e & EPT_DIRTY))
            return 0;
        /* The CPU sets the flag with a locked operation; clear it the same way. */
        __atomic_and_fetch(e, ~EPT_DIRTY, __ATOMIC_SEQ_CST);
        memset(dirty, 0xff, 8 * sizeof(uint64_t));
        return 512;
    }
    /* The directory entry's accessed flag (bit 8 of an EPT entry that
     * references a page table) is set by any walk through it: a chunk the
     * guest has not touched since the last pass needs no scan of its 512
     * entries. The vCPU is stopped while this runs, and the caller's INVEPT
     * makes the next access walk (and set the flags) again. */
    uint64_t *dir = m->chunk_dir[chunk];
    if (dir) {
        if (!(*dir & EPT_ACCESSED))
            return 0;
        __atomic_and_fetch(dir, ~EPT_ACCESSED, __ATOMIC_SEQ_CST);
    }
    for (unsigned k = 0; k < 512; k++) {
        if (!(e[k] & EPT_DIRTY))
            continue;
        __atomic_and_fetch(&e[k], ~EPT_DIRTY, __ATOMIC_SEQ_CST);
        dirty[k / 64] |= 1ull << (k % 64);
        n++;
    }
    return n;
}

unsigned guest_mem_take_dirty(struct guest_mem *m, enum dirty_user user, uint64_t chunk, uint64_t dirty[8],
                              bool *cleared)
{
    unsigned n = harvest(m, chunk, dirty);
    if (n)
        *cleared = true;
    for (unsigned u = 0; n && u < DIRTY_USERS; u++)
        if (u != user)
            for (unsigned w = 0; w < 8; w++)
                m->pending[u][chunk * 8 + w] |= dirty[w];
    uint64_t *mine = m->pending[user] + chunk * 8;
    for (unsigned w = 0; w < 8; w++) {
        n += popcount64(mine[w] & ~dirty[w]);
        dirty[w] |= mine[w];
        mine[w] = 0;
    }
    return n;
}

void guest_mem_mark_dirty(const struct guest_mem *m, uint64_t chunk, uint64_t off, uint64_t len)
{
    if (!m->ept_ad || !len)
        return;
    uint64_t *e = m->chunk_pde[chunk];
    if (!m->pages_4k) {
        __atomic_or_fetch(e, EPT_DIRTY, __ATOMIC_SEQ_CST);
        return;
    }
    for (uint64_t k = off / PAGE_SIZE; k <= (off + len - 1) / PAGE_SIZE && k < 512; k++)
        __atomic_or_fetch(&e[k], EPT_DIRTY, __ATOMIC_SEQ_CST);
    if (m->chunk_dir[chunk])
        __atomic_or_fetch(m->chunk_dir[chunk], EPT_ACCESSED, __ATOMIC_SEQ_CST);
}

void guest_mem_clear(struct guest_mem *m)
{
    for (uint64_t i = 0; i < m->nchunks; i++)
        memset(phys_to_virt(m->chunk_hpa[i]), 0, GUEST_CHUNK);
}

static bool chunk_of(const struct guest_mem *m, uint64_t gpa, uint64_t *idx, uint64_t *off)
{
    uint64_t lin;
    if (gpa < m->low_bytes)
        lin = gpa;
    else if (gpa >= (4ull << 30) && gpa - (4ull << 30) < m->ram_bytes - m->low_bytes)
        lin = m->low_bytes + (gpa - (4ull << 30));
    else
        return false;
    *idx = lin / GUEST_CHUNK;
    *off = lin % GUEST_CHUNK;
    return true;
}

bool guest_ram_contains(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
    uint64_t i, o;
    if (len == 0 || gpa + len < gpa)
        return false;
    if (!chunk_of(m, gpa, &i, &o))
        return false;
    uint64_t j, p;
    return chunk_of(m, gpa + len - 1, &j, &p);
}

void *guest_ram_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
    uint64_t i, o;
    if (len == 0 || len > GUEST_CHUNK || !chunk_of(m, gpa, &i, &o) || o + len > GUEST_CHUNK)
        return NULL;
    return (uint8_t *)phys_to_virt(m->chunk_hpa[i]) + o;
}

static int copy(const struct guest_mem *m, uint64_t gpa, void *buf, uint64_t len, bool to_guest)
{
    uint8_t *b = buf;
    while (len) {
        uint64_t i, o;
        if (!chunk_of(m, gpa, &i, &o))
            return -1;
        uint64_t n = GUEST_CHUNK - o < len ? GUEST_CHUNK - o : len;
        uint8_t *p = (uint8_t *)phys_to_virt(m->chunk_hpa[i]) + o;
        if (to_guest) {
            memcpy(p, b, n);
            guest_mem_mark_dirty(m, i, o, n);
        } else
            memcpy(b, p, n);
        gpa += n;
        b += n;
        len -= n;
    }
    return 0;
}

int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
    return copy(m, gpa, (void *)src, len, true);
}

int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
    return copy(m, gpa, dst, len, false);
}

int guest_ram_ranges(const struct guest_mem *m, uint64_t (*ranges)[2], int max)
{
    int n = 0;
    if (n < max && m->low_bytes) {
        ranges[n][0] = 0;
        ranges[n++][1] = m->low_bytes;
    }
    if (n < max && m->ram_bytes > m->low_bytes) {
        ranges[n][0] = 4ull << 30;
        ranges[n++][1] = m->ram_bytes - m->low_bytes;
    }
    return n;
}

/* x86 paging (SDM Vol. 3A, chapter 4): 32-bit, PAE and 4-level. Only the
 * translation is needed (for instruction fetch and string I/O of emulated
 * instructions); the guest's own CPU sets accessed/dirty bits. */
int guest_translate(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, bool write,
                    uint64_t *gpa, uint32_t *pf_err)
{
    const uint64_t CR0_PG = 1ull << 31, CR0_WP = 1ull << 16, CR4_PSE = 1 << 4, CR4_PAE = 1 << 5;
    uint32_t err = write ? 2 : 0;
    if (!(pg->cr0 & CR0_PG)) {
        *gpa = gva & 0xffffffffull;
        return 0;
    }
    (void)CR0_WP;
    if (!(pg->cr4 & CR4_PAE)) {
        uint32_t pde, pte;
        uint64_t a = (pg->cr3 & 0xfffff000ull) + ((gva >> 22) & 1023) * 4;
        if (guest_read(m, a, &pde, 4) || !(pde & 1))
            goto fault;
        if ((pde & 0x80) && (pg->cr4 & CR4_PSE)) {
            *gpa = ((uint64_t)(pde & 0xffc00000u) | ((uint64_t)(pde >> 13) & 0xff) << 32) | (gva & 0x3fffff);
            return 0;
        }
        a = (pde & 0xfffff000u) + ((gva >> 12) & 1023) * 4;
        if (guest_read(m, a, &pte, 4) || !(pte & 1))
            goto fault_p;
        *gpa = (pte & 0xfffff000u) | (gva & 0xfff);
        return 0;
    }
    const uint64_t ADDR = 0x000ffffffffff000ull;
    uint64_t e, base;
    int levels;
    if (pg->efer & (1ull << 10)) { /* LMA: 4-level */
        levels = 4;
        base = pg->cr3 & ADDR;
    } else { /* PAE: the PDPTE from CR3 */
        levels = 2;
        uint64_t a = (pg->cr3 & 0xffffffe0ull) + ((gva >> 30) & 3) * 8;
        if (guest_read(m, a, &e, 8) || !(e & 1))
            goto fault;
        base = e & ADDR;
    }
    for (int l = levels; l >= 1; l--) {
        int shift = 12 + 9 * (l - 1);
        if (guest_read(m, base + ((gva >> shift) & 511) * 8, &e, 8) || !(e & 1))
            goto fault_p;
        if (l > 1 && l <= 3 && (e & 0x80)) { /* 1 GiB or 2 MiB page */
            uint64_t mask = (1ull << shift) - 1;
            *gpa = (e & ADDR & ~mask) | (gva & mask);
            return 0;
        }
        base = e & ADDR;
    }
    *gpa = base | (gva & 0xfff);
    return 0;
fault_p:
    (void)0;
fault:
    if (pf_err)
        *pf_err = err;
    return -1;
}

static int copy_virt(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, void *buf,
                     uint64_t len, bool to_guest)
{
    uint8_t *b = buf;
    while (len) {
        uint64_t gpa, n = 4096 - (gva & 4095);
        if (n > len)
            n = len;
        if (guest_translate(m, pg, gva, to_guest, &gpa, NULL))
            return -1;
        if (to_guest ? guest_write(m, gpa, b, n) : guest_read(m, gpa, b, n))
            return -1;
        gva += n;
        b += n;
        len -= n;
    }
    return 0;
}

int guest_read_virt(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, void *dst, uint64_t len)
{
    return copy_virt(m, pg, gva, dst, len, false);
}

int guest_write_virt(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, const void *src,
                     uint64_t len)
{
    return copy_virt(m, pg, gva, (void *)src, len, true);
}
