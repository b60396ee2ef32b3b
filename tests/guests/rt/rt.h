/* The test-guest runtime: what a freestanding test guest (tests/guests/
 * NAME.c) gets after rt/entry.S brought it to 64-bit long mode with
 * identity paging of the first 4 GiB, SSE enabled and interrupts off.
 *
 *   int guest_main(void);   the guest; its return value is the exit code
 *                           passed to the exit hypercall (0 = success)
 *
 * Output: rt_printf() writes to COM1 (polling LSR.THRE); ftvisor prints
 * every guest console line as "guest: TEXT". CHECK() prints one result
 * line per assertion and counts failures; rt_result() ends a guest with a
 * summary line and the exit code.
 *
 * Faults: every exception not expected by an exception-table entry (see
 * safe_rdmsr() and RT_TRY()) prints the vector, error code and RIP and
 * exits with code RT_EXIT_EXCEPTION + vector; an interrupt vector with
 * no registered handler exits with RT_EXIT_STRAY_IRQ. */
#ifndef RT_H
#define RT_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>
#include "rt_layout.h"

/* ---- exit codes ---------------------------------------------------------- */
#define RT_EXIT_OK 0
#define RT_EXIT_FAILED 1          /* some CHECK failed */
#define RT_EXIT_STRAY_IRQ 99      /* interrupt without a handler */
#define RT_EXIT_EXCEPTION 100     /* + vector: unexpected exception */

/* ---- the mode transitions (filled by rt/entry.S) ------------------------ */
struct rt_boot {
    uint32_t real_cr0, pm_cr0, pm_efer;
    uint16_t real_cs, pm_cs;
    uint64_t lm_cr0, lm_cr4;
    uint32_t lm_efer;
    uint16_t lm_cs, pad;
    uint8_t stages[4]; /* 1 real, 2 protected, 3 long: in the order run */
    uint32_t mxcsr;
};
extern struct rt_boot rt_boot;
_Static_assert(__builtin_offsetof(struct rt_boot, lm_cr0) == RT_BOOT_LM_CR0, "rt_boot layout");
_Static_assert(__builtin_offsetof(struct rt_boot, lm_efer) == RT_BOOT_LM_EFER, "rt_boot layout");
_Static_assert(__builtin_offsetof(struct rt_boot, stages) == RT_BOOT_STAGES, "rt_boot layout");
_Static_assert(sizeof(struct rt_boot) == RT_BOOT_SIZE, "rt_boot layout");

/* ---- hypercalls (vmm/hypercall.c) ---------------------------------------- */
#define HC_PRINT 0x46540001u
#define HC_EXIT 0x46540002u

static inline long hc_print(const void *buf, size_t len)
{
    uint64_t rax = HC_PRINT;
    __asm__ volatile("vmcall" : "+a"(rax) : "b"((uint64_t)(uintptr_t)buf), "c"((uint64_t)len) : "memory");
    return (long)rax;
}
__attribute__((noreturn)) void hc_exit(int code);

/* ---- console ------------------------------------------------------------------ */
#define COM1 0x3f8
enum rt_console { RT_CONSOLE_UART, RT_CONSOLE_HYPERCALL };
/* Where rt_printf goes: the UART (default) or, one line per hypercall,
 * the print hypercall (far fewer VM exits). */
void rt_set_console(enum rt_console c);
void rt_putc(char c);
void rt_puts(const char *s);
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

/* ---- assertions --------------------------------------------------------------- */
extern unsigned rt_checks, rt_failures;
/* Prints "ok: WHAT" or "FAIL: WHAT" and counts. Returns cond. */
bool rt_check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define CHECK(cond, ...) rt_check((cond), __VA_ARGS__)
/* "NAME: all N checks passed" or "NAME: F of N checks FAILED"; the exit
 * code for guest_main to return. */
