/* SATA disks behind an AHCI host bus adapter (PCI class 01h, subclass 06h,
 * programming interface 01h: Intel ICH/PCH, QEMU q35's ICH9 and most SATA
 * controllers), polled from the main loop: no interrupts (GHC.IE and every
 * PxIE stay 0). A poll reaps the command slots the drive finished and fills
 * the free ones with the next requests blockdev_next() allows; nothing in
 * normal operation waits for the drive.
 *
 * With native command queuing (CAP.SNCQ and IDENTIFY word 76 bit 8) up to
 * 32 READ/WRITE FPDMA QUEUED commands are in flight per port; without it
 * one READ/WRITE DMA (EXT) command at a time, since SATA allows only one
 * non-queued command per port. FLUSH CACHE (EXT) is never queued: it runs
 * alone (blockdev_next makes a flush a barrier anyway).
 *
 * References: Serial ATA AHCI 1.3.1 (sections cited below); ATA8-ACS for
 * the commands (IDENTIFY DEVICE ECh, READ/WRITE DMA EXT 25h/35h, READ/
 * WRITE DMA C8h/CAh, READ/WRITE FPDMA QUEUED 60h/61h, FLUSH CACHE (EXT)
 * E7h/EAh) and the IDENTIFY DEVICE data words used. */
#include "blockdev.h"
#include "pci.h"
#include "../kernel/clock.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/paging.h"
#include "../kernel/pmm.h"
#include <string.h>

/* Generic host control (3.1), byte offsets from ABAR. */
#define CAP 0x00
#define GHC 0x04
#define PI 0x0c
#define VS 0x10
#define CAP2 0x24
#define BOHC 0x28
#define CAP_NCS(c) ((((c) >> 8) & 0x1f) + 1)
#define CAP_SSS (1u << 27)
#define CAP_SNCQ (1u << 30)
#define CAP_S64A (1u << 31)
#define GHC_IE (1u << 1)
#define GHC_AE (1u << 31)
#define CAP2_BOH (1u << 0)
#define BOHC_BOS (1u << 0)
#define BOHC_OOS (1u << 1)
#define BOHC_BB (1u << 4)

/* Port registers (3.3), byte offsets from the port's base. */
#define PXCLB 0x00
#define PXCLBU 0x04
#define PXFB 0x08
#define PXFBU 0x0c
#define PXIS 0x10
#define PXIE 0x14
#define PXCMD 0x18
#define PXTFD 0x20
#define PXSIG 0x24
#define PXSSTS 0x28
#define PXSCTL 0x2c
#define PXSERR 0x30
#define PXSACT 0x34
#define PXCI 0x38
#define CMD_ST (1u << 0)
#define CMD_SUD (1u << 1)
#define CMD_FRE (1u << 4)
#define CMD_FR (1u << 14)
#define CMD_CR (1u << 15)
#define IS_DHRS (1u << 0)
#define IS_PSS (1u << 1)
#define IS_SDBS (1u << 3)
/* Errors that stop the port's command processing (6.1), and overflow. */
#define IS_ERRORS ((1u << 24) | (1u << 27) | (1u << 28) | (1u << 29) | (1u << 30))
#define TFD_ERR 0x01
#define TFD_DRQ 0x08
#define TFD_BSY 0x80
#define DET_PRESENT 3 /* PxSSTS.DET: device present, PHY communication established */
#define SIG_ATA 0x00000101
#define SIG_ATAPI 0xeb140101
#define SIG_PM 0x96690101

#define ATA_IDENTIFY 0xec
#define ATA_READ_DMA 0xc8
#define ATA_WRITE_DMA 0xca
#define ATA_READ_DMA_EXT 0x25
#define ATA_WRITE_DMA_EXT 0x35
#define ATA_READ_FPDMA 0x60
#define ATA_WRITE_FPDMA 0x61
#define ATA_FLUSH 0xe7
#define ATA_FLUSH_EXT 0xea

#define AHCI_MAX 8
#define NSLOTS 32
#define NPRD 8                   /* 8 x 4 MiB = the 32 MiB of a 65536-sector command */
#define PRD_MAX (4u << 20)       /* bytes per PRDT entry (4.2.3: DBC is 22 bits) */
#define CMD_TIMEOUT_NS 10000000000ull /* a command without progress for 10 s has failed */
#define STOP_NS 500000000ull     /* PxCMD.CR/FR clear within 500 ms (10.1.2, 10.3.2) */
#define RESET_NS 10000000000ull  /* a drive answers a COMRESET within 10 s (spin-up included) */

