/* NVMe drives, polled from the main loop like ata.c: one I/O queue pair
 * per controller with interrupts off, up to 63 commands in flight, the
 * completions found by their phase tag on each pass; the hypervisor never
 * waits for the disk once booted. Each active namespace with 512-byte
 * logical blocks is one block device, "nvme0n1".
 *
 * References (section numbers are those of the NVM Express Base
 * Specification 1.4): 3.1 controller registers, 4.1 queues, 4.2 and 4.6
 * submission and completion entries, 4.3 PRPs, 5.3/5.4 Create I/O
 * Completion/Submission Queue, 5.15 Identify, 5.21.1.7 Number of Queues,
 * 6.8 Flush, 6.9 Read, 6.15 Write, 7.6.1 initialization.
 *
 * Not done: controller reset and recovery (a command that takes more than
 * 10 s, or a fatal controller status, fails everything and retires the
 * controller), namespaces with other block sizes or with metadata,
 * shutdown notification (CC.SHN) at power-off, more than one I/O queue. */
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

/* Controller registers (3.1), in BAR0. */
#define R_CAP 0x00
#define R_VS 0x08
#define R_INTMS 0x0c
#define R_CC 0x14
#define R_CSTS 0x1c
#define R_AQA 0x24
#define R_ASQ 0x28
#define R_ACQ 0x30
#define R_DOORBELL 0x1000

#define CC_EN (1u << 0)
/* 64-byte submission and 16-byte completion entries (2^6, 2^4); CSS 0 =
 * NVM command set, MPS 0 = 4 KiB pages, AMS 0 = round robin. */
#define CC_CONFIG (6u << 16 | 4u << 20)
#define CSTS_RDY (1u << 0)
#define CSTS_CFS (1u << 1)

#define A_CREATE_SQ 0x01
#define A_CREATE_CQ 0x05
#define A_IDENTIFY 0x06
#define A_SET_FEATURES 0x09
#define IO_FLUSH 0x00
#define IO_WRITE 0x01
#define IO_READ 0x02

#define NVME_MAX 4
#define NS_MAX 8
#define ADMIN_DEPTH 16
#define IO_DEPTH 64 /* entries; a full queue keeps one empty (4.1.2), so 63 commands */
/* A command's data: the first page by PRP1, the rest listed in one PRP
 * list page (4.3) with no chaining: at most 511 more pages. */
#define MAX_BYTES (511 * PAGE_SIZE)
#define CMD_TIMEOUT_NS 10000000000ull
#define CSTS_CHECK_NS 10000000ull /* look for a fatal status every 10 ms while busy */

/* One allocation per controller: the queues, an Identify buffer and a PRP
 * list page per command slot. */
enum { P_ASQ, P_ACQ, P_SQ, P_CQ, P_IDENT, P_PRP, P_TOTAL = P_PRP + IO_DEPTH };

