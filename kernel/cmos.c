/* The host's battery-backed clock (MC146818-compatible CMOS RTC at ports
 * 0x70/0x71), read once at boot for the wall-clock time. */
#include "cmos.h"
#include "cpu.h"

static uint8_t rd(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static unsigned bcd(uint8_t v, bool binary) { return binary ? v : (v >> 4) * 10 + (v & 15); }

uint64_t cmos_unix_time(void)
{
    /* Wait out an update in progress (register A bit 7), then read twice
     * until two reads agree. */
    uint8_t t[7], u[7];
    for (int tries = 0; tries < 5; tries++) {
        for (int i = 0; i < 100000 && (rd(0x0a) & 0x80); i++)
            pause();
        static const uint8_t regs[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };
        for (int i = 0; i < 7; i++)
            t[i] = rd(regs[i]);
        for (int i = 0; i < 7; i++)
            u[i] = rd(regs[i]);
        bool same = true;
        for (int i = 0; i < 7; i++)
            same &= t[i] == u[i];
        if (same)
            break;
    }
    uint8_t b = rd(0x0b);
    bool binary = b & 4, h24 = b & 2;
    unsigned sec = bcd(t[0], binary), min = bcd(t[1], binary);
    unsigned hour = bcd(t[2] & 0x7f, binary);
    if (!h24 && (t[2] & 0x80))
        hour = (hour % 12) + 12;
    else if (!h24 && hour == 12)
        hour = 0;
    unsigned day = bcd(t[3], binary), mon = bcd(t[4], binary), yr = bcd(t[5], binary);
    unsigned cent = bcd(t[6], binary);
    unsigned year = (cent >= 19 && cent <= 30 ? cent * 100 : 2000) + yr;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970)
        return 0;
    /* Days from the civil date (proleptic Gregorian). */
    unsigned y = year - (mon <= 2), m = mon <= 2 ? mon + 9 : mon - 3;
    uint64_t era = y / 400, yoe = y - era * 400;
    uint64_t doy = (153 * m + 2) / 5 + day - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    uint64_t days = era * 146097 + doe - 719468;
    return days * 86400 + hour * 3600 + min * 60 + sec;
}
