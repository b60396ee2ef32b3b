#include "log.h"
#include "format.h"
#include "console.h"
#include "clock.h"
#include "cpu.h"
#include <string.h>

static enum log_level level = LOG_INFO;
static char ring[16384];
static size_t ring_head; /* total bytes ever written */

void log_set_level(enum log_level lvl) { level = lvl; }

static void ring_put(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ring[(ring_head + i) % sizeof(ring)] = s[i];
    ring_head += n;
}

size_t log_ring_read(char *buf, size_t size)
{
    uint64_t flags = irq_save();
    size_t avail = ring_head < sizeof(ring) ? ring_head : sizeof(ring);
    if (avail > size)
        avail = size;
    size_t start = ring_head - avail;
    for (size_t i = 0; i < avail; i++)
        buf[i] = ring[(start + i) % sizeof(ring)];
    irq_restore(flags);
    /* Drop a partial first line. */
    size_t skip = 0;
    if (start && avail) {
        while (skip < avail && buf[skip] != '\n')
            skip++;
        skip = skip < avail ? skip + 1 : 0;
        memmove(buf, buf + skip, avail - skip);
    }
    return avail - skip;
}

void log_vmsg(enum log_level lvl, const char *subsys, const char *fmt, va_list ap)
{
    if (lvl > level)
        return;
    char msg[512], line[600];
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = log_format_line(line, sizeof(line), clock_ns(), lvl, subsys, msg);
    uint64_t flags = irq_save();
    ring_put(line, n);
    console_write(line, n);
    irq_restore(flags);
}

void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, subsys, fmt, ap);
    va_end(ap);
}

void kprintf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    uint64_t flags = irq_save();
    size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    ring_put(buf, len);
    console_write(buf, len);
    irq_restore(flags);
}
