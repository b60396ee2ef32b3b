/* vmm/dev/rtc.c: the MC146818A model, used the way Linux's mc146818
 * library and rtc-cmos driver use it. */
#include "test.h"
#include "../../vmm/dev/rtc.h"

#define SEC 1000000000ull
#define MS  1000000ull

struct rec {
    int level, sets, raises;
    unsigned irq;
};

static void rec_irq(void *ctx, unsigned irq, int level)
{
    struct rec *r = ctx;
    r->sets++;
    if (level)
        r->raises++;
    r->level = level;
    r->irq = irq;
}

static void setup(struct vrtc *c, struct rec *r, uint64_t epoch)
{
    memset(r, 0, sizeof(*r));
    struct irq_out o = { rec_irq, r, 8 };
    vrtc_init(c, &o, epoch);
}

static uint8_t rd(struct vrtc *c, uint8_t idx, vtime_t now)
{
    vrtc_write(c, 0x70, idx, now);
    return vrtc_read(c, 0x71, now);
}

static void wr(struct vrtc *c, uint8_t idx, uint8_t v, vtime_t now)
{
    vrtc_write(c, 0x70, idx, now);
    vrtc_write(c, 0x71, v, now);
}

struct tm7 {
    unsigned sec, min, hour, dow, mday, mon, year;
};

/* The time registers (binary or BCD per register B, 24-hour). */
static struct tm7 read_time(struct vrtc *c, vtime_t now)
{
    bool bin = rd(c, 0x0b, now) & 0x04;
#define GET(i) (bin ? rd(c, i, now) : (unsigned)(rd(c, i, now) >> 4) * 10 + (rd(c, i, now) & 15))
    struct tm7 t = { GET(0), GET(2), GET(4), GET(6), GET(7), GET(8), GET(0x32) * 100 + GET(9) };
#undef GET
    return t;
}

static bool tm_is(struct tm7 t, unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                  unsigned dow)
{
    return t.year == y && t.mon == mo && t.mday == d && t.hour == h && t.min == mi && t.sec == s &&
           t.dow == dow;
}

/* Independent, slow reference calendar: walk years and months. */
static void naive_date(uint64_t secs, struct tm7 *t)
{
    static const unsigned md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    uint64_t days = secs / 86400, sod = secs % 86400;
    unsigned y = 1970, m = 0;
    t->dow = (unsigned)((days + 4) % 7) + 1;
    for (;;) {
        unsigned yl = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
        if (days < yl)
            break;
        days -= yl;
        y++;
    }
    for (;;) {
        unsigned l = md[m] + (m == 1 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
        if (days < l)
            break;
        days -= l;
        m++;
    }
    t->year = y;
    t->mon = m + 1;
    t->mday = (unsigned)days + 1;
    t->hour = (unsigned)(sod / 3600);
    t->min = (unsigned)(sod / 60 % 60);
    t->sec = (unsigned)(sod % 60);
}

TEST(bcd_time_y2k_saturday)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    CHECK_EQ(rd(&c, 0x00, 0), 0x00);
    CHECK_EQ(rd(&c, 0x02, 0), 0x00);
    CHECK_EQ(rd(&c, 0x04, 0), 0x00);
    CHECK_EQ(rd(&c, 0x06, 0), 0x07); /* Saturday */
    CHECK_EQ(rd(&c, 0x07, 0), 0x01);
    CHECK_EQ(rd(&c, 0x08, 0), 0x01);
    CHECK_EQ(rd(&c, 0x09, 0), 0x00);
    CHECK_EQ(rd(&c, 0x32, 0), 0x20);
    CHECK_EQ(rd(&c, 0x0a, 0), 0x26);
    CHECK_EQ(rd(&c, 0x0b, 0), 0x02);
    CHECK_EQ(rd(&c, 0x0c, 0), 0x00);
    CHECK_EQ(rd(&c, 0x0d, 0), 0x80);
    /* 12:34:56 later, in BCD */
    vtime_t t = (12 * 3600 + 34 * 60 + 56) * SEC + 5;
    CHECK_EQ(rd(&c, 0x04, t), 0x12);
    CHECK_EQ(rd(&c, 0x02, t), 0x34);
    CHECK_EQ(rd(&c, 0x00, t), 0x56);
    CHECK_EQ(r.sets, 0);
}

