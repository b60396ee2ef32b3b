/* MC146818A RTC/CMOS model, from the Motorola MC146818A datasheet:
 * registers A-D, the update cycle and UIP, the periodic, alarm and
 * update-ended interrupts, BCD/binary and 12/24-hour formats. See rtc.h. */
#include "rtc.h"

#include <string.h>

#define NS 1000000000ull
#define TIMEBASE_HZ 32768u             /* DV = 010: 32.768 kHz crystal */
#define UIP_NS 244141u                 /* 244 us = 8 time-base cycles */
#define SECS_MAX 253402300799ll        /* 9999-12-31 23:59:59 */
#define DAYS_0001_TO_1970 719162

#define A_UIP 0x80
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM  0x04 /* 1 = binary */
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

/* ------------------------------------------------------------ calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

/* Gregorian: every 4th year, except centuries not divisible by 400. */
static bool leap(int64_t y)
{
    return (floor_mod(y, 4) == 0 && floor_mod(y, 100) != 0) || floor_mod(y, 400) == 0;
}

/* Days before the first of each month in a common year. */
static const uint16_t month_start[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };

static unsigned month_days(int64_t y, unsigned m)
{
    return (m == 12 ? 365u : month_start[m]) - month_start[m - 1] + (m == 2 && leap(y));
}

/* Days from 1970-01-01 to y-m-d: 365 a year plus the leap days of the
 * years before y, counted from 0001-01-01. */
static int64_t days_from_date(int64_t y, unsigned m, unsigned d)
{
    int64_t p = y - 1;
    int64_t days = 365 * p + floor_div(p, 4) - floor_div(p, 100) + floor_div(p, 400);
    days += month_start[m - 1] + (m > 2 && leap(y)) + ((int64_t)d - 1);
    return days - DAYS_0001_TO_1970;
}

/* The inverse: peel off 400-, 100-, 4- and 1-year blocks (146097, 36524,
 * 1461, 365 days) from 0001-01-01; the last block of each kind is one day
 * longer, hence the clamps. */
static void date_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t n = days + DAYS_0001_TO_1970;
    int64_t q400 = floor_div(n, 146097), r = n - q400 * 146097, q100, q4, q1;
    unsigned mm = 1;
    bool lp;

    q100 = r / 36524;
    if (q100 == 4)
        q100 = 3;
    r -= q100 * 36524;
    q4 = r / 1461;
    r -= q4 * 1461;
    q1 = r / 365;
    if (q1 == 4)
        q1 = 3;
    r -= q1 * 365;
    *y = 1 + 400 * q400 + 100 * q100 + 4 * q4 + q1;
    lp = leap(*y);
    while (mm < 12 && r >= month_start[mm] + (mm >= 2 && lp))
        mm++;
    *m = mm;
    *d = (unsigned)(r - month_start[mm - 1] - (mm > 2 && lp)) + 1;
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static unsigned weekday(int64_t days) { return (unsigned)floor_mod(days + 4, 7); }

static void to_fields(const struct vrtc *r, int64_t secs, struct vrtc_fields *f)
{
    int64_t days = floor_div(secs, 86400), sod = secs - days * 86400, y;
    unsigned m, d;

    date_from_days(days, &y, &m, &d);
    f->sec = (uint8_t)(sod % 60);
    f->min = (uint8_t)(sod / 60 % 60);
    f->hour = (uint8_t)(sod / 3600);
    f->dow = (uint8_t)((weekday(days) + r->dow_off) % 7 + 1);
    f->mday = (uint8_t)d;
    f->mon = (uint8_t)m;
    f->yy = (uint8_t)floor_mod(y, 100);
    f->cc = (uint8_t)floor_mod(floor_div(y, 100), 100);
}

/* Set the clock from fields (all within their ranges; the date is clamped
 * to the month). The weekday register keeps its own value as an offset. */
static void from_fields(struct vrtc *r, const struct vrtc_fields *f)
{
    int64_t y = f->cc * 100 + f->yy, days;
    unsigned md = month_days(y, f->mon), d = f->mday > md ? md : f->mday;

    days = days_from_date(y, f->mon, d);
    r->secs = days * 86400 + f->hour * 3600 + f->min * 60 + f->sec;
    r->dow_off = (uint8_t)floor_mod((int64_t)f->dow - 1 - weekday(days), 7);
}

/* ------------------------------------------------------ register format ---- */

