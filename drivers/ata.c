/* Parallel ATA disks behind a PCI IDE controller (the PIIX3/PIIX4 function
 * of Bochs, QEMU's pc machine and older servers), in PIO mode, polled from
 * the main loop: a request advances as far as the drive is ready on each
 * pass and never makes the hypervisor wait for the disk.
 *
 * References: ATA/ATAPI-6 (T13/1410D) sections 6 (registers), 8.15
 * IDENTIFY DEVICE, 8.34 READ SECTORS (EXT), 8.62 WRITE SECTORS (EXT), 8.10
 * FLUSH CACHE (EXT), 9.2 (the PIO data-in/out protocols); the PCI IDE
 * Controller Specification 1.0, section 2 (legacy and native port
 * assignments by programming interface). */
#include "blockdev.h"
#include "pci.h"
#include "../kernel/clock.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include "../kernel/log.h"
#include "../kernel/strutil.h"
#include <string.h>

/* Command block registers (offsets from the channel's I/O base). */
#define R_DATA 0
#define R_ERROR 1
#define R_COUNT 2
#define R_LBA0 3
#define R_LBA1 4
#define R_LBA2 5
#define R_DEVICE 6
#define R_STATUS 7 /* read: clears the drive's pending interrupt */
#define R_COMMAND 7
/* Control block: alternate status (read), device control (write). */

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF 0x20
#define ST_BSY 0x80
#define DC_NIEN 0x02 /* no interrupts: this driver polls */
#define DC_SRST 0x04

#define CMD_READ 0x20
#define CMD_READ_EXT 0x24
#define CMD_WRITE 0x30
#define CMD_WRITE_EXT 0x34
#define CMD_FLUSH 0xe7
#define CMD_FLUSH_EXT 0xea
#define CMD_IDENTIFY 0xec

#define ATA_MAX 4
#define CMD_TIMEOUT_NS 10000000000ull /* a drive that makes no progress for 10 s has failed */
#define SECTORS_PER_PASS 64 /* 32 KiB of PIO per main-loop pass at most: the guest runs in between */

struct ata_channel {
    uint16_t io, ctl;
    struct ata_dev *owner; /* the drive whose command runs */
};

struct ata_dev {
    struct blockdev bd;
    struct ata_channel *ch;
    uint8_t slave;
    bool lba48;
    enum { A_IDLE, A_DATA, A_WAIT_END } st;
    uint32_t cmd_secs, cmd_done; /* sectors of the running command, moved so far */
    uint32_t io_done;            /* sectors of the head request finished by earlier commands */
    uint64_t last_progress;
};

static struct ata_channel channels[4];
static int nchannels;
static struct ata_dev devs[ATA_MAX];
static int ndevs;

static uint8_t alt_status(const struct ata_channel *c) { return inb(c->ctl); }

/* 400 ns after selecting a drive or issuing a command before its status
 * means anything (ATA/ATAPI-6, 9.7): four alternate-status reads. */
static void settle(const struct ata_channel *c)
{
    for (int i = 0; i < 4; i++)
        (void)alt_status(c);
}

/* Boot-time only: wait for !BSY (and mask) for at most ms. */
static int wait_ready(const struct ata_channel *c, uint8_t mask, uint8_t want, uint32_t ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000;
    for (;;) {
        uint8_t s = alt_status(c);
        if (s == 0xff)
            return -1; /* floating bus: nothing there */
        if (!(s & ST_BSY) && (s & mask) == want)
            return s;
        if (!(s & ST_BSY) && (s & (ST_ERR | ST_DF)))
            return s;
        if (clock_ns() > end)
            return -1;
        pause();
    }
}

static void select_drive(struct ata_dev *d, uint8_t extra)
{
    outb(d->ch->io + R_DEVICE, (uint8_t)(0xa0 | 0x40 | d->slave << 4 | extra));
    settle(d->ch);
}

