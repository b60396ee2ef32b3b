/* uart: interrupt-driven output through the 16550 the way Linux's 8250
 * driver does it: FIFOs on, MCR.OUT2 set (which connects the UART's
 * interrupt to IRQ4), IER.ETBEI set to start transmission; each THRE
 * interrupt (IRQ4 -> 8259 -> vector 0x24) reads IIR, checks LSR.THRE,
 * writes up to 16 bytes (the FIFO size) to THR, and clears ETBEI when the
 * buffer is empty (serial8250_tx_chars / __stop_tx). The main loop halts
 * until the buffer is drained.
 *
 * 50 numbered lines "uart: line N of 50 ..." go out this way; the system
 * test checks that all 50 arrive, in order. Then, polling again, a summary:
 * interrupts taken, bytes per interrupt, no interrupt without a reason. */
#include "rt/rt.h"

#define LINES 50
#define FIFO 16
#define IRQ 4

static char buf[8192];
static volatile unsigned head, tail; /* tail: next byte to send */
static volatile unsigned irqs, none_pending, max_burst, thre_irqs;

static void put(const char *s)
{
    while (*s)
        buf[head++ % sizeof(buf)] = *s++;
}

static void uart_irq(struct rt_frame *f)
{
    (void)f;
    irqs++;
    uint8_t iir = inb(COM1 + 2);
    if (iir & 1) {
        none_pending++; /* shared-IRQ case in Linux: nothing to do */
    } else if ((iir & 0x0f) == 0x02 || (inb(COM1 + 5) & 0x20)) {
        thre_irqs++;
        unsigned n = 0;
        while (n < FIFO && tail != head) {
            outb(COM1, (uint8_t)buf[tail % sizeof(buf)]);
            tail++;
            n++;
        }
        if (n > max_burst)
            max_burst = n;
        if (tail == head)
            outb(COM1 + 1, inb(COM1 + 1) & ~0x02); /* stop_tx: ETBEI off */
    }
    pic_eoi(IRQ);
}

int guest_main(void)
{
    rt_printf("uart: interrupt-driven output of %u lines via IRQ %u\n", LINES, IRQ);
    rt_set_handler(PIC_VECTOR_BASE + IRQ, uart_irq);
    pic_init((uint16_t)~(1u << IRQ));
    outb(COM1 + 2, 0xc7); /* FIFOs on, cleared, trigger 14 */
    outb(COM1 + 4, 0x0b); /* DTR, RTS, OUT2 */
    (void)inb(COM1 + 5);
    (void)inb(COM1 + 2);

    for (unsigned i = 1; i <= LINES; i++) {
        char line[96];
        rt_snprintf(line, sizeof(line), "uart: line %u of %u: the quick brown fox jumps over the lazy dog\n", i,
                    LINES);
        put(line);
    }
    unsigned total = head;
    uint64_t hz = rt_tsc_hz(), t0 = rdtsc();
    outb(COM1 + 1, 0x02); /* start_tx: ETBEI on -> THRE interrupt */
    unsigned halts = 0;
    /* Check with interrupts off, then STI; HLT: no wake-up is lost. */
    while (tail != head && rdtsc() - t0 < hz * 2) {
        sti_hlt();
        cli();
        halts++;
    }
    outb(COM1 + 1, 0x00);
    pic_set_mask(0xffff);

    rt_printf("uart: sent %u of %u bytes in %u interrupts (%u THRE, %u with none pending), at most %u per "
              "interrupt, %u HLTs\n",
              tail, total, irqs, thre_irqs, none_pending, max_burst, halts);
    CHECK(tail == total, "all %u bytes left through THRE interrupts", total);
    CHECK(thre_irqs >= total / FIFO, "at least %u THRE interrupts (%u)", total / FIFO, thre_irqs);
    CHECK(max_burst <= FIFO, "never more than %u bytes per interrupt (%u)", FIFO, max_burst);
    CHECK(none_pending <= 1, "no interrupts without a pending reason (%u)", none_pending);
    CHECK((inb(COM1 + 2) & 1) == 1, "IIR: no interrupt pending with IER = 0");
    return rt_result("uart");
}
