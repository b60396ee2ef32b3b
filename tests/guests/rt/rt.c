/* The test-guest runtime (rt.h): console, printf, checks, IDT and traps,
 * page mapping, PIC, PIT, local APIC and TSC helpers. */
#include "rt.h"

unsigned rt_checks, rt_failures;
volatile int rt_fault_vector = RT_NO_FAULT;
volatile uint64_t rt_fault_error;

/* ---- small libc ---------------------------------------------------------------- */

/* Not turned back into calls to themselves by the loop optimiser. */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LIBCALL void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

NO_LIBCALL void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (uint8_t)*a - (uint8_t)*b;
}

/* ---- console ------------------------------------------------------------------------ */

static enum rt_console console = RT_CONSOLE_UART;
static char hc_line[256];
static size_t hc_len;

static void hc_flush(void)
{
    if (hc_len)
        hc_print(hc_line, hc_len);
    hc_len = 0;
}

void rt_set_console(enum rt_console c)
{
    hc_flush();
    console = c;
}

static void uart_putc(char c)
{
    /* LSR bit 5: transmitter holding register empty. */
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        cpu_pause();
    outb(COM1, (uint8_t)c);
}

void rt_putc(char c)
{
    if (console == RT_CONSOLE_HYPERCALL) {
        hc_line[hc_len++] = c;
        if (c == '\n' || hc_len == sizeof(hc_line))
            hc_flush();
        return;
    }
    uart_putc(c);
}

void rt_puts(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

static void uart_init(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFOs on and cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS; OUT2 off: no IRQ */
}

/* ---- printf ------------------------------------------------------------------------ */

struct sink {
    char *buf; /* NULL: the console */
    size_t n, len;
};

static void emit(struct sink *s, char c)
{
    if (!s->buf)
        rt_putc(c);
    else if (s->len + 1 < s->n)
        s->buf[s->len] = c;
    s->len++;
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(s, *fmt);
            continue;
        }
        fmt++;
        bool left = false, zero = false;
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                zero = true;
            else
                break;
        }
        unsigned width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (unsigned)(*fmt++ - '0');
        size_t prec = (size_t)-1; /* %.Ns: at most N characters */
        if (*fmt == '.') {
            prec = 0;
            for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
                prec = prec * 10 + (size_t)(*fmt - '0');
        }
        int lng = 0;
        while (*fmt == 'l')
            lng++, fmt++;
        if (*fmt == 'z')
            lng = 1, fmt++;
        char tmp[24], *p = tmp + sizeof(tmp);
        const char *str = NULL;
        size_t slen;
        bool neg = false;
        uint64_t u = 0;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            neg = v < 0;
            u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            do
                *--p = (char)('0' + u % 10);
            while (u /= 10);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'p': {
            unsigned base = *fmt == 'u' ? 10 : 16;
            const char *digits = *fmt == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            if (*fmt == 'p')
                u = (uint64_t)(uintptr_t)va_arg(ap, void *);
            else
                u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            do
                *--p = digits[u % base];
            while (u /= base);
            if (*fmt == 'p') {
                *--p = 'x';
                *--p = '0';
            }
            break;
        }
        case 'c':
            *--p = (char)va_arg(ap, int);
            break;
        case 's':
            str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            break;
        case '%':
            *--p = '%';
            break;
        case 0:
            return (int)s->len;
        default:
            *--p = *fmt;
            *--p = '%';
            break;
        }
        if (!str) {
            str = p;
            slen = (size_t)(tmp + sizeof(tmp) - p);
        } else {
            for (slen = 0; slen < prec && str[slen]; slen++)
                ;
        }
        size_t total = slen + (neg ? 1 : 0);
        size_t pad = width > total ? width - total : 0;
        if (!left && !zero)
            for (; pad; pad--)
                emit(s, ' ');
        if (neg)
            emit(s, '-');
        if (!left)
            for (; pad; pad--)
                emit(s, '0');
        for (size_t i = 0; i < slen; i++)
            emit(s, str[i]);
        for (; pad; pad--)
            emit(s, ' ');
    }
    return (int)s->len;
}