static void issue(struct ata_dev *d)
{
    struct ata_channel *c = d->ch;
    struct blk_io *io = d->bd.head;
    uint16_t b = c->io;
    if (io->op == BLK_FLUSH) {
        select_drive(d, 0);
        outb(b + R_COMMAND, d->lba48 ? CMD_FLUSH_EXT : CMD_FLUSH);
        d->cmd_secs = 0;
        d->st = A_WAIT_END;
    } else {
        uint32_t left = io->count - d->io_done;
        uint32_t n = left < d->bd.max_count ? left : d->bd.max_count;
        uint64_t lba = io->lba + d->io_done;
        if (d->lba48) {
            select_drive(d, 0);
            /* LBA48: high-order bytes first into the two-deep registers. */
            outb(b + R_COUNT, (uint8_t)(n >> 8));
            outb(b + R_LBA0, (uint8_t)(lba >> 24));
            outb(b + R_LBA1, (uint8_t)(lba >> 32));
            outb(b + R_LBA2, (uint8_t)(lba >> 40));
            outb(b + R_COUNT, (uint8_t)n);
            outb(b + R_LBA0, (uint8_t)lba);
            outb(b + R_LBA1, (uint8_t)(lba >> 8));
            outb(b + R_LBA2, (uint8_t)(lba >> 16));
            outb(b + R_COMMAND, io->op == BLK_READ ? CMD_READ_EXT : CMD_WRITE_EXT);
        } else {
            select_drive(d, (uint8_t)((lba >> 24) & 0x0f));
            outb(b + R_COUNT, (uint8_t)n); /* 256 is written as 0 */
            outb(b + R_LBA0, (uint8_t)lba);
            outb(b + R_LBA1, (uint8_t)(lba >> 8));
            outb(b + R_LBA2, (uint8_t)(lba >> 16));
            outb(b + R_COMMAND, io->op == BLK_READ ? CMD_READ : CMD_WRITE);
        }
        d->cmd_secs = n;
        d->cmd_done = 0;
        d->st = A_DATA;
    }
    settle(c);
    c->owner = d;
    d->last_progress = clock_ns();
}

static void end_command(struct ata_dev *d, int status)
{
    struct blk_io *io = d->bd.head;
    struct ata_channel *c = d->ch;
    (void)inb(c->io + R_STATUS); /* acknowledge the drive's interrupt line */
    c->owner = NULL;
    d->st = A_IDLE;
    if (status == BLK_OK && io->op != BLK_FLUSH) {
        d->io_done += d->cmd_secs;
        if (io->op == BLK_READ)
            d->bd.sectors_read += d->cmd_secs;
        else
            d->bd.sectors_written += d->cmd_secs;
        if (d->io_done < io->count)
            return; /* the next command of this request, on the next poll */
    }
    if (status != BLK_OK) {
        uint8_t e = inb(c->io + R_ERROR);
        log_warn("ata", "%s: %s of %u sectors at %llu failed (error register 0x%02x)", d->bd.name,
                 io->op == BLK_READ ? "read" : io->op == BLK_WRITE ? "write" : "flush", io->count,
                 (unsigned long long)io->lba, e);
    }
    d->io_done = 0;
    blockdev_finish(&d->bd, status);
}

/* A drive that stopped answering: reset the channel (both drives). */
static void reset_channel(struct ata_channel *c)
{
    outb(c->ctl, DC_NIEN | DC_SRST);
    clock_delay_us(10);
    outb(c->ctl, DC_NIEN);
    clock_delay_us(2000);
}

static void ata_poll(struct blockdev *bd)
{
    struct ata_dev *d = bd->priv;
    struct ata_channel *c = d->ch;
    if (!bd->head)
        return;
    if (d->st == A_IDLE) {
        if (c->owner && c->owner != d)
            return; /* the other drive of the channel has a command running */
        uint8_t s = alt_status(c);
        if (s & (ST_BSY | ST_DRQ))
            return; /* not ready for a command yet */
        issue(d);
        return; /* the drive answers on a later pass */
    }
    struct blk_io *io = bd->head;
    for (uint32_t moved = 0; moved < SECTORS_PER_PASS;) {
        uint8_t s = alt_status(c);
        if (s & ST_BSY)
            break;
        if (s & (ST_ERR | ST_DF)) {
            end_command(d, BLK_E_IO);
            return;
        }
        if (d->st == A_WAIT_END || (d->st == A_DATA && d->cmd_done == d->cmd_secs)) {
            end_command(d, BLK_OK);
            return;
        }
        if (!(s & ST_DRQ))
            break;
        uint16_t *p = (uint16_t *)(io->buf + (uint64_t)(d->io_done + d->cmd_done) * BLOCKDEV_SECTOR);
        uint64_t words = BLOCKDEV_SECTOR / 2;
        if (io->op == BLK_READ)
            __asm__ volatile("rep insw" : "+D"(p), "+c"(words) : "d"(c->io + R_DATA) : "memory");
        else
            __asm__ volatile("rep outsw" : "+S"(p), "+c"(words) : "d"(c->io + R_DATA) : "memory");
        d->cmd_done++;
        moved++;
        d->last_progress = clock_ns();
        settle(c);
    }
    if (clock_ns() - d->last_progress > CMD_TIMEOUT_NS) {
        log_error("ata", "%s: no progress for 10 s: resetting the channel", bd->name);
        reset_channel(c);
        end_command(d, BLK_E_IO);
    }
}

