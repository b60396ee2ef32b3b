/* The glue lwIP needs from the kernel (NO_SYS=1): a millisecond clock,
 * diagnostics, assertions and a random source. */
#include "lwip/opt.h"
#include "lwip/sys.h"
#include "../kernel/clock.h"
#include "../kernel/cpu.h"
#include "../kernel/format.h"
#include "../kernel/log.h"
#include "../kernel/panic.h"
#include <stdarg.h>

u32_t sys_now(void) { return (u32_t)(clock_ns() / 1000000); }

void lwip_port_diag(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_debug("lwip", "%s", buf);
}

void lwip_port_assert(const char *msg, int line, const char *file)
{
    panic("lwIP assertion \"%s\" failed at %s:%d", msg, file, line);
}

/* Not cryptographic: lwIP uses it for port numbers and initial sequence
 * numbers. The channel's security rests on its HMAC, not on these. */
uint32_t lwip_port_rand(void)
{
    static uint64_t s;
    if (!s)
        s = rdtsc() | 1;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)(s >> 16);
}
