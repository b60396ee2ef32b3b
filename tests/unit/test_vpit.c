/* vmm/dev/pit.c: the 8254 model, driven the way Linux's PIT clockevent,
 * TSC calibration and delay code drive it. */
#include "test.h"
#include "../../vmm/dev/pit.h"

struct rec {
    int level, pulses, bad;
    unsigned irq;
};

static void rec_irq(void *ctx, unsigned irq, int level)
{
    struct rec *r = ctx;
    if (level == r->level)
        r->bad++; /* a pulse is exactly one raise and one lower */
    if (!level)
        r->pulses++;
    r->level = level;
    r->irq = irq;
}

static void setup(struct vpit *p, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    struct irq_out o = { rec_irq, r, 0 };
    vpit_init(p, &o);
}

/* The virtual time of PIT clock tick k. */
static vtime_t T(uint64_t k) { return ticks_to_vtime(k, VPIT_HZ); }

static void program(struct vpit *p, unsigned ch, uint8_t mode_bits, uint16_t count, vtime_t now)
{
    vpit_write(p, 0x43, (uint8_t)(ch << 6 | 0x30 | mode_bits), now);
    vpit_write(p, (uint16_t)(0x40 + ch), (uint8_t)count, now);
    vpit_write(p, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8), now);
}

static unsigned read16(struct vpit *p, unsigned ch, vtime_t now)
{
    unsigned lo = vpit_read(p, (uint16_t)(0x40 + ch), now);
    return lo | (unsigned)vpit_read(p, (uint16_t)(0x40 + ch), now) << 8;
}

static unsigned latched16(struct vpit *p, unsigned ch, vtime_t now)
{
    vpit_write(p, 0x43, (uint8_t)(ch << 6), now);
    return read16(p, ch, now);
}

TEST(tick_times_are_rounded_up)
{
    /* vpit_tick deadlines are the first ns at which the tick has happened */
    for (uint64_t k = 1; k < 5000; k += 37) {
        CHECK_EQ(vtime_to_ticks(T(k), VPIT_HZ), k);
        CHECK_EQ(vtime_to_ticks(T(k) - 1, VPIT_HZ), k - 1);
    }
}

TEST(mode2_periodic_irq0)
{
    struct vpit p;
    struct rec r;
    const unsigned N = 1193; /* Linux LATCH for HZ=1000 */
    setup(&p, &r);
    CHECK_EQ(vpit_tick(&p, 0), VTIME_NEVER);
    program(&p, 0, 0x04, N, 0); /* 0x34: ch0, LSB/MSB, mode 2 */
    /* loaded at tick 1; OUT rises when the count reloads, every N ticks */
    CHECK_EQ(vpit_tick(&p, 0), T(1 + N));
    CHECK_EQ(vpit_tick(&p, T(1 + N) - 1), T(1 + N));
    CHECK_EQ(r.pulses, 0);
    for (unsigned j = 1; j <= 20; j++) {
        vtime_t next = vpit_tick(&p, T(1 + j * N));
        CHECK_EQ(r.pulses, j);
        CHECK_EQ(next, T(1 + (j + 1) * N));
        CHECK_EQ(vpit_tick(&p, T(1 + j * N) + 1000), next); /* nothing new */
        CHECK_EQ(r.pulses, j);
    }
    CHECK_EQ(r.bad, 0);
    CHECK_EQ(r.level, 0);
    CHECK_EQ(r.irq, 0);
}

TEST(late_tick_delivers_one_edge)
{
    struct vpit p;
    struct rec r;
    const unsigned N = 11932; /* 100 Hz */
    setup(&p, &r);
    program(&p, 0, 0x04, N, T(50));
    uint64_t s = 51;
    CHECK_EQ(vpit_tick(&p, T(50)), T(s + N));
    /* the hypervisor comes back 5.5 periods late: one edge, 4 lost */
    vtime_t next = vpit_tick(&p, T(s + 5 * N + N / 2));
    CHECK_EQ(r.pulses, 1);
    CHECK_EQ(next, T(s + 6 * N));
    vpit_tick(&p, next);
    CHECK_EQ(r.pulses, 2);
}

