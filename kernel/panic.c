#include "panic.h"
#include "log.h"
#include "console.h"
#include "format.h"
#include "cpu.h"
#include <stdarg.h>

/* The symbol table that the second link fills (tools/gen-ksyms). */
struct ksym {
    uint64_t addr;
    uint32_t name;
    uint32_t pad;
};
extern const struct ksym ksyms[];
extern const uint64_t ksyms_count;
extern const char ksyms_names[];
extern char __image_start[], __image_end[], __text_start[], __text_end[];

const char *ksym_lookup(uint64_t addr, uint64_t *off)
{
    if (addr < (uint64_t)__text_start || addr >= (uint64_t)__text_end || !ksyms_count)
        return NULL;
    uint64_t lo = 0, hi = ksyms_count;
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (ksyms[mid].addr <= addr)
            lo = mid;
        else
            hi = mid;
    }
    if (ksyms[lo].addr > addr)
        return NULL;
    *off = addr - ksyms[lo].addr;
    return ksyms_names + ksyms[lo].name;
}

static void print_frame(int n, uint64_t addr)
{
    uint64_t off;
    const char *name = ksym_lookup(addr, &off);
    if (name)
        kprintf("  #%d 0x%016llx %s+0x%llx\n", n, (unsigned long long)addr, name, (unsigned long long)off);
    else
        kprintf("  #%d 0x%016llx\n", n, (unsigned long long)addr);
}

void stack_trace(uint64_t rbp, uint64_t rip)
{
    kprintf("stack trace:\n");
    int n = 0;
    if (rip)
        print_frame(n++, rip);
    /* Frames live on kernel stacks, all inside the image's .bss. */
    while (rbp && n < 32 && !(rbp & 7) && rbp >= (uint64_t)__image_start && rbp + 16 <= (uint64_t)__image_end) {
        const uint64_t *fp = (const uint64_t *)rbp;
        if (!fp[1])
            break;
        print_frame(n++, fp[1] - 1); /* inside the call instruction */
        if (fp[0] <= rbp)
            break;
        rbp = fp[0];
    }
}

void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
    static int depth;
    cli();
    if (depth++) {
        /* A panic while panicking: say so on the raw UART and stop. */
        serial_write("ftvisor: PANIC: recursive panic\n", 32);
        halt_forever();
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t rbp;
    __asm__ volatile("mov %%rbp, %0" : "=r"(rbp));
    kprintf("ftvisor: PANIC: %s\n", msg);
    stack_trace(rbp, 0);
    kprintf("ftvisor: halted after panic\n");
    serial_flush();
    halt_forever();
}
