/* The live input source: a guest run without recording or replay. Virtual
 * time is host time since the guest started (the calibrated TSC), the
 * virtual TSC runs at the host TSC's rate, and clock-device reads pass
 * through. The recorder and replayer (issue 5) implement the same
 * struct vinput_ops, so devices see one interface in every mode.
 *
 * Also the guest console: bytes the guest writes to its UART are shown on
 * the host consoles one line at a time, tagged "guest:". */
#include "../vmm/vm.h"
#include "../kernel/clock.h"
#include "../kernel/log.h"
#include "../kernel/service.h"

static uint64_t start_ns;
static uint64_t vtsc_hz;

static vtime_t live_now(void *ctx)
{
    (void)ctx;
    return clock_ns() - start_ns;
}

static void live_start(void *ctx)
{
    (void)ctx;
    start_ns = clock_ns();
}

static uint64_t live_tsc_hz(void *ctx)
{
    (void)ctx;
    return vtsc_hz;
}

static const struct vinput_ops live_ops = {
    .name = "live (not recorded)",
    .now = live_now,
    .start = live_start,
    .tsc_hz = live_tsc_hz,
};

/* ---- guest console --------------------------------------------------- */

static char line[440]; /* fits the log's 512-byte message with the tag */
static unsigned len;

static void flush(void)
{
    line[len] = 0;
    log_info("guest", "%s", line);
    len = 0;
}

static void console_out(void *ctx, uint8_t c)
{
    (void)ctx;
    if (c == '\n') {
        flush();
        return;
    }
    if (c == '\r' || c == 0)
        return;
    line[len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? (char)c : '?';
    if (len == sizeof(line) - 1)
        flush();
}

static void exited(void *ctx, enum vcpu_stop why, int code, const char *text)
{
    (void)ctx;
    (void)why;
    (void)code;
    (void)text;
    if (len)
        flush();
}

static void drop_partial_line(void *ctx)
{
    (void)ctx;
    len = 0;
}

static const struct vm_events live_events = { console_out, exited, drop_partial_line };

static void live_init(void)
{
    start_ns = clock_ns();
    /* The virtual TSC's rate, rounded to whole kHz so CPUID can state it. */
    vtsc_hz = clock_tsc_hz() / 1000 * 1000;
    vinput_register(&live_ops, NULL);
    vm_events_register(&live_events, NULL);
}

SERVICE(25, ft_live, live_init, NULL);