TEST(binary_mode)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 2147483647); /* 2038-01-19 03:14:07 Tuesday */
    wr(&c, 0x0b, 0x06, 0);
    CHECK_EQ(rd(&c, 0x00, 0), 7);
    CHECK_EQ(rd(&c, 0x02, 0), 14);
    CHECK_EQ(rd(&c, 0x04, 0), 3);
    CHECK_EQ(rd(&c, 0x06, 0), 3);
    CHECK_EQ(rd(&c, 0x07, 0), 19);
    CHECK_EQ(rd(&c, 0x08, 0), 1);
    CHECK_EQ(rd(&c, 0x09, 0), 38);
    CHECK_EQ(rd(&c, 0x32, 0), 20);
    CHECK(tm_is(read_time(&c, SEC), 2038, 1, 19, 3, 14, 8, 3));
}

TEST(leap_day_rolls_over)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 1709251199); /* 2024-02-29 23:59:59 Thursday */
    CHECK(tm_is(read_time(&c, 0), 2024, 2, 29, 23, 59, 59, 5));
    CHECK(tm_is(read_time(&c, SEC - 1), 2024, 2, 29, 23, 59, 59, 5));
    CHECK(tm_is(read_time(&c, SEC), 2024, 3, 1, 0, 0, 0, 6));
    CHECK_EQ(rd(&c, 0x08, SEC), 0x03);
}

TEST(century_rollover_and_2100_not_leap)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 4102444799); /* 2099-12-31 23:59:59 Thursday */
    CHECK(tm_is(read_time(&c, 0), 2099, 12, 31, 23, 59, 59, 5));
    CHECK(tm_is(read_time(&c, SEC), 2100, 1, 1, 0, 0, 0, 6));
    CHECK_EQ(rd(&c, 0x32, SEC), 0x21);
    setup(&c, &r, 4107542399); /* 2100-02-28 23:59:59 Sunday */
    CHECK(tm_is(read_time(&c, SEC), 2100, 3, 1, 0, 0, 0, 2));
}

TEST(calendar_matches_reference)
{
    uint64_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        struct vrtc c;
        struct rec r;
        struct tm7 want;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t secs = (x >> 20) % 8000000000ull; /* 1970 .. 2223 */
        setup(&c, &r, secs);
        naive_date(secs, &want);
        struct tm7 got = read_time(&c, 0);
        CHECK(memcmp(&got, &want, sizeof(got)) == 0);
        if (test_failed_now) {
            printf("# secs %llu\n", (unsigned long long)secs);
            break;
        }
    }
}

TEST(twelve_hour_mode)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    wr(&c, 0x0b, 0x00, 0); /* 12-hour, BCD */
    CHECK_EQ(rd(&c, 0x04, 0), 0x12);                  /* 12 AM */
    CHECK_EQ(rd(&c, 0x04, 1 * 3600 * SEC), 0x01);     /* 1 AM */
    CHECK_EQ(rd(&c, 0x04, 12 * 3600 * SEC), 0x92);    /* 12 PM */
    CHECK_EQ(rd(&c, 0x04, 13 * 3600 * SEC), 0x81);    /* 1 PM */
    CHECK_EQ(rd(&c, 0x04, 23 * 3600 * SEC), 0x91);    /* 11 PM */
    wr(&c, 0x0b, 0x04, 23 * 3600 * SEC);              /* 12-hour, binary */
    CHECK_EQ(rd(&c, 0x04, 23 * 3600 * SEC), 0x8b);
    /* set 3 PM in 12-hour binary, read back in 24-hour */
    wr(&c, 0x0b, 0x84, 23 * 3600 * SEC);
    wr(&c, 0x04, 0x83, 23 * 3600 * SEC);
    wr(&c, 0x0b, 0x06, 23 * 3600 * SEC);
    CHECK_EQ(rd(&c, 0x04, 23 * 3600 * SEC), 15);
}

