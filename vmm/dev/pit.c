/* 8254 PIT model, from the Intel 8254 datasheet: control word format,
 * counter latch and read-back commands, read/write byte flip-flops, and the
 * six counting modes' waveforms. See pit.h for the time model. */
#include "pit.h"

#include <string.h>

#define NO_TICK UINT64_MAX

static uint64_t tick_of(vtime_t now) { return vtime_to_ticks(now, VPIT_HZ); }

/* The counting element wraps at 2^16 in binary, at 10^4 decades in BCD. */
static uint32_t modulus(const struct vpit_channel *c) { return c->bcd ? 10000u : 65536u; }

static uint64_t min_tick(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Modes 2 and 3: a count written while counting is loaded at the end of
 * the current period. Fold it in once that tick has come. */
static void sync(struct vpit_channel *c, uint64_t t)
{
    if (c->pending && t >= c->next_at) {
        c->s = c->next_at;
        c->n = c->next_n;
        c->v0 = c->n % modulus(c);
        c->pending = false;
        c->edge_at_start = true;
    }
}

/* The counting element at tick t (binary, 0 .. modulus-1). */
static uint32_t ce(const struct vpit_channel *c, uint64_t t)
{
    uint32_t m = modulus(c);
    uint64_t e, k, h;

    if (!c->running || t < c->s)
        return c->hold % m;
    e = t - c->s;
    switch (c->mode) {
    case 2: /* N, N-1, ..., 1, reload */
        return (uint32_t)((c->n - e % c->n) % m);
    case 3:
        /* Square wave, decrementing by two. Even N: N, N-2, ..., 2 in each
         * half. Odd N: N-1, ..., 0 while OUT is high ((N+1)/2 clocks), then
         * N-1, ..., 2 while it is low ((N-1)/2 clocks). */
        k = e % c->n;
        if (!(c->n & 1)) {
            h = c->n / 2;
            return (uint32_t)((c->n - 2 * (k >= h ? k - h : k)) % m);
        }
        h = (c->n + 1) / 2;
        return (uint32_t)((c->n - 1 - 2 * (k >= h ? k - h : k)) % m);
    default: /* modes 0, 1, 4, 5: count down and wrap */
        return (uint32_t)((c->v0 + m - e % m) % m);
    }
}

/* OUT at tick t. */
static bool out(const struct vpit_channel *c, uint64_t t)
{
    uint64_t e;

    if (!c->running || t < c->s)
        return c->out_idle;
    e = t - c->s;
    switch (c->mode) {
    case 0: /* low until terminal count, then high */
    case 1: /* low from the trigger until terminal count */
        return c->tc_done || e >= c->rem;
    case 2: /* low for the one clock where the count is 1 */
        return e % c->n != c->n - 1;
    case 3: /* high for the first (N+1)/2 clocks of each period */
        return e % c->n < (c->n + 1) / 2;
    default: /* modes 4, 5: low for one clock at terminal count */
        return c->tc_done || e != c->rem;
    }
}

/* The first tick > a at which OUT rises, or NO_TICK. */
static uint64_t next_edge(const struct vpit_channel *c, uint64_t a)
{
    uint64_t e;

    if (!c->running)
        return NO_TICK;
    switch (c->mode) {
    case 2:
    case 3:
        if (a < c->s)
            return c->edge_at_start ? c->s : c->s + c->n;
        return c->s + ((a - c->s) / c->n + 1) * c->n;
    case 0:
    case 1:
        e = c->s + c->rem;
        break;
    default:
        e = c->s + c->rem + 1;
        break;
    }
    return !c->tc_done && e > a ? e : NO_TICK;
}

static uint16_t encode(const struct vpit_channel *c, uint32_t v)
{
    if (!c->bcd)
        return (uint16_t)v;
    v %= 10000;
    return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

/* The count register as clocks: 0 is the maximum (2^16 binary, 10^4 BCD). */
static uint32_t decode(const struct vpit_channel *c, uint16_t cr)
{
    uint32_t v;

    if (c->bcd) {
        v = ((cr >> 12) & 15) * 1000u + ((cr >> 8) & 15) * 100u + ((cr >> 4) & 15) * 10u + (cr & 15);
        v %= 10000;
        if (!v)
            v = 10000;
    } else {
        v = cr ? cr : 65536;
    }
    if ((c->mode == 2 || c->mode == 3) && v == 1)
        v = 2;
    return v;
}

/* Gate low in modes 0 and 4: counting stops, OUT holds. */
static void pause(struct vpit_channel *c, uint64_t t)
{
    uint64_t e;

    if (!c->running)
        return;
    if (t < c->s) {
        c->hold = c->v0; /* the count is still loaded at the next clock */
    } else {
        c->hold = ce(c, t);
        c->out_idle = out(c, t);
        e = t - c->s;
        if (!c->tc_done) {
            if (e >= c->rem)
                c->tc_done = true;
            else
                c->rem -= (uint32_t)e;
        }
    }
    c->running = false;
}

/* A complete count was written to the count register. */
static void load_count(struct vpit_channel *c, uint16_t cr, uint64_t t)
{
    uint32_t n = decode(c, cr);

    c->have_count = true;
    switch (c->mode) {
    case 0:
    case 4:
        /* Loaded on the next clock; mode 0 sets OUT low on the write,
         * mode 4 keeps it high until the strobe. */
        c->hold = ce(c, t);
        c->n = n;
        c->s = t + 1;
        c->v0 = n % modulus(c);
        c->rem = n;
        c->tc_done = false;
        c->out_idle = c->mode == 4;
        c->null_until = t + 1;
        c->running = c->gate;
        if (!c->gate)
            c->hold = c->v0; /* loaded, but not counting until the gate rises */
        break;
    case 1:
    case 5:
        /* Loaded into CE only by the next gate trigger; a one-shot in
         * progress is not affected. */
        c->n = n;
        c->null_until = NO_TICK;
        break;
    default: /* 2, 3 */
        if (c->running && t >= c->s) {
            c->pending = true;
            c->next_n = n;
            c->next_at = c->s + ((t - c->s) / c->n + 1) * c->n;
            c->null_until = c->next_at;
        } else if (c->running) {
            c->n = n; /* not loaded yet: the load at s takes the new count */
            c->null_until = c->s;
        } else {
            c->hold = ce(c, t);
            c->n = n;
            c->s = t + 1;
            c->edge_at_start = false;
            c->pending = false;
            c->out_idle = true;
            c->null_until = t + 1;
            c->running = c->gate;
        }
        break;
    }
}

static void write_counter(struct vpit_channel *c, uint8_t v, uint64_t t)
{
    sync(c, t);
    switch (c->rw) {
    case 1:
        load_count(c, v, t);
        break;
    case 2:
        load_count(c, (uint16_t)(v << 8), t);
        break;
    default:
        if (!c->wmsb) {
            c->wlsb = v;
            c->wmsb = true;
            /* Mode 0: writing the first byte of a two-byte count stops
             * counting until the second byte arrives. */
            if (c->mode == 0) {
                if (c->running) {
                    c->hold = ce(c, t);
                    c->out_idle = out(c, t);
                    c->running = false;
                }
                c->have_count = false;
            }
        } else {
            c->wmsb = false;
            load_count(c, (uint16_t)(c->wlsb | v << 8), t);
        }
        break;
    }
}

static void control(struct vpit_channel *c, uint8_t v, uint64_t t)
{
    sync(c, t);
    c->hold = ce(c, t);
    c->running = false;
    c->ctrl = v & 0x3f;
    c->rw = (v >> 4) & 3;
    c->mode = (v >> 1) & 7;
    if (c->mode > 5)
        c->mode -= 4; /* 110 and 111 are modes 2 and 3 */
    c->bcd = v & 1;
    c->have_count = false;
    c->wmsb = false;
    c->rmsb = false;
    c->count_latched = false;
    c->status_latched = false;
    c->pending = false;
    c->edge_at_start = false;
    c->tc_done = false;
    /* "OUT goes to a known initial state": low in mode 0, high otherwise. */
    c->out_idle = c->mode != 0;
    c->null_until = NO_TICK;
}

/* A second latch command before the first latch was read is ignored. */
static void latch_count(struct vpit_channel *c, uint64_t t)
{
    if (c->count_latched)
        return;
    sync(c, t);
    c->olatch = encode(c, ce(c, t));
    c->count_latched = true;
}

static void latch_status(struct vpit_channel *c, uint64_t t)
{
    if (c->status_latched)
        return;
    sync(c, t);
    c->status = (uint8_t)((out(c, t) ? 0x80 : 0) | (t < c->null_until ? 0x40 : 0) | c->ctrl);
    c->status_latched = true;
}

static uint8_t read_counter(struct vpit_channel *c, uint64_t t)
{
    uint16_t v;
    uint8_t b;

    if (c->status_latched) { /* status comes first after a read-back */
        c->status_latched = false;
        return c->status;
    }
    sync(c, t);
    v = c->count_latched ? c->olatch : encode(c, ce(c, t));
    switch (c->rw) {
    case 1:
        b = (uint8_t)v;
        c->count_latched = false;
        break;
    case 2:
        b = (uint8_t)(v >> 8);
        c->count_latched = false;
        break;
    default:
        if (!c->rmsb) {
            b = (uint8_t)v;
            c->rmsb = true;
        } else {
            b = (uint8_t)(v >> 8);
            c->rmsb = false;
            c->count_latched = false;
        }
        break;
    }
    return b;
}

/* Port 0x61 bit 0 is channel 2's gate. */
static void set_gate(struct vpit_channel *c, bool g, uint64_t t)
{
    if (g == c->gate)
        return;
    sync(c, t);
    c->gate = g;
    switch (c->mode) {
    case 0:
    case 4: /* gate enables counting */
        if (!g)
            pause(c, t);
        else if (c->have_count && !c->running) {
            c->s = t;
            c->v0 = c->hold % modulus(c);
            c->running = true;
        }
        break;
    case 1:
    case 5: /* a rising edge (re)triggers: CE loaded on the next clock */
        if (g && c->have_count) {
            c->out_idle = out(c, t);
            c->hold = ce(c, t);
            c->s = t + 1;
            c->v0 = c->n % modulus(c);
            c->rem = c->n;
            c->tc_done = false;
            c->running = true;
            c->null_until = min_tick(c->null_until, t + 1);
        }
        break;
    default: /* 2, 3: low stops counting and forces OUT high; rising reloads */
        if (!g) {
            if (c->running)
                c->hold = ce(c, t);
            c->running = false;
            c->out_idle = true;
        } else if (c->have_count) {
            c->hold = ce(c, t);
            c->s = t + 1;
            c->running = true;
            c->edge_at_start = false;
            c->out_idle = true;
            c->null_until = min_tick(c->null_until, t + 1);
        }
        if (c->pending) { /* the period was cut short: the new count is next */
            c->n = c->next_n;
            c->pending = false;
        }
        break;
    }
}

/* Deliver channel 0's rising edges in (irq_seen, t]: one pulse at most. */
static void deliver(struct vpit *p, uint64_t t)
{
    struct vpit_channel *c = &p->ch[0];
    uint64_t e;

    sync(c, t);
    if (t <= p->irq_seen)
        return;
    e = next_edge(c, p->irq_seen);
    p->irq_seen = t;
    if (e <= t)
        irq_out_pulse(&p->irq0);
}

void vpit_init(struct vpit *p, const struct irq_out *irq0)
{
    memset(p, 0, sizeof(*p));
    if (irq0)
        p->irq0 = *irq0;
    for (int i = 0; i < 3; i++) {
        struct vpit_channel *c = &p->ch[i];
        c->ctrl = 0x30; /* LSB then MSB, mode 0, binary */
        c->rw = 3;
        c->n = 65536;
        c->gate = i != 2; /* channels 0 and 1: gate tied high */
        c->null_until = NO_TICK;
    }
}

uint8_t vpit_read(struct vpit *p, uint16_t port, vtime_t now)
{
    uint64_t t = tick_of(now);

    switch (port) {
    case 0x40:
    case 0x41:
    case 0x42:
        return read_counter(&p->ch[port - 0x40], t);
    case 0x61:
        sync(&p->ch[2], t);
        return (uint8_t)((p->port61 & 0x0f) | ((now / VPIT_REFRESH_NS) & 1) << 4 |
                         (out(&p->ch[2], t) ? 0x20 : 0));
    default: /* 0x43 is write-only */
        return 0xff;
    }
}

void vpit_write(struct vpit *p, uint16_t port, uint8_t v, vtime_t now)
{
    uint64_t t = tick_of(now);
    unsigned sc = v >> 6;

    /* Edges that happened before this write (the caller was late) are
     * delivered before the counter changes under them. */
    deliver(p, t);
    switch (port) {
    case 0x40:
    case 0x41:
    case 0x42:
        write_counter(&p->ch[port - 0x40], v, t);
        break;
    case 0x43:
        if (sc == 3) { /* read-back: bit 5 = !COUNT, bit 4 = !STATUS, 3:1 = CNT2-0 */
            for (int i = 0; i < 3; i++) {
                if (!(v & (2u << i)))
                    continue;
                if (!(v & 0x20))
                    latch_count(&p->ch[i], t);
                if (!(v & 0x10))
                    latch_status(&p->ch[i], t);
            }
        } else if (!(v & 0x30)) {
            latch_count(&p->ch[sc], t);
        } else {
            control(&p->ch[sc], v, t);
        }
        break;
    case 0x61:
        /* Bits 0-3 are writable (gate 2, speaker data, parity and IOCHK
         * check enables); 4-7 are status. */
        p->port61 = v & 0x0f;
        set_gate(&p->ch[2], v & 1, t);
        break;
    default:
        break;
    }
}

vtime_t vpit_tick(struct vpit *p, vtime_t now)
{
    uint64_t t = tick_of(now), a, e;

    deliver(p, t);
    a = t > p->irq_seen ? t : p->irq_seen;
    e = next_edge(&p->ch[0], a);
    return e == NO_TICK ? VTIME_NEVER : ticks_to_vtime(e, VPIT_HZ);
}
