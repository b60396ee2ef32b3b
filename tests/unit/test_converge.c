/* ft/converge.c: when pre-copy stops its rounds, and auto-converge. */
#include "test.h"
#include "../../ft/converge.h"
#include <stdint.h>

#define MS 1000000ull
#define MiB (1024ull * 1024)

static struct converge c;
static char why[200];

static void start(void)
{
    struct converge_cfg cfg;
    converge_default_cfg(&cfg);
    converge_init(&c, &cfg);
}

TEST(idle_guest_stops_after_the_bulk_round)
{
    start();
    /* 64 MiB in 10 s (6.7 MB/s); 40 KiB dirtied meanwhile: ~6 ms. */
    CHECK(converge_round_done(&c, 64 * MiB, 10000 * MS, 40 * 1024, why, sizeof(why)) == CONVERGE_STOP_COPY);
    CHECK(strstr(why, "within the 100 ms target") != NULL);
    CHECK(c.rounds == 1 && c.throttle == 0);
    CHECK(converge_downtime_ns(&c, 40 * 1024) < 10 * MS);
}

TEST(shrinking_rounds_stop_when_the_rest_fits)
{
    start();
    /* 1 MB/s; each round leaves a quarter of what it sent. */
    CHECK(converge_round_done(&c, 16 * MiB, 16777 * MS, 4 * MiB, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(converge_round_done(&c, 4 * MiB, 4194 * MS, 1 * MiB, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(converge_round_done(&c, 1 * MiB, 1048 * MS, 64 * 1024, why, sizeof(why)) == CONVERGE_STOP_COPY);
    CHECK(c.rounds == 3);
    CHECK(c.throttle == 0); /* never outran the link */
}

TEST(fast_dirtier_is_throttled_20_then_10_more)
{
    start();
    /* 1 MB/s link; the guest dirties as much as each round sends. */
    uint64_t sent = 8 * MiB;
    CHECK(converge_round_done(&c, sent, 8000 * MS, sent, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.throttle == 0); /* one round is not yet a trend */
    CHECK(converge_round_done(&c, sent, 8000 * MS, sent, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.throttle == 20);
    CHECK(strstr(why, "vCPU throttle 20%") != NULL);
    CHECK(converge_round_done(&c, sent, 8000 * MS, sent, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.throttle == 30);
    /* A round that dirtied less than half of what it sent keeps the
     * throttle but restarts the count. */
    CHECK(converge_round_done(&c, sent, 8000 * MS, sent / 4, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.throttle == 30 && c.outran == 0);
    CHECK(converge_round_done(&c, sent, 8000 * MS, sent, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.throttle == 30);
    CHECK(converge_round_done(&c, sent, 8000 * MS, sent, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.throttle == 40);
}

TEST(throttle_stops_at_its_maximum_and_the_cap_ends_the_rounds)
{
    start();
    unsigned rounds = 0;
    enum converge_next r;
    do {
        r = converge_round_done(&c, MiB, 1000 * MS, 2 * MiB, why, sizeof(why));
        rounds++;
        CHECK(c.throttle <= 99);
    } while (r == CONVERGE_ROUND && rounds < 100);
    CHECK(rounds == 30);
    CHECK(c.throttle == 99);
    CHECK(strstr(why, "round 30 is the cap") != NULL);
}

TEST(degenerate_measurements)
{
    start();
    /* Nothing sent, no time: no rate known, no division by zero. */
    CHECK(converge_round_done(&c, 0, 0, 4096, why, sizeof(why)) == CONVERGE_ROUND);
    CHECK(c.link_Bps == 0);
    CHECK(converge_downtime_ns(&c, 4096) == UINT64_MAX);
    CHECK(converge_downtime_ns(&c, 0) == 0);
    /* Nothing dirty: stop at once, whatever the rate. */
    CHECK(converge_round_done(&c, 0, 0, 0, why, sizeof(why)) == CONVERGE_STOP_COPY);
    /* Huge figures do not overflow. */
    struct converge_cfg cfg;
    converge_default_cfg(&cfg);
    cfg.downtime_ns = 300 * MS;
    converge_init(&c, &cfg);
    CHECK(converge_round_done(&c, UINT64_MAX / 2, 1, UINT64_MAX / 4, why, sizeof(why)) == CONVERGE_STOP_COPY); /* ~250 ms */
    /* A cap of 0 rounds means one. */
    converge_default_cfg(&cfg);
    cfg.max_rounds = 0;
    cfg.throttle_max = 150;
    converge_init(&c, &cfg);
    CHECK(c.cfg.max_rounds == 1 && c.cfg.throttle_max == 99);
    CHECK(converge_round_done(&c, MiB, 1000 * MS, 64 * MiB, why, sizeof(why)) == CONVERGE_STOP_COPY);
}

TEST(link_rate_moves_halfway)
{
    start();
    converge_round_done(&c, 10000000, 1000 * MS, 9000000, why, sizeof(why)); /* 10 MB/s */
    CHECK(c.link_Bps == 10000000);
    converge_round_done(&c, 2000000, 1000 * MS, 1900000, why, sizeof(why)); /* 2 MB/s */
    CHECK(c.link_Bps == 6000000);
    CHECK(c.dirty_Bps == 1900000);
    CHECK(c.sent_total == 12000000);
}

int main(void) { return test_main(); }