/* mc146818_set_time(): SET, divider reset, write, restore B, restore A. */
TEST(linux_set_time)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    vtime_t t = 7 * SEC + 300 * MS;
    uint8_t b = rd(&c, 0x0b, t), a = rd(&c, 0x0a, t);
    wr(&c, 0x0b, b | 0x80, t);
    wr(&c, 0x0a, a | 0x70, t);
    wr(&c, 0x09, 0x24, t);
    wr(&c, 0x08, 0x07, t);
    wr(&c, 0x07, 0x04, t);
    wr(&c, 0x04, 0x13, t);
    wr(&c, 0x02, 0x45, t);
    wr(&c, 0x00, 0x30, t);
    wr(&c, 0x32, 0x20, t);
    CHECK_EQ(rd(&c, 0x00, t + 5 * SEC), 0x30); /* frozen while setting */
    CHECK_EQ(rd(&c, 0x04, t + 5 * SEC), 0x13);
    vtime_t t2 = t + 6 * SEC + 123 * MS;
    wr(&c, 0x0b, b, t2);
    wr(&c, 0x0a, a, t2); /* divider released: first update 500 ms later */
    CHECK(tm_is(read_time(&c, t2), 2024, 7, 4, 13, 45, 30, 7)); /* weekday kept */
    CHECK(tm_is(read_time(&c, t2 + 500 * MS - 1), 2024, 7, 4, 13, 45, 30, 7));
    CHECK(tm_is(read_time(&c, t2 + 500 * MS), 2024, 7, 4, 13, 45, 31, 7));
    CHECK(tm_is(read_time(&c, t2 + 10 * SEC + 499 * MS), 2024, 7, 4, 13, 45, 40, 7));
    CHECK(tm_is(read_time(&c, t2 + 10 * SEC + 500 * MS), 2024, 7, 4, 13, 45, 41, 7));
    /* the weekday register counts on from what was there (Saturday) */
    CHECK_EQ(rd(&c, 0x06, t2 + 11 * 3600 * SEC), 0x01);
}

TEST(set_without_divider_reset_keeps_phase)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    wr(&c, 0x0b, 0x82, 2 * SEC + 100 * MS);
    CHECK_EQ(rd(&c, 0x0a, SEC * 3 - 1000) & 0x80, 0); /* no UIP while SET */
    wr(&c, 0x00, 0x10, 2 * SEC + 200 * MS);
    wr(&c, 0x06, 0x02, 2 * SEC + 200 * MS); /* the guest says Monday */
    CHECK_EQ(rd(&c, 0x00, 9 * SEC), 0x10);
    wr(&c, 0x0b, 0x02, 9 * SEC + 700 * MS);
    CHECK_EQ(rd(&c, 0x00, 9 * SEC + 999 * MS), 0x10);
    CHECK_EQ(rd(&c, 0x00, 10 * SEC), 0x11); /* the next whole virtual second */
    CHECK_EQ(rd(&c, 0x06, 10 * SEC), 0x02);
    CHECK_EQ(rd(&c, 0x06, 86400 * SEC), 0x03);
}

TEST(time_write_without_set)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    wr(&c, 0x02, 0x30, SEC / 2);
    CHECK_EQ(rd(&c, 0x02, SEC / 2), 0x30);
    CHECK_EQ(rd(&c, 0x00, SEC), 0x01);
    /* out-of-range values are clamped */
    wr(&c, 0x00, 0x99, 2 * SEC);
    CHECK_EQ(rd(&c, 0x00, 2 * SEC), 0x59);
    wr(&c, 0x08, 0x02, 2 * SEC);
    wr(&c, 0x07, 0x31, 2 * SEC);
    CHECK_EQ(rd(&c, 0x07, 2 * SEC), 0x29); /* Feb 2000 */
}