int rt_vprintf(const char *fmt, va_list ap)
{
    struct sink s = { 0, 0, 0 };
    return format(&s, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = rt_vprintf(fmt, ap);
    va_end(ap);
    return r;
}

int rt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct sink s = { buf, n, 0 };
    int r = format(&s, fmt, ap);
    if (n)
        buf[s.len < n ? s.len : n - 1] = 0;
    return r;
}

int rt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = rt_vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- checks and exit ---------------------------------------------------------------- */

bool rt_check(bool cond, const char *fmt, ...)
{
    va_list ap;
    rt_checks++;
    if (!cond)
        rt_failures++;
    rt_puts(cond ? "ok: " : "FAIL: ");
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_putc('\n');
    return cond;
}

int rt_result(const char *name)
{
    if (rt_failures)
        rt_printf("%s: %u of %u checks FAILED\n", name, rt_failures, rt_checks);
    else
        rt_printf("%s: all %u checks passed\n", name, rt_checks);
    return rt_failures ? RT_EXIT_FAILED : RT_EXIT_OK;
}

void hc_exit(int code)
{
    hc_flush();
    for (;;) {
        __asm__ volatile("vmcall" ::"a"((uint64_t)HC_EXIT), "b"((uint64_t)(int64_t)code) : "memory");
        /* Not reached: ftvisor ends the guest. */
        cli();
        hlt();
    }
}

void rt_fail_exit(int code, const char *fmt, ...)
{
    va_list ap;
    rt_puts("FAIL: ");
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_putc('\n');
    hc_exit(code);
}

/* ---- IDT and traps ----------------------------------------------------------------- */

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
static rt_handler_t handlers[256];
extern char rt_isr_stubs[];
extern const uint64_t __rt_extable_start[], __rt_extable_end[];

void rt_load_idt(unsigned vectors)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) d = { (uint16_t)(vectors ? vectors * 16 - 1 : 0), (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" ::"m"(d) : "memory");
}

static void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = (uint64_t)(uintptr_t)(rt_isr_stubs + 16 * v);
        idt[v] = (struct idt_gate){ (uint16_t)a, RT_SEL_CODE64, 0, 0x8e /* present, 64-bit interrupt gate */,
                                    (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0 };
    }
    rt_load_idt(256);
}

void rt_set_handler(unsigned vector, rt_handler_t h)
{
    if (vector < 256)
        handlers[vector] = h;
}

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22",  "23",  "24",  "25",  "26",  "27",  "#HV", "#VC", "#SX", "31",
};

void rt_trap(struct rt_frame *f);
void rt_trap(struct rt_frame *f)
{
    unsigned v = (unsigned)f->vector;
    if (v < 32) {
        for (const uint64_t *e = __rt_extable_start; e < __rt_extable_end; e += 2) {
            if (e[0] == f->rip) {
                rt_fault_vector = (int)v;
                rt_fault_error = f->error;
                f->rip = e[1];
                return;
            }
        }
        /* Print through the hypercall too: the UART may be what broke. */
        rt_set_console(RT_CONSOLE_HYPERCALL);
        rt_printf("EXCEPTION: vector %u (%s) error 0x%llx at RIP 0x%llx, RSP 0x%llx, CR2 0x%llx\n", v, exc_names[v],
                  (unsigned long long)f->error, (unsigned long long)f->rip, (unsigned long long)f->rsp,
                  (unsigned long long)read_cr2());
        hc_exit(RT_EXIT_EXCEPTION + (int)v);
    }
    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    rt_set_console(RT_CONSOLE_HYPERCALL);
    rt_printf("FAIL: interrupt vector %u (0x%x) with no handler at RIP 0x%llx\n", v, v, (unsigned long long)f->rip);
    hc_exit(RT_EXIT_STRAY_IRQ);
}

/* ---- paging ---------------------------------------------------------------------------- */

extern uint64_t rt_pml4[512], rt_pdpt[512], rt_pd[4][512], rt_pd_spare[RT_PD_SPARE][512];
static unsigned spare_used;

