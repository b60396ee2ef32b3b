/* 16550A UART model. Behaviour follows the PC16550D datasheet (register
 * descriptions, Table IV "Interrupt Control Functions" for IIR priorities
 * and reset conditions); see uart.h for what is and is not modelled. */
#include "uart.h"

#include <string.h>

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */

#define IIR_NONE  0x01
#define IIR_MSI   0x00
#define IIR_THRE  0x02
#define IIR_RDA   0x04
#define IIR_RLS   0x06
#define IIR_CTI   0x0c
#define IIR_FIFO  0xc0

#define FCR_ENABLE 0x01
#define FCR_CLR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_ERRS 0x1e /* OE PE FE BI: cleared by reading LSR */
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static bool fifo_on(const struct vuart *u) { return u->fcr & FCR_ENABLE; }

/* Receiver capacity: the 16-byte FIFO, or the single RBR of 16450 mode. */
static unsigned rx_capacity(const struct vuart *u) { return fifo_on(u) ? VUART_FIFO_SIZE : 1; }

/* FCR bits 7:6 select the RCVR FIFO trigger level: 1, 4, 8 or 14 bytes. */
static unsigned rx_trigger(const struct vuart *u)
{
    static const uint8_t levels[4] = { 1, 4, 8, 14 };
    return levels[u->fcr >> 6];
}

/* The highest-priority pending interrupt, as IIR bits 3:0 (datasheet
 * Table IV): line status > received data / character timeout > THR empty
 * > modem status. */
static uint8_t iir_source(const struct vuart *u)
{
    if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_ERRS))
        return IIR_RLS;
    if ((u->ier & IER_ERBFI) && u->count) {
        if (!fifo_on(u) || u->count >= rx_trigger(u))
            return IIR_RDA;
        /* Data below the trigger level: a real 16550 raises the timeout
         * after 4 character times without FIFO activity. With no bit
         * timing here, it is pending at once. */
        return IIR_CTI;
    }
    if ((u->ier & IER_ETBEI) && u->thre_pending)
        return IIR_THRE;
    if ((u->ier & IER_EDSSI) && (u->msr & 0x0f))
        return IIR_MSI;
    return IIR_NONE;
}

/* PC wiring: the INTR pin reaches the PIC only through the OUT2-gated
 * buffer, and loopback forces the OUT pins inactive (datasheet, MCR bit 4). */
static void update_irq(struct vuart *u)
{
    bool level = iir_source(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_out_set(&u->irq, level);
    }
}

/* MSR bits 7:4 as they are now: the modem inputs, or in loopback the MCR
 * outputs looped back (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD). */
static uint8_t modem_status(const struct vuart *u)
{
    if (!(u->mcr & MCR_LOOP))
        return u->modem_in & 0xf0;
    return (u->mcr & MCR_RTS ? VUART_MSR_CTS : 0) | (u->mcr & MCR_DTR ? VUART_MSR_DSR : 0) |
           (u->mcr & MCR_OUT1 ? VUART_MSR_RI : 0) | (u->mcr & MCR_OUT2 ? VUART_MSR_DCD : 0);
}

/* Recompute MSR 7:4 and latch the deltas: DCTS, DDSR, DDCD on any change;
 * TERI only when RI goes from asserted to deasserted (trailing edge). */
static void update_msr(struct vuart *u)
{
    uint8_t old = u->msr & 0xf0, now = modem_status(u), ch = old ^ now, d = 0;
    if (ch & VUART_MSR_CTS)
        d |= 0x01;
    if (ch & VUART_MSR_DSR)
        d |= 0x02;
    if ((old & VUART_MSR_RI) && !(now & VUART_MSR_RI))
        d |= 0x04;
    if (ch & VUART_MSR_DCD)
        d |= 0x08;
    u->msr = now | (u->msr & 0x0f) | d;
}

static void rx_clear(struct vuart *u)
{
    u->head = 0;
    u->count = 0;
}

/* Put a byte into the receiver; the caller updates the IRQ. */
static bool rx_push(struct vuart *u, uint8_t byte)
{
    if (u->count >= rx_capacity(u)) {
        u->lsr_err |= LSR_OE;
        /* 16450 mode: the new character overwrites RBR. FIFO mode: the
         * character in the shift register is lost, the FIFO is kept. */
        if (!fifo_on(u))
            u->fifo[u->head] = byte;
        return false;
    }
    u->fifo[(u->head + u->count) % VUART_FIFO_SIZE] = byte;
    u->count++;
    return true;
}