TEST(uip_window)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    CHECK_EQ(rd(&c, 0x0a, 5 * SEC - 244142), 0x26);
    CHECK_EQ(rd(&c, 0x0a, 5 * SEC - 244141), 0xa6);
    CHECK_EQ(rd(&c, 0x00, 5 * SEC - 1), 0x04);
    CHECK_EQ(rd(&c, 0x0a, 5 * SEC - 1), 0xa6);
    CHECK_EQ(rd(&c, 0x0a, 5 * SEC), 0x26);
    CHECK_EQ(rd(&c, 0x00, 5 * SEC), 0x05);
    /* writes to A cannot set UIP */
    wr(&c, 0x0a, 0xa6, 5 * SEC);
    CHECK_EQ(rd(&c, 0x0a, 5 * SEC), 0x26);
}

TEST(periodic_interrupt_1024hz)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    CHECK_EQ(vrtc_tick(&c, 0), VTIME_NEVER);
    wr(&c, 0x0a, 0x26, 0);
    wr(&c, 0x0b, 0x42, 0); /* PIE */
    vtime_t d = vrtc_tick(&c, 0);
    CHECK_EQ(d, 976563); /* 2^5 cycles of 32768 Hz, rounded up */
    CHECK_EQ(vrtc_tick(&c, d - 1), d);
    CHECK_EQ(r.level, 0);
    int n = 0;
    while (d <= SEC) {
        CHECK_EQ(vrtc_tick(&c, d), VTIME_NEVER); /* PF set: nothing until C is read */
        CHECK_EQ(r.level, 1);
        CHECK_EQ(r.irq, 8);
        CHECK_EQ(rd(&c, 0x0c, d) & 0xe0, 0xc0); /* (UF too at 1 s) */
        CHECK_EQ(r.level, 0);
        vtime_t nd = vrtc_tick(&c, d);
        CHECK(nd > d);
        n++;
        CHECK_EQ(nd, (vtime_t)((n + 1) * 1000000000ull + 1023) / 1024);
        d = nd;
        if (test_failed_now)
            break;
    }
    CHECK_EQ(n, 1024);
    /* PF is set without PIE too, and IRQF only with it */
    wr(&c, 0x0b, 0x02, 2 * SEC);
    rd(&c, 0x0c, 2 * SEC);
    CHECK_EQ(rd(&c, 0x0c, 2 * SEC + 2 * MS), 0x40);
    CHECK_EQ(r.level, 0);
    /* rate 15: 2 Hz */
    wr(&c, 0x0a, 0x2f, 3 * SEC);
    wr(&c, 0x0b, 0x42, 3 * SEC);
    rd(&c, 0x0c, 3 * SEC);
    CHECK_EQ(vrtc_tick(&c, 3 * SEC), 3 * SEC + 500 * MS);
}

TEST(update_ended_interrupt)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    wr(&c, 0x0b, 0x12, 100); /* UIE */
    CHECK_EQ(vrtc_tick(&c, 100), SEC);
    CHECK_EQ(vrtc_tick(&c, SEC - 1), SEC);
    CHECK_EQ(r.level, 0);
    CHECK_EQ(vrtc_tick(&c, SEC), VTIME_NEVER);
    CHECK_EQ(r.level, 1);
    CHECK_EQ(rd(&c, 0x0c, SEC + 5), 0xd0); /* IRQF UF, and PF: rate 6 runs without PIE */
    CHECK_EQ(r.level, 0);
    CHECK_EQ(rd(&c, 0x0c, SEC + 6), 0x00);
    CHECK_EQ(vrtc_tick(&c, SEC + 6), 2 * SEC);
    /* disabling UIE drops IRQ with the flag still set */
    vrtc_tick(&c, 2 * SEC);
    CHECK_EQ(r.level, 1);
    wr(&c, 0x0b, 0x02, 2 * SEC);
    CHECK_EQ(r.level, 0);
    wr(&c, 0x0b, 0x12, 2 * SEC); /* and enabling it with UF set raises it */
    CHECK_EQ(r.level, 1);
    /* SET going high clears UIE (datasheet) */
    wr(&c, 0x0b, 0x92, 2 * SEC);
    CHECK_EQ(rd(&c, 0x0b, 2 * SEC), 0x82);
    CHECK_EQ(r.level, 0);
}