/* Command header (4.2.2), received FIS area (4.2.1, 256 bytes), command
 * table (4.2.3) with its physical region descriptors. */
struct cmd_hdr {
    uint32_t flags; /* CFL (FIS dwords) 4:0, W 6, PRDTL 31:16 */
    uint32_t prdbc; /* bytes transferred, written by the HBA */
    uint32_t ctba, ctbau;
    uint32_t rsv[4];
};
struct prd {
    uint32_t dba, dbau, rsv;
    uint32_t dbc; /* byte count - 1, bit 0 set: counts are even */
};
struct cmd_tbl {
    uint8_t cfis[64];
    uint8_t acmd[16];
    uint8_t rsv[48];
    struct prd prdt[NPRD];
};
_Static_assert(sizeof(struct cmd_hdr) == 32, "command header");
_Static_assert(sizeof(struct cmd_tbl) % 128 == 0, "command tables are 128-byte aligned");
_Static_assert(NSLOTS * sizeof(struct cmd_tbl) <= 2 * 4096, "the tables fill pages 1-2 of a port's memory");

/* A request the port has started (from blockdev_next), perhaps cut into
 * several commands. */
struct req {
    struct blk_io *io; /* NULL: free */
    uint32_t total;    /* sectors, or 1 for a flush */
    uint32_t issued;   /* of total, handed to commands so far */
    uint32_t pending;  /* its commands in flight, to retry or failed */
    uint64_t seq;      /* start order: the oldest gets the next slot */
    int status;
};

/* What a command slot carries (its table is built once per command). */
struct slot {
    struct req *rq;
    uint64_t lba;
    uint32_t count;
    uint8_t cmd;
    bool queued;   /* an NCQ command: tracked in PxSACT */
    uint64_t rung; /* clock_ns() when issued */
};

struct ahci_port {
    struct blockdev bd;
    volatile uint32_t *r;
    bool s64a, ncq, lba48;
    uint32_t nslots;
    struct cmd_hdr *cl;
    struct cmd_tbl *tbl;
    uint16_t *ident;
    uint64_t mem_pa;
    /* Slot masks: issued to the HBA; to issue again after a port
     * recovery; failed, completed when the recovery ends. */
    uint32_t busy, retry, failed;
    bool serial;    /* after an error with several in flight: retry one at a time */
    bool reset_link; /* the recovery under way ends with a COMRESET */
    bool in_poll;
    enum { P_RUN, P_STOPPING, P_RESETTING, P_DEAD } st;
    uint64_t deadline, seq;
    struct slot slot[NSLOTS];
    struct req req[NSLOTS];
    char model[24];
};

static struct ahci_port ports[AHCI_MAX];
static int nports, nhbas;

static uint32_t rd(const struct ahci_port *p, uint32_t off) { return p->r[off / 4]; }
static void wr(struct ahci_port *p, uint32_t off, uint32_t v) { p->r[off / 4] = v; }
static void barrier(void) { __asm__ volatile("" ::: "memory"); }

