/* [debug] disk_test = SERIAL: exercise a drive's driver at boot, through
 * the same block-device layer the guest's disk uses.
 *
 * It reads sectors 64-127 (a test seeds them from the host and compares
 * the SHA-256 printed here), then queues writes of assorted sizes over the
 * drive's last 2 MiB all at once (so a driver with several commands in
 * flight has them in flight), some from buffers that are not page aligned,
 * flushes, reads everything back with different request boundaries and
 * compares, and checks that a request past the end is refused. Each sector
 * written holds its LBA (u64 LE), the run's seed (u64 LE) and then byte j
 * = (LBA * 7 + j) mod 256 for j = 16..511, so the host can check the image
 * file afterwards. The verdict is one console line:
 *   disk test: NAME (serial S, MODEL): passed: ...   or   ... FAILED: why */
#include "blockdev.h"
#include "../kernel/clock.h"
#include "../kernel/format.h"
#include "../kernel/kernel.h"
#include "../kernel/layout.h"
#include "../kernel/log.h"
#include "../kernel/pmm.h"
#include "../kernel/random.h"
#include "../kernel/service.h"
#include "../kernel/sha256.h"
#include "../kernel/config.h"
#include <string.h>

#define REGION_SECTORS 4096u /* 2 MiB at the end of the drive */
#define SEED_LBA 64u
#define SEED_SECTORS 64u
#define MAX_REQS 64

/* Request sizes (sectors) the region is cut into: single sectors, odd
 * sizes that straddle pages, a guest-sized 256 and bigger ones a driver
 * must split. The read pass uses a rotated list, so boundaries differ. */