TEST(write_delivers_edges_that_were_due)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x04, 100, 0);
    /* late: an edge was due at tick 101, the guest reprograms at 150 */
    vpit_write(&p, 0x43, 0x30, T(150));
    CHECK_EQ(r.pulses, 1);
    CHECK_EQ(vpit_tick(&p, T(150)), VTIME_NEVER); /* mode 0 awaiting a count */
}

TEST(count_readback_latch_and_flipflop)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x04, 1000, 0); /* loaded with 1000 at tick 1 */
    CHECK_EQ(latched16(&p, 0, T(1)), 1000);
    CHECK_EQ(latched16(&p, 0, T(101)), 900);
    CHECK_EQ(latched16(&p, 0, T(1000)), 1);
    CHECK_EQ(latched16(&p, 0, T(1001)), 1000); /* reloaded */
    /* the latch holds the value until both bytes are read */
    vpit_write(&p, 0x43, 0x00, T(1101));
    vpit_write(&p, 0x43, 0x00, T(1201)); /* ignored: already latched */
    CHECK_EQ(vpit_read(&p, 0x40, T(1301)), 900 & 0xff);
    CHECK_EQ(vpit_read(&p, 0x40, T(1401)), 900 >> 8);
    CHECK_EQ(read16(&p, 0, T(1501)), 500); /* unlatched: live again */
    /* the read flip-flop survives writes of other registers */
    CHECK_EQ(vpit_read(&p, 0x40, T(1001 + 0x123)), (1000 - 0x123) & 0xff);
    vpit_write(&p, 0x43, 0x80 | 0x30, T(1001 + 0x124)); /* ch2 control word */
    CHECK_EQ(vpit_read(&p, 0x40, T(1001 + 0x125)), (1000 - 0x125) >> 8);
    /* a control word resets the flip-flop */
    CHECK_EQ(vpit_read(&p, 0x40, T(3000)), (2001 + 1000 - 3000) & 0xff);
    program(&p, 0, 0x04, 1000, T(3000));
    CHECK_EQ(vpit_read(&p, 0x40, T(3001)), 1000 & 0xff);
}

TEST(access_modes_lsb_msb_only)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    vpit_write(&p, 0x43, 0x54, 0); /* ch1, LSB only, mode 2 */
    vpit_write(&p, 0x41, 0x34, 0);
    CHECK_EQ(vpit_read(&p, 0x41, T(1)), 0x34);
    CHECK_EQ(vpit_read(&p, 0x41, T(2)), 0x33);
    vpit_write(&p, 0x43, 0x64, T(10)); /* ch1, MSB only, mode 2 */
    vpit_write(&p, 0x41, 0x12, T(10));
    CHECK_EQ(vpit_read(&p, 0x41, T(11)), 0x12);
    CHECK_EQ(vpit_read(&p, 0x41, T(12)), 0x11); /* 0x11ff */
    vpit_write(&p, 0x43, 0x40, T(12));          /* latch in MSB-only mode */
    CHECK_EQ(vpit_read(&p, 0x41, T(500)), 0x11);
    CHECK_EQ(vpit_read(&p, 0x41, T(500)), (0x1200 - 489) >> 8);
}

/* arch/x86/kernel/tsc.c pit_calibrate_tsc(): ch2 mode 0, poll 0x61 bit 5. */
TEST(linux_pit_calibrate_tsc)
{
    struct vpit p;
    struct rec r;
    const unsigned latch = 1193182 / (1000 / 50);
    vtime_t w = 123456789;
    setup(&p, &r);
    CHECK_EQ(vpit_read(&p, 0x61, w) & 0x21, 0x00);
    vpit_write(&p, 0x61, (uint8_t)((vpit_read(&p, 0x61, w) & ~0x02) | 0x01), w);
    vpit_write(&p, 0x43, 0xb0, w);
    vpit_write(&p, 0x42, latch & 0xff, w);
    vpit_write(&p, 0x42, latch >> 8, w);
    uint64_t e = vtime_to_ticks(w, VPIT_HZ) + 1 + latch; /* N+1 clocks after the write */
    CHECK_EQ(vpit_read(&p, 0x61, w) & 0x20, 0);
    CHECK_EQ(vpit_read(&p, 0x61, T(e) - 1) & 0x20, 0);
    CHECK_EQ(vpit_read(&p, 0x61, T(e)) & 0x20, 0x20);
    CHECK_EQ(vpit_read(&p, 0x61, T(e) + 1000000000) & 0x20, 0x20); /* stays high */
    CHECK_EQ(vpit_read(&p, 0x61, T(e)) & 0x01, 0x01);
    CHECK_EQ(r.pulses, 0); /* channel 2 has no IRQ */
    CHECK_EQ(vpit_tick(&p, T(e)), VTIME_NEVER);
}

