/* vmm/dev/uart.c: the 16550A model, exercised the way Linux's 8250 driver
 * probes and drives it. */
#include "test.h"
#include "../../vmm/dev/uart.h"

struct rec {
    int level, sets, raises;
    unsigned irq;
    uint8_t tx[64];
    int ntx;
};

static void rec_irq(void *ctx, unsigned irq, int level)
{
    struct rec *r = ctx;
    r->sets++;
    if (level && !r->level)
        r->raises++;
    r->level = level;
    r->irq = irq;
}

static void rec_tx(void *ctx, uint8_t b)
{
    struct rec *r = ctx;
    if (r->ntx < (int)sizeof(r->tx))
        r->tx[r->ntx] = b;
    r->ntx++;
}

static void setup(struct vuart *u, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    struct irq_out o = { rec_irq, r, 4 };
    vuart_init(u, &o, rec_tx, r);
}

TEST(reset_state)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x60);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x01);
    CHECK_EQ(vuart_read(&u, VUART_IER), 0);
    CHECK_EQ(vuart_read(&u, VUART_LCR), 0);
    CHECK_EQ(vuart_read(&u, VUART_MCR), 0);
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0xb0); /* DCD DSR CTS, no deltas */
    CHECK_EQ(r.sets, 0);
}

/* autoconfig(): IER must read back 0 and 0x0f; scratch register. */
TEST(linux_probe_ier_and_scratch)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_IER, 0);
    CHECK_EQ(vuart_read(&u, VUART_IER) & 0x0f, 0);
    vuart_write(&u, VUART_IER, 0x0f);
    CHECK_EQ(vuart_read(&u, VUART_IER) & 0x0f, 0x0f);
    vuart_write(&u, VUART_IER, 0xff); /* UUE (bit 6) etc. do not stick on a 16550A */
    CHECK_EQ(vuart_read(&u, VUART_IER), 0x0f);
    vuart_write(&u, VUART_IER, 0);
    vuart_write(&u, VUART_SCR, 0x55);
    CHECK_EQ(vuart_read(&u, VUART_SCR), 0x55);
    vuart_write(&u, VUART_SCR, 0xaa);
    CHECK_EQ(vuart_read(&u, VUART_SCR), 0xaa);
}

TEST(dlab_divisor_latch)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_IER, 0x05);
    vuart_write(&u, VUART_LCR, 0x83); /* DLAB, 8N1 */
    vuart_write(&u, VUART_DLL, 0x01); /* 115200 baud */
    vuart_write(&u, VUART_DLM, 0x00);
    CHECK_EQ(vuart_read(&u, VUART_DLL), 0x01);
    CHECK_EQ(vuart_read(&u, VUART_DLM), 0x00);
    CHECK_EQ(r.ntx, 0); /* the DLL write is not a THR write */
    vuart_write(&u, VUART_LCR, 0x03);
    CHECK_EQ(vuart_read(&u, VUART_LCR), 0x03);
    CHECK_EQ(vuart_read(&u, VUART_IER), 0x05); /* IER untouched by the DLM write */
    vuart_write(&u, VUART_LCR, 0x80);
    CHECK_EQ(vuart_read(&u, VUART_DLL), 0x01);
}

TEST(fifo_enable_shows_in_iir)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_FCR, 0x01);
    CHECK_EQ(vuart_read(&u, VUART_IIR) >> 6, 3); /* 16550A */
    vuart_write(&u, VUART_FCR, 0x21);            /* 16750 64-byte bit: not here */
    CHECK_EQ(vuart_read(&u, VUART_IIR) >> 5, 6);
    vuart_write(&u, VUART_FCR, 0x00);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x01);
}