void vuart_reset(struct vuart *u)
{
    memset(u->fifo, 0, sizeof(u->fifo));
    rx_clear(u);
    u->rbr = 0;
    u->ier = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->scr = 0;
    u->fcr = 0;
    u->lsr_err = 0;
    /* The divisor latch is undefined after reset; 12 is 9600 baud. */
    u->dll = 12;
    u->dlm = 0;
    u->msr = modem_status(u); /* no deltas after reset */
    u->thre_pending = false;
    update_irq(u);
}

void vuart_init(struct vuart *u, const struct irq_out *irq, vuart_tx_fn tx, void *tx_ctx)
{
    memset(u, 0, sizeof(*u));
    if (irq)
        u->irq = *irq;
    u->tx = tx;
    u->tx_ctx = tx_ctx;
    u->modem_in = VUART_MSR_DCD | VUART_MSR_DSR | VUART_MSR_CTS;
    vuart_reset(u);
}

uint8_t vuart_read(struct vuart *u, unsigned reg)
{
    uint8_t v = 0xff, src;

    switch (reg & 7) {
    case 0:
        if (u->lcr & LCR_DLAB)
            return u->dll;
        if (u->count) {
            u->rbr = u->fifo[u->head];
            u->head = (uint8_t)((u->head + 1) % VUART_FIFO_SIZE);
            u->count--;
        }
        v = u->rbr;
        break;
    case 1:
        return u->lcr & LCR_DLAB ? u->dlm : u->ier;
    case 2:
        src = iir_source(u);
        v = src | (fifo_on(u) ? IIR_FIFO : 0);
        /* Reading IIR while THRE is the reported source clears it. */
        if (src == IIR_THRE)
            u->thre_pending = false;
        break;
    case 3:
        return u->lcr;
    case 4:
        return u->mcr;
    case 5:
        /* Bit 7 (error in RCVR FIFO) stays 0: no parity/framing/break
         * errors are ever received here. */
        v = (u->count ? LSR_DR : 0) | u->lsr_err | LSR_THRE | LSR_TEMT;
        u->lsr_err = 0;
        break;
    case 6:
        v = u->msr;
        u->msr &= 0xf0;
        break;
    case 7:
        return u->scr;
    }
    update_irq(u);
    return v;
}

void vuart_write(struct vuart *u, unsigned reg, uint8_t v)
{
    switch (reg & 7) {
    case 0:
        if (u->lcr & LCR_DLAB) {
            u->dll = v;
            return;
        }
        if (u->mcr & MCR_LOOP)
            rx_push(u, v);
        else if (u->tx)
            u->tx(u->tx_ctx, v);
        /* Writing THR clears the THRE interrupt; the byte leaves at once,
         * THR is empty again, so it is re-armed. */
        u->thre_pending = true;
        break;
    case 1:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
            return;
        }
        /* Enabling ETBEI while THR is empty raises the THRE interrupt
         * (Linux's 8250 driver starts transmission this way). */
        if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
            u->thre_pending = true;
        u->ier = v & 0x0f; /* bits 7:4 are always 0 on a 16550A */
        break;
    case 2:
        if (!(v & FCR_ENABLE)) {
            /* Clearing FCR0 disables and empties both FIFOs; the other
             * bits are only programmed together with FCR0 = 1. */
            if (fifo_on(u))
                rx_clear(u);
            u->fcr = 0;
        } else {
            if (!fifo_on(u) || (v & FCR_CLR_RX))
                rx_clear(u);
            /* Keep enable, DMA mode and trigger level; bits 1, 2 self-clear
             * (the transmit FIFO is always empty), 5:4 are reserved. */
            u->fcr = v & 0xc9;
        }
        break;
    case 3:
        u->lcr = v;
        return;
    case 4:
        u->mcr = v & 0x1f;
        update_msr(u);
        break;
    case 5:
    case 6:
        return; /* LSR and MSR are read-only here (factory test writes) */
    case 7:
        u->scr = v;
        return;
    }
    update_irq(u);
}

bool vuart_rx(struct vuart *u, uint8_t byte)
{
    bool ok;
    if (u->mcr & MCR_LOOP)
        return false; /* serial input disconnected in loopback */
    ok = rx_push(u, byte);
    update_irq(u);
    return ok;
}

unsigned vuart_rx_room(const struct vuart *u)
{
    if (u->mcr & MCR_LOOP)
        return 0;
    return rx_capacity(u) - u->count;
}

void vuart_set_modem(struct vuart *u, uint8_t lines)
{
    u->modem_in = lines & 0xf0;
    update_msr(u);
    update_irq(u);
}