int rt_result(const char *name);
__attribute__((noreturn)) void rt_fail_exit(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- port I/O ------------------------------------------------------------------ */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* ---- MMIO: one plain MOV each (the forms ftvisor's decoder emulates) ---- */
static inline uint8_t mmio_read8(uint64_t a)
{
    uint8_t v;
    __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
    return v;
}
static inline uint16_t mmio_read16(uint64_t a)
{
    uint16_t v;
    __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline uint32_t mmio_read32(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline uint64_t mmio_read64(uint64_t a)
{
    uint64_t v;
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline void mmio_write8(uint64_t a, uint8_t v) { __asm__ volatile("movb %0, (%1)" ::"q"(v), "r"(a) : "memory"); }
static inline void mmio_write16(uint64_t a, uint16_t v) { __asm__ volatile("movw %0, (%1)" ::"r"(v), "r"(a) : "memory"); }
static inline void mmio_write32(uint64_t a, uint32_t v) { __asm__ volatile("movl %0, (%1)" ::"r"(v), "r"(a) : "memory"); }
static inline void mmio_write64(uint64_t a, uint64_t v) { __asm__ volatile("movq %0, (%1)" ::"r"(v), "r"(a) : "memory"); }

/* ---- CPU ------------------------------------------------------------------------ */
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rdtscp(uint32_t *aux)
{
    uint32_t lo, hi, c;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    if (aux)
        *aux = c;
    return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline uint16_t read_cs(void) { uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
/* STI; HLT: the STI shadow guarantees no interrupt slips in between. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

#define MSR_EFER 0xc0000080u
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_TSC_AUX 0xc0000103u
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)

/* ---- expected faults -------------------------------------------------------- *
 * An exception-table entry (faulting RIP, resume RIP) makes the exception
 * handler resume at the second address instead of failing the guest; it
 * records the vector in rt_fault_vector (-1 = none) and the error code in
 * rt_fault_error. */
extern volatile int rt_fault_vector;
extern volatile uint64_t rt_fault_error;
#define RT_NO_FAULT (-1)
#define RT_EXTABLE(fault, resume)                                                                               \
    ".pushsection .rt_extable, \"a\"\n\t.balign 8\n\t.quad " fault ", " resume "\n\t.popsection\n\t"

/* RT_TRY("insn operands", asm-operands...): run one instruction, expecting
 * it may fault; the value is the vector it raised, or RT_NO_FAULT. The
 * operands follow the asm statement's string (start with ':'). */
#define RT_TRY(insn, ...)                                                                                       \
    ({                                                                                                          \
        rt_fault_vector = RT_NO_FAULT;                                                                          \
        __asm__ volatile("1: " insn "\n\t2:\n\t" RT_EXTABLE("1b", "2b") __VA_ARGS__);                          \
        barrier();                                                                                              \
        rt_fault_vector;                                                                                        \
    })

/* Each returns the vector raised (13 for #GP) or RT_NO_FAULT. */
static inline int safe_rdmsr(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;
    int r = RT_TRY("rdmsr", : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *val = (uint64_t)hi << 32 | lo;
    return r;
}
static inline int safe_wrmsr(uint32_t msr, uint64_t v)
{
    return RT_TRY("wrmsr", : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline int safe_inb(uint16_t port, uint8_t *v)
{
    uint8_t x = 0xee;
    int r = RT_TRY("inb %w1, %b0", : "+a"(x) : "Nd"(port) : "memory");
    *v = x;
    return r;
}
static inline int safe_read64(uint64_t addr, uint64_t *v)
{
    uint64_t x = 0;
    int r = RT_TRY("movq (%1), %0", : "+r"(x) : "r"(addr) : "memory");
    *v = x;
    return r;
}

/* ---- interrupts --------------------------------------------------------------- */
struct rt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
typedef void (*rt_handler_t)(struct rt_frame *f);
/* Vectors 32..255; a handler runs with interrupts off and must EOI. */
void rt_set_handler(unsigned vector, rt_handler_t h);
/* Load an IDT (vector count 0 = an empty IDT, for triple-fault tests). */
void rt_load_idt(unsigned vectors);

/* ---- paging ------------------------------------------------------------------ */
/* Identity-map the 2 MiB page holding guest-physical `pa` (anywhere below
 * 512 GiB; the first 4 GiB are mapped already). 0 or -1 if out of tables. */
int rt_map_2m(uint64_t pa);

/* ---- 8259 PIC ------------------------------------------------------------------ */
#define PIC_VECTOR_BASE 0x20 /* master IRQ0-7 -> 0x20-0x27, slave 0x28-0x2f */
/* ICW1-4: remap to 0x20/0x28, cascade on IRQ2; mask = IRQs to keep masked
 * (bit n = IRQn; IRQ2 is unmasked whenever a slave IRQ is). */
void pic_init(uint16_t mask);
void pic_set_mask(uint16_t mask);
void pic_unmask(unsigned irq);
void pic_mask(unsigned irq);
void pic_eoi(unsigned irq);

/* ---- 8254 PIT ----------------------------------------------------------------- */
#define PIT_HZ 1193182u
/* Channel 0, mode 2 (rate generator), lobyte/hibyte. */
void pit_periodic(uint32_t hz);
/* Channel 0, mode 0 (interrupt on terminal count) after `count` ticks. */
void pit_oneshot(uint16_t count);
void pit_stop(void);

/* ---- local APIC (xAPIC MMIO) ----------------------------------------------- */
#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_VER 0x30
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ISR 0x100
#define LAPIC_IRR 0x200
#define LAPIC_ESR 0x280
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_ONESHOT (0u << 17)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_TSCDL (2u << 17)
#define LAPIC_DIV_16 0x3
static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
/* Software-enable with a spurious vector (keeps LINT0/LINT1 as they are,
 * i.e. virtual-wire mode with the 8259 on LINT0). */
void lapic_enable(uint8_t spurious_vector);
/* Timer: mode is LAPIC_TIMER_ONESHOT/PERIODIC; divider a DCR code. */
void lapic_timer_start(uint8_t vector, uint32_t mode, uint32_t divider, uint32_t count);
void lapic_timer_stop(void);

/* ---- time ---------------------------------------------------------------------- */
/* The TSC frequency from CPUID leaf 0x15 (crystal * EBX / EAX), 0 if absent. */
uint64_t rt_tsc_hz(void);
/* Busy-wait `us` microseconds by the TSC (rt_tsc_hz). */
void rt_delay_us(uint64_t us);

/* ---- misc ------------------------------------------------------------------------ */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

int guest_main(void);

#endif