/* tsc.c quick_pit_calibrate(): count 0xffff, read LSB (discarded) and MSB,
 * expecting the MSB to step down every 256 clocks. */
TEST(linux_quick_pit_calibrate)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    vpit_write(&p, 0x61, (uint8_t)((vpit_read(&p, 0x61, 0) & ~0x02) | 0x01), 0);
    vpit_write(&p, 0x43, 0xb0, 1000);
    vpit_write(&p, 0x42, 0xff, 1000);
    vpit_write(&p, 0x42, 0xff, 1000);
    uint64_t s = vtime_to_ticks(1000, VPIT_HZ) + 1;
    for (unsigned i = 0; i < 200; i++) {
        uint64_t k = s + 256 * i + 17;
        vpit_read(&p, 0x42, T(k));
        CHECK_EQ(vpit_read(&p, 0x42, T(k)), 0xff - i);
    }
    /* the exact count, read live byte by byte */
    CHECK_EQ(read16(&p, 2, T(s + 12345)), 0xffff - 12345);
    CHECK_EQ(vpit_read(&p, 0x42, T(s + 0x1234)), (0xffff - 0x1234) & 0xff);
    CHECK_EQ(vpit_read(&p, 0x42, T(s + 0x1334)), (0xffff - 0x1334) >> 8);
}

TEST(mode0_irq0_one_shot)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x00, 100, T(1000)); /* 0x30: mode 0 */
    CHECK_EQ(vpit_tick(&p, T(1000)), T(1101));
    vpit_tick(&p, T(1100));
    CHECK_EQ(r.pulses, 0);
    CHECK_EQ(vpit_tick(&p, T(1101)), VTIME_NEVER);
    CHECK_EQ(r.pulses, 1);
    /* counting goes on past zero, wrapping, with no new edges */
    CHECK_EQ(latched16(&p, 0, T(1102)), 0xffff);
    vpit_tick(&p, T(1101 + 70000));
    CHECK_EQ(r.pulses, 1);
    /* a new count restarts it (OUT low again) */
    vpit_write(&p, 0x40, 10, T(80000));
    vpit_write(&p, 0x40, 0, T(80000));
    CHECK_EQ(vpit_tick(&p, T(80000)), T(80011));
    vpit_tick(&p, T(80011));
    CHECK_EQ(r.pulses, 2);
    CHECK_EQ(r.bad, 0);
}

/* Linux's oneshot clockevent: 0x38 (mode 4), then LSB/MSB per event. */
TEST(mode4_irq0_strobe)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x08, 50, T(10));
    /* CE reaches 0 at tick 11+50, OUT low for that clock, rises at 62 */
    CHECK_EQ(vpit_tick(&p, T(10)), T(62));
    vpit_tick(&p, T(61));
    CHECK_EQ(r.pulses, 0);
    CHECK_EQ(vpit_tick(&p, T(62)), VTIME_NEVER);
    CHECK_EQ(r.pulses, 1);
    vpit_write(&p, 0x40, 20, T(100));
    vpit_write(&p, 0x40, 0, T(100));
    CHECK_EQ(vpit_tick(&p, T(100)), T(122));
}