struct sqe {
    uint32_t cdw0; /* opcode 7:0, command id 31:16 */
    uint32_t nsid, rsvd[2];
    uint64_t mptr, prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
struct cqe {
    uint32_t dw0, dw1;
    uint16_t sqhd, sqid, cid;
    uint16_t status; /* bit 0: phase tag; 15:1 the status field (4.6.1) */
};
_Static_assert(sizeof(struct sqe) == 64 && sizeof(struct cqe) == 16, "NVMe queue entry sizes");

struct queue {
    struct sqe *sq;
    volatile struct cqe *cq;
    volatile uint32_t *sq_tail_db, *cq_head_db;
    uint16_t size, tail, head, phase;
};

struct nvme_ctrl;
struct nvme_ns {
    struct blockdev bd;
    struct nvme_ctrl *c;
    uint32_t nsid;
};

/* A request in flight: it may take several commands (MDTS). */
struct req {
    struct blk_io *io; /* NULL: free */
    struct nvme_ns *ns;
    uint32_t issued; /* sectors handed to commands so far */
    uint16_t inflight;
    int status;
};

/* A command slot; its index is the command id. */
struct cmd {
    struct req *r; /* NULL: free */
    uint64_t lba, t0;
    uint32_t count;
    uint8_t op;
    uint64_t *prp, prp_pa;
};

struct nvme_ctrl {
    volatile uint8_t *regs;
    char name[8], model[24];
    uint64_t mem;
    struct queue aq, ioq;
    uint32_t max_sectors;
    struct cmd cmds[IO_DEPTH];
    int ncmds, nfree;
    struct req reqs[IO_DEPTH];
    struct req *partial; /* the request with commands still to issue */
    struct nvme_ns *ns[NS_MAX];
    int nns, rr;
    uint64_t next_csts;
    bool busy, dead;
};

static struct nvme_ctrl ctrls[NVME_MAX];
static int nctrls;
static struct nvme_ns nss[BLOCKDEV_MAX];
static int nnss;

static uint32_t rd32(const struct nvme_ctrl *c, uint32_t off) { return *(volatile uint32_t *)(c->regs + off); }
static void wr32(const struct nvme_ctrl *c, uint32_t off, uint32_t v) { *(volatile uint32_t *)(c->regs + off) = v; }
static uint64_t rd64(const struct nvme_ctrl *c, uint32_t off)
{
    uint64_t lo = rd32(c, off);
    return lo | (uint64_t)rd32(c, off + 4) << 32;
}
static void wr64(const struct nvme_ctrl *c, uint32_t off, uint64_t v)
{
    wr32(c, off, (uint32_t)v);
    wr32(c, off + 4, (uint32_t)(v >> 32));
}
static uint64_t page_pa(const struct nvme_ctrl *c, int i) { return c->mem + (uint64_t)i * PAGE_SIZE; }
static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void queue_init(struct nvme_ctrl *c, struct queue *q, int qid, uint16_t size, int sq_page, int cq_page,
                       uint32_t stride)
{
    q->sq = phys_to_virt(page_pa(c, sq_page));
    q->cq = phys_to_virt(page_pa(c, cq_page));
    q->size = size;
    q->tail = q->head = 0;
    q->phase = 1; /* the controller posts the first pass with phase 1 into zeroed memory */
    /* Doorbells (3.1, SQyTDBL and CQyHDBL): SQ y's tail at 1000h + 2y *
     * stride, CQ y's head right after it. */
    q->sq_tail_db = (volatile uint32_t *)(c->regs + R_DOORBELL + (uint32_t)(2 * qid) * stride);
    q->cq_head_db = (volatile uint32_t *)(c->regs + R_DOORBELL + (uint32_t)(2 * qid + 1) * stride);
}

static void sq_push(struct queue *q, const struct sqe *e)
{
    memcpy(&q->sq[q->tail], e, sizeof(*e));
    q->tail = (uint16_t)((q->tail + 1) % q->size);
}

static void sq_ring(struct queue *q)
{
    __asm__ volatile("" ::: "memory"); /* the entries (and PRP lists) are in memory first */
    *q->sq_tail_db = q->tail;
}

/* The next completion, if any: an entry is new when its phase tag is the
 * one of the controller's current pass through the queue, which inverts
 * at every wrap (4.6, DW3). */
static bool cq_pop(struct queue *q, struct cqe *out)
{
    volatile struct cqe *e = &q->cq[q->head];
    uint16_t st = e->status;
    if ((st & 1) != q->phase)
        return false;
    __asm__ volatile("" ::: "memory");
    out->dw0 = e->dw0;
    out->cid = e->cid;
    out->status = st;
    if (++q->head == q->size) {
        q->head = 0;
        q->phase ^= 1;
    }
    return true;
}

/* Status Code Type << 8 | Status Code (4.6.1.1, 4.6.1.2) in words: the
 * generic (0), command specific (1) and media (2) ones a drive reports
 * for reads, writes, flushes and the admin commands used here. */
static const struct {
    uint16_t code;
    const char *text;
} statuses[] = {
    { 0x001, "invalid command opcode" },   { 0x002, "invalid field in command" },
    { 0x004, "data transfer error" },      { 0x005, "aborted: power loss" },
    { 0x006, "internal error" },           { 0x007, "aborted on request" },
    { 0x008, "aborted: queue deleted" },   { 0x00b, "invalid namespace or format" },
    { 0x080, "LBA out of range" },         { 0x081, "capacity exceeded" },
    { 0x082, "namespace not ready" },      { 0x083, "reservation conflict" },
    { 0x084, "format in progress" },       { 0x101, "invalid completion queue" },
    { 0x102, "invalid queue identifier" }, { 0x103, "invalid queue size" },
    { 0x180, "conflicting attributes" },   { 0x181, "invalid protection information" },
    { 0x182, "write to a read-only range" }, { 0x280, "write fault" },
    { 0x281, "unrecovered read error" },   { 0x282, "end-to-end guard check error" },
    { 0x283, "end-to-end application tag check error" }, { 0x284, "end-to-end reference tag check error" },
    { 0x285, "compare failure" },          { 0x286, "access denied" },
    { 0x287, "deallocated or unwritten block" },
};

static void status_text(uint16_t sf, char *buf, size_t n)
{
    static const char *const types[8] = { "generic", "command specific", "media error", "path error",
                                          "reserved type", "reserved type", "reserved type", "vendor specific" };
    unsigned sct = (sf >> 8) & 7, sc = sf & 0xff;
    const char *what = "unknown status";
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        if (statuses[i].code == (sf & 0x7ff))
            what = statuses[i].text;
    fmt_snprintf(buf, n, "%s: %s (SCT %u, SC 0x%02x%s)", types[sct], what, sct, sc,
                 sf & (1u << 14) ? ", do not retry" : "");
}

/* Boot time only: run one admin command and wait for it (10 s at most).
 * Its status field (0: success), or -1 when it did not complete. */
static int admin(struct nvme_ctrl *c, struct sqe *e)
{
    e->cdw0 |= (uint32_t)c->aq.tail << 16;
    sq_push(&c->aq, e);
    sq_ring(&c->aq);
    uint64_t end = clock_ns() + CMD_TIMEOUT_NS;
    struct cqe r;
    while (!cq_pop(&c->aq, &r)) {
        if (clock_ns() > end || (rd32(c, R_CSTS) & CSTS_CFS))
            return -1;
        pause();
    }
    *c->aq.cq_head_db = c->aq.head;
    return r.status & 0xffe ? r.status >> 1 : 0; /* the status field when SCT or SC is not 0 */
}

static int identify(struct nvme_ctrl *c, uint32_t cns, uint32_t nsid)
{
    struct sqe e = { .cdw0 = A_IDENTIFY, .nsid = nsid, .prp1 = page_pa(c, P_IDENT), .cdw10 = cns };
    return admin(c, &e);
}

/* ASCII, space padded (5.15: SN, MN): trimmed, unprintables as '?'. */
static void id_string(const uint8_t *src, int len, char *out)
{
    while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == 0))
        len--;
    int lead = 0;
    while (lead < len && src[lead] == ' ')
        lead++;
    int n = 0;
    for (int i = lead; i < len; i++)
        out[n++] = src[i] < 0x20 || src[i] > 0x7e ? '?' : (char)src[i];
    out[n] = 0;
}

