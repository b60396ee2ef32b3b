/* The host's block devices (blockdev.h): registry, request queues, and
 * the polling that drives them. */
#include "blockdev.h"
#include "../kernel/clock.h"
#include "../kernel/cpu.h"
#include "../kernel/log.h"
#include <string.h>

static struct blockdev *bds[BLOCKDEV_MAX];
static int nbds;

void blockdev_register(struct blockdev *bd)
{
    if (nbds == BLOCKDEV_MAX) {
        log_warn("disk", "%s: too many disks, ignored", bd->name);
        return;
    }
    bds[nbds++] = bd;
    log_info("disk", "%s (%s): \"%s\" serial \"%s\", %llu sectors (%llu MiB)", bd->name, bd->model, bd->product,
             bd->serial, (unsigned long long)bd->sectors, (unsigned long long)(bd->sectors >> 11));
}

int blockdev_count(void) { return nbds; }
struct blockdev *blockdev_get(int i) { return i >= 0 && i < nbds ? bds[i] : NULL; }

struct blockdev *blockdev_find(const char *serial)
{
    for (int i = 0; i < nbds; i++)
        if (strcmp(bds[i]->serial, serial) == 0)
            return bds[i];
    return NULL;
}

void blockdev_submit(struct blockdev *bd, struct blk_io *io)
{
    io->next = NULL;
    io->started = false;
    io->status = BLK_OK;
    if (io->op != BLK_FLUSH && (io->count == 0 || io->lba >= bd->sectors || io->count > bd->sectors - io->lba)) {
        io->status = BLK_E_RANGE;
        bd->errors++;
        io->done(io);
        return;
    }
    if (bd->tail)
        bd->tail->next = io;
    else
        bd->head = io;
    bd->tail = io;
    bd->poll(bd); /* start it now when the drive is idle */
}

void blockdev_finish(struct blockdev *bd, int status)
{
    if (bd->head)
        blockdev_complete(bd, bd->head, status);
}

/* a and b may not be in flight together (blockdev_next). */
static bool conflict(const struct blk_io *a, const struct blk_io *b)
{
    if (a->op == BLK_FLUSH || b->op == BLK_FLUSH)
        return true;
    if (a->op == BLK_READ && b->op == BLK_READ)
        return false;
    return a->lba < b->lba + b->count && b->lba < a->lba + a->count;
}

struct blk_io *blockdev_next(struct blockdev *bd)
{
    for (struct blk_io *r = bd->head; r; r = r->next) {
        if (r->started)
            continue;
        bool wait = false;
        for (const struct blk_io *e = bd->head; e != r && !wait; e = e->next)
            wait = conflict(e, r);
        if (!wait) {
            r->started = true;
            return r;
        }
    }
    return NULL;
}

void blockdev_complete(struct blockdev *bd, struct blk_io *io, int status)
{
    struct blk_io **pp = &bd->head, *prev = NULL;
    while (*pp && *pp != io) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return; /* not queued here */
    *pp = io->next;
    if (bd->tail == io)
        bd->tail = prev;
    io->status = status;
    if (status != BLK_OK)
        bd->errors++;
    else if (io->op == BLK_READ)
        bd->reads++;
    else if (io->op == BLK_WRITE)
        bd->writes++;
    else
        bd->flushes++;
    io->done(io);
}

int blockdev_wait_idle(struct blockdev *bd, uint32_t timeout_ms)
{
    uint64_t end = clock_ns() + (uint64_t)timeout_ms * 1000000;
    while (bd->head) {
        bd->poll(bd);
        if (clock_ns() > end)
            return -1;
        pause();
    }
    return 0;
}

bool blockdev_poll_all(void)
{
    bool busy = false;
    for (int i = 0; i < nbds; i++)
        if (bds[i]->head) {
            bds[i]->poll(bds[i]);
            busy |= bds[i]->head != NULL;
        }
    return busy;
}

static void sync_done(struct blk_io *io) { *(bool *)io->ctx = true; }

int blockdev_read_sync(struct blockdev *bd, uint64_t lba, uint32_t count, uint8_t *buf)
{
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

int blockdev_part_read(void *ctx, uint64_t lba, uint32_t count, uint8_t *buf)
{
    return blockdev_read_sync(ctx, lba, count, buf);
}

void blockdev_ata_string(const uint16_t *w, int first, int words, char *out)
{
    for (int i = 0; i < words; i++) {
        out[2 * i] = (char)(w[first + i] >> 8);
        out[2 * i + 1] = (char)w[first + i];
    }
    int n = 2 * words;
    out[n] = 0;
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == 0))
        out[--n] = 0;
    int lead = 0;
    while (out[lead] == ' ')
        lead++;
    memmove(out, out + lead, (size_t)(n - lead + 1));
    for (char *c = out; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
}
