/* COM1, a 16550-compatible UART at I/O port 0x3f8: 115200 baud, 8N1.
 *
 * Transmit goes through a small queue that the main loop drains as the
 * UART's FIFO empties (serial_poll()): a console line (about 4 ms at
 * 115200 baud) no longer stalls whoever printed it, e.g. the FT pair's
 * primary, which prints the guest's held output when the backup's
 * acknowledgement arrives, usually while its guest computes. The queue is
 * small on purpose (2 KiB, under 0.2 s of the line): output that comes
 * faster than the line carries it waits for the line as before, so the
 * console never trails the guest by more than that. Nothing is dropped;
 * serial_flush() (power-off, halt, panic) drains it all. The wait is
 * bounded: a UART that stops taking bytes is dropped as if absent, so it
 * never hangs the hypervisor. */
#include "console.h"
#include "cpu.h"
#include "service.h"

#define COM1 0x3f8
#define THR 0
#define IER 1
#define FCR 2
#define IIR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define SCR 7
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define QUEUE 2048u

static bool present;
static unsigned burst = 1; /* bytes per THRE: the FIFO's depth (16550A: 16) */
static char queue[QUEUE];
static uint64_t queued, sent; /* bytes put in the queue, bytes given to the UART */

void serial_init(void)
{
    /* Probe with the scratch register: absent ports float to 0xff. */
    outb(COM1 + SCR, 0x5a);
    if (inb(COM1 + SCR) != 0x5a) {
        present = false;
        return;
    }
    outb(COM1 + IER, 0x00);
    outb(COM1 + LCR, 0x80); /* DLAB */
    outb(COM1 + 0, 1);      /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0);
    outb(COM1 + LCR, 0x03); /* 8N1 */
    outb(COM1 + FCR, 0xc7); /* FIFOs on, cleared */
    outb(COM1 + MCR, 0x03); /* DTR, RTS */
    /* IIR bits 7:6 read 11 when the 16-byte FIFOs are on (16550A): THRE
     * then means the whole FIFO is empty. */
    burst = (inb(COM1 + IIR) & 0xc0) == 0xc0 ? 16 : 1;
    present = true;
}

bool serial_present(void) { return present; }
uint64_t serial_queued(void) { return present ? queued : 0; }
uint64_t serial_sent(void) { return present ? sent : 0; }

/* Give the UART what it can take now (a FIFO's worth when it is empty). */
static bool drain_some(void)
{
    if (!present || sent == queued || !(inb(COM1 + LSR) & LSR_THRE))
        return false;
    for (unsigned i = 0; i < burst && sent < queued; i++, sent++)
        outb(COM1 + THR, (uint8_t)queue[sent % QUEUE]);
    return true;
}

/* Wait (bounded) until the UART takes more. */
static void drain_wait(void)
{
    for (int i = 0; i < 100000; i++) {
        if (drain_some())
            return;
        pause();
    }
    /* A UART that takes nothing for this long is broken: from now on the
     * console has no serial port (nothing hangs on it, and the FT pair
     * stops counting its output as shown on it). */
    present = false;
}

static void put(char c)
{
    while (present && queued - sent >= QUEUE)
        drain_wait();
    if (!present)
        return;
    queue[queued % QUEUE] = c;
    queued++;
}

void serial_write(const char *s, size_t n)
{
    if (!present)
        return;
    uint64_t flags = irq_save();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
    drain_some();
    irq_restore(flags);
}

void serial_flush(void)
{
    if (!present)
        return;
    uint64_t flags = irq_save();
    while (present && sent < queued)
        drain_wait();
    irq_restore(flags);
    for (int i = 0; i < 1000000 && !(inb(COM1 + LSR) & LSR_TEMT); i++)
        pause();
}

static bool serial_poll(void)
{
    if (!present)
        return false;
    uint64_t flags = irq_save();
    drain_some();
    irq_restore(flags);
    return false; /* the next pass (at the next interrupt at the latest) drains on */
}

SERVICE(5, serial, NULL, serial_poll);