TEST(alarm_interrupt)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    wr(&c, 0x01, 0x05, 0);
    wr(&c, 0x03, 0x00, 0);
    wr(&c, 0x05, 0x00, 0);
    wr(&c, 0x0b, 0x22, 0); /* AIE */
    vtime_t d = vrtc_tick(&c, 0);
    int steps = 0;
    while (!r.level && steps < 100) {
        CHECK(d != VTIME_NEVER);
        d = vrtc_tick(&c, d);
        steps++;
    }
    CHECK_EQ(steps, 5);
    CHECK_EQ(rd(&c, 0x00, 5 * SEC), 0x05);
    CHECK_EQ(rd(&c, 0x0c, 5 * SEC), 0xf0); /* IRQF PF AF UF */
    CHECK_EQ(r.level, 0);
    /* it is a daily alarm: nothing again within the next minute */
    rd(&c, 0x0c, 65 * SEC);
    CHECK_EQ(rd(&c, 0x0c, 66 * SEC) & 0x20, 0);

    /* don't-care hours and minutes: every minute at :30, found lazily */
    wr(&c, 0x01, 0x30, 66 * SEC);
    wr(&c, 0x03, 0xc0, 66 * SEC);
    wr(&c, 0x05, 0xff, 66 * SEC);
    rd(&c, 0x0c, 66 * SEC);
    CHECK_EQ(rd(&c, 0x0c, 89 * SEC) & 0x20, 0x00);
    CHECK_EQ(rd(&c, 0x0c, 95 * SEC) & 0x20, 0x20); /* 00:01:30 passed */
    /* all don't-care: every second */
    wr(&c, 0x01, 0xc0, 96 * SEC);
    rd(&c, 0x0c, 96 * SEC);
    CHECK_EQ(rd(&c, 0x0c, 97 * SEC), 0xf0);
    /* an alarm a day away, found after a long gap without ticks */
    wr(&c, 0x01, 0x00, 97 * SEC);
    wr(&c, 0x03, 0x00, 97 * SEC);
    wr(&c, 0x05, 0x07, 97 * SEC);
    rd(&c, 0x0c, 97 * SEC);
    CHECK_EQ(rd(&c, 0x0c, 6 * 3600 * SEC) & 0x20, 0x00);
    CHECK_EQ(rd(&c, 0x0c, 3 * 86400 * SEC) & 0x20, 0x20);
}

TEST(divider_reset_stops_the_clock)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 946684800);
    wr(&c, 0x0b, 0x52, 0); /* PIE UIE */
    wr(&c, 0x0a, 0x66, 2 * SEC + 250 * MS);
    CHECK_EQ(vrtc_tick(&c, 2 * SEC + 250 * MS), VTIME_NEVER);
    rd(&c, 0x0c, 2 * SEC + 250 * MS);
    CHECK_EQ(rd(&c, 0x00, 9 * SEC), 0x02);
    CHECK_EQ(rd(&c, 0x0c, 9 * SEC), 0x00);
    CHECK_EQ(rd(&c, 0x0a, 9 * SEC), 0x66);
    wr(&c, 0x0a, 0x26, 9 * SEC + 100 * MS);
    CHECK_EQ(vrtc_tick(&c, 9 * SEC + 100 * MS), 9 * SEC + 100 * MS + 976563);
    CHECK_EQ(rd(&c, 0x00, 9 * SEC + 600 * MS), 0x03);
}

TEST(nmi_mask_and_index)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 0);
    CHECK(!vrtc_nmi_masked(&c));
    vrtc_write(&c, 0x70, 0x8f, 0);
    CHECK(vrtc_nmi_masked(&c));
    vrtc_write(&c, 0x71, 0x5a, 0); /* index 0x0f: the shutdown byte */
    vrtc_write(&c, 0x70, 0x0f, 0);
    CHECK(!vrtc_nmi_masked(&c));
    CHECK_EQ(vrtc_read(&c, 0x71, 0), 0x5a);
    CHECK_EQ(vrtc_read(&c, 0x71, 0), 0x5a); /* the index stays */
    CHECK_EQ(vrtc_read(&c, 0x70, 0), 0xff);
    CHECK_EQ(vrtc_read(&c, 0x72, 0), 0xff);
    vrtc_write(&c, 0x72, 0x00, 0);
}