TEST(mode3_square_wave)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    vpit_write(&p, 0x61, 0x01, 0);
    program(&p, 2, 0x06, 10, 0); /* loaded at tick 1 */
    for (unsigned k = 0; k < 30; k++) {
        unsigned ph = k % 10;
        CHECK_EQ(!!(vpit_read(&p, 0x61, T(1 + k)) & 0x20), ph < 5);
        CHECK_EQ(latched16(&p, 2, T(1 + k)), 10 - 2 * (ph % 5));
    }
    /* odd: high (N+1)/2, low (N-1)/2; counts N-1..0 then N-1..2 */
    static const unsigned odd_ce[7] = { 6, 4, 2, 0, 6, 4, 2 };
    program(&p, 2, 0x06, 7, T(100));
    for (unsigned k = 0; k < 21; k++) {
        unsigned ph = k % 7;
        CHECK_EQ(!!(vpit_read(&p, 0x61, T(101 + k)) & 0x20), ph < 4);
        CHECK_EQ(latched16(&p, 2, T(101 + k)), odd_ce[ph]);
    }
    /* channel 0 in mode 3 (the BIOS's 18.2 Hz): one IRQ per period */
    program(&p, 0, 0x06, 0, T(1000));
    CHECK_EQ(vpit_tick(&p, T(1000)), T(1001 + 65536));
    vpit_tick(&p, T(1001 + 65536));
    CHECK_EQ(r.pulses, 1);
    CHECK_EQ(vpit_tick(&p, T(1001 + 65536)), T(1001 + 2 * 65536));
}

TEST(count_zero_is_65536)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x04, 0, 0);
    CHECK_EQ(latched16(&p, 0, T(1)), 0x0000);
    CHECK_EQ(latched16(&p, 0, T(2)), 0xffff);
    CHECK_EQ(latched16(&p, 0, T(65536)), 0x0001);
    CHECK_EQ(vpit_tick(&p, 0), T(1 + 65536));
    program(&p, 1, 0x00, 0, 0);
    CHECK_EQ(latched16(&p, 1, T(1 + 65535)), 1);
}

TEST(read_back_command)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x04, 1000, T(10)); /* 0x34 */
    /* same tick as the write: the count is not loaded yet (NULL COUNT) */
    vpit_write(&p, 0x43, 0xe2, T(10)); /* latch status of ch0 */
    CHECK_EQ(vpit_read(&p, 0x40, T(10)), 0x80 | 0x40 | 0x34);
    vpit_write(&p, 0x43, 0xc2, T(111)); /* status and count of ch0 */
    CHECK_EQ(vpit_read(&p, 0x40, T(200)), 0x80 | 0x34); /* status first */
    CHECK_EQ(vpit_read(&p, 0x40, T(200)), 900 & 0xff);
    CHECK_EQ(vpit_read(&p, 0x40, T(300)), 900 >> 8);
    /* count-only read-back of ch0 and ch2 at once */
    vpit_write(&p, 0x61, 0x01, T(300));
    program(&p, 2, 0x00, 500, T(300)); /* 0xb0, OUT low */
    vpit_write(&p, 0x43, 0xda, T(401)); /* 11 0 1 1 1 0 1 0: count, ch2 + ch0 */
    CHECK_EQ(read16(&p, 0, T(500)), 1000 - ((401 - 11) % 1000));
    CHECK_EQ(read16(&p, 2, T(500)), 500 - 100);
    /* status of ch2: OUT low, mode 0, LSB/MSB */
    vpit_write(&p, 0x43, 0xe8, T(500));
    CHECK_EQ(vpit_read(&p, 0x42, T(500)), 0x30);
    /* a second status latch before the read is ignored */
    vpit_write(&p, 0x43, 0xe8, T(501));
    vpit_write(&p, 0x43, 0xe8, T(900));
    CHECK_EQ(vpit_read(&p, 0x42, T(900)), 0x30);
    CHECK_EQ(read16(&p, 2, T(902)), (500u - 601u) & 0xffff); /* past TC: wrapped */
    vpit_write(&p, 0x43, 0xe8, T(903));
    CHECK_EQ(vpit_read(&p, 0x42, T(903)), 0x80 | 0x30);
}