TEST(loopback_test)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_MCR, 0x1a); /* LOOP | OUT2 | RTS */
    CHECK_EQ(vuart_read(&u, VUART_MSR) & 0xf0, 0x90); /* DCD | CTS */
    vuart_write(&u, VUART_MCR, 0x1f);
    CHECK_EQ(vuart_read(&u, VUART_MSR) & 0xf0, 0xf0);
    vuart_write(&u, VUART_MCR, 0x10);
    CHECK_EQ(vuart_read(&u, VUART_MSR) & 0xf0, 0x00);
    vuart_write(&u, VUART_THR, 0x5a);
    CHECK_EQ(r.ntx, 0);
    CHECK_EQ(vuart_read(&u, VUART_LSR) & 0x01, 1);
    CHECK_EQ(vuart_read(&u, VUART_RBR), 0x5a);
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x60);
    /* the serial input is disconnected in loopback */
    CHECK(!vuart_rx(&u, 0x11));
    CHECK_EQ(vuart_rx_room(&u), 0);
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x60);
    vuart_write(&u, VUART_MCR, 0x0b);
    CHECK_EQ(vuart_read(&u, VUART_MSR) & 0xf0, 0xb0); /* back to the real inputs */
    vuart_write(&u, VUART_THR, 'x');
    CHECK_EQ(r.ntx, 1);
    CHECK_EQ(r.tx[0], 'x');
}

TEST(loopback_msr_deltas)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_MCR, 0x10);
    vuart_read(&u, VUART_MSR); /* drop the deltas of the switch */
    vuart_write(&u, VUART_MCR, 0x14); /* OUT1 -> RI asserted */
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0x40); /* RI, no TERI on the leading edge */
    vuart_write(&u, VUART_MCR, 0x10);
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0x04); /* TERI on the trailing edge */
    vuart_write(&u, VUART_MCR, 0x13);
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0x33); /* CTS DSR, DCTS DDSR */
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0x30);
}

TEST(transmit_goes_out_in_order)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    const char *s = "hello\n";
    for (const char *p = s; *p; p++) {
        CHECK_EQ(vuart_read(&u, VUART_LSR) & 0x60, 0x60);
        vuart_write(&u, VUART_THR, (uint8_t)*p);
    }
    CHECK_EQ(r.ntx, 6);
    CHECK(memcmp(r.tx, s, 6) == 0);
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x60);
}

TEST(thre_interrupt_raise_clear_rearm)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_MCR, 0x0b); /* DTR RTS OUT2 */
    CHECK_EQ(r.level, 0);
    vuart_write(&u, VUART_IER, 0x02);
    CHECK_EQ(r.level, 1);
    CHECK_EQ(r.irq, 4);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x02);
    CHECK_EQ(r.level, 0); /* reading IIR with THRE as the source clears it */
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x01);
    vuart_write(&u, VUART_THR, 'a'); /* clears then re-arms: the byte left */
    CHECK_EQ(r.level, 1);
    CHECK_EQ(r.ntx, 1);
    vuart_write(&u, VUART_IER, 0x00);
    CHECK_EQ(r.level, 0);
    vuart_write(&u, VUART_IER, 0x02); /* re-enabling with THR empty raises it again */
    CHECK_EQ(r.level, 1);
    vuart_write(&u, VUART_IER, 0x02); /* no edge of ETBEI: nothing new */
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x02);
    vuart_write(&u, VUART_IER, 0x02);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x01);
    CHECK_EQ(r.sets, 6); /* every call was a change */
}

/* serial8250_do_startup's THRE re-assertion test. */
TEST(linux_thre_reassert_test)
{
    struct vuart u;
    struct rec r;
    uint8_t iir1, iir;
    setup(&u, &r);
    vuart_write(&u, VUART_FCR, 0x07);
    vuart_write(&u, VUART_IER, 0x02);
    iir1 = vuart_read(&u, VUART_IIR);
    vuart_write(&u, VUART_IER, 0);
    vuart_write(&u, VUART_IER, 0x02);
    iir = vuart_read(&u, VUART_IIR);
    vuart_write(&u, VUART_IER, 0);
    CHECK(!(iir1 & 1));
    CHECK(!(iir & 1));
    /* UART_BUG_TXEN test: THRI, LSR, IIR must show the interrupt */
    vuart_write(&u, VUART_IER, 0x02);
    CHECK(vuart_read(&u, VUART_LSR) & 0x40);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0xc2);
}