static uint8_t enc(const struct vrtc *r, unsigned v)
{
    return (r->b & B_DM) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned dec(const struct vrtc *r, uint8_t v)
{
    return (r->b & B_DM) ? v : (v >> 4) * 10u + (v & 15);
}

static unsigned clampu(unsigned v, unsigned lo, unsigned hi) { return v < lo ? lo : v > hi ? hi : v; }

/* 12-hour mode: 1-12 with bit 7 = PM (datasheet Table 3). */
static uint8_t enc_hour(const struct vrtc *r, unsigned h)
{
    if (r->b & B_24H)
        return enc(r, h);
    return (uint8_t)(enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct vrtc *r, uint8_t v)
{
    if (r->b & B_24H)
        return clampu(dec(r, v), 0, 23);
    return clampu(dec(r, v & 0x7f), 1, 12) % 12 + (v & 0x80 ? 12 : 0);
}

/* ---------------------------------------------------------------- time ---- */

static vtime_t sat_add(vtime_t a, uint64_t b) { return a + b < a ? VTIME_NEVER : a + b; }

/* The divider chain runs only with DV = 010. */
static bool running(const struct vrtc *r) { return ((r->a >> 4) & 7) == 2; }

/* 32.768 kHz cycles since an origin on a second boundary (phase - 1 s). */
static uint64_t cycles(const struct vrtc *r, vtime_t now)
{
    return vtime_to_ticks(sat_add(now, NS - r->phase), TIMEBASE_HZ);
}

/* Periodic interrupt period in time-base cycles: RS 3-15 tap 2^(RS-1);
 * RS 1 and 2 repeat the 256 and 128 Hz taps (datasheet Table 5). */
static uint64_t period_cycles(unsigned rs) { return rs <= 2 ? 1u << (rs + 6) : 1u << (rs - 1); }

/* Alarm registers 1, 3, 5: a value of 0xc0-0xff matches anything. */
static bool alarm_match(const struct vrtc *r, int64_t secs)
{
    int64_t sod = floor_mod(secs, 86400);
    uint8_t now[3] = { enc(r, (unsigned)(sod % 60)), enc(r, (unsigned)(sod / 60 % 60)),
                       enc_hour(r, (unsigned)(sod / 3600)) };
    for (int i = 0; i < 3; i++) {
        uint8_t a = r->nvram[1 + 2 * i];
        if ((a & 0xc0) != 0xc0 && a != now[i])
            return false;
    }
    return true;
}

/* Bring the clock and the flags of register C up to `now`. */
static void advance(struct vrtc *r, vtime_t now)
{
    uint64_t c, p, k, i, n;
    unsigned rs = r->a & 15;

    if (!running(r))
        return;
    c = cycles(r, now);
    if (c > r->pf_seen) {
        p = rs ? period_cycles(rs) : 0;
        if (p && c / p > r->pf_seen / p)
            r->c |= C_PF;
        r->pf_seen = c;
    }
    if (now < r->next_upd)
        return;
    k = (now - r->next_upd) / NS + 1; /* update cycles due */
    if (!(r->b & B_SET)) {
        /* An alarm within the elapsed seconds; any h:m:s recurs within a
         * day, so a longer gap needs no more than a day's checks. */
        if (!(r->c & C_AF)) {
            n = k < 86400 ? k : 86400;
            for (i = 1; i <= n; i++) {
                if (alarm_match(r, r->secs + (int64_t)i)) {
                    r->c |= C_AF;
                    break;
                }
            }
        }
        r->secs += (int64_t)k;
        r->c |= C_UF;
    }
    r->next_upd = sat_add(r->next_upd, k * NS);
}

static bool uip(const struct vrtc *r, vtime_t now)
{
    return running(r) && !(r->b & B_SET) && now < r->next_upd && r->next_upd - now <= UIP_NS;
}

/* IRQF = PF.PIE + AF.AIE + UF.UIE (flag and enable bits share positions). */
static uint8_t irqf(const struct vrtc *r)
{
    return (r->c & r->b & (C_PF | C_AF | C_UF)) ? C_IRQF : 0;
}

static void update_irq(struct vrtc *r)
{
    bool level = irqf(r) != 0;
    if (level != r->irq_level) {
        r->irq_level = level;
        irq_out_set(&r->irq, level);
    }
}

/* ----------------------------------------------------------- registers ---- */

static bool is_time_reg(unsigned idx)
{
    return idx == 0x00 || idx == 0x02 || idx == 0x04 || (idx >= 0x06 && idx <= 0x09) || idx == 0x32;
}

static void current_fields(const struct vrtc *r, struct vrtc_fields *f)
{
    if (r->b & B_SET)
        *f = r->set;
    else
        to_fields(r, r->secs, f);
}

static uint8_t time_read(const struct vrtc *r, unsigned idx)
{
    struct vrtc_fields f;

    current_fields(r, &f);
    switch (idx) {
    case 0x00: return enc(r, f.sec);
    case 0x02: return enc(r, f.min);
    case 0x04: return enc_hour(r, f.hour);
    case 0x06: return enc(r, f.dow);
    case 0x07: return enc(r, f.mday);
    case 0x08: return enc(r, f.mon);
    case 0x09: return enc(r, f.yy);
    default:   return enc(r, f.cc);
    }
}

/* With SET = 1 the write goes to the frozen registers, committed when SET
 * is cleared; with SET = 0 it takes effect at once (clock keeps running). */
static void time_write(struct vrtc *r, unsigned idx, uint8_t v)
{
    struct vrtc_fields f;

    current_fields(r, &f);
    switch (idx) {
    case 0x00: f.sec = (uint8_t)clampu(dec(r, v), 0, 59); break;
    case 0x02: f.min = (uint8_t)clampu(dec(r, v), 0, 59); break;
    case 0x04: f.hour = (uint8_t)dec_hour(r, v); break;
    case 0x06: f.dow = (uint8_t)clampu(dec(r, v), 1, 7); break;
    case 0x07: f.mday = (uint8_t)clampu(dec(r, v), 1, 31); break;
    case 0x08: f.mon = (uint8_t)clampu(dec(r, v), 1, 12); break;
    case 0x09: f.yy = (uint8_t)clampu(dec(r, v), 0, 99); break;
    default:   f.cc = (uint8_t)clampu(dec(r, v), 0, 99); break;
    }
    if (r->b & B_SET)
        r->set = f;
    else
        from_fields(r, &f);
}

static uint8_t reg_read(struct vrtc *r, unsigned idx, vtime_t now)
{
    uint8_t v;

    if (is_time_reg(idx))
        return time_read(r, idx);
    switch (idx) {
    case 0x0a:
        return (uint8_t)(r->a | (uip(r, now) ? A_UIP : 0));
    case 0x0b:
        return r->b;
    case 0x0c: /* reading C clears all flags and releases IRQ */
        v = (uint8_t)(r->c | irqf(r));
        r->c = 0;
        return v;
    case 0x0d: /* VRT: the battery is fine */
        return 0x80;
    default:
        return r->nvram[idx];
    }
}

static void reg_write(struct vrtc *r, unsigned idx, uint8_t v, vtime_t now)
{
    bool was;

    if (is_time_reg(idx)) {
        time_write(r, idx, v);
        return;
    }
    switch (idx) {
    case 0x0a: /* UIP is read-only */
        was = running(r);
        r->a = v & 0x7f;
        if (!was && running(r)) {
            /* Released from divider reset: the first update cycle comes
             * half a second later; the chain restarts from there. */
            r->next_upd = sat_add(now, NS / 2);
            r->phase = (uint32_t)(r->next_upd % NS);
            r->pf_seen = cycles(r, now);
        }
        break;
    case 0x0b:
        if ((v & B_SET) && !(r->b & B_SET)) {
            /* SET stops updates and freezes the registers for setting;
             * SET going high also clears UIE (MC146818A, and the
             * compatible DS12887 says so explicitly). */
            to_fields(r, r->secs, &r->set);
            v &= (uint8_t)~B_UIE;
        } else if (!(v & B_SET) && (r->b & B_SET)) {
            from_fields(r, &r->set);
        }
        r->b = v;
        break;
    case 0x0c:
    case 0x0d: /* read-only */
        break;
    default:
        r->nvram[idx] = v;
        break;
    }
}

/* ----------------------------------------------------------------- API ---- */

void vrtc_init(struct vrtc *r, const struct irq_out *irq, uint64_t epoch_seconds)
{
    memset(r, 0, sizeof(*r));
    if (irq)
        r->irq = *irq;
    r->a = 0x26;
    r->b = B_24H;
    r->secs = epoch_seconds > (uint64_t)SECS_MAX ? SECS_MAX : (int64_t)epoch_seconds;
    r->phase = 0;
    r->next_upd = NS;
    r->pf_seen = cycles(r, 0);
    to_fields(r, r->secs, &r->set);
}

uint8_t vrtc_read(struct vrtc *r, uint16_t port, vtime_t now)
{
    uint8_t v;

    if (port != 0x71)
        return 0xff; /* 0x70 is write-only */
    advance(r, now);
    v = reg_read(r, r->index, now);
    update_irq(r);
    return v;
}

void vrtc_write(struct vrtc *r, uint16_t port, uint8_t v, vtime_t now)
{
    if (port == 0x70) {
        r->index = v & 0x7f;
        r->nmi_masked = v & 0x80;
        return;
    }
    if (port != 0x71)
        return;
    advance(r, now);
    reg_write(r, r->index, v, now);
    update_irq(r);
}

vtime_t vrtc_tick(struct vrtc *r, vtime_t now)
{
    vtime_t d = VTIME_NEVER, t;
    unsigned rs = r->a & 15;
    uint64_t p, j;

    advance(r, now);
    update_irq(r);
    if (!running(r))
        return VTIME_NEVER;
    if ((r->b & B_PIE) && !(r->c & C_PF) && rs) {
        p = period_cycles(rs);
        j = cycles(r, now) / p + 1;
        t = ticks_to_vtime(j * p, TIMEBASE_HZ);
        if (t != VTIME_NEVER && t - (NS - r->phase) < d)
            d = t - (NS - r->phase);
    }
    if (!(r->b & B_SET) && (((r->b & B_UIE) && !(r->c & C_UF)) || ((r->b & B_AIE) && !(r->c & C_AF))) &&
        r->next_upd < d)
        d = r->next_upd;
    return d;
}

bool vrtc_nmi_masked(const struct vrtc *r)
{
    return r->nmi_masked;
}