TEST(channel2_gate)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    /* mode 2 with gate low: loaded, not counting, OUT high */
    program(&p, 2, 0x04, 100, T(0));
    CHECK_EQ(vpit_read(&p, 0x61, T(50)) & 0x20, 0x20);
    vpit_write(&p, 0x61, 0x01, T(50)); /* rising gate: reload at the next clock */
    CHECK_EQ(latched16(&p, 2, T(51)), 100);
    CHECK_EQ(latched16(&p, 2, T(60)), 91);
    CHECK_EQ(vpit_read(&p, 0x61, T(51 + 99)) & 0x20, 0x00);
    vpit_write(&p, 0x61, 0x00, T(51 + 99)); /* gate low forces OUT high */
    CHECK_EQ(vpit_read(&p, 0x61, T(51 + 99)) & 0x20, 0x20);
    CHECK_EQ(latched16(&p, 2, T(500)), 1); /* stopped */

    /* mode 0: gate low suspends counting */
    vpit_write(&p, 0x61, 0x01, T(1000));
    program(&p, 2, 0x00, 100, T(1000)); /* loaded at 1001 */
    vpit_write(&p, 0x61, 0x00, T(1041)); /* CE = 60 */
    CHECK_EQ(latched16(&p, 2, T(2000)), 60);
    vpit_write(&p, 0x61, 0x01, T(2000));
    CHECK_EQ(latched16(&p, 2, T(2010)), 50);
    CHECK_EQ(vpit_read(&p, 0x61, T(2059)) & 0x20, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, T(2060)) & 0x20, 0x20);

    /* mode 1: the rising gate triggers a one-shot low pulse of N clocks */
    vpit_write(&p, 0x61, 0x00, T(3000));
    program(&p, 2, 0x02, 30, T(3000));
    CHECK_EQ(vpit_read(&p, 0x61, T(3100)) & 0x20, 0x20); /* no trigger yet */
    vpit_write(&p, 0x61, 0x01, T(3100));
    CHECK_EQ(vpit_read(&p, 0x61, T(3101)) & 0x20, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, T(3130)) & 0x20, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, T(3131)) & 0x20, 0x20);
    /* retrigger during the pulse extends it */
    vpit_write(&p, 0x61, 0x00, T(3200));
    vpit_write(&p, 0x61, 0x01, T(3200));
    vpit_write(&p, 0x61, 0x00, T(3220));
    vpit_write(&p, 0x61, 0x01, T(3220));
    CHECK_EQ(vpit_read(&p, 0x61, T(3240)) & 0x20, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, T(3251)) & 0x20, 0x20);

    /* mode 5: strobe N clocks after the trigger */
    program(&p, 2, 0x0a, 20, T(4000));
    vpit_write(&p, 0x61, 0x00, T(4000));
    vpit_write(&p, 0x61, 0x01, T(4000));
    CHECK_EQ(vpit_read(&p, 0x61, T(4020)) & 0x20, 0x20);
    CHECK_EQ(vpit_read(&p, 0x61, T(4021)) & 0x20, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, T(4022)) & 0x20, 0x20);
    CHECK_EQ(r.pulses, 0);
}

TEST(port61_bits)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    vpit_write(&p, 0x61, 0xff, 0);
    CHECK_EQ(vpit_read(&p, 0x61, 0) & 0xcf, 0x0f);
    vpit_write(&p, 0x61, 0x02, 0);
    CHECK_EQ(vpit_read(&p, 0x61, 0) & 0x0f, 0x02);
    /* refresh toggle flips every 15.085 us */
    CHECK_EQ(vpit_read(&p, 0x61, 0) & 0x10, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, 15084) & 0x10, 0x00);
    CHECK_EQ(vpit_read(&p, 0x61, 15085) & 0x10, 0x10);
    CHECK_EQ(vpit_read(&p, 0x61, 30170) & 0x10, 0x00);
    CHECK_EQ(vpit_read(&p, 0x43, 0), 0xff);
}

