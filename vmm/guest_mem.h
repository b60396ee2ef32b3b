/* Guest physical memory: RAM in 2 MiB host chunks (so it needs no large
 * contiguous allocation), its EPT mapping, and safe copies in and out.
 * Everything a guest hands the hypervisor by address goes through the
 * checked functions here: an address outside guest RAM is an error, never
 * a host pointer. */
#ifndef VMM_GUEST_MEM_H
#define VMM_GUEST_MEM_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define GUEST_CHUNK (2ull << 20)
/* Guest-physical layout: RAM below the PCI hole, the rest above 4 GiB. */
#define GUEST_PCI_HOLE 0xc0000000ull
#define GUEST_IOAPIC_BASE 0xfec00000ull
#define GUEST_LAPIC_BASE 0xfee00000ull

/* Who reads the dirty flags: state digests (ft/digest.c) and live
 * migration's rounds (ft/migrate.c). Each sees every write once, whoever
 * cleared the hardware flag: a pass by one keeps what it took for the
 * others in their own bitmaps. */
enum dirty_user { DIRTY_DIGEST, DIRTY_MIGRATE, DIRTY_USERS };

struct guest_mem {
    uint64_t ram_bytes;  /* total RAM */
    uint64_t low_bytes;  /* RAM below GUEST_PCI_HOLE */
    uint64_t nchunks;
    uint64_t *chunk_hpa; /* host physical address of each 2 MiB chunk, by gpa index */
    uint64_t eptp;
    uint64_t ept_pml4;   /* host physical */
    bool ept_ad;         /* EPT accessed/dirty flags on */
    bool pages_4k;       /* RAM mapped by 4 KiB EPT pages (dirty flags per page) */
    uint64_t **chunk_pde; /* each chunk's EPT leaf: the 2 MiB entry, or its 512 4 KiB entries */
    uint64_t **chunk_dir; /* pages_4k: the directory entry above those 512 (its accessed flag) */
    /* Per user of the dirty flags: pages another user's pass found dirty
     * and this one has not taken yet (8 words per chunk). */
    uint64_t *pending[DIRTY_USERS];
};

/* Allocate RAM and build the EPT (write-back; 2 MiB pages, or 4 KiB pages
 * with pages_4k). Returns 0 or -1 when the host lacks memory. */
int guest_mem_init(struct guest_mem *m, uint64_t ram_bytes, bool ept_ad, bool pages_4k);
void guest_mem_clear(struct guest_mem *m);

/* Which 4 KiB pages of a 2 MiB chunk the guest (or the hypervisor,
 * through guest_write*) wrote since user's last call: the EPT dirty flags
 * (SDM Vol. 3, "Accessed and Dirty Flags for EPT": bit 9 of an entry that
 * maps a page), per page with pages_4k, else the whole chunk's. Sets bit k
 * of dirty[k / 64] for page k and returns how many; clears the flags.
 * After a pass that cleared any (*cleared), the caller must INVEPT before
 * the guest runs again, or the CPU may not set a flag on the next write.
 * Only with m->ept_ad. */
unsigned guest_mem_take_dirty(struct guest_mem *m, enum dirty_user user, uint64_t chunk, uint64_t dirty[8],
                              bool *cleared);
/* Mark [off, off + len) of a chunk written (by the hypervisor). */
void guest_mem_mark_dirty(const struct guest_mem *m, uint64_t chunk, uint64_t off, uint64_t len);

/* The guest-physical index of RAM: gpa -> chunk, or none. */
bool guest_ram_contains(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Host pointer for [gpa, gpa+len) when it lies inside one chunk of RAM. */
void *guest_ram_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);
/* RAM ranges as (gpa, len) pairs for the e820 map; returns the count. */
int guest_ram_ranges(const struct guest_mem *m, uint64_t (*ranges)[2], int max);

/* Guest-virtual to guest-physical through the guest's own page tables
 * (or identity when paging is off). Returns 0, or -1 on a fault (with the
 * x86 page-fault error code in *pf_err when pf_err is not NULL). */
struct guest_paging {
    uint64_t cr0, cr3, cr4, efer;
};
int guest_translate(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, bool write,
                    uint64_t *gpa, uint32_t *pf_err);
/* Copy from guest-virtual memory, page by page. */
int guest_read_virt(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, void *dst, uint64_t len);
int guest_write_virt(const struct guest_mem *m, const struct guest_paging *pg, uint64_t gva, const void *src,
                     uint64_t len);

#endif
