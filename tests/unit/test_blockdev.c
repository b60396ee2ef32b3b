/* drivers/blockdev.c: the request queue, and the rule by which a driver
 * with several commands in flight may start requests (blockdev_next): an
 * overlap with a write, or a flush, orders requests; reads run together. */
#include "test.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include "../../drivers/blockdev.h"
#include "../../kernel/log.h"

uint64_t clock_ns(void) { return 0; }
void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...) { (void)lvl, (void)subsys, (void)fmt; }

static int polls;
static void poll_none(struct blockdev *bd) { (void)bd; polls++; }
static struct blockdev dev;
static struct blk_io ios[8];
static int done_order[8], ndone;
static void on_done(struct blk_io *io) { done_order[ndone++] = (int)(io - ios); }

static void reset(void)
{
    memset(&dev, 0, sizeof(dev));
    dev.sectors = 1000;
    dev.max_count = 64;
    dev.poll = poll_none;
    memset(ios, 0, sizeof(ios));
    ndone = 0;
    polls = 0;
}

static struct blk_io *q(int i, enum blk_op op, uint64_t lba, uint32_t count)
{
    ios[i] = (struct blk_io){ .op = op, .lba = lba, .count = count, .done = on_done };
    blockdev_submit(&dev, &ios[i]);
    return &ios[i];
}

TEST(out_of_range_completes_at_once)
{
    reset();
    q(0, BLK_READ, 999, 2);
    q(1, BLK_WRITE, 1000, 1);
    q(2, BLK_READ, 0, 0);
    CHECK_EQ(ndone, 3);
    CHECK_EQ(ios[0].status, BLK_E_RANGE);
    CHECK_EQ(ios[1].status, BLK_E_RANGE);
    CHECK_EQ(ios[2].status, BLK_E_RANGE);
    CHECK(dev.head == NULL);
    CHECK_EQ(dev.errors, 3);
    q(3, BLK_READ, 999, 1);
    CHECK_EQ(ndone, 3);
    CHECK(dev.head == &ios[3]);
}

TEST(reads_start_together)
{
    reset();
    q(0, BLK_READ, 0, 8);
    q(1, BLK_READ, 4, 8);
    q(2, BLK_READ, 100, 8);
    CHECK(blockdev_next(&dev) == &ios[0]);
    CHECK(blockdev_next(&dev) == &ios[1]);
    CHECK(blockdev_next(&dev) == &ios[2]);
    CHECK(blockdev_next(&dev) == NULL);
}

TEST(overlapping_write_waits_disjoint_passes)
{
    reset();
    q(0, BLK_WRITE, 10, 10); /* 10..19 */
    q(1, BLK_READ, 19, 1);   /* overlaps its last sector: waits */
    q(2, BLK_WRITE, 20, 5);  /* adjacent, disjoint: may start */
    q(3, BLK_WRITE, 0, 10);  /* 0..9: disjoint */
    q(4, BLK_READ, 5, 1);    /* overlaps 3, which is not done: waits */
    CHECK(blockdev_next(&dev) == &ios[0]);
    CHECK(blockdev_next(&dev) == &ios[2]);
    CHECK(blockdev_next(&dev) == &ios[3]);
    CHECK(blockdev_next(&dev) == NULL);
    blockdev_complete(&dev, &ios[0], BLK_OK);
    CHECK(blockdev_next(&dev) == &ios[1]);
    CHECK(blockdev_next(&dev) == NULL);
    blockdev_complete(&dev, &ios[3], BLK_OK);
    CHECK(blockdev_next(&dev) == &ios[4]);
    CHECK_EQ(ndone, 2);
    CHECK_EQ(done_order[0], 0);
    CHECK_EQ(done_order[1], 3);
}

TEST(a_request_behind_an_unstarted_conflict_waits)
{
    reset();
    q(0, BLK_WRITE, 0, 4);
    q(1, BLK_WRITE, 2, 4); /* waits for 0 */
    q(2, BLK_READ, 5, 1);  /* overlaps 1 (not started): must not overtake it */
    CHECK(blockdev_next(&dev) == &ios[0]);
    CHECK(blockdev_next(&dev) == NULL);
    blockdev_complete(&dev, &ios[0], BLK_OK);
    CHECK(blockdev_next(&dev) == &ios[1]);
    CHECK(blockdev_next(&dev) == NULL);
}

TEST(flush_is_a_barrier_both_ways)
{
    reset();
    q(0, BLK_WRITE, 0, 4);
    q(1, BLK_FLUSH, 0, 0);
    q(2, BLK_READ, 500, 1);
    CHECK(blockdev_next(&dev) == &ios[0]);
    CHECK(blockdev_next(&dev) == NULL);
    blockdev_complete(&dev, &ios[0], BLK_OK);
    CHECK(blockdev_next(&dev) == &ios[1]);
    CHECK(blockdev_next(&dev) == NULL);
    blockdev_complete(&dev, &ios[1], BLK_OK);
    CHECK(blockdev_next(&dev) == &ios[2]);
    CHECK_EQ(dev.flushes, 1);
    CHECK_EQ(dev.writes, 1);
}

TEST(complete_out_of_order_keeps_the_queue)
{
    reset();
    q(0, BLK_READ, 0, 1);
    q(1, BLK_READ, 1, 1);
    q(2, BLK_READ, 2, 1);
    blockdev_next(&dev), blockdev_next(&dev), blockdev_next(&dev);
    blockdev_complete(&dev, &ios[2], BLK_OK); /* the tail */
    CHECK(dev.tail == &ios[1]);
    blockdev_complete(&dev, &ios[0], BLK_E_IO); /* the head */
    CHECK(dev.head == &ios[1] && dev.tail == &ios[1]);
    blockdev_complete(&dev, &ios[0], BLK_OK); /* not queued any more: ignored */
    CHECK_EQ(ndone, 2);
    q(3, BLK_READ, 3, 1);
    CHECK(dev.head == &ios[1] && ios[1].next == &ios[3] && dev.tail == &ios[3]);
    blockdev_finish(&dev, BLK_OK); /* the head: 1 */
    CHECK(dev.head == &ios[3]);
    CHECK_EQ(dev.errors, 1);
    CHECK_EQ(dev.reads, 2);
    CHECK_EQ(done_order[2], 1);
}

int main(void) { return test_main(); }