static void identify(struct ata_channel *c, uint8_t slave)
{
    if (ndevs == ATA_MAX)
        return;
    struct ata_dev *d = &devs[ndevs];
    memset(d, 0, sizeof(*d));
    d->ch = c;
    d->slave = slave;
    outb(c->io + R_DEVICE, (uint8_t)(0xa0 | slave << 4));
    settle(c);
    outb(c->ctl, DC_NIEN);
    if (alt_status(c) == 0xff || alt_status(c) == 0)
        return; /* no drive: a floating bus, or a channel with nothing selected */
    if (wait_ready(c, 0, 0, 200) < 0)
        return;
    outb(c->io + R_COUNT, 0);
    outb(c->io + R_LBA0, 0);
    outb(c->io + R_LBA1, 0);
    outb(c->io + R_LBA2, 0);
    outb(c->io + R_COMMAND, CMD_IDENTIFY);
    settle(c);
    if (alt_status(c) == 0)
        return;
    int s = wait_ready(c, ST_DRQ, ST_DRQ, 1000);
    if (s < 0 || (s & (ST_ERR | ST_DF)) || inb(c->io + R_LBA1) || inb(c->io + R_LBA2)) {
        (void)inb(c->io + R_STATUS);
        return; /* an ATAPI device (CD-ROM) or nothing that answers */
    }
    uint16_t w[256];
    for (int i = 0; i < 256; i++)
        w[i] = inw(c->io + R_DATA);
    (void)inb(c->io + R_STATUS);
    if (!(w[49] & (1u << 9)))
        return; /* no LBA: a drive from before 1994 */
    d->lba48 = (w[83] & (1u << 10)) != 0;
    uint64_t sectors = d->lba48 ? (uint64_t)w[100] | (uint64_t)w[101] << 16 | (uint64_t)w[102] << 32 |
                                      (uint64_t)w[103] << 48
                                : (uint64_t)w[60] | (uint64_t)w[61] << 16;
    if (!sectors)
        return;
    struct blockdev *bd = &d->bd;
    fmt_snprintf(bd->name, sizeof(bd->name), "ata%d-%s", (int)(c - channels), slave ? "slave" : "master");
    bd->model = d->lba48 ? "ATA PIO, LBA48" : "ATA PIO, LBA28";
    blockdev_ata_string(w, 10, 10, bd->serial);
    blockdev_ata_string(w, 27, 20, bd->product);
    bd->sectors = d->lba48 ? sectors : (sectors > 0x0fffffff ? 0x0fffffff : sectors);
    bd->max_count = 256;
    bd->poll = ata_poll;
    bd->priv = d;
    ndevs++;
    blockdev_register(bd);
}

static void add_channel(uint16_t io, uint16_t ctl)
{
    if (nchannels == 4 || !io || !ctl)
        return;
    struct ata_channel *c = &channels[nchannels++];
    c->io = io;
    c->ctl = ctl;
    identify(c, 0);
    identify(c, 1);
}

int ata_probe(void)
{
    int before = ndevs;
    for (int i = 0; i < pci_count(); i++) {
        struct pci_dev *p = pci_get(i);
        if (p->claimed || p->class_code != 0x01 || p->subclass != 0x01)
            continue;
        p->claimed = true;
        pci_enable(p, false, true, false);
        /* Programming interface bit 0 (primary) / bit 2 (secondary): the
         * channel is in native mode with its ports in BARs 0-1 / 2-3,
         * else at the legacy addresses (PCI IDE Controller Spec, 2.1). */
        if (p->prog_if & 0x01)
            add_channel((uint16_t)p->bar[0].base, (uint16_t)(p->bar[1].base + 2));
        else
            add_channel(0x1f0, 0x3f6);
        if (p->prog_if & 0x04)
            add_channel((uint16_t)p->bar[2].base, (uint16_t)(p->bar[3].base + 2));
        else
            add_channel(0x170, 0x376);
    }
    return ndevs - before;
}
