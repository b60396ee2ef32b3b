/* A 16550A UART (the PC's COM1: base 0x3f8, IRQ 4), modelled from the
 * National Semiconductor PC16550D datasheet.
 *
 * Transmission is instantaneous: every byte written to THR leaves through
 * `tx` at once (or, in loopback, lands in the receiver), so THR and the
 * transmitter are always empty (LSR THRE and TEMT read 1). Reception is
 * driven by the host calling vuart_rx(). There is no bit timing, so the
 * baud rate (divisor latch) and line format (LCR) are stored and read back
 * but change nothing, and the character-timeout interrupt is pending as
 * soon as the receive FIFO holds fewer bytes than the trigger level.
 *
 * The IRQ output is level: asserted while an interrupt is pending and MCR
 * OUT2 is set (the PC gates the INTR pin through OUT2) and the UART is not
 * in loopback (which forces OUT2 inactive, per the datasheet). */
#ifndef VMM_DEV_UART_H
#define VMM_DEV_UART_H

#include "vdev.h"

#define VUART_FIFO_SIZE 16

/* Register offsets from the base port. */
enum {
    VUART_RBR = 0, VUART_THR = 0, VUART_DLL = 0,
    VUART_IER = 1, VUART_DLM = 1,
    VUART_IIR = 2, VUART_FCR = 2,
    VUART_LCR = 3, VUART_MCR = 4, VUART_LSR = 5, VUART_MSR = 6, VUART_SCR = 7,
};

/* Modem status input lines, in their MSR bit positions. */
#define VUART_MSR_CTS 0x10
#define VUART_MSR_DSR 0x20
#define VUART_MSR_RI  0x40
#define VUART_MSR_DCD 0x80

typedef void (*vuart_tx_fn)(void *ctx, uint8_t byte);

struct vuart {
    struct irq_out irq;
    vuart_tx_fn tx;
    void *tx_ctx;

    uint8_t fifo[VUART_FIFO_SIZE]; /* receive FIFO (holds 1 byte in 16450 mode) */
    uint8_t head, count;
    uint8_t rbr;                   /* the last byte read: what RBR shows when empty */

    uint8_t ier, lcr, mcr, scr, dll, dlm;
    uint8_t fcr;                   /* FIFO enable (bit 0) and trigger level (bits 7:6) */
    uint8_t lsr_err;               /* sticky LSR error bits (OE), cleared by reading LSR */
    uint8_t modem_in;              /* external CTS/DSR/RI/DCD levels (MSR bits 7:4) */
    uint8_t msr;                   /* MSR: current status (7:4) and delta bits (3:0) */
    bool thre_pending;             /* the THR-empty interrupt is armed */
    bool irq_level;                /* what the IRQ output was last set to */
};

/* Wire the model and put it in its reset state (as after the MR pin).
 * `irq` is copied; `tx` may be NULL (bytes are then dropped). The modem
 * inputs start as a connected terminal: DCD, DSR and CTS asserted. */
void vuart_init(struct vuart *u, const struct irq_out *irq, vuart_tx_fn tx, void *tx_ctx);

/* Master reset: registers to their datasheet reset values, wiring kept. */
void vuart_reset(struct vuart *u);

/* Guest access at base + reg (reg 0..7; higher values are masked to 3 bits). */
uint8_t vuart_read(struct vuart *u, unsigned reg);
void vuart_write(struct vuart *u, unsigned reg, uint8_t v);

/* A byte arrives on the serial input. Returns false when it could not be
 * stored: the receiver is full (LSR OE is set: in FIFO mode the byte is
 * lost, in 16450 mode it overwrites RBR, as the datasheet says) or the UART
 * is in loopback (its serial input is disconnected; OE is not set). */
bool vuart_rx(struct vuart *u, uint8_t byte);

/* How many bytes vuart_rx() would accept now without overrun (0 in
 * loopback), so the host can hold input back instead of losing it. */
unsigned vuart_rx_room(const struct vuart *u);

/* Set the external modem status inputs (VUART_MSR_* bits; others ignored).
 * Changes set the MSR delta bits and may raise the modem status interrupt. */
void vuart_set_modem(struct vuart *u, uint8_t lines);

#endif