TEST(bcd_counting)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 1, 0x05, 0x0100, 0); /* 0x75: mode 2, BCD, count 100 */
    CHECK_EQ(latched16(&p, 1, T(1)), 0x0100);
    CHECK_EQ(latched16(&p, 1, T(2)), 0x0099);
    CHECK_EQ(latched16(&p, 1, T(100)), 0x0001);
    CHECK_EQ(latched16(&p, 1, T(101)), 0x0100);
    program(&p, 1, 0x01, 0x0000, T(200)); /* mode 0, BCD, 0 = 10000 */
    CHECK_EQ(latched16(&p, 1, T(201)), 0x0000);
    CHECK_EQ(latched16(&p, 1, T(202)), 0x9999);
}

TEST(mode2_new_count_at_period_end)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x04, 100, 0); /* edges at 101, 201, ... */
    vpit_write(&p, 0x40, 50, T(150)); /* delivers the edge due at 101 */
    vpit_write(&p, 0x40, 0, T(150));
    CHECK_EQ(r.pulses, 1);
    CHECK_EQ(latched16(&p, 0, T(160)), 41); /* old count runs on */
    CHECK_EQ(vpit_tick(&p, T(160)), T(201));
    vpit_tick(&p, T(201));
    CHECK_EQ(latched16(&p, 0, T(201)), 50);
    CHECK_EQ(vpit_tick(&p, T(201)), T(251));
    CHECK_EQ(r.pulses, 2);
    /* late across the switch: still one edge, then the new period */
    program(&p, 0, 0x04, 100, T(1000)); /* edges at 1101, 1201 */
    CHECK_EQ(r.pulses, 3);             /* one for the overdue 251, 301, ... */
    vpit_write(&p, 0x40, 30, T(1150));
    vpit_write(&p, 0x40, 0, T(1150)); /* delivers the 1101 edge */
    CHECK_EQ(r.pulses, 4);
    CHECK_EQ(vpit_tick(&p, T(1265)), T(1291)); /* edge at 1201, then 30s */
    CHECK_EQ(r.pulses, 5);
}

TEST(illegal_count_one_in_mode2)
{
    struct vpit p;
    struct rec r;
    setup(&p, &r);
    program(&p, 0, 0x04, 1, 0);
    CHECK_EQ(vpit_tick(&p, 0), T(3));
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* Random guest I/O with monotonic time; returns a digest of all results. */
static uint64_t fuzz_run(uint64_t seed, int *fails)
{
    static const uint16_t ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61, 0x43, 0x40, 0x44 };
    struct vpit p;
    struct rec r;
    uint64_t digest = 0;
    vtime_t now = 0;
    setup(&p, &r);
    rng_state = seed;
    for (int i = 0; i < 100000; i++) {
        uint32_t x = rnd();
        uint16_t port = ports[x & 7];
        uint8_t v = (uint8_t)(x >> 8);
        int pulses = r.pulses;
        vtime_t d;
        switch ((x >> 16) & 3) {
        case 0: now += (x >> 18) % 2000; break;
        case 1: now += (x >> 18) % 200000; break;
        case 2: now += (x >> 18) % 64 == 0 ? (uint64_t)(x >> 18) * 100000 : 0; break;
        default: break;
        }
        if ((x >> 24) % 3 == 0) {
            v = (uint8_t)((x >> 26) & 1 ? v & 0x3f : v); /* small counts too */
            vpit_write(&p, port, v, now);
        } else if ((x >> 24) % 3 == 1) {
            digest = digest * 31 + vpit_read(&p, port, now);
        } else {
            d = vpit_tick(&p, now);
            digest = digest * 31 + d;
            if (d != VTIME_NEVER && d <= now)
                (*fails)++;
            if (r.pulses - pulses > 1)
                (*fails)++;
        }
        for (int c = 0; c < 3; c++) {
            if (p.ch[c].mode > 5 || (p.ch[c].running && (p.ch[c].n < 1 || p.ch[c].n > 65536)))
                (*fails)++;
        }
    }
    if (r.bad)
        (*fails)++;
    return digest * 31 + (uint64_t)r.pulses;
}

TEST(fuzz_robustness_and_determinism)
{
    int fails = 0;
    uint64_t a = fuzz_run(0x8254, &fails);
    CHECK_EQ(fails, 0);
    CHECK(a == fuzz_run(0x8254, &fails)); /* same calls, same results */
    CHECK_EQ(fails, 0);
}

int main(void) { return test_main(); }