TEST(out2_gates_irq_line)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_IER, 0x01);
    CHECK(vuart_rx(&u, 'k'));
    CHECK_EQ(r.sets, 0); /* pending, but OUT2 is low */
    CHECK_EQ(vuart_read(&u, VUART_IIR) & 0x0f, 0x04);
    vuart_write(&u, VUART_MCR, 0x08);
    CHECK_EQ(r.level, 1);
    vuart_write(&u, VUART_MCR, 0x00);
    CHECK_EQ(r.level, 0);
    vuart_write(&u, VUART_MCR, 0x08);
    CHECK_EQ(r.level, 1);
    vuart_write(&u, VUART_MCR, 0x18); /* loopback forces OUT2 inactive */
    CHECK_EQ(r.level, 0);
    vuart_write(&u, VUART_MCR, 0x08);
    CHECK_EQ(r.level, 1);
    CHECK_EQ(vuart_read(&u, VUART_RBR), 'k');
    CHECK_EQ(r.level, 0);
    CHECK_EQ(r.sets, 6);
}

TEST(rx_fifo_trigger_levels)
{
    static const uint8_t fcr[4] = { 0x01, 0x41, 0x81, 0xc1 };
    static const int trig[4] = { 1, 4, 8, 14 };
    for (int t = 0; t < 4; t++) {
        struct vuart u;
        struct rec r;
        setup(&u, &r);
        vuart_write(&u, VUART_FCR, fcr[t]);
        vuart_write(&u, VUART_MCR, 0x08);
        vuart_write(&u, VUART_IER, 0x01);
        CHECK_EQ(vuart_read(&u, VUART_IIR), 0xc1);
        for (int i = 1; i <= 16; i++) {
            CHECK(vuart_rx(&u, (uint8_t)i));
            /* below the trigger: character timeout (IIR 0xcc); at or above: RDA */
            CHECK_EQ(vuart_read(&u, VUART_IIR), i >= trig[t] ? 0xc4 : 0xcc);
            CHECK_EQ(r.level, 1);
        }
        for (int i = 1; i <= 16; i++) {
            CHECK_EQ(vuart_read(&u, VUART_RBR), i);
            int left = 16 - i;
            CHECK_EQ(vuart_read(&u, VUART_IIR), !left ? 0xc1 : left >= trig[t] ? 0xc4 : 0xcc);
        }
        CHECK_EQ(r.level, 0);
        CHECK_EQ(vuart_read(&u, VUART_RBR), 16); /* empty: RBR repeats */
    }
}

TEST(fifo_clear_and_disable)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_FCR, 0x01);
    for (int i = 0; i < 5; i++)
        vuart_rx(&u, (uint8_t)i);
    CHECK_EQ(vuart_rx_room(&u), 11);
    vuart_write(&u, VUART_FCR, 0x03); /* clear RCVR FIFO */
    CHECK_EQ(vuart_read(&u, VUART_LSR) & 1, 0);
    vuart_rx(&u, 9);
    vuart_write(&u, VUART_FCR, 0x00); /* disabling empties it too */
    CHECK_EQ(vuart_read(&u, VUART_LSR) & 1, 0);
    CHECK_EQ(vuart_rx_room(&u), 1);
}

TEST(rx_overrun_fifo_mode)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_FCR, 0xc7);
    vuart_write(&u, VUART_MCR, 0x08);
    vuart_write(&u, VUART_IER, 0x05); /* RDA + line status */
    for (int i = 0; i < 16; i++)
        CHECK(vuart_rx(&u, (uint8_t)('a' + i)));
    CHECK_EQ(vuart_rx_room(&u), 0);
    CHECK(!vuart_rx(&u, 'X'));
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0xc6); /* line status beats data */
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x63); /* OE DR THRE TEMT */
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x61); /* OE cleared by the read */
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0xc4);
    for (int i = 0; i < 16; i++)
        CHECK_EQ(vuart_read(&u, VUART_RBR), 'a' + i); /* the FIFO kept its bytes */
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x60);
    CHECK_EQ(r.level, 0);
}