TEST(nvram_bytes)
{
    struct vrtc c;
    struct rec r;
    setup(&c, &r, 0);
    for (unsigned i = 0x0e; i < 0x80; i++)
        if (i != 0x32)
            wr(&c, (uint8_t)i, (uint8_t)(i ^ 0xa5), 0);
    for (unsigned i = 0x0e; i < 0x80; i++)
        if (i != 0x32)
            CHECK_EQ(rd(&c, (uint8_t)i, 0), i ^ 0xa5);
    wr(&c, 0x0d, 0x00, 0);
    CHECK_EQ(rd(&c, 0x0d, 0), 0x80);
    wr(&c, 0x0c, 0xff, 0);
    CHECK_EQ(rd(&c, 0x0c, 0), 0x00);
    CHECK_EQ(rd(&c, 0x80 | 0x10, 0), 0x10 ^ 0xa5); /* bit 7 is the NMI mask */
    /* 1970-01-01 was a Thursday */
    CHECK_EQ(rd(&c, 0x06, 0), 5);
    CHECK_EQ(rd(&c, 0x32, 0), 0x19);
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static uint64_t fuzz_run(uint64_t seed, int *fails)
{
    static const uint8_t hot[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x32, 0x0c };
    struct vrtc c;
    struct rec r;
    uint64_t digest = 0;
    vtime_t now = 0;
    setup(&c, &r, 1700000000);
    rng_state = seed;
    for (int i = 0; i < 100000; i++) {
        uint32_t x = rnd();
        uint8_t v = (uint8_t)(x >> 8);
        int sets = r.sets;
        vtime_t d;
        switch ((x >> 16) & 3) {
        case 0: now += (x >> 18) % 100000; break;
        case 1: now += (x >> 18) % 10000000; break;
        case 2: now += (x >> 18) % 256 == 0 ? (uint64_t)(x >> 18) * 10000000 : 0; break;
        default: break;
        }
        switch ((x >> 24) % 5) {
        case 0:
            vrtc_write(&c, 0x70, (x >> 29) ? hot[x & 15] | (v & 0x80) : v, now);
            break;
        case 1:
            /* keep the divider running most of the time */
            if (c.index == 0x0a && (x >> 30) != 0)
                v = (uint8_t)((v & 0x8f) | 0x20);
            vrtc_write(&c, (x >> 28) & 1 ? 0x71 : (uint16_t)(0x70 + (x & 3)), v, now);
            break;
        case 2:
            digest = digest * 31 + vrtc_read(&c, (x >> 28) & 1 ? 0x71 : (uint16_t)(0x70 + (x & 3)), now);
            break;
        default:
            d = vrtc_tick(&c, now);
            digest = digest * 31 + d;
            if (d != VTIME_NEVER && d <= now)
                (*fails)++;
            break;
        }
        if (r.sets - sets > 2 || r.level != c.irq_level)
            (*fails)++;
        /* IRQ follows IRQF */
        if (r.level != ((c.c & c.b & 0x70) != 0))
            (*fails)++;
        if (c.index > 0x7f || c.set.mon < 1 || c.set.mon > 12 || c.set.mday < 1 || c.set.mday > 31)
            (*fails)++;
    }
    return digest * 31 + (uint64_t)r.raises;
}

TEST(fuzz_robustness_and_determinism)
{
    int fails = 0;
    uint64_t a = fuzz_run(0x146818, &fails);
    CHECK_EQ(fails, 0);
    CHECK(a == fuzz_run(0x146818, &fails));
    CHECK_EQ(fails, 0);
}

int main(void) { return test_main(); }