int rt_map_2m(uint64_t pa)
{
    pa &= ~0x1fffffull;
    if (pa >= (512ull << 30))
        return -1;
    unsigned pdpt_i = (unsigned)(pa >> 30), pd_i = (unsigned)(pa >> 21) & 511;
    if (!(rt_pdpt[pdpt_i] & 1)) {
        if (spare_used == RT_PD_SPARE)
            return -1;
        uint64_t *pd = rt_pd_spare[spare_used++];
        memset(pd, 0, 4096);
        rt_pdpt[pdpt_i] = (uint64_t)(uintptr_t)pd | 3;
    }
    uint64_t *pd = (uint64_t *)(uintptr_t)(rt_pdpt[pdpt_i] & 0x000ffffffffff000ull);
    pd[pd_i] = pa | 0x83;
    __asm__ volatile("invlpg (%0)" ::"r"(pa) : "memory");
    return 0;
}

/* ---- 8259 PIC -------------------------------------------------------------------------- */

static uint16_t pic_mask_now = 0xffff;

void pic_set_mask(uint16_t mask)
{
    if ((mask & 0xff00) != 0xff00)
        mask &= (uint16_t)~(1u << 2); /* cascade */
    pic_mask_now = mask;
    outb(0x21, (uint8_t)mask);
    outb(0xa1, (uint8_t)(mask >> 8));
}

void pic_init(uint16_t mask)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 needed */
    outb(0xa0, 0x11);
    outb(0x21, PIC_VECTOR_BASE);     /* ICW2 */
    outb(0xa1, PIC_VECTOR_BASE + 8);
    outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
    outb(0xa1, 0x02);
    outb(0x21, 0x01); /* ICW4: 8086 mode, normal EOI */
    outb(0xa1, 0x01);
    pic_set_mask(mask);
}

void pic_unmask(unsigned irq) { pic_set_mask(pic_mask_now & (uint16_t)~(1u << irq)); }
void pic_mask(unsigned irq) { pic_set_mask(pic_mask_now | (uint16_t)(1u << irq)); }

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

/* ---- 8254 PIT ------------------------------------------------------------------------ */

void pit_periodic(uint32_t hz)
{
    uint32_t div = (PIT_HZ + hz / 2) / hz;
    if (div > 65535)
        div = 0; /* 65536 */
    outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
    outb(0x40, (uint8_t)div);
    outb(0x40, (uint8_t)(div >> 8));
}

void pit_oneshot(uint16_t count)
{
    outb(0x43, 0x30); /* channel 0, lobyte/hibyte, mode 0 */
    outb(0x40, (uint8_t)count);
    outb(0x40, (uint8_t)(count >> 8));
}

void pit_stop(void)
{
    /* Mode 0 with a count that is never completed. */
    outb(0x43, 0x30);
    outb(0x40, 0xff);
}

/* ---- local APIC ----------------------------------------------------------------------- */

void lapic_enable(uint8_t spurious_vector) { lapic_write(LAPIC_SVR, 0x100u | spurious_vector); }

void lapic_timer_start(uint8_t vector, uint32_t mode, uint32_t divider, uint32_t count)
{
    lapic_write(LAPIC_TIMER_INIT, 0);
    lapic_write(LAPIC_TIMER_DIV, divider);
    lapic_write(LAPIC_LVT_TIMER, vector | mode);
    lapic_write(LAPIC_TIMER_INIT, count);
}

void lapic_timer_stop(void)
{
    lapic_write(LAPIC_TIMER_INIT, 0);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
}

/* ---- time ----------------------------------------------------------------------------- */

uint64_t rt_tsc_hz(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 0x15)
        return 0;
    cpuid(0x15, 0, r);
    if (!r[0] || !r[1] || !r[2])
        return 0;
    return (uint64_t)r[2] * r[1] / r[0];
}

void rt_delay_us(uint64_t us)
{
    static uint64_t hz;
    if (!hz)
        hz = rt_tsc_hz();
    uint64_t end = rdtsc() + us * hz / 1000000;
    while (rdtsc() < end)
        cpu_pause();
}

/* ---- start ---------------------------------------------------------------------------- */

void rt_start(void);
void rt_start(void)
{
    idt_init();
    uart_init();
    int r = guest_main();
    hc_exit(r);
}