/* Commands in a slot mask (no libgcc here for __builtin_popcount). */
static int ncmds(uint32_t m)
{
    int n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

/* Boot and recovery only: wait at most ns for (*reg & mask) == want. */
static bool wait_reg(volatile uint32_t *reg, uint32_t mask, uint32_t want, uint64_t ns)
{
    uint64_t end = clock_ns() + ns;
    while ((*reg & mask) != want) {
        if (clock_ns() > end)
            return false;
        pause();
    }
    return true;
}

/* Put the port in the idle state (10.3.2): ST off, wait for CR; then FRE
 * off, wait for FR. The firmware may have left it running with its own
 * memory behind PxCLB/PxFB, which is ours now. */
static bool port_idle(volatile uint32_t *r)
{
    if (r[PXCMD / 4] & CMD_ST)
        r[PXCMD / 4] &= ~CMD_ST;
    if (!wait_reg(&r[PXCMD / 4], CMD_CR, 0, STOP_NS))
        return false;
    if (r[PXCMD / 4] & CMD_FRE)
        r[PXCMD / 4] &= ~CMD_FRE;
    return wait_reg(&r[PXCMD / 4], CMD_FR, 0, STOP_NS);
}

/* COMRESET (10.4.2): PxSCTL.DET = 1 for at least 1 ms, with PxCMD.ST
 * clear; the drive then resets and sends a fresh register FIS. */
static void comreset(volatile uint32_t *r)
{
    r[PXSCTL / 4] = (r[PXSCTL / 4] & ~0xfu) | 1;
    clock_delay_us(1000);
    r[PXSCTL / 4] &= ~0xfu;
}

static bool device_ready(volatile uint32_t *r)
{
    return (r[PXSSTS / 4] & 0xf) == DET_PRESENT && !(r[PXTFD / 4] & (TFD_BSY | TFD_DRQ)) &&
           !(r[PXCMD / 4] & CMD_CR);
}

static void set_prd(struct prd *e, uint64_t pa, uint32_t bytes)
{
    e->dba = (uint32_t)pa;
    e->dbau = (uint32_t)(pa >> 32);
    e->rsv = 0;
    e->dbc = bytes - 1;
}

static const char *op_name(const struct blk_io *io)
{
    return io->op == BLK_READ ? "read" : io->op == BLK_WRITE ? "write" : "flush";
}

/* ---- requests and commands ------------------------------------------ */

/* A request is finished when none of its commands is left and either all
 * its sectors went out or one of them failed. */
static void req_check(struct ahci_port *p, struct req *rq)
{
    if (rq->pending || (rq->status == BLK_OK && rq->issued < rq->total))
        return;
    struct blk_io *io = rq->io;
    rq->io = NULL;
    blockdev_complete(&p->bd, io, rq->status);
}

/* Slot s is over (its command done or given up): account, and finish its
 * request when that was the last piece. */
static void cmd_end(struct ahci_port *p, int s, int status)
{
    struct slot *c = &p->slot[s];
    struct req *rq = c->rq;
    c->rq = NULL;
    if (status == BLK_OK) {
        if (rq->io->op == BLK_READ)
            p->bd.sectors_read += c->count;
        else if (rq->io->op == BLK_WRITE)
            p->bd.sectors_written += c->count;
    } else if (rq->status == BLK_OK) {
        rq->status = status;
        /* The request has failed: its commands waiting for a retry go. */
        for (uint32_t m = p->retry; m; m &= m - 1) {
            int t = __builtin_ctz(m);
            if (p->slot[t].rq == rq) {
                p->retry &= ~(1u << t);
                p->slot[t].rq = NULL;
                rq->pending--;
            }
        }
    }
    rq->pending--;
    req_check(p, rq);
}

static void log_failed(struct ahci_port *p, int s, uint32_t is, uint32_t tfd, uint32_t serr)
{
    const struct slot *c = &p->slot[s];
    const struct blk_io *io = c->rq->io;
    log_warn("ahci", "%s: %s of %u sectors at LBA %llu failed: command %02xh (%u sectors at LBA %llu, slot %d), "
                     "PxIS 0x%08x, PxTFD 0x%04x (status 0x%02x, error 0x%02x), PxSERR 0x%08x",
             p->bd.name, op_name(io), io->count, (unsigned long long)io->lba, c->cmd, c->count,
             (unsigned long long)c->lba, s, is, tfd & 0xffff, tfd & 0xff, (tfd >> 8) & 0xff, serr);
}

/* The register FIS, host to device, of a command (the CFIS, 4.2.3). */
static void build_fis(uint8_t *f, uint8_t cmd, uint64_t lba, uint32_t count, bool queued, int tag)
{
    memset(f, 0, 20);
    f[0] = 0x27; /* register FIS, host to device */
    f[1] = 0x80; /* C: the command register is updated */
    f[2] = cmd;
    if (cmd == ATA_FLUSH || cmd == ATA_FLUSH_EXT || cmd == ATA_IDENTIFY)
        return;
    f[4] = (uint8_t)lba;
    f[5] = (uint8_t)(lba >> 8);
    f[6] = (uint8_t)(lba >> 16);
    f[7] = 0x40; /* LBA addressing */
    if (cmd == ATA_READ_DMA || cmd == ATA_WRITE_DMA) {
        f[7] |= (uint8_t)((lba >> 24) & 0x0f);
        f[12] = (uint8_t)count; /* 256 is 0 */
        return;
    }
    f[8] = (uint8_t)(lba >> 24);
    f[9] = (uint8_t)(lba >> 32);
    f[10] = (uint8_t)(lba >> 40);
    if (queued) {
        /* FPDMA QUEUED: the sector count is in FEATURE, the tag in
         * COUNT 7:3; 65536 sectors is written as 0. */
        f[3] = (uint8_t)count;
        f[11] = (uint8_t)(count >> 8);
        f[12] = (uint8_t)(tag << 3);
    } else {
        f[12] = (uint8_t)count;
        f[13] = (uint8_t)(count >> 8);
    }
}

/* Fill slot s with the next command of rq. False when the request cannot
 * go to the drive (it is failed then). */
static bool prepare(struct ahci_port *p, int s, struct req *rq)
{
    struct blk_io *io = rq->io;
    struct cmd_tbl *t = &p->tbl[s];
    struct slot *c = &p->slot[s];
    uint32_t flags = 5; /* CFL: the FIS is 5 dwords */
    uint32_t nprd = 0;
    if (io->op == BLK_FLUSH) {
        c->cmd = p->lba48 ? ATA_FLUSH_EXT : ATA_FLUSH;
        c->lba = 0;
        c->count = 0;
        c->queued = false;
        rq->issued = 1;
    } else {
        uint32_t n = io->count - rq->issued;
        if (n > p->bd.max_count)
            n = p->bd.max_count;
        uint64_t bytes = (uint64_t)n * BLOCKDEV_SECTOR;
        /* Buffers are physically contiguous (physmap or image), so one
         * entry per 4 MiB; any byte alignment of 2 or more will do. */
        uint64_t pa = virt_to_phys(io->buf + (uint64_t)rq->issued * BLOCKDEV_SECTOR);
        if (!p->s64a && pa + bytes > (1ull << 32)) {
            log_warn("ahci", "%s: %s buffer at 0x%llx is above 4 GiB, which this controller cannot reach",
                     p->bd.name, op_name(io), (unsigned long long)pa);
            rq->status = BLK_E_IO;
            return false;
        }
        for (uint64_t off = 0; off < bytes; off += PRD_MAX)
            set_prd(&t->prdt[nprd++], pa + off, (uint32_t)(bytes - off < PRD_MAX ? bytes - off : PRD_MAX));
        bool w = io->op == BLK_WRITE;
        c->queued = p->ncq;
        c->cmd = p->ncq ? (w ? ATA_WRITE_FPDMA : ATA_READ_FPDMA)
                 : p->lba48 ? (w ? ATA_WRITE_DMA_EXT : ATA_READ_DMA_EXT)
                            : (w ? ATA_WRITE_DMA : ATA_READ_DMA);
        c->lba = io->lba + rq->issued;
        c->count = n;
        if (w)
            flags |= 1u << 6; /* W: host to device */
        rq->issued += n;
    }
    build_fis(t->cfis, c->cmd, c->lba, c->count, c->queued, s);
    p->cl[s].flags = flags | nprd << 16;
    c->rq = rq;
    rq->pending++;
    return true;
}

/* Issue slot s: tables first, then PxSACT for a queued command (3.3.13:
 * set before PxCI), then PxCI (3.3.14). */
static void ring(struct ahci_port *p, int s)
{
    uint32_t bit = 1u << s;
    if (!p->busy) {
        /* Nothing was in flight: what PxIS holds is no command's business. */
        uint32_t is = rd(p, PXIS);
        if (is)
            wr(p, PXIS, is);
    }
    p->cl[s].prdbc = 0;
    p->slot[s].rung = clock_ns();
    barrier();
    if (p->slot[s].queued)
        wr(p, PXSACT, bit);
    wr(p, PXCI, bit);
    p->busy |= bit;
}

static struct req *next_req(struct ahci_port *p)
{
    struct req *best = NULL;
    for (int i = 0; i < NSLOTS; i++) {
        struct req *rq = &p->req[i];
        if (rq->io && rq->status == BLK_OK && rq->issued < rq->total && (!best || rq->seq < best->seq))
            best = rq;
    }
    if (best)
        return best;
    for (int i = 0; i < NSLOTS; i++)
        if (!p->req[i].io) {
            struct blk_io *io = blockdev_next(&p->bd);
            if (!io)
                return NULL;
            p->req[i] = (struct req){ .io = io, .total = io->op == BLK_FLUSH ? 1 : io->count, .seq = p->seq++ };
            return &p->req[i];
        }
    return NULL;
}

static bool nonqueued_busy(const struct ahci_port *p)
{
    for (uint32_t m = p->busy; m; m &= m - 1)
        if (!p->slot[__builtin_ctz(m)].queued)
            return true;
    return false;
}

/* Fill free slots: retries first, then new commands. */
static void start_more(struct ahci_port *p)
{
    uint32_t all = p->nslots == 32 ? ~0u : (1u << p->nslots) - 1;
    for (;;) {
        uint32_t limit = p->serial || !p->ncq ? 1 : p->nslots;
        if ((uint32_t)ncmds(p->busy) >= limit || nonqueued_busy(p))
            return;
        if (p->retry) {
            int s = __builtin_ctz(p->retry);
            if (!p->slot[s].queued && p->busy)
                return;
            p->retry &= ~(1u << s);
            ring(p, s);
            continue;
        }
        if (p->serial) {
            if (p->busy)
                return;
            p->serial = false; /* every suspect has run alone */
            continue;
        }
        uint32_t free = all & ~(p->busy | p->retry | p->failed);
        if (!free)
            return;
        struct req *rq = next_req(p);
        if (!rq)
            return;
        if (rq->io->op == BLK_FLUSH && p->busy)
            return; /* a non-queued command runs alone (SATA NCQ) */
        int s = __builtin_ctz(free);
        if (prepare(p, s, rq))
            ring(p, s);
        else
            req_check(p, rq);
    }
}

/* ---- errors (6.2.2) ---------------------------------------------------- */

/* The port stopped on an error, or commands timed out (stuck). Decide
 * what failed, then stop the port; poll() carries the recovery on. */
static void port_error(struct ahci_port *p, uint32_t is, uint32_t tfd, uint32_t stuck)
{
    uint32_t serr = rd(p, PXSERR);
    int n = ncmds(p->busy);
    bool queued = false;
    for (uint32_t m = p->busy; m; m &= m - 1)
        queued |= p->slot[__builtin_ctz(m)].queued;
    if (stuck) {
        log_error("ahci", "%s: %d command%s made no progress for 10 s: resetting the port", p->bd.name,
                  ncmds(stuck), stuck & (stuck - 1) ? "s" : "");
        p->failed |= stuck;
        p->retry |= p->busy & ~stuck;
    } else if (n == 1) {
        p->failed |= p->busy; /* alone in flight: it is the one */
    } else if (n > 1) {
        /* NCQ: the drive aborted all of them and which one failed is not
         * known without READ LOG EXT page 10h: run them again one at a
         * time, so the bad one fails alone. */
        log_warn("ahci", "%s: error with %d commands in flight (PxIS 0x%08x, PxTFD 0x%04x, PxSERR 0x%08x): "
                         "resetting the port, retrying them one at a time",
                 p->bd.name, n, is, tfd & 0xffff, serr);
        p->retry |= p->busy;
        p->serial = true;
    } else {
        log_warn("ahci", "%s: port error with no command in flight (PxIS 0x%08x, PxSERR 0x%08x): restarting it",
                 p->bd.name, is, serr);
    }
    for (uint32_t m = p->failed & p->busy; m; m &= m - 1) {
        log_failed(p, __builtin_ctz(m), is, tfd, serr);
        /* No PRDT: should the HBA run a stale PxCI bit again when ST comes
         * back (QEMU keeps them), it cannot touch the caller's buffer. */
        p->cl[__builtin_ctz(m)].flags = 5;
    }
    p->busy = 0;
    /* A queued error leaves the drive refusing NCQ commands until READ LOG
     * EXT 10h or a reset, and a hung or BSY drive needs one: COMRESET. */
    p->reset_link = stuck || queued || (tfd & (TFD_BSY | TFD_DRQ));
    wr(p, PXCMD, rd(p, PXCMD) & ~CMD_ST); /* ST off: the HBA clears PxCI and PxSACT */
    p->st = P_STOPPING;
    p->deadline = clock_ns() + STOP_NS;
}

/* The drive is gone or will not reset: every request fails from now on. */
static void fail_all(struct ahci_port *p)
{
    uint32_t all = p->busy | p->retry | p->failed;
    p->busy = p->retry = p->failed = 0;
    for (; all; all &= all - 1)
        if (p->slot[__builtin_ctz(all)].rq)
            cmd_end(p, __builtin_ctz(all), BLK_E_IO);
    for (int i = 0; i < NSLOTS; i++)
        if (p->req[i].io) {
            p->req[i].status = BLK_E_IO;
            req_check(p, &p->req[i]);
        }
    struct blk_io *io;
    while ((io = blockdev_next(&p->bd)))
        blockdev_complete(&p->bd, io, BLK_E_IO);
}

/* One step of the recovery, never waiting: ST off and CR clear (at most
 * 500 ms, else a COMRESET, 10.4.2), PxSERR and PxIS cleared, a COMRESET
 * when one is due, then ST on again and the retries go. */
static void recover(struct ahci_port *p)
{
    uint64_t now = clock_ns();
    if (p->st == P_STOPPING) {
        if (rd(p, PXCMD) & CMD_CR) {
            if (now < p->deadline)
                return;
            p->reset_link = true;
        }
        if (p->reset_link || (rd(p, PXTFD) & (TFD_BSY | TFD_DRQ))) {
            comreset(p->r);
            p->st = P_RESETTING;
            p->deadline = now + RESET_NS;
            return;
        }
    } else if (p->st == P_RESETTING) {
        if (!device_ready(p->r)) {
            if (now < p->deadline)
                return;
            log_error("ahci", "%s: no answer 10 s after a COMRESET (PxSSTS 0x%08x, PxTFD 0x%04x): the drive is out "
                              "of service",
                      p->bd.name, rd(p, PXSSTS), rd(p, PXTFD) & 0xffff);
            p->st = P_DEAD;
            fail_all(p);
            return;
        }
    }
    wr(p, PXSERR, ~0u);
    wr(p, PXIS, ~0u);
    wr(p, PXCMD, rd(p, PXCMD) | CMD_ST);
    log_info("ahci", "%s: port restarted%s; %d command%s to retry", p->bd.name,
             p->st == P_RESETTING ? " after a COMRESET" : "", ncmds(p->retry),
             p->retry && !(p->retry & (p->retry - 1)) ? "" : "s");
    p->st = P_RUN;
    for (uint32_t m = p->failed; m; m &= m - 1)
        cmd_end(p, __builtin_ctz(m), BLK_E_IO);
    p->failed = 0;
}

/* ---- polling ----------------------------------------------------------- */

static void reap(struct ahci_port *p)
{
    if (!p->busy)
        return;
    /* PxCI/PxSACT before PxIS: a command that fails between the reads then
     * shows as an error, not as done. */
    uint32_t active = rd(p, PXCI);
    active |= rd(p, PXSACT);
    uint32_t is = rd(p, PXIS), tfd = rd(p, PXTFD);
    if (is)
        wr(p, PXIS, is);
    /* TFES; or ERR in a register or set-device-bits FIS that just came
     * (QEMU reports an NCQ error so, without TFES). */
    bool err = (is & IS_ERRORS) || ((is & (IS_DHRS | IS_SDBS | IS_PSS)) && (tfd & TFD_ERR));
    uint32_t done = p->busy & ~active;
    if (err && !(p->busy & (p->busy - 1)))
        done = 0; /* the one in flight failed, whatever PxCI says */
    p->busy &= ~done;
    for (; done; done &= done - 1)
        cmd_end(p, __builtin_ctz(done), BLK_OK);
    if (err) {
        port_error(p, is, tfd, 0);
        return;
    }
    uint64_t now = clock_ns();
    uint32_t stuck = 0;
    for (uint32_t m = p->busy; m; m &= m - 1)
        if (now - p->slot[__builtin_ctz(m)].rung > CMD_TIMEOUT_NS)
            stuck |= 1u << __builtin_ctz(m);
    if (stuck)
        port_error(p, is, tfd, stuck);
}

static void ahci_poll(struct blockdev *bd)
{
    struct ahci_port *p = bd->priv;
    if (p->in_poll)
        return; /* a completion callback submitted: picked up below */
    p->in_poll = true;
    if (p->st == P_RUN)
        reap(p);
    if (p->st == P_STOPPING || p->st == P_RESETTING)
        recover(p);
    if (p->st == P_RUN)
        start_more(p);
    else if (p->st == P_DEAD)
        fail_all(p);
    p->in_poll = false;
}

/* ---- bring-up (10.1.2) ------------------------------------------------- */

/* IDENTIFY DEVICE (PIO data-in, which the HBA turns into DMA through the
 * PRDT) in slot 0, waiting at most 5 s. */
static int identify(struct ahci_port *p)
{
    struct cmd_tbl *t = &p->tbl[0];
    build_fis(t->cfis, ATA_IDENTIFY, 0, 0, false, 0);
    set_prd(&t->prdt[0], virt_to_phys(p->ident), 512);
    p->cl[0].flags = 5 | 1u << 16;
    p->cl[0].prdbc = 0;
    barrier();
    wr(p, PXCI, 1);
    uint64_t end = clock_ns() + 5000000000ull;
    while (rd(p, PXCI) & 1) {
        if ((rd(p, PXIS) & IS_ERRORS) || clock_ns() > end)
            return -1;
        pause();
    }
    barrier();
    return rd(p, PXTFD) & TFD_ERR ? -1 : 0;
}

/* Give a port back (idle) and its memory, unless it will not stop. */
static void port_release(struct ahci_port *p)
{
    if (port_idle(p->r))
        pmm_free(p->mem_pa, 3);
}

static void port_init(volatile uint32_t *abar, uint32_t cap, int hba, int n)
{
    volatile uint32_t *r = abar + (0x100 + 0x80 * n) / 4;
    char name[16];
    fmt_snprintf(name, sizeof(name), "ahci%d-port%d", hba, n);
    r[PXIE / 4] = 0; /* polled */
    if (!port_idle(r)) {
        log_warn("ahci", "%s: the port does not stop (PxCMD 0x%08x): skipped", name, r[PXCMD / 4]);
        return;
    }
    uint32_t det = r[PXSSTS / 4] & 0xf;
    if (det != DET_PRESENT) {
        if (det == 1)
            log_info("ahci", "%s: a device is attached but the link is down (PxSSTS 0x%08x): skipped", name,
                     r[PXSSTS / 4]);
        return; /* empty */
    }
    /* PxSIG, from the drive's first register FIS (3.3.9): leave what is
     * not a disk alone. */
    uint32_t sig = r[PXSIG / 4];
    if (sig == SIG_ATAPI || sig == SIG_PM) {
        log_info("ahci", "%s: %s: not supported, skipped", name,
                 sig == SIG_ATAPI ? "an ATAPI device (CD/DVD)" : "a port multiplier");
        return;
    }
    if (nports == AHCI_MAX) {
        log_warn("ahci", "%s: too many AHCI disks, ignored", name);
        return;
    }
    struct ahci_port *p = &ports[nports];
    memset(p, 0, sizeof(*p));
    p->r = r;
    p->s64a = (cap & CAP_S64A) != 0;
    memcpy(p->bd.name, name, sizeof(name));
    /* Page 0: command list (1 KiB aligned) at 0, received FISes (256-byte
     * aligned) at 1 KiB, the IDENTIFY data at 2 KiB; pages 1-2: the 32
     * command tables (128-byte aligned). */
    uint64_t pa = pmm_try_alloc(3, 1);
    if (pa == PMM_NONE || (!p->s64a && pa + 3 * PAGE_SIZE > (1ull << 32))) {
        log_warn("ahci", "%s: no memory for the command list%s: skipped", name,
                 pa == PMM_NONE ? "" : " below 4 GiB (the controller has 32-bit addressing)");
        if (pa != PMM_NONE)
            pmm_free(pa, 3);
        return;
    }
    uint8_t *mem = phys_to_virt(pa);
    memset(mem, 0, 3 * PAGE_SIZE);
    p->mem_pa = pa;
    p->cl = (struct cmd_hdr *)mem;
    p->ident = (uint16_t *)(mem + 2048);
    p->tbl = (struct cmd_tbl *)(mem + PAGE_SIZE);
    for (int s = 0; s < NSLOTS; s++) {
        uint64_t t = pa + PAGE_SIZE + (uint64_t)s * sizeof(struct cmd_tbl);
        p->cl[s].ctba = (uint32_t)t;
        p->cl[s].ctbau = (uint32_t)(t >> 32);
    }
    r[PXCLB / 4] = (uint32_t)pa;
    r[PXCLBU / 4] = (uint32_t)(pa >> 32);
    r[PXFB / 4] = (uint32_t)(pa + 1024);
    r[PXFBU / 4] = (uint32_t)((pa + 1024) >> 32);
    r[PXCMD / 4] |= CMD_FRE | ((cap & CAP_SSS) ? CMD_SUD : 0); /* SUD: spin up (with CAP.SSS) */
    r[PXSERR / 4] = ~0u;
    r[PXIS / 4] = ~0u;
    /* The drive must be idle before ST (10.3.1); one COMRESET if not. */
    if (!wait_reg(&r[PXTFD / 4], TFD_BSY | TFD_DRQ, 0, 1000000000ull)) {
        comreset(r);
        uint64_t end = clock_ns() + RESET_NS;
        while (!device_ready(r) && clock_ns() < end)
            pause();
        r[PXSERR / 4] = ~0u;
    }
    sig = r[PXSIG / 4];
    if (!device_ready(r) || sig != SIG_ATA) {
        log_warn("ahci", "%s: no ATA disk answers (PxSIG 0x%08x, PxTFD 0x%04x): skipped", name, sig,
                 r[PXTFD / 4] & 0xffff);
        port_release(p);
        return;
    }
    r[PXIS / 4] = ~0u;
    r[PXCMD / 4] |= CMD_ST;
    const uint16_t *w = p->ident;
    if (identify(p) < 0) {
        log_warn("ahci", "%s: IDENTIFY DEVICE failed (PxIS 0x%08x, PxTFD 0x%04x): skipped", name, r[PXIS / 4],
                 r[PXTFD / 4] & 0xffff);
        port_release(p);
        return;
    }
    p->lba48 = (w[83] & (1u << 10)) != 0;
    uint64_t sectors = p->lba48 ? (uint64_t)w[100] | (uint64_t)w[101] << 16 | (uint64_t)w[102] << 32 |
                                      (uint64_t)w[103] << 48
                                : (uint64_t)w[60] | (uint64_t)w[61] << 16;
    /* Word 106: bits 15:14 = 01 makes it valid; bit 12, logical sectors
     * longer than 512 bytes (words 117-118), which blockdev cannot take. */
    bool big = (w[106] & 0xc000) == 0x4000 && (w[106] & (1u << 12));
    if ((w[0] & 0x8000) || !(w[49] & (1u << 9)) || !(w[49] & (1u << 8)) || !sectors || big) {
        log_warn("ahci", "%s: %s: skipped", name,
                 big ? "logical sectors larger than 512 bytes" : "not an LBA disk with DMA");
        port_release(p);
        return;
    }
    uint32_t depth = (w[75] & 0x1f) + 1u;
    p->ncq = (cap & CAP_SNCQ) && w[76] != 0xffff && (w[76] & (1u << 8));
    p->nslots = p->ncq ? (depth < CAP_NCS(cap) ? depth : CAP_NCS(cap)) : 1;
    if (p->ncq)
        fmt_snprintf(p->model, sizeof(p->model), "AHCI, NCQ %u", p->nslots);
    else
        fmt_snprintf(p->model, sizeof(p->model), "AHCI%s", p->lba48 ? "" : ", LBA28");
    struct blockdev *bd = &p->bd;
    bd->model = p->model;
    blockdev_ata_string(w, 10, 10, bd->serial);
    blockdev_ata_string(w, 27, 20, bd->product);
    bd->sectors = p->lba48 ? sectors : (sectors > 0x0fffffff ? 0x0fffffff : sectors);
    bd->max_count = p->lba48 || p->ncq ? 65536 : 256; /* what one command's count field holds */
    bd->poll = ahci_poll;
    bd->priv = p;
    nports++;
    blockdev_register(bd);
}

/* BIOS/OS handoff (10.6): ask for ownership, give the firmware 25 ms to
 * let go, 2 s more when it says it is busy (BOHC.BB). */
static void handoff(volatile uint32_t *abar, int hba)
{
    abar[BOHC / 4] |= BOHC_OOS;
    uint64_t t0 = clock_ns();
    while (abar[BOHC / 4] & BOHC_BOS) {
        uint64_t waited = clock_ns() - t0;
        if (waited > 25000000ull && (!(abar[BOHC / 4] & BOHC_BB) || waited > 2025000000ull)) {
            log_warn("ahci", "ahci%d: the firmware did not hand the controller over (BOHC 0x%08x): taking it", hba,
                     abar[BOHC / 4]);
            return;
        }
        pause();
    }
}

int ahci_probe(void)
{
    int before = nports;
    for (int i = 0; i < pci_count(); i++) {
        struct pci_dev *d = pci_get(i);
        if (d->claimed || d->class_code != 0x01 || d->subclass != 0x06 || d->prog_if != 0x01)
            continue;
        d->claimed = true;
        int hba = nhbas++;
        pci_enable(d, true, false, true);
        volatile uint32_t *abar = (volatile uint32_t *)pci_map_bar(d, 5);
        if (!abar) {
            log_warn("ahci", "ahci%d: %02x:%02x.%u has no memory BAR 5 (ABAR): skipped", hba, d->bus, d->dev, d->fn);
            continue;
        }
        /* AE first, alone (10.1.2 step 1; 3.1.2), then IE off: polled. */
        abar[GHC / 4] |= GHC_AE;
        abar[GHC / 4] &= ~GHC_IE;
        if (abar[CAP2 / 4] & CAP2_BOH)
            handoff(abar, hba);
        uint32_t cap = abar[CAP / 4], pi = abar[PI / 4], vs = abar[VS / 4];
        /* VS: major 31:16, minor 15:8, sub-minor 7:0 (1.3.1 is 0x00010301). */
        char ver[16];
        fmt_snprintf(ver, sizeof(ver), (vs & 0xff) ? "%x.%x.%x" : "%x.%x", vs >> 16, (vs >> 8) & 0xff, vs & 0xff);
        log_info("ahci", "ahci%d: %04x:%04x at %02x:%02x.%u, AHCI %s, ports 0x%08x, %u command slots%s%s", hba,
                 d->vendor, d->device, d->bus, d->dev, d->fn, ver, pi, CAP_NCS(cap), cap & CAP_SNCQ ? ", NCQ" : "",
                 cap & CAP_S64A ? ", 64-bit" : "");
        for (int n = 0; n < 32; n++)
            if ((pi & (1u << n)) && (uint64_t)(0x100 + 0x80 * (n + 1)) <= d->bar[5].size)
                port_init(abar, cap, hba, n);
    }
    return nports - before;
}