TEST(rx_overrun_16450_mode)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    CHECK_EQ(vuart_rx_room(&u), 1);
    CHECK(vuart_rx(&u, 'a'));
    CHECK(!vuart_rx(&u, 'b'));                  /* overwrites RBR */
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x63);
    CHECK_EQ(vuart_read(&u, VUART_RBR), 'b');
    CHECK_EQ(vuart_read(&u, VUART_LSR), 0x60);
}

TEST(modem_status_interrupt)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_MCR, 0x08);
    vuart_write(&u, VUART_IER, 0x08);
    CHECK_EQ(r.level, 0);
    vuart_set_modem(&u, VUART_MSR_DCD | VUART_MSR_DSR); /* CTS drops */
    CHECK_EQ(r.level, 1);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x00);
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0xa1);
    CHECK_EQ(r.level, 0);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x01);
    vuart_set_modem(&u, VUART_MSR_DCD | VUART_MSR_DSR | VUART_MSR_RI);
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0xe0); /* RI rising: no TERI */
    vuart_set_modem(&u, VUART_MSR_DCD | VUART_MSR_DSR);
    CHECK_EQ(vuart_read(&u, VUART_MSR), 0xa4);
}

TEST(interrupt_priority_order)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_MCR, 0x08);
    vuart_write(&u, VUART_IER, 0x0f);
    vuart_set_modem(&u, 0);       /* modem status pending */
    vuart_rx(&u, 1);
    vuart_rx(&u, 2);              /* overrun (16450 mode) */
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x06);
    vuart_read(&u, VUART_LSR);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x04);
    vuart_read(&u, VUART_RBR);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x02);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x00);
    vuart_read(&u, VUART_MSR);
    CHECK_EQ(vuart_read(&u, VUART_IIR), 0x01);
    CHECK_EQ(r.level, 0);
}

TEST(reset_keeps_wiring)
{
    struct vuart u;
    struct rec r;
    setup(&u, &r);
    vuart_write(&u, VUART_MCR, 0x08);
    vuart_write(&u, VUART_IER, 0x02);
    CHECK_EQ(r.level, 1);
    vuart_reset(&u);
    CHECK_EQ(r.level, 0);
    vuart_write(&u, VUART_THR, 'z');
    CHECK_EQ(r.ntx, 1);
}

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static void count_irq(void *ctx, unsigned irq, int level)
{
    int *lvl = ctx;
    /* assert/deassert only on changes */
    if (*lvl == level)
        *lvl = -1;
    else if (*lvl >= 0)
        *lvl = level;
}

static void sink_tx(void *ctx, uint8_t b) { (void)ctx; (void)b; }

TEST(fuzz_robustness)
{
    struct vuart u;
    int lvl = 0;
    struct irq_out o = { count_irq, &lvl, 4 };
    vuart_init(&u, &o, sink_tx, NULL);
    rng_state = 0x5eed;
    for (int i = 0; i < 100000; i++) {
        uint32_t x = rnd();
        unsigned reg = x & 0xff; /* also out-of-range offsets */
        uint8_t v = (uint8_t)(x >> 8);
        switch ((x >> 16) % 6) {
        case 0:
        case 1:
            vuart_write(&u, reg, v);
            break;
        case 2:
        case 3:
            vuart_read(&u, reg);
            break;
        case 4:
            vuart_rx(&u, v);
            break;
        default:
            if ((x >> 20) % 8 == 0)
                vuart_set_modem(&u, v);
            else if ((x >> 20) % 64 == 1)
                vuart_reset(&u);
            break;
        }
        CHECK(u.count <= VUART_FIFO_SIZE);
        CHECK(u.head < VUART_FIFO_SIZE);
        CHECK(vuart_rx_room(&u) <= VUART_FIFO_SIZE);
        CHECK(lvl >= 0);
        CHECK_EQ(lvl, u.irq_level);
        CHECK_EQ(u.ier & 0xf0, 0);
        CHECK_EQ(u.mcr & 0xe0, 0);
        if (test_failed_now)
            break;
    }
}

int main(void) { return test_main(); }