/* Boot time: wait for CSTS.RDY to become rdy, at most ms (CAP.TO). */
static bool wait_ready(const struct nvme_ctrl *c, bool rdy, uint32_t ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000;
    for (;;) {
        uint32_t s = rd32(c, R_CSTS);
        if (s == 0xffffffffu || (rdy && (s & CSTS_CFS)))
            return false; /* gone from the bus, or a fatal error */
        if (((s & CSTS_RDY) != 0) == rdy)
            return true;
        if (clock_ns() > end)
            return false;
        pause();
    }
}

/* ---- I/O from the main loop ---- */

/* PRP1 is the data's first byte, which may lie anywhere in its page
 * (buffers are sector- but not always page-aligned); every further page
 * starts at offset 0: the second in PRP2, or beyond two pages, PRP2 points
 * to the list of them (4.3). Buffers are physically contiguous. */
static void set_prps(struct cmd *k, uint64_t pa, uint64_t len, struct sqe *e)
{
    e->prp1 = pa;
    uint64_t first = PAGE_SIZE - (pa & (PAGE_SIZE - 1));
    if (len <= first)
        return;
    uint64_t next = (pa & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
    uint64_t more = (len - first + PAGE_SIZE - 1) / PAGE_SIZE;
    if (more == 1) {
        e->prp2 = next;
        return;
    }
    for (uint64_t i = 0; i < more; i++)
        k->prp[i] = next + i * PAGE_SIZE;
    e->prp2 = k->prp_pa;
}

/* Queue the next command of c->partial in a free slot (the caller rings). */
static void issue(struct nvme_ctrl *c, uint64_t now)
{
    struct req *r = c->partial;
    struct blk_io *io = r->io;
    int slot = 0;
    while (c->cmds[slot].r)
        slot++;
    struct cmd *k = &c->cmds[slot];
    struct sqe e = { .nsid = r->ns->nsid };
    if (io->op == BLK_FLUSH) {
        k->op = IO_FLUSH; /* 6.8: whatever the volatile write cache holds reaches the media */
        k->lba = 0;
        k->count = 0;
        c->partial = NULL;
    } else {
        uint32_t n = io->count - r->issued;
        if (n > c->max_sectors)
            n = c->max_sectors;
        k->op = io->op == BLK_READ ? IO_READ : IO_WRITE;
        k->lba = io->lba + r->issued;
        k->count = n;
        set_prps(k, virt_to_phys(io->buf + (uint64_t)r->issued * BLOCKDEV_SECTOR), (uint64_t)n * BLOCKDEV_SECTOR,
                 &e);
        e.cdw10 = (uint32_t)k->lba; /* SLBA */
        e.cdw11 = (uint32_t)(k->lba >> 32);
        e.cdw12 = n - 1; /* NLB, 0-based */
        r->issued += n;
        if (r->issued == io->count)
            c->partial = NULL;
    }
    e.cdw0 = k->op | (uint32_t)slot << 16;
    k->r = r;
    k->t0 = now;
    r->inflight++;
    c->nfree--;
    sq_push(&c->ioq, &e);
}

/* The oldest request of the controller's namespaces that may start now
 * (round robin between them), with a tracker; or NULL. */
static struct req *next_request(struct nvme_ctrl *c)
{
    struct req *r = c->reqs;
    while (r < c->reqs + IO_DEPTH && r->io)
        r++;
    if (r == c->reqs + IO_DEPTH)
        return NULL; /* cannot happen: every tracker in use holds a slot */
    for (int i = 0; i < c->nns; i++) {
        struct nvme_ns *ns = c->ns[(c->rr + i) % c->nns];
        struct blk_io *io = blockdev_next(&ns->bd);
        if (io) {
            c->rr = (c->rr + i + 1) % c->nns;
            *r = (struct req){ .io = io, .ns = ns };
            return r;
        }
    }
    return NULL;
}

static const char *op_name(uint8_t op) { return op == IO_READ ? "read" : op == IO_WRITE ? "write" : "flush"; }

static void finish(struct req *r)
{
    struct blk_io *io = r->io;
    r->io = NULL;
    blockdev_complete(&r->ns->bd, io, r->status);
}

/* Fail everything queued on the controller's namespaces (it is dead). */
static void fail_all(struct nvme_ctrl *c)
{
    for (int i = 0; i < IO_DEPTH; i++)
        c->reqs[i].io = NULL;
    c->partial = NULL;
    for (int i = 0; i < c->nns; i++)
        while (c->ns[i]->bd.head)
            blockdev_complete(&c->ns[i]->bd, c->ns[i]->bd.head, BLK_E_IO);
}

/* No reset and recovery here: clearing CC.EN resets the controller, which
 * aborts its commands and stops their DMA (7.3.2), so no buffer is
 * written after its request failed; then it is out of use. */
static void ctrl_fail(struct nvme_ctrl *c, const char *why)
{
    log_error("nvme", "%s: %s: disabling the controller, its drives fail every request from now on", c->name, why);
    c->dead = true;
    wr32(c, R_CC, 0);
    for (int i = 0; i < c->ncmds; i++)
        c->cmds[i].r = NULL;
    fail_all(c);
}

static void reap(struct nvme_ctrl *c, uint64_t now)
{
    struct cqe r;
    bool any = false;
    while (cq_pop(&c->ioq, &r)) {
        any = true;
        struct cmd *k = r.cid < c->ncmds ? &c->cmds[r.cid] : NULL;
        if (!k || !k->r) {
            log_warn("nvme", "%s: completion for command id %u, which is not in flight: ignored", c->name, r.cid);
            continue;
        }
        struct req *q = k->r;
        struct blockdev *bd = &q->ns->bd;
        k->r = NULL;
        c->nfree++;
        q->inflight--;
        uint16_t sf = r.status >> 1;
        if (sf & 0x7ff) {
            char why[96];
            status_text(sf, why, sizeof(why));
            if (k->op == IO_FLUSH)
                log_warn("nvme", "%s: flush failed: %s", bd->name, why);
            else
                log_warn("nvme", "%s: %s of %u sectors at LBA %llu failed: %s", bd->name, op_name(k->op), k->count,
                         (unsigned long long)k->lba, why);
            q->status = BLK_E_IO;
            if (c->partial == q)
                c->partial = NULL; /* issue no more of it */
        } else if (k->op == IO_READ) {
            bd->sectors_read += k->count;
        } else if (k->op == IO_WRITE) {
            bd->sectors_written += k->count;
        }
        if (!q->inflight && c->partial != q)
            finish(q);
    }
    if (any)
        *c->ioq.cq_head_db = c->ioq.head; /* the entries may be reused */
    if (c->nfree == c->ncmds)
        return;
    if (!any && now >= c->next_csts) {
        c->next_csts = now + CSTS_CHECK_NS;
        uint32_t s = rd32(c, R_CSTS);
        if (s == 0xffffffffu || (s & CSTS_CFS)) {
            ctrl_fail(c, s == 0xffffffffu ? "no longer answers" : "fatal status (CSTS.CFS)");
            return;
        }
    }
    for (int i = 0; i < c->ncmds; i++) {
        struct cmd *k = &c->cmds[i];
        if (k->r && now - k->t0 > CMD_TIMEOUT_NS) {
            log_error("nvme", "%s: %s of %u sectors at LBA %llu did not complete within 10 s", k->r->ns->bd.name,
                      op_name(k->op), k->count, (unsigned long long)k->lba);
            ctrl_fail(c, "a command timed out");
            return;
        }
    }
}

static void nvme_poll(struct blockdev *bd)
{
    struct nvme_ns *ns = bd->priv;
    struct nvme_ctrl *c = ns->c;
    if (c->busy)
        return; /* a completion's callback submitted: this poll's caller starts it */
    c->busy = true;
    if (c->dead) {
        fail_all(c);
    } else {
        uint64_t now = clock_ns();
        reap(c, now);
        bool any = false;
        while (!c->dead && c->nfree > 0 && (c->partial || (c->partial = next_request(c)))) {
            issue(c, now);
            any = true;
        }
        if (any)
            sq_ring(&c->ioq); /* once for all of them */
    }
    c->busy = false;
}

/* ---- bring-up (7.6.1) ---- */

struct ns_info {
    uint32_t nsid;
    uint64_t sectors;
};

/* Identify Namespace (5.15): its size and LBA format; only
 * 512-byte blocks without metadata are usable. */
static bool ns_usable(struct nvme_ctrl *c, uint32_t nsid, struct ns_info *out)
{
    int st = identify(c, 0, nsid);
    const uint8_t *id = phys_to_virt(page_pa(c, P_IDENT));
    if (st) {
        char text[96] = "did not complete";
        if (st > 0)
            status_text((uint16_t)st, text, sizeof(text));
        log_warn("nvme", "%s: namespace %u: Identify Namespace %s: skipped", c->name, nsid, text);
        return false;
    }
    uint64_t nsze = le64(id);
    unsigned fmt = (id[26] & 0xf) | ((id[26] >> 5) & 3) << 4; /* FLBAS (2.0 adds bits 6:5) */
    uint32_t lbaf = le32(id + 128 + 4 * fmt);
    unsigned ms = lbaf & 0xffff, lbads = (lbaf >> 16) & 0xff;
    if (!nsze)
        return false; /* not active */
    if (lbads != 9 || ms) {
        log_warn("nvme", "%s: namespace %u: %llu-byte logical blocks%s: skipped (the block layer counts 512-byte "
                         "sectors: only 512-byte blocks without metadata are supported)",
                 c->name, nsid, lbads < 63 ? 1ull << lbads : 0ull, ms ? " with metadata" : "");
        return false;
    }
    out->nsid = nsid;
    out->sectors = nsze;
    return true;
}

/* Boot: run an admin command; false with why when it failed. */
static bool admin_ok(struct nvme_ctrl *c, struct sqe *e, const char *what, char *why, size_t n)
{
    int st = admin(c, e);
    char text[96];
    if (st > 0)
        status_text((uint16_t)st, text, sizeof(text));
    if (st)
        fmt_snprintf(why, n, "%s %s%s", what, st < 0 ? "did not complete" : "failed: ", st < 0 ? "" : text);
    return st == 0;
}

/* Register a namespace of c as a block device. Serial numbers must be
 * unique, so namespace N >= 2 has "SERIAL-nN", SERIAL shortened when the
 * whole would not fit (docs/config.md). */
static void add_namespace(struct nvme_ctrl *c, const struct ns_info *n, const char *sn, const char *mn)
{
    if (nnss == BLOCKDEV_MAX) {
        log_warn("nvme", "%s: namespace %u: too many disks, ignored", c->name, n->nsid);
        return;
    }
    struct nvme_ns *ns = &nss[nnss++];
    struct blockdev *bd = &ns->bd;
    ns->c = c;
    ns->nsid = n->nsid;
    fmt_snprintf(bd->name, sizeof(bd->name), "%sn%u", c->name, n->nsid);
    bd->model = c->model;
    char suffix[16] = "";
    if (n->nsid != 1)
        fmt_snprintf(suffix, sizeof(suffix), "-n%u", n->nsid);
    int keep = BLOCKDEV_SERIAL_LEN - (int)strlen(suffix);
    fmt_snprintf(bd->serial, sizeof(bd->serial), "%.*s%s", keep, sn, suffix);
    fmt_snprintf(bd->product, sizeof(bd->product), "%s", mn);
    bd->sectors = n->sectors;
    bd->max_count = c->max_sectors;
    bd->poll = nvme_poll;
    bd->priv = ns;
    c->ns[c->nns++] = ns;
    blockdev_register(bd);
}

static void attach(struct pci_dev *p)
{
    struct nvme_ctrl *c = &ctrls[nctrls];
    char why[160] = "";
    memset(c, 0, sizeof(*c));
    fmt_snprintf(c->name, sizeof(c->name), "nvme%d", nctrls);
    pci_enable(p, true, false, true);
    pci_write16(p, 4, pci_read16(p, 4) | (1u << 10)); /* INTx off: this driver polls */
    c->regs = pci_map_bar(p, 0);
    if (!c->regs) {
        log_warn("nvme", "%02x:%02x.%u: BAR0 is not a usable memory BAR: controller skipped", p->bus, p->dev, p->fn);
        return;
    }
    uint64_t cap = rd64(c, R_CAP); /* 3.1.1 */
    uint32_t to_ms = (cap >> 24) & 0xff ? ((cap >> 24) & 0xff) * 500u : 500u;
    uint32_t stride = 4u << ((cap >> 32) & 0xf);
    uint16_t qsize = (cap & 0xffff) + 1 < IO_DEPTH ? (uint16_t)((cap & 0xffff) + 1) : IO_DEPTH;
    const char *bad = cap == ~0ull ? "its registers do not answer"
                      : !((cap >> 37) & 1) ? "no NVM command set"
                      : (cap >> 48) & 0xf ? "its smallest memory page is larger than 4 KiB"
                                          : NULL;
    if (!bad && !(c->mem = pmm_try_alloc(P_TOTAL, 1)))
        bad = "no memory for its queues";
    if (bad) {
        fmt_snprintf(why, sizeof(why), "%s", bad);
        goto fail;
    }
    memset(phys_to_virt(c->mem), 0, P_TOTAL * PAGE_SIZE);

    /* Reset, since the firmware may have left it running; CC.EN is not
     * to change while CSTS.RDY has not yet followed it (3.1.5, 3.1.6). */
    uint32_t cc = rd32(c, R_CC);
    if (cc & CC_EN) {
        (void)wait_ready(c, true, to_ms);
        wr32(c, R_CC, cc & ~CC_EN);
    }
    if (!wait_ready(c, false, to_ms)) {
        fmt_snprintf(why, sizeof(why), "it did not stop within %u ms (CSTS.RDY stays 1)", to_ms);
        goto fail;
    }
    queue_init(c, &c->aq, 0, ADMIN_DEPTH, P_ASQ, P_ACQ, stride);
    wr32(c, R_AQA, (ADMIN_DEPTH - 1) << 16 | (ADMIN_DEPTH - 1));
    wr64(c, R_ASQ, page_pa(c, P_ASQ));
    wr64(c, R_ACQ, page_pa(c, P_ACQ));
    wr32(c, R_CC, CC_CONFIG);
    wr32(c, R_CC, CC_CONFIG | CC_EN);
    if (!wait_ready(c, true, to_ms)) {
        fmt_snprintf(why, sizeof(why), "%s", rd32(c, R_CSTS) & CSTS_CFS ? "fatal status (CSTS.CFS) when enabled"
                                                                        : "it did not become ready (CAP.TO)");
        goto fail;
    }
    wr32(c, R_INTMS, 0xffffffffu); /* no interrupts: polled (3.1.3) */

    /* Identify Controller (5.15): SN, MN, MDTS, NN. */
    struct sqe e = { .cdw0 = A_IDENTIFY, .prp1 = page_pa(c, P_IDENT), .cdw10 = 1 };
    if (!admin_ok(c, &e, "Identify Controller", why, sizeof(why)))
        goto fail;
    const uint8_t *id = phys_to_virt(page_pa(c, P_IDENT));
    char sn[BLOCKDEV_SERIAL_LEN + 1], mn[41];
    id_string(id + 4, 20, sn);
    id_string(id + 24, 40, mn);
    uint8_t mdts = id[77];
    uint32_t nn = le32(id + 516);
    /* MDTS: 2^n units of CAP.MPSMIN (4 KiB here); 0 is no limit. */
    uint64_t max_bytes = mdts && mdts < 20 && (PAGE_SIZE << mdts) < MAX_BYTES ? PAGE_SIZE << mdts : MAX_BYTES;
    c->max_sectors = (uint32_t)(max_bytes / BLOCKDEV_SECTOR);

    /* The active namespaces (CNS 02h, NVMe 1.1 on), else 1..NN. */
    uint32_t nsids[NS_MAX];
    int nids = 0;
    if (identify(c, 2, 0) == 0) {
        for (int i = 0; i < 1024 && nids < NS_MAX && le32(id + 4 * i); i++)
            nsids[nids++] = le32(id + 4 * i);
    } else {
        for (uint32_t n = 1; n <= nn && nids < NS_MAX; n++)
            nsids[nids++] = n;
    }
    struct ns_info usable[NS_MAX];
    int nusable = 0;
    for (int i = 0; i < nids; i++)
        if (ns_usable(c, nsids[i], &usable[nusable]))
            nusable++;
    if (!nusable) {
        fmt_snprintf(why, sizeof(why), "no usable namespace");
        goto fail;
    }

    /* One I/O queue pair (5.21.1.7: 0-based counts), the completion queue
     * first; physically contiguous, interrupts off (5.3, 5.4). */
    e = (struct sqe){ .cdw0 = A_SET_FEATURES, .cdw10 = 0x07, .cdw11 = 0 };
    if (!admin_ok(c, &e, "Set Features (Number of Queues)", why, sizeof(why)))
        goto fail;
    e = (struct sqe){ .cdw0 = A_CREATE_CQ, .prp1 = page_pa(c, P_CQ), .cdw10 = (uint32_t)(qsize - 1) << 16 | 1,
                      .cdw11 = 1 };
    if (!admin_ok(c, &e, "Create I/O Completion Queue", why, sizeof(why)))
        goto fail;
    e = (struct sqe){ .cdw0 = A_CREATE_SQ, .prp1 = page_pa(c, P_SQ), .cdw10 = (uint32_t)(qsize - 1) << 16 | 1,
                      .cdw11 = 1u << 16 | 1 };
    if (!admin_ok(c, &e, "Create I/O Submission Queue", why, sizeof(why)))
        goto fail;
    queue_init(c, &c->ioq, 1, qsize, P_SQ, P_CQ, stride);
    c->ncmds = c->nfree = qsize - 1;
    for (int i = 0; i < c->ncmds; i++) {
        c->cmds[i].prp_pa = page_pa(c, P_PRP + i);
        c->cmds[i].prp = phys_to_virt(c->cmds[i].prp_pa);
    }
    fmt_snprintf(c->model, sizeof(c->model), "NVMe, queue %u", qsize);
    uint32_t vs = rd32(c, R_VS);
    log_info("nvme", "%s: %02x:%02x.%u, NVMe %u.%u, \"%s\" serial \"%s\": %d usable namespace%s, %u KiB per command",
             c->name, p->bus, p->dev, p->fn, vs >> 16, (vs >> 8) & 0xff, mn, sn, nusable, nusable == 1 ? "" : "s",
             c->max_sectors / 2);
    nctrls++;
    for (int i = 0; i < nusable; i++)
        add_namespace(c, &usable[i], sn, mn);
    return;
fail:
    log_warn("nvme", "%02x:%02x.%u: %s: controller skipped", p->bus, p->dev, p->fn, why);
    /* Stop it; its memory is freed only once it surely writes there no
     * more. */
    wr32(c, R_CC, 0);
    if (c->mem && wait_ready(c, false, to_ms))
        pmm_free(c->mem, P_TOTAL);
}

int nvme_probe(void)
{
    int before = nnss;
    for (int i = 0; i < pci_count(); i++) {
        struct pci_dev *p = pci_get(i);
        /* Mass storage, non-volatile memory controller, NVMe interface. */
        if (p->claimed || p->class_code != 0x01 || p->subclass != 0x08 || p->prog_if != 0x02)
            continue;
        p->claimed = true;
        if (nctrls == NVME_MAX) {
            log_warn("nvme", "%02x:%02x.%u: too many NVMe controllers, ignored", p->bus, p->dev, p->fn);
            continue;
        }
        attach(p);
    }
    return nnss - before;
}
