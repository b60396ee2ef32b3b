/* COM1, a 16550-compatible UART at I/O port 0x3f8: 115200 baud, 8N1.
 * Transmit is polled with a bounded wait so a board without a UART (or a
 * stuck one) slows the log down but never hangs the hypervisor. */
#include "console.h"
#include "cpu.h"

#define COM1 0x3f8
#define THR 0
#define IER 1
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define SCR 7
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static bool present;

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
    present = true;
}

bool serial_present(void) { return present; }

static void put(char c)
{
    for (int i = 0; i < 100000; i++) {
        if (inb(COM1 + LSR) & LSR_THRE) {
            outb(COM1 + THR, (uint8_t)c);
            return;
        }
        pause();
    }
}

void serial_write(const char *s, size_t n)
{
    if (!present)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
}

void serial_flush(void)
{
    if (!present)
        return;
    for (int i = 0; i < 1000000 && !(inb(COM1 + LSR) & LSR_TEMT); i++)
        pause();
}