static const uint32_t sizes[] = { 1, 7, 8, 64, 255, 256, 1, 513, 2, 2048, 16, 3 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void fill(uint8_t *s, uint64_t lba, uint64_t seed)
{
    for (int i = 0; i < 8; i++) {
        s[i] = (uint8_t)(lba >> (8 * i));
        s[8 + i] = (uint8_t)(seed >> (8 * i));
    }
    for (unsigned j = 16; j < BLOCKDEV_SECTOR; j++)
        s[j] = (uint8_t)(lba * 7 + j);
}

struct req {
    struct blk_io io;
    bool done;
};

static void req_done(struct blk_io *io) { ((struct req *)io->ctx)->done = true; }

static struct req reqs[MAX_REQS];

/* Queue requests over [first, first + total) cut by sizes[] from index
 * rot on; buffer offsets: region offset, plus 512 bytes for every third
 * request (the buffer then starts mid-page). Run them, wait. Returns the
 * number of requests, or -1 with why. */
static int pass(struct blockdev *bd, enum blk_op op, uint64_t first, uint8_t *buf, unsigned rot, char *why,
                size_t n)
{
    int nreq = 0;
    uint32_t at = 0;
    while (at < REGION_SECTORS) {
        uint32_t c = sizes[(rot + (unsigned)nreq) % NSIZES];
        if (c > REGION_SECTORS - at)
            c = REGION_SECTORS - at;
        if (nreq == MAX_REQS) {
            fmt_snprintf(why, n, "internal: too many requests");
            return -1;
        }
        struct req *r = &reqs[nreq++];
        *r = (struct req){ .io = { .op = op, .lba = first + at, .count = c, .buf = buf + (uint64_t)at * 512,
                                   .done = req_done } };
        r->io.ctx = r;
        at += c;
    }
    for (int i = 0; i < nreq; i++)
        blockdev_submit(bd, &reqs[i].io);
    if (blockdev_wait_idle(bd, 60000)) {
        fmt_snprintf(why, n, "%s requests did not finish within 60 s", op == BLK_READ ? "read" : "write");
        return -1;
    }
    for (int i = 0; i < nreq; i++)
        if (!reqs[i].done || reqs[i].io.status != BLK_OK) {
            fmt_snprintf(why, n, "%s of %u sectors at LBA %llu: %s", op == BLK_READ ? "read" : "write",
                         reqs[i].io.count, (unsigned long long)reqs[i].io.lba,
                         !reqs[i].done ? "never completed" : "the driver reported an error");
            return -1;
        }
    return nreq;
}

static void dt_init(void)
{
    const struct config *cfg = kernel_config();
    const struct cfg_serial *want = &cfg->debug.disk_test;
    if (!want->serial[0])
        return;
    struct blockdev *bd = blockdev_find(want->serial);
    if (!bd) {
        char err[CFG_ERR_MAX + 64];
        fmt_snprintf(err, sizeof(err), "%s:%d: disk_test: no drive has the serial number '%s' (%d drive%s found)",
                     cfg->file, want->line, want->serial, blockdev_count(), blockdev_count() == 1 ? "" : "s");
        kernel_config_fail(err);
    }
    char why[160] = "";
    const char *name = bd->name;
    uint64_t pages = (2ull * REGION_SECTORS * 512 + 4096) / 4096 + 1;
    uint64_t pa = bd->sectors >= 4 * REGION_SECTORS ? pmm_try_alloc(pages, 1) : PMM_NONE;
    if (pa == PMM_NONE) {
        log_error("disk", "disk test: %s (serial %s, %s) FAILED: %s", name, bd->serial, bd->model,
                  bd->sectors < 4 * REGION_SECTORS ? "the drive is smaller than 8 MiB" : "no memory for buffers");
        return;
    }
    uint8_t *wbuf = phys_to_virt(pa);
    /* The read buffer starts 512 bytes into a page: a driver must handle
     * buffers that are sector- but not page-aligned. */
    uint8_t *rbuf = wbuf + REGION_SECTORS * 512ull + 512;
    uint64_t first = bd->sectors - REGION_SECTORS;
    uint64_t seed;
    random_bytes(&seed, sizeof(seed));
    uint64_t t0 = clock_ns();
    int nreq = 0, r;

    /* 1. What the host put in sectors 64-127. */
    if (blockdev_read_sync(bd, SEED_LBA, SEED_SECTORS, rbuf)) {
        fmt_snprintf(why, sizeof(why), "reading sectors %u-%u failed", SEED_LBA, SEED_LBA + SEED_SECTORS - 1);
        goto out;
    }
    nreq++;
    uint8_t h[SHA256_DIGEST_SIZE];
    sha256(rbuf, SEED_SECTORS * 512, h);
    char hex[2 * SHA256_DIGEST_SIZE + 1];
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        fmt_snprintf(hex + 2 * i, 3, "%02x", h[i]);
    log_info("disk", "disk test: %s: sectors %u-%u have SHA-256 %s", name, SEED_LBA, SEED_LBA + SEED_SECTORS - 1,
             hex);

    /* 2. Write the pattern, all requests queued at once; flush. */
    for (uint32_t i = 0; i < REGION_SECTORS; i++)
        fill(wbuf + i * 512ull, first + i, seed);
    if ((r = pass(bd, BLK_WRITE, first, wbuf, 0, why, sizeof(why))) < 0)
        goto out;
    nreq += r;
    {
        struct req fr = { .io = { .op = BLK_FLUSH, .done = req_done } };
        fr.io.ctx = &fr;
        blockdev_submit(bd, &fr.io);
        if (blockdev_wait_idle(bd, 30000) || !fr.done || fr.io.status != BLK_OK) {
            fmt_snprintf(why, sizeof(why), "flush %s", fr.done ? "reported an error" : "did not finish in 30 s");
            goto out;
        }
        nreq++;
    }

    /* 3. Read back with other boundaries, into the misaligned buffer. */
    memset(rbuf, 0xa5, REGION_SECTORS * 512ull);
    if ((r = pass(bd, BLK_READ, first, rbuf, 5, why, sizeof(why))) < 0)
        goto out;
    nreq += r;
    for (uint32_t i = 0; i < REGION_SECTORS; i++)
        if (memcmp(rbuf + i * 512ull, wbuf + i * 512ull, 512) != 0) {
            fmt_snprintf(why, sizeof(why), "sector %llu read back differs from what was written",
                         (unsigned long long)(first + i));
            goto out;
        }

    /* 4. A request past the end is refused, not sent to the drive. */
    {
        struct req past = { .io = { .op = BLK_READ, .lba = bd->sectors - 1, .count = 2, .buf = rbuf,
                                    .done = req_done } };
        past.io.ctx = &past;
        blockdev_submit(bd, &past.io);
        if (!past.done || past.io.status != BLK_E_RANGE) {
            fmt_snprintf(why, sizeof(why), "a read past the end was not refused");
            goto out;
        }
    }

out:;
    uint64_t ms = (clock_ns() - t0) / 1000000;
    if (why[0])
        log_error("disk", "disk test: %s (serial %s, %s) FAILED: %s", name, bd->serial, bd->model, why);
    else
        log_info("disk", "disk test: %s (serial %s, %s): passed: %d requests, %u KiB written at LBA %llu and read "
                         "back, seed %016llx, %llu ms",
                 name, bd->serial, bd->model, nreq, REGION_SECTORS / 2, (unsigned long long)first,
                 (unsigned long long)seed, (unsigned long long)ms);
    pmm_free(pa, pages);
}

/* After the drivers (10), before the network and the guest. */
SERVICE(11, disk_test, dt_init, NULL);
